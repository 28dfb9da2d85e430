#!/usr/bin/env python3
"""Run smbtorture suites (and the smbclient scenario) against a fresh server.

    python3 conformance/run.py [--binary PATH] [--suites smb2.connect,smb2.read,...]
                               [--update] [--server opportune|samba] [--port N]
                               [--keep-logs DIR] [--timeout SECONDS]

For every suite: a fresh empty share, a freshly started server, one
smbtorture run (or conformance/smbclient_check.sh for the pseudo-suite
"smbclient"), the server stopped, the results compared with
conformance/known-failures/<suite>.  Exit status 1 if any test failed that
is not listed there, or a suite could not run properly (server did not start
or exited early, smbtorture timed out or reported nothing).  The last line
printed is always "N passed, M failed" (M = unexpected failures plus one per
suite-level error).  See conformance/README.md.

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import knownfail  # noqa: E402
import servers  # noqa: E402
import subunit  # noqa: E402

SMBCLIENT_SUITE = "smbclient"
SMBCLIENT_SCRIPT = HERE / "smbclient_check.sh"
DEFAULT_SUITE_TIMEOUT = 100  # seconds; 9 suites worst case = 15 min
# Suites that take long even against a healthy server (Samba 4.17 here:
# smb2.oplock ~106 s, smb2.lease ~182 s -- they wait out break timeouts).
# A "timeout=" in suites.txt overrides these; --timeout overrides both.
SLOW_SUITE_TIMEOUTS = {"smb2.oplock": 240, "smb2.lease": 360}

# Suites that need more than the defaults: settings for each server, and whether
# smbtorture gets torture:localdir=<the share's directory> (kernel_oplocks8 opens the
# file as a local process there).
SUITE_SETUP = {
    "smb2.kernel-oplocks": {"toml": "kernel_oplocks = true\n",
                            "extra_conf": "    kernel oplocks = yes\n",
                            "localdir": True},
}


# Variants: "SUITE@VARIANT" in suites.txt (or --suites) runs smbtorture's SUITE in
# another way, with its own known-failures file (known-failures/SUITE@VARIANT) and log
# directory. A variant may name another smbtorture ("smbtorture": a command) and add
# settings like SUITE_SETUP's, which apply on top of the suite's own.
TORTURE_CHROOT = HERE / "torture-chroot"
VARIANTS = {
    # trixie-backports' smbtorture (Samba 4.24), for tests that Debian 12's 4.17 has
    # wrong and Samba fixed since (conformance/torture-chroot).
    "trixie-backports": {"smbtorture": str(TORTURE_CHROOT)},
    # A share without Level II oplocks (level2_oplocks = false; Samba: level2 oplocks =
    # no): the state Samba's kernel oplocks always put a share in.
    "no-level2": {"share_toml": "level2_oplocks = false\n",
                  "extra_conf": "    level2 oplocks = no\n"},
}


def split_variant(suite: str) -> tuple[str, dict]:
    """(smbtorture's suite name, the variant's settings) of a listed suite."""
    base, _, variant = suite.partition("@")
    if not variant:
        return suite, {}
    if variant not in VARIANTS:
        raise ValueError(f"{suite}: unknown variant {variant!r} (known: {', '.join(VARIANTS)})")
    return base, VARIANTS[variant]


def merged_toml(own: str, extra: str) -> str:
    """A suite's own TOML with the lines of `extra` whose keys it does not set."""
    keys = {line.split("=", 1)[0].strip() for line in own.splitlines() if "=" in line}
    added = [line for line in extra.splitlines()
             if "=" in line and line.split("=", 1)[0].strip() not in keys]
    return own + "".join(line.strip() + "\n" for line in added)


def suite_setup(suite: str) -> dict:
    """The SUITE_SETUP entry of a suite or of one of its tests, with its variant's."""
    base, variant = split_variant(suite)
    setup: dict = {}
    for name, entry in SUITE_SETUP.items():
        if base == name or base.startswith(name + "."):
            setup = dict(entry)
            break
    for key in ("toml", "share_toml", "extra_conf"):
        if key in variant:
            setup[key] = (setup.get(key, "") + variant[key] if key == "extra_conf"
                          else merged_toml(variant[key], setup.get(key, "")))
    if "smbtorture" in variant:
        setup["smbtorture"] = variant["smbtorture"]
    return setup
