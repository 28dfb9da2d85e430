//! The users file: the server's own accounts and groups, managed by `opportune user` and
//! `opportune group` and read by the server at start and at every reload (the
//! `users_file` configuration key; docs/CONFIG.md).
//!
//! A TOML document, so an admin can read it and later fields can be added (a field a
//! file lacks takes its default, so older files load):
//!
//! ```toml
//! version = 1
//! next_rid = 1003
//! [[user]]
//! name = "alice"
//! rid = 1000
//! nt_hash = "8846f7eaee8fb117ad06bdd830b7586c"
//! uid = 40001          # optional, with gid: the UNIX identity under `unix_identity`
//! gid = 40001
//! quota_bytes = 1073741824   # optional: `opportune user quota` (see `crate::quota`)
//! quota_files = 10000
//! [[group]]
//! name = "staff"
//! rid = 1002
//! members = ["alice"]
//! gid = 40100          # optional: a supplementary gid of its members
//! ```
//!
//! * Only NT hashes are kept (MD4 of the UTF-16LE password, MS-NLMP 3.3.1 NTOWFv1): what
//!   NTLMv2 needs, never a password.
//! * Every user and group has a RID, allocated once from `next_rid` and never reused, so
//!   an account SID (domain SID + RID, MS-DTYP 2.4.2.4) that ended up in a stored ACL never
//!   names a later account. RIDs start at 1000, as local accounts' do on Windows.
//! * The file is replaced atomically (a temporary file in the same directory, flushed,
//!   then renamed over it) with mode 0600: a crash leaves the old file or the new one,
//!   and no other local user can read the hashes. Changes ([`UsersFile::update`]) hold
//!   an exclusive lock on `.NAME.lock` beside the file, so concurrent commands serialise.

use opportune_auth::NtHash;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The format version this code reads and writes.
pub const VERSION: u32 = 1;
/// The first RID handed out (MS-DTYP 2.4.2.4: lower RIDs are well-known accounts).
pub const FIRST_RID: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersFile {
    pub version: u32,
    /// The next RID to hand out; only ever grows.
    pub next_rid: u32,
    #[serde(default, rename = "user", skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<FileUser>,
    #[serde(default, rename = "group", skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<FileGroup>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileUser {
    pub name: String,
    pub rid: u32,
    /// 32 lower-case hex digits.
    pub nt_hash: String,
    /// The UNIX uid and gid the user's file-system calls run as under `unix_identity`
    /// (both or neither; absent: the system account of the same name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Quota limits of this user's own files on each share (`opportune user quota`;
    /// absent: the share's `user_quota_bytes` / `user_quota_files`, if any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_files: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileGroup {
    pub name: String,
    pub rid: u32,
    #[serde(default)]
    pub members: Vec<String>,
    /// A UNIX gid the group's members get as a supplementary group under `unix_identity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
}

impl Default for UsersFile {
    fn default() -> Self {
        UsersFile { version: VERSION, next_rid: FIRST_RID, users: Vec::new(), groups: Vec::new() }
    }
}

/// Why a name cannot be an account or group name, if it cannot: empty, longer than 64
/// characters, a control character, a character Windows forbids in account names
/// (`" / \ [ ] : ; | = , + * ? < >`), `@` (the group prefix of share lists) or
/// surrounding spaces.
pub fn bad_name(name: &str) -> Option<&'static str> {
    const FORBIDDEN: &[char] = &['"', '/', '\\', '[', ']', ':', ';', '|', '=', ',', '+', '*', '?', '<', '>', '@', '&'];
    if name.is_empty() {
        Some("empty")
    } else if name.chars().count() > 64 {
        Some("longer than 64 characters")
    } else if name.chars().any(|c| c.is_control()) {
        Some("contains a control character")
    } else if name.contains(FORBIDDEN) {
        Some("contains one of \" / \\ [ ] : ; | = , + * ? < > @ &")
    } else if name.trim() != name {
        Some("begins or ends with a space")
    } else {
        None
    }
}

