#!/usr/bin/env bash
# smbclient acceptance scenario against a running server.
#
#   conformance/smbclient_check.sh [-p PORT] [-U USER%PASS] [-s CLIENT_CONF] //HOST/SHARE
#   conformance/smbclient_check.sh -l      # list the test names and exit
#
# For each scenario (dialect pinned with -m and "client min protocol", plus a
# signed session): mkdir, put a 5 MiB random file, rename it, ls (the new name
# with the right size must be there, the old one gone), get it back and cmp,
# del, rmdir, ls (the directory must be gone).
#
# Prints one subunit-style result per scenario (test:/success:/failure: NAME
# [ detail ]), the same format as smbtorture, so conformance/run.py parses it
# as the pseudo-suite "smbclient".  Exits nonzero if any scenario failed.
#
# SMBCLIENT_SCENARIOS (space separated names from the table below) picks a
# subset; SMBCLIENT_STEP_TIMEOUT (default 60) bounds each smbclient call.
set -euo pipefail

usage() { echo "usage: $0 [-p PORT] [-U USER%PASS] [-s CLIENT_CONF] //HOST/SHARE | -l" >&2; exit 2; }

port=445
creds="torture%opportune-Torture-1"
conf=()
list_only=0
while getopts "p:U:s:lh" opt; do
    case "$opt" in
        l) list_only=1 ;;
        p) port=$OPTARG ;;
        U) creds=$OPTARG ;;
        s) conf=(--configfile="$OPTARG") ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))

# name -> extra smbclient arguments.  "SMB3" is smbclient's highest SMB3
# dialect with the default minimum, as a user would run it.
declare -A scenario_args=(
    [SMB2_02]="-m SMB2_02 --option=clientminprotocol=SMB2_02"
    [SMB2_10]="-m SMB2_10 --option=clientminprotocol=SMB2_10"
    [SMB3]="-m SMB3"
    [SMB3_11]="-m SMB3_11 --option=clientminprotocol=SMB3_11"
    [SMB3_11-signed]="-m SMB3_11 --option=clientminprotocol=SMB3_11 --client-protection=sign"
)
# shellcheck disable=SC2206  # a space-separated list on purpose
scenarios=(${SMBCLIENT_SCENARIOS:-SMB2_02 SMB2_10 SMB3 SMB3_11 SMB3_11-signed})
for name in "${scenarios[@]}"; do
    if [ -z "${scenario_args[$name]+x}" ]; then
        echo "unknown scenario $name (known: ${!scenario_args[*]})" >&2
        exit 2
    fi
done
if [ "$list_only" -eq 1 ]; then
    printf 'smbclient.%s\n' "${scenarios[@]}"
    exit 0
fi
[ $# -eq 1 ] || usage
unc=$1
command -v smbclient >/dev/null || { echo "smbclient not found (apt-get install smbclient)" >&2; exit 2; }
step_timeout=${SMBCLIENT_STEP_TIMEOUT:-60}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
size=$((5 * 1024 * 1024))
head -c "$size" /dev/urandom > "$work/orig.bin"

out=""       # output of the last smbclient call
failed_step=""

# run_smb SCENARIO COMMAND: one smbclient session running COMMAND; fails on a
# nonzero exit or any NT_STATUS_ in the output (smbclient exits 0 after some
# failed commands, e.g. mkdir or rmdir).
run_smb() {
    local name=$1 cmd=$2 rc=0
    # shellcheck disable=SC2086  # scenario args are split on purpose
    out=$(cd "$work" && timeout "$step_timeout" smbclient "$unc" -p "$port" -U "$creds" \
        "${conf[@]}" ${scenario_args[$name]} -c "$cmd" 2>&1) || rc=$?
    if [ "$rc" -ne 0 ] || grep -q 'NT_STATUS_' <<<"$out"; then
        [ "$rc" -eq 124 ] && out+=$'\n'"(timed out after ${step_timeout}s)"
        out+=$'\n'"(smbclient exit code $rc)"
        return 1
    fi
}

step() { # step SCENARIO LABEL COMMAND
    failed_step=$2
    run_smb "$1" "$3"
}

scenario() {
    local name=$1 dir="check_$1"
    local src=orig.bin back="back-$1.bin"
    step "$name" mkdir "mkdir $dir" || return 1
    step "$name" put "put $src $dir\\file.bin" || return 1
    step "$name" rename "rename $dir\\file.bin $dir\\renamed.bin" || return 1
    step "$name" ls "ls $dir\\*" || return 1
    failed_step="ls shows renamed.bin with $size bytes"
    grep -Eq "^ +renamed\.bin +[A-Z]* +$size " <<<"$out" || return 1
    failed_step="ls no longer shows file.bin"
    ! grep -Eq "^ +file\.bin " <<<"$out" || return 1
    step "$name" get "get $dir\\renamed.bin $back" || return 1
    failed_step="cmp of the file read back"
    out=$(cmp "$work/$src" "$work/$back" 2>&1) || return 1
    rm -f "$work/$back"
    step "$name" del "del $dir\\renamed.bin" || return 1
    step "$name" rmdir "rmdir $dir" || return 1
    step "$name" ls-after-rmdir "ls" || return 1
    failed_step="ls no longer shows $dir"
    ! grep -Eq "^ +$dir +D" <<<"$out" || return 1
}

failures=0
for name in "${scenarios[@]}"; do
    echo "test: smbclient.$name"
    if scenario "$name"; then
        echo "success: smbclient.$name"
    else
        failures=$((failures + 1))
        echo "failure: smbclient.$name ["
        echo "step failed: $failed_step (smbclient ${scenario_args[$name]})"
        # Keep the detail block well-formed: no line may be a bare "]".
        sed -e 's/^\]$/ ]/' <<<"$out"
        echo "]"
    fi
done
echo "smbclient_check: $((${#scenarios[@]} - failures)) of ${#scenarios[@]} scenarios passed"
[ "$failures" -eq 0 ]
