#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The just-in-time flow end to end: alice requests web-1, is refused web-1
# until someone approves (with the message that says how to ask), bob
# approves, and then alice's command runs on web-1 -- by exec and by
# `connect` from the gateway's shell.  Along the way: the audit chain has
# each step, the store's grant runs from the approval for the duration asked,
# the grant is alice's alone, notify_command hears of the request and the
# approval, and the chain verifies.
# Runs in an environment of its own (it creates grants on web-1, which the
# shared environment's tests expect to have none).
# Depends on: shell (request, requests, show, approve, grants, connect),
# access.c, store/*.c, channel.c (grant check at channel open), notify.c,
# admin.c (audit, verify, access-report).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

export GW_NOTIFY='"cat >> @DIR@/notify.jsonl"'
private_env
T=$DIR/scratch
mkdir -p "$T"

# ---- before approval ----
request alice web-1 1h
expect_match "request prints 'request N pending: needs 1 approval(s) from group:sre-leads'" \
    "^request $N pending: needs 1 approval\(s\) from group:sre-leads$" "$OUT"

run alice+web-1 'echo reached-target'
expect_ne "alice+web-1 before approval is refused" 0 "$RC"
expect_nomatch "nothing ran on web-1 before approval" 'reached-target' "$OUT"
expect_match "the refusal says how to request access" \
    'drawbridge: no active grant; request one with: ssh [^ ]+ request web-1 ' "$ERR"

run bob requests --pending
expect_eq "bob's requests --pending exits 0" 0 "$RC"
expect_match "bob (an approver of web-oncall) sees request $N pending" \
    "^$N +pending +alice +web-1|^ *$N .*alice.*web-1.*pending" "$OUT"
run alice show "$N"
expect_match "show $N: pending" "^request $N: pending" "$OUT"

# ---- approval ----
approve bob "$N"
expect_match "approve prints 'request N approved: grant N active until ... UTC'" \
    "^request $N approved: grant $N active until [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} UTC$" "$OUT"

row=$(db_query "SELECT r.status, r.decided_by, r.decided_at, g.starts_at, g.ends_at - g.starts_at,
                       g.status, g.user, g.target, g.login
                FROM requests r JOIN grants g ON g.id = r.id WHERE r.id = $N")
IFS='|' read -r st by decided starts dur gst guser gtarget glogin <<<"$row"
expect_eq "store: request $N approved by bob" "approved|bob" "$st|$by"
expect_eq "store: grant $N starts at the approval" "$decided" "$starts"
expect_eq "store: grant $N lasts the hour asked for" 3600 "$dur"
expect_eq "store: grant $N is alice's, on web-1, as $LOGIN, active" "active|alice|web-1|$LOGIN" \
    "$gst|$guser|$gtarget|$glogin"

# ---- after approval ----
run alice+web-1 'echo reached-$((6*7)); id -un'
expect_eq "alice+web-1 runs a command after approval (exit 0)" 0 "$RC"
expect_eq "the command ran on web-1 as $LOGIN" "reached-42
$LOGIN" "$OUT"

# connect from the gateway's shell, on a pty (typing once the target's
# shell prompts: what is typed before that goes to the gateway's shell).
_ssh_opts
if ! "$PY" "$LIB_DIR/ptydrive.py" --timeout 20 --log "$T/connect.transcript" size:24:80 \
    'expect:alice@drawbridge> ' 'send:connect web-1\r' 'expect:connecting to web-1 as ' \
    'expect:[#$] ' 'send:echo via-connect-$((6*7))\r' 'expect:via-connect-42' \
    'send:exit\r' exit:any \
    -- ssh "${SSH_OPTS[@]}" "${SSH_KEY_OPTS[@]}" -p "$GW_PORT" -l alice -t "$GW_HOST" 2>"$T/drive.err"; then
    fail "connect web-1 from the shell: $(cat "$T/drive.err")"
fi
pass "connect web-1 from alice's shell reaches web-1 on a pty"

run alice grants
expect_match "alice's grants list grant $N on web-1" "^$N +alice +web-1 +$LOGIN +web-oncall " "$OUT"
rc=0
report=$("$DRAWBRIDGE_BIN" access-report -c "$CFG" 2>&1) || rc=$?
expect_eq "access-report exits 0" 0 "$rc"
expect_match "access-report shows alice on web-1 through grant $N" "alice -> $LOGIN@web-1 +grant $N( |$)" "$report"

# The grant is alice's alone: not bob's (who approved it), not dave's.
run bob+web-1 'echo reached-target'
expect_ne "bob+web-1 (the approver, no grant of his own) is refused" 0 "$RC"
expect_nomatch "nothing ran for bob" 'reached-target' "$OUT"
run dave+web-1 'echo reached-target'
expect_ne "dave+web-1 (no grant) is refused" 0 "$RC"
expect_nomatch "nothing ran for dave" 'reached-target' "$OUT"

# ---- the audit chain ----
expect_audit "audit: request.create by alice" request.create "request $N" alice '"target": "web-1"'
expect_audit "audit: request.approve by bob" request.approve "request $N" bob
expect_audit "audit: grant.start of grant $N" grant.start "grant $N" bob \
    "\"ends_at\": $((starts + 3600)), .*\"starts_at\": $starts,"
expect_audit "audit: session.start on web-1 with grant $N" session.start "" alice \
    "\"grant\": $N.*\"target\": \"web-1\""
expect_audit "audit: session.end" session.end "" alice
n=$(db_value "SELECT count(*) FROM sessions WHERE \"user\" = 'alice' AND target = 'web-1' AND grant_id = $N")
expect_ne "store: alice's sessions on web-1 carry grant $N" 0 "$n"
expect_eq "store: every session of alice on web-1 carries grant $N" "$n" \
    "$(db_value "SELECT count(*) FROM sessions WHERE \"user\" = 'alice' AND target = 'web-1'")"

# ---- notify_command: one JSON object per event ----
has_event() { grep -q "\"event\": *\"$1\"" "$DIR/notify.jsonl" 2>/dev/null; }
wait_until 10 has_event request.created || fail "notify_command got no request.created event"
wait_until 10 has_event request.approved || fail "notify_command got no request.approved event"
rc=0
out=$("$PY" -c '
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
n = sys.argv[2]
c = [e for e in evs if e.get("event") == "request.created" and str(e.get("id")) == n]
a = [e for e in evs if e.get("event") == "request.approved" and str(e.get("id")) == n]
assert c and c[0].get("requester") == "alice" and c[0].get("target") == "web-1", c
assert a and a[0].get("actor") == "bob", a
print(len(evs))
' "$DIR/notify.jsonl" "$N" 2>&1) || rc=$?
expect_eq "notify_command: each line is a JSON object; created (alice, web-1) and approved (bob) for request $N ($out)" 0 "$rc"

# The refusal of alice+web-1 before the approval is an authorisation refusal
# in the chain (broker.h: "access.refused ... who, what, which target, why").
expect_audit "audit: alice+web-1 before approval is recorded as access.refused on web-1 with the reason" \
    access.refused web-1 alice '"reason": "[^"]+'

expect_verify_ok "drawbridge verify: the chain holds"
gw_still_serves
finish
