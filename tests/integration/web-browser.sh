#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The web console in headless Chromium (web_browser.py): log in through the
# one-time link, approve a pending request, read a recording (HTML in its
# output shown as text) from the player, follow a search hit to its moment,
# watch a live session.  Screenshots: SHOTS (build/web-screenshots/).
# Depends on: broker/web/* and its static files, asciinema-player (npm).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=web-lib.sh
. "$(dirname "$0")/web-lib.sh"

for p in /usr/bin/chromium /usr/bin/chromedriver; do
    [ -x "$p" ] || fail "$p is missing (scripts/install-deps installs chromium and chromium-driver)"
done
web_env
grep -q 'web.player_missing' "$DIR/gw.log" &&
    fail "the player is not installed (scripts/install-deps runs npm ci in broker/web)"

T=$DIR/scratch
mkdir -p "$T"
run alice request web-1 --for 1h --reason "'INC-77 from the browser test'"
REQ_ID=$(printf '%s\n' "$OUT" | sed -n 's/^request \([0-9]*\) pending.*/\1/p')
[ -n "$REQ_ID" ] || fail "no pending request: $OUT $ERR"
run alice+staging-1 "printf '<script>alert(1)</script>\n<img src=x onerror=alert(2)>\n'; echo hostile-end-marker"
expect_eq "the hostile recording's session ran" 0 "$RC"
HOSTILE_SID=$(db_query "SELECT id FROM sessions WHERE target = 'staging-1' ORDER BY started_at DESC LIMIT 1")
[ -n "$HOSTILE_SID" ] || fail "no session row"
export REQ_ID HOSTILE_SID SHOTS=${SHOTS:-$DIR/screenshots}
web_py web_browser.py
gw_still_serves
finish
