#!/usr/bin/env python3
"""Lock and open scaling through the server: Opportune against Samba (loopback only).

    bench/scaling-server [--quick] [--only opens,locks] [--locks 1,1000,100000]
                         [--opens 1,19000] [--seconds S] [--rounds N] [--depth D]
                         [--setup-limit S] [--posix-locking on|off]
                         [--binary PATH | --rev REV | --skip-build] [--report JSON]

The end-to-end half of `bench/lock-scaling` (docs/BENCHMARKS.md, "Lock-core scaling",
"Through the server"): the same questions asked of a running server by a client over a
real SMB connection.  For each server in turn (Opportune, then Samba; each started fresh
by conformance/servers.py on a free 127.0.0.1 port, stopped at its end):

* opens: N other files held open (N = 1 and the largest both servers can hold under the
  descriptor limit), spread over as few connections as the servers' per-session and
  per-address caps allow, each from its own loopback address; the first of them then
  opens (batch oplock) and closes one more file, D at a time: open+close pairs per second.
* locks: one connection opens a file and takes N byte-range locks (lock i covers
  [16i, 16i+8), exclusive for even i, shared for odd i; FAIL_IMMEDIATELY, many per LOCK
  request), growing N from level to level; a second connection opens the same file and
  measures exclusive FAIL_IMMEDIATELY lock+unlock pairs in the gaps ([16j+10, 16j+14))
  and 4-byte WRITEs in the gaps (checked against every lock, never a conflict).

Every rate is operations per second over --seconds, median of --rounds rounds, with D
requests in flight on the connection (pipelined as far as the server's credits allow);
"x N=1" is rate(smallest N) / rate(this N): 1.0 means "does not grow", the goal of
issue 9 is at most 2.  Each set-up is bounded by --setup-limit: a level whose set-up
takes longer is reported as not measured.  The client is bench/smb2client.py (Python,
one thread, on the same 2 cores as the server): its own per-request cost is in every
number, so the server's CPU per operation (user+sys of its process group) is shown too.

A measurement, not a test: nothing fails on a slow number.  Everything started here is
killed on exit, on errors and on Ctrl-C; the share directories live in a temporary
directory that is removed afterwards.  Python 3.11 stdlib only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import pathlib
import random
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import time

import bench  # noqa: E402  (bench/ is this script's directory)
import servers  # noqa: E402  (conformance/, put on sys.path by bench)
import smb2client as smb  # noqa: E402
from bench import BenchError, fmt, group_cpu, loadavg

ROOT, HERE = bench.ROOT, bench.HERE
KINDS = ("opportune", "samba")
SOURCES = [f"127.0.0.{i}" for i in range(1, 33)]  # one loopback address per holding connection


class NotMeasured(Exception):
    """A set-up took longer than --setup-limit."""


# ---------------------------------------------------------------- helpers

def connect(srv: servers.Server, pool: list, source: str | None = None, depth: int = 16) -> smb.Conn:
    c = smb.Conn(servers.HOST, srv.port, source=source)
    pool.append(c)
    c.logon(srv.user, srv.password)
    c.tree_connect(f"\\\\{servers.HOST}\\{getattr(srv, 'bench_share', srv.share)}")
    c.ramp_credits(2 * depth + 8)
    return c


def timed(srv: servers.Server, fn) -> dict:
    """fn() -> (ops, seconds, statuses); adds rate, server and client CPU per op."""
    cpu0, ccpu0 = group_cpu(srv.proc.pid), time.process_time()
    ops, secs, statuses = fn()
    cpu, ccpu = group_cpu(srv.proc.pid) - cpu0, time.process_time() - ccpu0
    bad = {f"0x{k:08x}": v for k, v in statuses.items() if k != 0}
    if bad:
        raise BenchError(f"unexpected statuses {bad}")
    return {"ops": ops, "seconds": round(secs, 4), "rate": ops / secs if secs else None,
            "server_us_per_op": 1e6 * cpu / ops if ops else None,
            "client_us_per_op": 1e6 * ccpu / ops if ops else None}


def rounds_of(srv, fn, n: int) -> dict:
    rs = [timed(srv, fn) for _ in range(n)]
    med = statistics.median(r["rate"] for r in rs)
    cpu = [r["server_us_per_op"] for r in rs if r["server_us_per_op"] is not None]
    ccpu = [r["client_us_per_op"] for r in rs if r["client_us_per_op"] is not None]
    return {"rate": med, "rates": [round(r["rate"], 1) for r in rs],
            "server_us_per_op": statistics.median(cpu) if cpu else None,
            "client_us_per_op": statistics.median(ccpu) if ccpu else None,
            "loadavg": loadavg()}


def pipelined(conn: smb.Conn, requests, depth: int, deadline: float, what: str) -> int:
    """Sends every (cmd, body) of the iterator, `depth` in flight; each answer must be
    STATUS_SUCCESS.  Stops sending once `deadline` passes and raises NotMeasured (what is
    in flight is left there: the caller drops the connection).  Returns the count."""
    inflight: set[int] = set()
    done = 0
    it = iter(requests)
    more = True
    while True:
        while more and len(inflight) < depth:
            try:
                cmd, body = next(it)
            except StopIteration:
                more = False
                break
            inflight.add(conn.send(body, cmd))
        if not inflight:
            return done
        mid, status, _ = conn.next_done()
        inflight.discard(mid)
        if status:
            raise smb.SmbError(f"{what} (request {done})", status)
        done += 1
        if time.monotonic() > deadline and (more or inflight):
            raise NotMeasured(done)


# ------------------------------------------------------------------ cases

def case_opens(srv, levels, args, out: dict) -> None:
    """open+close of one more file with N other files held open."""
    # The held files and the measured ones in separate directories: the measured open
    # looks its name up in a directory of `depth` entries whatever N is.
    held_dir, probe_dir = srv.share_dir / "scale-held", srv.share_dir / "scale-probe"
    held_dir.mkdir(exist_ok=True)
    probe_dir.mkdir(exist_ok=True)
    top = max(levels)
    for i in range(top):
        os.close(os.open(held_dir / f"f{i}", os.O_CREAT | os.O_WRONLY, 0o644))
    for k in range(args.depth):
        os.close(os.open(probe_dir / f"p{k}", os.O_CREAT | os.O_WRONLY, 0o644))
    time.sleep(args.settle)  # let the host's own work on the new files (journal, watches) pass
    nconn = max(1, math.ceil(top / args.opens_per_conn))
    pool: list[smb.Conn] = []
    try:
        conns = [connect(srv, pool, SOURCES[i % len(SOURCES)], args.depth) for i in range(nconn)]
        out["opens_connections"] = nconn
        held = 0
        for n in levels:
            t0 = time.monotonic()
            deadline = t0 + args.setup_limit
            # files held: connection i % nconn holds file i (the measuring one, conns[0], too)
            per_conn = [[i for i in range(held, n) if i % nconn == c] for c in range(nconn)]
            try:
                for c, idx in zip(conns, per_conn):
                    pipelined(c, ((smb.CREATE, c.create_body(f"scale-held\\f{i}", access=smb.GENERIC_READ,
                                                             disposition=smb.FILE_OPEN))
                                  for i in idx), args.depth, deadline, f"holding open {n} files")
            except NotMeasured:
                out.setdefault("opens", {})[str(n)] = {"not_measured": f"setup over {args.setup_limit:.0f} s"}
                print(f"  {srv.kind:9} open+close, {n:>7,} other open  not measured "
                      f"(setup over {args.setup_limit:.0f} s)", flush=True)
                return
            held = n
            setup_s = time.monotonic() - t0
            meas = conns[0]

            def slots():
                for k in range(args.depth):
                    yield open_close_slot(meas, f"scale-probe\\p{k}")

            r = rounds_of(srv, lambda: smb.run_slots(meas, list(slots()), args.seconds), args.rounds)
            r["setup_s"] = round(setup_s, 2)
            out.setdefault("opens", {})[str(n)] = r
            print(f"  {srv.kind:9} open+close, {n:>7,} other open  {r['rate']:>9,.0f}/s  "
                  f"server {fmt(r['server_us_per_op'])} us/op  client {fmt(r['client_us_per_op'])} us/op  "
                  f"(setup {setup_s:.1f} s, load {r['loadavg']:.2f})", flush=True)
    finally:
        for c in pool:
            c.close()


def open_close_slot(conn: smb.Conn, name: str):
    body = conn.create_body(name, access=smb.GENERIC_READ, disposition=smb.FILE_OPEN,
                            oplock=smb.OPLOCK_BATCH)
    while True:
        st, r = yield (smb.CREATE, body, False)
        if st:
            raise smb.SmbError(f"CREATE {name}", st)
        st, _ = yield (smb.CLOSE, conn.close_body(conn.file_id(r)), True)


def gap(rng: random.Random, n: int, k: int, depth: int) -> int:
    """A gap index j for slot k: j = k (mod depth), so no two slots share a gap."""
    span = max(n, depth)
    return k + depth * rng.randrange(max(1, span // depth))


def lock_pair_slot(conn, fid, n, k, depth, seed):
    rng = random.Random(seed)
    while True:
        off = 16 * gap(rng, n, k, depth) + 10
        st, _ = yield (smb.LOCK, conn.lock_body(fid, [(off, 4, smb.LOCK_EXCLUSIVE | smb.LOCK_FAIL_IMMEDIATELY)]),
                       False)
        if st:
            raise smb.SmbError(f"gap lock at {off}", st)
        st, _ = yield (smb.LOCK, conn.lock_body(fid, [(off, 4, smb.LOCK_UNLOCK)]), True)
        if st:
            raise smb.SmbError(f"gap unlock at {off}", st)


def write_slot(conn, fid, n, k, depth, seed):
    rng = random.Random(seed)
    while True:
        off = 16 * gap(rng, n, k, depth) + 10
        st, _ = yield (smb.WRITE, conn.write_body(fid, off, b"gap!"), True)
        if st:
            raise smb.SmbError(f"gap write at {off}", st)


def case_locks(srv, levels, args, out: dict) -> None:
    """lock+unlock pairs and checked writes in the gaps of N byte-range locks."""
    pool: list[smb.Conn] = []
    name = "scale-locks.bin"
    try:
        holder = connect(srv, pool, SOURCES[0], args.depth)
        hfid = holder.create(name)
        meas = connect(srv, pool, SOURCES[1], args.depth)
        mfid = meas.create(name)
        held = 0
        for n in levels:
            t0 = time.monotonic()

            def batches(lo=held, hi=n):
                for s in range(lo, hi, args.lock_batch):
                    els = [(16 * i, 8, (smb.LOCK_EXCLUSIVE if i % 2 == 0 else smb.LOCK_SHARED)
                            | smb.LOCK_FAIL_IMMEDIATELY) for i in range(s, min(hi, s + args.lock_batch))]
                    yield smb.LOCK, holder.lock_body(hfid, els)
            try:
                pipelined(holder, batches(), max(1, min(args.depth, 4)), t0 + args.setup_limit,
                          f"taking {n} locks")
            except NotMeasured as e:
                got = held + int(e.args[0]) * args.lock_batch
                why = f"setup over {args.setup_limit:.0f} s; {got:,} of {n:,} locks taken by then"
                for m in levels[levels.index(n):]:
                    out.setdefault("locks", {})[str(m)] = {"not_measured": why}
                print(f"  {srv.kind:9} {n:>7,} locks  not measured ({why})", flush=True)
                return
            held = n
            setup_s = time.monotonic() - t0
            res = {"setup_s": round(setup_s, 2)}
            for op, mk in (("lock_unlock", lock_pair_slot), ("write", write_slot)):
                seeds = iter(range(1_000_000))

                def run(mk=mk):
                    return smb.run_slots(meas, [mk(meas, mfid, n, k, args.depth, next(seeds))
                                                for k in range(args.depth)], args.seconds)
                res[op] = rounds_of(srv, run, args.rounds)
            out.setdefault("locks", {})[str(n)] = res
            lu, wr = res["lock_unlock"], res["write"]
            print(f"  {srv.kind:9} {n:>7,} locks  lock+unlock {lu['rate']:>8,.0f}/s "
                  f"(server {fmt(lu['server_us_per_op'])} us)  write {wr['rate']:>8,.0f}/s "
                  f"(server {fmt(wr['server_us_per_op'])} us)  (setup {setup_s:.1f} s, "
                  f"load {wr['loadavg']:.2f})", flush=True)
    finally:
        for c in pool:
            c.close()


# ------------------------------------------------------------------ table

ROWS = (  # (label, case key, op key or None)
    ("lock+unlock pairs in the gaps, /s", "locks", "lock_unlock"),
    ("4-byte checked writes in the gaps, /s", "locks", "write"),
    ("open+close of one more file, /s", "opens", None),
)


def cell(res: dict, case: str, op, n: str):
    r = res.get(case, {}).get(n)
    if r is None:
        return None, "-"
    if "not_measured" in r:
        return None, "not measured (" + r["not_measured"].split(";")[0] + ")"
    r = r[op] if op else r
    return r, None


def table(result: dict) -> list[str]:
    head = ("operation", "held", "Opportune", "x N=1", "us srv/op", "x N=1", "Samba", "x N=1",
            "us srv/op", "x N=1", "O/S")
    lines = []
    for label, case, op in ROWS:
        if case not in result["params"]["only"]:
            continue
        levels = result["params"]["locks" if case == "locks" else "opens"]
        unit = "locks" if case == "locks" else "other open"
        base, base_cpu = {}, {}
        for n in map(str, levels):
            row = [label if n == str(levels[0]) else "", f"{int(n):,} {unit}"]
            rates = {}
            for kind in KINDS:
                res = result["servers"].get(kind)
                if res is None:
                    row += ["-", "-", "-", "-"]
                    continue
                r, why = cell(res, case, op, n)
                if r is None:
                    row += [why, "", "", ""]
                    continue
                rates[kind] = r["rate"]
                base.setdefault(kind, r["rate"])
                cpu = r["server_us_per_op"]
                base_cpu.setdefault(kind, cpu)
                row += [f"{r['rate']:,.0f}", f"{base[kind] / r['rate']:.2f}", fmt(cpu),
                        f"{cpu / base_cpu[kind]:.2f}" if cpu and base_cpu[kind] else "-"]
            row.append(f"{rates['opportune'] / rates['samba']:.2f}" if len(rates) == 2 else "-")
            lines.append(row)
    w = [max(len(str(x[i])) for x in [head, *lines]) for i in range(len(head))]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w[i]) if i < 2 else str(c).rjust(w[i])
                                 for i, c in enumerate(cells)) + " |"
    return [line(head), "|" + "|".join("-" * (x + 2) for x in w) + "|", *map(line, lines)]


# ------------------------------------------------------------------- main

def levels_arg(text: str) -> list[int]:
    vals = sorted({int(x.replace("_", "")) for x in text.split(",") if x.strip()})
    if not vals or vals[0] < 1:
        raise argparse.ArgumentTypeError("levels are positive integers, comma-separated: 1,1000")
    return vals


def main() -> int:
    ap = argparse.ArgumentParser(description="Lock/open scaling through the server, Opportune vs "
                                 "Samba (loopback).")
    ap.add_argument("--quick", action="store_true",
                    help="1 round of 0.5 s, locks 1,1000,10000, opens 1,2000")
    ap.add_argument("--only", default="opens,locks", help="comma-separated subset of opens,locks")
    ap.add_argument("--servers", default=",".join(KINDS), help="comma-separated subset of "
                    + ",".join(KINDS))
    ap.add_argument("--locks", type=levels_arg, help="lock counts, comma-separated "
                    "(default 1,1000,100000)")
    ap.add_argument("--opens", type=levels_arg, help="other open files, comma-separated (default 1 and "
                    "the largest both servers hold under the descriptor limit)")
    ap.add_argument("--seconds", type=float, help="length of one measurement (default 1.0)")
    ap.add_argument("--rounds", type=int, help="measurements per cell, median (default 3)")
    ap.add_argument("--depth", type=int, default=16, help="requests in flight (default 16)")
    # MS-SMB2 2.2.26 allows 65,535 elements per LOCK; Samba 4.17 refuses 256 with
    # STATUS_INVALID_PARAMETER (it takes 255), so 255 is the default for both servers.
    ap.add_argument("--lock-batch", type=int, default=255, help="locks per LOCK request in the "
                    "set-up (default 255)")
    ap.add_argument("--setup-limit", type=float, default=120.0,
                    help="seconds one level's set-up may take (default 120)")
    ap.add_argument("--posix-locking", choices=("on", "off"), default="on",
                    help="off: byte-range locks are not mirrored as host (OFD/POSIX) locks, "
                    "Opportune's posix_locking = false and Samba's posix locking = no; "
                    "default on, both servers' defaults")
    ap.add_argument("--settle", type=float, default=3.0,
                    help="seconds to wait after creating the files of the opens case (default 3)")
    ap.add_argument("--binary", help="use this opportune binary, do not build")
    ap.add_argument("--rev", help="build and measure this git revision (git archive)")
    ap.add_argument("--skip-build", action="store_true", help="use target/release/opportune as is")
    ap.add_argument("--opportune-toml", default="", metavar="TEXT",
                    help="top-level settings for Opportune's --config file")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory and server logs")
    ap.add_argument("--report", metavar="JSON", help="only print the table of an earlier run "
                    "(bench/results/scaling-*.json)")
    args = ap.parse_args()
    if args.report:
        for ln in table(json.loads(pathlib.Path(args.report).read_text())):
            print(ln)
        return 0
    q = args.quick
    args.seconds = args.seconds or (0.5 if q else 1.0)
    args.rounds = max(1, args.rounds or (1 if q else 3))
    args.locks = args.locks or ([1, 1000, 10000] if q else [1, 1000, 100000])
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    kinds = [x.strip() for x in args.servers.split(",") if x.strip()]
    if set(only) - {"opens", "locks"} or set(kinds) - set(KINDS) or not kinds:
        ap.error("--only takes opens,locks; --servers takes opportune,samba")

    # Descriptors: servers inherit our limit (the hard limit cannot be raised without
    # CAP_SYS_RESOURCE).  Opportune keeps 64 for itself and gives one session, and one
    # client address, at most half of the rest; Samba's smbd holds one per open per
    # connection process.  So: hold opens on connections from several loopback addresses.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    limit = hard
    args.opens_per_conn = max(1, (limit - 64 - 16) // 2 - 2 * args.depth - 200)
    biggest = max(1, (limit - 64 - 16 - 8 * args.depth - 500) // 1000 * 1000)
    args.opens = args.opens or ([1, 2000] if q else [1, biggest])
    if max(args.opens) > biggest:
        print(f"note: {max(args.opens):,} open files exceed what a server can hold with "
              f"RLIMIT_NOFILE {limit:,}; expect STATUS_TOO_MANY_OPENED_FILES", file=sys.stderr)

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    started = datetime.datetime.now()
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="opportune-scaling-"))
    result: dict = {
        "started": started.isoformat(timespec="seconds"), "host": {"cpus": os.cpu_count()},
        "params": {"locks": args.locks, "opens": args.opens, "seconds": args.seconds,
                   "rounds": args.rounds, "depth": args.depth, "lock_batch": args.lock_batch,
                   "setup_limit": args.setup_limit, "nofile": limit, "only": only,
                   "posix_locking": args.posix_locking},
        "loadavg_start": loadavg(), "servers": {}, "errors": [],
    }
    live: list[servers.Server] = []
    rc = 0
    try:
        binary = bench.build(args)
        result["opportune_binary"] = str(binary)
        print(f"{args.rounds} round(s) of {args.seconds} s, {args.depth} requests in flight; "
              f"RLIMIT_NOFILE {limit:,}; load {result['loadavg_start']:.2f}; scratch {scratch}",
              flush=True)
        for kind in kinds:
            base = scratch / kind
            srv = servers.make_server(kind, share_dir=base / "share", work_dir=base / "work",
                                      log_path=base / "server.log", binary=binary,
                                      toml=args.opportune_toml + ("\n" if args.opportune_toml else ""))
            if args.posix_locking == "off":
                if kind == "opportune":  # a second share on the same folder, without the mirror
                    srv.toml += (f'[[share]]\nname = "nomirror"\npath = '
                                 f'{servers.toml_string(str(srv.share_dir))}\nposix_locking = false\n')
                    srv.bench_share = "nomirror"
                else:
                    srv.extra_conf += "    posix locking = no\n"
            live.append(srv)
            srv.start()
            res: dict = {"loadavg_start": loadavg()}
            result["servers"][kind] = res
            try:
                probe: list[smb.Conn] = []
                try:
                    c = connect(srv, probe)
                    res["dialect"] = f"0x{c.dialect:04x}"
                    res["credits_granted"] = c.credits
                finally:
                    for c in probe:
                        c.close()
                # opens first: a Samba still working through abandoned lock set-up
                # requests would take a core from everything measured after it
                if "opens" in only:
                    case_opens(srv, args.opens, args, res)
                if "locks" in only:
                    case_locks(srv, args.locks, args, res)
            except (BenchError, smb.SmbError, OSError) as e:
                print(f"  {kind:9} ERROR {e}", flush=True)
                result["errors"].append({"server": kind, "error": str(e),
                                         "log_tail": srv.log_tail()})
            if srv.exited() is not None:
                result["errors"].append({"server": kind, "error": "server exited: "
                                         + servers.describe_exit(srv.exited())})
            srv.stop()
            live.remove(srv)
            shutil.rmtree(base / "share", ignore_errors=True)
        print()
        for ln in table(result):
            print(ln)
        print()
        print(f"x N=1 = rate with the smallest N / this rate (1.00: flat; issue 9 asks <= 2). "
              f"us srv/op: server CPU (user+sys) per operation, and its x N=1: this / the "
              f"smallest N's (less noisy than the rates). Median of {args.rounds} round(s) "
              f"of {args.seconds} s, {args.depth} in flight; client: one Python thread.")
        dial = ", ".join(f"{k} {v.get('dialect', '?')}" for k, v in result["servers"].items())
        loads = ", ".join(f"{k} {v['loadavg_start']:.2f}" for k, v in result["servers"].items())
        print(f"Dialect: {dial}; no signing. Load average at each server's start: {loads}. "
              f"Host (POSIX/OFD) lock mirroring: {args.posix_locking}.")
        if "opens" in only:
            print(f"Other open files held on {result['servers'].get(kinds[0], {}).get('opens_connections', '?')} "
                  f"connection(s) from distinct loopback addresses, the measuring one among them "
                  f"(RLIMIT_NOFILE {limit:,}).")
        for e in result["errors"]:
            print(f"Error: {e['server']}: {e['error'].splitlines()[0][:200]}")
            rc = 1
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
        for srv in live:
            srv.stop()
        bench.kill_all()
        result["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
        outdir = HERE / "results"
        outdir.mkdir(exist_ok=True)
        path = outdir / f"scaling-{started:%Y%m%d-%H%M%S}.json"
        path.write_text(json.dumps(result, indent=1, default=str) + "\n")
        print(f"\nraw results: {path.relative_to(ROOT)}")
        if args.keep:
            print(f"scratch kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
