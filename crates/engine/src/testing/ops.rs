//! The world's clients doing whole protocol steps: negotiate, log on with NTLM (the
//! `opportune_auth::test_client`), connect a tree, and one call per command, each sent
//! as a real frame and run until the world settles.

use super::build::{self, Create, Fid};
use super::client::Msg;
use super::message::Response;
use super::world::{World, SHARE, USERS};
use opportune_types::NtStatus;
use opportune_wire::header::Command;

/// SMB 2.1, the world's default dialect.
pub const SMB210: u16 = 0x0210;
/// SMB 3.0.2 (durable handles v2, leases v2; no signing unless required).
pub const SMB302: u16 = 0x0302;

/// SMB2_GLOBAL_CAP_LEASING | SMB2_GLOBAL_CAP_DIRECTORY_LEASING (MS-SMB2 2.2.3).
const CAPS_SMB3: u32 = 0x02 | 0x20;
/// SMB2_GLOBAL_CAP_LEASING alone (SMB 2.1 clients that lease, as Windows 7).
const CAP_LEASING: u32 = 0x02;

impl World {
    /// Sends one message from `c`, runs the world, and returns its final response.
    pub fn call(&mut self, c: usize, msg: Msg) -> Response {
        let mid = self.send(c, vec![msg])[0];
        self.run();
        self.clients[c].final_of(mid).cloned().unwrap_or_else(|| panic!("client {c}: no final response to mid {mid}"))
    }

    /// Sends `msgs` as one compound frame, runs the world, and returns each final
    /// response (None for one still pending or never answered).
    pub fn call_chain(&mut self, c: usize, msgs: Vec<Msg>) -> Vec<Option<Response>> {
        let mids = self.send(c, msgs);
        self.run();
        mids.iter().map(|m| self.clients[c].final_of(*m).cloned()).collect()
    }

    /// NEGOTIATE (MS-SMB2 3.3.5.3) offering `dialects`.
    pub fn negotiate(&mut self, c: usize, dialects: &[u16]) -> Response {
        let caps = if dialects.iter().any(|d| *d >= 0x0300) {
            CAPS_SMB3
        } else if dialects.iter().any(|d| *d >= SMB210) {
            CAP_LEASING
        } else {
            0
        };
        let guid = self.clients[c].client_guid;
        self.call(c, Msg::new(Command::Negotiate, build::negotiate(dialects, caps, guid)))
    }

    /// SESSION_SETUP with NTLM (MS-SMB2 3.3.5.5): the final status. `previous` is the
    /// PreviousSessionId (0 for none).
    pub fn login(&mut self, c: usize, user: &str, password: &str, previous: u64) -> NtStatus {
        use opportune_auth::test_client::{authenticate, negotiate, ClientOptions, CLIENT_FLAGS};
        let ntlm = negotiate(CLIENT_FLAGS);
        let r = self.call(c, Msg::new(Command::SessionSetup, build::session_setup(&ntlm, previous)));
        if r.status != NtStatus::MORE_PROCESSING_REQUIRED {
            return r.status;
        }
        let auth = authenticate(&ntlm, &r.security_buffer(), &ClientOptions::new(user, "", password));
        let status = self.call(c, Msg::new(Command::SessionSetup, build::session_setup(&auth.message, previous))).status;
        if status == NtStatus::SUCCESS && self.clients[c].dialect < 0x0300 {
            // SMB 2.x signs with the session key itself (MS-SMB2 3.2.5.3.1).
            let alg = opportune_crypto::SigningAlgorithm::HmacSha256;
            self.clients[c].signer = Some(opportune_crypto::Signer::new(alg, auth.exported_session_key));
        }
        status
    }

    /// TREE_CONNECT (MS-SMB2 3.3.5.7): the status.
    pub fn tree_connect(&mut self, c: usize, share: &str) -> NtStatus {
        self.call(c, Msg::new(Command::TreeConnect, build::tree_connect(share))).status
    }

    /// A new client negotiated at `dialect`, logged on as `user` and connected to the share.
    pub fn connect_as(&mut self, dialect: u16, user: usize) -> usize {
        let c = self.add_client();
        assert_eq!(self.negotiate(c, &[dialect]).status, NtStatus::SUCCESS, "negotiate");
        let (name, pw) = USERS[user];
        assert_eq!(self.login(c, name, pw, 0), NtStatus::SUCCESS, "session setup");
        assert_eq!(self.tree_connect(c, SHARE), NtStatus::SUCCESS, "tree connect");
        c
    }

    /// A new SMB 2.1 client logged on as alice, on the share.
    pub fn connect(&mut self) -> usize {
        self.connect_as(SMB210, 0)
    }

