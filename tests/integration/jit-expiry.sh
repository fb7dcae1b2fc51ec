#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Time limits:
#   - a grant that expires ends every session using it within 5 s, with
#     "drawbridge: grant N has expired; session closed" on the engineer's
#     terminal (stderr for exec, the pty for an interactive shell), after a
#     warning; the expiry-to-disconnect time is measured and printed;
#   - the 5-minute warning reaches a session whose grant has less left;
#   - a request not decided within request_ttl expires and can no longer be
#     approved.
# Runs in an environment of its own (short grants, a reloaded policy).
# Depends on: channel.c (chan_check_grants: per-second re-check, warnings,
# closing), access.c (access_expire, access_decide on a stale request), the
# listener's sweep, policy reload.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

private_env
T=$DIR/scratch
mkdir -p "$T"
trap 'rc=$?; bg_cleanup; env_down "$rc" || rc=1; exit $rc' EXIT

# ---- a grant expiring under a live exec session and a live pty session ----
request alice web-1 8s
g=$N
approve bob "$g"
ends=$(db_query "SELECT ends_at FROM grants WHERE id = $g")
starts=$(db_query "SELECT starts_at FROM grants WHERE id = $g")
expect_eq "store: the grant lasts 8 s from the approval" 8 "$((ends - starts))"

bg_session exp alice+web-1 "$LIVE_CMD"
bg_pty exppty alice+web-1 'expect:[#$] ' 'send:echo pty-ready-$((6*7))\r' 'expect:pty-ready-42' \
    "expect:drawbridge: grant $g has expired; session closed" exit:any
wait_until 10 file_has "$T/exp.out" '^started$' || fail "the exec session did not start: $(cat "$T/exp.err")"
wait_until 10 file_has "$T/exppty.log" 'pty-ready-42' || fail "the pty session did not start: $(cat "$T/exppty.drive")"
now=$(now_ms)
[ "$now" -lt $((ends * 1000)) ] || fail "the sessions started only after the grant had expired (too slow a machine?)"
pass "both sessions run before the grant expires ($((ends * 1000 - now)) ms left)"

wait_until $((ends - $(date +%s) + 12)) has_file "$T/exp.rc" ||
    fail "the exec session still runs 12 s after its grant expired"
wait_until 10 has_file "$T/exppty.rc" || fail "the pty session still runs 12 s after its grant expired"
exec_ms=$(($(cat "$T/exp.end") - ends * 1000))
pty_ms=$(($(cat "$T/exppty.end") - ends * 1000))
log "expiry-to-disconnect: exec session ${exec_ms} ms, pty session ${pty_ms} ms (from grant end, ends_at = $ends)"
[ "$exec_ms" -ge 0 ] || fail "the exec session ended ${exec_ms} ms before its grant expired"
[ "$pty_ms" -ge 0 ] || fail "the pty session ended ${pty_ms} ms before its grant expired"
expect_lt "exec session gone within 5 s of the grant's end (ms)" 5000 "$exec_ms"
expect_lt "pty session gone within 5 s of the grant's end (ms)" 5000 "$pty_ms"
expect_ne "the exec session ends with a non-zero status" 0 "$(cat "$T/exp.rc")"
expect_match "exec: the expiry message is on stderr" "^drawbridge: grant $g has expired; session closed\$" "$(cat "$T/exp.err")"
expect_match "exec: a warning came before the end" "^drawbridge: grant $g ends in [0-9]+ second\(s\)\$" "$(cat "$T/exp.err")"
expect_eq "pty: ptydrive saw the expiry message on the terminal (rc)" 0 "$(cat "$T/exppty.rc")"
expect_match "pty: the warning reached the terminal" "drawbridge: grant $g ends in [0-9]+ second\(s\)" "$(cat "$T/exppty.log")"

run alice+web-1 'echo reached-target'
expect_ne "a new connection after the expiry is refused" 0 "$RC"
expect_match "and says how to request access" 'no active grant; request one with: ssh [^ ]+ request web-1' "$ERR"
expired() { [ "$(db_query "SELECT status FROM grants WHERE id = $g")" = expired ]; }
wait_until 10 expired || fail "store: grant $g is not marked expired 10 s after its end"
pass "store: grant $g is marked expired"
expect_audit "audit: grant.expire of grant $g" grant.expire "grant $g" system
n=$(db_query "SELECT count(*) FROM sessions WHERE grant_id = $g AND ended_at = 0")
expect_eq "store: no session of grant $g is left open" 0 "$n"

# ---- the 5-minute warning ----
request alice web-1 4m
g=$N
approve bob "$g"
bg_session warn alice+web-1 "$LIVE_CMD"
wait_until 10 file_has "$T/warn.err" "^drawbridge: grant $g ends in 4 minute\(s\)\$" ||
    fail "no 5-minute warning for a grant with 4 minutes left: $(cat "$T/warn.err")"
pass "a session whose grant has 4 minutes left is warned: 'grant $g ends in 4 minute(s)'"
run alice revoke "$g" --reason "'done early'"
expect_eq "alice gives up her own grant (revoke, exit 0)" 0 "$RC"
wait_until 6 has_file "$T/warn.rc" || fail "the session still runs 6 s after its grant was revoked"
expect_match "the session ends with the revoke message" "^drawbridge: grant $g was revoked; session closed\$" "$(cat "$T/warn.err")"

# ---- request expiry (request_ttl 3s) ----
GW_REQUEST_TTL=3s gw_reload_policy || fail "cannot load a policy with request_ttl 3s"
request alice web-1 1h
r=$N
ttl=$(db_query "SELECT expires_at - created_at FROM requests WHERE id = $r")
expect_eq "store: the request expires 3 s after it was made" 3 "$ttl"
reads_expired() {
    run alice show "$r"
    grep -q "^request $r: expired" <<<"$OUT"
}
wait_until 10 reads_expired || fail "show $r does not say expired 10 s after a 3 s ttl: $OUT $ERR"
pass "show $r says expired once request_ttl has passed"
run bob approve "$r"
expect_refusal "approving an expired request is refused" 1 "request $r (has expired \(not decided in time\)|is not pending \(expired\))"
expect_eq "store: request $r is expired, with no decision and no grant" "expired|0|0" \
    "$(db_query "SELECT status FROM requests WHERE id = $r")|$(db_query "SELECT count(*) FROM decisions WHERE request_id = $r")|$(db_query "SELECT count(*) FROM grants WHERE id = $r")"
expect_audit "audit: request.expire of request $r" request.expire "request $r" system
run bob requests --pending
expect_nomatch "bob's pending list no longer shows request $r" "^$r " "$OUT"
run alice cancel "$r"
expect_refusal "an expired request cannot be cancelled" 1 "request $r is not pending \(expired\)"
run alice+web-1 'echo reached-target'
expect_ne "alice+web-1 is refused after the request expired" 0 "$RC"
expect_nomatch "nothing ran on web-1" 'reached-target' "$OUT"

expect_verify_ok "drawbridge verify: the chain holds"
gw_still_serves
finish
