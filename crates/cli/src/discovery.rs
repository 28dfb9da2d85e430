//! Discovery settings (TOML `mdns`, `wsd`, `model`, `workgroup`; `--no-discovery`) into the running
//! announcements of `opportune_discovery`. On by default only for a server that listens
//! beyond loopback (docs/CONFIG.md).

use crate::config_file::FileConfig;
use opportune_discovery::driver::{self, Discovery};
use std::net::SocketAddr;

/// The model Finder is told when the file names none: a rack server icon.
pub const DEFAULT_MODEL: &str = "RackMac";

#[derive(Debug)]
pub struct Settings {
    mdns: Option<bool>,
    wsd: Option<bool>,
    model: Option<String>,
    workgroup: Option<String>,
    off: bool,
}

/// The workgroup when the file names none (as Windows and Samba default).
pub const DEFAULT_WORKGROUP: &str = "WORKGROUP";

impl Settings {
    pub fn new(file: &FileConfig, no_discovery: bool) -> Settings {
        Settings {
            mdns: file.mdns,
            wsd: file.wsd,
            model: file.model.clone(),
            workgroup: file.workgroup.clone(),
            off: no_discovery,
        }
    }

    /// The driver's configuration for a server named `server_name` listening on `addr`,
    /// or None when nothing is on.
    pub fn config(&self, server_name: &str, addr: SocketAddr) -> Option<driver::Config> {
        let default = driver::default_on(addr);
        let mdns = !self.off && self.mdns.unwrap_or(default);
        let wsd = !self.off && self.wsd.unwrap_or(default);
        let model = match &self.model {
            Some(m) if m.is_empty() => None,
            Some(m) => Some(m.clone()),
            None => Some(DEFAULT_MODEL.to_string()),
        };
        let workgroup = self.workgroup.clone().unwrap_or_else(|| DEFAULT_WORKGROUP.to_string());
        (mdns || wsd).then(|| driver::Config { server_name: server_name.to_string(), listen: addr, mdns, wsd, workgroup, model })
    }

    /// Starts the announcements, if any are on.
    pub fn start(&self, server_name: &str, addr: SocketAddr) -> Option<Discovery> {
        let config = self.config(server_name, addr)?;
        let d = driver::start(&config);
        let what = match (config.mdns, config.wsd) {
            (true, true) => "mDNS, WS-Discovery",
            (true, false) => "mDNS",
            _ => "WS-Discovery",
        };
        for l in d.links() {
            eprintln!("opportune: announcing {server_name} on {} ({what})", l.addr);
        }
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml: &str, off: bool) -> Settings {
        Settings::new(&toml::from_str(toml).unwrap(), off)
    }

    #[test]
    fn on_by_default_only_beyond_loopback() {
        let s = settings("", false);
        assert!(s.config("S", "127.0.0.1:445".parse().unwrap()).is_none());
        assert!(s.config("S", "[::1]:445".parse().unwrap()).is_none());
        let c = s.config("S", "0.0.0.0:445".parse().unwrap()).unwrap();
        assert!(c.mdns && c.wsd);
        assert_eq!(c.workgroup, DEFAULT_WORKGROUP);
        assert_eq!(c.model.as_deref(), Some(DEFAULT_MODEL));
        assert!(s.config("S", "10.0.0.1:445".parse().unwrap()).is_some());
    }

    #[test]
    fn switches_win_over_the_default() {
        assert!(settings("mdns = false\nwsd = false", false).config("S", "0.0.0.0:445".parse().unwrap()).is_none());
        let c = settings("mdns = false\nworkgroup = \"HOME\"", false).config("S", "0.0.0.0:445".parse().unwrap()).unwrap();
        assert!(!c.mdns && c.wsd && c.workgroup == "HOME");
        assert!(settings("", true).config("S", "0.0.0.0:445".parse().unwrap()).is_none());
        let c = settings("mdns = true\nmodel = \"\"", false).config("S", "127.0.0.1:445".parse().unwrap()).unwrap();
        assert!(c.mdns && !c.wsd && c.model.is_none());
    }
}
