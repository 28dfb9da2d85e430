#!/usr/bin/env python3
"""Opportune against Samba, side by side, on this machine (loopback only).

    bench/run [--rounds N] [--quick] [--only LIST] [--connections N]
              [--handles N] [--files N] [--big-mib N] [--skip-build]
              [--binary PATH] [--keep] [--max-minutes M]

What it does (docs/BENCHMARKS.md has the method and the numbers):

1. `cargo build --release -p opportune` (incremental; cargo decides).
2. Per round: starts a fresh Opportune and a fresh Samba (conformance/servers.py)
   on free 127.0.0.1 ports, each with its own share directory of the same layout,
   then runs every benchmark against both, alternating (the server that goes
   first alternates from round to round), then stops both.
   Benchmarks (names for --only):
     idle     N idle authenticated tree-connected smbclient connections;
              server memory (PSS and RSS summed over the server's process
              group) before/after, divided by N
     handles  one connection opening H files (smbclient `open`); memory per handle
     torture  smbtorture smb2.bench.path-contention-shared, oplock1, echo
              (--option=torture:timelimit=8)
     get/put  smbclient get of a 1 GiB file to /dev/null, put of a 1 GiB file
     meta     create+write 4 KiB / allinfo / ls / del of F files in F/1000 dirs
              through smbclient, one smbclient run per phase
     iperf    iperf3 loopback single stream (the ceiling; no server involved)
   For every benchmark the server's CPU time (user+sys, whole process group,
   reaped children included) is recorded too, so the table can show CPU per op,
   which is much less noisy than throughput on a shared 2-core machine.
3. Prints one table (medians over rounds, Opportune/Samba ratio, spread) and
   writes all raw numbers to bench/results/bench-YYYYmmdd-HHMMSS.json.

Everything started here runs in its own process group and is killed on exit,
on errors and on Ctrl-C.  Every wait has a timeout.  Python 3.11 stdlib only.
"""

from __future__ import annotations

import argparse
import array
import datetime
import errno
import json
import os
import pathlib
import platform
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "conformance"))

import servers  # noqa: E402

KINDS = ("opportune", "samba")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
PFN_MASK = (1 << 55) - 1
BENCHES = ("idle", "handles", "torture", "get", "put", "meta", "iperf")
TORTURE = (  # (metric key, smbtorture test, what is counted)
    ("path_contention", "smb2.bench.path-contention-shared", "open"),
    ("oplock1", "smb2.bench.oplock1", "ops"),
    ("echo", "smb2.bench.echo", "echo"),
)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- processes

LIVE: dict[int, subprocess.Popen] = {}  # pid -> Popen, all in their own group


def spawn(cmd, **kw) -> subprocess.Popen:
    p = subprocess.Popen(cmd, start_new_session=True, **kw)
    LIVE[p.pid] = p
    return p


