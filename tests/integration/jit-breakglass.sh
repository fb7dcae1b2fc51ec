#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Break-glass: dave (oncall) gets web-1 at once with `breakglass web-1
# --reason ...`, time-boxed by break_glass.max_duration (30m); notify_command
# gets a "breakglass" JSON event; the grant is flagged for review and dave's
# session is on the reviewers' pending list (`reviews --pending`) until a
# reviewer other than dave reviews it.  Others (alice, frank) cannot break
# the glass, longer than 30m is refused, no one approves a break-glass grant.
# A notify_command that fails or hangs changes none of it and delays nothing.
# Runs in an environment of its own (grants on web-1, a notify_command).
# Depends on: access.c (access_breakglass), notify.c, channel.c (break-glass
# grants at channel open), shell (breakglass, reviews, review), store/*.c.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

# Every event is appended to notify.jsonl; the command then fails (exit 3),
# and for a reason containing NOTIFY-HANG it hangs past the gateway's timeout.
export GW_NOTIFY='"tee -a @DIR@/notify.jsonl | grep -q NOTIFY-HANG && sleep 20; exit 3"'
private_env
T=$DIR/scratch
mkdir -p "$T"

# ---- who may break the glass, and for how long ----
for u in alice frank carol; do
    run "$u" breakglass web-1 --reason "'INC-9 db down'"
    expect_refusal "$u (not in oncall) cannot break the glass" 1 'not allowed to use break-glass'
    expect_audit "audit: $u's break-glass attempt is an access.refused row" access.refused web-1 "$u" \
        '"action": "breakglass"'
done
expect_eq "store: no break-glass request from the refusals" 0 \
    "$(db_query "SELECT count(*) FROM requests WHERE breakglass = 1")"
run dave breakglass web-1 --for 2h --reason "'INC-9 db down'"
[ "$RC" = 1 ] || [ "$RC" = 2 ] || fail "breakglass --for 2h: exit $RC, expected 1 or 2: $ERR"
expect_refusal "break-glass longer than max_duration (30m) is refused" "$RC" '30m'
run dave breakglass no-such-target --reason "'INC-9'"
expect_refusal "break-glass to an unknown target is refused" 1 'no-such-target'
run dave breakglass web-1
expect_refusal "break-glass without a reason is a usage error" 2 'reason'

# ---- dave breaks the glass (the notify_command hangs on this one) ----
t0=$(now_ms)
run dave breakglass web-1 --reason "'INC-9 db down NOTIFY-HANG'"
ms=$(($(now_ms) - t0))
expect_eq "dave breaks the glass on web-1 (exit 0)" 0 "$RC"
expect_match "it says the grant is active and the session will be reviewed" \
    '^break-glass grant [0-9]+ active until .*; this session will be reviewed$' "$OUT"
expect_lt "a hanging notify_command does not delay the grant (ms)" 3000 "$ms"
g=$(printf '%s\n' "$OUT" | sed -n 's/^break-glass grant \([0-9]*\) active.*/\1/p')
row=$(db_query "SELECT r.breakglass, r.status, r.decided_by, g.status, g.breakglass, g.review_required,
                       g.ends_at - g.starts_at, g.user, g.target
                FROM requests r JOIN grants g ON g.id = r.id WHERE r.id = $g")
expect_eq "store: an approved break-glass request with an active grant flagged for review, 30m, dave on web-1" \
    "1|approved|dave|active|1|1|1800|dave|web-1" "$row"
expect_audit "audit: breakglass by dave" breakglass "" dave 'INC-9 db down'
expect_audit "audit: grant.start of break-glass grant $g" grant.start "grant $g" dave '"breakglass": true'

run dave+web-1 'echo breakglass-$((6*7))'
expect_eq "dave+web-1 runs a command on the break-glass grant" "0|breakglass-42" "$RC|$OUT"
session=$(session_ids "\"user\" = 'dave' AND target = 'web-1' AND grant_id = $g" | head -n 1)
[ -n "$session" ] || fail "no session row for dave on web-1 with grant $g"
expect_eq "store: dave's session is flagged for review" 1 \
    "$(db_query "SELECT review_required FROM sessions WHERE id = '$session'")"

run bob approve "$g"
expect_refusal "nobody approves a break-glass grant" 1 "request $g cannot be decided: it is a break-glass grant"
run alice+web-1 'echo reached-target'
expect_ne "alice still has no access to web-1" 0 "$RC"

# ---- notify_command: the event, and failures logged without effect ----
has_bg() { file_has "$DIR/notify.jsonl" '"event": *"breakglass"'; }
wait_until 10 has_bg || fail "notify_command got no breakglass event"
rc=0
out=$("$PY" -c '
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
bg = [e for e in evs if e.get("event") == "breakglass"]
assert len(bg) == 1, bg
e = bg[0]
assert e.get("requester") == "dave" and e.get("target") == "web-1", e
assert "INC-9 db down" in e.get("reason", ""), e
assert str(e.get("id")) == sys.argv[2], e
' "$DIR/notify.jsonl" "$g" 2>&1) || rc=$?
expect_eq "notify_command: one breakglass event, dave, web-1, the reason, grant $g ($out)" 0 "$rc"
failed() { file_has "$DIR/gw.log" 'notify\.fail.*breakglass'; }
wait_until 15 failed || fail "the failing notify_command is not logged as notify.fail"
pass "the notify_command's failure is logged (notify.fail)"

# A second break-glass while the first notification still hangs: immediate too.
t0=$(now_ms)
run dave breakglass db-1 --for 5m --reason "'INC-9 replica'"
ms=$(($(now_ms) - t0))
expect_eq "a second break-glass (db-1, 5m) works while a notification hangs" 0 "$RC"
expect_lt "and is not delayed (ms)" 3000 "$ms"

# ---- the reviewers' pending list ----
run carol reviews --pending
expect_eq "carol's reviews --pending exits 0" 0 "$RC"
expect_match "dave's break-glass session is on the pending list" "$session" "$OUT"
run carol reviews --pending --json
rc=0
out=$(printf '%s' "$OUT" | "$PY" -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r.get("id") == sys.argv[1]]
assert len(rows) == 1, rows
assert rows[0].get("breakglass") is True and rows[0].get("user") == "dave", rows
' "$session" 2>&1) || rc=$?
expect_eq "reviews --pending --json: the session, marked breakglass ($out)" 0 "$rc"
run alice reviews --pending
expect_refusal "alice (engineer) cannot list reviews" 1 'reviews is for reviewers'
run dave review "$session" --note "'all fine'"
expect_refusal "dave cannot review anything (not a reviewer)" 1 'review is for reviewers'
run carol review "$session" --note "'restarted the replica, as the ticket says'"
expect_eq "carol reviews dave's session (exit 0)" 0 "$RC"
expect_eq "store: reviewed by carol" carol "$(db_query "SELECT reviewed_by FROM sessions WHERE id = '$session'")"
run carol reviews --pending
expect_nomatch "the reviewed session left the pending list" "$session" "$OUT"
expect_audit "audit: review.review by carol" review.review "session $session" carol 'restarted the replica'

expect_verify_ok "drawbridge verify: the chain holds"
gw_still_serves
finish
