#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `drawbridge migrate -c FILE --from PATH/drawbridge.db` (issue 12): a
# gateway that ran on SQLite moves onto PostgreSQL with its history:
#   - two migrate runs at once into one empty database: one copies, the
#     other waits for it and then refuses (the target is no longer empty);
#     a third, later, refuses as well; nothing is half-copied;
#   - the copied chain is the same chain (same rows, same last hash), plus
#     one store.migrate row, and verifies against the anchor the gateway
#     kept in its state_dir while it ran on SQLite;
#   - the gateway started on PostgreSQL shows the old requests, the old
#     session and its recording, and numbers new requests after the old ones.
# Depends on: store/migrate.c, store/schema.c (store_copy_tables),
# store/postgres.c; the fixture "pg" for the server.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

: "${DRAWBRIDGE_TEST_PG:?this test needs the fixture pg (DRAWBRIDGE_TEST_PG)}"
PGFIX=$DRAWBRIDGE_TEST_PG
unset DRAWBRIDGE_TEST_PG # the gateway starts on SQLite
private_env
T=$DIR/scratch
mkdir -p "$T"

# ---- a history on SQLite ----
request alice web-1 1h
g=$N
approve bob "$g"
run alice+web-1 echo migrated-session-42
expect_eq "a session on SQLite" migrated-session-42 "$OUT"
request alice web-1 30m
run bob deny "$N" --reason "'not now'"
[ "$RC" = 0 ] || fail "bob deny: $ERR"
request alice web-1 20m
pending=$N
nreq=$(db_query "SELECT count(*) FROM requests")
maxid=$(db_query "SELECT max(id) FROM requests")
sid=$(session_ids "\"user\" = 'alice' AND grant_id = $g" | head -n 1)
last=$(db_query "SELECT seq || ' ' || hash FROM audit ORDER BY seq DESC LIMIT 1")
gw_stop
pass "a gateway ran on SQLite: $nreq requests, session $sid, audit row ${last%% *}"

# ---- migrate, twice at once ----
URL=$(pg_createdb "$PGFIX" "mig_$$_$RANDOM") || fail "cannot create the target database"
PGCFG=$DIR/drawbridge-pg.yaml
{
    grep -v '^store:' "$CFG"
    echo "store: {url: \"$URL\"}"
} >"$PGCFG"
for k in 1 2; do
    (
        rc=0
        "$DRAWBRIDGE_BIN" migrate -c "$PGCFG" --from "$DIR/state/drawbridge.db" >"$T/mig$k.out" 2>"$T/mig$k.err" || rc=$?
        echo "$rc" >"$T/mig$k.rc"
    ) &
    MPIDS[k]=$!
done
wait "${MPIDS[1]}" "${MPIDS[2]}"
r1=$(cat "$T/mig1.rc") r2=$(cat "$T/mig2.rc")
expect_eq "of two migrate runs at once, exactly one copies" "0 1" "$(printf '%s\n' "$r1" "$r2" | sort | xargs)"
loser=1
[ "$r1" = 0 ] && loser=2
winner=$((3 - loser))
expect_match "the other waited and refused: the target is not empty" \
    'drawbridge: migrate: store.url: .* is not empty' "$(cat "$T/mig$loser.err")"
expect_eq "it said so in one line" 1 "$(grep -c . "$T/mig$loser.err")"
expect_match "the copy says what it moved and that the chain verifies" \
    "migrated .* row\(s\) into .*audit chain: ok" "$(cat "$T/mig$winner.out")"
rc=0
"$DRAWBRIDGE_BIN" migrate -c "$PGCFG" --from "$DIR/state/drawbridge.db" >"$T/mig3.out" 2>"$T/mig3.err" || rc=$?
expect_eq "a later migrate into the same database is refused" 1 "$rc"
expect_match "because it is not empty" 'not empty' "$(cat "$T/mig3.err")"
rc=0
"$DRAWBRIDGE_BIN" migrate -c "$CFG" --from "$DIR/state/drawbridge.db" >"$T/mig4.out" 2>"$T/mig4.err" || rc=$?
expect_eq "migrate without store.url is a usage error" 2 "$rc"

# ---- the same history on PostgreSQL ----
GW_PG_URL=$URL
expect_eq "every request copied" "$nreq" "$(db_query "SELECT count(*) FROM requests")"
expect_eq "the chain's last copied row is the same row" "$last" \
    "$(db_query "SELECT seq || ' ' || hash FROM audit WHERE seq = ${last%% *}")"
expect_eq "one store.migrate row after it" 1 \
    "$(db_query "SELECT count(*) FROM audit WHERE event = 'store.migrate' AND seq = ${last%% *} + 1")"
out=$("$DRAWBRIDGE_BIN" verify -c "$PGCFG" 2>&1) || fail "verify on PostgreSQL after migrate: $out"
expect_match "the copied chain verifies against the anchor kept from SQLite" 'audit chain: ok' "$out"
expect_match "the session's recording still verifies" "session $sid: ok" "$out"

CFG=$PGCFG
gw_start || fail "the gateway did not start on PostgreSQL: $(tail -n 5 "$DIR/gw.log")"
run bob requests --all
expect_match "the old requests are there" "^ *$pending .*pending" "$OUT"
run carol sessions
expect_match "the old session is there" "$sid" "$OUT"
request alice web-1 10m
expect_eq "new requests are numbered after the copied ones" "$((maxid + 1))" "$N"
approve bob "$pending"
run alice+web-1 echo after-migrate
expect_eq "a session through the gateway on PostgreSQL" after-migrate "$OUT"
expect_verify_ok "the chain verifies after new rows on PostgreSQL"

finish
