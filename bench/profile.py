#!/usr/bin/env python3
"""Instruction-count profile of the Opportune server (valgrind --tool=callgrind).

    bench/profile [--case echo|get|open|all] [--seconds S] [--get-mib M]
                  [--top N] [--binary PATH | --rev REV | --skip-build] [--keep]

Runs the server under callgrind on 127.0.0.1, drives it with one client
workload, stops it, and prints the total instructions executed by the server,
instructions per operation (per echo, per open+close, per byte read), and the
top functions by self cost (callgrind_annotate).  Instruction counts are
repeatable to a few percent from run to run, unlike wall-clock throughput on a
shared machine, so they are the number to compare before/after a change.

Startup, NTLM logons and tree connects are included in the totals; they are
a few million instructions, small against the workloads below.
Python 3.11 stdlib only; needs valgrind (apt-get install valgrind).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402  (also puts conformance/ on sys.path)
import servers  # noqa: E402


class CallgrindOpportune(servers.OpportuneServer):
    def __init__(self, *, out_file, **kw):
        super().__init__(**kw)
        self.out_file = out_file

    def command(self) -> list[str]:
        return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={self.out_file}",
                "--dump-line=no", *super().command()]


class SlowTarget(bench.Target):
    """smbclient with a long per-request timeout: under callgrind the server is
    ~50x slower and smbclient's default 20 s timeout breaks the connection."""

    def smbclient(self, *extra) -> list[str]:
        return super().smbclient("-t", "600", *extra)


def annotate(out_file: pathlib.Path, top: int) -> tuple[int, str]:
    code, _, text = bench.run(["callgrind_annotate", "--inclusive=no", f"--threshold=99",
                               str(out_file)], timeout=300)
    text = text.decode(errors="replace")
    m = re.search(r"^\s*([\d,]+)\s+(?:\(100\.0%\)\s+)?PROGRAM TOTALS", text, re.M)
    total = int(m.group(1).replace(",", "")) if m else 0
    rows = []
    for line in text.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(\S.*)$", line)
        if m and "PROGRAM TOTALS" not in line:
            rows.append((m.group(2), simplify(m.group(3))))
        elif re.match(r"^\s*[\d,]+\s+(\S.*)$", line) and "PROGRAM TOTALS" not in line and total:
            mm = re.match(r"^\s*([\d,]+)\s+(\S.*)$", line)
            ir = int(mm.group(1).replace(",", ""))
            rows.append((f"{100 * ir / total:.1f}", simplify(mm.group(2))))
        if len(rows) >= top:
            break
    return total, "\n".join(f"  {pct:>5}%  {name}" for pct, name in rows)


def simplify(name: str) -> str:
    """file:function -> function, without Rust hashes and long generic tails."""
    name = re.sub(r"^[^:]*\?\?\?:|^.*?:(?=[A-Za-z_<])", "", name, count=1)
    name = re.sub(r"::h[0-9a-f]{16}", "", name)
    name = re.sub(r" \[[^\]]*\]$", "", name)
    return name if len(name) <= 110 else name[:107] + "..."


def one_case(case, binary, scratch, args) -> dict:
    share = scratch / case / "share"
    out_file = scratch / case / "callgrind.out"
    srv = CallgrindOpportune(binary=binary, share_dir=share, work_dir=scratch / case / "work",
                             log_path=scratch / case / "server.log", out_file=out_file)
    t = None
    ops, unit = 0, ""
    srv.start(timeout=120)
    try:
        conf = servers.client_conf(scratch / case / "client")
        t = SlowTarget(srv, conf)
        if case == "echo" or case == "open":
            test = "smb2.bench.echo" if case == "echo" else "smb2.bench.path-contention-shared"
            what = "echo" if case == "echo" else "open"
            r = bench.bench_torture(t, case, test, what, args.seconds)
            ops, unit = r["rate"] * args.seconds, ("echo" if case == "echo" else "open+close")
        elif case == "get":
            size = args.get_mib << 20
            bench.make_big_file(share / "big.bin", size)
            bench.bench_get(t, "big.bin", size)
            ops, unit = size, "byte"
    finally:
        srv.stop()  # SIGTERM: valgrind writes the profile on the way out
    for _ in range(100):  # the file appears when valgrind has finished writing
        if out_file.exists() and out_file.stat().st_size > 0:
            break
        time.sleep(0.1)
    if not out_file.exists():
        raise bench.BenchError(f"{case}: no callgrind output; server log:\n{srv.log_tail()}")
    total, table = annotate(out_file, args.top)
    return {"case": case, "ops": ops, "unit": unit, "total_ir": total, "table": table,
            "out_file": str(out_file)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", default="all", choices=("echo", "get", "open", "all"))
    ap.add_argument("--seconds", type=int, default=5, help="smbtorture timelimit (default 5)")
    ap.add_argument("--get-mib", type=int, default=256, help="size read by the get case")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--binary")
    ap.add_argument("--rev")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep callgrind.out files")
    args = ap.parse_args()
    for tool in ("valgrind", "callgrind_annotate", "smbtorture", "smbclient"):
        if not shutil.which(tool):
            print(f"error: {tool} not found (apt-get install valgrind samba smbclient)", file=sys.stderr)
            return 1
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="opportune-profile-"))
    cases = ("echo", "open", "get") if args.case == "all" else (args.case,)
    try:
        binary = bench.build(args)
        failed = 0
        for case in cases:
            print(f"== {case}: Opportune under callgrind ...", flush=True)
            try:
                r = one_case(case, binary, scratch, args)
            except (bench.BenchError, servers.ServerError) as e:
                print(f"error: {str(e)[:400]}", flush=True)
                failed += 1
                continue
            per = r["total_ir"] / r["ops"] if r["ops"] else float("nan")
            print(f"server instructions: {r['total_ir']:,} total, {r['ops']:,.0f} × {r['unit']} "
                  f"-> {per:,.2f} instructions per {r['unit']}")
            print("top functions by self cost (share of all server instructions):")
            print(r["table"], flush=True)
            if args.keep:
                print(f"  (profile kept: {r['out_file']}; callgrind_annotate or kcachegrind it)")
        if failed:
            return 1
    except (bench.BenchError, servers.ServerError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        bench.kill_all()
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
