//! One client of the world: its connection's server-side state ([`ConnState`]) and event
//! queue, and its own side: message ids, the credits it holds (MS-SMB2 3.2.4.1.5), the
//! requests it sent with the responses each got, and the break notifications received.

use super::build::Fid;
use super::message::{decode_frame, Notice, Received, Response};
use crate::conn_state::ConnState;
use crate::locking::{ConnEvent, EventSink};
use opportune_wire::header::{flags, Command, Header, HEADER_LEN};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The connection's event queue, as the lock layer sees it (the driver's channel).
#[derive(Default)]
pub struct Queue {
    events: Mutex<VecDeque<ConnEvent>>,
    closed: AtomicBool,
    /// Events offered after the connection ended: each one is an invariant violation.
    late: AtomicUsize,
}

impl EventSink for Queue {
    fn send(&self, ev: ConnEvent) -> bool {
        if self.closed.load(Ordering::SeqCst) {
            self.late.fetch_add(1, Ordering::SeqCst);
            return false;
        }
        self.events.lock().unwrap_or_else(|e| e.into_inner()).push_back(ev);
        true
    }
}

impl Queue {
    pub(crate) fn take_all(&self) -> Vec<ConnEvent> {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).drain(..).collect()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
    }
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.events.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
    /// Events offered after the connection ended.
    pub fn late(&self) -> usize {
        self.late.load(Ordering::SeqCst)
    }
}

/// One message of a frame to send.
#[derive(Clone, Debug)]
pub struct Msg {
    pub command: Command,
    pub body: Vec<u8>,
    /// CreditCharge (MS-SMB2 3.2.4.1.5): one per 64 KiB of payload, at least 1.
    pub charge: u16,
    /// SMB2_FLAGS_RELATED_OPERATIONS (3.2.4.1.4).
    pub related: bool,
    /// Overrides the client's session id (None: the client's current one).
    pub session: Option<u64>,
    /// Overrides the client's tree id.
    pub tree: Option<u32>,
    /// Extra header flags (SIGNED alone: a bogus signature).
    pub flags: u32,
    /// Signed with the client's session signing key (MS-SMB2 3.2.4.1.1): Some(true) or
    /// Some(false) forces it; None signs when the server requires signing.
    pub sign: Option<bool>,
}

impl Msg {
    pub fn new(command: Command, body: Vec<u8>) -> Msg {
        Msg { command, body, charge: 1, related: false, session: None, tree: None, flags: 0, sign: None }
    }
    pub fn related(mut self) -> Msg {
        self.related = true;
        self
    }
    pub fn charge(mut self, charge: u16) -> Msg {
        self.charge = charge;
        self
    }
    pub fn session(mut self, id: u64) -> Msg {
        self.session = Some(id);
        self
    }
    pub fn tree(mut self, id: u32) -> Msg {
        self.tree = Some(id);
        self
    }
    pub fn flags(mut self, f: u32) -> Msg {
        self.flags |= f;
        self
    }
    /// Signs the message properly (the client must have a signing key).
    pub fn signed(mut self) -> Msg {
        self.sign = Some(true);
        self
    }
    /// Not signed, even where the server requires signing.
    pub fn unsigned(mut self) -> Msg {
        self.sign = Some(false);
        self
    }
}

/// A frame sent and not yet delivered to the server.
#[derive(Clone, Debug)]
pub struct InFlight {
    pub frame: Vec<u8>,
    /// Message ids and charges of its messages (empty for a CANCEL or a raw frame).
    pub charged: Vec<(u64, u16)>,
    /// Delivery steps it is held back for (the delay fault).
    pub hold: u32,
    /// A second copy of a frame (the duplicate fault): its charges are the original's.
    pub copy: bool,
}

/// What one request got.
#[derive(Clone, Debug)]
pub struct Tracked {
    pub command: u16,
    pub charge: u16,
    /// Times a frame carrying it reached the server.
    pub delivered: u32,
    /// The frame carrying it was dropped by a fault.
    pub dropped: bool,
    pub interim: Vec<Response>,
    pub finals: Vec<Response>,
    /// The message before it in its compound frame, if any.
    pub after: Option<u64>,
}

/// One client (one connection).
pub struct Client {
    pub index: usize,
    pub conn: ConnState,
    pub queue: Arc<Queue>,
    /// Frames on their way to the server, in the order they will arrive.
    pub wire: VecDeque<InFlight>,
    next_mid: u64,
    /// Credits held: granted by responses, less those charged by requests sent.
    pub credits: i64,
    /// The lowest balance ever seen.
    pub min_credits: i64,
    /// Credits each request asks for (CreditRequest).
    pub want_credits: u16,
    pub session_id: u64,
    pub tree_id: u32,
    pub client_guid: [u8; 16],
    /// The dialect NEGOTIATE chose.
    pub dialect: u16,
    /// The session's signing key as a signer (SMB 2.x: the session key, HMAC-SHA256).
    pub signer: Option<opportune_crypto::Signer>,
    /// The server requires signing (NEGOTIATE SecurityMode SIGNING_REQUIRED, 2.2.4).
    pub signing_required: bool,
    pub requests: BTreeMap<u64, Tracked>,
    notices: VecDeque<Notice>,
    /// Every break notification received, in order.
    pub notice_log: Vec<Notice>,
    /// False once the connection ended (killed, or dropped by the server).
    pub alive: bool,
    /// Why the connection ended.
    pub ended: Option<String>,
    /// Invariant violations seen on this client (responses to nothing, second finals...).
    pub violations: Vec<String>,
    /// Frames the server produced for this connection after it ended.
    pub sent_after_end: usize,
}

