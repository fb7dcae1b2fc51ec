#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The gateway talks to the directory over TLS with the certificate checked:
# ldaps:// and StartTLS with the CA that signed slapd's certificate work; the
# same with a CA that did not sign it is refused (quickly, with a message),
# never downgraded to plain text.
# Runs in an environment of its own (the gateway is restarted with each
# configuration).
# Depends on: ldap.c (ldaps, StartTLS, ca_file, LDAP_OPT_X_TLS_NEWCTX).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
export GW_LDAP_MODE=ldaps
private_env

[ -n "${LDAPS_URL:-}" ] && [ -s "${LDAP_CA_FILE:-}" ] ||
    fail "the LDAP fixture has no TLS (openssl missing?): cannot test ldaps"

# reconfigure MODE CA: rewrite the config, restart the gateway.
reconfigure() {
    GW_LDAP_MODE=$1 GW_LDAP_CA=$2 config_write || fail "config_write $1"
    gw_stop
    gw_start || fail "the gateway did not start with ldap mode $1"
}

login_works() {
    local out
    out=$(gw_ssh_pw alice-pw-2026 alice whoami 2>&1) || fail "$1: password login failed: $out"
    expect_match "$1: password login works" '^user:[[:space:]]+alice.*' "$out"
    out=$(gw_ssh alice whoami 2>&1) || fail "$1: key login failed: $out"
    expect_match "$1: key login works" '^user:[[:space:]]+alice' "$out"
}

login_refused() {
    local out rc=0 start ms
    start=$(now_ms)
    out=$(gw_ssh_pw alice-pw-2026 alice whoami 2>&1) || rc=$?
    ms=$(($(now_ms) - start))
    expect_ne "$1: login refused" 0 "$rc"
    expect_nomatch "$1: nothing ran" '^user:' "$out"
    expect_lt "$1: refused within 3 s + 5 s (ms)" 8000 "$ms"
    NOCASE=1 expect_match "$1: the refusal names the directory" 'directory|ldap' "$out"
}

# slapd_count ERE: matching lines in slapd's log so far.
slapd_count() {
    [ -r "$LDAP_LOG" ] || fail "cannot read slapd's log $LDAP_LOG"
    grep -cE "$1" "$LDAP_LOG" || true
}

n=$(slapd_count 'TLS established')
login_works "ldaps with the right CA"
expect_ne "ldaps: slapd saw TLS sessions" "$n" "$(slapd_count 'TLS established')"
reconfigure starttls "$LDAP_CA_FILE"
n=$(slapd_count ' STARTTLS$')
login_works "StartTLS with the right CA"
expect_ne "StartTLS: slapd saw the StartTLS operation" "$n" "$(slapd_count ' STARTTLS$')"

reconfigure ldaps "$LDAP_ROGUE_CA_FILE"
login_refused "ldaps with a CA that did not sign slapd's certificate"
reconfigure starttls "$LDAP_ROGUE_CA_FILE"
login_refused "StartTLS with a CA that did not sign slapd's certificate"

reconfigure ldaps "$LDAP_CA_FILE"
gw_still_serves
finish
