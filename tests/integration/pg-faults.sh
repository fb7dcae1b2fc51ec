#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The PostgreSQL store when things go wrong (issue 12), on a server of the
# test's own that wants a password over TCP:
#   - at start, a wrong password, an unreachable server or a missing
#     database stop `drawbridge serve` with exit status 1 and one line that
#     names store.url and never the password; a schema newer than the binary
#     stops it too;
#   - a failover URL with two hosts, the first down, works;
#   - PostgreSQL stopped for 10 s: a new login that needs the store is
#     refused with a message, a live session is held for store_grace (3 s
#     here) and then ended with a message; when the server is back, requests,
#     approvals and sessions work again and the chain verifies.
# Depends on: store/postgres.c (connect, reconnect), server.c (the store
# opened at start; the sweep wakes sessions when the store is away),
# channel.c (store_grace), session.c.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

pg_available || fail "PostgreSQL 15 is not installed (scripts/install-deps)"
PGD=$(mktemp -d /tmp/db-pgfaults.XXXXXX) || fail "cannot create a directory for PostgreSQL"
PG_AUTH_HOST=scram-sha-256 pg_start "$PGD" || fail "PostgreSQL did not start"
trap 'pg_stop "$PGD"; rm -rf "$PGD"' EXIT
PGPORT=$(cat "$PGD/port")
pg_psql "$PGD" postgres "CREATE ROLE gw LOGIN PASSWORD 'gw-secret-2026'" >/dev/null ||
    fail "cannot create the role"
pg_psql "$PGD" postgres "CREATE DATABASE gwdb OWNER gw" >/dev/null || fail "cannot create the database"
pg_psql "$PGD" postgres "CREATE DATABASE gwdb2 OWNER gw" >/dev/null || fail "cannot create the database"
PWFILE=$PGD/gw.secret
printf 'gw-secret-2026\n' >"$PWFILE"
chmod 0600 "$PWFILE"
URL="postgresql://gw@127.0.0.1:$PGPORT/gwdb"
export GW_CONFIG_EXTRA="store: {url: \"$URL\", password_file: $PWFILE}
store_grace: 3s"

private_env
T=$DIR/scratch
mkdir -p "$T"
FO_PID=
trap 'rc=$?; bg_cleanup; [ -n "$FO_PID" ] && stop_pid "$FO_PID" "drawbridge serve (failover)"; env_down "$rc" || rc=1; pg_stop "$PGD"; rm -rf "$PGD"; exit $rc' EXIT
pass "the gateway runs on PostgreSQL with a password from store.password_file"

# bad_start NAME CONFIG-SED ERE: serve with the config changed by CONFIG-SED
# exits 1 within 15 s with one line naming store.url and matching ERE.
bad_start() {
    local name=$1 edit=$2 ere=$3 port rc=0 out
    port=$(free_port)
    sed -e "s|^listen: .*|listen: [\"127.0.0.1:$port\"]|" -e "s|^state_dir: .*|state_dir: $DIR/state-$name|" \
        -e "$edit" "$CFG" >"$DIR/$name.yaml"
    out=$(timeout 15 "$DRAWBRIDGE_BIN" serve -c "$DIR/$name.yaml" -f </dev/null 2>&1 >/dev/null) || rc=$?
    expect_eq "$name: serve stops with exit status 1" 1 "$rc"
    # (besides the log's own timestamped lines, e.g. the signer's start)
    expect_eq "$name: one line: $out" 1 \
        "$(printf '%s\n' "$out" | grep -Ev '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z drawbridge\[' | grep -c .)"
    expect_match "$name: it names store.url and says why" "^drawbridge: store.url.*($ere)" "$out"
    expect_nomatch "$name: the password is not in it" "gw-secret-2026|wrong-2026" "$out"
}
printf 'wrong-2026\n' >"$PGD/wrong.secret"
bad_start wrong-password "s|password_file: $PWFILE|password_file: $PGD/wrong.secret|" \
    'password authentication failed'
bad_start unreachable "s|127.0.0.1:$PGPORT|127.0.0.1:$DOWN_PORT|" 'Connection refused|could not connect'
bad_start no-database "s|/gwdb\"|/nosuchdb\"|" 'does not exist'
"$DRAWBRIDGE_BIN" audit -c "$(sed -e "s|/gwdb\"|/gwdb2\"|" "$CFG" >"$DIR/newer.yaml"; echo "$DIR/newer.yaml")" \
    >/dev/null 2>&1 || fail "cannot create the schema in gwdb2"
