//! The server's account domain as RPC clients see it (lsarpc): its SID and the RIDs of
//! the configured users and groups. This is the one place that maps users to SIDs; the
//! users-and-groups work replaces its source (configured SIDs) without touching the RPC
//! services, which only see `opportune_rpc::Provider`.
//!
//! * The domain SID is `S-1-5-21-a-b-c` (MS-DTYP 2.4.2.4, a machine's account domain),
//!   a, b and c derived from the upper-cased server name by FNV-1a: stable across
//!   restarts and machines for the same server name, different for different names.
//!   (The server keeps no state directory to store a random one in.)
//! * Users get RIDs from 1000 up, as local accounts do on Windows: 1000 plus the FNV-1a
//!   hash of the lower-cased name modulo 2^30, so a user's RID does not depend on the
//!   order of the configuration or on the other users. Two names hashing alike (odds
//!   about n^2 / 2^31) are told apart by taking the next free RID, in name order.
//! * The one group is "None" (RID 513), the primary group of a stand-alone Windows
//!   server's local users.

use opportune_rpc::provider::{Account, AccountKind};
use opportune_rpc::sid::Sid;
use opportune_types::sid::well_known;
use opportune_types::Token;

use crate::session::Identity;

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

/// The account domain's SID for a server named `server_name`.
pub fn domain_sid(server_name: &str) -> Sid {
    let name = server_name.to_ascii_uppercase();
    let a = fnv1a(name.as_bytes(), 0x6f70_706f_7274_756e);
    let b = fnv1a(name.as_bytes(), a);
    Sid::new(5, &[21, a as u32, (a >> 32) as u32, b as u32])
}

/// The users `names` and the group "None", with their RIDs.
pub fn accounts<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<Account> {
    let mut names: Vec<String> = names.into_iter().map(|n| n.to_string()).collect();
    names.sort_by_key(|n| n.to_lowercase());
    names.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    let mut taken = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(names.len() + 1);
    for name in names {
        let mut rid = FIRST_USER_RID + (fnv1a(name.to_lowercase().as_bytes(), 0) % (1 << 30)) as u32;
        while !taken.insert(rid) {
            rid = if rid == u32::MAX { FIRST_USER_RID } else { rid + 1 };
        }
        out.push(Account { name, rid, kind: AccountKind::User });
    }
    out.push(Account { name: "None".into(), rid: NONE_GROUP_RID, kind: AccountKind::Group });
    out
}

/// The access token of a session (MS-DTYP 2.5.2) on the server `server_name` whose
/// configured users are `names`:
/// * a user: its account SID, the group "None", Everyone, NETWORK, Authenticated Users
///   and BUILTIN\Users; no privileges (a share's admin users get them per tree);
/// * a guest: the domain's Guest account, Guests, Everyone, NETWORK, BUILTIN\Guests;
/// * anonymous: ANONYMOUS LOGON, Everyone, NETWORK.
pub fn token<'a>(server_name: &str, names: impl IntoIterator<Item = &'a str>, identity: Identity, user: &str) -> Token {
    let domain = domain_sid(server_name);
    let in_domain = |rid: u32| domain.with_rid(rid).expect("a domain SID has room for a RID");
    let (user_sid, groups) = match identity {
        Identity::User => {
            let rid = accounts(names)
                .into_iter()
                .find(|a| a.kind == AccountKind::User && a.name.eq_ignore_ascii_case(user))
                .map_or(GUEST_USER_RID, |a| a.rid);
            let groups = vec![
                in_domain(NONE_GROUP_RID),
                well_known::everyone(),
                well_known::network(),
                well_known::authenticated_users(),
                well_known::builtin_users(),
            ];
            (in_domain(rid), groups)
        }
        Identity::Guest => (
            in_domain(GUEST_USER_RID),
            vec![in_domain(GUESTS_GROUP_RID), well_known::everyone(), well_known::network(), well_known::builtin_guests()],
        ),
        Identity::Anonymous => (well_known::anonymous(), vec![well_known::everyone(), well_known::network()]),
    };
    let primary_group = groups.first().cloned().unwrap_or_else(well_known::everyone);
    Token { owner: user_sid.clone(), user: user_sid, groups, primary_group, privileges: 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_of_users_guests_and_anonymous() {
        let t = token("FILES", ["alice", "bob"], Identity::User, "Alice");
        let rid = accounts(["alice", "bob"]).into_iter().find(|a| a.name == "alice").unwrap().rid;
        assert_eq!(t.user, domain_sid("FILES").with_rid(rid).unwrap());
        assert!(t.contains(&well_known::everyone()) && t.contains(&well_known::authenticated_users()));
        assert_eq!(t.owner, t.user);
        let g = token("FILES", ["alice"], Identity::Guest, "mallory");
        assert_eq!(g.user.split_rid().unwrap().1, GUEST_USER_RID);
        assert!(!g.contains(&well_known::authenticated_users()));
        let a = token("FILES", ["alice"], Identity::Anonymous, "");
        assert_eq!(a.user, well_known::anonymous());
        assert!(a.contains(&well_known::everyone()) && !a.contains(&well_known::authenticated_users()));
    }

    #[test]
    fn the_domain_sid_is_stable_and_per_name() {
        let a = domain_sid("FILES");
        assert_eq!(a, domain_sid("files"));
        assert_ne!(a, domain_sid("OTHER"));
        assert_eq!(a.authority, 5);
        assert_eq!(a.sub.len(), 4);
        assert_eq!(a.sub[0], 21);
    }

    #[test]
    fn rids_do_not_depend_on_order_or_other_users() {
        let one = accounts(["alice", "bob"]);
        let two = accounts(["carol", "Bob", "alice"]);
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
}
