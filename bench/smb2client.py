"""A minimal SMB2/3 client over a raw TCP socket, for benchmarks (stdlib only).

Just what bench/scaling_server.py needs: NEGOTIATE (2.0.2 .. 3.0.2, no 3.1.1
contexts), SESSION_SETUP with NTLMv2 in SPNEGO (no signing, no encryption, no MIC),
TREE_CONNECT, CREATE, CLOSE, WRITE, LOCK and ECHO, and pipelining: many requests in
flight on one connection, as far as the server's credits allow.  Nothing here is
meant to be a correct general client: no signing, no compounding, no reconnects.

    c = Conn("127.0.0.1", port)
    c.logon(user, password)
    c.tree_connect(r"\\127.0.0.1\share")
    fid = c.create("dir\\name")
    mid = c.send(c.lock_body(fid, [(0, 8, LOCK_EXCLUSIVE | LOCK_FAIL_IMMEDIATELY)]), LOCK)
    status, body = c.wait(mid)
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import os
import socket
import struct
import time

# commands (MS-SMB2 2.2.1.2)
NEGOTIATE, SESSION_SETUP, TREE_CONNECT = 0x00, 0x01, 0x03
CREATE, CLOSE, WRITE, LOCK, ECHO = 0x05, 0x06, 0x09, 0x0A, 0x0D

STATUS_SUCCESS = 0
STATUS_PENDING = 0x00000103
STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016

# LOCK element flags (2.2.26.1)
LOCK_SHARED, LOCK_EXCLUSIVE, LOCK_UNLOCK, LOCK_FAIL_IMMEDIATELY = 0x1, 0x2, 0x4, 0x10

GENERIC_READ, GENERIC_WRITE = 0x80000000, 0x40000000
SHARE_ALL = 0x7
FILE_OPEN, FILE_CREATE, FILE_OPEN_IF = 1, 2, 3
NON_DIRECTORY_FILE = 0x40
OPLOCK_NONE, OPLOCK_BATCH = 0x00, 0x09

FLAGS_RESPONSE, FLAGS_ASYNC = 0x1, 0x2
HDR = struct.Struct("<4sHHIHHIIQIIQ16s")  # the 64-byte sync header (2.2.1.2)
DIALECTS = (0x0202, 0x0210, 0x0300, 0x0302)


class SmbError(Exception):
    def __init__(self, what: str, status: int):
        super().__init__(f"{what}: NTSTATUS 0x{status:08x}")
        self.status = status


# ------------------------------------------------------------------- NTLMv2

def md4(data: bytes) -> bytes:
    """RFC 1320 (OpenSSL 3 no longer offers it; NTLM's NT hash needs it)."""
    mask = 0xFFFFFFFF

    def rol(v, s):
        v &= mask
        return ((v << s) | (v >> (32 - s))) & mask

    msg = bytearray(data) + b"\x80"
    msg += b"\x00" * ((56 - len(msg)) % 64) + struct.pack("<Q", len(data) * 8)
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    rounds = (
        (lambda x, y, z: (x & y) | (~x & z), 0, list(range(16)), (3, 7, 11, 19)),
        (lambda x, y, z: (x & y) | (x & z) | (y & z), 0x5A827999,
         [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15], (3, 5, 9, 13)),
        (lambda x, y, z: x ^ y ^ z, 0x6ED9EBA1,
         [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15], (3, 9, 11, 15)),
    )
    for off in range(0, len(msg), 64):
        x = struct.unpack("<16I", msg[off:off + 64])
        r = list(h)
        for fn, const, order, shifts in rounds:
            for i, k in enumerate(order):
                t = (4 - i % 4) % 4
                r[t] = rol(r[t] + fn(r[(t + 1) % 4], r[(t + 2) % 4], r[(t + 3) % 4]) + x[k] + const,
                           shifts[i % 4])
        h = [(a + b) & mask for a, b in zip(h, r)]
    return struct.pack("<4I", *h)


NTLM_FLAGS = (0x00000001 | 0x00000004 | 0x00000200 | 0x00008000  # UNICODE REQUEST_TARGET NTLM ALWAYS_SIGN
              | 0x00080000 | 0x00800000 | 0x20000000 | 0x80000000)  # ESS TARGET_INFO 128 56


def ntlm_negotiate() -> bytes:
    return b"NTLMSSP\x00" + struct.pack("<II", 1, NTLM_FLAGS) + b"\x00" * 16


def ntlm_authenticate(challenge: bytes, user: str, password: str, domain: str = "") -> bytes:
    """AUTHENTICATE_MESSAGE with an NTLMv2 response (MS-NLMP 3.3.2), no MIC, no KEY_EXCH."""
    server_challenge = challenge[24:32]
    ti_len, _, ti_off = struct.unpack_from("<HHI", challenge, 40)
    target_info = challenge[ti_off:ti_off + ti_len]
    stamp = None
    pos = 0
    while pos + 4 <= len(target_info):  # AV pairs: MsvAvTimestamp (7) if the server sent one
        av_id, av_len = struct.unpack_from("<HH", target_info, pos)
        if av_id == 0:
            break
        if av_id == 7:
            stamp = target_info[pos + 4:pos + 12]
        pos += 4 + av_len
    if stamp is None:
        stamp = struct.pack("<Q", int((time.time() + 11644473600) * 1e7))
    client_challenge = os.urandom(8)
    nt_hash = md4(password.encode("utf-16-le"))
    key = hmac.new(nt_hash, (user.upper() + domain).encode("utf-16-le"), hashlib.md5).digest()
    temp = b"\x01\x01" + b"\x00" * 6 + stamp + client_challenge + b"\x00" * 4 + target_info + b"\x00" * 4
    proof = hmac.new(key, server_challenge + temp, hashlib.md5).digest()
    nt = proof + temp
    lm = hmac.new(key, server_challenge + client_challenge, hashlib.md5).digest() + client_challenge
    fields = [lm, nt, domain.encode("utf-16-le"), user.encode("utf-16-le"), b"", b""]
    off = 64
    head = b"NTLMSSP\x00" + struct.pack("<I", 3)
    for f in fields:
        head += struct.pack("<HHI", len(f), len(f), off)
        off += len(f)
    return head + struct.pack("<I", NTLM_FLAGS) + b"".join(fields)


def der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + content


SPNEGO_OID = bytes.fromhex("2b0601050502")
NTLMSSP_OID = bytes.fromhex("2b06010401823702020a")


def spnego_init(token: bytes) -> bytes:
    mechs = der(0xA0, der(0x30, der(0x06, NTLMSSP_OID)))
    return der(0x60, der(0x06, SPNEGO_OID) + der(0xA0, der(0x30, mechs + der(0xA2, der(0x04, token)))))


def spnego_resp(token: bytes) -> bytes:
    return der(0xA1, der(0x30, der(0xA2, der(0x04, token))))


# --------------------------------------------------------------- connection

class Conn:
    """One TCP connection, one session, one tree; requests may be pipelined."""

    def __init__(self, host: str, port: int, *, source: str | None = None, timeout: float = 60.0,
                 credit_ask: int = 64):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb", buffering=1 << 16)
        self.host = host
        self.mid = 0
        self.credits = 1
        self.credit_ask = credit_ask
        self.sid = 0
        self.tid = 0
        self.dialect = 0
        self.done: dict[int, tuple[int, bytes]] = {}  # responses read while waiting for another
        self.inflight = 0
        self.breaks = 0

    def close(self) -> None:
        try:
            self.rfile.close()
            self.sock.close()
        except OSError:
            pass

    # framing
    def send(self, body: bytes, cmd: int) -> int:
        """Sends one request; returns its MessageId.  Reads (and keeps) responses
        while the server has granted no credit for it."""
        while self.credits < 1:
            self._read_one()
        mid = self.mid
        charge = 0 if self.dialect in (0, 0x0202) else 1
        hdr = HDR.pack(b"\xfeSMB", 64, charge, 0, cmd, self.credit_ask, 0, 0, mid, 0xFEFF,
                       self.tid, self.sid, b"\x00" * 16)
        frame = hdr + body
        self.sock.sendall(struct.pack(">I", len(frame)) + frame)
        self.mid += 1
        self.credits -= 1
        self.inflight += 1
        return mid

    def _read_one(self) -> None:
        head = self.rfile.read(4)
        if len(head) < 4:
            raise ConnectionError("server closed the connection")
        n = struct.unpack(">I", head)[0] & 0xFFFFFF
        frame = self.rfile.read(n)
        if len(frame) < n:
            raise ConnectionError("server closed the connection mid-frame")
        (_, _, _, status, _, credits, flags, _, mid, _, tid, sid, _) = HDR.unpack_from(frame)
        self.credits += credits
        if status == STATUS_PENDING and flags & FLAGS_ASYNC:
            return  # interim response; the final one follows
        if mid == 0xFFFFFFFFFFFFFFFF:
            self.breaks += 1  # an oplock break notification: nothing here waits for it
            return
        if self.sid == 0 and sid:
            self.sid = sid
        self.done[mid] = (status, frame[64:], tid)
        self.inflight -= 1

    def next_done(self) -> tuple[int, int, bytes]:
        """(mid, status, body) of some finished request (the oldest read first)."""
        while not self.done:
            self._read_one()
        mid = next(iter(self.done))
        status, body, _ = self.done.pop(mid)
        return mid, status, body

    def wait(self, mid: int) -> tuple[int, bytes]:
        while mid not in self.done:
            self._read_one()
        status, body, _ = self.done.pop(mid)
        return status, body

    def call(self, body: bytes, cmd: int, what: str, ok=(STATUS_SUCCESS,)) -> tuple[int, bytes]:
        status, rbody = self.wait(self.send(body, cmd))
        if status not in ok:
            raise SmbError(what, status)
        return status, rbody

    # set-up
    def logon(self, user: str, password: str, domain: str = "") -> None:
        body = struct.pack("<HHHHI16sQ", 36, len(DIALECTS), 1, 0, 0, os.urandom(16), 0)
        body += b"".join(struct.pack("<H", d) for d in DIALECTS)
        _, r = self.call(body, NEGOTIATE, "NEGOTIATE")
        self.dialect = struct.unpack_from("<H", r, 4)[0]
        tok = spnego_init(ntlm_negotiate())
        status, r = self.call(self._setup(tok), SESSION_SETUP, "SESSION_SETUP 1",
                              ok=(STATUS_MORE_PROCESSING_REQUIRED,))
        off, ln = struct.unpack_from("<HH", r, 4)
        blob = r[off - 64:off - 64 + ln]
        at = blob.find(b"NTLMSSP\x00")
        if at < 0:
            raise SmbError("SESSION_SETUP: no NTLMSSP challenge", status)
        tok = spnego_resp(ntlm_authenticate(blob[at:], user, password, domain))
        self.call(self._setup(tok), SESSION_SETUP, "SESSION_SETUP 2 (logon)")

    @staticmethod
    def _setup(tok: bytes) -> bytes:
        return struct.pack("<HBBIIHHQ", 25, 0, 1, 0, 0, 64 + 24, len(tok), 0) + tok

    def tree_connect(self, unc: str) -> None:
        path = unc.replace("/", "\\").encode("utf-16-le")
        mid = self.send(struct.pack("<HHHH", 9, 0, 64 + 8, len(path)) + path, TREE_CONNECT)
        while mid not in self.done:
            self._read_one()
        status, _, tid = self.done.pop(mid)
        if status:
            raise SmbError(f"TREE_CONNECT {unc}", status)
        self.tid = tid

    def ramp_credits(self, want: int) -> None:
        """Echo until the server has granted `want` credits (or stops granting more)."""
        for _ in range(64):
            if self.credits >= want:
                return
            before = self.credits
            self.call(struct.pack("<HH", 4, 0), ECHO, "ECHO")
            if self.credits <= before:
                return

    # request bodies
    @staticmethod
    def create_body(name: str, access: int = GENERIC_READ | GENERIC_WRITE,
                    disposition: int = FILE_OPEN_IF, oplock: int = OPLOCK_NONE) -> bytes:
        n = name.encode("utf-16-le")
        return struct.pack("<HBBIQQIIIIIHHII", 57, 0, oplock, 2, 0, 0, access, 0x80, SHARE_ALL,
                           disposition, NON_DIRECTORY_FILE, 64 + 56, len(n), 0, 0) + (n or b"\x00")

    @staticmethod
    def file_id(create_response: bytes) -> bytes:
        return create_response[64:80]

    @staticmethod
    def close_body(fid: bytes) -> bytes:
        return struct.pack("<HHI", 24, 0, 0) + fid

    @staticmethod
    def write_body(fid: bytes, offset: int, data: bytes) -> bytes:
        return struct.pack("<HHIQ16sIIHHI", 49, 64 + 48, len(data), offset, fid, 0, 0, 0, 0, 0) + data

    @staticmethod
    def lock_body(fid: bytes, elements) -> bytes:
        """elements: (offset, length, flags) triples."""
        els = list(elements)
        return struct.pack("<HHI16s", 48, len(els), 0, fid) + b"".join(
            struct.pack("<QQII", o, n, f, 0) for o, n, f in els)

    def create(self, name: str, **kw) -> bytes:
        _, r = self.call(self.create_body(name, **kw), CREATE, f"CREATE {name}")
        return self.file_id(r)

    def close_file(self, fid: bytes) -> None:
        self.call(self.close_body(fid), CLOSE, "CLOSE")


def run_slots(conn: Conn, slots, seconds: float) -> tuple[int, float, collections.Counter]:
    """Drives pipelined request sequences for `seconds`.

    Each slot is a generator yielding (cmd, body, completes): the request to send next;
    it is sent the (status, body) of that request's answer.  `completes` says that the
    answer finishes one operation.  New operations are started until the time is up; an
    operation under way is finished (a CREATE is always followed by its CLOSE).  Returns
    (operations, elapsed seconds, statuses)."""
    owner: dict[int, tuple] = {}
    statuses: collections.Counter = collections.Counter()
    t0 = time.monotonic()
    t_end = t0 + seconds
    for s in slots:
        cmd, body, comp = next(s)
        owner[conn.send(body, cmd)] = (s, comp)
    ops = 0
    while owner:
        mid, status, body = conn.next_done()
        s, comp = owner.pop(mid)
        statuses[status] += 1
        if comp:
            ops += 1
        if not comp or time.monotonic() < t_end:
            cmd, body, comp = s.send((status, body))
            owner[conn.send(body, cmd)] = (s, comp)
    return ops, time.monotonic() - t0, statuses
