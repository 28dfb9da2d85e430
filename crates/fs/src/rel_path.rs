//! On-disk relative paths: '/'-separated, in the exact case found on disk, "" for
//! the share root, as [`Opened::rel_path`](crate::Opened) and
//! [`Handle::rel_path`](crate::Handle) give them. A named-stream open is "base:name"
//! (MS-FSCC 2.1.5.3; on-disk names that clients can reach never contain ':').

use std::ffi::CString;

use crate::error::FsError;

/// Splits an on-disk relative path ('/'-separated, as returned in
/// `Opened::rel_path`) into its components, refusing anything that is not a
/// plain relative path ("", ".", "..", empty components, NUL).
pub fn split_rel(rel: &str) -> Result<Vec<&str>, FsError> {
    if rel.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = rel.split('/').collect();
    for p in &parts {
        if p.is_empty() || *p == "." || *p == ".." || p.contains('\0') {
            return Err(FsError::InvalidName);
        }
    }
    Ok(parts)
}

/// Joins a relative directory path and a name with '/'.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Splits a relative path into (parent, last component).
pub fn split_last(rel: &str) -> (&str, &str) {
    match rel.rfind('/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => ("", rel),
    }
}

/// Splits an on-disk relative path into the base path and the stream name of a
/// named-stream open ("base:name").
pub fn split_rel_stream(rel: &str) -> (&str, Option<&str>) {
    let last = rel.rfind('/').map_or(0, |i| i + 1);
    match rel[last..].find(':') {
        Some(i) => (&rel[..last + i], Some(&rel[last + i + 1..])),
        None => (rel, None),
    }
}

/// A `CString` of an on-disk name; NUL inside is an invalid name.
pub fn cstr(s: &str) -> Result<CString, FsError> {
    CString::new(if s.is_empty() { "." } else { s }).map_err(|_| FsError::InvalidName)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(split_rel("a/b").unwrap(), ["a", "b"]);
        assert!(split_rel("").unwrap().is_empty());
        for bad in ["/a", "a/", "a//b", "../a", "a/./b", "a\0"] {
            assert!(split_rel(bad).is_err(), "{bad:?}");
        }
        assert_eq!(split_last("a/b/c"), ("a/b", "c"));
        assert_eq!(split_last("c"), ("", "c"));
        assert_eq!(join("", "x"), "x");
        assert_eq!(join("a", "x"), "a/x");
        assert_eq!(split_rel_stream("d/f:s"), ("d/f", Some("s")));
        assert_eq!(split_rel_stream("f:s"), ("f", Some("s")));
        assert_eq!(split_rel_stream("d/f"), ("d/f", None));
        assert_eq!(split_rel_stream(""), ("", None));
    }
}
