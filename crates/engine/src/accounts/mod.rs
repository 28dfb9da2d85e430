//! The server's account domain: its SID, its users and groups with their RIDs, and the
//! access tokens built from them. This is the one place that maps users and groups to
//! SIDs; lsarpc (`pipes.rs`, through `opportune_rpc::Provider`), session setup (the
//! session's token) and `opportune status` all read the same [`Directory`].
//!
//! * The domain SID is `S-1-5-21-x-y-z` (MS-DTYP 2.4.2.4, a machine's account domain):
//!   drawn at random once and kept in the state directory ([`sids`]); without one,
//!   derived from the upper-cased server name by FNV-1a ([`name_derived_domain_sid`]).
//! * Users and groups of the users file ([`users_file`]) carry the RID the file
//!   allocated them (from 1000, never reused).
//! * Users configured as `[[user]]` tables (or `--user`) have no stored RID: theirs is
//!   1000 plus the FNV-1a hash of the lower-cased name modulo 2^30, so it does not
//!   depend on the order of the configuration or on the other users; a RID already taken
//!   (by the users file, or two names hashing alike) moves to the next free one, in name
//!   order.
//! * Every user is also in the group "None" (RID 513), the primary group of a
//!   stand-alone Windows server's local users.

pub(crate) mod atomic;
pub mod sids;
pub mod users_file;

use crate::config::{GroupConfig, UserConfig};
use crate::identity::Identity;
use opportune_rpc::provider::{Account, AccountKind};
use opportune_types::sid::well_known;
use opportune_types::{Sid, Token};
use std::collections::HashSet;

/// The first RID of an ordinary account (MS-DTYP 2.4.2.4: below are well-known RIDs).
const FIRST_USER_RID: u32 = 1000;
/// DOMAIN_GROUP_RID_USERS, called "None" on a stand-alone server.
const NONE_GROUP_RID: u32 = 513;
/// DOMAIN_USER_RID_GUEST and DOMAIN_GROUP_RID_GUESTS (MS-DTYP 2.4.2.4).
const GUEST_USER_RID: u32 = 501;
const GUESTS_GROUP_RID: u32 = 514;

fn fnv1a(bytes: &[u8], salt: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// The account domain's SID for a server named `server_name` that keeps no state
/// directory.
pub fn name_derived_domain_sid(server_name: &str) -> Sid {
    let name = server_name.to_ascii_uppercase();
    let a = fnv1a(name.as_bytes(), 0x6f70_706f_7274_756e);
    let b = fnv1a(name.as_bytes(), a);
    Sid::new(5, &[21, a as u32, (a >> 32) as u32, b as u32])
}

/// One user or group of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub rid: u32,
}

/// A group and its members (user names as configured).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub rid: u32,
    pub members: Vec<String>,
    /// The UNIX gid its members get under `unix_identity` (`unix_id`).
    pub gid: Option<u32>,
}

/// The account domain as the server sees it now: replaced as a whole by a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    pub domain: Sid,
    pub users: Vec<Entry>,
    pub groups: Vec<GroupEntry>,
}

impl Directory {
    /// The directory of `users` and `groups` under `domain`, RIDs assigned as the module
    /// documentation says.
    pub fn new(domain: Sid, users: &[UserConfig], groups: &[GroupConfig]) -> Directory {
        let mut taken: HashSet<u32> = users.iter().filter_map(|u| u.rid).chain(groups.iter().filter_map(|g| g.rid)).collect();
        let mut out: Vec<Entry> = users.iter().filter_map(|u| u.rid.map(|rid| Entry { name: u.name.clone(), rid })).collect();
        let mut unnumbered: Vec<&str> = users.iter().filter(|u| u.rid.is_none()).map(|u| u.name.as_str()).collect();
        unnumbered.sort_by_key(|n| n.to_lowercase());
        unnumbered.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        for name in unnumbered {
            if out.iter().any(|e| e.name.eq_ignore_ascii_case(name)) {
                continue;
            }
            let mut rid = FIRST_USER_RID + (fnv1a(name.to_lowercase().as_bytes(), 0) % (1 << 30)) as u32;
            while !taken.insert(rid) {
                rid = if rid == u32::MAX { FIRST_USER_RID } else { rid + 1 };
            }
            out.push(Entry { name: name.to_string(), rid });
        }
        let mut groups_out = Vec::with_capacity(groups.len());
        for g in groups {
            let rid = g.rid.unwrap_or_else(|| {
                let mut rid = FIRST_USER_RID + (fnv1a(g.name.to_lowercase().as_bytes(), 1) % (1 << 30)) as u32;
                while !taken.insert(rid) {
                    rid = if rid == u32::MAX { FIRST_USER_RID } else { rid + 1 };
                }
                rid
            });
            groups_out.push(GroupEntry { name: g.name.clone(), rid, members: g.members.clone(), gid: g.gid });
        }
        Directory { domain, users: out, groups: groups_out }
    }

