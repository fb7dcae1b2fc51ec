#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Retention, end to end, with seconds for days (recordings.retain 3s,
# audit.retain 12s) and the gateway restarted where an hour would pass
# (retention runs at start and hourly):
#   - an old recording expires: its file goes, the audit says
#     "recording.expire" first, `verify` says "expired by retention" (never
#     "missing") and exits 0; replay/export refuse it and say why; the
#     reviewers' list marks it;
#   - a break-glass session awaiting review is never deleted, and `check`
#     fails (lint) while it waits longer than recordings.retain; reviewed,
#     it expires like the rest;
#   - audit rows older than audit.retain go to a sealed archive file under
#     state_dir/audit-archive and leave the store with an audit.archive
#     row: `verify` checks the archive and the chain, `verify --archive`
#     the file alone; deleting the oldest remaining row or editing the
#     archive is caught.
# Depends on: retention.c, archive.c, audit.c (archived start), admin.c
# (verify), config.c (recordings.retain, audit.retain), shell (sessions,
# replay/export refusals), server.c (retention at start).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
export GW_CONFIG_EXTRA="recordings: {retain: 3s}
audit: {retain: 12s}"
private_env
T0=$(date +%s)

as_pw() { local u=$1; shift; gw_ssh_pw "$u-pw-2026" "$u" "$@"; }
restart() {
    local lines
    lines=$(wc -l <"$DIR/gw.log")
    gw_stop
    gw_start || fail "the gateway did not start again"
    # the retention run at start is a process of its own: wait for its word
    for _ in $(seq 1 100); do
        grep -qE "${1:-retention\.}" <<<"$(tail -n +"$((lines + 1))" "$DIR/gw.log")" && return 0
        sleep 0.1
    done
    fail "no '${1:-retention.}' in the log after the restart"
}
sid_of() { db_query "SELECT id FROM sessions WHERE \"user\" = '$1' AND target = '$2' ORDER BY started_at DESC LIMIT 1"; }
path_of() { db_query "SELECT recording_path FROM sessions WHERE id = '$1'"; }

out=$(gw_ssh alice+staging-1 echo old-session 2>&1) || fail "session failed: $out"
S1=$(sid_of alice staging-1)
P1=$(path_of "$S1")
out=$(as_pw dave breakglass web-1 --reason INC-7 --for 30m 2>&1) || fail "breakglass failed: $out"
out=$(gw_ssh_pw dave-pw-2026 dave+web-1 echo glass 2>&1) || fail "break-glass session failed: $out"
S2=$(sid_of dave web-1)
P2=$(path_of "$S2")
[ -f "$P1" ] && [ -f "$P2" ] || fail "the recordings are not there: $P1 $P2"
sleep 4

# ---- lint: a review waiting longer than retention ----
rc=0
out=$("$DRAWBRIDGE_BIN" check -c "$CFG" 2>&1) || rc=$?
expect_eq "check fails while a review waits longer than recordings.retain" 1 "$rc"
expect_match "and says which session and why" \
    "drawbridge\\.yaml:[0-9]+: recordings\\.retain: 3s is shorter than session $S2 \\(dave on web-1\\)" "$out"

# ---- recordings expire ----
restart 'retention\.expired'
[ -f "$P1" ] && fail "the old recording is still there: $P1"
pass "the old recording's file is gone"
[ -f "$P2" ] || fail "the recording awaiting review was deleted: $P2"
pass "the recording awaiting review is kept"
expect_match "the audit says recording.expire first" \
    "\"event\": *\"recording.expire\".*\"object\": *\"session $S1\".*expired by retention" \
    "$("$DRAWBRIDGE_BIN" audit -c "$CFG" --json | grep recording.expire)"
rc=0
out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" 2>&1) || rc=$?
expect_eq "verify passes" 0 "$rc"
expect_match "verify says expired by retention" "^session $S1: expired by retention" "$out"
expect_nomatch "verify never says missing" 'MISSING' "$out"
rc=0
out=$(as_pw carol replay "$S1" 2>&1) || rc=$?
expect_eq "replay of an expired recording is refused" 1 "$rc"
expect_match "and says why" "expired by retention" "$out"
rc=0
out=$("$DRAWBRIDGE_BIN" export -c "$CFG" "$S1" 2>&1 >/dev/null) || rc=$?
expect_eq "export of an expired recording is refused" 1 "$rc"
expect_match "and says why" "expired by retention" "$out"
expect_match "the reviewers' list marks it" "^$S1 .*recording expired" "$(as_pw carol sessions 2>&1)"

# ---- reviewed, the break-glass session goes too ----
out=$(as_pw carol review "$S2" --note checked 2>&1) || fail "review failed: $out"
out=$("$DRAWBRIDGE_BIN" check -c "$CFG" 2>&1) || fail "check still fails after the review: $out"
pass "check passes once the session is reviewed"
restart 'retention\.expired'
[ -f "$P2" ] && fail "the reviewed recording was kept: $P2"
pass "the reviewed recording expires"

# ---- audit rows go to a sealed archive ----
now=$(date +%s)
[ $((now - T0)) -lt 13 ] && sleep $((13 - (now - T0)))
restart 'retention\.archived'
arch=$(ls "$DIR"/state/audit-archive/audit-*.jsonl 2>/dev/null | head -n 1)
[ -n "$arch" ] || fail "no archive in state_dir/audit-archive"
pass "old audit rows were archived to $(basename "$arch")"
first=$("$DRAWBRIDGE_BIN" audit -c "$CFG" --json | head -n 1 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["seq"])')
[ "$first" -gt 1 ] || fail "the store still starts at row $first"
pass "the store's chain now starts at row $first"
expect_match "an audit.archive row accounts for them" \
    "\"event\": *\"audit.archive\".*\"through\": *$((first - 1))[,}]" \
    "$("$DRAWBRIDGE_BIN" audit -c "$CFG" --json | grep audit.archive | tail -n 1)"
rc=0
out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" 2>&1) || rc=$?
expect_eq "verify passes with an archived start" 0 "$rc"
expect_match "verify checks the archive" "^audit archive .*$(basename "$arch"): ok \\(rows 1-" "$out"
expect_match "and the chain" '^audit chain: ok' "$out"
out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" --archive "$arch" 2>&1) || fail "verify --archive failed: $out"
expect_match "verify --archive checks the file alone" ': ok \(rows 1-' "$out"

# ---- tampering is caught ----
cp "$DIR/state/drawbridge.db" "$DIR/db.saved"
"$PY" - "$DIR/state/drawbridge.db" <<'PYEOF' || fail "could not delete a row"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
db.execute("DELETE FROM audit WHERE seq = (SELECT min(seq) FROM audit)")
db.commit()
PYEOF
rc=0
out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" 2>&1) || rc=$?
expect_eq "deleting the oldest remaining row is caught" 1 "$rc"
expect_match "as rows missing" 'audit chain: TAMPERED: audit row 1: missing' "$out"
sed -i '2s/"time":/"time":1/' "$arch"
rc=0
out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" --archive "$arch" 2>&1) || rc=$?
expect_eq "an edited archive is caught" 1 "$rc"
expect_match "as tampered" 'TAMPERED: row [0-9]+: contents do not match' "$out"
finish