    /// CREATE (MS-SMB2 3.3.5.9), run to its final response (panics if it stays pending).
    pub fn create(&mut self, c: usize, req: &Create) -> Response {
        self.call(c, Msg::new(Command::Create, req.body()))
    }

    /// Sends a CREATE and runs the world; the message id (the response may be pending).
    pub fn send_create(&mut self, c: usize, req: &Create) -> u64 {
        let mid = self.send(c, vec![Msg::new(Command::Create, req.body())])[0];
        self.run();
        mid
    }

    /// Opens (or creates) `name` with no oplock: its FileId.
    pub fn open(&mut self, c: usize, name: &str) -> Fid {
        let r = self.create(c, &Create::file(name));
        assert_eq!(r.status, NtStatus::SUCCESS, "open {name}");
        r.file_id()
    }

    pub fn close(&mut self, c: usize, fid: Fid) -> NtStatus {
        self.call(c, Msg::new(Command::Close, build::close(fid))).status
    }

    pub fn write(&mut self, c: usize, fid: Fid, offset: u64, data: &[u8]) -> Response {
        self.call(c, Msg::new(Command::Write, build::write(fid, offset, data)))
    }

    pub fn read(&mut self, c: usize, fid: Fid, offset: u64, len: u32) -> Response {
        self.call(c, Msg::new(Command::Read, build::read(fid, offset, len)))
    }

    pub fn flush(&mut self, c: usize, fid: Fid) -> NtStatus {
        self.call(c, Msg::new(Command::Flush, build::flush(fid))).status
    }

    pub fn echo(&mut self, c: usize) -> Response {
        self.call(c, Msg::new(Command::Echo, build::empty4()))
    }

    /// LOCK with these elements, run until settled: the message id (it may be pending).
    pub fn send_lock(&mut self, c: usize, fid: Fid, elements: &[(u64, u64, u32)]) -> u64 {
        let mid = self.send(c, vec![Msg::new(Command::Lock, build::lock(fid, elements))])[0];
        self.run();
        mid
    }

    /// A byte-range lock that does not wait: the status.
    pub fn lock_now(&mut self, c: usize, fid: Fid, offset: u64, len: u64) -> NtStatus {
        use build::lock_flags::{EXCLUSIVE, FAIL_IMMEDIATELY};
        self.call(c, Msg::new(Command::Lock, build::lock(fid, &[(offset, len, EXCLUSIVE | FAIL_IMMEDIATELY)]))).status
    }

    pub fn unlock(&mut self, c: usize, fid: Fid, offset: u64, len: u64) -> NtStatus {
        self.call(c, Msg::new(Command::Lock, build::lock(fid, &[(offset, len, build::lock_flags::UNLOCK)]))).status
    }

    pub fn ack_oplock(&mut self, c: usize, fid: Fid, level: u8) -> Response {
        self.call(c, Msg::new(Command::OplockBreak, build::oplock_ack(fid, level)))
    }

    pub fn ack_lease(&mut self, c: usize, key: [u8; 16], state: u32) -> Response {
        self.call(c, Msg::new(Command::OplockBreak, build::lease_ack(key, state)))
    }

    /// CANCEL of `mid` (MS-SMB2 3.3.5.16), then runs the world.
    pub fn cancel(&mut self, c: usize, mid: u64) {
        self.trace.push(format!("c{c} cancels {mid}"));
        self.clients[c].send_cancel(mid);
        self.run();
    }

    pub fn set_info(&mut self, c: usize, body: Vec<u8>) -> NtStatus {
        self.call(c, Msg::new(Command::SetInfo, body)).status
    }

    /// Lists the directory `fid` (QUERY_DIRECTORY, FileNamesInformation) until
    /// STATUS_NO_MORE_FILES: the names, or the first failing status.
    pub fn list(&mut self, c: usize, fid: Fid, pattern: &str) -> Result<Vec<String>, NtStatus> {
        let mut names = Vec::new();
        let mut restart = true;
        loop {
            let r = self.call(c, Msg::new(Command::QueryDirectory, build::query_directory(fid, pattern, restart)));
            restart = false;
            if r.status == NtStatus::NO_MORE_FILES {
                return Ok(names);
            }
            if r.status != NtStatus::SUCCESS {
                return Err(r.status);
            }
            names.extend(r.names());
        }
    }

    pub fn logoff(&mut self, c: usize) -> NtStatus {
        self.call(c, Msg::new(Command::Logoff, build::empty4())).status
    }

    pub fn tree_disconnect(&mut self, c: usize) -> NtStatus {
        self.call(c, Msg::new(Command::TreeDisconnect, build::empty4())).status
    }
}
