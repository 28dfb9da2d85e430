//! Direct-TCP framing on a socket (MS-SMB2 2.1): a buffered reader that yields whole
//! frames and can be raced against other events (`fill` is cancel-safe), and a writer
//! that sends header and body without copying the body.
//!
//! Small frames are cut out of a 16 KiB buffer. A large frame (a big WRITE) is received
//! straight into a buffer of its own, taken from the server's pool of large buffers, so
//! its payload is neither copied nor faulted into fresh pages. Its memory is committed
//! only as its bytes arrive, a mebibyte at a time against the server-wide receive budget
//! (docs/SECURITY.md): a peer that declares a large frame and sends nothing holds nothing,
//! and when the budget is spent the connection is simply not read until there is room.

use crate::budget::Reservation;
use opportune_engine::fault::{Fault, READ_FAILED};
use crate::budget::Memory;
use opportune_wire::transport::{frame_header, frame_length, MAX_FRAME};
use std::io::IoSlice;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// What an idle connection keeps for reading.
const IDLE_BUFFER: usize = 16 * 1024;

/// How much of a large frame is committed (reserved and allocated) at a time.
const COMMIT_STEP: usize = 1 << 20;

/// A large frame being received into a buffer of its own.
struct Large {
    data: Vec<u8>,
    len: usize,
    /// Receive budget held for the bytes committed so far.
    held: Reservation,
}

pub struct FrameReader {
    rd: OwnedReadHalf,
    memory: Arc<Memory>,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Frames longer than this end the connection (smaller before logon).
    max_frame: usize,
    /// A large frame being received directly.
    large: Option<Large>,
    /// The receive budget of the large frame last returned, until it is recycled.
    current: Reservation,
    /// When the first bytes of the frame now arriving came in.
    frame_started: Option<Instant>,
    /// Size and receive time of the last frame, for the link-quality guard.
    transfer: Option<(usize, Duration)>,
}

impl FrameReader {
    /// A reader whose frames may be up to `max_frame` bytes long.
    pub fn new(rd: OwnedReadHalf, memory: Arc<Memory>, max_frame: usize) -> FrameReader {
        FrameReader {
            rd,
            memory,
            buf: vec![0; IDLE_BUFFER],
            start: 0,
            end: 0,
            max_frame: max_frame.min(MAX_FRAME),
            large: None,
            current: Reservation::none(),
            frame_started: None,
            transfer: None,
        }
    }

    /// Changes the largest frame accepted from now on (raised once the peer has logged on).
    pub fn set_max_frame(&mut self, max_frame: usize) {
        self.max_frame = max_frame.min(MAX_FRAME);
    }

    /// Part of a frame has arrived and the rest has not.
    pub fn mid_frame(&self) -> bool {
        self.large.is_some() || self.end > self.start
    }

    /// The next complete frame already received, if any. Zero-length frames are skipped.
    pub fn try_frame(&mut self) -> Result<Option<Vec<u8>>, Fault> {
        if self.large.as_ref().is_some_and(|l| l.data.len() < l.len) {
            return Ok(None);
        }
        if let Some(Large { data, held, .. }) = self.large.take() {
            self.current = held;
            self.finish_frame(data.len());
            return Ok(Some(data));
        }
        loop {
            let avail = self.end - self.start;
            if avail < 4 {
                return Ok(None);
            }
            let len = self.peek_len()?;
            if avail < 4 + len {
                if 4 + len > IDLE_BUFFER {
                    self.start_large(len);
                }
                return Ok(None);
            }
            let frame = self.buf[self.start + 4..self.start + 4 + len].to_vec();
            self.start += 4 + len;
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            }
            if len > 0 {
                self.finish_frame(len);
                return Ok(Some(frame));
            }
        }
    }

    /// The length of the frame whose header starts the buffered bytes.
    fn peek_len(&self) -> Result<usize, Fault> {
        let b = &self.buf[self.start..self.start + 4];
        let len = frame_length([b[0], b[1], b[2], b[3]]).ok_or(Fault::Malformed("not a direct-TCP frame"))?;
        if len > self.max_frame {
            return Err(Fault::ProtocolViolation("frame too large"));
        }
        Ok(len)
    }

    /// Moves a frame too big for the small buffer into a buffer of its own. What already
    /// arrived (less than 16 KiB) is copied; the rest is committed as it arrives.
    fn start_large(&mut self, len: usize) {
        let mut data = self.memory.pool.take();
        data.extend_from_slice(&self.buf[self.start + 4..self.end]);
        self.start = 0;
        self.end = 0;
        self.large = Some(Large { data, len, held: Reservation::none() });
    }

    fn finish_frame(&mut self, len: usize) {
        if let Some(t) = self.frame_started.take() {
            self.transfer = Some((len, t.elapsed()));
        }
        if self.end > self.start || self.large.is_some() {
            self.frame_started = Some(Instant::now());
        }
    }

    /// Reads more bytes. Cancel-safe: either nothing was read or the bytes are kept.
    pub async fn fill(&mut self) -> Result<(), Fault> {
        if self.frame_started.is_none() {
            self.frame_started = Some(Instant::now());
        }
        let read = if let Some(l) = &mut self.large {
            let step = (l.len - l.data.len()).min(COMMIT_STEP);
            if l.held.bytes() < l.data.len() + step {
                // Cancel-safe: a reservation is either complete and kept, or not taken.
                let more = self.memory.receive.reserve(step).await;
                l.held.merge(more);
            }
            l.data.reserve(step);
            (&mut self.rd).take(step as u64).read_buf(&mut l.data).await
        } else {
            if self.start > 0 && self.end == self.buf.len() {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let read = self.rd.read(&mut self.buf[self.end..]).await;
            self.end += *read.as_ref().unwrap_or(&0);
            read
        };
        match read {
            Ok(0) => Err(Fault::Closed("peer closed")),
            Ok(_) => Ok(()),
            Err(_) => Err(Fault::Closed(READ_FAILED)),
        }
    }

    /// Gives a processed frame's buffer back to the pool, and its receive budget back.
    pub fn recycle(&mut self, frame: Vec<u8>) {
        self.memory.pool.give(frame);
        self.current = Reservation::none();
    }

    /// Size and receive time of the last frame, once.
    pub fn take_transfer(&mut self) -> Option<(usize, Duration)> {
        self.transfer.take()
    }
}