    /// A SID of this domain.
    pub fn sid(&self, rid: u32) -> Sid {
        self.domain.with_rid(rid).unwrap_or_else(|| self.domain.clone())
    }

    pub fn user(&self, name: &str) -> Option<&Entry> {
        self.users.iter().find(|u| u.name.eq_ignore_ascii_case(name))
    }

    /// The groups `user` is a member of.
    pub fn groups_of<'a>(&'a self, user: &'a str) -> impl Iterator<Item = &'a GroupEntry> + 'a {
        self.groups.iter().filter(move |g| g.members.iter().any(|m| m.eq_ignore_ascii_case(user)))
    }

    /// The names of the groups `user` is a member of.
    pub fn group_names_of(&self, user: &str) -> Vec<String> {
        self.groups_of(user).map(|g| g.name.clone()).collect()
    }

    /// The users and groups as lsarpc and samr see them: every user, every group, and
    /// the group "None".
    pub fn accounts(&self) -> Vec<Account> {
        let users = self.users.iter().map(|u| Account { name: u.name.clone(), rid: u.rid, kind: AccountKind::User });
        let groups = self.groups.iter().map(|g| Account { name: g.name.clone(), rid: g.rid, kind: AccountKind::Group });
        let none = Account { name: "None".into(), rid: NONE_GROUP_RID, kind: AccountKind::Group };
        users.chain(groups).chain(std::iter::once(none)).collect()
    }

    /// The name `sid` has for `opportune status`: a user or group of this domain, a
    /// well-known group, or None.
    pub fn name_of(&self, sid: &Sid) -> Option<String> {
        if let Some(rid) = sid.split_rid().filter(|(d, _)| d == &self.domain).map(|(_, r)| r) {
            let found = self.users.iter().map(|u| (&u.name, u.rid)).chain(self.groups.iter().map(|g| (&g.name, g.rid))).find(|(_, r)| *r == rid);
            return match (found, rid) {
                (Some((name, _)), _) => Some(name.clone()),
                (None, NONE_GROUP_RID) => Some("None".into()),
                (None, GUEST_USER_RID) => Some("Guest".into()),
                (None, GUESTS_GROUP_RID) => Some("Guests".into()),
                _ => None,
            };
        }
        let known = [
            (well_known::everyone(), "Everyone"),
            (well_known::network(), "NETWORK"),
            (well_known::authenticated_users(), "Authenticated Users"),
            (well_known::anonymous(), "ANONYMOUS LOGON"),
            (well_known::administrators(), "BUILTIN\\Administrators"),
            (well_known::builtin_users(), "BUILTIN\\Users"),
            (well_known::builtin_guests(), "BUILTIN\\Guests"),
        ];
        known.into_iter().find(|(s, _)| s == sid).map(|(_, n)| n.to_string())
    }

    /// The access token (MS-DTYP 2.5.2) of a session of `identity` for `user`:
    /// * a user: its account SID, the group "None", the SIDs of its groups, Everyone,
    ///   NETWORK, Authenticated Users and BUILTIN\Users; no privileges (a share's admin
    ///   users get them per tree, see `share_access`);
    /// * a guest: the domain's Guest account, Guests, Everyone, NETWORK, BUILTIN\Guests;
    /// * anonymous: ANONYMOUS LOGON, Everyone, NETWORK.
    pub(crate) fn token(&self, identity: Identity, user: &str) -> Token {
        let (user_sid, groups) = match identity {
            Identity::User => {
                let rid = self.user(user).map_or(GUEST_USER_RID, |u| u.rid);
                let mut groups = vec![self.sid(NONE_GROUP_RID)];
                groups.extend(self.groups_of(user).map(|g| self.sid(g.rid)));
                groups.extend([well_known::everyone(), well_known::network(), well_known::authenticated_users(), well_known::builtin_users()]);
                (self.sid(rid), groups)
            }
            Identity::Guest => (
                self.sid(GUEST_USER_RID),
                vec![self.sid(GUESTS_GROUP_RID), well_known::everyone(), well_known::network(), well_known::builtin_guests()],
            ),
            Identity::Anonymous => return anonymous_token(),
        };
        let primary_group = groups.first().cloned().unwrap_or_else(well_known::everyone);
        Token { owner: user_sid.clone(), user: user_sid, groups, primary_group, privileges: 0 }
    }
}

