//! The records one read(2) of an inotify descriptor returns (inotify(7)):
//! `struct inotify_event { i32 wd; u32 mask; u32 cookie; u32 len; char name[len]; }`,
//! the name NUL-padded. Parsed in safe code; `sys::inotify_read` does the read.

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Event<'a> {
    pub wd: i32,
    pub mask: u32,
    /// Ties an IN_MOVED_FROM to its IN_MOVED_TO (0 for other events).
    pub cookie: u32,
    pub name: &'a [u8],
}

/// Parses the records of one read; a truncated record ends the parse.
pub(crate) fn parse_events(mut buf: &[u8]) -> Vec<Event<'_>> {
    const HEAD: usize = 16;
    let mut out = Vec::new();
    while buf.len() >= HEAD {
        let word = |i: usize| u32::from_ne_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        let (wd, mask, cookie, len) = (word(0) as i32, word(4), word(8), word(12) as usize);
        let Some(raw) = buf.get(HEAD..HEAD + len) else {
            break;
        };
        let name = match raw.iter().position(|&b| b == 0) {
            Some(end) => &raw[..end],
            None => raw,
        };
        out.push(Event { wd, mask, cookie, name });
        buf = &buf[HEAD + len..];
    }
    out
}

#[cfg(test)]
pub(crate) fn record(wd: i32, mask: u32, cookie: u32, name: &[u8], pad: usize) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&wd.to_ne_bytes());
    v.extend_from_slice(&mask.to_ne_bytes());
    v.extend_from_slice(&cookie.to_ne_bytes());
    v.extend_from_slice(&((name.len() + pad) as u32).to_ne_bytes());
    v.extend_from_slice(name);
    v.resize(v.len() + pad, 0);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_and_truncation_stops() {
        let mut buf = record(3, libc::IN_CREATE, 0, b"abc", 5);
        buf.extend(record(4, libc::IN_MOVED_FROM, 77, b"", 0));
        let evs = parse_events(&buf);
        assert_eq!(
            evs,
            vec![
                Event { wd: 3, mask: libc::IN_CREATE, cookie: 0, name: b"abc" },
                Event { wd: 4, mask: libc::IN_MOVED_FROM, cookie: 77, name: b"" }
            ]
        );
        assert_eq!(parse_events(&buf[..20]).len(), 0);
        assert_eq!(parse_events(&buf[..buf.len() - 3]).len(), 1);
    }
}
