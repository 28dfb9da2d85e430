//! Thin wrappers around the Linux calls this crate needs.
//!
//! All `unsafe` code of the crate lives here. Every wrapper takes borrowed
//! file descriptors and `CStr` names, checks the return value, retries on
//! EINTR and hands back an owned result, so callers stay in safe Rust.

use std::ffi::{CStr, CString};
use std::io;
use std::mem::{MaybeUninit, size_of};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use libc::{c_int, c_long, c_uint};

/// `struct open_how` of openat2(2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// Do not follow "magic links" such as /proc/self/fd/N.
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
/// Do not follow any symbolic link.
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
/// Refuse any resolution that would leave the starting directory (EXDEV).
pub const RESOLVE_BENEATH: u64 = 0x08;
/// The confinement every path lookup of the crate uses.
pub const CONFINED: u64 = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;

/// getxattrat(2) (Linux 6.13); the same number on every architecture.
const SYS_GETXATTRAT: c_long = 464;

/// `struct xattr_args` of getxattrat(2).
#[repr(C)]
struct XattrArgs {
    value: u64,
    size: u32,
    flags: u32,
}

fn cvt(r: c_long) -> io::Result<c_long> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn interrupted(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EINTR)
}

/// openat2(2) relative to `dir`. `mode` is only passed with O_CREAT (the
/// kernel rejects a mode otherwise). EAGAIN, which RESOLVE_BENEATH reports
/// when it races with a rename, is retried a few times.
pub fn openat2(
    dir: BorrowedFd,
    path: &CStr,
    flags: c_int,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u32 as u64,
        mode: if flags & libc::O_CREAT != 0 {
            u64::from(mode)
        } else {
            0
        },
        resolve,
    };
    let mut again = 0;
    loop {
        // SAFETY: `path` is NUL-terminated, `how` lives across the call and
        // its size is passed; the returned fd is new and owned by nobody else.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                path.as_ptr(),
                &how as *const OpenHow,
                size_of::<OpenHow>(),
            )
        };
        match cvt(r) {
            // SAFETY: a non-negative result is a fresh descriptor.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd as c_int) }),
            Err(e) if interrupted(&e) => {}
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) && again < 16 => again += 1,
            Err(e) => return Err(e),
        }
    }
}

