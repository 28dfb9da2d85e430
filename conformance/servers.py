"""Start and stop an SMB server on 127.0.0.1 for tests and benchmarks.

Two kinds share one interface:

    with make_server("samba", share_dir=..., work_dir=..., log_path=...) as srv:
        srv.port, srv.share, srv.user, srv.password  # what a client needs
        srv.exited()                                 # None while running

* OpportuneServer runs `opportune serve --listen 127.0.0.1:PORT
  --share NAME=PATH --user NAME:PASSWORD --config extra.toml`; the file adds
  the share "hideunread" (same directory, access-based enumeration on, which
  smb2.acls.ACCESSBASED connects to) and a second ordinary user (user2,
  password2).  Both users are ordinary: no admin rights, no privileges.
* SambaServer writes a private smb.conf (standalone, loopback only, every
  state directory inside work_dir), adds the OS user `root` to a private
  tdbsam with smbpasswd, and runs `smbd --foreground`.

Each server runs in its own session/process group; stop() sends SIGTERM to
the whole group, then SIGKILL after a grace period, so forked children
(smbd forks one per connection) never outlive a run.  Readiness is decided by
polling the TCP port, not by parsing the log.

Python 3.11 standard library only; the benchmark harness imports this file.
"""

from __future__ import annotations

import errno
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time

HOST = "127.0.0.1"
SHARE = "share"
START_TIMEOUT = 30.0  # seconds until the port must accept connections
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL


class ServerError(Exception):
    """The server could not be started (missing binary, exited, no port)."""


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    # SO_REUSEADDR so that TIME_WAIT leftovers of a previous server on the
    # same port do not count; only a live listener does.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float) -> None:
    """Poll until `port` accepts a TCP connection or `proc` exits."""
    deadline = time.monotonic() + timeout
    while True:
        code = proc.poll()
        if code is not None:
            raise ServerError(f"server exited with {describe_exit(code)} before listening")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            pass
        if time.monotonic() >= deadline:
            raise ServerError(f"server did not accept connections on port {port} within {timeout:.0f} s")
        time.sleep(0.1)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def kill_group(proc: subprocess.Popen, grace: float = STOP_GRACE) -> bool:
    """SIGTERM the process group of `proc`, SIGKILL it after `grace` s.

    Returns True if the group needed SIGKILL.  `proc` must have been started
    with start_new_session=True so that its pid is the group id.
    """
    killed = False
    signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        killed = True
        signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
    # Children that ignored SIGTERM while the leader exited still get killed.
    signal_group(proc.pid, signal.SIGKILL)
    return killed


def signal_group(pgid: int, sig: int) -> None:
    """Sends `sig` to a process group; a group already gone is not an error."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Server:
    """Common lifecycle: prepare(), spawn, wait for the port, stop()."""

    kind = "?"

    def __init__(self, *, share_dir, work_dir, log_path, port=None, share=SHARE,
                 user="torture", password="opportune-Torture-1", env=None):
        self.share_dir = pathlib.Path(share_dir).resolve()
        self.work_dir = pathlib.Path(work_dir).resolve()
        self.log_path = pathlib.Path(log_path).resolve()
        self.port = port or free_port()
        self.share = share
        self.user = user
        self.password = password
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.stop_needed_kill = False

    # What a client needs.
    @property
    def unc(self) -> str:
        return f"//{HOST}/{self.share}"

    @property
    def credentials(self) -> str:
        return f"{self.user}%{self.password}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def prepare(self) -> None:
        """Write configuration, create users; runs before the spawn."""

    def start(self, timeout: float = START_TIMEOUT) -> "Server":
        self.share_dir.mkdir(parents=True, exist_ok=True)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if not port_is_free(self.port):
            raise ServerError(f"port {self.port} is already in use")
        self.prepare()
        cmd = self.command()
        with open(self.log_path, "ab") as log:
            log.write(("$ " + " ".join(cmd) + "\n").encode())
            log.flush()
            try:
                self.proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    cwd=self.work_dir, env=self.env, start_new_session=True)
            except OSError as e:
                raise ServerError(f"cannot run {cmd[0]}: {e}") from e
        try:
            wait_for_port(self.port, self.proc, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def exited(self) -> int | None:
        """The exit status if the server has already exited, else None."""
        return None if self.proc is None else self.proc.poll()

    def stop(self) -> int | None:
        """Stop the server; return its status if it had exited on its own."""
        if self.proc is None:
            return None
        early = self.proc.poll()
        self.stop_needed_kill = kill_group(self.proc)
        return early

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class OpportuneServer(Server):
    kind = "opportune"

    def __init__(self, *, binary, toml="", share_toml="", **kw):
        super().__init__(**kw)
        self.binary = str(pathlib.Path(binary).resolve())
        # Extra top-level settings, written at the top of the --config file.
        self.toml = toml
        # Extra settings of the share (its [[share]] table); with them, the share is
        # defined in the --config file instead of by --share.
        self.share_toml = share_toml
        if self.env is None:
            self.env = dict(os.environ)
            self.env.setdefault("RUST_BACKTRACE", "1")

    user2 = "torture2"
    password2 = "opportune-Torture-2"

    @property
    def extra_config(self) -> pathlib.Path:
        return self.work_dir / "extra.toml"

    def command(self) -> list[str]:
        share = [] if self.share_toml else ["--share", f"{self.share}={self.share_dir}"]
        return [self.binary, "serve", "--listen", f"{HOST}:{self.port}", *share,
                "--user", f"{self.user}:{self.password}",
                "--config", str(self.extra_config)]

    def prepare(self) -> None:
        if not os.access(self.binary, os.X_OK):
            raise ServerError(f"server binary {self.binary} not found or not executable "
                              "(build it with: cargo build --release -p opportune)")
        # Top-level settings of the suite (self.toml) come before the tables.
        self.work_dir.mkdir(parents=True, exist_ok=True)
        share = ""
        if self.share_toml:
            share = (f"[[share]]\nname = {toml_string(self.share)}\n"
                     f"path = {toml_string(str(self.share_dir))}\n{self.share_toml}\n")
        self.extra_config.write_text(self.toml + OPPORTUNE_EXTRA.format(
            share_dir=toml_string(str(self.share_dir)), user2=self.user2, password2=self.password2)
            + share)


OPPORTUNE_EXTRA = """\
# Written by conformance/servers.py.
[[share]]
name = "hideunread"
path = {share_dir}
access_based_enumeration = true

