#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Three gateways on one PostgreSQL store act as one (issue 12):
#   - a request made on gateway 1 is approved on gateway 2 and used through
#     gateway 3; every gateway lists the live session, and a reviewer on
#     another gateway watches it (recordings_dir and keys_dir are shared);
#   - a revoke on gateway 1 ends the session that gateway 3 carries, and a
#     terminate on gateway 3 ends one that gateway 1 carries: the session's
#     process sleeps without timers (wake.c), so only the store's
#     notification (LISTEN/NOTIFY) can end it before its grant's hour is up;
#     the time from the command to the disconnect is printed;
#   - requests and approvals from all three gateways at once leave one audit
#     chain without forks: every gateway's `drawbridge verify` passes, each
#     against its own anchor (state_dir/audit.head), and every decision has
#     exactly its rows;
#   - kill -9 of gateway 2 (listener and every child) while it is approving:
#     every approval a client was told about is in the store with its grant,
#     nothing is half-written, the chain verifies on the others and on
#     gateway 2 once it is back.
# Runs against the fixture "pg" (a PostgreSQL server) with gateways of its own.
# Depends on: store/postgres.c (advisory write lock, LISTEN), store/schema.c
# (migration 6: notify triggers, sessions.host), server.c (the listener's
# LISTEN turned into wake-ups), wake.c, access.c.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

: "${DRAWBRIDGE_TEST_PG:?this test runs against the fixture pg (DRAWBRIDGE_TEST_PG)}"
SHARED=$(mktemp -d /tmp/db-gateways.XXXXXX) || fail "cannot create the shared directory"
export GW_CONFIG_EXTRA="keys_dir: $SHARED/keys
recordings_dir: $SHARED/recordings"
GW_PIDS=()
private_env
T=$DIR/scratch
mkdir -p "$T"
trap 'rc=$?; bg_cleanup; gw_others_stop; env_down "$rc" || rc=1; rm -rf "$SHARED"; exit $rc' EXIT

P1=$GW_PORT
GW_PIDS[1]=$GW_PID
CFGS=("" "$CFG")

