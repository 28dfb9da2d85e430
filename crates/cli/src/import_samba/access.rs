//! smb.conf's share access lists (`valid users`, `invalid users`, `read list`, `write
//! list`, `admin users`, `hosts allow`, `hosts deny`) as Opportune's keys of the same
//! meaning (opportune_server::share_access). Pure.
//!
//! * User lists: names and `@group`; Samba's `+group`, `&group`, `+&group` and
//!   `&+group` (UNIX group, NIS netgroup) all become `@group`, a group of the users file.
//!   Entries with `%` substitutions or a `DOMAIN\` part are dropped with a warning.
//! * Host lists: addresses, `ADDRESS/PREFIX`, `ADDRESS/NETMASK`, `ALL`, and Samba's
//!   network prefixes (`150.203.5.` = 150.203.5.0/24). Host names, netgroups and
//!   wildcards are dropped with a warning; a list with `EXCEPT` is not carried at all.

use super::smbconf::{list, Param};
use opportune_server::share_access::{HostRule, Principal};
use toml::Value;

/// (smb.conf name, Opportune key, is a host list).
pub const PARAMS: &[(&str, &str, bool)] = &[
    ("valid users", "valid_users", false),
    ("invalid users", "invalid_users", false),
    ("read list", "read_list", false),
    ("write list", "write_list", false),
    ("admin users", "admin_users", false),
    ("hosts allow", "hosts_allow", true),
    ("allow hosts", "hosts_allow", true),
    ("hosts deny", "hosts_deny", true),
    ("deny hosts", "hosts_deny", true),
];

/// Normalised names of the parameters above, for the list of keys the import reads.
pub const KEYS: &[&str] = &["validusers", "invalidusers", "readlist", "writelist", "adminusers", "hostsallow", "allowhosts", "hostsdeny", "denyhosts"];

/// One user-list entry as Opportune writes it, or why it cannot be.
fn user_entry(e: &str) -> Result<String, &'static str> {
    let e = e.trim_matches('"');
    if e.contains('%') {
        return Err("variable substitutions are not supported");
    }
    if e.contains('\\') {
        return Err("domain accounts are not supported");
    }
    let bare = e.trim_start_matches(['@', '+', '&']);
    let out = if bare.len() < e.len() { format!("@{bare}") } else { bare.to_string() };
    Principal::parse(&out).map(|_| out).map_err(|_| "not a user or group name")
}

/// One host-list entry as Opportune writes it, or why it cannot be.
fn host_entry(e: &str) -> Result<String, &'static str> {
    if HostRule::parse(e).is_ok() {
        return Ok(e.to_string());
    }
    // Samba's "150.203.5." network prefixes.
    if let Some(prefix) = e.strip_suffix('.') {
        let octets: Vec<&str> = prefix.split('.').collect();
        if (1..=3).contains(&octets.len()) && octets.iter().all(|o| o.parse::<u8>().is_ok()) {
            let mut full = octets.clone();
            full.resize(4, "0");
            return Ok(format!("{}/{}", full.join("."), octets.len() * 8));
        }
    }
    Err("host names, netgroups and wildcards are not supported")
}

/// The TOML array for `p` (a host list if `hosts`), with a warning for every entry
/// dropped; None when nothing can be carried.
pub fn convert(section: &str, p: &Param, hosts: bool, warnings: &mut Vec<String>) -> Option<Value> {
    let entries = list(&p.value);
    if hosts && entries.iter().any(|e| e.eq_ignore_ascii_case("EXCEPT")) {
        warnings.push(format!("[{section}] {} = {} (line {}): not carried over; EXCEPT is not supported, write the list out", p.written, p.value, p.line));
        return None;
    }
    let mut out = Vec::new();
    for e in &entries {
        match if hosts { host_entry(e) } else { user_entry(e) } {
            Ok(v) => out.push(Value::String(v)),
            Err(why) => {
                let effect = if p.key.contains("deny") || p.key.starts_with("invalid") { "; the list is shorter than Samba's, review it" } else { "" };
                warnings.push(format!("[{section}] {} entry {e:?} (line {}): not carried over; {why}{effect}", p.written, p.line));
            }
        }
    }
    (!out.is_empty()).then_some(Value::Array(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_convert_or_are_named() {
        assert_eq!(user_entry("+staff"), Ok("@staff".into()));
        assert_eq!(user_entry("&+staff"), Ok("@staff".into()));
        assert_eq!(user_entry("alice"), Ok("alice".into()));
        assert!(user_entry("%S").is_err() && user_entry("DOM\\bob").is_err());
        assert_eq!(host_entry("150.203.5."), Ok("150.203.5.0/24".into()));
        assert_eq!(host_entry("10."), Ok("10.0.0.0/8".into()));
        assert_eq!(host_entry("192.168.1.0/255.255.255.0"), Ok("192.168.1.0/255.255.255.0".into()));
        assert_eq!(host_entry("fd00::/8"), Ok("fd00::/8".into()));
        assert!(host_entry("badhost.example.org").is_err());
    }
}
