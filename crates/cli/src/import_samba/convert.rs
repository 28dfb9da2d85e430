//! From smb.conf sections to Opportune's TOML settings (docs/CONFIG.md), and a warning
//! for every parameter that cannot be carried over, naming it. Pure.
//!
//! Share parameters in `[global]` are defaults for every share, as in Samba.

use super::smbconf::{boolean, list, Param, Section};
use toml::{Table, Value};

/// What an import produced.
#[derive(Debug, Default)]
pub struct Converted {
    pub server: Table,
    pub shares: Vec<Table>,
    pub warnings: Vec<String>,
}

/// Parameters that are read as part of another one, or that need no equivalent because
/// Opportune behaves so anyway.
const SILENT: &[&str] = &["security", "comment"];

/// Converts the sections.
pub fn convert(sections: &[Section]) -> Converted {
    let mut out = Converted::default();
    let empty = Section { name: "global".into(), line: 0, params: Vec::new() };
    let global = sections.iter().find(|s| s.name.eq_ignore_ascii_case("global")).unwrap_or(&empty);
    let mut used = Vec::new();
    convert_global(global, &mut out, &mut used);
    for p in &global.params {
        if used.contains(&p.key) || is_share_key(&p.key) || SILENT.contains(&p.key.as_str()) {
            continue;
        }
        match special(p) {
            Special::Same => {}
            Special::Why(why) => out.warnings.push(not_carried(&global.name, p, Some(why))),
            Special::None => out.warnings.push(not_carried(&global.name, p, None)),
        }
    }
    for s in sections.iter().filter(|s| !s.name.eq_ignore_ascii_case("global")) {
        convert_share(s, global, &mut out);
    }
    out
}