# gw_other K: gateway K (2, 3) with the same config but its own port and
# state_dir; its log in DIR/gwK.log, its host key (shared) in known_hosts.
gw_other() {
    local k=$1 port attempt line
    for attempt in 1 2 3; do
        port=$(free_port) || return 1
        mkdir -p "$DIR/state$k"
        sed -e "s|^listen: .*|listen: [\"127.0.0.1:$port\"]|" -e "s|^state_dir: .*|state_dir: $DIR/state$k|" \
            "$CFG" >"$DIR/drawbridge$k.yaml"
        setsid "$DRAWBRIDGE_BIN" serve -c "$DIR/drawbridge$k.yaml" -f </dev/null >>"$DIR/gw$k.log" 2>&1 &
        GW_PIDS[k]=$!
        if wait_port "$port" "${GW_PIDS[k]}" "drawbridge serve ($k)"; then
            eval "P$k=$port"
            CFGS[k]=$DIR/drawbridge$k.yaml
            # the same host key (keys_dir is shared), on another port
            line=$(head -n 1 "$DIR/known_hosts" | sed "s/^\[$GW_HOST\]:$P1 /[$GW_HOST]:$port /")
            printf '%s\n' "$line" >>"$DIR/known_hosts"
            return 0
        fi
    done
    return 1
}
gw_others_stop() {
    local k
    for k in 2 3; do
        [ -n "${GW_PIDS[k]:-}" ] && stop_pid "${GW_PIDS[k]}" "drawbridge serve ($k)"
    done
    return 0
}
# on K FUNCTION ARGS...: FUNCTION (run, as, request, approve, bg_session) through gateway K.
on() {
    local k=$1 p
    shift
    p=P$k
    GW_PORT=${!p} "$@"
}
# the gateway (1..3) whose listener is the parent of process $1
gateway_of() {
    local ppid k
    ppid=$(awk '/^PPid:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
    for k in 1 2 3; do
        [ "${GW_PIDS[k]:-}" = "$ppid" ] && { echo "$k"; return 0; }
    done
    echo "?"
}

gw_other 2 || fail "gateway 2 did not start: $(tail -n 5 "$DIR/gw2.log")"
gw_other 3 || fail "gateway 3 did not start: $(tail -n 5 "$DIR/gw3.log")"
pass "three gateways on one store ($(cat "$DRAWBRIDGE_TEST_PG/url")/...), ports $P1 $P2 $P3"

IDLE_CMD='echo started; exec sleep 300'

# ---- request on 1, approve on 2, connect through 3 ----
on 1 request alice web-1 1h
g=$N
on 2 approve bob "$g"
expect_match "bob approves on gateway 2 what alice asked on gateway 1" "approved|grant" "$OUT"
on 3 bg_session s1 alice+web-1 "$IDLE_CMD"
wait_until 15 file_has "$T/s1.out" '^started' || fail "alice+web-1 through gateway 3 did not start: $(cat "$T/s1.err")"
sid=$(session_ids "\"user\" = 'alice' AND grant_id = $g AND ended_at = 0" | head -n 1)
[ -n "$sid" ] || fail "no live session row for grant $g"
expect_eq "the session runs on gateway 3" 3 "$(gateway_of "$(db_query "SELECT pid FROM sessions WHERE id = '$sid'")")"
for k in 1 2; do
    on "$k" run carol sessions --live
    expect_match "gateway $k lists the session gateway 3 carries" "$sid" "$OUT"
done
# watch follows until the session ends: stdin held open (a FIFO), stopped once it showed the output
mkfifo "$T/watch.in"
exec 8<>"$T/watch.in"
on 1 as carol watch "$sid" <"$T/watch.in" >"$T/watch.out" 2>"$T/watch.err" &
WATCH_PID=$!
BG_PIDS+=("$WATCH_PID")
wait_until 10 file_has "$T/watch.out" started ||
    fail "carol's watch on gateway 1 did not show the session gateway 3 records: $(cat "$T/watch.err")"
pass "carol watches from gateway 1 what gateway 3 records (shared recordings_dir)"
kill_tree "$WATCH_PID"
exec 8>&-

# ---- a revoke on gateway 1 ends the session on gateway 3 ----
t0=$(now_ms)
on 1 run bob revoke "$g" --reason "'INC-9 done'"
t1=$(now_ms)
[ "$RC" = 0 ] || fail "bob revoke $g on gateway 1: exit $RC: $ERR"
wait_until 5 has_file "$T/s1.rc" || fail "the session on gateway 3 still runs 5 s after the revoke on gateway 1"
expect_match "the engineer is told why" "grant $g was revoked" "$(cat "$T/s1.err")"
log "revoke on gateway 1 to disconnect on gateway 3: $(($(cat "$T/s1.end") - t1)) ms after the command returned ($(($(cat "$T/s1.end") - t0)) ms from issuing it)"
wait_until 10 file_has "$DIR/gw3.log" "session.grant_ended.*grant=$g" ||
    fail "gateway 3 did not log the grant's end"
pass "gateway 3 ended the session on the revoke gateway 1 made"

# ---- a terminate on gateway 3 ends the session on gateway 1 ----
on 2 request alice web-1 1h
g2=$N
on 3 approve erin "$g2"
on 1 bg_session s2 alice+web-1 "$IDLE_CMD"
wait_until 15 file_has "$T/s2.out" '^started' || fail "alice+web-1 through gateway 1 did not start: $(cat "$T/s2.err")"
sid2=$(session_ids "\"user\" = 'alice' AND grant_id = $g2 AND ended_at = 0" | head -n 1)
expect_eq "the second session runs on gateway 1" 1 "$(gateway_of "$(db_query "SELECT pid FROM sessions WHERE id = '$sid2'")")"
t0=$(now_ms)
on 3 run carol terminate "$sid2" --reason "'looks wrong'"
t1=$(now_ms)
[ "$RC" = 0 ] || fail "carol terminate on gateway 3: exit $RC: $ERR"
wait_until 5 has_file "$T/s2.rc" || fail "the session on gateway 1 still runs 5 s after the terminate on gateway 3"
expect_match "the engineer is told who ended it" "terminated by carol" "$(cat "$T/s2.err")"
log "terminate on gateway 3 to disconnect on gateway 1: $(($(cat "$T/s2.end") - t1)) ms after the command returned ($(($(cat "$T/s2.end") - t0)) ms from issuing it)"
on 2 run bob revoke "$g2" --reason "'cleanup'"

# ---- decisions on all three gateways at once: one chain, no forks ----
# worker K: alice requests through gateway K, bob approves through gateway K
worker() {
    local k=$1 i n out
    for i in 1 2 3 4; do
        out=$(GW_PORT=$(eval echo "\$P$k") gw_ssh alice request web-1 --for 10m --reason "'w$k-$i'" </dev/null 2>&1) || continue
        n=$(req_id "$out")
        [ -n "$n" ] || continue
        if GW_PORT=$(eval echo "\$P$k") gw_ssh_pw bob-pw-2026 bob approve "$n" </dev/null >/dev/null 2>&1; then
            echo "$n" >>"$T/approved.$k"
        fi
    done
}
for k in 1 2 3; do
    worker "$k" &
    WPIDS[k]=$!
done
for k in 1 2 3; do
    wait "${WPIDS[k]}"
done
napproved=$(cat "$T"/approved.* 2>/dev/null | wc -l)
[ "$napproved" -ge 6 ] || fail "only $napproved approvals went through from three gateways at once"
for n in $(cat "$T"/approved.*); do
    expect_eq "request $n: approved with its grant" "approved|active" \
        "$(db_query "SELECT r.status, g.status FROM requests r JOIN grants g ON g.id = r.id WHERE r.id = $n")"
done
dups=$(db_query "SELECT count(*) FROM (SELECT prev_hash FROM audit GROUP BY prev_hash HAVING count(*) > 1) f")
expect_eq "no two audit rows share a predecessor (no fork)" 0 "$dups"
for k in 1 2 3; do
    out=$("$DRAWBRIDGE_BIN" verify -c "${CFGS[k]}" 2>&1) || fail "verify on gateway $k: $out"
    expect_match "gateway $k: the shared chain verifies against its own anchor" 'audit chain: ok' "$out"
done
pass "$napproved approvals made on three gateways at once"

# ---- kill -9 of gateway 2 in the middle of approvals ----
: >"$T/confirmed"
(
    i=0
    while [ ! -e "$T/stop" ] && [ "$i" -lt 40 ]; do
        i=$((i + 1))
        out=$(GW_PORT=$P1 gw_ssh alice request web-1 --for 10m --reason "'k$i'" </dev/null 2>&1) || continue
        n=$(req_id "$out")
        [ -n "$n" ] || continue
        if GW_PORT=$P2 gw_ssh_pw bob-pw-2026 bob approve "$n" </dev/null >/dev/null 2>&1; then
            echo "$n" >>"$T/confirmed"
        fi
    done
) &
KPID=$!
wait_until 30 file_has "$T/confirmed" . || fail "no approval went through gateway 2 before the kill"
sleep 0.$((RANDOM % 8 + 1))
kill -9 -- -"${GW_PIDS[2]}" 2>/dev/null || kill -9 "${GW_PIDS[2]}"
touch "$T/stop"
wait "$KPID" 2>/dev/null
pass "gateway 2 and its children killed with SIGKILL mid-approval ($(wc -l <"$T/confirmed") approvals confirmed before)"
for n in $(cat "$T/confirmed"); do
    expect_eq "request $n, whose approval was confirmed, is approved with its grant" "approved|active" \
        "$(db_query "SELECT r.status, g.status FROM requests r JOIN grants g ON g.id = r.id WHERE r.id = $n")"
done
expect_eq "no request is approved without its grant (nothing half-written)" 0 \
    "$(db_query "SELECT count(*) FROM requests r WHERE r.status = 'approved' AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.id = r.id)")"
expect_eq "no grant.start without its approval rows" 0 \
    "$(db_query "SELECT count(*) FROM requests r WHERE r.status = 'approved' AND (SELECT count(*) FROM audit a WHERE a.event = 'grant.start' AND a.object = 'grant ' || r.id) != 1")"
for k in 1 3; do
    out=$("$DRAWBRIDGE_BIN" verify -c "${CFGS[k]}" 2>&1) || fail "verify on gateway $k after the kill: $out"
    expect_match "gateway $k: the chain verifies after gateway 2 was killed" 'audit chain: ok' "$out"
done
gw_other 2 || fail "gateway 2 did not start again: $(tail -n 5 "$DIR/gw2.log")"
on 2 request alice web-1 10m
on 2 approve bob "$N"
out=$("$DRAWBRIDGE_BIN" verify -c "${CFGS[2]}" 2>&1) || fail "verify on gateway 2 after its restart: $out"
expect_match "gateway 2, back, decides and verifies the chain" 'audit chain: ok' "$out"

finish
