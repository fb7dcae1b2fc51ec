#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# audit_forward: {file: PATH} and `drawbridge verify --forwarded PATH`
# (issue 12): every audit row leaves the host, with its hash, as it is
# committed, and the forwarded copy finds a history rewritten on the host:
#   - every row of the chain is in the copy, once, as written; the copy
#     checks out against the store;
#   - a row changed in the database: "changed since it was forwarded";
#   - the newest rows deleted: "removed from the store";
#   - the chain rebuilt from an edited row with every hash recomputed and
#     the anchor sealed again under a new key (so that the plain verify says
#     the chain is fine): caught, as "changed" for the edited row and as
#     "rebuilt" for the rows after it when the copy lacks the edited one
#     (a row another gateway forwarded elsewhere);
#   - an edited copy is refused rather than believed.
# Runs in an environment of its own (it edits the database).
# Depends on: store/forward.c, store/store.c (forwarding after COMMIT),
# admin.c (verify --forwarded).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

FWD=$(mktemp -d /tmp/db-fwd.XXXXXX) || fail "cannot create a directory"
export GW_CONFIG_EXTRA="audit_forward: {file: $FWD/audit.jsonl}"
private_env
T=$DIR/scratch
mkdir -p "$T"
trap 'rc=$?; env_down "$rc" || rc=1; rm -rf "$FWD"; exit $rc' EXIT

request alice web-1 1h
approve bob "$N"
run alice+web-1 echo forwarded
request alice web-1 30m
run bob deny "$N" --reason "'not now'"
gw_stop

# forwarded: the rows of the copy; stored: the chain (seq and hash of each)
"$PY" - "$FWD/audit.jsonl" >"$T/fwd.rows" <<'PYEOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(r["seq"], r["hash"])
PYEOF
db_query "SELECT seq || ' ' || hash FROM audit ORDER BY seq" >"$T/db.rows"
expect_eq "every row of the chain was forwarded, once, with its hash" \
    "$(cat "$T/db.rows")" "$(sort -n "$T/fwd.rows")"
out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" --forwarded "$FWD/audit.jsonl" 2>&1) || fail "verify --forwarded: $out"
# (verify adds its own verify.result row, which is forwarded too)
expect_match "the copy checks out" "forwarded copy: ok \($(($(wc -l <"$T/db.rows") + 1)) rows match the store" "$out"
cp -a "$DIR/state" "$T/state.orig"
cp "$FWD/audit.jsonl" "$T/audit.jsonl.orig"

restore() {
    rm -rf "$DIR/state"
    cp -a "$T/state.orig" "$DIR/state"
    cp "$T/audit.jsonl.orig" "$FWD/audit.jsonl"
}
# tampered WHAT ERE [COPY]: verify --forwarded exits 1 saying ERE
tampered() {
    local rc=0 out
    out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" --forwarded "${3:-$FWD/audit.jsonl}" 2>&1) || rc=$?
    expect_eq "$1: verify --forwarded exits 1" 1 "$rc"
    expect_match "$1: it says what" "$2" "$out"
}
sql() {
    "$PY" - "$DIR/state/drawbridge.db" "$1" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript(sys.argv[2])
db.commit()
PYEOF
}

sql "UPDATE audit SET details = '{}' WHERE seq = 3"
tampered "a row changed" "forwarded copy: TAMPERED: audit row 3: changed since it was forwarded"
restore
sql "DELETE FROM audit WHERE seq >= (SELECT max(seq) - 1 FROM audit)"
# (verify's own verify.result row then takes a deleted row's number: a fork the copy shows too)
tampered "the newest rows deleted" "audit row [0-9]+: (removed from the store|forwarded twice with different contents)"
restore

# Rebuild from row 3: an edited actor, every hash after it recomputed, a new
# recording.hmac and the anchor sealed under it.
"$PY" - "$DIR/state" <<'PYEOF'
import hashlib, hmac, os, sqlite3, sys
state = sys.argv[1]
db = sqlite3.connect(os.path.join(state, "drawbridge.db"))
def ns(b):
    b = b if isinstance(b, bytes) else str(b).encode()
    return str(len(b)).encode() + b":" + b + b","
rows = db.execute("SELECT seq, time, actor, event, object, details, prev_hash FROM audit ORDER BY seq").fetchall()
prev = None
for seq, t, actor, event, obj, details, prev_hash in rows:
    if seq < 3:
        prev = db.execute("SELECT hash FROM audit WHERE seq = ?", (seq,)).fetchone()[0]
        continue
    if seq == 3:
        actor = "nobody"
    form = b"drawbridge-audit-v1\n" + b"".join(ns(x) for x in (seq, t, actor, event, obj, details, prev))
    h = hashlib.sha256(form).hexdigest()
    db.execute("UPDATE audit SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?", (actor, prev, h, seq))
    prev = h
db.commit()
key = os.urandom(32)
open(os.path.join(state, "keys", "recording.hmac"), "wb").write(key)
body = "drawbridge-audit-head v1 %d %s" % (rows[-1][0], prev)
mac = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
open(os.path.join(state, "audit.head"), "w").write(body + " " + mac + "\n")
PYEOF
out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" 2>&1 || true)
expect_match "the rebuilt chain fools the plain verify" "audit chain: ok" "$out"
tampered "the chain rebuilt under a new key" "audit row 3: changed since it was forwarded"
grep -v '"seq":3,' "$FWD/audit.jsonl" >"$T/without3.jsonl"
tampered "rebuilt, seen from a copy without the edited row" "audit row 4: the chain was rebuilt" "$T/without3.jsonl"
restore

sed 's/"actor":"bob"/"actor":"eve"/' "$FWD/audit.jsonl" >"$T/edited.jsonl"
rc=0
out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" --forwarded "$T/edited.jsonl" 2>&1) || rc=$?
expect_eq "an edited copy: exit 1" 1 "$rc"
expect_match "an edited copy is refused, not believed" "does not match its own hash" "$out"
rc=0
out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" --forwarded "$T/nonexistent.jsonl" 2>&1) || rc=$?
expect_eq "a missing copy: exit 1" 1 "$rc"
expect_match "a missing copy: one line saying so" "nonexistent.jsonl: No such file" "$out"

finish