/// An NT hash as the file writes it.
pub fn hash_to_hex(h: &NtHash) -> String {
    h.0.iter().map(|b| format!("{b:02x}")).collect()
}

/// An NT hash from 32 hex digits.
pub fn hash_from_hex(s: &str) -> Option<NtHash> {
    if s.len() != 32 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(NtHash(out))
}

impl UsersFile {
    /// Parses and checks a users file's text; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<UsersFile, String> {
        let f: UsersFile = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        f.check()?;
        Ok(f)
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let body = toml::to_string(self).unwrap_or_default();
        format!("# Opportune users file: manage it with `opportune user` and `opportune group`.\n{body}")
    }

    /// Reads the file at `path`.
    pub fn load(path: &Path) -> Result<UsersFile, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("users file {}: {e}", path.display()))?;
        UsersFile::parse(&text).map_err(|e| format!("users file {}: {e}", path.display()))
    }

    /// Reads the file at `path`, or an empty one if there is none yet.
    pub fn load_or_new(path: &Path) -> Result<UsersFile, String> {
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UsersFile::default()),
            _ => UsersFile::load(path),
        }
    }

    /// Replaces the file at `path` atomically, mode 0600 (see the module documentation).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        self.check()?;
        crate::accounts::atomic::write(path, self.to_text().as_bytes()).map_err(|e| format!("users file {}: {e}", path.display()))
    }

    /// Reads the file at `path` (or an empty one), applies `change` and writes the result,
    /// holding an exclusive lock on a lock file beside it (`.NAME.lock`) throughout, so
    /// two `opportune user` commands run at once do not lose each other's change.
    pub fn update<T>(path: &Path, change: impl FnOnce(&mut UsersFile) -> Result<T, String>) -> Result<T, String> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let lock_path = dir.join(format!(".{name}.lock"));
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| format!("{}: {e}", lock_path.display()))?;
        lock.lock().map_err(|e| format!("{}: {e}", lock_path.display()))?;
        let mut f = UsersFile::load_or_new(path)?;
        let out = change(&mut f)?;
        f.save(path)?;
        Ok(out)
    }

    /// What makes the file inconsistent, if anything.
    fn check(&self) -> Result<(), String> {
        if self.version != VERSION {
            return Err(format!("version {} (this opportune reads version {VERSION})", self.version));
        }
        let mut names: Vec<&str> = Vec::new();
        let mut rids: Vec<u32> = Vec::new();
        let entries = self.users.iter().map(|u| (&u.name, u.rid, "user")).chain(self.groups.iter().map(|g| (&g.name, g.rid, "group")));
        for (name, rid, what) in entries {
            if let Some(why) = bad_name(name) {
                return Err(format!("{what} {name:?}: name {why}"));
            }
            if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                return Err(format!("{what} {name:?}: the name is used twice"));
            }
            if rid < FIRST_RID || rid >= self.next_rid {
                return Err(format!("{what} {name:?}: rid {rid} outside {FIRST_RID}..next_rid ({})", self.next_rid));
            }
            if rids.contains(&rid) {
                return Err(format!("{what} {name:?}: rid {rid} is used twice"));
            }
            names.push(name);
            rids.push(rid);
        }
        for u in &self.users {
            if hash_from_hex(&u.nt_hash).is_none() {
                return Err(format!("user {:?}: nt_hash must be 32 hex digits", u.name));
            }
            if u.uid.is_some() != u.gid.is_some() {
                return Err(format!("user {:?}: give both uid and gid, or neither", u.name));
            }
        }
        for g in &self.groups {
            if let Some(m) = g.members.iter().find(|m| !self.users.iter().any(|u| u.name.eq_ignore_ascii_case(m))) {
                return Err(format!("group {:?}: member {m:?} is not a user of this file", g.name));
            }
        }
        Ok(())
    }

    pub fn user(&self, name: &str) -> Option<&FileUser> {
        self.users.iter().find(|u| u.name.eq_ignore_ascii_case(name))
    }

    pub fn group(&self, name: &str) -> Option<&FileGroup> {
        self.groups.iter().find(|g| g.name.eq_ignore_ascii_case(name))
    }

    /// The groups `user` is a member of.
    pub fn groups_of<'a>(&'a self, user: &'a str) -> impl Iterator<Item = &'a FileGroup> + 'a {
        self.groups.iter().filter(move |g| g.members.iter().any(|m| m.eq_ignore_ascii_case(user)))
    }

    fn taken(&self, name: &str) -> Result<(), String> {
        if let Some(why) = bad_name(name) {
            return Err(format!("{name:?}: name {why}"));
        }
        if self.user(name).is_some() || self.group(name).is_some() {
            return Err(format!("{name:?} is already a user or group"));
        }
        Ok(())
    }

    fn allocate_rid(&mut self) -> Result<u32, String> {
        let rid = self.next_rid;
        self.next_rid = rid.checked_add(1).ok_or("no RIDs left")?;
        Ok(rid)
    }

    /// Adds a user; its new RID.
    pub fn add_user(&mut self, name: &str, hash: &NtHash) -> Result<u32, String> {
        self.taken(name)?;
        let rid = self.allocate_rid()?;
        self.users.push(FileUser { name: name.to_string(), rid, nt_hash: hash_to_hex(hash), uid: None, gid: None, quota_bytes: None, quota_files: None });
        Ok(rid)
    }

    /// Removes a user and its group memberships (its RID is not handed out again).
    pub fn remove_user(&mut self, name: &str) -> Result<(), String> {
        let before = self.users.len();
        self.users.retain(|u| !u.name.eq_ignore_ascii_case(name));
        if self.users.len() == before {
            return Err(format!("no user {name:?}"));
        }
        for g in &mut self.groups {
            g.members.retain(|m| !m.eq_ignore_ascii_case(name));
        }
        Ok(())
    }

    pub fn set_hash(&mut self, name: &str, hash: &NtHash) -> Result<(), String> {
        let u = self.users.iter_mut().find(|u| u.name.eq_ignore_ascii_case(name)).ok_or_else(|| format!("no user {name:?}"))?;
        u.nt_hash = hash_to_hex(hash);
        Ok(())
    }

    /// Sets (or, with None, clears) the UNIX uid and gid of a user.
    pub fn set_unix(&mut self, name: &str, ids: Option<(u32, u32)>) -> Result<(), String> {
        let u = self.users.iter_mut().find(|u| u.name.eq_ignore_ascii_case(name)).ok_or_else(|| format!("no user {name:?}"))?;
        (u.uid, u.gid) = (ids.map(|i| i.0), ids.map(|i| i.1));
        Ok(())
    }

    /// Sets (or clears) the UNIX gid of a group.
    pub fn set_group_gid(&mut self, name: &str, gid: Option<u32>) -> Result<(), String> {
        let g = self.groups.iter_mut().find(|g| g.name.eq_ignore_ascii_case(name)).ok_or_else(|| format!("no group {name:?}"))?;
        g.gid = gid;
        Ok(())
    }

    /// Sets a user's quota limits (None: none of its own).
    pub fn set_quota(&mut self, name: &str, bytes: Option<u64>, files: Option<u64>) -> Result<(), String> {
        let u = self.users.iter_mut().find(|u| u.name.eq_ignore_ascii_case(name)).ok_or_else(|| format!("no user {name:?}"))?;
        u.quota_bytes = bytes;
        u.quota_files = files;
        Ok(())
    }

    /// Adds a group; its new RID.
    pub fn add_group(&mut self, name: &str) -> Result<u32, String> {
        self.taken(name)?;
        let rid = self.allocate_rid()?;
        self.groups.push(FileGroup { name: name.to_string(), rid, members: Vec::new(), gid: None });
        Ok(rid)
    }

    pub fn remove_group(&mut self, name: &str) -> Result<(), String> {
        let before = self.groups.len();
        self.groups.retain(|g| !g.name.eq_ignore_ascii_case(name));
        if self.groups.len() == before {
            return Err(format!("no group {name:?}"));
        }
        Ok(())
    }

    /// Adds `user` to `group` (`add`) or removes it.
    pub fn set_member(&mut self, group: &str, user: &str, add: bool) -> Result<(), String> {
        let canonical = self.user(user).map(|u| u.name.clone()).ok_or_else(|| format!("no user {user:?}"))?;
        let g = self.groups.iter_mut().find(|g| g.name.eq_ignore_ascii_case(group)).ok_or_else(|| format!("no group {group:?}"))?;
        let present = g.members.iter().any(|m| m.eq_ignore_ascii_case(user));
        match (add, present) {
            (true, false) => g.members.push(canonical),
            (false, true) => g.members.retain(|m| !m.eq_ignore_ascii_case(user)),
            (true, true) => return Err(format!("{user:?} is already a member of {group:?}")),
            (false, false) => return Err(format!("{user:?} is not a member of {group:?}")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> UsersFile {
        let mut f = UsersFile::default();
        f.add_user("alice", &NtHash::from_password("a1")).unwrap();
        f.add_user("bob", &NtHash::from_password("b1")).unwrap();
        f.add_group("staff").unwrap();
        f.set_member("staff", "ALICE", true).unwrap();
        f
    }

    #[test]
    fn round_trip() {
        let f = sample();
        let text = f.to_text();
        assert!(!text.contains("a1"), "{text}");
        assert_eq!(UsersFile::parse(&text).unwrap(), f);
        assert_eq!(f.group("staff").unwrap().members, vec!["alice".to_string()]);
        assert_eq!((f.user("alice").unwrap().rid, f.user("bob").unwrap().rid, f.group("staff").unwrap().rid), (1000, 1001, 1002));
        assert_eq!(UsersFile::parse("version = 1\nnext_rid = 1000\n").unwrap(), UsersFile::default());
    }

    #[test]
    fn unix_ids_are_optional_and_round_trip() {
        let mut f = sample();
        assert!(!f.to_text().contains("uid"), "absent ids are not written");
        f.set_unix("Alice", Some((40001, 40002))).unwrap();
        f.set_group_gid("staff", Some(40100)).unwrap();
        let back = UsersFile::parse(&f.to_text()).unwrap();
        assert_eq!((back.user("alice").unwrap().uid, back.user("alice").unwrap().gid), (Some(40001), Some(40002)));
        assert_eq!(back.group("staff").unwrap().gid, Some(40100));
        assert_eq!(back.user("bob").unwrap().uid, None);
        assert!(f.set_unix("nobody", Some((1, 1))).is_err());
        f.set_unix("alice", None).unwrap();
        assert_eq!(f.user("alice").unwrap().gid, None);
        let half = "version = 1\nnext_rid = 1001\n[[user]]\nname = \"a\"\nrid = 1000\nnt_hash = \"8846f7eaee8fb117ad06bdd830b7586c\"\nuid = 5\n";
        assert!(UsersFile::parse(half).unwrap_err().contains("both uid and gid"));
    }

    #[test]
    fn quotas_are_optional_fields() {
        let mut f = sample();
        // A file written before quotas has none and still loads.
        let old = f.to_text();
        assert!(!old.contains("quota"), "{old}");
        f.set_quota("ALICE", Some(1 << 20), Some(10)).unwrap();
        let text = f.to_text();
        assert!(text.contains("quota_bytes = 1048576") && text.contains("quota_files = 10"), "{text}");
        let back = UsersFile::parse(&text).unwrap();
        assert_eq!((back.user("alice").unwrap().quota_bytes, back.user("bob").unwrap().quota_bytes), (Some(1 << 20), None));
        assert!(f.set_quota("nobody", None, None).is_err());
        f.set_quota("alice", None, None).unwrap();
        assert_eq!(f.to_text(), old);
    }

    #[test]
    fn rids_are_never_reused() {
        let mut f = sample();
        f.remove_user("bob").unwrap();
        let rid = f.add_user("carol", &NtHash::from_password("c")).unwrap();
        assert_eq!(rid, 1003);
        f.remove_user("alice").unwrap();
        assert!(f.group("staff").unwrap().members.is_empty(), "memberships go with the user");
        assert_eq!(f.add_user("alice", &NtHash::from_password("x")).unwrap(), 1004);
    }

    #[test]
    fn mistakes_are_refused() {
        let mut f = sample();
        assert!(f.add_user("Alice", &NtHash::from_password("x")).unwrap_err().contains("already"));
        assert!(f.add_group("bob").unwrap_err().contains("already"));
        assert!(f.add_user("@x", &NtHash::from_password("x")).is_err());
        assert!(f.add_user("a:b", &NtHash::from_password("x")).is_err());
        assert!(f.add_user("", &NtHash::from_password("x")).is_err());
        assert!(f.remove_user("nobody").is_err());
        assert!(f.set_member("staff", "alice", true).unwrap_err().contains("already"));
        assert!(f.set_member("staff", "nobody", true).is_err());
        assert!(f.set_member("nogroup", "bob", true).is_err());
        assert!(f.set_member("staff", "bob", false).is_err());
    }

    #[test]
    fn a_corrupt_file_is_a_clear_error() {
        for (text, want) in [
            ("version = 1\nnext_rid = \"x\"\n", "next_rid"),
            ("this is not toml", "line 1"),
            ("version = 2\nnext_rid = 1000\n", "version 2"),
            ("version = 1\nnext_rid = 1001\n[[user]]\nname = \"a\"\nrid = 1000\nnt_hash = \"zz\"\n", "32 hex digits"),
            ("version = 1\nnext_rid = 1001\n[[user]]\nname = \"a\"\nrid = 1000\nnt_hash = \"8846f7eaee8fb117ad06bdd830b7586c\"\n[[user]]\nname = \"A\"\nrid = 999\nnt_hash = \"8846f7eaee8fb117ad06bdd830b7586c\"\n", "twice"),
            ("version = 1\nnext_rid = 1000\n[[user]]\nname = \"a\"\nrid = 1000\nnt_hash = \"8846f7eaee8fb117ad06bdd830b7586c\"\n", "outside"),
            ("version = 1\nnext_rid = 1001\n[[group]]\nname = \"g\"\nrid = 1000\nmembers = [\"ghost\"]\n", "ghost"),
            ("version = 1\nnext_rid = 1000\npassword = \"x\"\n", "password"),
            ("\u{0}\u{1}garbage\u{ff}", ""),
        ] {
            let err = UsersFile::parse(text).expect_err(text);
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn saved_atomically_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("opportune-users-file-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("users.toml");
        assert_eq!(UsersFile::load_or_new(&path).unwrap(), UsersFile::default());
        let f = sample();
        f.save(&path).unwrap();
        f.save(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(UsersFile::load(&path).unwrap(), f);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left behind");
        let rid = UsersFile::update(&path, |f| f.add_user("carol", &NtHash::from_password("c"))).unwrap();
        assert_eq!(UsersFile::load(&path).unwrap().user("carol").map(|u| u.rid), Some(rid));
        assert!(UsersFile::update(&path, |f| f.add_user("carol", &NtHash::from_password("c"))).is_err());
        assert_eq!(UsersFile::load(&path).unwrap().users.len(), 3, "a refused change writes nothing");
        std::fs::write(&path, "garbage").unwrap();
        assert!(UsersFile::load(&path).unwrap_err().contains("users.toml"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
