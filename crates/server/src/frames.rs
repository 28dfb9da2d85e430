//! Direct-TCP framing on a socket (MS-SMB2 2.1): a buffered reader that yields whole
//! frames and can be raced against other events (`fill` is cancel-safe), and a writer
//! that sends header and body without copying the body.
//!
//! Small frames are cut out of a 16 KiB buffer. A large frame (a big WRITE) is received
//! straight into a buffer of its own, recycled from the previous large frame, so its
//! payload is neither copied nor faulted into fresh pages.

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
    /// A large frame being received directly: its bytes so far, and its length.
    large: Option<(Vec<u8>, usize)>,
    /// A large frame's buffer, back from processing, for the next one.
    spare: Option<Vec<u8>>,
    /// When the first bytes of the frame now arriving came in.
    frame_started: Option<Instant>,
    /// Size and receive time of the last frame, for the link-quality guard.
    transfer: Option<(usize, Duration)>,
}

impl FrameReader {
    pub fn new(rd: OwnedReadHalf) -> FrameReader {
        FrameReader {
            rd,
            buf: vec![0; IDLE_BUFFER],
            start: 0,
            end: 0,
            large: None,
            spare: None,
            frame_started: None,
            transfer: None,
        }
    }

    /// The next complete frame already received, if any. Zero-length frames are skipped.
    pub fn try_frame(&mut self) -> Result<Option<Vec<u8>>, &'static str> {
        if let Some((data, len)) = &self.large {
            if data.len() < *len {
                return Ok(None);
            }
            let (frame, _) = self.large.take().ok_or("frame state")?;
            self.finish_frame(frame.len());
            return Ok(Some(frame));
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
    fn peek_len(&self) -> Result<usize, &'static str> {
        let b = &self.buf[self.start..self.start + 4];
        let len = frame_length([b[0], b[1], b[2], b[3]]).ok_or("not a direct-TCP frame")?;
        if len > MAX_FRAME {
            return Err("frame too large");
        }
        Ok(len)
    }

    /// Moves a frame too big for the small buffer into a buffer of its own.
    fn start_large(&mut self, len: usize) {
        let mut data = self.spare.take().unwrap_or_default();
        data.clear();
        data.reserve(len);
        data.extend_from_slice(&self.buf[self.start + 4..self.end]);
        self.start = 0;
        self.end = 0;
        self.large = Some((data, len));
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
    pub async fn fill(&mut self) -> Result<(), &'static str> {
        if self.frame_started.is_none() {
            self.frame_started = Some(Instant::now());
        }
        if let Some((data, len)) = &mut self.large {
            let want = *len - data.len();
            let n = (&mut self.rd).take(want as u64).read_buf(data).await.map_err(|_| "read error")?;
            return if n == 0 { Err("peer closed") } else { Ok(()) };
        }
        if self.start > 0 && self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = self.rd.read(&mut self.buf[self.end..]).await.map_err(|_| "read error")?;
        if n == 0 {
            return Err("peer closed");
        }
        self.end += n;
        Ok(())
    }

    /// Gives a processed frame's buffer back, so the next large frame reuses it.
    pub fn recycle(&mut self, frame: Vec<u8>) {
        if frame.capacity() > IDLE_BUFFER {
            self.spare = Some(frame);
        }
    }

    /// Size and receive time of the last frame, once.
    pub fn take_transfer(&mut self) -> Option<(usize, Duration)> {
        self.transfer.take()
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
                all.extend_from_slice(&frame_header(n));
                all.extend(std::iter::repeat_n(i as u8, n));
            }
            for chunk in all.chunks(7919) {
                s.write_all(chunk).await.unwrap();
            }
        });
        let (sock, _) = listener.accept().await.unwrap();
        let (rd, _wr) = sock.into_split();
        let mut r = FrameReader::new(rd);
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
}
