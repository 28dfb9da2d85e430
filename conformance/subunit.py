"""Parse the subunit-v1-like stream that smbtorture prints.

smbtorture (with --format=subunit, its default) prints, among free-form
noise, lines such as

    test: smb2.read.eof
    success: smb2.read.eof
    failure: smb2.read.dir [
    ../../source4/torture/smb2/read.c:123: some message
    ]
    skip: smb2.read.bug14607 [
    reason
    ]

A trailing " [" opens a detail block that runs until a line that is just
"]".  Everything else ("time:", "progress:", test chatter) is ignored.  The
colon after the keyword is required (subunit allows leaving it out, but
smbtorture always writes it, and requiring it keeps chatter such as
"error opening file" from being read as a result).
conformance/smbclient_check.sh prints the same format.
"""

from __future__ import annotations

import dataclasses
import re

PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"

# Subunit v1 outcome words (optionally followed by ':') -> our three buckets.
_OUTCOMES = {
    "success": PASSED,
    "successful": PASSED,
    "failure": FAILED,
    "fail": FAILED,
    "error": FAILED,
    "uxsuccess": FAILED,  # unexpected success: subunit counts it as a failure
    "skip": SKIPPED,
    "xfail": SKIPPED,  # expected failure declared by the tool itself
}

_LINE = re.compile(
    r"^(?P<word>test|testing|success|successful|failure|fail|error|skip|xfail|uxsuccess)"
    r":\s*(?P<rest>.*?)\s*$"
)


@dataclasses.dataclass
class TestResult:
    name: str
    outcome: str  # PASSED / FAILED / SKIPPED
    word: str  # the raw subunit word ("failure", "error", ...) or a runner note
    detail: str = ""

    def first_detail_line(self) -> str:
        for line in self.detail.splitlines():
            if line.strip():
                return line.strip()
        return ""


@dataclasses.dataclass
class Stream:
    results: dict[str, TestResult]  # insertion order = order reported
    started: list[str]  # every "test:" line, in order
    in_progress: str | None  # started but no outcome when the stream ended


def qualify(name: str, suite: str) -> str:
    """Make a reported name a full test name.

    With --fullname smbtorture already prints "smb2.read.eof" (or just the
    suite name for single-test suites such as smb2.connect); without it, it
    prints "eof".  Names that already contain a dot are kept as they are.
    """
    if name == suite or name.startswith(suite + ".") or "." in name:
        return name
    return f"{suite}.{name}"


def _split_block(rest: str) -> tuple[str, bool]:
    """Split "NAME [" / "NAME [ multipart" into (NAME, opens_block)."""
    m = re.match(r"^(?P<name>.*?)\s+\[(\s*multipart)?\s*$", rest)
    if m:
        return m.group("name"), True
    return rest, False


def parse(text: str, suite: str) -> Stream:
    results: dict[str, TestResult] = {}
    started: list[str] = []
    current: str | None = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _LINE.match(lines[i])
        i += 1
        if not m:
            continue
        word, rest = m.group("word"), m.group("rest")
        name, has_block = _split_block(rest)
        detail_lines: list[str] = []
        if has_block:
            while i < len(lines) and lines[i].rstrip() != "]":
                detail_lines.append(lines[i])
                i += 1
            i += 1  # the closing "]" (or past the end of a truncated stream)
        if not name:
            continue
        name = qualify(name, suite)
        if word in ("test", "testing"):
            started.append(name)
            current = name
            continue
        results.pop(name, None)  # a repeated report counts once, last wins
        results[name] = TestResult(name, _OUTCOMES[word], word, "\n".join(detail_lines))
        if current == name:
            current = None
    if current is not None and current in results:
        current = None
    return Stream(results, started, current)


def expected_names(listing: str, suite: str) -> list[str]:
    """Turn `smbtorture --list SUITE` output into the names a run reports.

    The listing prints "suite.tcase.test"; for simple tests the tcase and the
    test share a name ("smb2.read.eof.eof") and a run reports "smb2.read.eof".
    The listing is a prefix match (smb2.session also lists
    smb2.session-require-signing.*), so names outside SUITE are dropped.
    Only used to account for tests that never ran after a timeout or crash.
    """
    names = []
    for line in listing.splitlines():
        line = line.strip()
        if not line or not line.startswith(suite):  # names may contain spaces
            continue
        parts = line.split(".")
        if len(parts) >= 2 and parts[-1] == parts[-2]:
            parts = parts[:-1]
        name = ".".join(parts)
        if name == suite or name.startswith(suite + "."):
            names.append(name)
    return names