/// What a parameter Opportune has no key for means for the import.
enum Special {
    /// Samba's setting is what Opportune does anyway.
    Same,
    Why(&'static str),
    None,
}

fn special(p: &Param) -> Special {
    let on = boolean(&p.value);
    match p.key.as_str() {
        "kerneloplocks" if on == Some(false) => Special::Same,
        "kerneloplocks" => Special::Why("not carried over: Opportune's kernel_oplocks is on by default (server-wide and per share) and keeps Level II, leases and durable handles, unlike Samba's; see docs/COHERENCE.md"),
        "vfsobjects" if p.value.to_ascii_lowercase().contains("default_quota") => Special::Why(QUOTAS),
        k if k.starts_with("defaultquota:") => Special::Why(QUOTAS),
        _ => Special::None,
    }
}

/// Samba reports the file system's quotas; Opportune keeps its own.
const QUOTAS: &str = "Opportune does not read the file system's quotas; it keeps its own: quota_bytes, user_quota_bytes (per share) and `opportune user quota` (docs/CONFIG.md)";

fn not_carried(section: &str, p: &Param, why: Option<&str>) -> String {
    let mut w = format!("[{section}] {} = {} (line {}): not carried over", p.written, p.value, p.line);
    if let Some(why) = why {
        w.push_str("; ");
        w.push_str(why);
    }
    w
}

fn convert_global(g: &Section, out: &mut Converted, used: &mut Vec<String>) {
    let mut take = |key: &str| -> Option<&Param> {
        let p = g.get(key)?;
        used.push(p.key.clone());
        Some(p)
    };
    if let Some(p) = take("netbios name") {
        out.server.insert("server_name".into(), Value::String(p.value.clone()));
    }
    if let Some(p) = take("workgroup") {
        out.server.insert("workgroup".into(), Value::String(p.value.clone()));
    }
    if let Some(p) = take("server string") {
        if p.value.contains('%') {
            out.warnings.push(not_carried(&g.name, p, Some("variable substitutions are not supported; set server_comment by hand")));
        } else {
            out.server.insert("server_comment".into(), Value::String(p.value.clone()));
        }
    }
    let port = match take("smb ports") {
        Some(p) => match list(&p.value).first().and_then(|v| v.parse::<u16>().ok()) {
            Some(port) => port,
            None => {
                out.warnings.push(not_carried(&g.name, p, Some("no port number; 445 is used")));
                445
            }
        },
        None => 445,
    };
    let mut host = "0.0.0.0".to_string();
    let bind_only = take("bind interfaces only").and_then(|p| boolean(&p.value)).unwrap_or(false);
    if let Some(p) = take("interfaces") {
        let addrs: Vec<String> = list(&p.value).into_iter().filter_map(|i| i.split('/').next().map(str::to_string)).collect();
        match (bind_only, addrs.iter().filter(|a| a.parse::<std::net::IpAddr>().is_ok()).collect::<Vec<_>>().as_slice()) {
            (true, [one]) => host = (*one).clone(),
            (true, _) => out.warnings.push(not_carried(
                &g.name,
                p,
                Some("Opportune listens on one address: give it one IP address, or set `listen` by hand; all addresses are used"),
            )),
            (false, _) => {}
        }
    }
    let listen = match host.parse::<std::net::Ipv6Addr>() {
        Ok(_) => format!("[{host}]:{port}"),
        Err(_) => format!("{host}:{port}"),
    };
    out.server.insert("listen".into(), Value::String(listen));
    if let Some(p) = take("server signing") {
        match p.value.to_ascii_lowercase().as_str() {
            "mandatory" | "required" | "forced" => {
                out.server.insert("signing_required".into(), Value::Boolean(true));
            }
            "auto" | "default" | "enabled" | "if_required" | "yes" | "true" => {}
            _ => out.warnings.push(not_carried(&g.name, p, Some("signing is always offered; only `mandatory` carries over"))),
        }
    }
    for key in ["server smb encrypt", "smb encrypt"] {
        if let Some(p) = take(key) {
            match encryption(&p.value) {
                Some(Some(e)) => {
                    out.server.insert("encryption".into(), Value::String(e.into()));
                }
                Some(None) => {}
                None => out.warnings.push(not_carried(&g.name, p, Some("unknown value"))),
            }
        }
    }
    for key in ["server min protocol", "min protocol"] {
        if let Some(p) = take(key) {
            let v = p.value.to_ascii_uppercase();
            if !matches!(v.as_str(), "SMB2" | "SMB2_02" | "DEFAULT") {
                let why = if v.starts_with("SMB2") || v.starts_with("SMB3") {
                    "Opportune has no minimum dialect setting and serves SMB 2.0.2 to 3.1.1"
                } else {
                    "SMB1 is not served: Opportune serves SMB 2.0.2 to 3.1.1"
                };
                out.warnings.push(not_carried(&g.name, p, Some(why)));
            }
        }
    }
    for key in ["server max protocol", "max protocol", "protocol"] {
        if let Some(p) = take(key) {
            let v = p.value.to_ascii_uppercase();
            if !matches!(v.as_str(), "SMB3" | "SMB3_11" | "DEFAULT") {
                out.warnings.push(not_carried(&g.name, p, Some("Opportune has no maximum dialect setting and serves up to SMB 3.1.1")));
            }
        }
    }
    if let Some(p) = take("map to guest") {
        match p.value.to_ascii_lowercase().replace(' ', "").as_str() {
            "never" => {}
            "baduser" | "badpassword" => {
                out.server.insert("guest".into(), Value::Boolean(true));
                out.warnings.push(format!(
                    "[{}] {} = {} (line {}): carried over as `guest = true`, under which unknown users, anonymous logons and wrong passwords become guests (Samba's `bad password`)",
                    g.name, p.written, p.value, p.line
                ));
            }
            _ => out.warnings.push(not_carried(&g.name, p, None)),
        }
    }
}

/// smb.conf's encryption values as Opportune's (`Some(None)`: the default, off, where a
/// client may still encrypt), or `None` for an unknown value.
fn encryption(v: &str) -> Option<Option<&'static str>> {
    match v.to_ascii_lowercase().as_str() {
        "off" | "disabled" | "no" | "false" | "default" | "auto" | "if_required" | "enabled" | "yes" | "true" => Some(None),
        "desired" => Some(Some("desired")),
        "required" | "mandatory" | "forced" => Some(Some("required")),
        _ => None,
    }
}

/// Share parameters Opportune reads (normalised names).
const SHARE_KEYS: &[&str] = &[
    "path",
    "directory",
    "readonly",
    "writeable",
    "writable",
    "writeok",
    "guestok",
    "public",
    "oplocks",
    "level2oplocks",
    "vetooplockfiles",
    "strictlocking",
    "locking",
    "casesensitive",
    "casesignames",
    "smbencrypt",
    "serversmbencrypt",
    "available",
    "oplockcontentionlimit",
    "strictallocate",
    "browseable",
    "browsable",
    "printable",
    "printok",
    "comment",
];

fn is_share_key(key: &str) -> bool {
    SHARE_KEYS.contains(&key) || super::access::KEYS.contains(&key)
}

