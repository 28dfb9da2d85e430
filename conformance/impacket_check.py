#!/usr/bin/env python3
"""impacket against a running server: what its smbclient.py `shares` and `info` commands
do (SMBConnection.listShares, srvsvc NetrServerGetInfo level 102), NetrShareGetInfo,
and lsarpc: LsarOpenPolicy2, LsarQueryInformationPolicy2, LsarLookupNames3,
LsarLookupSids2, LsarClose; an opnum srvsvc does not serve answers the fault
nca_s_op_rng_error (issue 13, item 1). smbclient.py itself only talks to ports 139 and
445, so the same calls are made through impacket's library on any port.

Run by crates/cli/tests/rpc_pipes.rs when `import impacket` works; by hand:

    python3 conformance/impacket_check.py --port PORT --user user --password pass \
        --server-name NAME --share share='its comment'

Prints "all checks passed" and exits 0, or names the first check that failed and exits 1.
"""

import argparse
import sys

from impacket.dcerpc.v5 import lsad, lsat, srvs, transport
from impacket.dcerpc.v5.dtypes import MAXIMUM_ALLOWED
from impacket.dcerpc.v5.rpcrt import DCERPCException
from impacket.smbconnection import SMBConnection


def check(what, ok):
    if not ok:
        print(f"FAILED: {what}")
        sys.exit(1)
    print(f"ok: {what}")


def text(v):
    return str(v).rstrip("\x00")


def pipe(conn, name, uuid):
    t = transport.SMBTransport(conn.getRemoteHost(), filename=name, smb_connection=conn)
    dce = t.get_dce_rpc()
    dce.connect()
    dce.bind(uuid)
    return dce


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--server-name", required=True)
    ap.add_argument("--share", action="append", default=[], help="NAME=COMMENT")
    a = ap.parse_args()
    conn = SMBConnection(a.host, a.host, sess_port=a.port)
    conn.login(a.user, a.password)

    # smbclient.py `shares`
    listed = {text(s["shi1_netname"]): (s["shi1_type"], text(s["shi1_remark"])) for s in conn.listShares()}
    for spec in a.share:
        name, comment = spec.split("=", 1)
        check(f"shares lists {name} as a disk share with comment {comment!r} ({listed.get(name)})",
              listed.get(name) == (srvs.STYPE_DISKTREE, comment))
    check(f"shares lists IPC$ as IPC ({listed.get('IPC$')})",
          listed.get("IPC$", (0,))[0] == (srvs.STYPE_IPC | srvs.STYPE_SPECIAL))

    # smbclient.py `info`
    dce = pipe(conn, r"\srvsvc", srvs.MSRPC_UUID_SRVS)
    info = srvs.hNetrServerGetInfo(dce, 102)["InfoStruct"]["ServerInfo102"]
    check(f"info names the server ({text(info['sv102_name'])})", text(info["sv102_name"]) == a.server_name)
    check(f"info: platform NT, version {info['sv102_version_major']}.{info['sv102_version_minor']}",
          info["sv102_platform_id"] == 500 and info["sv102_version_major"] >= 5)
    first = a.share[0].split("=", 1)[0]
    got = srvs.hNetrShareGetInfo(dce, first + "\x00", 1)["InfoStruct"]["ShareInfo1"]
    check(f"NetrShareGetInfo {first}", text(got["shi1_netname"]) == first)
    try:
        srvs.hNetrShareGetInfo(dce, "no-such-share\x00", 1)
        check("NetrShareGetInfo of a missing share fails", False)
    except DCERPCException as e:
        check(f"NetrShareGetInfo of a missing share: {e}", e.get_error_code() == 2310)
    try:
        dce.call(99, b"")
        dce.recv()
        check("opnum 99 is a fault", False)
    except DCERPCException as e:
        check(f"opnum 99: fault {e}", "nca_s_op_rng_error" in str(e))
    dce.disconnect()

    # lsarpc
    dce = pipe(conn, r"\lsarpc", lsat.MSRPC_UUID_LSAT)
    h = lsad.hLsarOpenPolicy2(dce, MAXIMUM_ALLOWED | lsat.POLICY_LOOKUP_NAMES)["PolicyHandle"]
    dom = lsad.hLsarQueryInformationPolicy2(dce, h, lsad.POLICY_INFORMATION_CLASS.PolicyAccountDomainInformation)
    dom = dom["PolicyInformation"]["PolicyAccountDomainInfo"]
    domain_sid = dom["DomainSid"].formatCanonical()
    check(f"account domain {dom['DomainName']} {domain_sid}",
          str(dom["DomainName"]) == a.server_name and domain_sid.startswith("S-1-5-21-"))
    r = lsat.hLsarLookupNames3(dce, h, (a.user,))
    sid = r["TranslatedSids"]["Sids"][0]["Sid"].formatCanonical()
    check(f"LsarLookupNames3 {a.user} -> {sid}", sid.startswith(domain_sid + "-"))
    r = lsat.hLsarLookupSids2(dce, h, [sid, "S-1-1-0", "S-1-5-32-544"])
    names = [str(n["Name"]) for n in r["TranslatedNames"]["Names"]]
    check(f"LsarLookupSids2 -> {names}", names == [a.user, "Everyone", "Administrators"])
    lsad.hLsarClose(dce, h)
    dce.disconnect()
    conn.logoff()
    print("all checks passed")


if __name__ == "__main__":
    main()
