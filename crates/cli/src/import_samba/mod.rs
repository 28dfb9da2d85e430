//! `opportune import-samba [SMB_CONF] [--smbpasswd FILE]`: writes the Opportune TOML
//! configuration equivalent to a Samba server's smb.conf (shares, their caching and
//! locking settings, signing, encryption, guest mapping, listen address) and, with
//! `pdbedit -L -w` output, its users with their NT hashes, so they log on with the
//! passwords they have. Every parameter that cannot be carried over is named on standard
//! error and in a comment at the top of the output.

mod access;
mod convert;
mod smbconf;
pub(crate) mod smbpasswd;

use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The Samba configuration to convert.
    #[arg(default_value = "/etc/samba/smb.conf")]
    smb_conf: PathBuf,
    /// Samba accounts in smbpasswd format (`pdbedit -L -w > FILE`), carried over as users
    /// with their NT hashes.
    #[arg(long, value_name = "FILE")]
    smbpasswd: Option<PathBuf>,
    /// Write the configuration here (mode 0600) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// The TOML text for `smb_conf` (and accounts), with the warnings.
pub fn import(smb_conf: &str, smbpasswd: Option<&str>) -> Result<(String, Vec<String>), String> {
    let sections = smbconf::parse(smb_conf)?;
    let c = convert::convert(&sections);
    let mut warnings = c.warnings;
    let mut table = c.server;
    table.insert("share".into(), toml::Value::Array(c.shares.into_iter().map(toml::Value::Table).collect()));
    if let Some(text) = smbpasswd {
        let (accounts, w) = smbpasswd::parse(text);
        warnings.extend(w);
        let users = accounts
            .into_iter()
            .map(|a| {
                let mut t = toml::Table::new();
                t.insert("name".into(), toml::Value::String(a.name));
                t.insert("nt_hash".into(), toml::Value::String(a.nt_hash));
                toml::Value::Table(t)
            })
            .collect();
        table.insert("user".into(), toml::Value::Array(users));
    }
    let body = toml::to_string(&table).map_err(|e| format!("writing TOML: {e}"))?;
    let mut out = String::from("# Converted from Samba's configuration by `opportune import-samba` (docs/CONFIG.md).\n");
    if warnings.is_empty() {
        out.push_str("# Every parameter carried over.\n");
    } else {
        out.push_str("# Not carried over (review before serving):\n");
        for w in &warnings {
            out.push_str(&format!("#   {}\n", w.replace('\n', " ")));
        }
    }
    out.push('\n');
    out.push_str(&body);
    Ok((out, warnings))
}

pub fn run(args: ImportArgs) -> Result<(), String> {
    let conf = std::fs::read_to_string(&args.smb_conf).map_err(|e| format!("{}: {e}", args.smb_conf.display()))?;
    let passwd = match &args.smbpasswd {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };
    let (text, warnings) = import(&conf, passwd.as_deref()).map_err(|e| format!("{}: {e}", args.smb_conf.display()))?;
    for w in &warnings {
        eprintln!("opportune import-samba: warning: {w}");
    }
    match &args.output {
        Some(path) => {
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            f.write_all(text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        None => print!("{text}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// What the import writes is a configuration `opportune serve` accepts.
    #[test]
    fn the_output_is_a_valid_configuration() {
        let conf = "[global]\nnetbios name = FILER\nmap to guest = bad user\nlog level = 2\n[docs]\npath = /srv/docs\nread only = no\ncomment = Documents\n";
        let passwd = "alice:1000:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:8846F7EAEE8FB117AD06BDD830B7586C:[U          ]:LCT-5F5E1000:\n";
        let (text, warnings) = super::import(conf, Some(passwd)).unwrap();
        let c: crate::config_file::FileConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(c.server_name.as_deref(), Some("FILER"));
        assert_eq!(c.guest, Some(true));
        assert_eq!(c.share.len(), 1);
        assert!(!c.share[0].read_only);
        assert_eq!(c.user[0].nt_hash.as_deref(), Some("8846f7eaee8fb117ad06bdd830b7586c"));
        assert!(warnings.iter().any(|w| w.contains("log level")), "{warnings:?}");
        assert!(text.contains("#   [global] log level = 2"), "{text}");
    }
}
