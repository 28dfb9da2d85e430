//! Samba's smbpasswd format, as `pdbedit -L -w` prints it and `/var/lib/samba/private/
//! smbpasswd` stores it: `name:uid:LM hash:NT hash:[flags]:LCT-hex:`, one account per
//! line. Only the NT hash carries over (NTLMv2 needs nothing else); accounts that are
//! disabled or have no password are skipped with a warning.

/// One account that carries over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    /// 32 lower-case hex digits.
    pub nt_hash: String,
}

/// The accounts of `text`, and a warning per line that does not carry over.
pub fn parse(text: &str) -> (Vec<Account>, Vec<String>) {
    let mut accounts = Vec::new();
    let mut warnings = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(':').collect();
        let n = i + 1;
        if fields.len() < 5 || fields[0].is_empty() {
            warnings.push(format!("smbpasswd line {n}: not `name:uid:LM:NT:[flags]:…`, skipped"));
            continue;
        }
        let (name, nt, flags) = (fields[0], fields[3], fields[4]);
        if flags.contains('D') {
            warnings.push(format!("smbpasswd line {n}: account {name:?} is disabled, skipped"));
            continue;
        }
        if flags.contains('N') || nt.starts_with("NO PASSWORD") || nt.chars().all(|c| c == 'X') {
            warnings.push(format!("smbpasswd line {n}: account {name:?} has no NT hash, skipped"));
            continue;
        }
        if nt.len() != 32 || !nt.chars().all(|c| c.is_ascii_hexdigit()) {
            warnings.push(format!("smbpasswd line {n}: account {name:?} has a malformed NT hash, skipped"));
            continue;
        }
        if !flags.contains('U') {
            warnings.push(format!("smbpasswd line {n}: account {name:?} is not a user account ({flags}), skipped"));
            continue;
        }
        accounts.push(Account { name: name.to_string(), nt_hash: nt.to_ascii_lowercase() });
    }
    (accounts, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_and_what_is_skipped() {
        let text = "alice:1000:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:8846F7EAEE8FB117AD06BDD830B7586C:[U          ]:LCT-5F5E1000:\n\
                    bob:1001:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:[NU         ]:LCT-00000000:\n\
                    carol:1002:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:8846F7EAEE8FB117AD06BDD830B7586C:[DU         ]:LCT-00000000:\n\
                    host$:1003:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:8846F7EAEE8FB117AD06BDD830B7586C:[W          ]:LCT-00000000:\n\
                    garbage\n";
        let (a, w) = parse(text);
        assert_eq!(a, vec![Account { name: "alice".into(), nt_hash: "8846f7eaee8fb117ad06bdd830b7586c".into() }]);
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w[0].contains("bob") && w[1].contains("carol") && w[2].contains("host$") && w[3].contains("line 5"));
    }
}
