#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Every shell command tried by every role that must not use it, each answered
# with exit status 1, one "drawbridge: ..." line on stderr and nothing on
# stdout, and (for decisions and reviewer commands) a refusal row in the
# audit:
#   alice (engineer):   approve/deny/revoke/cancel others' requests and
#                       grants, every reviewer command, breakglass;
#   bob (approver):     every reviewer command, breakglass;
#   carol (reviewer):   request, approve and deny on a rule she is not in,
#                       cancel others' requests, breakglass, reaching web-1;
#   erin (approver):    request (she is in no requester group), reviewer commands;
#   dave (break-glass): approve, reviewer commands;
#   frank (no groups):  everything but help/whoami/targets (requests and
#                       grants answer him with empty lists: they are scoped);
# and afterwards no request, decision, grant, review or terminate request
# changed: one session that has ended (for review) and one that still runs
# (for terminate) are read from the store before and after, and the live
# one must still run.
# jit-approvals.sh covers the approval rules themselves (self-approval,
# two approvals, deny, cancel); this is the whole matrix of refusals.
# Runs in an environment of its own (requests and grants).
# Depends on: shell (command table, role checks), access.c, policy.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../jit-lib.sh
. "$(dirname "$0")/../jit-lib.sh"
# shellcheck source=lib-hostile.sh
. "$(dirname "$0")/lib-hostile.sh"
private_env
T=$DIR/scratch
mkdir -p "$T"
trap 'rc=$?; bg_cleanup; env_down "$rc" || rc=1; exit $rc' EXIT

# ---- the state the refusals must not change ----
request bob web-1 30m
G=$N
approve erin "$G"
request bob web-1 20m
P=$N
request alice web-1 10m
PA=$N
out=$(gw_ssh alice+staging-1 'echo for-the-record' 2>&1) || fail "alice+staging-1: $out"
S=$(session_ids "\"user\" = 'alice'" | head -n 1)
[ -n "$S" ] || fail "no session id"
bg_session live alice+staging-1 "$LIVE_CMD"
wait_until 10 file_has "$T/live.out" '^started' || fail "the live session did not start: $(cat "$T/live.err")"
L=$(session_ids "\"user\" = 'alice' AND ended_at = 0" | head -n 1)
[ -n "$L" ] || fail "no live session id"
snapshot() {
    db_query "SELECT 'request', id, status, decided_at, decided_by FROM requests ORDER BY id"
    db_query "SELECT 'decision', request_id, approver, decision, at FROM decisions ORDER BY request_id, approver"
    db_query "SELECT 'grant', id, status, ends_at, revoked_at, revoked_by FROM grants ORDER BY id"
    db_query "SELECT 'session', id, ended_at, reviewed_by, reviewed_at, coalesce(review_note, ''),
                     terminate_by, terminate_reason, terminate_at
              FROM sessions WHERE id IN ('$S', '$L') ORDER BY id"
}
before=$(snapshot)
expect_eq "(the snapshot holds 3 requests, 1 decision, 1 grant, 2 sessions)" "3 1 1 2" \
    "$(for k in request decision grant session; do printf '%s\n' "$before" | grep -c "^$k|"; done | tr '\n' ' ' | sed 's/ $//')"

REVIEWER=("sessions" "sessions --live" "replay $S" "watch $S" "terminate $S --reason x" "terminate $L --reason x"
    "export $S" "review $S --note x" "reviews --pending" "search for-the-record" "audit" "audit --limit 5")
MISSING_AUDIT=()

# refuse WHO AUDIT COMMAND: exit 1, one line, nothing on stdout; AUDIT=1 wants
# an access.refused or review.refused row with WHO as the actor.
refuse() {
    local who=$1 want=$2 cmd=$3 seq0 rows
    seq0=$(audit_last_seq)
    # shellcheck disable=SC2086 # cmd: words
    run "$who" $cmd
    expect_refusal "$who: $cmd" 1 '.'
    if [ "$want" = 1 ]; then
        rows=$(audit_since "$seq0" | grep -E '"(access|review)\.refused"' | grep -F "\"actor\": \"$who\"" || true)
        [ -n "$rows" ] || MISSING_AUDIT+=("$who: $cmd")
    fi
}

# ---- alice, engineer ----
refuse alice 1 "approve $P"
refuse alice 1 "deny $P --reason x"
refuse alice 1 "revoke $G --reason x"
refuse alice 0 "cancel $P"
refuse alice 1 "breakglass web-1 --reason x"
for c in "${REVIEWER[@]}"; do refuse alice 1 "$c"; done

# ---- bob, approver ----
for c in "${REVIEWER[@]}"; do refuse bob 1 "$c"; done
refuse bob 1 "breakglass web-1 --reason x"
refuse bob 1 "approve $P"

# ---- carol, reviewer ----
refuse carol 1 "request web-1 --for 1h --reason x"
refuse carol 1 "approve $PA"
refuse carol 1 "deny $PA --reason x"
refuse carol 0 "cancel $PA"
refuse carol 1 "breakglass web-1 --reason x"
run carol+web-1 'echo reached'
expect_ne "carol cannot reach web-1" 0 "$RC"
expect_nomatch "carol+web-1 ran nothing" 'reached' "$OUT"

# ---- erin, approver only ----
refuse erin 1 "request web-1 --for 1h --reason x"
refuse erin 1 "breakglass web-1 --reason x"
for c in "${REVIEWER[@]}"; do refuse erin 1 "$c"; done

# ---- dave, break-glass requester ----
refuse dave 1 "approve $P"
refuse dave 1 "deny $P --reason x"
refuse dave 1 "revoke $G --reason x"
for c in "${REVIEWER[@]}"; do refuse dave 1 "$c"; done

# ---- frank, nobody ----
for c in "request web-1 --for 1h --reason x" "request staging-1 --for 1h --reason x" \
    "approve $P" "deny $P --reason x" "revoke $G --reason x" "breakglass web-1 --reason x" \
    "breakglass staging-1 --reason x" "${REVIEWER[@]}"; do
    refuse frank 1 "$c"
done
refuse frank 0 "cancel $P"
refuse frank 0 "show $P"
refuse frank 0 "show $G"
for c in requests "requests --all" "requests --pending" grants; do
    run frank $c
    if [ "$RC" = 0 ]; then
        expect_nomatch "frank: $c shows nobody else's requests or grants" '(alice|bob|web-1)' "$OUT"
    else
        expect_refusal "frank: $c" 1 '.'
    fi
done
for t in web-1 staging-1 db-1; do
    run "frank+$t" 'echo reached'
    expect_ne "frank cannot reach $t" 0 "$RC"
    expect_nomatch "frank+$t ran nothing" 'reached' "$OUT"
done
for c in help whoami targets; do
    run frank $c
    expect_eq "frank may use $c" 0 "$RC"
done

# ---- nothing changed ----
expect_same "no request, decision, grant, review or terminate request changed" "$before" "$(snapshot)"
has_file "$T/live.rc" && fail "alice's live session ended during the refusals: $(cat "$T/live.err")"
pass "alice's live session still runs"
if [ ${#MISSING_AUDIT[@]} -gt 0 ]; then
    weak authz-refusal-not-audited "${#MISSING_AUDIT[@]} refusal(s) without an access.refused/review.refused row: $(printf '%s; ' "${MISSING_AUDIT[@]}")"
else
    pass "every decision and reviewer refusal has its row in the audit"
fi
expect_verify_ok "verify passes"
gw_log_clean 1
gw_still_serves
hostile_finish