[[user]]
name = "{user2}"
password = "{password2}"
"""


def toml_string(s: str) -> str:
    """A TOML basic string holding `s`."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


SAMBA_CONF = """\
[global]
    server role = standalone server
    workgroup = WORKGROUP
    netbios name = OPPORTUNE-REF
    smb ports = {port}
    interfaces = {host}
    bind interfaces only = yes
    disable netbios = yes
    server min protocol = SMB2_02
    pid directory = {w}/pid
    lock directory = {w}/lock
    state directory = {w}/state
    cache directory = {w}/cache
    private dir = {w}/private
    ncalrpc dir = {w}/ncalrpc
    binddns dir = {w}/binddns
    passdb backend = tdbsam:{w}/private/passdb.tdb
    log file = {w}/log/log.%m
    load printers = no
    printing = bsd
    printcap name = /dev/null
    disable spoolss = yes
{extra}
[{share}]
    path = {share_dir}
    read only = no
    force user = root
"""


class SambaServer(Server):
    """Samba's smbd as the reference server (the OS user must be root)."""

    kind = "samba"

    def __init__(self, *, smbd=None, smbpasswd=None, extra_conf="", **kw):
        kw.setdefault("user", "root")
        kw.setdefault("password", "secret")
        super().__init__(**kw)
        self.smbd = smbd or shutil.which("smbd") or "/usr/sbin/smbd"
        self.smbpasswd = smbpasswd or shutil.which("smbpasswd") or "/usr/bin/smbpasswd"
        self.extra_conf = extra_conf
        self.conf_path = self.work_dir / "smb.conf"

    def command(self) -> list[str]:
        return [self.smbd, "--foreground", "--no-process-group", "--debug-stdout",
                "--debuglevel=1", f"--configfile={self.conf_path}"]

    def prepare(self) -> None:
        for tool in (self.smbd, self.smbpasswd):
            if not os.access(tool, os.X_OK):
                raise ServerError(f"{tool} not found (apt-get install samba)")
        for d in ("pid", "lock", "state", "cache", "private", "ncalrpc", "binddns", "log"):
            (self.work_dir / d).mkdir(parents=True, exist_ok=True)
        (self.work_dir / "private").chmod(0o700)
        self.conf_path.write_text(SAMBA_CONF.format(
            port=self.port, host=HOST, w=self.work_dir, share=self.share,
            share_dir=self.share_dir, extra=self.extra_conf))
        secret = f"{self.password}\n{self.password}\n"
        res = subprocess.run(
            [self.smbpasswd, "-c", str(self.conf_path), "-a", "-s", self.user],
            input=secret, capture_output=True, text=True, timeout=60)
        if res.returncode != 0:
            raise ServerError(f"smbpasswd -a {self.user} failed: {res.stdout}{res.stderr}".strip())


def make_server(kind: str, **kw) -> Server:
    """kind is "opportune" (needs binary=PATH) or "samba"."""
    if kind == "opportune":
        kw.pop("extra_conf", None)
        return OpportuneServer(**kw)
    if kind == "samba":
        kw.pop("binary", None)
        kw.pop("toml", None)
        kw.pop("share_toml", None)
        return SambaServer(**kw)
    raise ValueError(f"unknown server kind {kind!r}")


def client_conf(work_dir) -> pathlib.Path:
    """A minimal smb.conf for smbtorture/smbclient that keeps their state in
    work_dir and ignores /etc/samba/smb.conf."""
    w = pathlib.Path(work_dir).resolve()
    for d in ("lock", "state", "cache", "private"):
        (w / d).mkdir(parents=True, exist_ok=True)
    path = w / "client.conf"
    path.write_text(
        "[global]\n"
        f"    lock directory = {w}/lock\n"
        f"    state directory = {w}/state\n"
        f"    cache directory = {w}/cache\n"
        f"    private dir = {w}/private\n"
        f"    pid directory = {w}/lock\n")
    return path