/// Writes one message (or compound chain) with its transport header.
/// A message too long for the 24-bit length is refused, never sent with a wrapped length.
pub async fn write_frame(wr: &mut OwnedWriteHalf, msg: &[u8]) -> std::io::Result<()> {
    let head = frame_header(msg.len())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "response longer than a frame can carry"))?;
    let n = wr.write_vectored(&[IoSlice::new(&head), IoSlice::new(msg)]).await?;
    if n < head.len() {
        wr.write_all(&head[n..]).await?;
        wr.write_all(msg).await
    } else {
        wr.write_all(&msg[n - head.len()..]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    /// Small and large frames, split at awkward points, come out whole and in order.
    #[tokio::test]
    async fn frames_of_all_sizes_survive_any_split() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sizes = [1usize, 100, 16 * 1024, 70_000, 3, 1 << 20, 5];
        let sender = tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let mut all = Vec::new();
            for (i, &n) in sizes.iter().enumerate() {
                all.extend_from_slice(&frame_header(n).unwrap());
                all.extend(std::iter::repeat_n(i as u8, n));
            }
            for chunk in all.chunks(7919) {
                s.write_all(chunk).await.unwrap();
            }
        });
        let (sock, _) = listener.accept().await.unwrap();
        let (rd, _wr) = sock.into_split();
        let mut r = FrameReader::new(rd, Arc::new(Memory::new(&opportune_engine::limits::Limits::default(), Default::default())), MAX_FRAME);
        for (i, &n) in sizes.iter().enumerate() {
            let frame = loop {
                if let Some(f) = r.try_frame().unwrap() {
                    break f;
                }
                r.fill().await.unwrap();
            };
            assert_eq!(frame.len(), n, "frame {i}");
            assert!(frame.iter().all(|&b| b == i as u8), "frame {i} content");
            r.recycle(frame);
        }
        sender.await.unwrap();
    }

    async fn pair() -> (TcpStream, FrameReader, Arc<Memory>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (sock, _) = listener.accept().await.unwrap();
        let (rd, _wr) = sock.into_split();
        let memory = Arc::new(Memory::new(&opportune_engine::limits::Limits::default(), Default::default()));
        (client, FrameReader::new(rd, memory.clone(), 64 * 1024), memory)
    }

    /// Before logon a frame longer than the small limit ends the connection at its header.
    #[tokio::test]
    async fn frames_over_the_limit_are_refused_at_the_header() {
        let (mut client, mut r, _) = pair().await;
        client.write_all(&frame_header(8 << 20).unwrap()).await.unwrap();
        r.fill().await.unwrap();
        assert!(matches!(r.try_frame(), Err(Fault::ProtocolViolation("frame too large"))));
    }

    /// A large frame commits memory as its bytes arrive, not as its header declares, and
    /// gives its budget back once processed.
    #[tokio::test]
    async fn a_large_frame_commits_only_what_arrived() {
        let (mut client, mut r, memory) = pair().await;
        r.set_max_frame(MAX_FRAME);
        let all = memory.receive.available();
        client.write_all(&frame_header(8 << 20).unwrap()).await.unwrap();
        client.write_all(&vec![1u8; 100_000]).await.unwrap();
        while r.try_frame().unwrap().is_none() && r.large.as_ref().is_none_or(|l| l.data.len() < 100_000) {
            r.fill().await.unwrap();
        }
        let held = all - memory.receive.available();
        assert!(held <= 2 * COMMIT_STEP, "{held} bytes reserved for 100 kB received");
        assert!(r.large.as_ref().unwrap().data.capacity() < 4 << 20, "buffer sized by what arrived");
        assert!(r.mid_frame());
        // The rest arrives; the frame comes out whole; recycling returns the budget.
        let writer = tokio::spawn(async move {
            client.write_all(&vec![1u8; (8 << 20) - 100_000]).await.unwrap();
            client
        });
        let frame = loop {
            if let Some(f) = r.try_frame().unwrap() {
                break f;
            }
            r.fill().await.unwrap();
        };
        assert_eq!(frame.len(), 8 << 20);
        drop(writer.await.unwrap());
        r.recycle(frame);
        assert_eq!(memory.receive.available(), all);
    }
}
