#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Another process holds SQLite's write lock on state_dir/drawbridge.db
# (the sqlite3 shell inside BEGIN EXCLUSIVE), as a backup tool or a curious
# operator might:
#   - for 2 s, less than the store's 5 s busy timeout: a request, an
#     approval and a login made meanwhile wait and then succeed;
#   - until every client has had its answer (40 s at most): every one of
#     them is refused (a wait without limit would be served once the lock
#     is gone) with a clear one-line message (never a crash, never
#     "database is locked" leaking as success), nothing is half-written,
#     and everything works again once the lock is gone;
#   - the chain verifies, and every state change a client was told about is
#     in the store and the audit.
# Runs in an environment of its own (it locks the store).
# Depends on: store/sqlite.c (busy timeout, BEGIN IMMEDIATE), access.c, session.c.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../jit-lib.sh
. "$(dirname "$0")/../jit-lib.sh"
# shellcheck source=lib-hostile.sh
. "$(dirname "$0")/lib-hostile.sh"
command -v sqlite3 >/dev/null || fail "the sqlite3 shell is missing (apt-get install sqlite3)"
need_raw_client
private_env
T=$DIR/scratch
mkdir -p "$T"
DB=$DIR/state/drawbridge.db
LOCKER=
trap 'rc=$?; [ -n "$LOCKER" ] && kill_tree "$LOCKER"; env_down "$rc" || rc=1; exit $rc' EXIT

# lock SECONDS: holds the write lock in the background for SECONDS, or
# until T/release exists; returns once it is held.
lock() {
    rm -f "$T/locked" "$T/unlocked" "$T/release"
    sqlite3 "$DB" >"$T/locker.out" 2>&1 <<EOF &
.timeout 10000
BEGIN EXCLUSIVE;
.shell touch $T/locked
.shell i=0; while [ \$i -lt $(($1 * 10)) ] && [ ! -e $T/release ]; do sleep 0.1; i=\$((i + 1)); done
COMMIT;
.shell touch $T/unlocked
EOF
    LOCKER=$!
    wait_until 15 test -e "$T/locked" || fail "sqlite3 could not take the lock: $(cat "$T/locker.out")"
}
unlocked() {
    wait "$LOCKER" 2>/dev/null
    LOCKER=
    test -e "$T/unlocked" || fail "the locker did not commit: $(cat "$T/locker.out")"
}

# ---- a short lock: waited for ----
request alice web-1 30m
N1=$N
lock 2
t0=$(now_ms)
run bob approve "$N1"
ms=$(($(now_ms) - t0))
expect_eq "approve during a 2 s lock succeeds (it waits)" 0 "$RC"
expect_match "approve during a 2 s lock: approved" "^request $N1 approved" "$OUT"
log "the approval waited $ms ms"
run alice request web-1 --for 10m --reason "'during the short lock'"
unlocked
expect_eq "(a request right after the short lock)" 0 "$RC"
expect_eq "request $N1 is approved in the store" approved "$(db_query "SELECT status FROM requests WHERE id = $N1")"
expect_audit "the approval is in the audit" request.approve "request $N1" bob

# ---- a long lock: refused, clearly ----
request alice web-1 20m
N2=$N
# erin logs in before the lock and asks once it is held: the command itself
# meets the lock (the clients below meet it at login already).
rm -f "$T/locked"
RAWSSH_TIMEOUT=20 raw kex service auth-password:erin:erin-pw-2026 "wait-file:$T/locked" "exec:approve $N2" \
    >"$T/raw-approve" 2>&1 &
RAWPID=$!
wait_until 15 file_has "$T/raw-approve" '^auth-password -> USERAUTH_SUCCESS' ||
    fail "erin's raw login before the lock failed: $(cat "$T/raw-approve")"
