//! Per-share access rules, with the meanings of Samba's share parameters of the same
//! names (smb.conf(5)): who may connect to a share, from where, and with which rights.
//! Pure: the tree connect handler (`handlers/tree.rs`) asks [`AccessRules::decide`] and
//! applies the answer.
//!
//! In the order they are applied:
//! 1. `hosts_allow` / `hosts_deny` (addresses and CIDR networks, IPv4 and IPv6, or
//!    `ALL`): with only an allow list, only the hosts on it; with only a deny list,
//!    everyone but the hosts on it; with both, a host on the allow list is let in even if
//!    the deny list names it too ("where the lists conflict, the allow list takes
//!    precedence"), and a host on neither is let in. As in Samba, 127.0.0.1 and ::1 are
//!    always let in unless the deny list names them.
//! 2. `invalid_users`: never let in, whatever else says so.
//! 3. `valid_users`: when not empty, only the users on it.
//! 4. `read_list` makes the tree read-only for its users, `write_list` writable even on
//!    a read-only share; a user on both may write (as in Samba).
//! 5. `admin_users`: their tree's token also holds BUILTIN\Administrators and every
//!    privilege (Samba runs them as root on that share).
//!
//! Lists of users take names and `@group` (also `+group`, Samba's spelling for a
//! UNIX group) for the groups of the users file. Guest and anonymous sessions match no
//! name, so a share with `valid_users` refuses them.

use std::fmt;
use std::net::IpAddr;

/// A user or a group named in a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    User(String),
    Group(String),
}

impl Principal {
    /// `name`, or `@group` / `+group`.
    pub fn parse(s: &str) -> Result<Principal, String> {
        let s = s.trim();
        let group = s.strip_prefix('@').or_else(|| s.strip_prefix('+'));
        let name = group.unwrap_or(s);
        if name.is_empty() || name.contains(['@', '+', ',']) || name.chars().any(char::is_control) {
            return Err(format!("{s:?}: expected a user name or @group"));
        }
        Ok(match group {
            Some(g) => Principal::Group(g.to_string()),
            None => Principal::User(name.to_string()),
        })
    }

    fn matches(&self, who: &Who<'_>) -> bool {
        match (self, who.user) {
            (Principal::User(n), Some(u)) => n.eq_ignore_ascii_case(u),
            (Principal::Group(g), Some(_)) => who.groups.iter().any(|m| m.eq_ignore_ascii_case(g)),
            (_, None) => false,
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::User(n) => f.write_str(n),
            Principal::Group(g) => write!(f, "@{g}"),
        }
    }
}

/// A host or network of `hosts_allow` / `hosts_deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostRule {
    All,
    /// An address and how many leading bits must match (32 or 128: one host).
    Net { addr: IpAddr, prefix: u8 },
}

impl HostRule {
    /// `ALL`, an address, `address/prefix` or (IPv4) `address/netmask`.
    pub fn parse(s: &str) -> Result<HostRule, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("ALL") {
            return Ok(HostRule::All);
        }
        let bad = || format!("{s:?}: expected an IP address, ADDRESS/PREFIX or ALL");
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.trim_start_matches('[').trim_end_matches(']').parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match (p.parse::<u8>(), p.parse::<std::net::Ipv4Addr>(), addr) {
                (Ok(n), _, _) if n <= max => n,
                (Err(_), Ok(mask), IpAddr::V4(_)) => mask_len(u32::from(mask)).ok_or_else(bad)?,
                _ => return Err(bad()),
            },
        };
        Ok(HostRule::Net { addr, prefix })
    }

    pub fn matches(&self, peer: IpAddr) -> bool {
        let HostRule::Net { addr, prefix } = *self else { return true };
        match (addr, canonical(peer)) {
            (IpAddr::V4(a), IpAddr::V4(p)) => prefix_eq(u128::from(u32::from(a)) << 96, u128::from(u32::from(p)) << 96, prefix),
            (IpAddr::V6(a), IpAddr::V6(p)) => prefix_eq(u128::from(a), u128::from(p), prefix),
            _ => false,
        }
    }
}

impl fmt::Display for HostRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostRule::All => f.write_str("ALL"),
            HostRule::Net { addr, prefix } if *prefix == if addr.is_ipv4() { 32 } else { 128 } => write!(f, "{addr}"),
            HostRule::Net { addr, prefix } => write!(f, "{addr}/{prefix}"),
        }
    }
}

/// The prefix length of a contiguous IPv4 netmask.
fn mask_len(mask: u32) -> Option<u8> {
    let len = mask.leading_ones();
    (mask.checked_shl(len).unwrap_or(0) == 0).then_some(len as u8)
}

fn prefix_eq(a: u128, b: u128, prefix: u8) -> bool {
    let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix.min(128))) };
    a & mask == b & mask
}

