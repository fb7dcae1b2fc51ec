#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Reviewers and live sessions:
#   - `sessions --live` lists a running session;
#   - `watch ID` shows what the session printed before it started and then
#     what it prints afterwards, as it happens (latency measured), with the
#     same neutralising of hostile sequences as replay, and ends by itself
#     when the session ends;
#   - `terminate ID --reason` ends the session within a few seconds with
#     "drawbridge: session terminated by carol: REASON" on the engineer's
#     side, audited (session.terminate), marked in the recording; a session
#     that has ended cannot be terminated.
# Runs in an environment of its own (it ends sessions).
# Depends on: shell (sessions, watch, terminate), channel.c (chan_tick and
# terminate requests), recorder.c (flush every second), sanitize.c.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

private_env
T=$DIR/scratch
mkdir -p "$T"
trap 'rc=$?; bg_cleanup; env_down "$rc" || rc=1; exit $rc' EXIT

# The session waits for T/go, then prints a marker and a hostile sequence
# (OSC 52 and CSI 6n), then keeps running until it is ended.
bg_session live alice+staging-1 "echo before-watch-\$((6*7)); while [ ! -e $T/go ]; do sleep 0.1; done; printf 'after-watch-%s \\033]52;c;cHduZWQ=\\007\\033[6n done\\n' \$((6*7)); while sleep 0.3; do printf .; done"
wait_until 10 file_has "$T/live.out" '^before-watch-42' || fail "the session did not start: $(cat "$T/live.err")"
sid=$(session_ids "\"user\" = 'alice' AND ended_at = 0 AND command LIKE 'echo before-watch%'" | head -n 1)
[ -n "$sid" ] || fail "no live session row"

run carol sessions --live
expect_match "sessions --live lists the running session" "^$sid +alice +staging-1 " "$OUT"
run carol sessions --live --json
expect_match "sessions --live --json: live: true" "\"id\": *\"$sid\".*\"live\": *true" "$OUT"

# watch, with stdin kept open (EOF or q would stop it): a FIFO this shell
# holds open for writing.
mkfifo "$T/watch.in"
exec 8<>"$T/watch.in"
(
    rc=0
    as carol watch "$sid" <"$T/watch.in" >"$T/watch.out" 2>"$T/watch.err" || rc=$?
    now_ms >"$T/watch.end"
    echo "$rc" >"$T/watch.rc"
) &
BG_PIDS+=($!)
wait_until 10 file_has "$T/watch.out" 'before-watch-42' ||
    fail "watch did not show what the session printed before it started: $(cat "$T/watch.err")"
pass "watch shows the session's output from before it started"
sleep 0.5
t0=$(now_ms)
touch "$T/go"
wait_until 10 file_has "$T/watch.out" 'after-watch-42' ||
    fail "watch did not show the output printed after it started: $(cat "$T/watch.out")"
ms=$(($(now_ms) - t0))
log "watch latency: the new output appeared $ms ms after it was printed"
pass "watch shows output printed after it started ($ms ms later)"
expect_lt "watch follows within 5 s (ms)" 5000 "$ms"
file_has "$T/live.out" 'after-watch-42 .*\]52;' || fail "the engineer did not get the raw output"
if LC_ALL=C grep -qaP '\x1b\]52|\x1b\[6n' "$T/watch.out"; then
    fail "watch passed OSC 52 or CSI 6n to the reviewer: $(od -c "$T/watch.out" | head -n 20)"
fi
pass "watch neutralises OSC 52 and CSI 6n"
has_file "$T/watch.rc" && fail "watch ended while the session still runs: $(cat "$T/watch.err")"
pass "watch keeps following while the session runs"

# ---- terminate ----
run alice terminate "$sid" --reason x
expect_refusal "alice cannot terminate (not a reviewer)" 1 'terminate is for reviewers'
run carol terminate "$sid"
expect_refusal "terminate needs a reason" 2 'reason'
has_file "$T/live.rc" && fail "the session ended before it was terminated"
t0=$(now_ms)
run carol terminate "$sid" --reason "'INC-12 suspicious activity'"
expect_eq "carol terminates the session (exit 0)" 0 "$RC"
wait_until 10 has_file "$T/live.rc" || fail "the session still runs 10 s after terminate"
ms=$(($(cat "$T/live.end") - t0))
log "terminate-to-disconnect: $ms ms"
expect_lt "the session ends within 5 s of terminate (ms)" 5000 "$ms"
expect_ne "the terminated session exits non-zero" 0 "$(cat "$T/live.rc")"
expect_match "the engineer is told who ended it and why" \
    '^drawbridge: session terminated by carol: INC-12 suspicious activity$' "$(cat "$T/live.err")"
wait_until 10 has_file "$T/watch.rc" || fail "watch did not end after the session ended"
expect_eq "watch ends by itself once the session has ended (exit 0)" 0 "$(cat "$T/watch.rc")"

expect_audit "audit: session.terminate by carol" session.terminate "session $sid" carol 'INC-12 suspicious activity'
ended() { [ "$(db_query "SELECT ended_at > 0 AND sha256 != '' FROM sessions WHERE id = '$sid'")" = 1 ]; }
wait_until 10 ended || fail "store: session $sid not ended and sealed"
pass "store: the session is ended and its recording sealed"
cast=$(db_query "SELECT recording_path FROM sessions WHERE id = '$sid'")
expect_match "the recording has a marker: terminated by carol" 'terminated by carol' "$(cast_events "$cast" m)"
run carol sessions --live
expect_nomatch "sessions --live no longer lists it" "^$sid " "$OUT"
run carol terminate "$sid" --reason again
expect_refusal "an ended session cannot be terminated" 1 "session $sid has already ended"
run carol terminate aaaaaaaaaaaaaaaa --reason x
expect_refusal "terminating a session that does not exist" 1 'no session aaaaaaaaaaaaaaaa'

rc=0
out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" "$sid" 2>&1) || rc=$?
expect_eq "the terminated session's recording verifies (exit 0)" 0 "$rc"
expect_match "verify: ok" "^session $sid: ok\$" "$out"
gw_still_serves
finish
