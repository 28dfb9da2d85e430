//! One configured share, opened: its root, its settings and what the server keeps for it.

use crate::server_error::ServerError;
use opportune_fs::Share;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One configured share, opened.
pub struct ShareState {
    pub name: String,
    pub comment: String,
    /// The configured root, as share listings at levels 2 and 502 show it.
    pub path: std::path::PathBuf,
    pub fs: Arc<Share>,
    /// Read-only for every user: the share is, and no `write_list` opens it for some.
    /// (Each tree's own answer, with `read_list` and `write_list` applied, is
    /// `Tree.read_only`; the configured setting is `config.read_only`.)
    pub read_only: bool,
    pub guest_ok: bool,
    pub caching: crate::config::ShareCaching,
    /// The stricter of the server's and the share's encryption setting.
    pub encryption: crate::config::Encryption,
    /// Its counters (opens, closes, bytes read and written).
    pub metrics: crate::metrics::ShareMetrics,
    /// The configuration it was opened with (compared by a reload).
    pub config: crate::config::ShareConfig,
    /// Which settings of the share a tree was admitted under: every `ShareState` has one
    /// of its own, so a reload that changed the share is seen by each tree's next request
    /// (`tree::check_share` admits the tree again).
    pub generation: u64,
    /// Its usage table when it tracks quotas (set once by `quota::configure`; kept by a
    /// reload that keeps the root). Empty: no request pays anything for quotas.
    pub quota: std::sync::OnceLock<Arc<crate::quota::share_quota::ShareQuota>>,
}

/// Gives each `ShareState` its generation.
static SHARE_GENERATIONS: AtomicU64 = AtomicU64::new(1);

impl ShareState {
    /// Opens the share's root; `server_encryption` and `kernel_oplocks` are the
    /// server-wide settings.
    pub fn open(s: &crate::config::ShareConfig, server_encryption: crate::config::Encryption, kernel_oplocks: bool) -> Result<ShareState, ServerError> {
        let fs = Share::with_space(&s.path, s.case_sensitive, s.space)
            .map_err(|source| ServerError::Share { name: s.name.clone(), source })?;
        Ok(ShareState::with_fs(s, server_encryption, kernel_oplocks, Arc::new(fs)))
    }

    /// The share with new settings over an already open root (a reload that kept its
    /// path): opens made through the old settings keep working.
    ///
    /// With kernel oplocks on (the server's and the share's), every SMB open of a file
    /// shares one open file description of it, so the server's own opens do not break its
    /// Linux leases (`opportune_fs::Share::share_descriptions`, docs/COHERENCE.md).
    pub fn with_fs(s: &crate::config::ShareConfig, server_encryption: crate::config::Encryption, kernel_oplocks: bool, fs: Arc<Share>) -> ShareState {
        fs.share_descriptions(kernel_oplocks && s.caching.kernel_oplocks);
        ShareState {
            name: s.name.clone(),
            comment: s.comment.clone(),
            path: s.path.clone(),
            fs,
            read_only: s.read_only && s.access.write_list.is_empty(),
            guest_ok: s.guest_ok,
            caching: s.caching.clone(),
            encryption: s.encryption.max(server_encryption),
            metrics: crate::metrics::ShareMetrics::new(&s.name),
            config: s.clone(),
            generation: SHARE_GENERATIONS.fetch_add(1, Ordering::Relaxed),
            quota: std::sync::OnceLock::new(),
        }
    }
}