/// An IPv4-mapped IPv6 peer (a dual-stack listener's) as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A share's access rules (see the module documentation). The default lets everyone in
/// with the share's own rights.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessRules {
    pub valid_users: Vec<Principal>,
    pub invalid_users: Vec<Principal>,
    pub read_list: Vec<Principal>,
    pub write_list: Vec<Principal>,
    pub admin_users: Vec<Principal>,
    pub hosts_allow: Vec<HostRule>,
    pub hosts_deny: Vec<HostRule>,
}

/// Who asks: the proven user name (None for guest and anonymous sessions) and the names
/// of its groups.
pub struct Who<'a> {
    pub user: Option<&'a str>,
    pub groups: &'a [String],
}

/// The rule that refused a tree connect, for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    HostsDeny(HostRule),
    NotInHostsAllow,
    InvalidUsers(Principal),
    NotInValidUsers,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::HostsDeny(r) => write!(f, "hosts_deny {r}"),
            Refusal::NotInHostsAllow => f.write_str("not in hosts_allow"),
            Refusal::InvalidUsers(p) => write!(f, "invalid_users {p}"),
            Refusal::NotInValidUsers => f.write_str("not in valid_users"),
        }
    }
}

/// What a tree connect gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    pub read_only: bool,
    pub admin: bool,
}

impl AccessRules {
    /// Parses each list (the error names the parameter and the entry).
    pub fn parse(lists: [(&str, &[String]); 7]) -> Result<AccessRules, String> {
        let mut a = AccessRules::default();
        for (key, entries) in lists {
            let users = |v: &mut Vec<Principal>| -> Result<(), String> {
                for e in entries {
                    v.push(Principal::parse(e).map_err(|m| format!("{key}: {m}"))?);
                }
                Ok(())
            };
            let hosts = |v: &mut Vec<HostRule>| -> Result<(), String> {
                for e in entries {
                    v.push(HostRule::parse(e).map_err(|m| format!("{key}: {m}"))?);
                }
                Ok(())
            };
            match key {
                "valid_users" => users(&mut a.valid_users)?,
                "invalid_users" => users(&mut a.invalid_users)?,
                "read_list" => users(&mut a.read_list)?,
                "write_list" => users(&mut a.write_list)?,
                "admin_users" => users(&mut a.admin_users)?,
                "hosts_allow" => hosts(&mut a.hosts_allow)?,
                "hosts_deny" => hosts(&mut a.hosts_deny)?,
                other => return Err(format!("{other}: not a share access list")),
            }
        }
        Ok(a)
    }

    /// Whether `peer` may connect, by `hosts_allow` and `hosts_deny` alone.
    pub fn host_refusal(&self, peer: IpAddr) -> Option<Refusal> {
        let peer = canonical(peer);
        let denied = self.hosts_deny.iter().find(|r| r.matches(peer));
        if self.hosts_allow.iter().any(|r| r.matches(peer)) {
            return None;
        }
        if let Some(r) = denied {
            return Some(Refusal::HostsDeny(*r));
        }
        // Both lists given and the host on neither: let in. 127.0.0.1 and ::1: let in.
        let localhost = peer == IpAddr::from([127, 0, 0, 1]) || peer == IpAddr::from(std::net::Ipv6Addr::LOCALHOST);
        if self.hosts_allow.is_empty() || !self.hosts_deny.is_empty() || localhost {
            return None;
        }
        Some(Refusal::NotInHostsAllow)
    }

    /// Whether `who` may connect from `peer` to a share that is `read_only` itself, and
    /// with which rights.
    pub fn decide(&self, who: &Who<'_>, peer: IpAddr, read_only: bool) -> Result<Grant, Refusal> {
        if let Some(r) = self.host_refusal(peer) {
            return Err(r);
        }
        if let Some(p) = self.invalid_users.iter().find(|p| p.matches(who)) {
            return Err(Refusal::InvalidUsers(p.clone()));
        }
        if !self.valid_users.is_empty() && !self.valid_users.iter().any(|p| p.matches(who)) {
            return Err(Refusal::NotInValidUsers);
        }
        let on = |list: &[Principal]| list.iter().any(|p| p.matches(who));
        let read_only = if on(&self.write_list) { false } else { read_only || on(&self.read_list) };
        Ok(Grant { read_only, admin: on(&self.admin_users) })
    }
}