fn convert_share(s: &Section, global: &Section, out: &mut Converted) {
    let get = |key: &str| s.get(key).or_else(|| global.get(key));
    let name = &s.name;
    if name.eq_ignore_ascii_case("homes") || name.eq_ignore_ascii_case("printers") || name.eq_ignore_ascii_case("print$") {
        out.warnings.push(format!("[{name}] (line {}): not carried over; Opportune serves neither home directories nor printers", s.line));
        return;
    }
    if get("printable").or_else(|| get("print ok")).and_then(|p| boolean(&p.value)) == Some(true) {
        out.warnings.push(format!("[{name}] (line {}): a printer share, not carried over", s.line));
        return;
    }
    if get("available").and_then(|p| boolean(&p.value)) == Some(false) {
        out.warnings.push(format!("[{name}] (line {}): `available = no`, not carried over", s.line));
        return;
    }
    let Some(path) = s.get("path").or_else(|| s.get("directory")) else {
        out.warnings.push(format!("[{name}] (line {}): no path, not carried over", s.line));
        return;
    };
    if path.value.contains('%') {
        out.warnings.push(format!(
            "[{name}] path = {} (line {}): variable substitutions are not supported, share not carried over",
            path.value, path.line
        ));
        return;
    }
    let mut t = Table::new();
    t.insert("name".into(), Value::String(name.clone()));
    t.insert("path".into(), Value::String(path.value.clone()));
    if let Some(p) = s.get("comment") {
        t.insert("comment".into(), Value::String(p.value.clone()));
    }
    let warn_bool = |p: &Param, out: &mut Converted| out.warnings.push(not_carried(name, p, Some("not a yes/no value")));
    let mut read_only = true; // Samba's default
    if let Some(p) = get("read only") {
        match boolean(&p.value) {
            Some(b) => read_only = b,
            None => warn_bool(p, out),
        }
    }
    for key in ["writeable", "writable", "write ok"] {
        if let Some(p) = get(key) {
            match boolean(&p.value) {
                Some(b) => read_only = !b,
                None => warn_bool(p, out),
            }
        }
    }
    t.insert("read_only".into(), Value::Boolean(read_only));
    for (key, toml_key) in [("guest ok", "guest_ok"), ("public", "guest_ok"), ("oplocks", "oplocks"), ("level2 oplocks", "level2_oplocks"), ("locking", "locking"), ("strict allocate", "strict_allocate")] {
        if let Some(p) = get(key) {
            match boolean(&p.value) {
                Some(b) => {
                    t.insert(toml_key.into(), Value::Boolean(b));
                }
                None => warn_bool(p, out),
            }
        }
    }
    if let Some(p) = get("strict locking") {
        match (p.value.eq_ignore_ascii_case("auto"), boolean(&p.value)) {
            (true, _) => {
                t.insert("strict_locking".into(), Value::Boolean(true));
            }
            (_, Some(b)) => {
                t.insert("strict_locking".into(), Value::Boolean(b));
            }
            _ => warn_bool(p, out),
        }
    }
    for key in ["case sensitive", "casesignames"] {
        if let Some(p) = get(key) {
            // "auto" (Samba's default) is case-insensitive for Windows clients.
            t.insert("case_sensitive".into(), Value::Boolean(boolean(&p.value) == Some(true)));
        }
    }
    if let Some(p) = get("veto oplock files") {
        let globs: Vec<Value> = p.value.split('/').map(str::trim).filter(|g| !g.is_empty()).map(|g| Value::String(g.into())).collect();
        t.insert("veto_oplock_files".into(), Value::Array(globs));
    }
    if let Some(p) = get("oplock contention limit") {
        match p.value.parse::<u32>() {
            Ok(n) => {
                t.insert("oplock_contention_limit".into(), Value::Integer(n.into()));
            }
            Err(_) => out.warnings.push(not_carried(name, p, Some("not a number"))),
        }
    }
    for key in ["server smb encrypt", "smb encrypt"] {
        if let Some(p) = s.get(key) {
            match encryption(&p.value) {
                Some(Some(e)) => {
                    t.insert("encryption".into(), Value::String(e.into()));
                }
                Some(None) => {}
                None => out.warnings.push(not_carried(name, p, Some("unknown value"))),
            }
        }
    }
    for key in ["browseable", "browsable"] {
        if let Some(p) = get(key)
            && boolean(&p.value) == Some(false)
        {
            out.warnings.push(not_carried(name, p, Some("Opportune does not hide shares from listings")));
        }
    }
    for (key, toml_key, hosts) in super::access::PARAMS {
        if let (true, Some(p), Some(_)) = (*hosts, s.get(key), global.get(key)) {
            out.warnings.push(format!(
                "[{name}] {} (line {}): Samba also applies [global]'s list to this share; Opportune uses the share's only, merge them by hand",
                p.written, p.line
            ));
        }
        if let Some(v) = get(key).and_then(|p| super::access::convert(name, p, *hosts, &mut out.warnings)) {
            t.insert((*toml_key).into(), v);
        }
    }
    for p in s.params.iter().filter(|p| !is_share_key(&p.key)) {
        match special(p) {
            Special::Same => {}
            Special::Why(why) => out.warnings.push(not_carried(name, p, Some(why))),
            Special::None => out.warnings.push(not_carried(name, p, None)),
        }
    }
    out.shares.push(t);
}

