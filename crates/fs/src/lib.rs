//! Opportune's file-system layer: a share root on a Linux file system,
//! seen through Windows semantics (MS-FSA, MS-FSCC).
//!
//! * Confinement: every path is resolved by openat2(2) with
//!   RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS relative to the share root, and
//!   every mutation (mkdir, unlink, rename) takes a confined parent fd plus
//!   a single name, so ".." , absolute paths and symlinks pointing outside
//!   cannot reach anything beyond the share.
//! * Names: [`SmbPath`] applies the MS-FSCC 2.1.5 rules; lookups can be
//!   case-insensitive (exact name first, then a directory scan).
//! * Create: [`Share::create`] implements the MS-FSA 2.1.5.1 dispositions.
//! * DOS attributes and creation/change times live in the `user.opportune.dos`
//!   xattr; EAs and client-set security descriptors in `user.opportune.ea`
//!   and `user.opportune.sd`.
//! * Hard links: [`Handle::link`] (MS-FSA 2.1.5.15.6) links the open's own
//!   inode into a confined parent directory (see the `link` module).
//! * Named streams ("file:name:$DATA", MS-FSCC 2.1.5.3) live in one
//!   `user.opportune.stream.*` xattr each on their base file or directory
//!   (see the `stream` module); a stream open is a [`Handle`] whose
//!   `rel_path` is "base:name" and whose [`FileInfo::stream`] is non-zero.
//! * Host locks: [`Handle::host_lock`] mirrors a byte-range lock as an OFD lock
//!   (fcntl(2) `F_OFD_SETLK`) that local processes see (see the `host_lock` module).
//! * Disk space: [`SpacePolicy`] keeps a reserve of the volume free and bounds
//!   preallocation (see the `space` module).
//! * UNIX identities: [`UnixIdentity::enter`] makes the calling thread's
//!   file-system calls run as a user (fsuid, fsgid, groups) until its guard goes.
//! * Errors: [`FsError::status`] gives the NTSTATUS for the response.
//! * Backends: [`Share`] and [`Handle`] dispatch to a [`Backend`] and a [`FileObject`]
//!   (the `backend` and `file_object` modules): the POSIX one described above, or the
//!   in-memory double [`MemoryFs`] (`Share::in_memory`, the `memory` module) the test
//!   world runs on, which has no host features (`Handle::host_fd` is `None`).
//!
//! All `unsafe` code is in the `sys` module.
//!
//! The modules are layered bottom-up, each importing only its own layer and
//! those below: system calls, on-disk encodings, path resolution and the name
//! cache (`root`, `resolve`), handles, operations (create, make, rename,
//! remove, listing, streams, links, EAs), and on top [`Share`]
//! (docs/ARCHITECTURE.md lists the files of each layer).

mod backend;
mod create;
mod create_types;
mod current_path;
mod dir;
mod description;
mod dirents;
mod dosattr;
mod ea;
mod ea_blob;
mod error;
mod file_object;
mod fsa_rules;
mod handle;
mod host_lock;
mod host_watch;
mod info;
mod inotify_events;
pub mod kernel_lease;
mod link;
mod make;
mod memory;
mod namecache;
mod path;
mod posix_backend;
mod posix_handle;
mod posix_object;
mod rel_path;
mod remove;
mod rename;
mod resolve;
mod root;
mod share;
mod shortname;
mod space;
mod stat;
mod stream;
mod stream_io;
mod stream_open;
mod stream_rename;
#[allow(unsafe_code)] // the one file with system calls, each with its safety contract
mod sys;
#[cfg(test)]
mod testutil;
mod unix_identity;
mod volume;
mod xattr;

pub use backend::Backend;
pub use file_object::FileObject;
pub use memory::{MemoryFs, MemoryOptions, WallClock};
pub use create_types::{CreateParams, Opened};
pub use dosattr::XATTR_NAME;
pub use ea_blob::{valid_ea_name, Ea};
pub use error::FsError;
pub use handle::Handle;
pub use host_lock::HOST_LOCK_END;
pub use host_watch::{HostChange, HostEvent, HostWatch, MAX_DIRS_PER_WATCHER};
pub use link::{Linked, MAX_LINKS};
pub use info::{BasicInfo, DirEntry, FileInfo, FsStats};
pub use path::{SmbPath, check_stream_name};
pub use rel_path::{join as join_rel, split_last as split_rel};
pub use rename::Replaced;
pub use share::Share;
pub use shortname::{is_8_3, short_name};
pub use space::{SpacePolicy, DEFAULT_FREE_RESERVE, LOOSE_PREALLOCATION};
pub use sys::{euid, nofile_limit, set_nofile_limit, tcp_info, TcpFigures};
pub use sys::NGROUPS_MAX;
pub use unix_identity::{become_the_server, current_fsgid, current_fsuid, current_groups, record_server_identity, ActingAs, UnixIdentity};
