#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A restart of the daemon (SIGTERM, start again) keeps the access state: the
# pending request is still pending and can be approved afterwards, the
# active grant is still listed and still lets its holder in, and the audit
# chain continues unbroken across the restart.
# Runs in an environment of its own (it stops and starts the gateway).
# Depends on: store/*.c (state on disk), server.c (shutdown, start), access.c.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

private_env
T=$DIR/scratch
mkdir -p "$T"

request alice web-1 2h
pending=$N
request alice web-1 1h
granted=$N
approve bob "$granted"
request bob web-1 30m
bobs=$N
approve erin "$bobs"
run bob revoke "$bobs" --reason "'before the restart'"
[ "$RC" = 0 ] || fail "bob revoke $bobs: $ERR"
before=$(db_query "SELECT id, status, decided_at FROM requests ORDER BY id")
grants_before=$(db_query "SELECT id, status, starts_at, ends_at FROM grants ORDER BY id")
rows_before=$(audit_json | grep -c .)

# ---- SIGTERM and start again ----
gw_stop || fail "the gateway ignored SIGTERM"
rc=0
wait "$GW_PID" 2>/dev/null || rc=$?
expect_eq "the gateway exits 0 on SIGTERM" 0 "$rc"
port_listening "$GW_PORT" && fail "port $GW_PORT still listening after SIGTERM"
gw_start || fail "the gateway did not start again"
pass "the gateway started again on the same state_dir"

expect_eq "(store: three requests before the restart)" 3 "$(printf '%s\n' "$before" | grep -c .)"
expect_same "store: every request as it was" "$before" "$(db_query "SELECT id, status, decided_at FROM requests ORDER BY id")"
expect_same "store: every grant as it was" "$grants_before" "$(db_query "SELECT id, status, starts_at, ends_at FROM grants ORDER BY id")"

run bob requests --pending
expect_match "after the restart bob still sees request $pending pending" "^$pending +pending +alice +web-1 " "$OUT"
run alice grants
expect_match "after the restart alice's grant $granted is listed" "^$granted +alice +web-1 " "$OUT"
expect_nomatch "the grant revoked before the restart is not" "^$bobs " "$OUT"
run alice+web-1 'echo after-restart-$((6*7))'
expect_eq "alice+web-1 works on the grant from before the restart" "0|after-restart-42" "$RC|$OUT"
run bob+web-1 'echo reached-target'
expect_ne "bob's revoked grant stays revoked after the restart" 0 "$RC"

approve erin "$pending"
expect_match "the request pending across the restart can be approved" "^request $pending approved: grant $pending active" "$OUT"
run alice grants
expect_match "both of alice's grants are listed" "^$pending +alice .*
$granted +alice |^$granted +alice .*
$pending +alice " "$OUT"

rows_after=$(audit_json | grep -c .)
[ "$rows_after" -gt "$rows_before" ] || fail "the audit chain did not grow after the restart ($rows_before -> $rows_after)"
pass "the audit chain grew across the restart ($rows_before -> $rows_after rows)"
expect_eq "audit: a policy.load row for each start" 2 "$(audit_count policy.load)"
expect_verify_ok "drawbridge verify: the chain holds across the restart"
gw_still_serves
finish