#[cfg(test)]
mod tests {
    use super::super::smbconf::parse;
    use super::*;

    fn run(text: &str) -> Converted {
        convert(&parse(text).unwrap())
    }

    #[test]
    fn globals_map_and_warn() {
        let c = run("[global]\nnetbios name = FILER\nserver signing = mandatory\nserver smb encrypt = desired\nserver min protocol = NT1\nworkgroup = HOME\nsmb ports = 4450 139\nlog level = 1\n");
        assert_eq!(c.server["server_name"].as_str(), Some("FILER"));
        assert_eq!(c.server["signing_required"].as_bool(), Some(true));
        assert_eq!(c.server["encryption"].as_str(), Some("desired"));
        assert_eq!(c.server["listen"].as_str(), Some("0.0.0.0:4450"));
        assert!(c.warnings.iter().any(|w| w.contains("server min protocol") && w.contains("SMB1")), "{:?}", c.warnings);
        assert_eq!(c.server["workgroup"].as_str(), Some("HOME"));
        assert!(c.warnings.iter().any(|w| w.contains("log level = 1")), "{:?}", c.warnings);
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    }

    #[test]
    fn samba_quota_settings_point_at_opportunes_own() {
        let c = run("[global]\nvfs objects = acl_xattr default_quota\ndefault_quota:uid = 0\n[s]\npath = /s\nvfs objects = default_quota\n");
        let quota = c.warnings.iter().filter(|w| w.contains("opportune user quota")).count();
        assert_eq!(quota, 3, "{:?}", c.warnings);
    }

    #[test]
    fn shares_map_with_global_defaults() {
        let c = run("[global]\noplocks = no\n[db]\npath = /srv/db\nwriteable = yes\nveto oplock files = /*.mdb/*.ldb/\nstrict locking = auto\n[pub]\npath=/srv/pub\nguest ok = yes\noplocks = yes\n");
        assert_eq!(c.shares.len(), 2);
        let db = &c.shares[0];
        assert_eq!(db["read_only"].as_bool(), Some(false));
        assert_eq!(db["oplocks"].as_bool(), Some(false), "from [global]");
        assert_eq!(db["veto_oplock_files"].as_array().map(|a| a.len()), Some(2));
        assert_eq!(db["strict_locking"].as_bool(), Some(true));
        let public = &c.shares[1];
        assert_eq!((public["read_only"].as_bool(), public["guest_ok"].as_bool(), public["oplocks"].as_bool()), (Some(true), Some(true), Some(true)));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn access_lists_carry_over() {
        let c = run("[global]\nhosts deny = 10.\n[team]\npath = /srv/team\nvalid users = alice, +staff\ninvalid users = mallory\nread list = guest1\nwrite list = @editors\nadmin users = root\nallow hosts = 127.0.0.1 192.168.1.0/24 fd00::/8\n");
        let t = &c.shares[0];
        let strings = |k: &str| t[k].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect::<Vec<_>>();
        assert_eq!(strings("valid_users"), ["alice", "@staff"]);
        assert_eq!(strings("invalid_users"), ["mallory"]);
        assert_eq!(strings("read_list"), ["guest1"]);
        assert_eq!(strings("write_list"), ["@editors"]);
        assert_eq!(strings("admin_users"), ["root"]);
        assert_eq!(strings("hosts_allow"), ["127.0.0.1", "192.168.1.0/24", "fd00::/8"]);
        assert_eq!(strings("hosts_deny"), ["10.0.0.0/8"], "from [global]");
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = run("[global]\nhosts allow = 10.\n[team]\npath = /srv/team\nhosts allow = 10.1.\n");
        assert_eq!(c.shares[0]["hosts_allow"].as_array().unwrap()[0].as_str(), Some("10.1.0.0/16"));
        assert!(c.warnings.iter().any(|w| w.contains("[global]'s list")), "{:?}", c.warnings);
    }

    #[test]
    fn what_cannot_be_carried_is_named() {
        let c = run("[homes]\nbrowseable = no\n[lp]\npath=/var/spool\nprintable = yes\n[team]\npath = /srv/team\nvalid users = @staff %S\nhosts allow = 10.0.0.0/8 EXCEPT 10.0.0.1\nkernel oplocks = yes\ncreate mask = 0660\n[u]\npath = /home/%U\n");
        assert_eq!(c.shares.len(), 1);
        let w = c.warnings.join("\n");
        for want in ["[homes]", "[lp]", "\"%S\"", "EXCEPT", "kernel oplocks", "create mask", "/home/%U"] {
            assert!(w.contains(want), "no warning about {want} in\n{w}");
        }
    }
}