DEADLINE_MARGIN = 20  # seconds kept back for stopping and the summary
PANIC_MARKERS = ("panicked at", "AddressSanitizer", "Segmentation fault")


@dataclasses.dataclass
class SuiteResult:
    suite: str
    results: dict[str, subunit.TestResult] = dataclasses.field(default_factory=dict)
    known: knownfail.KnownFailures = dataclasses.field(
        default_factory=lambda: knownfail.KnownFailures([], {}))
    errors: list[str] = dataclasses.field(default_factory=list)  # fail the run
    notes: list[str] = dataclasses.field(default_factory=list)  # printed only
    seconds: float = 0.0
    log_dir: pathlib.Path | None = None

    def names(self, outcome: str) -> list[str]:
        return [n for n, r in self.results.items() if r.outcome == outcome]

    @property
    def passed(self) -> list[str]:
        return self.names(subunit.PASSED)

    @property
    def skipped(self) -> list[str]:
        return self.names(subunit.SKIPPED)

    @property
    def failing(self) -> list[str]:
        return self.names(subunit.FAILED)

    @property
    def unexpected(self) -> list[str]:
        return [n for n in self.failing if n not in self.known]

    @property
    def known_failed(self) -> list[str]:
        return [n for n in self.failing if n in self.known]

    @property
    def newly_passing(self) -> list[str]:
        return [n for n in self.passed if n in self.known]

    @property
    def ok(self) -> bool:
        return not self.errors and not self.unexpected


# ---------------------------------------------------------------- arguments

def parse_args(argv: list[str]) -> argparse.Namespace:
    env_timeout = os.environ.get("CONFORMANCE_SUITE_TIMEOUT")
    env_deadline = os.environ.get("CONFORMANCE_DEADLINE")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", choices=("opportune", "samba"), default="opportune",
                   help="server under test (samba = Debian's smbd, the reference)")
    p.add_argument("--binary", type=pathlib.Path, default=ROOT / "target/release/opportune",
                   help="opportune binary (default: target/release/opportune)")
    p.add_argument("--suites", help="comma-separated suites (default: conformance/suites.txt)")
    p.add_argument("--suites-file", type=pathlib.Path, default=HERE / "suites.txt")
    p.add_argument("--update", action="store_true",
                   help="rewrite the known-failure lists to the current failures")
    p.add_argument("--known-failures", type=pathlib.Path,
                   help="directory of known-failure lists (default: conformance/known-failures, "
                        "or conformance/known-failures-samba with --server samba)")
    p.add_argument("--port", type=int, help="fixed port (default: a free port per suite)")
    p.add_argument("--keep-logs", type=pathlib.Path, metavar="DIR",
                   help="write logs to DIR and keep them (default: a temp dir, kept only on failure)")
    p.add_argument("--timeout", type=float, default=float(env_timeout) if env_timeout else None,
                   help="wall-clock limit per suite in seconds, for every suite (env "
                        "CONFORMANCE_SUITE_TIMEOUT; default: timeout= in suites.txt, else "
                        f"{DEFAULT_SUITE_TIMEOUT}, more for known slow suites)")
    p.add_argument("--deadline", type=float, default=float(env_deadline) if env_deadline else None,
                   help="Unix time by which all suites must be done (env CONFORMANCE_DEADLINE); "
                        "suites that would start after it are reported as not run")
    p.add_argument("--opportune-toml", default="", metavar="TOML",
                   help="top-level settings added to every suite's Opportune configuration "
                        "(e.g. 'kernel_oplocks = true'; a suite's own setting of a key wins)")
    p.add_argument("--smbtorture", default=shutil.which("smbtorture") or "smbtorture")
    p.add_argument("--torture-option", action="append", default=[], metavar="NAME=VALUE",
                   help="extra smbtorture --option (repeatable)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print the full detail of each unexpected failure")
    return p.parse_args(argv)


def read_suites(path: pathlib.Path) -> dict[str, float | None]:
    """suites.txt: "NAME [timeout=SECONDS]" per line, "#" comments."""
    suites: dict[str, float | None] = {}
    for line in path.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        timeout = None
        while words and words[-1].startswith("timeout="):
            timeout = float(words.pop().split("=", 1)[1])
        if words:
            suites[" ".join(words)] = timeout
    return suites


# ---------------------------------------------------------------- processes