# Held until every client below has its answer: however slow their logins
# are on a loaded machine, each must give up on the lock by itself.
lock 40
pids=()
run_bg() { # run_bg NAME WHO ARGS...: like run, in the background, into T/NAME.*
    local name=$1
    shift
    (
        rc=0
        as "$@" </dev/null >"$T/$name.out" 2>"$T/$name.err" || rc=$?
        echo "$rc" >"$T/$name.rc"
    ) &
    pids+=($!)
}
t0=$(now_ms)
run_bg approve erin approve "$N2"
run_bg request alice request web-1 --for 15m --reason "'during the long lock'"
run_bg login bob whoami
run_bg keylogin alice whoami
for p in "${pids[@]}"; do wait "$p"; done
ms=$(($(now_ms) - t0))
wait "$RAWPID"
touch "$T/release"
unlocked
res=$(sed -n 's/^exec -> //p' "$T/raw-approve")
# Every write here meets the lock and gives up after the store's 5 s busy
# timeout, and the lock goes only once all have been answered: none of them
# may be served.
NOCASE=1 expect_match "erin's approval during the lock is refused (exit 1) with one clear line" \
    '^exec reply=CHANNEL_SUCCESS status=1 stdout= stderr=drawbridge: [^\\]*(busy|locked|unavailable|try again)[^\\]*$' "$res"
# Each client is refused by the command (exit 1, one line) or at login
# (exit 255: a login needs its audit row, which cannot be written either)
# with a message saying so.
for name in approve request login keylogin; do
    rc=$(cat "$T/$name.rc")
    err=$(cat "$T/$name.err")
    case "$rc" in
    1)
        NOCASE=1 expect_match "$name during the long lock: refused with one clear line" '^drawbridge: .*(busy|locked|unavailable|try again)' "$err"
        expect_eq "$name during the long lock: one line only" 1 "$(printf '%s\n' "$err" | grep -c .)"
        expect_eq "$name during the long lock: nothing on stdout" "" "$(cat "$T/$name.out")"
        ;;
    255) NOCASE=1 expect_match "$name during the long lock: the login is refused with a message" \
        'drawbridge: .*(store|audit).*(unavailable|busy).*try again' "$err" ;;
    0) fail "$name during the long lock was served (exit 0: it waited out the lock instead of giving up): $(head -n 1 "$T/$name.out")" ;;
    *) fail "$name during the long lock: exit $rc: $err" ;;
    esac
done
expect_eq "request $N2: the refused approvals left it pending, with no decision and no grant" "pending|0|0" \
    "$(db_value "SELECT status FROM requests WHERE id = $N2")|$(db_value "SELECT count(*) FROM decisions WHERE request_id = $N2")|$(db_value "SELECT count(*) FROM grants WHERE id = $N2")"
# (a wait without limit would hold them until the lock's 40 s ran out)
expect_lt "the four clients were answered within 20 s (ms)" 20000 "$ms"
gw_listener_alive

# ---- afterwards ----
approve erin "$N2"
expect_match "erin approves $N2 once the lock is gone" "^request $N2 approved" "$OUT"
out=$(gw_ssh alice+web-1 'echo reached-web-1' 2>&1) || fail "alice+web-1 with the grant: $out"
expect_eq "alice reaches web-1 on her grant" reached-web-1 "$out"
# every request the store has is in the audit, and the reverse
reqs=$(db_query "SELECT id FROM requests ORDER BY id" | tr '\n' ' ')
[ -n "$reqs" ] || fail "no request in the store"
for id in $reqs; do
    [ -n "$(audit_rows request.create "request $id")" ] || weak store-audit-mismatch "request $id has no request.create row"
done
pass "every request has its request.create row ($reqs)"
expect_eq "every request.create row has its request" "$reqs" \
    "$(audit_rows request.create | "$PY" -c 'import json, sys; print(" ".join(sorted((json.loads(l)["object"].split()[1] for l in sys.stdin), key=int)), end=" ")')"
expect_verify_ok "verify passes after the locks"
gw_log_clean 1
gw_still_serves
hostile_finish
