#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The web console under attack (web_hostile.py): login links expired, reused
# and forged; POSTs without the CSRF token or from another origin; reviewer
# pages asked for by an engineer; HTML and script in a recording; 500
# concurrent requests and slowloris on the web port while SSH logins go on.
# Depends on: broker/web/* (routes.c checks, auth.c, process.c limits).
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../web-lib.sh
. "$(dirname "$0")/../web-lib.sh"

web_env
T=$DIR/scratch
mkdir -p "$T"
run alice request web-1 --for 1h --reason "'hostile web test'"
REQ_ID=$(printf '%s\n' "$OUT" | sed -n 's/^request \([0-9]*\) pending.*/\1/p')
[ -n "$REQ_ID" ] || fail "no pending request: $OUT $ERR"
run alice+staging-1 "printf '<script>alert(1)</script>\n<img src=x onerror=alert(2)>\n'"
expect_eq "the hostile recording's session ran" 0 "$RC"
HOSTILE_SID=$(db_query "SELECT id FROM sessions WHERE target = 'staging-1' ORDER BY started_at DESC LIMIT 1")
export REQ_ID HOSTILE_SID
web_py web_hostile.py
# the web process survived all of it (the listener would have logged a restart)
if grep -q 'web\.exit' "$DIR/gw.log"; then
    fail "the web console's process died: $(grep 'web\.exit' "$DIR/gw.log")"
fi
pass "the web console's process never died"
gw_still_serves
finish
