//! Direct-TCP framing on a socket (MS-SMB2 2.1): a buffered reader that yields whole
//! frames and can be raced against other events (`fill` is cancel-safe), and a writer
//! that sends header and body without copying the body.

use opportune_wire::transport::{frame_header, frame_length, MAX_FRAME};
use std::io::IoSlice;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// What an idle connection keeps for reading.
const IDLE_BUFFER: usize = 16 * 1024;

pub struct FrameReader {
    rd: OwnedReadHalf,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// When the first bytes of the frame now arriving came in.
    frame_started: Option<Instant>,
    /// Size and receive time of the last large frame, for the link-quality guard.
    transfer: Option<(usize, Duration)>,
}

impl FrameReader {
    pub fn new(rd: OwnedReadHalf) -> FrameReader {
        FrameReader { rd, buf: vec![0; IDLE_BUFFER], start: 0, end: 0, frame_started: None, transfer: None }
    }

    /// The next complete frame already buffered, if any. Zero-length frames are skipped.
    pub fn try_frame(&mut self) -> Result<Option<Vec<u8>>, &'static str> {
        loop {
            let avail = self.end - self.start;
            if avail < 4 {
                return Ok(None);
            }
            let head = [self.buf[self.start], self.buf[self.start + 1], self.buf[self.start + 2], self.buf[self.start + 3]];
            let len = frame_length(head).ok_or("not a direct-TCP frame")?;
            if len > MAX_FRAME {
                return Err("frame too large");
            }
            if avail < 4 + len {
                return Ok(None);
            }
            let frame = self.buf[self.start + 4..self.start + 4 + len].to_vec();
            self.start += 4 + len;
            if let Some(t) = self.frame_started.take() {
                self.transfer = Some((len, t.elapsed()));
            }
            if self.end > self.start {
                self.frame_started = Some(Instant::now());
            }
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
                if self.buf.len() > 4 * IDLE_BUFFER {
                    // A large frame went through: give the memory back.
                    self.buf = vec![0; IDLE_BUFFER];
                }
            }
            if len > 0 {
                return Ok(Some(frame));
            }
        }
    }

    /// Reads more bytes. Cancel-safe: either nothing was read or the bytes are kept.
    pub async fn fill(&mut self) -> Result<(), &'static str> {
        self.make_room();
        let n = self.rd.read(&mut self.buf[self.end..]).await.map_err(|_| "read error")?;
        if n == 0 {
            return Err("peer closed");
        }
        if self.end == self.start {
            self.frame_started = Some(Instant::now());
        }
        self.end += n;
        Ok(())
    }

    /// Size and receive time of the last frame, once.
    pub fn take_transfer(&mut self) -> Option<(usize, Duration)> {
        self.transfer.take()
    }

    /// Room for at least the frame being received (or a header).
    fn make_room(&mut self) {
        let avail = self.end - self.start;
        let need = if avail >= 4 {
            let head = [self.buf[self.start], self.buf[self.start + 1], self.buf[self.start + 2], self.buf[self.start + 3]];
            frame_length(head).map_or(4, |l| 4 + l.min(MAX_FRAME))
        } else {
            4
        };
        if self.start > 0 && (self.buf.len() - self.start < need || self.end == self.buf.len()) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end = avail;
            self.start = 0;
        }
        if self.buf.len() < need.max(IDLE_BUFFER) || self.end == self.buf.len() {
            let size = need.max(self.buf.len().saturating_mul(2)).max(IDLE_BUFFER).min(MAX_FRAME + 4);
            self.buf.resize(size.max(self.end + 1), 0);
        }
    }
}

/// Writes one message (or compound chain) with its transport header.
pub async fn write_frame(wr: &mut OwnedWriteHalf, msg: &[u8]) -> std::io::Result<()> {
    let head = frame_header(msg.len());
    let n = wr.write_vectored(&[IoSlice::new(&head), IoSlice::new(msg)]).await?;
    if n < head.len() {
        wr.write_all(&head[n..]).await?;
        wr.write_all(msg).await
    } else {
        wr.write_all(&msg[n - head.len()..]).await
    }
}