def kill(p: subprocess.Popen, grace: float = 3.0) -> None:
    """SIGTERM the process group of p, SIGKILL after grace seconds."""
    if p.poll() is None:
        servers.signal_group(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    servers.signal_group(p.pid, signal.SIGKILL)
    try:
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    LIVE.pop(p.pid, None)


def kill_all() -> None:
    for p in list(LIVE.values()):
        kill(p, grace=1.0)


def run(cmd, *, timeout: float, stdin=None, stdout=None, env=None, cwd=None):
    """Run cmd in its own process group; kill the group on timeout.

    Returns (exit code, elapsed seconds, stdout bytes or None)."""
    capture = stdout is None
    t0 = time.monotonic()
    p = spawn(cmd, stdin=stdin if stdin is not None else subprocess.DEVNULL,
              stdout=subprocess.PIPE if capture else stdout,
              stderr=subprocess.STDOUT, env=env, cwd=cwd)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(p)
        raise BenchError(f"{os.path.basename(cmd[0])} timed out after {timeout:.0f} s")
    finally:
        if p.poll() is None:
            kill(p)
        LIVE.pop(p.pid, None)
    return p.returncode, time.monotonic() - t0, out


# -------------------------------------------------------- /proc accounting

def group_pids(pgid: int) -> list[int]:
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:  # field 5 (pgrp); fields[0] is field 3
            pids.append(int(d))
    return pids


def group_cpu(pgid: int) -> float:
    """User+system seconds of the group: live processes plus reaped children."""
    total = 0
    for pid in group_pids(pgid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        # utime stime cutime cstime = fields 14..17 -> index 11..14 here
        total += sum(int(x) for x in fields[11:15])
    return total / CLK_TCK


def group_memory(pgid: int) -> dict:
    """Summed RSS and PSS (KiB) and the number of processes of the group."""
    rss = pss = n = 0
    for pid in group_pids(pgid):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                text = f.read()
        except OSError:
            continue
        m_rss = re.search(r"^Rss:\s+(\d+) kB", text, re.M)
        m_pss = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
        if m_rss and m_pss:
            rss += int(m_rss.group(1))
            pss += int(m_pss.group(1))
            n += 1
    return {"rss_kib": rss, "pss_kib": pss, "processes": n,
            "footprint_kib": footprint_kib(pgid)}


def footprint_kib(pgid: int) -> int | None:
    """Physical memory of the whole process group with every page counted once:
    the distinct page frames (from /proc/PID/pagemap, root only) of all its
    processes.  Unlike summed RSS it does not count pages a forked child still
    shares with its parent several times, and unlike PSS it does not get smaller
    when unrelated processes (say 200 smbclients) map the same libraries."""
    frames: set[int] = set()
    for pid in group_pids(pgid):
        try:
            with open(f"/proc/{pid}/maps") as f:
                maps = f.read().splitlines()
            pm = open(f"/proc/{pid}/pagemap", "rb")
        except OSError:
            continue
        with pm:
            for line in maps:
                parts = line.split()
                if len(parts) > 5 and parts[5] in ("[vsyscall]", "[vvar]"):
                    continue
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                npages = (hi - lo) // 4096
                try:
                    pm.seek(lo // 4096 * 8)
                    raw = pm.read(npages * 8)
                except OSError:
                    continue
                entries = array.array("Q")
                entries.frombytes(raw[: len(raw) // 8 * 8])
                for e in entries:
                    if e >> 63:  # present in RAM
                        frames.add(e & PFN_MASK)
    if not frames or frames == {0}:
        return None  # no PFNs visible (not root)
    return len(frames) * PAGE_KIB


def loadavg() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def cpu_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, for the busy fraction."""
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    idle = vals[3] + vals[4]
    return sum(vals) - idle, sum(vals)


# ----------------------------------------------------------------- clients

class Target:
    """A running server as the clients see it."""

    def __init__(self, srv: servers.Server, client_conf: pathlib.Path):
        self.srv = srv
        self.kind = srv.kind
        self.conf = client_conf

    @property
    def pgid(self) -> int:
        return self.srv.proc.pid

    def smbclient(self, *extra) -> list[str]:
        return ["smbclient", "-s", str(self.conf), "-p", str(self.srv.port),
                self.srv.unc, "-U", self.srv.credentials, *extra]

    def smbtorture(self, test: str, timelimit: int) -> list[str]:
        return ["smbtorture", "-p", str(self.srv.port), f"--configfile={self.conf}",
                self.srv.unc, "-U", self.srv.credentials,
                f"--option=torture:timelimit={timelimit}", test]

    def check_alive(self) -> None:
        code = self.srv.exited()
        if code is not None:
            raise BenchError(f"{self.kind} server exited ({servers.describe_exit(code)}); "
                             f"log tail:\n{self.srv.log_tail()}")


def children_cpu() -> float:
    """User+system seconds of our reaped children: the clients (the servers are
    reaped only when a round ends)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def measured(t: Target, fn):
    """Run fn() and add the server's and the clients' CPU seconds and the
    machine's busy share."""
    cpu0 = group_cpu(t.pgid)
    ccpu0 = children_cpu()
    b0, tot0 = cpu_busy()
    load = loadavg()
    res = fn()
    b1, tot1 = cpu_busy()
    res["server_cpu_s"] = round(group_cpu(t.pgid) - cpu0, 3)
    res["client_cpu_s"] = round(children_cpu() - ccpu0, 3)
    res["machine_busy"] = round((b1 - b0) / max(1, tot1 - tot0), 3)
    res["loadavg_before"] = load
    t.check_alive()
    return res


class HeldClient:
    """An interactive smbclient fed through a pipe: the connection (negotiate,
    session setup, tree connect) stays open as long as stdin stays open.
    stdbuf -oL makes its prompts and answers visible line by line."""

    MARK = b"Current directory is"

    def __init__(self, t: Target):
        self.p = spawn(["stdbuf", "-oL", *t.smbclient()], stdin=subprocess.PIPE,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.buf = b""
        self.scan = 0
        self.marks_seen = 0
        self.truncated = False
        os.set_blocking(self.p.stdout.fileno(), False)

    def send(self, text: str) -> None:
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def pump(self) -> int:
        """Read what is there; return bytes read (0 on nothing, -1 on EOF)."""
        try:
            chunk = os.read(self.p.stdout.fileno(), 1 << 16)
        except BlockingIOError:
            return 0
        if not chunk:
            return -1
        self.buf += chunk
        pos = self.buf.find(self.MARK, self.scan)
        while pos >= 0:
            self.marks_seen += 1
            self.scan = pos + len(self.MARK)
            pos = self.buf.find(self.MARK, self.scan)
        self.scan = max(self.scan, len(self.buf) - len(self.MARK) + 1)
        if len(self.buf) > (4 << 20):  # keep a tail so that big outputs stay cheap
            drop = len(self.buf) - (1 << 16)
            self.buf = self.buf[drop:]
            self.scan = max(0, self.scan - drop)
            self.truncated = True
        return len(chunk)

    def close(self) -> None:
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        kill(self.p, grace=1.0)


def wait_marks(clients: list[HeldClient], want: int, timeout: float, what: str) -> None:
    """Until every client has printed `want` pwd answers (or timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        pending = [c for c in clients if c.marks_seen < want]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise BenchError(f"{what}: {len(pending)} of {len(clients)} smbclients did not "
                             f"answer within {timeout:.0f} s; last output: "
                             f"{pending[0].buf[-300:].decode(errors='replace')!r}")
        fds = {c.p.stdout.fileno(): c for c in pending}
        r, _, _ = select.select(list(fds), [], [], 0.5)
        for fd in r:
            if fds[fd].pump() < 0 and fds[fd].marks_seen < want:
                raise BenchError(f"{what}: smbclient exited: "
                                 f"{fds[fd].buf[-300:].decode(errors='replace')!r}")


# --------------------------------------------------------------- benchmarks

def bench_idle(t: Target, n: int) -> dict:
    """Memory per idle connection."""
    time.sleep(0.5)
    before = group_memory(t.pgid)
    clients: list[HeldClient] = []
    try:
        t0 = time.monotonic()
        batch = 25  # connect in batches so that 2 cores are not swamped
        for i in range(0, n, batch):
            new = [HeldClient(t) for _ in range(min(batch, n - i))]
            clients += new
            for c in new:
                c.send("pwd\n")
            wait_marks(new, 1, 60, "idle connections")
        connect_s = time.monotonic() - t0
        time.sleep(1.0)
        during = group_memory(t.pgid)
        # every client still connected: ask all of them once more
        for c in clients:
            c.send("pwd\n")
        wait_marks(clients, 2, 60, "idle connections (second pwd)")
    finally:
        for c in clients:
            try:
                c.p.stdin.close()
            except OSError:
                pass
        for c in clients:
            c.close()
    return {
        "connections": n, "before": before, "during": during,
        "connect_s": round(connect_s, 2),
        "kib_per_conn": per(before, during, "footprint_kib", n),
        "pss_kib_per_conn": round((during["pss_kib"] - before["pss_kib"]) / n, 1),
        "rss_kib_per_conn": round((during["rss_kib"] - before["rss_kib"]) / n, 1),
    }


def per(before: dict, during: dict, key: str, n: int) -> float | None:
    if before.get(key) is None or during.get(key) is None or not n:
        return None
    return round((during[key] - before[key]) / n, 3)


def wait_fifo_reader(fifo: pathlib.Path, proc: subprocess.Popen, timeout: float, what: str) -> int:
    """Open fifo for writing once a reader (smbclient's `put FIFO`) has it open;
    that tells us smbclient has done every command before that put."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno != errno.ENXIO:
                raise
        if proc.poll() is not None:
            raise BenchError(f"{what}: smbclient exited early (exit {proc.returncode})")
        if time.monotonic() > deadline:
            raise BenchError(f"{what}: smbclient did not get there within {timeout:.0f} s")
        time.sleep(0.05)


def bench_handles(t: Target, h: int, scratch: pathlib.Path) -> dict:
    """Memory per open handle: one connection opens h existing files and keeps
    them open.  smbclient reads a script from a file (a pipe would stall it:
    it polls the descriptor but reads through stdio); `put FIFO name` blocks
    in the local open of the FIFO, which holds the connection at the two
    points where we measure."""
    d = t.srv.share_dir / "handles"
    d.mkdir(exist_ok=True)
    for i in range(h):
        (d / f"h{i}").touch()
    fifo_a, fifo_b = scratch / f"hold-a-{t.kind}", scratch / f"hold-b-{t.kind}"
    for f in (fifo_a, fifo_b):
        if f.exists():
            f.unlink()
        os.mkfifo(f)
    script = scratch / f"handles-{t.kind}.txt"
    script.write_text(f"put {fifo_a} hold_a\n"
                      + "".join(f"open handles\\h{i}\n" for i in range(h))
                      + f"put {fifo_b} hold_b\nquit\n")
    outp = scratch / f"handles-{t.kind}.out"
    with open(script, "rb") as fin, open(outp, "wb") as fout:
        p = spawn(t.smbclient(), stdin=fin, stdout=fout, stderr=subprocess.STDOUT)
    try:
        fd = wait_fifo_reader(fifo_a, p, 30, "handles")
        time.sleep(0.5)
        before = group_memory(t.pgid)
        os.close(fd)
        t0 = time.monotonic()
        fd = wait_fifo_reader(fifo_b, p, 300, "handles")
        open_s = time.monotonic() - t0
        time.sleep(0.5)
        during = group_memory(t.pgid)
        os.close(fd)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
    finally:
        kill(p)
        shutil.rmtree(d, ignore_errors=True)
    text = outp.read_text(errors="replace")
    ok = text.count("open file ")
    errors = re.findall(r"NT_STATUS_\w+", text)
    if ok == 0:
        raise BenchError(f"handles: no open succeeded: {text[-300:]!r}")
    return {
        "handles_requested": h, "handles_opened": ok, "errors": len(errors),
        "first_errors": errors[:5],
        "before": before, "during": during, "open_s": round(open_s, 2),
        "kib_per_handle": per(before, during, "footprint_kib", ok),
        "pss_kib_per_handle": round((during["pss_kib"] - before["pss_kib"]) / ok, 3),
        "rss_kib_per_handle": round((during["rss_kib"] - before["rss_kib"]) / ok, 3),
    }


NUM_RE = {
    "open": re.compile(r"open\[num/s=(\d+)"),
    "echo": re.compile(r"echo\[num/s=(\d+)"),
    "ops": re.compile(r"([\d.]+) ops/second"),
}


def bench_torture(t: Target, key: str, test: str, what: str, timelimit: int) -> dict:
    code, secs, out = run(t.smbtorture(test, timelimit), timeout=timelimit + 60)
    text = out.decode(errors="replace")
    vals = NUM_RE[what].findall(text)
    # stderr's \r-terminated progress lines can run into stdout's lines
    ok = re.search(r"(?:^|[\r\n])success: ", text) is not None
    if re.search(r"(?:^|[\r\n])(?:failure|error): ", text):
        ok = False
    if not vals:
        raise BenchError(f"{test}: no rate in the output (exit {code}): {text[-400:]!r}")
    # path-contention / echo: one line per second, then one line for the whole
    # run (its maxlat is the run's maximum) -> the last line is the run's rate.
    # oplock1: a running average printed after every round trip -> the last one.
    rate = float(vals[-1])
    failure = None
    if not ok:  # a failed run's rate covers a fraction of the time limit: not used
        m = re.search(r"(?:failure|error): [^\[]*\[\s*([^\]]*)\]", text)
        failure = (m.group(1).strip() if m else text[-300:])[:500]
    return {"test": test, "rate": rate if ok else None, "partial_rate": None if ok else rate,
            "failure": failure, "success": ok, "exit": code,
            "seconds": round(secs, 2), "timelimit": timelimit,
            "per_second": [float(v) for v in vals[:-1]][:60] if what != "ops" else None}


XFER_RE = re.compile(r"\(([\d.]+) (?:KiloBytes/sec|kb/s)\)")


def bench_get(t: Target, name: str, size: int) -> dict:
    code, secs, out = run(t.smbclient("-c", f"get {name} /dev/null"), timeout=600)
    return xfer_result("get", code, secs, out, size)


def warm_up(t: Target, what: str, big: pathlib.Path) -> None:
    """One unmeasured transfer right before the measured one.  Without it the
    first put of a round ran at ~350 MB/s and the second at ~1,500 MB/s whatever
    the server (the kernel had to find fresh page-cache pages for the first;
    the second reuses the pages freed by deleting the first's file)."""
    if what == "get":
        run(t.smbclient("-c", f"get {big.name} /dev/null"), timeout=600)
    else:
        try:
            run(t.smbclient("-c", f"put {big} putbig"), timeout=600)
        finally:
            try:
                (t.srv.share_dir / "putbig").unlink()
            except FileNotFoundError:
                pass


def bench_put(t: Target, local: pathlib.Path, size: int) -> dict:
    try:
        code, secs, out = run(t.smbclient("-c", f"put {local} putbig"), timeout=600)
        got = (t.srv.share_dir / "putbig").stat().st_size if (t.srv.share_dir / "putbig").exists() else -1
    finally:
        try:
            (t.srv.share_dir / "putbig").unlink()
        except FileNotFoundError:
            pass
    res = xfer_result("put", code, secs, out, size)
    if got != size:
        raise BenchError(f"put: server file has {got} bytes, expected {size}")
    return res


def xfer_result(what, code, secs, out, size) -> dict:
    text = out.decode(errors="replace")
    m = XFER_RE.search(text)
    if code != 0 or not m or "NT_STATUS" in text:
        raise BenchError(f"{what}: smbclient failed (exit {code}): {text[-400:]!r}")
    # smbclient times the transfer itself (open to close, no connect): KiB/s
    mbps = float(m.group(1)) * 1024 / 1e6
    return {"bytes": size, "mb_per_s": round(mbps, 1), "wall_s": round(secs, 3),
            "wall_mb_per_s": round(size / secs / 1e6, 1)}


def bench_meta(t: Target, files: int, per_dir: int, f4k: pathlib.Path, scratch: pathlib.Path) -> dict:
    """create+write 4 KiB, allinfo, ls, del of `files` files; one smbclient per phase."""
    ndirs = max(1, (files + per_dir - 1) // per_dir)
    names = [(d, i) for d in range(ndirs) for i in range(min(per_dir, files - d * per_dir))]
    root = t.srv.share_dir / "meta"
    shutil.rmtree(root, ignore_errors=True)
    phases = {
        "create": ["mkdir meta"] + [f"mkdir meta\\d{d}" for d in range(ndirs)]
                  + [f"put {f4k} meta\\d{d}\\f{i}" for d, i in names],
        "stat": [f"allinfo meta\\d{d}\\f{i}" for d, i in names],
        "list": [f"ls meta\\d{d}\\*" for d in range(ndirs)],
        "delete": [f"del meta\\d{d}\\f{i}" for d, i in names]
                  + [f"rmdir meta\\d{d}" for d in range(ndirs)] + ["rmdir meta"],
    }
    res: dict = {"files": len(names), "dirs": ndirs, "phases": {}}
    try:
        for phase, cmds in phases.items():
            script = scratch / f"meta-{t.kind}-{phase}.txt"
            script.write_text("\n".join(cmds) + "\nquit\n")
            outp = scratch / f"meta-{t.kind}-{phase}.out"
            cpu0 = group_cpu(t.pgid)
            with open(script, "rb") as fin, open(outp, "wb") as fout:
                code, secs, _ = run(t.smbclient(), stdin=fin, stdout=fout, timeout=900)
            cpu = group_cpu(t.pgid) - cpu0
            text = outp.read_text(errors="replace")
            errors = re.findall(r"NT_STATUS_\w+", text)
            ph = {"seconds": round(secs, 3), "files_per_s": round(len(names) / secs, 1),
                  "server_cpu_s": round(cpu, 3), "errors": len(errors), "exit": code,
                  "first_errors": errors[:5]}
            if phase == "list":
                ph["entries_listed"] = len(re.findall(r"^\s+f\d+\s+A\s+4096\s", text, re.M))
            if phase == "create":
                ph["files_on_disk"] = sum(1 for _ in root.glob("d*/f*")) if root.exists() else 0
            res["phases"][phase] = ph
            t.check_alive()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    total = sum(p["seconds"] for p in res["phases"].values())
    res["files_per_s"] = round(len(names) / total, 1)
    res["server_cpu_s"] = round(sum(p["server_cpu_s"] for p in res["phases"].values()), 3)
    res["errors"] = sum(p["errors"] for p in res["phases"].values())
    return res


def bench_iperf(seconds: int) -> dict:
    port = servers.free_port()
    srv = spawn(["iperf3", "-s", "-B", servers.HOST, "-p", str(port)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection((servers.HOST, port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or srv.poll() is not None:
                    raise BenchError("iperf3 server did not start")
                time.sleep(0.1)
        time.sleep(0.2)
        code, secs, out = run(["iperf3", "-c", servers.HOST, "-p", str(port), "-t", str(seconds),
                               "-J"], timeout=seconds + 30)
    finally:
        kill(srv)
    try:
        j = json.loads(out)
        bps = j["end"]["sum_received"]["bits_per_second"]
    except (ValueError, KeyError) as e:
        raise BenchError(f"iperf3 output not understood ({e}): {out[-300:]!r}")
    return {"mb_per_s": round(bps / 8 / 1e6, 1), "seconds": seconds}


# -------------------------------------------------------------------- setup

def build(args) -> pathlib.Path:
    if args.binary:
        return pathlib.Path(args.binary).resolve()
    if args.rev:
        return build_rev(args.rev)
    binary = ROOT / "target" / "release" / "opportune"
    if args.skip_build:
        if not binary.exists():
            raise BenchError(f"{binary} missing and --skip-build given")
        return binary
    if not shutil.which("cargo"):
        raise BenchError("cargo not found (install Rust, or pass --binary PATH)")
    print("building: cargo build --release -p opportune  (incremental; minutes on a cold tree)",
          flush=True)
    code, secs, out = run(["cargo", "build", "--release", "-p", "opportune"],
                          timeout=3600, cwd=ROOT)
    if code != 0:
        raise BenchError("cargo build failed:\n" + out.decode(errors="replace")[-3000:])
    print(f"  built in {secs:.0f} s", flush=True)
    return binary


def build_rev(rev: str) -> pathlib.Path:
    """Build a committed revision (git archive, not the working tree) so that a
    working tree being edited cannot change or break what is measured.  The
    source goes to bench/results/build/src-<commit>/, the target directory
    bench/results/build/target/ is shared between revisions (dependencies
    build once), the binary is kept as bench/results/build/opportune-<commit>."""
    code, _, out = run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"],
                       timeout=20)
    if code != 0:
        raise BenchError(f"unknown revision {rev!r}")
    commit = out.decode().strip()[:12]
    bdir = HERE / "results" / "build"
    binary = bdir / f"opportune-{commit}"
    if binary.exists():
        print(f"using {binary.relative_to(ROOT)} (built before)", flush=True)
        return binary
    tree = bdir / f"src-{commit}"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    archive = bdir / f"{commit}.tar"
    code, _, out = run(["git", "-C", str(ROOT), "archive", "-o", str(archive), commit], timeout=120)
    if code != 0:
        raise BenchError("git archive failed: " + out.decode(errors="replace")[-500:])
    code, _, out = run(["tar", "-xf", str(archive), "-C", str(tree)], timeout=120)
    archive.unlink()
    if code != 0:
        raise BenchError("tar failed: " + out.decode(errors="replace")[-500:])
    print(f"building {rev} ({commit}) from git archive "
          "(a cold build takes a few minutes on 2 cores)", flush=True)
    env = dict(os.environ, CARGO_TARGET_DIR=str(bdir / "target"))
    try:
        code, secs, out = run(["cargo", "build", "--release", "-p", "opportune"], timeout=3600,
                              cwd=tree, env=env)
        if code != 0:
            raise BenchError(f"cargo build of {commit} failed:\n"
                             + out.decode(errors="replace")[-3000:])
        shutil.copy2(bdir / "target" / "release" / "opportune", binary)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    print(f"  built in {secs:.0f} s", flush=True)
    return binary


def ensure_iperf3() -> str | None:
    """Path of iperf3, installing it with apt-get as root if missing; None if not possible."""
    path = shutil.which("iperf3")
    if path:
        return path
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    print("installing iperf3 (apt-get) ...", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        code, _, _ = run(["apt-get", "install", "-y", "--no-install-recommends", "iperf3"],
                         timeout=300, env=env)
        if code != 0:
            run(["apt-get", "update"], timeout=300, env=env)
            run(["apt-get", "install", "-y", "--no-install-recommends", "iperf3"],
                timeout=300, env=env)
    except BenchError:
        return None
    return shutil.which("iperf3")


def check_tools(args) -> dict:
    missing = [t for t in ("smbclient", "smbtorture", "stdbuf") if not shutil.which(t)]
    if not (shutil.which("smbd") or os.path.exists("/usr/sbin/smbd")):
        missing.append("smbd")
    if missing:
        raise BenchError(f"missing tools: {', '.join(missing)} "
                         "(scripts/install-deps --with-samba installs Samba and its clients)")
    if os.geteuid() != 0:
        raise BenchError("run as root: the reference Samba share uses `force user = root` and "
                         "a root smbpasswd entry (see conformance/servers.py)")
    versions = {}
    for tool, flag in (("smbd", "--version"), ("smbclient", "--version")):
        try:
            _, _, out = run([shutil.which(tool) or "/usr/sbin/smbd", flag], timeout=20)
            versions[tool] = out.decode(errors="replace").strip()
        except BenchError:
            pass
    return versions


def make_big_file(path: pathlib.Path, size: int) -> None:
    if path.exists() and path.stat().st_size == size:
        return
    with open("/dev/urandom", "rb") as src, open(path, "wb") as dst:
        left = size
        while left:
            chunk = src.read(min(left, 1 << 22))
            dst.write(chunk)
            left -= len(chunk)


def negotiated_dialect(t: Target) -> str:
    try:
        _, _, out = run(t.smbclient("-d", "10", "-c", "pwd"), timeout=30)
    except BenchError:
        return "?"
    m = re.search(rb"negotiated dialect\[(\w+)\]", out)
    return m.group(1).decode() if m else "?"


# -------------------------------------------------------------------- table

# key, label, goal, extractor(result-of-one-server-one-round) -> float | None
def _get(*path):
    def f(r):
        for p in path:
            if r is None or p not in r:
                return None
            r = r[p]
        return r
    return f


def _ok(key):
    def f(r):
        t = r.get(key)
        return t["rate"] if t and t.get("success") else None
    return f


def _cpu_per(key, scale, count, who="server"):
    def f(rounds_entry):
        r = rounds_entry.get(key)
        if not r or not r.get(f"{who}_cpu_s") or r.get("success") is False:
            return None
        n = count(r)
        return r[f"{who}_cpu_s"] * scale / n if n else None
    return f


def _client_busy(key):
    """The client's CPU as a share of one core over the run (smbtorture is one thread)."""
    def f(rounds_entry):
        r = rounds_entry.get(key)
        if not r or not r.get("client_cpu_s") or not r.get("success") or not r.get("seconds"):
            return None
        return 100 * r["client_cpu_s"] / r["seconds"]
    return f


METRICS = [
    ("path_contention", "path-contention-shared, opens/s", "higher", _ok("path_contention")),
    ("oplock1", "oplock1 break ping-pong, ops/s", "higher", _ok("oplock1")),
    ("echo", "echo, echoes/s", "higher", _ok("echo")),
    ("get", "{big} get, MB/s", "higher", _get("get", "mb_per_s")),
    ("put", "{big} put, MB/s", "higher", _get("put", "mb_per_s")),
    ("meta", "metadata, all 4 phases, files/s", "higher", _get("meta", "files_per_s")),
    ("meta_create", "  create+write 4 KiB, files/s", "higher", _get("meta", "phases", "create", "files_per_s")),
    ("meta_stat", "  allinfo, files/s", "higher", _get("meta", "phases", "stat", "files_per_s")),
    ("meta_list", "  ls, entries/s", "higher", _get("meta", "phases", "list", "files_per_s")),
    ("meta_delete", "  del, files/s", "higher", _get("meta", "phases", "delete", "files_per_s")),
    ("idle", "memory per idle connection, KiB", "lower", _get("idle", "kib_per_conn")),
    ("idle_rss", "  same, RSS summed over processes, KiB", "lower", _get("idle", "rss_kib_per_conn")),
    ("handles", "memory per open handle, KiB", "lower", _get("handles", "kib_per_handle")),
    ("base_mem", "server memory at start, MiB", "lower",
     lambda r: r["start_memory"]["footprint_kib"] / 1024
     if r.get("start_memory", {}).get("footprint_kib") else None),
    ("cpu_echo", "server CPU per echo, us", "lower",
     _cpu_per("echo", 1e6, lambda r: r["rate"] * r["timelimit"])),
    ("ccpu_echo", "client CPU per echo, us", "lower",
     _cpu_per("echo", 1e6, lambda r: r["rate"] * r["timelimit"], who="client")),
    ("cbusy_echo", "client busy during echo, % of one core", "lower", _client_busy("echo")),
    ("cpu_open", "server CPU per open+close (path-cont.), us", "lower",
     _cpu_per("path_contention", 1e6, lambda r: r["rate"] * r["timelimit"])),
    ("cpu_oplock", "server CPU per oplock1 op, us", "lower",
     _cpu_per("oplock1", 1e6, lambda r: r["rate"] * r["timelimit"])),
    ("cpu_get", "server CPU per GiB of get, s", "lower", _cpu_per("get", 2**30, lambda r: r["bytes"])),
    ("cpu_put", "server CPU per GiB of put, s", "lower", _cpu_per("put", 2**30, lambda r: r["bytes"])),
    ("cpu_meta", "server CPU per file (4 phases), us", "lower", _cpu_per("meta", 1e6, lambda r: r["files"])),
    ("ccpu_meta", "client CPU per file (4 phases), us", "lower",
     _cpu_per("meta", 1e6, lambda r: r["files"], who="client")),
]


def fmt(v: float | None) -> str:
    if v is None:
        return "-"
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def size_label(n: int) -> str:
    return f"{n >> 30} GiB" if n >= 2**30 and n % 2**30 == 0 else f"{n >> 20} MiB"


def summarize(rounds: list[dict], big: int) -> list[dict]:
    rows = []
    for key, label, goal, ext in METRICS:
        label = label.replace("{big}", size_label(big))
        row = {"key": key, "label": label, "goal": goal}
        for kind in KINDS:
            vals = []
            for r in rounds:
                try:
                    v = ext(r["servers"][kind])
                except (KeyError, TypeError, ZeroDivisionError):
                    v = None
                if v is not None:
                    vals.append(float(v))
            row[kind] = vals
            row[kind + "_median"] = statistics.median(vals) if vals else None
            med = row[kind + "_median"]
            row[kind + "_spread"] = ((max(vals) - min(vals)) / abs(med)
                                     if len(vals) > 1 and med else None)
        o, s = row["opportune_median"], row["samba_median"]
        row["ratio"] = o / s if (o is not None and s) else None
        if any(row[k] for k in KINDS):
            rows.append(row)
    return rows


def print_table(rows, rounds, ceiling, notes, out=sys.stdout):
    head = ("metric", "Opportune", "Samba", "ratio O/S", "better", "spread O / S")
    lines = []
    for r in rows:
        sp = " / ".join("-" if r[k + "_spread"] is None else f"{100 * r[k + '_spread']:.0f}%"
                        for k in KINDS)
        lines.append((r["label"], fmt(r["opportune_median"]), fmt(r["samba_median"]),
                      "-" if r["ratio"] is None else f"{r['ratio']:.2f}", r["goal"], sp))
    w = [max(len(str(x[i])) for x in [head, *lines]) for i in range(len(head))]
    def line(cells):
        return "| " + " | ".join(str(c).ljust(w[i]) if i == 0 else str(c).rjust(w[i])
                                 for i, c in enumerate(cells)) + " |"
    print(line(head), file=out)
    print("|" + "|".join("-" * (x + 2) for x in w) + "|", file=out)
    for l in lines:
        print(line(l), file=out)
    print(file=out)
    n = len(rounds)
    print(f"Medians over {n} round(s); spread = (max-min)/median over rounds, per server.",
          file=out)
    if ceiling:
        print(f"Ceiling: iperf3 loopback TCP, one stream: {fmt(statistics.median(ceiling))} MB/s "
              f"(rounds: {', '.join(fmt(c) for c in ceiling)}).", file=out)
    spreads = [r[k + "_spread"] for r in rows for k in KINDS if r[k + "_spread"] is not None]
    busy = [b for r in rounds for b in r.get("busy_idle_machine", []) if b is not None]
    loads = [r["loadavg_start"] for r in rounds]
    if spreads:
        worst = max(rows, key=lambda r: max(r[k + "_spread"] or 0 for k in KINDS))
        print(f"Noise: median spread {100 * statistics.median(spreads):.0f}%, worst "
              f"{100 * max(spreads):.0f}% ({worst['label'].strip()}); load average at round "
              f"start {', '.join(f'{l:.2f}' for l in loads)}.", file=out)
    else:
        print(f"Noise: one round only, no spread; load average at start "
              f"{', '.join(f'{l:.2f}' for l in loads)}.", file=out)
    if busy:
        print(f"Machine busy while nothing of ours ran: {100 * max(busy):.0f}% of 2 cores at most "
              "(other users of the machine).", file=out)
    for n_ in notes:
        print("Note: " + n_, file=out)


# --------------------------------------------------------------------- main

DERIVED_NOTE = re.compile(r"^(round \d+ |negotiated dialect|\d+ benchmark error|echo: the client)")


def report(result: dict, notes: list[str], out=sys.stdout) -> list[dict]:
    """Summary rows, the derived notes, and the printed table for a result."""
    notes[:] = [n for n in notes if not DERIVED_NOTE.match(n)]
    big = result["params"]["big_bytes"]
    ceiling = result.get("ceiling_mb_per_s") or []
    rows = summarize(result["rounds"], big)
    errs = [e for r in result["rounds"] for e in r["errors"]]
    if errs:
        notes.append(f"{len(errs)} benchmark error(s), see the JSON: "
                     + "; ".join(f"{e.get('server', '')} {e.get('bench', '')}: "
                                 f"{e['error'].splitlines()[0][:120]}" for e in errs[:6]))
    for r in result["rounds"]:
        for kind in KINDS:
            m = r["servers"][kind].get("meta")
            if m and m.get("errors"):
                notes.append(f"round {r['round']} {kind}: metadata workload saw {m['errors']} "
                             "NT_STATUS errors (see JSON phases.*.first_errors)")
            h = r["servers"][kind].get("handles")
            if h and h["handles_opened"] != h["handles_requested"]:
                notes.append(f"round {r['round']} {kind}: only {h['handles_opened']} of "
                             f"{h['handles_requested']} opens succeeded")
            for key, test, _ in TORTURE:
                tr = r["servers"][kind].get(key)
                if tr and not tr["success"]:
                    why = tr.get("failure") or "no success line"
                    notes.append(f"round {r['round']} {kind}: {test} FAILED, its rate is not "
                                 f"used: {why.strip().splitlines()[-1][:160]}")
    busy = next((r for r in rows if r["key"] == "cbusy_echo"), None)
    per = next((r for r in rows if r["key"] == "ccpu_echo"), None)
    if busy and per and busy.get("opportune_median") and per.get("opportune_median") \
            and busy["opportune_median"] >= 90:
        notes.append(f"echo: the client (smbtorture, one thread) was {busy['opportune_median']:.0f}% busy "
                     f"against Opportune and needs {per['opportune_median']:.1f} us of CPU per echo "
                     f"whichever server answers, so no server gets more than about "
                     f"{1e6 / per['opportune_median']:,.0f} echoes/s from it")
    dial = {k: sorted({r["servers"][k].get("dialect", "?") for r in result["rounds"]}) for k in KINDS}
    notes.append("negotiated dialect: " + ", ".join(f"{k} {'/'.join(v)}" for k, v in dial.items())
                 + "; no signing, no encryption (client defaults)")
    print(file=out)
    print_table(rows, result["rounds"], ceiling, notes, out=out)
    return rows


def idle_busy(seconds=1.0) -> float:
    b0, t0 = cpu_busy()
    time.sleep(seconds)
    b1, t1 = cpu_busy()
    return round((b1 - b0) / max(1, t1 - t0), 3)


def main() -> int:
    ap = argparse.ArgumentParser(description="Opportune vs Samba benchmark (loopback).")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true",
                    help="1 round, 256 MiB instead of 1 GiB, 2,000 files, 50 connections, "
                         "timelimit 4 s")
    ap.add_argument("--only", default=",".join(BENCHES),
                    help=f"comma-separated subset of {','.join(BENCHES)}")
    ap.add_argument("--connections", type=int, help="idle connections (default 200; quick 50)")
    ap.add_argument("--handles", type=int, help="open handles on one connection (default 5000; quick 1000)")
    ap.add_argument("--files", type=int, help="metadata workload files (default 20000; quick 2000)")
    ap.add_argument("--big-mib", type=int, help="get/put file size in MiB (default 1024; quick 256)")
    ap.add_argument("--timelimit", type=int, help="smbtorture torture:timelimit (default 8; quick 4)")
    ap.add_argument("--binary", help="use this opportune binary, do not build")
    ap.add_argument("--rev", help="build and measure this git revision (e.g. HEAD) from a "
                    "clean `git archive` instead of the working tree")
    ap.add_argument("--skip-build", action="store_true", help="use target/release/opportune as is")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory and server logs")
    ap.add_argument("--max-minutes", type=float, default=90,
                    help="stop starting new benchmarks after this long (default 90)")
    ap.add_argument("--opportune-toml", default="", metavar="TEXT",
                    help="top-level settings for Opportune's --config file, e.g. "
                         "'kernel_oplocks = true' (Samba keeps its defaults)")
    ap.add_argument("--report", metavar="JSON",
                    help="only print the table of an earlier run (bench/results/*.json)")
    args = ap.parse_args()
    if args.report:
        saved = json.loads(pathlib.Path(args.report).read_text())
        report(saved, saved.get("notes", []))
        return 0
    q = args.quick
    rounds_n = 1 if q else max(1, min(args.rounds, 50))
    conns = args.connections or (50 if q else 200)
    handles = args.handles or (1000 if q else 5000)
    files = args.files or (2000 if q else 20000)
    big = (args.big_mib or (256 if q else 1024)) * 2**20
    timelimit = args.timelimit or (4 if q else 8)
    only = [b.strip() for b in args.only.split(",") if b.strip()]
    bad = [b for b in only if b not in BENCHES]
    if bad:
        ap.error(f"unknown benchmark(s) {bad}; choose from {BENCHES}")
    deadline = time.monotonic() + args.max_minutes * 60

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < min(hard, 8192):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))

    notes: list[str] = []
    started = datetime.datetime.now()
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="opportune-bench-"))
    result: dict = {
        "started": started.isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "kernel": platform.release(),
                 "python": platform.python_version()},
        "params": {"rounds": rounds_n, "quick": q, "connections": conns, "handles": handles,
                   "files": files, "big_bytes": big, "timelimit": timelimit, "only": only},
        "rounds": [], "notes": notes,
    }
    live_servers: list[servers.Server] = []
    rc = 0
    try:
        result["versions"] = check_tools(args)
        binary = build(args)
        result["opportune_binary"] = str(binary)
        opportune_toml = args.opportune_toml + ("\n" if args.opportune_toml and not args.opportune_toml.endswith("\n") else "")
        if opportune_toml:
            result["opportune_toml"] = opportune_toml
        try:
            if args.binary:
                gitrev = f"binary {binary}".encode()
            elif args.rev:
                _, _, gitrev = run(["git", "-C", str(ROOT), "rev-parse", "--short", args.rev], timeout=20)
            else:
                _, _, gitrev = run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                                   timeout=20)
            result["opportune_commit"] = gitrev.decode().strip()
            print(f"measuring Opportune {result['opportune_commit']}"
                  + ("" if args.rev or args.binary else " (working tree)"), flush=True)
        except BenchError:
            pass
        iperf = ensure_iperf3() if "iperf" in only else None
        if "iperf" in only and not iperf:
            notes.append("iperf3 missing and not installable (needs root and apt-get): no ceiling")
        f4k = scratch / "f4k"
        f4k.write_bytes(os.urandom(4096))
        bigfile = scratch / "big.bin"
        if "get" in only or "put" in only:
            print(f"writing a {big >> 20} MiB random file ...", flush=True)
            make_big_file(bigfile, big)
        ceiling = []
        print(f"{rounds_n} round(s); scratch {scratch}", flush=True)
        for rnd in range(rounds_n):
            if time.monotonic() > deadline:
                notes.append(f"stopped after {rnd} round(s): --max-minutes reached")
                break
            order = KINDS if rnd % 2 == 0 else KINDS[::-1]
            rres: dict = {"round": rnd + 1, "order": list(order), "loadavg_start": loadavg(),
                          "busy_idle_machine": [idle_busy()], "servers": {k: {} for k in KINDS},
                          "errors": []}
            result["rounds"].append(rres)
            print(f"\n== round {rnd + 1}/{rounds_n} (first: {order[0]}; load {rres['loadavg_start']:.2f}, "
                  f"machine busy {100 * rres['busy_idle_machine'][0]:.0f}% before start)", flush=True)
            targets: dict[str, Target] = {}
            for kind in order:
                share = scratch / f"r{rnd}" / kind / "share"
                work = scratch / f"r{rnd}" / kind / "work"
                srv = servers.make_server(kind, share_dir=share, work_dir=work,
                                          log_path=scratch / f"r{rnd}" / kind / "server.log",
                                          binary=binary, toml=opportune_toml)
                live_servers.append(srv)
                srv.start()
                if bigfile.exists():
                    os.link(bigfile, share / "big.bin")  # same inode: same page cache
                targets[kind] = Target(srv, servers.client_conf(scratch / f"r{rnd}" / kind / "client"))
            time.sleep(1.0)
            for kind in order:
                rres["servers"][kind]["start_memory"] = group_memory(targets[kind].pgid)
                rres["servers"][kind]["dialect"] = negotiated_dialect(targets[kind])

            def step(name, key, fn_by_kind, before=None):
                if time.monotonic() > deadline:
                    notes.append(f"--max-minutes reached before {key} in round {rnd + 1}")
                    return
                for kind in order:
                    t = targets[kind]
                    print(f"  {kind:9} {name:28} ", end="", flush=True)
                    try:
                        if before:
                            before(t)
                        r = measured(t, lambda: fn_by_kind(t))
                    except BenchError as e:
                        print("ERROR " + str(e).splitlines()[0][:200], flush=True)
                        rres["errors"].append({"server": kind, "bench": key, "error": str(e)})
                        t.check_alive()
                        continue
                    rres["servers"][kind][key] = r
                    print(describe(key, r), flush=True)

            if "idle" in only:
                step(f"{conns} idle connections", "idle", lambda t: bench_idle(t, conns))
            if "handles" in only:
                step(f"{handles} open handles", "handles", lambda t: bench_handles(t, handles, scratch))
            if "torture" in only:
                for key, test, what in TORTURE:
                    step(test.removeprefix("smb2.bench."), key,
                         lambda t, key=key, test=test, what=what:
                         bench_torture(t, key, test, what, timelimit))
            if "get" in only:
                step(f"get {big >> 20} MiB", "get", lambda t: bench_get(t, "big.bin", big),
                     before=lambda t: warm_up(t, "get", bigfile))
            if "put" in only:
                step(f"put {big >> 20} MiB", "put", lambda t: bench_put(t, bigfile, big),
                     before=lambda t: warm_up(t, "put", bigfile))
            if "meta" in only:
                step(f"metadata {files} files", "meta",
                     lambda t: bench_meta(t, files, 1000 if files >= 5000 else 200, f4k, scratch))
            for kind in order:
                rres["servers"][kind]["end_memory"] = group_memory(targets[kind].pgid)
            for srv in list(live_servers):
                early = srv.stop()
                live_servers.remove(srv)
                if early is not None:
                    rres["errors"].append({"server": srv.kind,
                                           "error": f"exited early: {servers.describe_exit(early)}"})
                if srv.stop_needed_kill:
                    notes.append(f"{srv.kind} needed SIGKILL to stop in round {rnd + 1}")
            if iperf and time.monotonic() < deadline:
                try:
                    c = bench_iperf(3 if q else 5)
                    ceiling.append(c["mb_per_s"])
                    rres["iperf3"] = c
                    print(f"  iperf3 loopback one stream     {c['mb_per_s']:,.0f} MB/s", flush=True)
                except BenchError as e:
                    rres["errors"].append({"bench": "iperf", "error": str(e)})
                    print(f"  iperf3 ERROR {e}", flush=True)
            rres["busy_idle_machine"].append(idle_busy())
        result["ceiling_mb_per_s"] = ceiling
        result["summary"] = report(result, notes)
    except KeyboardInterrupt:
        print("\ninterrupted; stopping everything", file=sys.stderr)
        result["interrupted"] = True
        rc = 130
    except (BenchError, servers.ServerError) as e:
        print(f"\nerror: {e}", file=sys.stderr)
        result["error"] = str(e)
        rc = 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for srv in live_servers:
            srv.stop()
        kill_all()
        result["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
        outdir = HERE / "results"
        outdir.mkdir(exist_ok=True)
        path = outdir / f"bench-{started:%Y%m%d-%H%M%S}.json"
        path.write_text(json.dumps(result, indent=1, default=str) + "\n")
        print(f"\nraw results: {path.relative_to(ROOT)}")
        if args.keep:
            print(f"scratch kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return rc


def describe(key: str, r: dict) -> str:
    cpu = f"  (server CPU {r['server_cpu_s']:.2f} s, machine busy {100 * r['machine_busy']:.0f}%)"
    if key == "idle":
        return (f"{fmt(r['kib_per_conn'])} KiB ({fmt(r['rss_kib_per_conn'])} KiB summed RSS) "
                f"per connection" + cpu)
    if key == "handles":
        return (f"{fmt(r['kib_per_handle'])} KiB per handle ({r['handles_opened']} open, "
                f"{r['errors']} errors)" + cpu)
    if key in ("path_contention", "oplock1", "echo"):
        if not r["success"]:
            return f"FAILED ({(r['failure'] or '').splitlines()[0][:150]})" + cpu
        return f"{r['rate']:,.0f}/s" + cpu
    if key in ("get", "put"):
        return f"{r['mb_per_s']:,.0f} MB/s (wall {r['wall_s']:.2f} s)" + cpu
    if key == "meta":
        ph = " ".join(f"{k} {v['files_per_s']:,.0f}" for k, v in r["phases"].items())
        return f"{r['files_per_s']:,.0f} files/s [{ph}] errors {r['errors']}" + cpu
    return json.dumps(r)[:100]


if __name__ == "__main__":
    sys.exit(main())
