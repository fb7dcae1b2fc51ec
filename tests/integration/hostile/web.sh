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

# A crash there never touches SSH: kill -9 the console's process; SSH goes on,
# the listener starts a new one, and it serves again.
web_pid() { sed -n 's/.*drawbridge\[\([0-9]*\)\] info web\.start .*/\1/p' "$DIR/gw.log" | tail -n 1; }
web_up() {
    "$PY" - <<'PYEOF'
import os, ssl, http.client, urllib.parse
u = urllib.parse.urlsplit(os.environ["WEB_URL"])
try:
    c = http.client.HTTPSConnection(u.hostname, u.port, timeout=5,
                                    context=ssl.create_default_context(cafile=os.environ["WEB_CA"]))
    c.request("GET", "/login")
    raise SystemExit(0 if c.getresponse().status == 200 else 1)
except OSError:
    raise SystemExit(1)
PYEOF
}
old=$(web_pid)
[ -n "$old" ] && [ "$old" != "$GW_PID" ] && kill -0 "$old" || fail "cannot find the web console's process"
kill -9 "$old"
out=$(gw_ssh alice whoami 2>&1) || fail "SSH failed right after the web console was killed: $out"
pass "SSH serves right after the web console's process was killed"
for _ in $(seq 1 50); do
    new=$(web_pid)
    if [ -n "$new" ] && [ "$new" != "$old" ] && web_up; then
        break
    fi
    sleep 0.2
done
expect_match "the listener logged the console's end" 'web\.exit' "$(grep 'web\.exit' "$DIR/gw.log")"
web_up || fail "no new web console within 10 s"
expect_ne "a new web console process serves" "$old" "$(web_pid)"
gw_still_serves
finish