def run_client(cmd: list[str], out: pathlib.Path, err: pathlib.Path, cwd: pathlib.Path,
               timeout: float) -> tuple[int | None, bool]:
    """Run a client in its own process group; (exit code, timed out)."""
    with open(out, "wb") as o, open(err, "wb") as e:
        e.write(("$ " + " ".join(cmd) + "\n").encode())
        e.flush()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                                cwd=cwd, start_new_session=True)
        try:
            return proc.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            servers.kill_group(proc, grace=5)
            return proc.returncode, True
        finally:
            if proc.poll() is None:  # interrupted (Ctrl-C, SIGTERM)
                servers.kill_group(proc, grace=2)


def enable_subreaper() -> None:
    """Adopt orphaned grandchildren (smbd's forks) so they can be reaped."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except Exception:  # not Linux, or no libc: zombies are harmless
        pass


def reap_orphans() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _terminate(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


# ---------------------------------------------------------------- one suite

class Runner:
    def __init__(self, args: argparse.Namespace, tmp: pathlib.Path, logs: pathlib.Path,
                 listed_timeouts: dict[str, float | None]):
        self.args = args
        self.listed_timeouts = listed_timeouts
        self.tmp = tmp
        self.logs = logs
        self.kf_dir = args.known_failures or HERE / (
            "known-failures-samba" if args.server == "samba" else "known-failures")

    def make_server(self, suite: str, run_dir: pathlib.Path, log_dir: pathlib.Path):
        kw = dict(share_dir=run_dir / "share", work_dir=run_dir / "server",
                  log_path=log_dir / "server.log", port=self.args.port)
        if self.args.server == "opportune":
            kw["binary"] = self.args.binary
        setup = suite_setup(suite)
        kw["toml"] = merged_toml(setup.get("toml", ""), self.args.opportune_toml)
        kw["extra_conf"] = setup.get("extra_conf", "")
        if self.args.server == "opportune":
            kw["share_toml"] = setup.get("share_toml", "")
        return servers.make_server(self.args.server, **kw)

    def client_command(self, suite: str, srv, conf: pathlib.Path) -> list[str]:
        if suite == SMBCLIENT_SUITE:
            return ["bash", str(SMBCLIENT_SCRIPT), "-p", str(srv.port), "-U", srv.credentials,
                    "-s", str(conf), srv.unc]
        opts = ["torture:timelimit=5"] + self.args.torture_option
        setup = suite_setup(suite)
        if setup.get("localdir"):
            opts.append(f"torture:localdir={srv.share_dir}")
        return ([self.smbtorture(suite), "-p", str(srv.port), srv.unc, "-U", srv.credentials,
                 f"--configfile={conf}", "--fullname", "--format=subunit"]
                + [f"--option={o}" for o in opts] + [split_variant(suite)[0]])

    def smbtorture(self, suite: str) -> str:
        return suite_setup(suite).get("smbtorture", self.args.smbtorture)

    def suite_timeout(self, suite: str) -> float:
        timeout = (self.args.timeout or self.listed_timeouts.get(suite)
                   or SLOW_SUITE_TIMEOUTS.get(suite) or DEFAULT_SUITE_TIMEOUT)
        if self.args.deadline is not None:
            timeout = min(timeout, self.args.deadline - time.time() - DEADLINE_MARGIN)
        return timeout

    def run(self, suite: str) -> SuiteResult:
        res = SuiteResult(suite)
        res.known = knownfail.load(knownfail.path_for(self.kf_dir, suite))
        res.log_dir = self.logs / suite
        shutil.rmtree(res.log_dir, ignore_errors=True)
        res.log_dir.mkdir(parents=True)
        run_dir = self.tmp / "run" / suite
        timeout = self.suite_timeout(suite)
        if timeout < 10:
            res.errors.append("not run: the time budget (--deadline) is used up")
            return res
        start = time.monotonic()
        try:
            self._run_with_server(suite, res, run_dir, timeout)
        finally:
            res.seconds = time.monotonic() - start
            shutil.rmtree(run_dir, ignore_errors=True)
            reap_orphans()
        if self.args.update and res.errors:
            res.notes.append("--update: list left unchanged because of the suite error")
        elif self.args.update:
            self._update(res)
        return res

    def _run_with_server(self, suite, res, run_dir, timeout):
        srv = self.make_server(suite, run_dir, res.log_dir)
        try:
            srv.start()
        except servers.ServerError as e:
            res.errors.append(f"server did not start: {e}" + _tail(srv.log_tail()))
            return
        try:
            conf = servers.client_conf(run_dir / "client")
            cmd = self.client_command(suite, srv, conf)
            out, err = res.log_dir / "client.out", res.log_dir / "client.err"
            code, timed_out = run_client(cmd, out, err, run_dir, timeout)
            early = srv.exited()
        finally:
            srv.stop()
        if srv.stop_needed_kill:
            res.notes.append("server ignored SIGTERM for 10 s and was killed")
        stream = subunit.parse(out.read_text(errors="replace"), split_variant(suite)[0])
        res.results = dict(stream.results)
        abnormal = timed_out or code not in (0, 1) or stream.in_progress is not None
        if early is not None:
            res.errors.append(f"server exited early ({servers.describe_exit(early)})"
                              + _tail(srv.log_tail()))
        if timed_out:
            res.errors.append(f"timed out after {timeout:.0f} s; client killed")
        elif code not in (0, 1):
            res.errors.append(f"{pathlib.Path(cmd[0]).name} exited with {servers.describe_exit(code)}")
        if abnormal:
            self._account_unreported(suite, stream, res)
        elif res.results:
            for name in res.known.entries:
                if name not in res.results:
                    res.notes.append(f"{name} is in known-failures but was not reported (renamed?)")
        if not res.results:
            res.errors.append("no test results (unknown suite name, or the client could not run)"
                              + _tail(err.read_text(errors="replace"), 10))
        try:
            log = srv.log_path.read_bytes()
        except OSError:
            log = b""
        if early is None and any(m.encode() in log for m in PANIC_MARKERS):
            res.notes.append(f"server log contains a panic/crash marker: {srv.log_path}")

    def _account_unreported(self, suite, stream, res):
        """After a timeout or abort, tests without a result count as failed."""
        if stream.in_progress:
            res.results[stream.in_progress] = subunit.TestResult(
                stream.in_progress, subunit.FAILED, "no-result",
                "no result: the run was cut off while this test was running")
        base = split_variant(suite)[0]
        if suite == SMBCLIENT_SUITE:
            cmd = ["bash", str(SMBCLIENT_SCRIPT), "-l"]
        else:
            cmd = [self.smbtorture(suite), "--list", base]
        try:
            listing = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            return
        for name in subunit.expected_names(listing, base):
            if name not in res.results:
                res.results[name] = subunit.TestResult(
                    name, subunit.FAILED, "not-run", "not run: the suite was cut off before it")

    def _update(self, res: SuiteResult) -> None:
        path = knownfail.path_for(self.kf_dir, res.suite)
        added, removed = knownfail.update(path, res.failing)
        res.known = knownfail.load(path)
        for name in added:
            res.notes.append(f"--update: added {name}")
        for name in removed:
            res.notes.append(f"--update: removed {name}")


def _tail(text: str, lines: int = 20) -> str:
    text = "\n".join(text.strip().splitlines()[-lines:])
    return "\n      " + text.replace("\n", "\n      ") if text else ""


# ---------------------------------------------------------------- reporting

def progress_line(r: SuiteResult) -> str:
    bits = [f"{len(r.passed)} passed", f"{len(r.unexpected)} failed"]
    if r.known_failed:
        bits.append(f"{len(r.known_failed)} known")
    if r.skipped:
        bits.append(f"{len(r.skipped)} skipped")
    status = "ok" if r.ok else "FAIL"
    err = f" -- {r.errors[0].splitlines()[0]}" if r.errors else ""
    return f"[{status:4}] {r.suite}: {', '.join(bits)} ({r.seconds:.1f} s){err}"


def report(results: list[SuiteResult], verbose: bool, kf_dir: pathlib.Path) -> tuple[int, int]:
    unexpected = [(r, n) for r in results for n in r.unexpected]
    if unexpected:
        print("\nUnexpected failures (not in known-failures):")
        for r, n in unexpected:
            t = r.results[n]
            print(f"  {n}  [{t.word}] {t.first_detail_line()}")
            if verbose and t.detail.strip():
                print("      " + t.detail.strip().replace("\n", "\n      "))
    errors = [(r, e) for r in results for e in r.errors]
    if errors:
        print("\nSuite errors:")
        for r, e in errors:
            print(f"  {r.suite}: {e}")
    newly = [(r, n) for r in results for n in r.newly_passing]
    if newly:
        print(f"\nNewly passing (remove from {kf_dir}/<suite>, or rerun with --update):")
        for r, n in newly:
            print(f"  {n}")
    notes = [(r, n) for r in results for n in r.notes]
    known_skipped = [(r, n) for r in results for n in r.skipped if n in r.known]
    if notes or known_skipped:
        print("\nNotes:")
        for r, n in notes:
            print(f"  {r.suite}: {n}")
        for r, n in known_skipped:
            print(f"  {r.suite}: {n} is in known-failures but was skipped")
    failing_logs = [r for r in results if not r.ok and r.log_dir]
    if failing_logs:
        print("\nLogs of failing suites:")
        for r in failing_logs:
            print(f"  {r.log_dir}")

    head = ("suite", "passed", "failed", "known", "skipped", "total", "")
    rows = []
    for r in results:
        counts = (len(r.passed), len(r.unexpected), len(r.known_failed), len(r.skipped))
        rows.append((r.suite, *map(str, counts), str(sum(counts)),
                     "ERROR" if r.errors else ""))
    totals = [sum(int(row[i]) for row in rows) for i in range(1, 6)]
    rows.append(("total", *map(str, totals), ""))
    width = [max(len(row[i]) for row in [head] + rows) for i in range(len(head))]
    print()
    for i, row in enumerate([head] + rows):
        if i == 1 or i == len(rows):
            print("-" * (sum(width) + 2 * (len(width) - 1)))
        cells = [row[0].ljust(width[0])] + [c.rjust(w) for c, w in zip(row[1:6], width[1:6])]
        print("  ".join(cells + [row[6]]).rstrip())
    passed = totals[0]
    failed = totals[1] + sum(1 for r in results if r.errors)
    return passed, failed


def write_json(path: pathlib.Path, results: list[SuiteResult], server: str) -> None:
    data = {"server": server, "suites": [{
        "suite": r.suite, "seconds": round(r.seconds, 2), "errors": r.errors,
        "passed": r.passed, "failed": r.unexpected, "known": r.known_failed,
        "skipped": r.skipped, "newly_passing": r.newly_passing} for r in results]}
    path.write_text(json.dumps(data, indent=2) + "\n")


# ---------------------------------------------------------------- main

def preflight(args: argparse.Namespace, suites: list[str]) -> list[str]:
    problems = []
    for suite in suites:
        try:
            split_variant(suite)
        except ValueError as e:
            problems.append(str(e))
    if any(s != SMBCLIENT_SUITE for s in suites) and not shutil.which(args.smbtorture):
        problems.append(f"{args.smbtorture} not found: run scripts/install-deps "
                        "(apt-get install samba-testsuite)")
    if SMBCLIENT_SUITE in suites and not shutil.which("smbclient"):
        problems.append("smbclient not found: run scripts/install-deps (apt-get install smbclient)")
    if args.server == "opportune" and not os.access(args.binary, os.X_OK):
        problems.append(f"{args.binary} not found: cargo build --release -p opportune")
    if args.server == "samba" and not (shutil.which("smbd") or os.path.exists("/usr/sbin/smbd")):
        problems.append("smbd not found: apt-get install samba")
    return problems


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    listed = read_suites(args.suites_file) if args.suites_file.exists() else {}
    suites = ([s.strip() for s in args.suites.split(",") if s.strip()]
              if args.suites else list(listed))
    problems = preflight(args, suites)
    if problems:
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1

    signal.signal(signal.SIGTERM, _terminate)
    enable_subreaper()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="opportune-conformance-"))
    logs = (args.keep_logs.resolve() if args.keep_logs else tmp / "logs")
    logs.mkdir(parents=True, exist_ok=True)
    runner = Runner(args, tmp, logs, listed)
    print(f"conformance: server={args.server} suites={','.join(suites)} logs={logs}", flush=True)
    results: list[SuiteResult] = []
    interrupted = False
    try:
        for suite in suites:
            r = runner.run(suite)
            results.append(r)
            print(progress_line(r), flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted; remaining suites not run", flush=True)
    write_json(logs / "results.json", results, args.server)
    passed, failed = report(results, args.verbose, runner.kf_dir)
    if interrupted:
        failed += 1
    if args.keep_logs or failed == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        shutil.rmtree(tmp / "run", ignore_errors=True)
        print(f"logs kept in {logs}")
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
