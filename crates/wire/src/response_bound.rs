//! How large the responses to a request frame can be, read from the requests' own length
//! fields before anything is processed, so the server can find memory for the answer
//! first (or wait for it) instead of building a response it cannot afford.

use crate::header::{Command, HEADER_LEN};

/// Room for one response's header and fixed body (any command's is under 128 bytes).
const PER_MESSAGE: usize = 128;

fn le32_at(msg: &[u8], at: usize) -> usize {
    msg.get(at..at + 4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

fn le32_next(msg: &[u8]) -> usize {
    le32_at(msg, 20)
}

/// The most the responses to the (plaintext) chain `frame` may take, by what each request
/// asks for: READ's Length (MS-SMB2 2.2.19), QUERY_DIRECTORY's and QUERY_INFO's and
/// CHANGE_NOTIFY's OutputBufferLength (2.2.33, 2.2.37, 2.2.35), IOCTL's MaxOutputResponse
/// (2.2.31). Other commands answer with small fixed bodies. Malformed chains are bounded by
/// what could be parsed; the dispatcher rejects them later.
pub fn response_bound(frame: &[u8]) -> usize {
    let mut total = 0usize;
    let mut pos = 0usize;
    while pos + HEADER_LEN <= frame.len() {
        let msg = &frame[pos..];
        let command = u16::from_le_bytes([msg[12], msg[13]]);
        let asked = match Command::from_u16(command) {
            Some(Command::Read | Command::QueryInfo | Command::ChangeNotify) => le32_at(msg, HEADER_LEN + 4),
            Some(Command::QueryDirectory) => le32_at(msg, HEADER_LEN + 28),
            Some(Command::Ioctl) => le32_at(msg, HEADER_LEN + 44),
            _ => 0,
        };
        total = total.saturating_add(asked).saturating_add(PER_MESSAGE);
        let next = le32_next(msg);
        if next == 0 || !next.is_multiple_of(8) || next < HEADER_LEN {
            break;
        }
        pos = pos.saturating_add(next);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(command: Command, body: &[u8], next: u32) -> Vec<u8> {
        let mut m = vec![0u8; HEADER_LEN];
        m[..4].copy_from_slice(&crate::header::PROTOCOL_ID);
        m[12..14].copy_from_slice(&(command as u16).to_le_bytes());
        m[20..24].copy_from_slice(&next.to_le_bytes());
        m.extend_from_slice(body);
        m
    }

    fn read_body(len: u32) -> Vec<u8> {
        let mut b = vec![0u8; 49];
        b[4..8].copy_from_slice(&len.to_le_bytes());
        b
    }

    #[test]
    fn a_compound_of_reads_adds_up() {
        let mut frame = Vec::new();
        for i in 0..32 {
            let mut m = message(Command::Read, &read_body(8 << 20), 0);
            m.resize(120, 0);
            if i < 31 {
                m[20..24].copy_from_slice(&120u32.to_le_bytes());
            }
            frame.extend_from_slice(&m);
        }
        assert_eq!(response_bound(&frame), 32 * ((8 << 20) + PER_MESSAGE));
    }

    #[test]
    fn each_command_is_read_at_its_own_field() {
        let mut qd = vec![0u8; 33];
        qd[28..32].copy_from_slice(&70_000u32.to_le_bytes());
        assert_eq!(response_bound(&message(Command::QueryDirectory, &qd, 0)), 70_000 + PER_MESSAGE);
        let mut io = vec![0u8; 57];
        io[44..48].copy_from_slice(&65_536u32.to_le_bytes());
        assert_eq!(response_bound(&message(Command::Ioctl, &io, 0)), 65_536 + PER_MESSAGE);
        assert_eq!(response_bound(&message(Command::Echo, &[4, 0, 0, 0], 0)), PER_MESSAGE);
    }

    #[test]
    fn malformed_frames_are_bounded_by_what_parses() {
        assert_eq!(response_bound(&[]), 0);
        assert_eq!(response_bound(&[0xFE; 10]), 0);
        // A NextCommand pointing past the end or not aligned stops the walk.
        let m = message(Command::Read, &read_body(1000), 4096);
        assert_eq!(response_bound(&m), 1000 + PER_MESSAGE);
        let m = message(Command::Read, &read_body(1000), 13);
        assert_eq!(response_bound(&m), 1000 + PER_MESSAGE);
        // Truncated body: the field reads as zero.
        let m = message(Command::Read, &[0, 0], 0);
        assert_eq!(response_bound(&m), PER_MESSAGE);
    }
}
