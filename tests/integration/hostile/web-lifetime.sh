#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# How long the web console lets a client hold on (web_lifetime.py):
#   - a request whose body trickles in (headers at once, then one byte every
#     2 s of a body announced as 64 KiB) is cut within seconds, like one
#     whose headers trickle in: it cannot hold one of the console's
#     connections for ever;
#   - a live view (server-sent events) ends the moment the browser session
#     that opened it logs out, and sends nothing after; the same reviewer's
#     other browser and its live view go on.
# Runs in an environment of its own (web console; a live session on
# staging-1 in the background); about 40 s.
# Depends on: broker/web/process.c (deadlines), live.c, auth.c (sessions).
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../web-lib.sh
. "$(dirname "$0")/../web-lib.sh"
# shellcheck source=lib-hostile.sh
. "$(dirname "$0")/lib-hostile.sh"

web_env
trap 'rc=$?; bg_cleanup; env_down "$rc" || rc=1; exit $rc' EXIT
T=$DIR/scratch
mkdir -p "$T"
bg_session live alice+staging-1 "$LIVE_CMD"
wait_until 20 file_has "$T/live.out" started || fail "the live session did not start: $(cat "$T/live.err")"
LIVE_SID=$(db_query "SELECT id FROM sessions WHERE target = 'staging-1' AND ended_at = 0 ORDER BY started_at DESC LIMIT 1")
[ -n "$LIVE_SID" ] || fail "no live session row"
export LIVE_SID
web_py web_lifetime.py
gw_still_serves
hostile_finish
