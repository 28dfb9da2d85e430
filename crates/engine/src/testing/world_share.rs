//! The share one world serves: on the in-memory double by default
//! ([`opportune_fs::MemoryFs`]: no disk, the same ids and listing order on every run, a
//! byte budget and injected faults), or on a temporary directory ([`TempShare`]) for the
//! tests that need what only a host has (kernel leases, inotify host watches, OFD host
//! locks). The helpers look at and prepare its files through the file-system layer, the
//! same way on both.

use std::path::PathBuf;
use std::sync::Arc;

use opportune_fs::{CreateParams, MemoryFs, MemoryOptions, Share, SmbPath};
use opportune_types::create::CreateDisposition;

use super::share_dir::TempShare;

/// What a world's share lives on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    /// The in-memory double with these options (`case_sensitive` is the share's).
    Memory(MemoryOptions),
    /// A fresh directory under the system temporary directory.
    TempDir,
}

impl Default for Backend {
    fn default() -> Self {
        Backend::Memory(MemoryOptions::default())
    }
}

pub struct WorldShare {
    fs: Share,
    memory: Option<Arc<MemoryFs>>,
    temp: Option<TempShare>,
    path: PathBuf,
}

fn path_of(rel: &str) -> SmbPath {
    SmbPath::parse(&rel.replace('/', "\\")).expect("a valid test path")
}

fn params(disposition: CreateDisposition, directory: Option<bool>) -> CreateParams {
    CreateParams { disposition, directory, write: true, attributes: 0, allocation_size: 0, metadata_only: false }
}

impl WorldShare {
    /// A share for the world `label` on `backend`.
    pub fn new(label: &str, backend: Backend, case_sensitive: bool) -> WorldShare {
        match backend {
            Backend::Memory(o) => {
                let memory = MemoryFs::new(MemoryOptions { case_sensitive, ..o });
                let path = PathBuf::from(format!("/opportune-memory/{label}"));
                WorldShare { fs: Share::in_memory(memory.clone()), memory: Some(memory), temp: None, path }
            }
            Backend::TempDir => WorldShare::on_dir(TempShare::new(label), case_sensitive),
        }
    }

    /// A share on the directory `temp`.
    pub fn on_dir(temp: TempShare, case_sensitive: bool) -> WorldShare {
        let fs = Share::new(temp.path(), case_sensitive).expect("world share directory");
        let path = temp.path().to_path_buf();
        WorldShare { fs, memory: None, temp: Some(temp), path }
    }

    /// The configured path (a directory for [`Backend::TempDir`]; only a name for memory).
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The file system the server is given (memory), or None (the server opens the
    /// directory itself).
    pub(crate) fn for_server(&self) -> Option<Share> {
        self.memory.as_ref().map(|_| self.fs.clone())
    }

    /// The share through the file-system layer (the server's own, on memory).
    pub fn fs(&self) -> &Share {
        &self.fs
    }

    /// The in-memory double, for budgets and faults (None on a directory).
    pub fn memory(&self) -> Option<&Arc<MemoryFs>> {
        self.memory.as_ref()
    }

    /// The temporary directory (None on memory).
    pub fn temp(&self) -> Option<&TempShare> {
        self.temp.as_ref()
    }

    /// Makes `rel` ('/'-separated) a file holding `data`.
    pub fn write(&self, rel: &str, data: &[u8]) {
        let h = self.fs.create(&path_of(rel), &params(CreateDisposition::OverwriteIf, Some(false))).expect("test file").handle;
        h.write_at(data, 0).expect("test file data");
    }

    /// Makes the directory `rel`.
    pub fn mkdir(&self, rel: &str) {
        self.fs.create(&path_of(rel), &params(CreateDisposition::Create, Some(true))).expect("test directory");
    }

    /// The data of the file `rel`, if it is one.
    pub fn read(&self, rel: &str) -> Option<Vec<u8>> {
        let mut p = params(CreateDisposition::Open, Some(false));
        p.write = false;
        let h = self.fs.create(&path_of(rel), &p).ok()?.handle;
        let mut buf = vec![0u8; usize::try_from(h.info().ok()?.size).ok()?];
        let n = h.read_at(&mut buf, 0).ok()?;
        buf.truncate(n);
        Some(buf)
    }

    /// Whether `rel` names something (exact names, as on disk).
    pub fn exists(&self, rel: &str) -> bool {
        self.fs.stat(rel).is_ok()
    }

    pub fn is_file(&self, rel: &str) -> bool {
        self.fs.stat(rel).is_ok_and(|i| !i.is_dir)
    }

    pub fn is_dir(&self, rel: &str) -> bool {
        self.fs.stat(rel).is_ok_and(|i| i.is_dir)
    }

    /// The size of `rel`.
    pub fn len(&self, rel: &str) -> Option<u64> {
        self.fs.stat(rel).ok().map(|i| i.size)
    }
}