impl Client {
    pub(crate) fn new(index: usize, conn: ConnState, queue: Arc<Queue>) -> Client {
        let mut client_guid = [0u8; 16];
        client_guid[0] = 0xC1;
        client_guid[1] = index as u8;
        client_guid[15] = (conn.id & 0xFF) as u8;
        Client {
            index,
            conn,
            queue,
            wire: VecDeque::new(),
            next_mid: 0,
            credits: 1,
            min_credits: 1,
            want_credits: 16,
            session_id: 0,
            tree_id: 0,
            client_guid,
            dialect: 0,
            signer: None,
            signing_required: false,
            requests: BTreeMap::new(),
            notices: VecDeque::new(),
            notice_log: Vec::new(),
            alive: true,
            ended: None,
            violations: Vec::new(),
            sent_after_end: 0,
        }
    }

    /// The message id the next request will use.
    pub fn next_message_id(&self) -> u64 {
        self.next_mid
    }

    /// Skips `n` message ids (a client that wastes them, or tests of the window).
    pub fn skip_message_ids(&mut self, n: u64) {
        self.next_mid += n;
    }

    /// Encodes `msgs` as one frame (a compound chain when more than one, 3.2.4.1.4),
    /// charging credits, and puts it on the wire. Returns the message ids.
    pub fn send(&mut self, msgs: Vec<Msg>) -> Vec<u64> {
        let (frame, charged) = self.encode(msgs);
        let mids = charged.iter().map(|(m, _)| *m).collect();
        self.wire.push_back(InFlight { frame, charged, hold: 0, copy: false });
        mids
    }

    /// Encodes without sending (for tests that corrupt or hold frames themselves).
    pub fn encode(&mut self, msgs: Vec<Msg>) -> (Vec<u8>, Vec<(u64, u16)>) {
        let mut frame = Vec::new();
        let mut charged = Vec::new();
        let n = msgs.len();
        for (i, m) in msgs.into_iter().enumerate() {
            let charge = m.charge.max(1);
            let mid = self.next_mid;
            self.next_mid += u64::from(charge);
            self.credits -= i64::from(charge);
            self.min_credits = self.min_credits.min(self.credits);
            self.requests.insert(
                mid,
                Tracked {
                    command: m.command as u16,
                    charge,
                    delivered: 0,
                    dropped: false,
                    interim: Vec::new(),
                    finals: Vec::new(),
                    after: charged.last().map(|(m, _)| *m),
                },
            );
            charged.push((mid, charge));
            let start = frame.len();
            let signer = self.signer.clone().filter(|_| m.sign.unwrap_or(self.signing_required));
            let h = Header {
                credit_charge: m.charge,
                command: m.command as u16,
                credits: self.want_credits,
                flags: m.flags
                    | if m.related { flags::RELATED_OPERATIONS } else { 0 }
                    | if signer.is_some() { flags::SIGNED } else { 0 },
                message_id: mid,
                tree_id: m.tree.unwrap_or(self.tree_id),
                session_id: m.session.unwrap_or(self.session_id),
                signature: if m.flags & flags::SIGNED != 0 && signer.is_none() { [0x5A; 16] } else { [0; 16] },
                ..Header::default()
            };
            h.encode(&mut frame);
            frame.extend_from_slice(&m.body);
            if i + 1 < n {
                while !(frame.len() - start).is_multiple_of(8) {
                    frame.push(0);
                }
                let len = (frame.len() - start) as u32;
                frame[start + 20..start + 24].copy_from_slice(&len.to_le_bytes());
            }
            if let Some(s) = signer {
                s.sign_in_place(&mut frame[start..]);
            }
        }
        (frame, charged)
    }

    /// Puts a CANCEL (MS-SMB2 2.2.30, 3.2.4.24) of the request `mid` on the wire: async
    /// form when the request went async, else sync; it takes no credit.
    pub fn send_cancel(&mut self, mid: u64) {
        let async_id = self.requests.get(&mid).and_then(|t| t.interim.first()).map(|r| r.async_id);
        let h = Header {
            command: Command::Cancel as u16,
            flags: if async_id.is_some() { flags::ASYNC_COMMAND } else { 0 },
            message_id: mid,
            async_id: async_id.unwrap_or(0),
            tree_id: self.tree_id,
            session_id: self.session_id,
            ..Header::default()
        };
        let mut frame = Vec::with_capacity(HEADER_LEN + 4);
        h.encode(&mut frame);
        frame.extend_from_slice(&super::build::empty4());
        self.wire.push_back(InFlight { frame, charged: Vec::new(), hold: 0, copy: false });
    }

