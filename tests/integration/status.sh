#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `drawbridge status -c FILE [--json]` against a real gateway: the listener
# answering, live sessions and pending requests as they come and go, the
# disk, the store, certificates of the last hour (what the audit holds),
# the last verify (each verify leaves a verify.result audit row); exit 0
# when all is well, 1 with the listener down or the store unreachable.
# Depends on: status.c, admin.c (verify.result), disk.c, main.c.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
private_env

status_json() { "$DRAWBRIDGE_BIN" status -c "$CFG" --json; }
jget() { "$PY" -c 'import json,sys; d=json.load(sys.stdin); exec("v=d"+sys.argv[1]); print(json.dumps(v))' "$1"; }

out=$("$DRAWBRIDGE_BIN" status -c "$CFG" 2>&1) || fail "status exited $? on a healthy gateway: $out"
expect_match "the listener is up" "^listener: +up \\(127\\.0\\.0\\.1:$GW_PORT\\)" "$out"
expect_match "no live sessions" '^live sessions: +0$' "$out"
expect_match "no pending requests" '^pending requests: +0$' "$out"
expect_match "the disk is ok" '^disk: +ok: .* free of .* on .*/state/recordings$' "$out"
expect_match "the store is reachable" '^store: +reachable$' "$out"
expect_match "certificates of the last hour" '^certificates: +[0-9]+ issued in the last hour$' "$out"
expect_match "no verify yet" '^last verify: +never$' "$out"
expect_lt "status fits one screen" 25 "$(printf '%s\n' "$out" | wc -l)"

# A pending request and a live session show up.
out=$(gw_ssh alice request web-1 --for 1h --reason status-test 2>&1) || fail "request failed: $out"
gw_ssh alice+staging-1 'sleep 4; echo done' >/dev/null 2>&1 &
client=$!
for _ in $(seq 1 50); do
    [ "$(status_json | jget '["live_sessions"]')" = 1 ] && break
    sleep 0.1
done
json=$(status_json) || fail "status --json exited $?: $json"
expect_eq "--json: one live session" 1 "$(printf '%s' "$json" | jget '["live_sessions"]')"
expect_eq "--json: one pending request" 1 "$(printf '%s' "$json" | jget '["pending_requests"]')"
expect_eq "--json: the listener is up" true "$(printf '%s' "$json" | jget '["listener"]["up"]')"
expect_eq "--json: the store is reachable" true "$(printf '%s' "$json" | jget '["store"]["reachable"]')"
expect_eq "--json: the disk is ok" '"ok"' "$(printf '%s' "$json" | jget '["disk"]["state"]')"
expect_eq "--json: all is well" true "$(printf '%s' "$json" | jget '["ok"]')"
certs=$("$DRAWBRIDGE_BIN" audit -c "$CFG" --json --since 1h | grep -c '"event": *"cert.issue"')
expect_eq "--json: certificates of the last hour as the audit has them" "$certs" \
    "$(printf '%s' "$json" | jget '["certificates_last_hour"]')"
wait "$client" || fail "the session failed"
# The client may be gone before the gateway has closed and sealed the
# session's row: verify would find the recording still "live".
for _ in $(seq 1 50); do
    [ "$(status_json | jget '["live_sessions"]')" = 0 ] && break
    sleep 0.1
done
expect_eq "the session has ended" 0 "$(status_json | jget '["live_sessions"]')"

# The last verify, from its audit row.
"$DRAWBRIDGE_BIN" verify -c "$CFG" >"$DIR/verify.out" 2>&1 || fail "verify failed: $(cat "$DIR/verify.out")"
expect_match "verify leaves its result in the audit" '"event": *"verify.result".*"result": *"ok"' \
    "$("$DRAWBRIDGE_BIN" audit -c "$CFG" --json | grep verify.result)"
out=$("$DRAWBRIDGE_BIN" status -c "$CFG" 2>&1) || fail "status exited $?: $out"
expect_match "status shows the last verify" \
    '^last verify: +[0-9-]+T[0-9:]+Z ok: audit chain [0-9]+ rows, 1 recordings checked \(1 ok' "$out"

# Unwell: a stopped listener, then a store that cannot be opened.
gw_stop
rc=0
out=$("$DRAWBRIDGE_BIN" status -c "$CFG" 2>&1) || rc=$?
expect_eq "status exits 1 with the listener down" 1 "$rc"
expect_match "the listener is down" "^listener: +DOWN \\(127\\.0\\.0\\.1:$GW_PORT: " "$out"
expect_eq "--json: not ok" false "$(status_json | jget '["ok"]')"
mv "$DIR/state/drawbridge.db" "$DIR/state/drawbridge.db.away"
rm -f "$DIR/state/drawbridge.db-wal" "$DIR/state/drawbridge.db-shm"
echo "not a database" >"$DIR/state/drawbridge.db"
rc=0
out=$("$DRAWBRIDGE_BIN" status -c "$CFG" 2>&1) || rc=$?
expect_eq "status exits 1 with the store unreachable" 1 "$rc"
expect_match "the store is unreachable" '^store: +UNREACHABLE: ' "$out"
expect_match "counts it cannot know are ?" '^live sessions: +\?$' "$out"
mv "$DIR/state/drawbridge.db.away" "$DIR/state/drawbridge.db"
finish
