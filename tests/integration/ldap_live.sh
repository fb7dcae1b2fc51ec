#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs tests/integration/ldap_live_test (broker/ldap.c against a real slapd):
# starts a private slapd with lib-ldap.sh in a temp dir, gives alice a key,
# runs the test binary, and removes everything afterwards.
#
#   ldap_live.sh TEST_BINARY        what ctest runs
#   ldap_live.sh --ctl VERB         stop|restart|pause|resume the slapd in
#                                   $LDAP_DIR (the test binary calls this)
#
# On failure the tail of slapd's log is printed; KEEP=1 keeps the temp dir.

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib-ldap.sh
. "$HERE/lib-ldap.sh"

if [[ ${1:-} == --ctl ]]; then
    : "${LDAP_DIR:?--ctl needs LDAP_DIR}"
    case ${2:-} in
    stop) ldap_stop ;;
    restart) ldap_restart ;;
    pause) ldap_pause ;;
    resume) ldap_resume ;;
    *)
        echo "usage: ldap_live.sh --ctl stop|restart|pause|resume" >&2
        exit 2
        ;;
    esac
    exit
fi

TEST_BIN=${1:?usage: ldap_live.sh TEST_BINARY}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/drawbridge-ldap.XXXXXX") || exit 1

finish() {
    local rc=$?
    ldap_stop
    if [[ $rc != 0 && -f $WORK/ldap/slapd.log ]]; then
        echo "----- slapd.log (last 40 lines) -----" >&2
        tail -n 40 "$WORK/ldap/slapd.log" >&2
    fi
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "kept $WORK" >&2
    else
        ldap_cleanup
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap finish EXIT

ldap_start "$WORK/ldap" || exit 1
export ALICE_KEY="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMXirofeUnEEMhBZ/fOdahTvHbpuv5aZLAUcaER8Gd1P alice@drawbridge-test"
ldap_add_key alice "$ALICE_KEY" || exit 1
export LDAP_LIVE_SCRIPT=$HERE/ldap_live.sh LDAP_LIVE_TMPDIR=$WORK
# In the background so that a TERM from ctest's timeout runs the traps now
# (bash defers traps while a foreground child runs) and slapd is not left behind.
trap '[[ -n ${TEST_PID:-} ]] && kill -TERM "$TEST_PID" 2>/dev/null; exit 1' TERM INT HUP
"$TEST_BIN" &
TEST_PID=$!
wait "$TEST_PID"
