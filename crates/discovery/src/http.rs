//! The one HTTP exchange of the WS-Discovery metadata endpoint: a POST with a SOAP body
//! in, one answer out, then the connection closes. Bounded: the head at most 8 KiB, the
//! body at most 32 KiB (a Get is a few hundred bytes).

pub const MAX_HEAD: usize = 8 * 1024;
pub const MAX_BODY: usize = 32 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// Read more (the buffer holds less than a whole request).
    Incomplete,
    /// Not a request we accept: answer 400 and close.
    Bad,
    Post { path: &'a str, body: &'a [u8] },
}

/// Reads the request at the start of `buf`.
pub fn parse(buf: &[u8]) -> Parsed<'_> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD { Parsed::Bad } else { Parsed::Incomplete };
    };
    if head_end > MAX_HEAD {
        return Parsed::Bad;
    }
    let Ok(head) = std::str::from_utf8(&buf[..head_end]) else { return Parsed::Bad };
    let mut lines = head.split("\r\n");
    let mut request = lines.next().unwrap_or("").split(' ');
    let (Some("POST"), Some(path), Some(v)) = (request.next(), request.next(), request.next()) else { return Parsed::Bad };
    if !v.starts_with("HTTP/1.") {
        return Parsed::Bad;
    }
    let mut length = None;
    for l in lines {
        let Some((k, val)) = l.split_once(':') else { return Parsed::Bad };
        if k.trim().eq_ignore_ascii_case("content-length") {
            length = val.trim().parse::<usize>().ok();
        } else if k.trim().eq_ignore_ascii_case("transfer-encoding") {
            // Windows sends a Content-Length; chunked bodies are not accepted.
            return Parsed::Bad;
        }
    }
    let Some(length) = length.filter(|&n| n <= MAX_BODY) else { return Parsed::Bad };
    match buf.get(head_end + 4..head_end + 4 + length) {
        Some(body) => Parsed::Post { path, body },
        None => Parsed::Incomplete,
    }
}

/// A whole response that closes the connection.
pub fn response(status: u16, body: &str) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        _ => "Not Found",
    };
    let kind = if body.is_empty() { "text/plain" } else { "application/soap+xml" };
    format!("HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_is_read_once_whole() {
        let req = b"POST /abc HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
        for n in 0..req.len() {
            assert_eq!(parse(&req[..n]), Parsed::Incomplete, "{n} bytes");
        }
        assert_eq!(parse(req), Parsed::Post { path: "/abc", body: b"hello" });
    }

    #[test]
    fn other_requests_are_bad() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\n\r\n"), Parsed::Bad);
        assert_eq!(parse(b"POST / HTTP/1.1\r\n\r\n"), Parsed::Bad, "no length");
        assert_eq!(parse(b"POST / HTTP/1.1\r\nContent-Length: 999999\r\n\r\n"), Parsed::Bad);
        assert_eq!(parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), Parsed::Bad);
        assert_eq!(parse(&vec![b'a'; MAX_HEAD + 1]), Parsed::Bad);
    }

    #[test]
    fn responses_close_and_say_their_length() {
        let r = String::from_utf8(response(200, "<x/>")).unwrap();
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n") && r.contains("Content-Length: 4\r\n") && r.ends_with("\r\n\r\n<x/>"));
    }
}
