#!/usr/bin/env python3
"""Python smbprotocol against a running server: extended attributes with a lower-case
name round-trip (setxattr, getxattr, listxattr, removexattr) and smbclient.link makes a
hard link with the same file id and data (issue 13, item 6).

Run by crates/cli/tests/links_and_eas.rs when `import smbclient` works; by hand:

    python3 conformance/smbprotocol_check.py --port PORT --user user --password pass

Prints "all checks passed" and exits 0, or names the first check that failed and exits 1.
"""

import argparse
import sys

import smbclient
from smbprotocol.exceptions import SMBOSError


def check(what, ok):
    if not ok:
        print(f"FAILED: {what}")
        sys.exit(1)
    print(f"ok: {what}")


def names(raw):
    return [n.decode() if isinstance(n, bytes) else n for n in raw]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--share", default="share")
    a = ap.parse_args()
    kw = dict(port=a.port, username=a.user, password=a.password)
    smbclient.register_session(a.host, auth_protocol="ntlm", encrypt=False, **kw)
    base = rf"\\{a.host}\{a.share}"
    path = rf"{base}\py.txt"
    with smbclient.open_file(path, mode="w", **kw) as f:
        f.write("python data")

    smbclient.setxattr(path, b"user.tag", b"blue", **kw)
    check("getxattr(b'user.tag') after setxattr", smbclient.getxattr(path, b"user.tag", **kw) == b"blue")
    listed = names(smbclient.listxattr(path, **kw))
    check(f"listxattr keeps the case ({listed})", "user.tag" in listed)
    smbclient.setxattr(path, b"user.other", b"x", **kw)
    smbclient.removexattr(path, b"user.tag", **kw)
    listed = names(smbclient.listxattr(path, **kw))
    check(f"removexattr(b'user.tag') ({listed})", listed == ["user.other"])
    try:
        smbclient.getxattr(path, b"user.tag", **kw)
        check("getxattr of a removed name fails", False)
    except SMBOSError:
        check("getxattr of a removed name fails", True)

    link = rf"{base}\py-link.txt"
    smbclient.link(path, link, **kw)
    st_a, st_b = smbclient.stat(path, **kw), smbclient.stat(link, **kw)
    check(f"link: one file id ({st_a.st_ino}, {st_b.st_ino})", st_a.st_ino == st_b.st_ino)
    check(f"link: two links ({st_a.st_nlink})", st_a.st_nlink == 2 and st_b.st_nlink == 2)
    with smbclient.open_file(link, mode="a", **kw) as f:
        f.write(", appended")
    with smbclient.open_file(path, mode="r", **kw) as f:
        check("link: written through one name, read through the other", f.read() == "python data, appended")
    smbclient.reset_connection_cache()
    print("all checks passed")


if __name__ == "__main__":
    main()