/// The token of an anonymous logon (and of a session not yet established).
pub fn anonymous_token() -> Token {
    let user = well_known::anonymous();
    Token { owner: user.clone(), user, groups: vec![well_known::everyone(), well_known::network()], primary_group: well_known::everyone(), privileges: 0 }
}

/// A user's token on a server named `server_name` with the users `names` (for other
/// modules' tests).
#[cfg(test)]
pub fn token<'a>(server_name: &str, names: impl IntoIterator<Item = &'a str>, identity: Identity, user: &str) -> Token {
    let users: Vec<UserConfig> =
        names.into_iter().map(|n| UserConfig { name: n.to_string(), nt_hash: opportune_auth::NtHash([0; 16]), rid: None, unix: None }).collect();
    Directory::new(name_derived_domain_sid(server_name), &users, &[]).token(identity, user)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, rid: Option<u32>) -> UserConfig {
        UserConfig { name: name.into(), nt_hash: opportune_auth::NtHash([0; 16]), rid, unix: None }
    }

    fn dir(users: &[UserConfig], groups: &[GroupConfig]) -> Directory {
        Directory::new(name_derived_domain_sid("FILES"), users, groups)
    }

    #[test]
    fn tokens_of_users_guests_and_anonymous() {
        let staff = GroupConfig { name: "staff".into(), rid: Some(1002), members: vec!["alice".into()], gid: None };
        let d = dir(&[user("alice", Some(1000)), user("bob", None)], &[staff]);
        let t = d.token(Identity::User, "Alice");
        assert_eq!(t.user, d.sid(1000));
        assert!(t.contains(&d.sid(1002)), "the group's SID is in its member's token");
        assert!(t.contains(&well_known::everyone()) && t.contains(&well_known::authenticated_users()));
        assert_eq!(t.owner, t.user);
        assert!(!d.token(Identity::User, "bob").contains(&d.sid(1002)));
        let g = d.token(Identity::Guest, "mallory");
        assert_eq!(g.user.split_rid().unwrap().1, GUEST_USER_RID);
        assert!(!g.contains(&well_known::authenticated_users()));
        let a = d.token(Identity::Anonymous, "");
        assert_eq!(a.user, well_known::anonymous());
        assert!(a.contains(&well_known::everyone()) && !a.contains(&well_known::authenticated_users()));
        assert_eq!(d.name_of(&d.sid(1002)).as_deref(), Some("staff"));
        assert_eq!(d.name_of(&well_known::network()).as_deref(), Some("NETWORK"));
    }

    #[test]
    fn the_name_derived_domain_sid_is_stable_and_per_name() {
        let a = name_derived_domain_sid("FILES");
        assert_eq!(a, name_derived_domain_sid("files"));
        assert_ne!(a, name_derived_domain_sid("OTHER"));
        assert_eq!(a.authority, 5);
        assert_eq!(a.sub.len(), 4);
        assert_eq!(a.sub[0], 21);
    }

    #[test]
    fn rids_do_not_depend_on_order_or_other_users() {
        let one = dir(&[user("alice", None), user("bob", None)], &[]).accounts();
        let two = dir(&[user("carol", None), user("Bob", None), user("alice", None)], &[]).accounts();
        let rid = |list: &[Account], n: &str| list.iter().find(|a| a.name.eq_ignore_ascii_case(n)).map(|a| a.rid);
        assert_eq!(rid(&one, "alice"), rid(&two, "alice"));
        assert_eq!(rid(&one, "bob"), rid(&two, "bob"));
        assert!(one.iter().filter(|a| a.kind == AccountKind::User).all(|a| a.rid >= FIRST_USER_RID));
        assert_eq!(rid(&two, "None"), Some(513));
        let mut rids: Vec<u32> = two.iter().map(|a| a.rid).collect();
        rids.sort();
        rids.dedup();
        assert_eq!(rids.len(), two.len());
    }

    #[test]
    fn stored_rids_win_and_are_not_taken_twice() {
        let hashed = dir(&[user("carol", None)], &[]).user("carol").unwrap().rid;
        let d = dir(&[user("alice", Some(hashed)), user("carol", None)], &[GroupConfig { name: "g".into(), rid: Some(1001), members: vec![], gid: None }]);
        assert_eq!(d.user("alice").unwrap().rid, hashed);
        assert_eq!(d.user("carol").unwrap().rid, hashed + 1, "a stored RID is never handed to another name");
        let accounts = d.accounts();
        assert!(accounts.iter().any(|a| a.name == "g" && a.kind == AccountKind::Group && a.rid == 1001));
    }
}
