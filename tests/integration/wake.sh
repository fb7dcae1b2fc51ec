#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Idle sessions cost nothing, and what changes a session reaches exactly the
# processes that carry it (wake.c):
#   - an idle session's process sleeps: no wake-ups while nothing happens
#     (counted as context switches of all its threads over a few seconds);
#   - a revoke ends the session on that grant at once, and does not wake an
#     idle session on another target;
#   - a reviewer's terminate ends that session at once;
#   - a policy reload ends the live sessions the new policy no longer allows
#     (a removed standing rule) with a message, and leaves the others alone;
#     a connection's later channels follow the new policy, reload after
#     reload (OpenSSH connection sharing).
# Runs in an environment of its own (grants on web-1, a reloaded policy).
# Depends on: wake.c, server.c (the listener's dispatch, SIGHUP), session.c
# (signalfd, deadlines), channel.c (chan_check_grants, chan_check_policy),
# access.c (access_revoke), shell/cmd-terminate.c.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

private_env
T=$DIR/scratch
mkdir -p "$T"
MUX=$(mktemp -d /tmp/dbwake.XXXXXX) || fail "cannot create a directory for the control socket"
trap 'rc=$?; bg_cleanup; mux_stop "$MUX/s"; rm -rf "$MUX"; env_down "$rc" || rc=1; exit $rc' EXIT

# mux_run COMMAND: a new channel on the shared connection; sets RC and OUT.
mux_run() {
    RC=0
    OUT=$(ssh "${MUX_OPTS[@]}" -l alice+staging-1 "$GW_HOST" "$1" </dev/null 2>&1) || RC=$?
}

IDLE_CMD='echo started; exec sleep 120'

# The gateway's session child serving session row $1.
session_pid() { db_query "SELECT pid FROM sessions WHERE id = '$1'"; }

