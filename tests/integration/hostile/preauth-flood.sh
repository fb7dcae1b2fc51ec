#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# 300 idle pre-authentication connections and a slowloris client (an
# identification line sent a byte per second) while a real user logs in.
# Limits of this environment, chosen so that 300 held connections fit:
#   max_startups 400, max_startups_per_source 100, login_grace 15s
# The 300 come from four addresses (127.0.1.1-4, 75 each), the slowloris from
# 127.0.2.1, alice from 127.0.0.1.  Checked:
#   - every held connection was accepted (the listener keeps serving while
#     300 children wait in key exchange), and alice logs in within 5 s;
#   - the slowloris client is cut off at login_grace (+ the listener's 2 s
#     margin + 3 s), never later;
#   - afterwards nothing is left: no child outlives login_grace.
# Then the same flood against the limits of the shared environment's kind
# (max_startups 64, per source 32): 64 silent connections from 2 addresses
# hold every unauthenticated slot, so a user from a third address is locked
# out until login_grace ends them.  That is reported (startups-lockout).
# preauth-limits.sh covers the limits themselves with small numbers.
# Runs in an environment of its own; labelled slow (about 40 s).
# Depends on: server.c (accept loop, startup counting, grace kill), session.c.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../jit-lib.sh
. "$(dirname "$0")/../jit-lib.sh"
# shellcheck source=lib-hostile.sh
. "$(dirname "$0")/lib-hostile.sh"
export GW_LIMITS="{max_startups: 400, max_startups_per_source: 100, login_grace: 15s, max_auth_tries: 6, slow_after_failures: 100000}"
private_env
T=$DIR/scratch
mkdir -p "$T"
BG=()
trap 'rc=$?; for p in "${BG[@]}"; do kill_tree "$p"; done; env_down "$rc" || rc=1; exit $rc' EXIT

probe() { "$PY" "$LIB_DIR/tcpprobe.py" "$@"; }

# ---- 300 idle connections + slowloris, alice logs in ----
start=$(now_ms)
for i in 1 2 3 4; do
    probe hold 75 127.0.0.1 "$GW_PORT" --source "127.0.1.$i" --seconds 12 >"$T/hold$i" 2>&1 &
    BG+=($!)
done
"$PY" "$HOSTILE_DIR/slowloris.py" 127.0.0.1 "$GW_PORT" --source 127.0.2.1 --max 40 >"$T/slowloris" 2>&1 &
slow=$!
BG+=("$slow")
for i in 1 2 3 4; do
    wait_until 20 grep -q '^held 75' "$T/hold$i" || fail "source 127.0.1.$i could not open its 75 connections: $(cat "$T/hold$i")"
done
pass "300 idle connections are open (in $(($(now_ms) - start)) ms)"
# The kernel completes the 300 connections before the listener has taken
# them all (accept, fork): give it until the held connections are 8 s old.
all_accepted() { [ "$(gw_children | grep -c . || true)" -ge 300 ]; }
t_acc=$(now_ms)
if wait_until 7 all_accepted; then
    pass "every held connection has its gateway child (after $(($(now_ms) - t_acc)) ms more)"
else
    weak flood-not-accepted "only $(gw_children | grep -c . || true) gateway children for 300 held connections, 8 s after they were opened"
fi
t0=$(now_ms)
out=$(gw_ssh alice -b 127.0.0.1 whoami 2>&1) || fail "alice could not log in during the flood: $out"
ms=$(($(now_ms) - t0))
expect_match "alice logs in during the flood" '^user:[[:space:]]+alice' "$out"
expect_lt "alice's login took less than 5 s (ms)" 5000 "$ms"
out=$(gw_ssh_pw bob-pw-2026 bob -b 127.0.0.1 whoami 2>&1) || fail "bob (password) could not log in during the flood: $out"
expect_match "bob logs in with his password during the flood" '^user:[[:space:]]+bob' "$out"
for i in 1 2 3 4; do wait "${BG[$((i - 1))]}" 2>/dev/null; done
closed=$(cat "$T"/hold? | grep -c 'closed' || true)
expect_eq "none of the 300 was closed before login_grace (12 s < 15 s)" 0 "$closed"

# ---- the slowloris client is cut off at login_grace ----
wait_until 30 grep -q . "$T/slowloris" || fail "the slowloris client is still connected after 40 s"
res=$(cat "$T/slowloris")
expect_match "the slowloris client was disconnected" '^closed after' "$res"
secs=$(printf '%s\n' "$res" | sed -n 's/^closed after \([0-9]*\).*/\1/p')
expect_lt "the slowloris client was cut off within login_grace + 5 s (s)" 21 "${secs:-99}"

# ---- nothing outlives login_grace ----
if wait_until 10 gw_no_children; then
    pass "no gateway child left after the flood"
else
    weak children-linger "$(gw_children | grep -c .) gateway children left 10 s after the flood ended"
fi

# ---- the hard cap: 64 silent connections lock everyone out ----
GW_LIMITS="{max_startups: 64, max_startups_per_source: 32, login_grace: 6s, max_auth_tries: 6, slow_after_failures: 100000}"
config_write || fail "config_write"
gw_stop
gw_start || fail "the gateway did not start with the small limits"
for i in 1 2; do
    probe hold 32 127.0.0.1 "$GW_PORT" --source "127.0.3.$i" --seconds 5 >"$T/cap$i" 2>&1 &
    BG+=($!)
done
for i in 1 2; do
    wait_until 20 grep -q '^held 32' "$T/cap$i" || fail "127.0.3.$i could not open 32 connections"
done
sleep 0.5
rc=0
out=$(gw_ssh alice -b 127.0.0.1 -o ConnectTimeout=5 whoami 2>&1) || rc=$?
if [ "$rc" = 0 ]; then
    pass "a user from another address still logs in while 64 silent connections wait"
else
    weak startups-lockout "64 silent connections from 2 addresses (max_startups 64, per source 32) lock every other user out until login_grace ends them: alice from 127.0.0.1 got: $(printf '%s' "$out" | head -n 1)"
fi
wait "${BG[-1]}" "${BG[-2]}" 2>/dev/null
sleep 1
gw_log_clean 1
gw_listener_alive
gw_still_serves
hostile_finish
