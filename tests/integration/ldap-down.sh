#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The directory is down or hangs: a login is refused quickly (within the
# configured 3 s LDAP timeout plus a few seconds) with a clear message on the
# client's stderr, never allowed; once slapd is back, logins work again
# without restarting the gateway.
#   stopped: slapd not running (connection refused)
#   paused:  slapd SIGSTOPped (TCP connects, nothing answers: the timeouts)
# Runs in an environment of its own (it stops slapd).
# Depends on: ldap.c (network and operation timeouts, lazy reconnect),
# session.c (refusing with a message before authentication completes).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
private_env

LIMIT_MS=$(((3 + 5) * 1000))
MSG='directory|ldap'

works() { # works WHAT: password and key login both succeed
    local out
    out=$(gw_ssh_pw alice-pw-2026 alice whoami 2>&1) || fail "$1: password login failed: $out"
    expect_match "$1: password login works" '^user:[[:space:]]+alice' "$out"
    out=$(gw_ssh alice whoami 2>&1) || fail "$1: key login failed: $out"
    expect_match "$1: key login works" '^user:[[:space:]]+alice' "$out"
}

refused_quickly() { # refused_quickly WHAT: password and key login both refused fast
    local out rc start ms
    for how in password key; do
        rc=0
        start=$(now_ms)
        if [ "$how" = password ]; then
            out=$(gw_ssh_pw alice-pw-2026 alice whoami 2>&1) || rc=$?
        else
            out=$(gw_ssh alice whoami 2>&1) || rc=$?
        fi
        ms=$(($(now_ms) - start))
        expect_ne "$1: $how login refused" 0 "$rc"
        expect_nomatch "$1: $how login ran nothing" '^user:' "$out"
        expect_lt "$1: $how login refused within 3 s + 5 s (ms)" "$LIMIT_MS" "$ms"
        NOCASE=1 expect_match "$1: $how refusal names the directory" "$MSG" "$out"
        NOCASE=1 expect_match "$1: $how refusal says it is unavailable" 'unavailable|unreachable|down|timed? ?out|cannot|could not' "$out"
    done
}

works "before"

ldap_stop || fail "ldap_stop failed"
refused_quickly "slapd stopped"
ldap_restart || fail "ldap_restart failed"
works "after ldap_restart"

ldap_pause || fail "ldap_pause failed"
refused_quickly "slapd paused"
ldap_resume || fail "ldap_resume failed"
works "after ldap_resume"

gw_still_serves
finish
