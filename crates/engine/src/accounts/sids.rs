//! The server's account domain SID (MS-DTYP 2.4.2.4: `S-1-5-21-x-y-z`, the machine's
//! account domain), drawn at random once and kept in the state directory, as Windows
//! draws its machine SID at installation and Samba keeps its in `secrets.tdb`.
//!
//! A stored SID matters because SIDs end up in security descriptors on disk: a server
//! that changed its domain SID would no longer recognise its own users in them. When no
//! state directory is usable the SID is derived from the server name instead (stable for
//! the same name, see [`super::name_derived_domain_sid`]) and a warning says so.

use opportune_types::Sid;
use std::path::Path;

/// The file in the state directory that holds the domain SID, as text.
pub const DOMAIN_SID_FILE: &str = "domain-sid";

/// The state directory when none is configured: /var/lib/opportune for root, else
/// $XDG_STATE_HOME/opportune, else ~/.local/state/opportune; None without a home.
pub fn default_state_dir() -> Option<std::path::PathBuf> {
    if opportune_fs::euid() == 0 {
        return Some("/var/lib/opportune".into());
    }
    let absolute = |v: std::ffi::OsString| Some(std::path::PathBuf::from(v)).filter(|p| p.is_absolute());
    if let Some(p) = std::env::var_os("XDG_STATE_HOME").and_then(absolute) {
        return Some(p.join("opportune"));
    }
    std::env::var_os("HOME").and_then(absolute).map(|h| h.join(".local/state/opportune"))
}

/// A fresh random account domain SID.
pub fn random_domain_sid() -> Result<Sid, String> {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).map_err(|e| format!("no randomness: {e}"))?;
    let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    Ok(Sid::new(5, &[21, word(0), word(4), word(8)]))
}

/// Whether `sid` has the shape of an account domain SID (S-1-5-21 and three more).
fn is_domain_sid(sid: &Sid) -> bool {
    sid.authority == 5 && sid.sub.len() == 4 && sid.sub[0] == 21
}

/// The domain SID kept in `dir`, if the directory has one.
pub fn read(dir: &Path) -> Result<Option<Sid>, String> {
    let path = dir.join(DOMAIN_SID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => match Sid::parse(text.trim()) {
            Some(sid) if is_domain_sid(&sid) => Ok(Some(sid)),
            _ => Err(format!("{}: not a domain SID (S-1-5-21-x-y-z): {:?}", path.display(), text.trim())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The domain SID kept in `dir`, drawn and stored (directory mode 0700, file 0600) on
/// first use.
pub fn load_or_create(dir: &Path) -> Result<Sid, String> {
    if let Some(sid) = read(dir)? {
        return Ok(sid);
    }
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| format!("state directory {}: {e}", dir.display()))?;
    let sid = random_domain_sid()?;
    let path = dir.join(DOMAIN_SID_FILE);
    match super::atomic::create_new(&path, format!("{sid}\n").as_bytes()) {
        Ok(()) => Ok(sid),
        // Another process drew one first: that one is the domain's.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(dir)?.ok_or_else(|| format!("{}: vanished", path.display())),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The domain SID a server named `server_name` uses: the stored one in `state_dir`, else
/// (no state directory, or none usable: logged) the name-derived one.
pub fn resolve(state_dir: Option<&Path>, server_name: &str) -> Sid {
    match state_dir.map(load_or_create) {
        Some(Ok(sid)) => sid,
        Some(Err(e)) => {
            tracing::warn!(error = %e, "no usable state directory: the domain SID is derived from the server name");
            super::name_derived_domain_sid(server_name)
        }
        None => super::name_derived_domain_sid(server_name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_kept() {
        let dir = std::env::temp_dir().join(format!("opportune-sids-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let state = dir.join("state");
        assert_eq!(read(&state).unwrap(), None);
        let a = load_or_create(&state).unwrap();
        assert!(is_domain_sid(&a), "{a}");
        assert_eq!(load_or_create(&state).unwrap(), a);
        assert_eq!(super::super::atomic::create_new(&state.join(DOMAIN_SID_FILE), b"x").unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(read(&state).unwrap(), Some(a.clone()), "never replaced");
        assert_eq!(std::fs::read_dir(&state).unwrap().count(), 1, "no temporary file left behind");
        assert_eq!(resolve(Some(&state), "X"), a);
        assert_ne!(random_domain_sid().unwrap(), a);
        std::fs::write(state.join(DOMAIN_SID_FILE), "S-1-1-0\n").unwrap();
        assert!(read(&state).unwrap_err().contains("not a domain SID"));
        assert_eq!(resolve(Some(&state), "FILES"), super::super::name_derived_domain_sid("FILES"), "falls back");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
