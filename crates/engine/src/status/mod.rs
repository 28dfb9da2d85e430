//! `opportune status` and `opportune trace`: the server answers requests on a Unix socket
//! (mode 0600, so only its own user can read paths and user names) with a report of
//! sessions, connections, open files, share modes, byte-range locks and breaks, as text
//! or as versioned JSON ([`report`]), or with a live stream of break records
//! (served by the driver, `opportune-server`; the protocol and the JSON schema are in docs/STATUS.md).
//!
//! The socket lives in a directory only the server's user (or root) can write
//! (hardening finding #14): otherwise another local user could put a socket of their own
//! there first and have `opportune status` print their text. By default that directory is
//! made with mode 0700 ([`default_dir`]); whichever directory is used, the server and the
//! `status` client both check it with [`check_dir`] and refuse one that someone else owns
//! or can write. Every client-supplied name in the snapshot goes through [`printable`], so
//! no control character reaches a terminal.

pub mod report;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::os::unix::net::UnixListener;

/// The directory of the default status socket, never a world-writable one:
/// `$XDG_RUNTIME_DIR/opportune`, else `/run/opportune` for root, else
/// `opportune-UID` in the temporary directory.
pub fn default_dir() -> PathBuf {
    let uid = opportune_fs::euid();
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d).join("opportune"),
        None if uid == 0 => PathBuf::from("/run/opportune"),
        None => std::env::temp_dir().join(format!("opportune-{uid}")),
    }
}

/// The socket a server listening on `listen` uses unless told otherwise:
/// `opportune-IP-PORT.sock` in [`default_dir`].
pub fn default_socket(listen: SocketAddr) -> PathBuf {
    default_dir().join(format!("opportune-{}-{}.sock", listen.ip(), listen.port()))
}

/// Why a directory is no place for the status socket, if it is not: it must be a real
/// directory (not a symlink), owned by `uid` or root, and writable by nobody else
/// (no group or other write bit). Pure, for the checks of [`check_dir`].
pub fn unsafe_dir_reason(is_dir: bool, owner: u32, mode: u32, uid: u32) -> Option<String> {
    if !is_dir {
        return Some("not a directory".into());
    }
    if owner != uid && owner != 0 {
        return Some(format!("owned by uid {owner}, not by uid {uid} or root"));
    }
    if mode & 0o022 != 0 {
        return Some(format!("writable by others (mode {:o})", mode & 0o7777));
    }
    None
}

/// Checks the directory `dir` of a status socket (see [`unsafe_dir_reason`]); its
/// symlink is not followed. `PermissionDenied` with the reason when it is unsafe.
pub fn check_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(dir)?;
    match unsafe_dir_reason(m.is_dir(), m.uid(), m.mode(), opportune_fs::euid()) {
        None => Ok(()),
        Some(why) => Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{}: {why}; refusing it for the status socket", dir.display()),
        )),
    }
}

/// The directory of `path`, made with mode 0700 if it is the default one and missing,
/// then checked with [`check_dir`].
fn prepare_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if dir == default_dir() {
        use std::os::unix::fs::DirBuilderExt;
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    check_dir(dir)
}

/// The status socket at `path` may be trusted: its directory passes [`check_dir`] and the
/// socket is ours (or root's). What the `status` client checks before connecting.
pub fn check_socket(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    check_dir(dir)?;
    let m = std::fs::symlink_metadata(path)?;
    let uid = opportune_fs::euid();
    if m.uid() != uid && m.uid() != 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{}: owned by uid {}, not by uid {uid} or root", path.display(), m.uid()),
        ));
    }
    Ok(())
}

/// `s` with every control or otherwise unprintable character (C0, DEL, C1, bidirectional
/// overrides, ...) escaped as Rust does (`\n`, `\u{1b}`, `\u{202e}`), so a client-chosen
/// name cannot move the cursor, recolour or rewrite a terminal. Quotes and backslashes stay.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '"' | '\'') {
            out.push(c);
        } else {
            out.extend(c.escape_debug());
        }
    }
    out
}

/// A multi-line text with [`printable`] applied to each line (the line breaks stay).
pub fn printable_text(s: &str) -> String {
    s.split_inclusive('\n')
        .map(|l| match l.strip_suffix('\n') {
            Some(line) => format!("{}\n", printable(line)),
            None => printable(l),
        })
        .collect()
}

/// `s`, JSON text, with every character [`printable`] would escape written as a JSON
/// `\uXXXX` escape instead, so the JSON stays valid and no C1 control or bidirectional
/// override reaches a terminal. Line breaks between JSON lines stay (inside strings JSON
/// has escaped them already).
pub fn printable_json(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\n' || matches!(c, '\\' | '"' | '\'') || c.escape_debug().nth(1).is_none() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{:04x}", u));
            }
        }
    }
    out
}

/// Binds `path` (replacing a stale socket nobody answers on, never a live one) in a
/// directory only this user can write (see [`check_dir`]; the default one is made).
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    prepare_dir(path)?;
    if std::fs::symlink_metadata(path).is_ok() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, "another server answers on it"));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    listener.set_nonblocking(true)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_socket_is_private() {
        let p = default_socket("127.0.0.1:4445".parse().unwrap());
        assert!(p.to_string_lossy().ends_with("opportune-127.0.0.1-4445.sock"));
        assert_eq!(p.parent(), Some(default_dir().as_path()));
        assert_ne!(default_dir(), std::env::temp_dir(), "never the shared temporary directory itself");
    }

    #[test]
    fn only_a_directory_of_ours_or_roots_that_nobody_else_writes() {
        assert_eq!(unsafe_dir_reason(true, 1000, 0o40700, 1000), None);
        assert_eq!(unsafe_dir_reason(true, 0, 0o40755, 1000), None, "root's /run");
        assert!(unsafe_dir_reason(true, 1001, 0o40700, 1000).unwrap().contains("uid 1001"));
        assert!(unsafe_dir_reason(true, 0, 0o41777, 1000).unwrap().contains("writable"), "/tmp");
        assert!(unsafe_dir_reason(true, 1000, 0o40770, 1000).is_some(), "group-writable");
        assert!(unsafe_dir_reason(false, 1000, 0o120777, 1000).is_some(), "a symlink");
    }

    #[test]
    fn the_socket_directory_is_made_private_and_checked() {
        use std::os::unix::fs::PermissionsExt;
        let base = std::env::temp_dir().join(format!("opportune-status-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(check_dir(&base).is_ok());
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = check_dir(&base).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{err}");
        assert!(check_socket(&base.join("x.sock")).is_err());
        let link = base.with_extension("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&base, &link).unwrap();
        assert!(check_dir(&link).is_err(), "a symlink is not followed");
        let _ = std::fs::remove_file(&link);
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn names_reach_the_terminal_escaped() {
        assert_eq!(printable("plain name.txt"), "plain name.txt");
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("x\ny\r\t"), "x\\ny\\r\\t");
        assert_eq!(printable("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(printable("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(printable("dir\\f \"q\" 'q' é 日本"), "dir\\f \"q\" 'q' é 日本");
        assert_eq!(printable_text("one\u{7}\ntwo\n"), "one\\u{7}\ntwo\n");
        assert_eq!(printable_json("{\"a\":\"x\u{9b}y\u{202e}\"}\n"), "{\"a\":\"x\\u009by\\u202e\"}\n");
        assert_eq!(printable_json("{\"a\":\"é 日本 \\\" \"}"), "{\"a\":\"é 日本 \\\" \"}");
    }
}
