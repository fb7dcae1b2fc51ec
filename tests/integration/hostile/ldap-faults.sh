#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The directory is slow, hung or gone, seen through a proxy (delayproxy.py)
# between the gateway and slapd, so that the fault can change while the
# gateway runs:
#   slow (0.3 s per answer, within the 3 s timeout): logins still work;
#   slow (6 s per answer, past it), hung (the proxy reads and never
#   answers) and refused (connections closed at once): password and key
#   logins are refused within 3 s + 5 s, with a message that names the
#   directory and says it is unavailable, and an auth.failure row;
#   back to normal: logins work again without restarting the gateway.
# ldap-down.sh does the same for slapd itself stopped and SIGSTOPped.
# Runs in an environment of its own (it reroutes LDAP).
# Depends on: ldap.c (network and operation timeouts), session.c (banner).
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../jit-lib.sh
. "$(dirname "$0")/../jit-lib.sh"
# shellcheck source=lib-hostile.sh
. "$(dirname "$0")/lib-hostile.sh"
private_env
T=$DIR/scratch
mkdir -p "$T"
CTL=$T/ldap-mode
echo pass >"$CTL"
PP=$(free_port)
"$PY" "$HOSTILE_DIR/delayproxy.py" "$PP" "$LDAP_PORT" "$CTL" --max 300 >"$T/proxy.out" 2>&1 &
PROXY=$!
trap 'rc=$?; kill_tree "$PROXY"; env_down "$rc" || rc=1; exit $rc' EXIT
wait_port "$PP" "$PROXY" "delayproxy" || fail "the LDAP proxy did not start"
LDAP_URL=ldap://127.0.0.1:$PP
config_write || fail "config_write"
gw_stop
gw_start || fail "the gateway did not start behind the LDAP proxy"

LIMIT_MS=$(((3 + 5) * 1000))

works() {
    local out t0
    t0=$(now_ms)
    out=$(gw_ssh_pw alice-pw-2026 alice whoami 2>&1) || fail "$1: password login failed: $out"
    expect_match "$1: password login works" '^user:[[:space:]]+alice' "$out"
    out=$(gw_ssh alice whoami 2>&1) || fail "$1: key login failed: $out"
    expect_match "$1: key login works" '^user:[[:space:]]+alice' "$out"
    log "$1: both logins took $(($(now_ms) - t0)) ms"
}

refused() {
    local how out rc t0 ms seq0
    seq0=$(audit_last_seq)
    for how in password key; do
        rc=0
        t0=$(now_ms)
        if [ "$how" = password ]; then
            out=$(gw_ssh_pw alice-pw-2026 alice whoami 2>&1) || rc=$?
        else
            out=$(gw_ssh alice whoami 2>&1) || rc=$?
        fi
        ms=$(($(now_ms) - t0))
        expect_ne "$1: $how login refused" 0 "$rc"
        expect_nomatch "$1: $how login ran nothing" '^user:' "$out"
        expect_lt "$1: $how login refused within 3 s + 5 s (ms)" "$LIMIT_MS" "$ms"
        NOCASE=1 expect_match "$1: $how refusal names the directory" 'directory|ldap' "$out"
        NOCASE=1 expect_match "$1: $how refusal says it is unavailable" 'unavailable|unreachable|down|timed? ?out|cannot|could not' "$out"
    done
    if grep '"auth.failure"' <<<"$(audit_since "$seq0")" | grep -iE 'directory|ldap|unavailable|timed? ?out' >/dev/null; then
        pass "$1: the refusals are audited with the reason"
    else
        weak ldap-refusal-not-audited "$1: no auth.failure row naming the directory for the refused logins: $(audit_since "$seq0" | head -c 400)"
    fi
    gw_listener_alive
}

works "through the proxy"
echo "delay 0.3" >"$CTL"
works "directory answering in 0.3 s"
echo "delay 6" >"$CTL"
refused "directory answering in 6 s (timeout 3 s)"
echo blackhole >"$CTL"
refused "directory hung (reads, never answers)"
echo refuse >"$CTL"
refused "directory refusing connections"
echo pass >"$CTL"
works "directory back"
# children stuck on the directory are gone
if wait_until 10 gw_no_children; then
    pass "no gateway child lingers after the directory faults"
else
    weak children-linger "$(gw_children | grep -c .) gateway children still there 10 s after the directory faults"
fi
gw_log_clean 1
gw_still_serves
hostile_finish
