#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Recordings are for reviewers only.  An engineer (alice), an approver
# (erin) and a break-glass user (dave) cannot list, replay, watch, export,
# search, terminate or review sessions, nor read the audit log: each gets
# "drawbridge: COMMAND is for reviewers", exit status 1, nothing on stdout
# -- not even for their own session -- and the attempt is a review.refused
# row in the audit chain.  carol (security) can, which shows that the
# session and its text are there to be had.
# Depends on: shell (reviewer commands, shell_review_begin), the recorder's
# text index (search).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"
shared_env

T=$(test_tmpdir) || fail "cannot create a temporary directory"
trap 'rm -rf "$T"' EXIT

marker="rec-access-$$-$RANDOM"
run alice+staging-1 "echo $marker-out"
expect_eq "alice runs a recorded command on staging-1" "0|$marker-out" "$RC|$OUT"
sid=$(session_ids "\"user\" = 'alice' AND command = 'echo $marker-out'" | head -n 1)
[ -n "$sid" ] || fail "no session row for alice's command"

# carol first: the session, its recording and its text are there.
run carol sessions --user alice
expect_eq "carol: sessions exits 0" 0 "$RC"
expect_match "carol sees alice's session" "^$sid " "$OUT"
found() {
    run carol search "$marker"
    [ "$RC" = 0 ] && grep -q "$sid" <<<"$OUT"
}
wait_until 10 found || fail "carol's search for $marker does not find session $sid: $OUT $ERR"
pass "carol finds the session's output with search"
run carol export "$sid"
expect_match "carol can export it" "$marker-out" "$OUT"

for u in alice erin dave; do
    before=$(audit_count review.refused "" "$u")
    for cmd in "sessions" "sessions --user $u --json" "replay $sid" "watch $sid" "export $sid" \
        "search $marker" "terminate $sid --reason x" "review $sid --note x" "reviews --pending" \
        "audit"; do
        run "$u" "$cmd"
        expect_refusal "$u: '$cmd' is refused" 1 "${cmd%% *} is for reviewers"
        expect_nomatch "$u: '$cmd' shows nothing of the session" "$marker|$sid" "$OUT$ERR"
    done
    after=$(audit_count review.refused "" "$u")
    expect_eq "audit: a review.refused row for each of $u's 10 attempts" 10 "$((after - before))"
done
expect_audit "audit: the refusal names the command" review.refused "" alice '"command": "export"'

# The refusals did nothing: the session is neither reviewed nor terminated.
expect_eq "store: the session is neither reviewed nor asked to terminate" "||0" \
    "$(db_value "SELECT reviewed_by, terminate_by, reviewed_at + terminate_at FROM sessions WHERE id = '$sid'")"
gw_still_serves
finish
