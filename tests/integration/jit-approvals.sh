#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Who may decide, and how decisions count:
#   - the requester never approves their own request, even when they are in
#     the approver group (bob is in sre and sre-leads); another approver can;
#   - people outside the rule (frank: no groups, carol: reviewer, dave) are
#     refused, and so is the requester's own vote;
#   - a two-approval rule (db-two on db-1) needs two distinct people: one
#     approval leaves it pending, the same approver twice does not count, a
#     second approver grants -- and the requester is not one of the two;
#   - one deny ends a request; a denied request cannot be approved;
#   - only the requester cancels, and only while pending.
# Each refusal: its message, exit status 1 (2 for usage), an access.refused
# row in the audit chain where it is an authorisation refusal, and no change
# to the request.
# Runs in an environment of its own (an extra rule; requests and grants).
# Depends on: access.c (access_decide, access_cancel), policy_may_approve,
# shell (approve, deny, cancel, show, requests), store/*.c.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

export GW_POLICY_RULES='  - name: db-two
    requesters: ["group:sre"]
    targets: {names: [db-1]}
    logins: [@LOGIN@]
    max_duration: 1h
    approvers: ["group:sre-leads", "user:carol"]
    approvals: 2'
private_env
T=$DIR/scratch
mkdir -p "$T"

status_of() { db_query "SELECT status FROM requests WHERE id = $1"; }
decisions_of() { db_query "SELECT count(*) FROM decisions WHERE request_id = $1"; }
reach() {
    run "$1" 'echo reached-target'
    [ "$RC" = 0 ] && [ "$OUT" = reached-target ]
}

# ---- self-approval, even from inside the approver group ----
request bob web-1 30m
mine=$N
run bob approve "$mine"
expect_refusal "bob cannot approve his own request (he is in sre-leads)" 1 \
    'you cannot approve your own request'
run bob deny "$mine" --reason "'changed my mind'"
expect_refusal "bob cannot deny his own request either" 1 "you cannot deny your own request \(cancel $mine instead\)"
expect_eq "request $mine is still pending with no decisions" "pending|0" "$(status_of "$mine")|$(decisions_of "$mine")"
expect_audit "audit: bob's self-approval is an access.refused row" access.refused web-1 bob \
    '"action": "approve"'
reach bob+web-1 && fail "bob reached web-1 on his own approval"
pass "bob has no grant after approving himself"
approve erin "$mine"
expect_match "erin (sre-leads) approves bob's request" "^request $mine approved: grant $mine active" "$OUT"
reach bob+web-1 || fail "bob+web-1 after erin's approval: exit $RC: $ERR"
pass "bob reaches web-1 on erin's approval"

# ---- approvers outside the rule ----
request alice web-1 1h
r=$N
for u in frank carol dave; do
    run "$u" approve "$r"
    expect_refusal "$u (not an approver of web-oncall) cannot approve" 1 \
        "$u is not an approver for rule web-oncall"
    expect_audit "audit: $u's approval attempt is refused in the chain" access.refused web-1 "$u"
done
run alice approve "$r"
expect_refusal "alice cannot approve her own request" 1 'you cannot approve your own request'
run frank request web-1 --for 1h --reason x
expect_refusal "frank (no groups) cannot request web-1" 1 'no rule gives you access to web-1'
expect_eq "request $r: still pending, no decisions" "pending|0" "$(status_of "$r")|$(decisions_of "$r")"
reach alice+web-1 && fail "alice reached web-1 without an eligible approval"
pass "alice has no grant after the refused approvals"

# ---- deny ----
run carol deny "$r" --reason "'not mine to decide'"
expect_refusal "carol cannot deny a web-oncall request" 1 'carol is not an approver for rule web-oncall'
run bob deny "$r"
expect_refusal "deny without --reason is a usage error" 2 'reason'
run bob deny "$r" --reason "'use the staging box'"
expect_eq "bob denies request $r (exit 0)" 0 "$RC"
expect_eq "request $r is denied by bob" "denied|bob" "$(db_query "SELECT status, decided_by FROM requests WHERE id = $r")"
expect_eq "a denied request has no grant" 0 "$(db_query "SELECT count(*) FROM grants WHERE id = $r")"
run erin approve "$r"
expect_refusal "a denied request cannot be approved afterwards" 1 "request $r is not pending \(denied\)"
reach alice+web-1 && fail "alice reached web-1 on a denied request"
pass "alice has no grant after the deny"
expect_audit "audit: request.deny by bob with the reason" request.deny "request $r" bob \
    '"reason": "use the staging box"'
run alice show "$r"
expect_match "show $r says denied" "^request $r: denied" "$OUT"

# ---- cancel ----
request alice web-1 1h
r=$N
run bob cancel "$r"
expect_refusal "bob cannot cancel alice's request" 1 "you have no request $r"
run carol cancel "$r"
expect_refusal "carol cannot cancel alice's request" 1 "you have no request $r"
expect_eq "request $r still pending after others tried to cancel it" pending "$(status_of "$r")"
run alice cancel "$r"
expect_eq "alice cancels her request (exit 0)" 0 "$RC"
expect_eq "request $r is cancelled" cancelled "$(status_of "$r")"
expect_audit "audit: request.cancel by alice" request.cancel "request $r" alice
run alice cancel "$r"
expect_refusal "cancelling twice is refused" 1 "request $r is not pending \(cancelled\)"
run bob approve "$r"
expect_refusal "a cancelled request cannot be approved" 1 "request $r is not pending \(cancelled\)"
run alice cancel 99999
expect_refusal "cancelling a request that does not exist" 1 'you have no request 99999'

# ---- two distinct approvals (db-two on db-1) ----
request alice db-1 30m
r=$N
expect_match "db-1 needs 2 approvals" "^request $r pending: needs 2 approval\(s\) from " "$OUT"
approve bob "$r"
expect_match "one approval of two leaves it pending" "^request $r approved \(1 of 2\); still pending$" "$OUT"
expect_eq "store: still pending after one approval" pending "$(status_of "$r")"
reach alice+db-1 && fail "alice reached db-1 after one approval of two"
pass "alice cannot reach db-1 after one approval of two"
run bob approve "$r"
expect_refusal "the same approver twice does not count" 1 "you have already decided on request $r"
expect_eq "store: one decision, still pending" "pending|1" "$(status_of "$r")|$(decisions_of "$r")"
reach alice+db-1 && fail "alice reached db-1 after bob approved twice"
pass "alice still cannot reach db-1 after bob's second try"
approve carol "$r"
expect_match "a second, different approver grants" "^request $r approved: grant $r active until " "$OUT"
expect_eq "store: approved by carol with 2 decisions" "approved|carol|2" \
    "$(db_query "SELECT status, decided_by FROM requests WHERE id = $r")|$(decisions_of "$r")"
reach alice+db-1 || fail "alice+db-1 after two approvals: exit $RC: $ERR"
pass "alice reaches db-1 after two distinct approvals"
expect_eq "audit: two request.approve rows for request $r" 2 "$(audit_count request.approve "request $r")"

# The requester is never one of the two, even as an approver (bob: sre and sre-leads).
request bob db-1 30m
r=$N
approve erin "$r"
run bob approve "$r"
expect_refusal "bob cannot be the second approval of his own db-1 request" 1 'you cannot approve your own request'
expect_eq "bob's db-1 request stays pending with one approval" "pending|1" "$(status_of "$r")|$(decisions_of "$r")"
approve carol "$r"
expect_match "carol's approval completes bob's db-1 request" "^request $r approved: grant $r active" "$OUT"

expect_verify_ok "drawbridge verify: the chain holds"
gw_still_serves
finish