# Context switches of every thread of process $1 (a process that sleeps in
# poll without timers makes none).  A process that is gone fails the test
# (it would count as one that never woke up).
ctx_switches() {
    local f n=0 v
    [ -d "/proc/$1/task" ] || fail "process $1 is gone: cannot count its wake-ups"
    for f in /proc/"$1"/task/*/status; do
        v=$(awk '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { print s + 0 }' "$f" 2>/dev/null) || v=0
        n=$((n + v))
    done
    echo "$n"
}

# start_idle NAME WHO: an exec session that prints one line, then sits idle;
# sets SID (its session id) and SPID (its gateway process).
start_idle() {
    local name=$1 who=$2 before
    before=$(db_query "SELECT count(*) FROM sessions")
    bg_session "$name" "$who" "$IDLE_CMD"
    wait_until 15 file_has "$T/$name.out" '^started$' || fail "$name did not start: $(cat "$T/$name.err")"
    SID=$(session_ids "target = '${who#*+}' AND ended_at = 0" | head -n 1)
    [ -n "$SID" ] || fail "$name: no live session row"
    SPID=$(session_pid "$SID")
    [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null || fail "$name: no live gateway process for $SID"
}

# ---- an idle session sleeps ----
start_idle idle1 alice+staging-1
idle1_sid=$SID
idle1_pid=$SPID
sleep 1.5 # the recording's last flush (at most a second after the output)
c0=$(ctx_switches "$idle1_pid")
sleep 4
c1=$(ctx_switches "$idle1_pid")
log "idle session process $idle1_pid: $((c1 - c0)) context switches in 4 s"
expect_lt "an idle session's process does not wake up (context switches in 4 s)" 3 "$((c1 - c0))"

# ---- a revoke reaches the session on its grant, and only it ----
request alice web-1 1h
g=$N
approve bob "$g"
start_idle rv alice+web-1
rv_sid=$SID
c0=$(ctx_switches "$idle1_pid")
t0=$(now_ms)
run bob revoke "$g" --reason "'INC-9 done'"
[ "$RC" = 0 ] || fail "bob revoke $g: exit $RC: $ERR"
wait_until 5 has_file "$T/rv.rc" || fail "the session on grant $g still runs 5 s after the revoke"
log "revoke to disconnect: $(($(cat "$T/rv.end") - t0)) ms from issuing the revoke"
expect_match "the revoked session says why" "^drawbridge: grant $g was revoked; session closed\$" "$(cat "$T/rv.err")"
expect_eq "store: session $rv_sid ended" 1 "$(db_query "SELECT ended_at > 0 FROM sessions WHERE id = '$rv_sid'")"
sleep 0.5
c1=$(ctx_switches "$idle1_pid")
expect_lt "the revoke did not wake the idle session on staging-1 (context switches)" 3 "$((c1 - c0))"

# ---- terminate ----
t0=$(now_ms)
run carol terminate "$idle1_sid" --reason "'end of shift'"
[ "$RC" = 0 ] || fail "carol terminate $idle1_sid: exit $RC: $ERR"
wait_until 5 has_file "$T/idle1.rc" || fail "session $idle1_sid still runs 5 s after terminate"
log "terminate to disconnect: $(($(cat "$T/idle1.end") - t0)) ms from issuing it"
expect_match "the terminated session says who ended it" 'drawbridge: session terminated by carol: end of shift' "$(cat "$T/idle1.err")"

# ---- a policy reload ----
mux_opts "$MUX/s"
rc=0
ssh "${MUX_OPTS[@]}" -o ControlMaster=yes -o ControlPersist=no -fN -l alice+staging-1 "$GW_HOST" \
    </dev/null >"$T/mux.out" 2>"$T/mux.err" || rc=$?
expect_eq "ssh -M -fN alice+staging-1 (a shared connection) starts" 0 "$rc"
mux_run 'echo mux-before-$((6*7))'
expect_eq "a channel on the shared connection before the reload" "0|mux-before-42" "$RC|$OUT"
request alice web-1 1h
g=$N
approve bob "$g"
start_idle keep alice+web-1
keep_sid=$SID
start_idle drop alice+staging-1
drop_sid=$SID
cp "$DIR/policy.yaml" "$DIR/policy.orig"
awk '/^  - name: staging-standing/ { skip = 1; next }
     skip && /^  - name:|^[a-z]/ { skip = 0 }
     !skip' "$DIR/policy.orig" >"$DIR/policy.yaml"
grep -q staging-standing "$DIR/policy.yaml" && fail "could not remove the standing rule"
"$DRAWBRIDGE_BIN" check -c "$CFG" >"$T/check.out" 2>&1 || fail "the edited policy fails check: $(cat "$T/check.out")"
t0=$(now_ms)
kill -HUP "$GW_PID" || fail "cannot signal the gateway"
wait_until 5 has_file "$T/drop.rc" || fail "the standing session still runs 5 s after a reload without its rule"
log "reload to disconnect: $(($(cat "$T/drop.end") - t0)) ms from SIGHUP"
expect_match "the session the policy no longer allows says why" \
    '^drawbridge: the policy no longer allows this session \(.*\); session closed$' "$(cat "$T/drop.err")"
expect_eq "store: session $drop_sid ended" 1 "$(db_query "SELECT ended_at > 0 FROM sessions WHERE id = '$drop_sid'")"
sleep 0.5
[ -s "$T/keep.rc" ] && fail "the session on grant $g ended on the reload: $(cat "$T/keep.err")"
pass "the session on grant $g (still allowed) goes on after the reload"
run alice+staging-1 'echo reached'
expect_ne "a new session to staging-1 is refused after the reload" 0 "$RC"
mux_run 'echo mux-after-$((6*7))'
expect_ne "a new channel on the connection made before the reload is refused too" 0 "$RC"
expect_nomatch "nothing ran through it" 'mux-after-42' "$OUT"

# ---- the policy back: the same connection follows it again ----
lines=$(wc -l <"$DIR/gw.log")
cp "$DIR/policy.orig" "$DIR/policy.yaml"
kill -HUP "$GW_PID" || fail "cannot signal the gateway"
reloaded() { tail -n +"$((lines + 1))" "$DIR/gw.log" | grep -q 'policy\.reload\b'; }
wait_until 10 reloaded || fail "the gateway did not reload the original policy"
sleep 0.5 # the children's own reloads
mux_run 'echo mux-again-$((6*7))'
expect_eq "with the standing rule back, the shared connection opens channels again" \
    "0|mux-again-42" "$RC|$OUT"
[ -s "$T/keep.rc" ] && fail "the session on grant $g ended on the second reload: $(cat "$T/keep.err")"
pass "the session on grant $g goes on after a second reload"
mux_stop "$MUX/s"

expect_verify_ok "drawbridge verify: the chain holds"
gw_still_serves
finish
