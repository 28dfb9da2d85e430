//! The TOML configuration file: the same settings as the command line plus per-share
//! options. Unknown keys are errors that name the key.

use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub guest: Option<bool>,
    pub server_name: Option<String>,
    pub signing_required: Option<bool>,
    pub max_connections: Option<usize>,
    pub oplock_break_timeout_secs: Option<u64>,
    #[serde(default)]
    pub share: Vec<FileShare>,
    #[serde(default)]
    pub user: Vec<FileUser>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileShare {
    pub name: String,
    pub path: PathBuf,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub guest_ok: bool,
    #[serde(default)]
    pub case_sensitive: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileUser {
    pub name: String,
    /// Plain password (hashed at load; never kept).
    pub password: Option<String>,
    /// Or the NT hash as 32 hex digits.
    pub nt_hash: Option<String>,
}

pub fn load(path: &std::path::Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn unknown_keys_are_named() {
        let err = toml::from_str::<super::FileConfig>("listen = \"127.0.0.1:1\"\nlisten_port = 3\n").unwrap_err();
        assert!(err.to_string().contains("listen_port"), "{err}");
        let err = toml::from_str::<super::FileConfig>("[[share]]\nname='a'\npath='/x'\nreadonly=true\n").unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
    }

    #[test]
    fn full_example_parses() {
        let c: super::FileConfig = toml::from_str(
            "listen = \"0.0.0.0:445\"\nguest = true\n[[share]]\nname = \"docs\"\npath = \"/srv/docs\"\nread_only = true\nguest_ok = true\n[[user]]\nname = \"alice\"\npassword = \"pw\"\n",
        )
        .unwrap();
        assert_eq!(c.share.len(), 1);
        assert!(c.share[0].read_only);
        assert_eq!(c.user[0].name, "alice");
    }
}
