#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Password spraying from one address is slowed down; other addresses and a
# user who knows the password are not.  With the default
# limits.slow_after_failures (the key is left out of the config), one source
# sends 24 wrong passwords, one per connection, rotating over the demo users
# (as a sprayer does, so that no account reaches max_auth_tries), and the
# time each refusal takes is measured:
#   - the last 5 refusals take at least 1 s longer on average than the first
#     5 (the gateway holds back the answer for a failing source);
#   - a fresh address is answered at once, and alice from another address
#     logs in within 3 s;
#   - every attempt left an auth.failure row with its peer.
# A gateway without a per-source throttle fails here (spray-not-slowed).
# Runs in an environment of its own (its own limits).
# Depends on: server.c (failure score per source), session.c (delayed answers).
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../jit-lib.sh
. "$(dirname "$0")/../jit-lib.sh"
# shellcheck source=lib-hostile.sh
. "$(dirname "$0")/lib-hostile.sh"
need_raw_client
export GW_LIMITS="{max_startups: 64, max_startups_per_source: 32, login_grace: 30s, max_auth_tries: 6}"
private_env
T=$DIR/scratch
mkdir -p "$T"
export RAWSSH_TIMEOUT=15
seq0=$(audit_last_seq)

users=(alice bob carol dave erin frank)
# attempt SOURCE USER: one wrong password from SOURCE; prints the milliseconds it took.
attempt() {
    local t0 out
    t0=$(now_ms)
    out=$(RAWSSH_SOURCE=$1 raw kex service "auth-password:$2:Spring2026!")
    case "$(outcome_of auth-password "$out")" in
    USERAUTH_FAILURE*) ;;
    USERAUTH_SUCCESS) fail "a wrong password logged $2 in" ;;
    *) echo "attempt from $1 as $2: $out" >>"$T/odd" ;;
    esac
    echo $(($(now_ms) - t0))
}

times=()
for i in $(seq 0 23); do
    times+=("$(attempt 127.0.4.1 "${users[$((i % 6))]}")")
done
log "refusal times (ms) from 127.0.4.1: ${times[*]}"
first=$(((times[0] + times[1] + times[2] + times[3] + times[4]) / 5))
last=$(((times[19] + times[20] + times[21] + times[22] + times[23]) / 5))
if [ $((last - first)) -ge 1000 ]; then
    pass "refusals slowed down for the spraying source: first 5 ${first} ms, last 5 ${last} ms on average"
else
    weak spray-not-slowed "24 wrong passwords from one address were answered as fast at the end as at the start (first 5: ${first} ms, last 5: ${last} ms on average)"
fi
fresh=$(attempt 127.0.4.2 alice)
expect_lt "a fresh address is answered at once (ms)" 1500 "$fresh"
t0=$(now_ms)
out=$(gw_ssh_pw alice-pw-2026 alice -b 127.0.0.1 whoami 2>&1) || fail "alice could not log in from 127.0.0.1: $out"
expect_match "alice logs in from another address" '^user:[[:space:]]+alice' "$out"
expect_lt "within 3 s (ms)" 3000 "$(($(now_ms) - t0))"
n=$(audit_since "$seq0" | grep '"auth.failure"' | grep -c '127\.0\.4\.1:' || true)
if [ "$n" -ge 24 ]; then
    pass "every sprayed attempt has an auth.failure row with its peer ($n)"
else
    weak spray-not-audited "only $n of 24 sprayed attempts have an auth.failure row naming 127.0.4.1"
fi
[ -f "$T/odd" ] && log "attempts with unexpected answers: $(head -n 5 "$T/odd")"
gw_log_clean 1
gw_listener_alive
gw_still_serves
hostile_finish