/// statx(2) of `path` relative to `dir` (or of `dir` itself with an empty
/// path and AT_EMPTY_PATH), asking for the basic stats and the birth time.
pub fn statx(dir: BorrowedFd, path: &CStr, flags: c_int) -> io::Result<libc::statx> {
    let mut st = MaybeUninit::<libc::statx>::zeroed();
    let mask = libc::STATX_BASIC_STATS | libc::STATX_BTIME;
    loop {
        // SAFETY: `st` is a valid out-buffer of the right type, `path` is NUL-terminated.
        let r =
            unsafe { libc::statx(dir.as_raw_fd(), path.as_ptr(), flags, mask, st.as_mut_ptr()) };
        match cvt(r as c_long) {
            // SAFETY: statx filled the buffer (and it was zeroed before).
            Ok(_) => return Ok(unsafe { st.assume_init() }),
            Err(e) if interrupted(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

/// statx of the object `fd` refers to.
pub fn fstatx(fd: BorrowedFd) -> io::Result<libc::statx> {
    statx(fd, c"", libc::AT_EMPTY_PATH)
}

/// fgetxattr(2) into `buf`; returns the value length.
pub fn fgetxattr(fd: BorrowedFd, name: &CStr, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` writable bytes; `name` is NUL-terminated.
    let r = unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    cvt(r as c_long).map(|n| n as usize)
}

/// getxattr(2) of the object `fd` refers to (an O_PATH descriptor will do) through its
/// `/proc/self/fd` link: the xattr is read without opening the object, so no lease on it
/// is broken (getxattrat(2) with AT_EMPTY_PATH takes the descriptor as fgetxattr(2)
/// does, and refuses O_PATH ones with EBADF). ENOENT without /proc.
pub fn getxattr_via_fd_link(fd: BorrowedFd, name: &CStr, buf: &mut [u8]) -> io::Result<usize> {
    let link = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: both strings are NUL-terminated; `buf` is valid for `buf.len()` bytes.
    let r = unsafe { libc::getxattr(link.as_ptr(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    cvt(r as c_long).map(|n| n as usize)
}

/// getxattrat(2): an xattr of `path` relative to `dir` without opening it
/// (opening would break a lease on the file). ENOSYS before Linux 6.13.
pub fn getxattrat(
    dir: BorrowedFd,
    path: &CStr,
    at_flags: c_int,
    name: &CStr,
    buf: &mut [u8],
) -> io::Result<usize> {
    let mut args = XattrArgs {
        value: buf.as_mut_ptr() as u64,
        size: buf.len() as u32,
        flags: 0,
    };
    // SAFETY: `args.value` points to `buf`, valid for `args.size` bytes;
    // both strings are NUL-terminated; the struct size is passed.
    let r = unsafe {
        libc::syscall(
            SYS_GETXATTRAT,
            dir.as_raw_fd(),
            path.as_ptr(),
            at_flags as c_uint,
            name.as_ptr(),
            &mut args as *mut XattrArgs,
            size_of::<XattrArgs>(),
        )
    };
    cvt(r).map(|n| n as usize)
}

/// fsetxattr(2).
pub fn fsetxattr(fd: BorrowedFd, name: &CStr, value: &[u8]) -> io::Result<()> {
    fsetxattr_flags(fd, name, value, 0)
}

/// fsetxattr(2) with XATTR_CREATE / XATTR_REPLACE `flags`.
pub fn fsetxattr_flags(fd: BorrowedFd, name: &CStr, value: &[u8], flags: c_int) -> io::Result<()> {
    // SAFETY: `value` is valid for `value.len()` bytes; `name` is NUL-terminated.
    let r = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags,
        )
    };
    cvt(r as c_long).map(drop)
}

/// fremovexattr(2).
pub fn fremovexattr(fd: BorrowedFd, name: &CStr) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated; the fd is borrowed and open.
    let r = unsafe { libc::fremovexattr(fd.as_raw_fd(), name.as_ptr()) };
    cvt(r as c_long).map(drop)
}

/// flistxattr(2) into `buf` (NUL-separated names); returns the length used.
pub fn flistxattr(fd: BorrowedFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` writable bytes.
    let r = unsafe { libc::flistxattr(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    cvt(r as c_long).map(|n| n as usize)
}

/// renameat2(2) with single-component names relative to two directory fds.
pub fn renameat2(
    old_dir: BorrowedFd,
    old: &CStr,
    new_dir: BorrowedFd,
    new: &CStr,
    flags: c_uint,
) -> io::Result<()> {
    // SAFETY: both names are NUL-terminated; the fds are borrowed and open.
    let r = unsafe {
        libc::renameat2(
            old_dir.as_raw_fd(),
            old.as_ptr(),
            new_dir.as_raw_fd(),
            new.as_ptr(),
            flags,
        )
    };
    cvt(r as c_long).map(drop)
}

/// linkat(2): a new name `new` in directory `new_dir` for the very inode `fd`
/// is open on (any kind of descriptor, O_PATH included). The source is named
/// through the fd's /proc/self/fd link with AT_SYMLINK_FOLLOW, the way linkat(2)
/// documents for unprivileged callers (AT_EMPTY_PATH would need
/// CAP_DAC_READ_SEARCH), so no path is resolved for the source and a rename or
/// symlink swapped in since the open cannot redirect the link. `new` must be a
/// single component: with `new_dir` a confined directory fd the new name stays
/// inside the share. The kernel never replaces an existing `new` (EEXIST).
pub fn link_fd(fd: BorrowedFd, new_dir: BorrowedFd, new: &CStr) -> io::Result<()> {
    let src = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    loop {
        // SAFETY: both names are NUL-terminated and outlive the call; the fds are
        // borrowed and open; no other pointers.
        let r = unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                src.as_ptr(),
                new_dir.as_raw_fd(),
                new.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        };
        match cvt(r as c_long) {
            Ok(_) => return Ok(()),
            Err(e) if interrupted(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

/// mkdirat(2) of a single-component name.
pub fn mkdirat(dir: BorrowedFd, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated; the fd is borrowed and open.
    let r = unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode as libc::mode_t) };
    cvt(r as c_long).map(drop)
}

/// unlinkat(2) of a single-component name (AT_REMOVEDIR for a directory).
pub fn unlinkat(dir: BorrowedFd, name: &CStr, flags: c_int) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated; the fd is borrowed and open.
    let r = unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) };
    cvt(r as c_long).map(drop)
}

/// fstatvfs(3).
pub fn fstatvfs(fd: BorrowedFd) -> io::Result<libc::statvfs> {
    let mut st = MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `st` is a valid out-buffer of the right type.
    let r = unsafe { libc::fstatvfs(fd.as_raw_fd(), st.as_mut_ptr()) };
    // SAFETY: filled on success (and zeroed before).
    cvt(r as c_long).map(|_| unsafe { st.assume_init() })
}

/// futimens(2): `[atime, mtime]`, each `None` for UTIME_OMIT.
pub fn futimens(fd: BorrowedFd, times: [Option<(i64, u32)>; 2]) -> io::Result<()> {
    let ts = times.map(|t| match t {
        Some((sec, nsec)) => libc::timespec {
            tv_sec: sec as libc::time_t,
            tv_nsec: nsec as libc::c_long,
        },
        None => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
    });
    // SAFETY: `ts` is an array of two timespecs as futimens requires.
    let r = unsafe { libc::futimens(fd.as_raw_fd(), ts.as_ptr()) };
    cvt(r as c_long).map(drop)
}

/// fallocate(2) with FALLOC_FL_KEEP_SIZE: reserve `[offset, offset + len)` without
/// changing the size.
pub fn reserve(fd: BorrowedFd, offset: i64, len: i64) -> io::Result<()> {
    loop {
        // SAFETY: plain integer arguments on a borrowed, open fd.
        let r = unsafe {
            libc::fallocate(
                fd.as_raw_fd(),
                libc::FALLOC_FL_KEEP_SIZE,
                offset as libc::off_t,
                len as libc::off_t,
            )
        };
        match cvt(r as c_long) {
            Ok(_) => return Ok(()),
            Err(e) if interrupted(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

/// What an open-file-description lock call asks for (fcntl(2) `l_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfdLock {
    Read,
    Write,
    Unlock,
}

impl OfdLock {
    fn l_type(self) -> libc::c_short {
        (match self {
            OfdLock::Read => libc::F_RDLCK,
            OfdLock::Write => libc::F_WRLCK,
            OfdLock::Unlock => libc::F_UNLCK,
        }) as libc::c_short
    }
}

/// A `struct flock` for an OFD call on `[start, start + len)` from the start of the
/// file (`len` 0: to the end of the lockable space, however large the file grows).
/// `l_pid` must be 0 for OFD locks (fcntl(2)).
fn ofd_flock(kind: OfdLock, start: i64, len: i64) -> libc::flock {
    // SAFETY: `flock` is plain data; all-zero is a valid value of every field.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind.l_type();
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = start as libc::off_t;
    fl.l_len = len as libc::off_t;
    fl.l_pid = 0;
    fl
}

/// fcntl(2) `F_OFD_SETLK`: takes, converts or drops the lock of the open file
/// description `fd` refers to over `[start, start + len)` (`len` 0: to the end of the
/// lockable space); never waits. `Ok(false)`: another open file description or a
/// process holds a conflicting lock (EAGAIN, or EACCES, which fcntl(2) allows too).
/// Locks of one description merge and split by range like POSIX locks; they go when the
/// last descriptor of the description is closed.
pub fn ofd_setlk(fd: BorrowedFd, kind: OfdLock, start: i64, len: i64) -> io::Result<bool> {
    let fl = ofd_flock(kind, start, len);
    loop {
        // SAFETY: `fl` is a valid, initialised `struct flock` that lives across the call;
        // F_OFD_SETLK only reads it. The fd is borrowed and open.
        let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_SETLK, &fl as *const libc::flock) };
        match cvt(r as c_long) {
            Ok(_) => return Ok(true),
            Err(e) if interrupted(&e) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES)) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
}

/// fcntl(2) `F_OFD_GETLK`: whether a lock of another open file description or process
/// would keep `fd`'s description from taking a `kind` lock (Read or Write) over
/// `[start, start + len)`; never waits and changes nothing. The description's own locks
/// never conflict.
pub fn ofd_conflict(fd: BorrowedFd, kind: OfdLock, start: i64, len: i64) -> io::Result<bool> {
    let mut fl = ofd_flock(kind, start, len);
    loop {
        // SAFETY: `fl` is a valid `struct flock`, writable and alive across the call, which
        // F_OFD_GETLK reads and overwrites with the conflicting lock (or F_UNLCK).
        let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_GETLK, &mut fl as *mut libc::flock) };
        match cvt(r as c_long) {
            Ok(_) => return Ok(fl.l_type != libc::F_UNLCK as libc::c_short),
            Err(e) if interrupted(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

/// dup3(2) of `new` onto the descriptor number of `target`: from now on that number
/// (and every `File` that owns it) refers to `new`'s open file description, and the
/// description it referred to before loses this reference (it is closed unless something
/// else refers to it). The number stays open throughout — dup3 replaces atomically — so
/// threads doing I/O through `target` meanwhile use one description or the other, never
/// a closed or reused number. `new` is consumed: its own number is closed afterwards.
pub fn dup_onto(new: OwnedFd, target: BorrowedFd) -> io::Result<()> {
    if new.as_raw_fd() == target.as_raw_fd() {
        return Ok(());
    }
    loop {
        // SAFETY: both numbers are open descriptors: `new` is owned here, `target` is
        // borrowed from its owner, which keeps it open for the call. dup3 does not close
        // `target`'s number, it atomically makes it refer to another description, so the
        // owner's ownership of that number (I/O safety) holds before, during and after.
        let r = unsafe { libc::dup3(new.as_raw_fd(), target.as_raw_fd(), libc::O_CLOEXEC) };
        match cvt(r as c_long) {
            Ok(_) => return Ok(()),
            Err(e) if interrupted(&e) || e.raw_os_error() == Some(libc::EBUSY) => {}
            Err(e) => return Err(e),
        }
    }
}

/// getdents64(2) into `buf`; returns the number of bytes filled (0 at the end).
/// The records are parsed in safe code by `dir::parse_dirents`.
pub fn getdents64(fd: BorrowedFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for `buf.len()` writable bytes.
        let r = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                fd.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        match cvt(r) {
            Ok(n) => return Ok(n as usize),
            Err(e) if interrupted(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

/// inotify_init1(2), non-blocking and close-on-exec.
pub fn inotify_init() -> io::Result<OwnedFd> {
    // SAFETY: no pointers; the result is a new fd owned by nobody else.
    let r = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    cvt(r as c_long)?;
    // SAFETY: `r` is a freshly created, valid descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// inotify_add_watch(2) on the directory `dir` is open on (through its
/// /proc/self/fd link, so no path is resolved again); returns the watch descriptor.
pub fn inotify_watch(inotify: BorrowedFd, dir: BorrowedFd, mask: u32) -> io::Result<i32> {
    let path = CString::new(format!("/proc/self/fd/{}", dir.as_raw_fd()))
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `path` is NUL-terminated; no other pointers.
    let r = unsafe { libc::inotify_add_watch(inotify.as_raw_fd(), path.as_ptr(), mask) };
    cvt(r as c_long)?;
    Ok(r)
}

/// inotify_rm_watch(2); a watch the kernel already dropped is not an error worth reporting.
pub fn inotify_unwatch(inotify: BorrowedFd, wd: i32) {
    // SAFETY: no pointers.
    unsafe { libc::inotify_rm_watch(inotify.as_raw_fd(), wd) };
}

/// read(2) of queued inotify events into `buf`; `Ok(0)` when none are queued.
/// The records are parsed in safe code by `namecache::parse_events`.
pub fn inotify_read(inotify: BorrowedFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for `buf.len()` writable bytes.
        let r = unsafe { libc::read(inotify.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        match cvt(r as c_long) {
            Ok(n) => return Ok(n as usize),
            Err(e) if interrupted(&e) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
            Err(e) => return Err(e),
        }
    }
}

/// fallocate(2) with FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE: gives the blocks of
/// `[offset, offset + len)` back to the file system without changing the size.
pub fn punch_hole(fd: BorrowedFd, offset: i64, len: i64) -> io::Result<()> {
    loop {
        // SAFETY: plain integer arguments on a borrowed, open fd.
        let r = unsafe {
            libc::fallocate(
                fd.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                offset as libc::off_t,
                len as libc::off_t,
            )
        };
        match cvt(r as c_long) {
            Ok(_) => return Ok(()),
            Err(e) if interrupted(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

/// getrlimit(2) of RLIMIT_NOFILE: (soft, hard).
pub fn nofile_limit() -> io::Result<(u64, u64)> {
    let mut rl = MaybeUninit::<libc::rlimit>::zeroed();
    // SAFETY: `rl` is a valid out-buffer of the right type.
    let r = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, rl.as_mut_ptr()) };
    cvt(r as c_long)?;
    // SAFETY: filled on success (and zeroed before).
    let rl = unsafe { rl.assume_init() };
    // rlim_t is u64 on x86-64 but not on every target.
    #[allow(clippy::unnecessary_cast)]
    Ok((rl.rlim_cur as u64, rl.rlim_max as u64))
}

/// setrlimit(2) of RLIMIT_NOFILE to `(soft, hard)`.
pub fn set_nofile_limit(soft: u64, hard: u64) -> io::Result<()> {
    let rl = libc::rlimit { rlim_cur: soft as libc::rlim_t, rlim_max: hard as libc::rlim_t };
    // SAFETY: `rl` is a valid, initialised rlimit that lives across the call.
    let r = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) };
    cvt(r as c_long).map(drop)
}

/// geteuid(2): the effective user id of the process.
pub fn euid() -> u32 {
    // SAFETY: no arguments; geteuid cannot fail.
    unsafe { libc::geteuid() }
}

/// getegid(2).
pub fn egid() -> u32 {
    // SAFETY: no arguments; getegid cannot fail.
    unsafe { libc::getegid() }
}

/// What the kernel knows of a TCP connection (`getsockopt(TCP_INFO)`, tcp(7)): the
/// figures `opportune status` shows per connection. Here because this is the
/// workspace's one file of system calls with safety contracts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFigures {
    /// Smoothed round-trip time and its variance, in microseconds.
    pub rtt_us: u32,
    pub rttvar_us: u32,
    /// Segments sent and not yet acknowledged.
    pub unacked: u32,
    /// Retransmissions in a row now (`tcpi_retransmits`) and in total.
    pub retransmits: u8,
    pub total_retrans: u32,
    /// Milliseconds since the peer last acknowledged anything.
    pub last_ack_recv_ms: u32,
}

/// `getsockopt(fd, IPPROTO_TCP, TCP_INFO)` on a TCP socket.
pub fn tcp_info(fd: BorrowedFd) -> io::Result<TcpFigures> {
    let mut info = MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is writable for `len` bytes; the kernel writes at most `len` bytes and
    // stores how many it wrote in `len`; the descriptor is borrowed for the call only.
    let r = unsafe {
        libc::getsockopt(fd.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_INFO, info.as_mut_ptr().cast(), &mut len)
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: zero-initialised, then (partly) filled by the kernel: every field is plain
    // data for which any bit pattern is valid.
    let i = unsafe { info.assume_init() };
    Ok(TcpFigures {
        rtt_us: i.tcpi_rtt,
        rttvar_us: i.tcpi_rttvar,
        unacked: i.tcpi_unacked,
        retransmits: i.tcpi_retransmits,
        total_retrans: i.tcpi_total_retrans,
        last_ack_recv_ms: i.tcpi_last_ack_recv,
    })
}

/// `F_SETSIG` of fcntl(2) (Linux-specific; not in every libc binding).
const F_SETSIG: c_int = 10;

/// A Linux file lease (fcntl(2) `F_SETLEASE`, `F_GETLEASE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lease {
    /// No lease (or, from [`get_lease`] during a break, the holder must let go).
    Unlock,
    /// Broken when any process opens the file for writing or truncates it.
    Read,
    /// Broken when any process opens the file at all or truncates it.
    Write,
}

impl Lease {
    fn arg(self) -> c_int {
        (match self {
            Lease::Unlock => libc::F_UNLCK,
            Lease::Read => libc::F_RDLCK,
            Lease::Write => libc::F_WRLCK,
        }) as c_int
    }

    fn from_arg(a: c_int) -> Lease {
        match a {
            x if x == libc::F_WRLCK as c_int => Lease::Write,
            x if x == libc::F_RDLCK as c_int => Lease::Read,
            _ => Lease::Unlock,
        }
    }
}

/// The real-time signal the kernel sends when a lease of this process is broken
/// ([`set_lease_signal`]): SIGRTMIN+4, clear of the few glibc and tokio keep to themselves.
pub fn lease_signal() -> c_int {
    libc::SIGRTMIN() + 4
}

/// fcntl(2) `F_SETLEASE`: takes, downgrades or drops the lease of the open file
/// description `fd` refers to; the kernel makes this process its owner (the break
/// signal goes to it). `Ok(false)`: refused because the file is open in a conflicting
/// mode — for a write lease any other open description of the inode (this process's
/// included), for a read lease any open for writing (this description's included) —
/// EAGAIN; or the file system keeps no leases (EINVAL on some, e.g. network file
/// systems). Never waits.
pub fn set_lease(fd: BorrowedFd, lease: Lease) -> io::Result<bool> {
    // SAFETY: F_SETLEASE takes an integer argument; the fd is borrowed and open.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETLEASE, lease.arg()) };
    match cvt(r as c_long) {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EBUSY | libc::EINVAL)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// fcntl(2) `F_GETLEASE`: the lease `fd` holds; while a break is pending, the lease the
/// holder must come down to (Read or Unlock).
pub fn get_lease(fd: BorrowedFd) -> io::Result<Lease> {
    // SAFETY: F_GETLEASE takes no argument; the fd is borrowed and open.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETLEASE) };
    cvt(r as c_long).map(|a| Lease::from_arg(a as c_int))
}

/// fcntl(2) `F_SETSIG`: the kernel sends `sig` (with `si_fd` naming `fd`) instead of
/// SIGIO when this description's lease is broken. With a real-time signal the
/// notifications queue, one per break; if that queue is full the kernel sends SIGIO
/// instead, so a reader of [`LeaseSignals`] also watches SIGIO and then asks every
/// leased descriptor with [`get_lease`].
pub fn set_lease_signal(fd: BorrowedFd, sig: c_int) -> io::Result<()> {
    // SAFETY: F_SETSIG takes an integer argument; the fd is borrowed and open.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), F_SETSIG, sig) };
    cvt(r as c_long).map(drop)
}

fn lease_sigset() -> io::Result<libc::sigset_t> {
    let mut set = MaybeUninit::<libc::sigset_t>::zeroed();
    // SAFETY: `set` is a valid out-buffer for sigemptyset, which initialises it; the
    // sigaddset calls then modify the initialised set with valid signal numbers.
    unsafe {
        if libc::sigemptyset(set.as_mut_ptr()) != 0
            || libc::sigaddset(set.as_mut_ptr(), lease_signal()) != 0
            || libc::sigaddset(set.as_mut_ptr(), libc::SIGIO) != 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(set.assume_init())
    }
}

/// Blocks [`lease_signal`] and SIGIO in the calling thread and so in every thread it
/// starts afterwards (signal masks are inherited). Call it first in `main`, before any
/// thread exists (a tokio runtime included): a lease-break signal delivered to a thread
/// that does not block it would take its default action and end the process. Once
/// blocked, the signals wait to be read from a [`LeaseSignals`].
pub fn block_lease_signals() -> io::Result<()> {
    let set = lease_sigset()?;
    // SAFETY: `set` is an initialised sigset_t that lives across the call; the old mask
    // is not asked for (null).
    let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    Ok(())
}

/// Whether [`lease_signal`] is blocked in the calling thread (only then may leases be
/// taken: see [`block_lease_signals`]). Once seen blocked in a thread, remembered for
/// it: nothing in the server unblocks them.
pub fn lease_signals_blocked() -> bool {
    thread_local! {
        static BLOCKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if BLOCKED.get() {
        return true;
    }
    let blocked = lease_signals_blocked_now();
    BLOCKED.set(blocked);
    blocked
}

fn lease_signals_blocked_now() -> bool {
    let mut cur = MaybeUninit::<libc::sigset_t>::zeroed();
    // SAFETY: a null new set only reads the mask into `cur`, a valid out-buffer; a
    // zeroed sigset_t is a valid (empty) set for sigismember if the call failed.
    unsafe {
        if libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), cur.as_mut_ptr()) != 0 {
            return false;
        }
        libc::sigismember(cur.as_ptr(), lease_signal()) == 1 && libc::sigismember(cur.as_ptr(), libc::SIGIO) == 1
    }
}

/// What one lease-break notification said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseNote {
    /// The lease of descriptor `fd` (its raw number) is being broken.
    Break { fd: i32 },
    /// The kernel's queue of real-time signals overflowed (SIGIO): some breaks were not
    /// queued; ask every leased descriptor with [`get_lease`].
    Overflow,
}

/// A signalfd(2) of [`lease_signal`] and SIGIO, non-blocking and close-on-exec: the
/// lease-break notifications of the process, read by one task (the fd is pollable).
/// The signals must be blocked in every thread ([`block_lease_signals`]).
pub struct LeaseSignals {
    fd: OwnedFd,
}

/// `struct signalfd_siginfo` is 128 bytes (signalfd(2)).
const SIGINFO_LEN: usize = size_of::<libc::signalfd_siginfo>();

impl LeaseSignals {
    pub fn new() -> io::Result<LeaseSignals> {
        let set = lease_sigset()?;
        // SAFETY: `set` is an initialised sigset_t alive across the call; -1 asks for a
        // new descriptor, which is then owned by nobody else.
        let r = unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
        cvt(r as c_long)?;
        // SAFETY: `r` is a freshly created, valid descriptor.
        Ok(LeaseSignals { fd: unsafe { OwnedFd::from_raw_fd(r) } })
    }

    /// Reads the queued notifications into `out` (at most 32 per call); `Ok(0)` when
    /// none are queued.
    pub fn read(&self, out: &mut Vec<LeaseNote>) -> io::Result<usize> {
        let mut infos = [MaybeUninit::<libc::signalfd_siginfo>::zeroed(); 32];
        let n = loop {
            // SAFETY: `infos` is valid for its full size in writable bytes; the kernel
            // writes whole records only.
            let r = unsafe { libc::read(self.fd.as_raw_fd(), infos.as_mut_ptr().cast(), size_of_val(&infos)) };
            match cvt(r as c_long) {
                Ok(n) => break n as usize / SIGINFO_LEN,
                Err(e) if interrupted(&e) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
                Err(e) => return Err(e),
            }
        };
        for info in &infos[..n.min(infos.len())] {
            // SAFETY: the first `n` records were filled by the kernel (and zeroed before);
            // signalfd_siginfo is plain data.
            let info = unsafe { info.assume_init() };
            out.push(if info.ssi_signo as c_int == lease_signal() {
                LeaseNote::Break { fd: info.ssi_fd }
            } else {
                LeaseNote::Overflow
            });
        }
        Ok(n)
    }
}

impl std::os::fd::AsRawFd for LeaseSignals {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for LeaseSignals {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// How long the kernel lets a lease holder take before it breaks the lease itself
/// (`/proc/sys/fs/lease-break-time`, seconds; 45 by default).
pub fn lease_break_time() -> std::time::Duration {
    let secs = std::fs::read_to_string("/proc/sys/fs/lease-break-time")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(45);
    std::time::Duration::from_secs(secs)
}

// ---------------------------------------------------------------------------------
// Per-thread file-system identity (`unix_identity`; `crate::unix_identity` is the safe
// face). In the kernel, credentials belong to a thread; glibc's setuid/setgid/setgroups
// wrappers broadcast to every thread of the process, so the supplementary groups are
// set with the raw system call here, and setfsuid/setfsgid (plain system calls in
// glibc) change the calling thread only.

/// getgroups/setgroups with 32-bit gids (the `*32` calls on the 32-bit ABIs that kept
/// 16-bit ones under the old numbers).
#[cfg(any(target_arch = "x86", target_arch = "arm"))]
const SYS_GETGROUPS: c_long = libc::SYS_getgroups32;
#[cfg(any(target_arch = "x86", target_arch = "arm"))]
const SYS_SETGROUPS: c_long = libc::SYS_setgroups32;
#[cfg(not(any(target_arch = "x86", target_arch = "arm")))]
const SYS_GETGROUPS: c_long = libc::SYS_getgroups;
#[cfg(not(any(target_arch = "x86", target_arch = "arm")))]
const SYS_SETGROUPS: c_long = libc::SYS_setgroups;

const _: () = assert!(size_of::<libc::gid_t>() == 4 && size_of::<libc::uid_t>() == 4);

/// Linux's NGROUPS_MAX: no thread has more supplementary groups.
pub const NGROUPS_MAX: usize = 65536;

/// setfsuid(2) on the calling thread; the thread's fsuid before the call. The call
/// reports no error: a value it refuses (`u32::MAX`, or any without CAP_SETUID) leaves
/// the fsuid as it was, so asking with `u32::MAX` reads the current one.
pub fn setfsuid(uid: u32) -> u32 {
    // SAFETY: no pointers; setfsuid cannot fail, it returns the previous fsuid.
    unsafe { libc::setfsuid(uid) as u32 }
}

/// setfsgid(2) on the calling thread, as [`setfsuid`].
pub fn setfsgid(gid: u32) -> u32 {
    // SAFETY: no pointers; setfsgid cannot fail, it returns the previous fsgid.
    unsafe { libc::setfsgid(gid) as u32 }
}

/// The calling thread's supplementary groups (getgroups(2), the raw call).
pub fn thread_groups() -> io::Result<Vec<u32>> {
    // SAFETY: a size of 0 asks for the count only; the null pointer is not written.
    let n = cvt(unsafe { libc::syscall(SYS_GETGROUPS, 0 as c_int, std::ptr::null_mut::<libc::gid_t>()) })?;
    // Only this thread changes its own groups, so the count still holds for the call below.
    let mut groups = vec![0u32; n as usize];
    // SAFETY: `groups` has room for `n` gid_t values (u32, asserted above) and the size
    // argument says so; the kernel writes at most that many (EINVAL if there are more).
    let m = cvt(unsafe { libc::syscall(SYS_GETGROUPS, n as c_int, groups.as_mut_ptr()) })?;
    groups.truncate(m as usize);
    Ok(groups)
}

/// Sets the calling thread's supplementary groups (setgroups(2), the raw call: this
/// thread only). Needs CAP_SETGID.
pub fn set_thread_groups(groups: &[u32]) -> io::Result<()> {
    if groups.len() > NGROUPS_MAX {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: the kernel reads `groups.len()` gid_t values (u32) from the pointer, which
    // is valid for that many (a dangling but aligned pointer when empty, never read).
    cvt(unsafe { libc::syscall(SYS_SETGROUPS, groups.len() as libc::size_t, groups.as_ptr()) })?;
    Ok(())
}

/// The uid and primary gid of the system account `name` (getpwnam_r(3), through NSS:
/// /etc/passwd, LDAP, ...); None when there is none.
pub fn user_by_name(name: &CStr) -> io::Result<Option<(u32, u32)>> {
    let mut buf: Vec<libc::c_char> = vec![0; 4096];
    loop {
        let mut pwd = MaybeUninit::<libc::passwd>::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: `name` is NUL-terminated; `pwd` and `buf` are valid for writes of their
        // sizes, `result` for one pointer. The strings the call puts in `pwd` point into
        // `buf`, which outlives every read below (only the two integers are read).
        let r = unsafe { libc::getpwnam_r(name.as_ptr(), pwd.as_mut_ptr(), buf.as_mut_ptr(), buf.len(), &mut result) };
        match r {
            0 if result.is_null() => return Ok(None),
            0 => {
                // SAFETY: a non-null result points to `pwd`, which the call filled in.
                let p = unsafe { pwd.assume_init_ref() };
                return Ok(Some((p.pw_uid, p.pw_gid)));
            }
            libc::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            libc::EINTR => {}
            // getpwnam_r(3): these also mean "no such user" on some NSS modules.
            libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => return Ok(None),
            e => return Err(io::Error::from_raw_os_error(e)),
        }
    }
}

/// The gid of the system group `name` (getgrnam_r(3)); None when there is none.
pub fn group_by_name(name: &CStr) -> io::Result<Option<u32>> {
    let mut buf: Vec<libc::c_char> = vec![0; 4096];
    loop {
        let mut grp = MaybeUninit::<libc::group>::zeroed();
        let mut result: *mut libc::group = std::ptr::null_mut();
        // SAFETY: as in `user_by_name`: NUL-terminated name, buffers valid for their
        // sizes, only the gid read back.
        let r = unsafe { libc::getgrnam_r(name.as_ptr(), grp.as_mut_ptr(), buf.as_mut_ptr(), buf.len(), &mut result) };
        match r {
            0 if result.is_null() => return Ok(None),
            // SAFETY: a non-null result points to `grp`, which the call filled in.
            0 => return Ok(Some(unsafe { grp.assume_init_ref() }.gr_gid)),
            libc::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            libc::EINTR => {}
            libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => return Ok(None),
            e => return Err(io::Error::from_raw_os_error(e)),
        }
    }
}

/// The groups of the system account `name` whose primary group is `gid`, `gid` first
/// (getgrouplist(3): /etc/group and NSS).
pub fn group_list(name: &CStr, gid: u32) -> Vec<u32> {
    let mut room: c_int = 64;
    loop {
        let mut groups = vec![0 as libc::gid_t; room as usize];
        let mut count = room;
        // SAFETY: `name` is NUL-terminated; `groups` has room for `count` gids, which the
        // call writes at most, and it sets `count` to how many the user has.
        let r = unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut count) };
        if r >= 0 {
            groups.truncate(count.max(0) as usize);
            return groups;
        }
        if room as usize >= NGROUPS_MAX {
            groups.truncate(room as usize);
            return groups;
        }
        room = count.max(room.saturating_mul(2)).min(NGROUPS_MAX as c_int);
    }
}
