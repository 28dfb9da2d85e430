"""Known-failure lists: conformance/known-failures/<suite>.

Format (like Samba's selftest knownfail, but exact names, not regexes):

    # Comment lines at the top, followed by a blank line, are a header that
    # --update keeps.

    # A reason on the line(s) above a test belongs to that test.
    smb2.create.blob
    smb2.create.open  # or a reason after the name

One full test name per line; blank lines and other comments are ignored.
"""

from __future__ import annotations

import dataclasses
import pathlib

TODO_REASON = "TODO: reason"


@dataclasses.dataclass
class Entry:
    name: str
    above: list[str]  # comment lines (with their "#") right above the name
    inline: str  # reason after the name, without the "#"


@dataclasses.dataclass
class KnownFailures:
    header: list[str]
    entries: dict[str, Entry]  # in file order

    def __contains__(self, name: str) -> bool:
        return name in self.entries


def path_for(directory: pathlib.Path, suite: str) -> pathlib.Path:
    return directory / suite


def load(path: pathlib.Path) -> KnownFailures:
    if not path.exists():
        return KnownFailures([], {})
    header: list[str] = []
    entries: dict[str, Entry] = {}
    pending: list[str] = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line:
            # A comment block before the first entry and a blank line is the
            # file's header; otherwise a blank line detaches comments.
            if pending and not entries and not header:
                header = pending
            pending = []
            continue
        if line.startswith("#"):
            pending.append(line)
            continue
        name, _, reason = line.partition("#")
        name = name.strip()
        entries[name] = Entry(name, pending, reason.strip())
        pending = []
    return KnownFailures(header, entries)


def render(old: KnownFailures, failing: list[str]) -> str:
    """The new file text: `failing` in order, keeping known reasons."""
    out: list[str] = []
    if old.header:
        out += old.header + [""]
    for name in failing:
        entry = old.entries.get(name)
        if entry is None:
            out.append(f"{name}  # {TODO_REASON}")
            continue
        out += entry.above
        out.append(f"{name}  # {entry.inline}" if entry.inline else name)
    return "\n".join(out) + "\n" if out else ""


def update(path: pathlib.Path, failing: list[str]) -> tuple[list[str], list[str]]:
    """Rewrite `path` to list exactly `failing`; return (added, removed)."""
    old = load(path)
    added = [n for n in failing if n not in old]
    removed = [n for n in old.entries if n not in failing]
    text = render(old, failing)
    if text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    elif path.exists():
        path.unlink()
    return added, removed