    /// Puts raw bytes on the wire (malformed-frame tests).
    pub fn send_raw(&mut self, frame: Vec<u8>) {
        self.wire.push_back(InFlight { frame, charged: Vec::new(), hold: 0, copy: false });
    }

    /// Takes in a frame the server sent: responses recorded against their requests,
    /// credits added, notices queued.
    pub(crate) fn receive(&mut self, frame: &[u8]) {
        if !self.alive {
            self.sent_after_end += 1;
            return;
        }
        let msgs = match decode_frame(frame) {
            Ok(m) => m,
            Err(e) => {
                self.violations.push(format!("client {}: undecodable frame: {e}", self.index));
                return;
            }
        };
        for m in msgs {
            match m {
                Received::Notice(n) => {
                    self.notices.push_back(n.clone());
                    self.notice_log.push(n);
                }
                Received::Response(r) => self.record(r),
            }
        }
    }

    fn record(&mut self, r: Response) {
        self.credits += i64::from(r.credits);
        if r.command == Command::SessionSetup as u16 && r.session_id != 0 {
            self.session_id = r.session_id;
        }
        if r.command == Command::Negotiate as u16 && r.status == opportune_types::NtStatus::SUCCESS {
            self.dialect = r.dialect();
            self.signing_required = r.security_mode() & 0x2 != 0;
        }
        if r.command == Command::TreeConnect as u16 && r.status == opportune_types::NtStatus::SUCCESS {
            self.tree_id = r.tree_id;
        }
        let index = self.index;
        let Some(t) = self.requests.get_mut(&r.message_id) else {
            self.violations.push(format!("client {index}: response to message id {} never sent", r.message_id));
            return;
        };
        if t.command != r.command {
            self.violations.push(format!("client {index}: response command {:#x} for request {:#x}", r.command, t.command));
        }
        if r.is_interim() {
            if !t.finals.is_empty() {
                self.violations.push(format!("client {index}: interim after final for mid {}", r.message_id));
            }
            t.interim.push(r);
            if t.interim.len() > 1 {
                self.violations.push(format!("client {index}: second interim for mid {}", t.interim[0].message_id));
            }
        } else {
            t.finals.push(r);
            if t.finals.len() > 1 {
                self.violations.push(format!("client {index}: second final for mid {}", t.finals[0].message_id));
            }
        }
    }

    /// The final response to `mid`, if it came.
    pub fn final_of(&self, mid: u64) -> Option<&Response> {
        self.requests.get(&mid).and_then(|t| t.finals.first())
    }

    /// The interim response to `mid`, if one came.
    pub fn interim_of(&self, mid: u64) -> Option<&Response> {
        self.requests.get(&mid).and_then(|t| t.interim.first())
    }

    /// The next break notification not yet taken.
    pub fn take_notice(&mut self) -> Option<Notice> {
        self.notices.pop_front()
    }

    /// Break notifications received and not yet taken.
    pub fn notices(&self) -> Vec<Notice> {
        self.notices.iter().cloned().collect()
    }

    /// Requests still waiting for their final response (delivered, not dropped).
    pub fn unanswered(&self) -> Vec<u64> {
        self.requests.iter().filter(|(_, t)| t.finals.is_empty() && t.delivered > 0).map(|(m, _)| *m).collect()
    }

    /// Whether request `mid` waits, unprocessed, behind an earlier request of its
    /// compound that went async (MS-SMB2 3.3.5.2.7: the rest of the chain waits with it).
    pub fn waits_in_chain(&self, mid: u64) -> bool {
        let mut at = mid;
        loop {
            let Some(t) = self.requests.get(&at) else { return false };
            if at != mid && !t.finals.is_empty() {
                return false;
            }
            if at != mid && !t.interim.is_empty() {
                return true;
            }
            if at == mid && (!t.finals.is_empty() || !t.interim.is_empty()) {
                return false;
            }
            match t.after {
                Some(prev) => at = prev,
                None => return false,
            }
        }
    }

    /// Credits charged by requests the server has not consumed yet: never delivered
    /// (still on the wire, or lost on the way), or waiting behind an async request of
    /// their chain.
    pub fn credits_in_flight(&self) -> i64 {
        self.requests
            .iter()
            .filter(|(m, t)| t.delivered == 0 || self.waits_in_chain(**m))
            .map(|(_, t)| i64::from(t.charge))
            .sum()
    }

    /// The open named by a CREATE response, for the next requests.
    pub fn fid_of(&self, mid: u64) -> Option<Fid> {
        self.final_of(mid).filter(|r| r.status == opportune_types::NtStatus::SUCCESS).map(Response::file_id)
    }
}