/// The token of an admin user's tree: the session's, with BUILTIN\Administrators among
/// its groups and every privilege.
pub fn admin_token(t: &opportune_types::Token) -> opportune_types::Token {
    let mut t = t.clone();
    let admins = opportune_types::sid::well_known::administrators();
    if !t.groups.contains(&admins) {
        t.groups.push(admins);
    }
    t.privileges = opportune_types::token::privilege::ALL;
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn list(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn access(pairs: &[(&'static str, &[&str])]) -> AccessRules {
        let keys = ["valid_users", "invalid_users", "read_list", "write_list", "admin_users", "hosts_allow", "hosts_deny"];
        let owned: Vec<Vec<String>> = keys.iter().map(|k| pairs.iter().find(|(p, _)| p == k).map_or(Vec::new(), |(_, v)| list(v))).collect();
        AccessRules::parse(std::array::from_fn(|i| (keys[i], owned[i].as_slice()))).unwrap()
    }

    #[test]
    fn cidr_parsing_and_matching() {
        let r = HostRule::parse("10.1.0.0/16").unwrap();
        assert!(r.matches(ip("10.1.200.3")) && !r.matches(ip("10.2.0.1")));
        assert!(r.matches(ip("::ffff:10.1.0.9")), "IPv4-mapped peers match IPv4 rules");
        assert_eq!(HostRule::parse("10.1.0.0/255.255.0.0").unwrap(), r);
        assert_eq!(HostRule::parse("127.0.0.2").unwrap().to_string(), "127.0.0.2");
        let v6 = HostRule::parse("fd00:1::/32").unwrap();
        assert!(v6.matches(ip("fd00:1:2::3")) && !v6.matches(ip("fd00:2::1")) && !v6.matches(ip("10.0.0.1")));
        assert!(HostRule::parse("[::1]").unwrap().matches(ip("::1")));
        assert!(HostRule::parse("0.0.0.0/0").unwrap().matches(ip("192.0.2.1")));
        assert!(HostRule::parse("all").unwrap().matches(ip("::2")));
        for bad in ["10.0.0.0/33", "fd00::/129", "host.example", "10.0.0.0/255.0.255.0", "", "10.0.0.1/", "::1/255.0.0.0", "1.2.3.4/-1"] {
            assert!(HostRule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts_allow_wins_over_hosts_deny() {
        let both = access(&[("hosts_allow", &["10.0.0.5"]), ("hosts_deny", &["10.0.0.0/8"])]);
        assert_eq!(both.host_refusal(ip("10.0.0.5")), None, "on both lists: allowed");
        assert!(matches!(both.host_refusal(ip("10.0.0.6")), Some(Refusal::HostsDeny(_))));
        assert_eq!(both.host_refusal(ip("192.0.2.1")), None, "on neither list (both given): allowed");
        let allow = access(&[("hosts_allow", &["10.0.0.0/8"])]);
        assert_eq!(allow.host_refusal(ip("192.0.2.1")), Some(Refusal::NotInHostsAllow));
        assert_eq!(allow.host_refusal(ip("127.0.0.1")), None, "localhost unless denied");
        assert_eq!(allow.host_refusal(ip("127.0.0.3")), Some(Refusal::NotInHostsAllow));
        let deny = access(&[("hosts_deny", &["127.0.0.1", "ALL"])]);
        assert!(deny.host_refusal(ip("127.0.0.1")).is_some());
        assert_eq!(AccessRules::default().host_refusal(ip("192.0.2.1")), None);
    }

    #[test]
    fn user_lists_and_precedence() {
        let staff = list(&["staff"]);
        let alice = Who { user: Some("Alice"), groups: &staff };
        let bob = Who { user: Some("bob"), groups: &[] };
        let guest = Who { user: None, groups: &[] };
        let local = ip("127.0.0.1");
        let a = access(&[("valid_users", &["@staff", "bob"]), ("invalid_users", &["bob"])]);
        assert_eq!(a.decide(&alice, local, false), Ok(Grant { read_only: false, admin: false }));
        assert_eq!(a.decide(&bob, local, false), Err(Refusal::InvalidUsers(Principal::User("bob".into()))), "invalid_users wins");
        assert_eq!(a.decide(&guest, local, false), Err(Refusal::NotInValidUsers));
        let rw = access(&[("read_list", &["@staff", "bob"]), ("write_list", &["alice"]), ("admin_users", &["+staff"])]);
        assert_eq!(rw.decide(&alice, local, false), Ok(Grant { read_only: false, admin: true }), "write_list wins over read_list");
        assert_eq!(rw.decide(&bob, local, false), Ok(Grant { read_only: true, admin: false }));
        assert_eq!(rw.decide(&alice, local, true).map(|g| g.read_only), Ok(false), "write_list opens a read-only share");
        assert_eq!(rw.decide(&guest, local, true).map(|g| g.read_only), Ok(true));
        assert_eq!(Refusal::InvalidUsers(Principal::Group("x".into())).to_string(), "invalid_users @x");
    }

    #[test]
    fn bad_entries_name_the_parameter() {
        let e = AccessRules::parse([("hosts_deny", &list(&["10.0.0.0/40"])), ("valid_users", &[]), ("invalid_users", &[]), ("read_list", &[]), ("write_list", &[]), ("admin_users", &[]), ("hosts_allow", &[])]).unwrap_err();
        assert!(e.starts_with("hosts_deny:") && e.contains("10.0.0.0/40"), "{e}");
        assert!(Principal::parse("@").is_err() && Principal::parse("").is_err() && Principal::parse("a,b").is_err());
    }
}