pg_psql "$PGD" gwdb2 "UPDATE drawbridge_schema SET version = 99" >/dev/null
bad_start newer-schema "s|/gwdb\"|/gwdb2\"|" 'schema version 99 is newer than this drawbridge'

# ---- failover: the first host is down, the second answers ----
port=$(free_port)
sed -e "s|^listen: .*|listen: [\"127.0.0.1:$port\"]|" -e "s|^state_dir: .*|state_dir: $DIR/state-fo|" \
    -e "s|127.0.0.1:$PGPORT/|127.0.0.1:$DOWN_PORT,127.0.0.1:$PGPORT/|" "$CFG" >"$DIR/failover.yaml"
echo "keys_dir: $DIR/state/keys" >>"$DIR/failover.yaml" # the same host key as the first gateway
grep -q "$DOWN_PORT,127.0.0.1:$PGPORT" "$DIR/failover.yaml" || fail "the failover URL was not written"
setsid "$DRAWBRIDGE_BIN" serve -c "$DIR/failover.yaml" -f </dev/null >>"$DIR/gw-fo.log" 2>&1 &
FO_PID=$!
wait_port "$port" "$FO_PID" "drawbridge serve (failover)" || fail "serve with a two-host URL did not start: $(cat "$DIR/gw-fo.log")"
line=$(head -n 1 "$DIR/known_hosts" | sed "s/^\[$GW_HOST\]:$GW_PORT /[$GW_HOST]:$port /")
printf '%s\n' "$line" >>"$DIR/known_hosts"
GW_PORT=$port run alice whoami
expect_eq "a gateway on the two-host URL serves (first host down)" 0 "$RC"
GW_PORT=$port request alice web-1 1h
pass "a request is stored through the failover URL (request $N)"
stop_pid "$FO_PID" "drawbridge serve (failover)"
FO_PID=

# ---- PostgreSQL stopped for 10 s ----
request alice web-1 1h
g=$N
approve bob "$g"
bg_session s1 alice+web-1 'echo started; exec sleep 120'
wait_until 15 file_has "$T/s1.out" '^started' || fail "the session did not start: $(cat "$T/s1.err")"
t0=$(now_ms)
pg_down "$PGD" || fail "pg_ctl stop failed"
pass "PostgreSQL stopped"
run alice+web-1 echo hello
[ "$RC" != 0 ] || fail "a new session to a protected target was let in while the store is down: $OUT"
expect_match "a new login that needs the store is refused with a message" 'drawbridge: .*(store|unavailable)' "$ERR"
run alice request web-1 --for 1h --reason "'while down'"
[ "$RC" != 0 ] || fail "a request was accepted while the store is down"
expect_match "a request while the store is down says so" 'drawbridge: .*(store|unavailable)' "$ERR"
sleep 2
has_file "$T/s1.rc" && fail "the live session ended before store_grace ($(($(cat "$T/s1.end") - t0)) ms after the stop): $(cat "$T/s1.err")"
pass "the live session is held while the store is away"
wait_until 12 has_file "$T/s1.rc" || fail "the live session still runs 12 s after the store went away (store_grace 3s)"
held=$(($(cat "$T/s1.end") - t0))
expect_match "the engineer is told why" 'store is unreachable; session closed' "$(cat "$T/s1.err")"
log "the session was held $held ms after PostgreSQL stopped (store_grace 3s, the listener looks every 5 s)"
expect_lt "held at least store_grace: 2999 ms less than it (ms)" "$held" 2999
expect_lt "held no longer than store_grace plus one sweep (ms)" 9500 "$held"
while [ $(($(now_ms) - t0)) -lt 10000 ]; do sleep 0.2; done
pg_restart "$PGD" || fail "PostgreSQL did not start again"
pass "PostgreSQL back after $(($(now_ms) - t0)) ms"
ok_again() {
    run alice request web-1 --for 1h --reason "'after the outage'"
    [ "$RC" = 0 ]
}
wait_until 15 ok_again || fail "requests do not work again after the store came back: $ERR"
N=$(req_id "$OUT")
approve bob "$N"
run alice+web-1 echo back-again
expect_eq "a session runs again" back-again "$OUT"
expect_verify_ok "the chain verifies after the outage"

finish
