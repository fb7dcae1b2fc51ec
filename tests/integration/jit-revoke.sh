#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Revoking a grant ends what uses it:
#   - live exec and pty sessions end within 5 s with "drawbridge: grant N
#     was revoked; session closed"; the revoke-to-disconnect time is measured
#     over a few revocations and printed;
#   - an OpenSSH multiplexed connection (ssh -M) opened on the grant can open
#     new channels before the revoke and cannot after it;
#   - who may revoke: approvers of the rule (bob) and reviewers (carol), not
#     frank or dave; a reason is required; a revoked grant stays revoked;
#   - the chain has grant.revoke with who and why, notify_command hears it.
# Runs in an environment of its own (grants on web-1).
# Depends on: access.c (access_revoke), channel.c (chan_check_grants and the
# check at channel open), notify.c.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

export GW_NOTIFY='"cat >> @DIR@/notify.jsonl"'
private_env
T=$DIR/scratch
mkdir -p "$T"
MUX=$(mktemp -d /tmp/dbmux.XXXXXX) || fail "cannot create a directory for the control socket"
trap 'rc=$?; bg_cleanup; mux_stop "$MUX/s"; rm -rf "$MUX"; env_down "$rc" || rc=1; exit $rc' EXIT

# revoke_and_measure WHO G SESSIONS...: revokes grant G as WHO while the
# background sessions named run; waits for each to end; sets MS_AFTER (ms
# from the revoke command's return to the last disconnect) and MS_BEFORE
# (from the moment it was issued).
revoke_and_measure() {
    local who=$1 g=$2 t0 t1 last=0 s e
    shift 2
    t0=$(now_ms)
    run "$who" revoke "$g" --reason "'INC-77 access no longer needed'"
    t1=$(now_ms)
    [ "$RC" = 0 ] || fail "$who revoke $g: exit $RC: $ERR"
    for s in "$@"; do
        wait_until 10 has_file "$T/$s.rc" || fail "session $s still runs 10 s after grant $g was revoked"
        e=$(cat "$T/$s.end")
        [ "$e" -gt "$last" ] && last=$e
    done
    MS_AFTER=$((last - t1))
    MS_BEFORE=$((last - t0))
}

# ---- revoke under an exec session, a pty session and a multiplexed connection ----
request alice web-1 1h
g=$N
approve bob "$g"

mux_opts "$MUX/s"
rc=0
ssh "${MUX_OPTS[@]}" -o ControlMaster=yes -o ControlPersist=no -fN -l alice+web-1 "$GW_HOST" \
    </dev/null >"$T/mux.out" 2>"$T/mux.err" || rc=$?
expect_eq "ssh -M -fN alice+web-1 (the master) starts" 0 "$rc"
out=$(ssh "${MUX_OPTS[@]}" -l alice+web-1 "$GW_HOST" 'echo mux-before-$((6*7))' </dev/null 2>&1) ||
    fail "a new channel on the shared connection before the revoke failed: $out"
expect_eq "before the revoke a new channel on the shared connection runs a command" mux-before-42 "$out"

bg_session rv1 alice+web-1 "$LIVE_CMD"
bg_pty rv1pty alice+web-1 'expect:[#$] ' 'send:echo pty-ready-$((6*7))\r' 'expect:pty-ready-42' \
    "expect:drawbridge: grant $g was revoked; session closed" exit:any
wait_until 10 file_has "$T/rv1.out" '^started' || fail "the exec session did not start: $(cat "$T/rv1.err")"
wait_until 10 file_has "$T/rv1pty.log" 'pty-ready-42' || fail "the pty session did not start: $(cat "$T/rv1pty.drive")"

revoke_and_measure bob "$g" rv1 rv1pty
samples="$MS_AFTER"
log "revoke-to-disconnect (exec + pty): ${MS_AFTER} ms after the revoke returned, ${MS_BEFORE} ms after it was issued"
expect_lt "both sessions gone within 5 s of the revoke (ms)" 5000 "$MS_BEFORE"
expect_ne "the exec session ends with a non-zero status" 0 "$(cat "$T/rv1.rc")"
expect_match "exec: the revoke message is on stderr" "^drawbridge: grant $g was revoked; session closed\$" "$(cat "$T/rv1.err")"
expect_eq "pty: the revoke message reached the terminal (ptydrive rc)" 0 "$(cat "$T/rv1pty.rc")"

rc=0
out=$(ssh "${MUX_OPTS[@]}" -l alice+web-1 "$GW_HOST" 'echo mux-after-$((6*7))' </dev/null 2>&1) || rc=$?
expect_ne "after the revoke a new channel on the shared connection fails" 0 "$rc"
expect_nomatch "nothing ran through the shared connection after the revoke" 'mux-after-42' "$out"
if ssh -S "$MUX/s" -O check x >/dev/null 2>&1; then
    log "the shared connection is still up after the revoke; its new channel was refused: $out"
    expect_match "the refused channel says why" 'grant|denied|refused|prohibited' "$out"
else
    log "the gateway closed the shared connection after the revoke"
fi
mux_stop "$MUX/s"

run alice+web-1 'echo reached-target'
expect_ne "a new connection after the revoke is refused" 0 "$RC"
expect_match "with the message that says how to request access" 'no active grant; request one with: ssh [^ ]+ request web-1' "$ERR"
expect_eq "store: grant $g revoked by bob with the reason" "revoked|bob|INC-77 access no longer needed" \
    "$(db_query "SELECT status, revoked_by, revoke_reason FROM grants WHERE id = $g")"
expect_audit "audit: grant.revoke by bob with the reason" grant.revoke "grant $g" bob 'INC-77 access no longer needed'
expect_eq "store: no session of grant $g is left open" 0 \
    "$(db_query "SELECT count(*) FROM sessions WHERE grant_id = $g AND ended_at = 0")"
has_revoked_event() { file_has "$DIR/notify.jsonl" '"event": *"grant.revoked"'; }
wait_until 10 has_revoked_event || fail "notify_command got no grant.revoked event"
pass "notify_command got a grant.revoked event"

run bob revoke "$g" --reason again
expect_refusal "a revoked grant cannot be revoked again" 1 "grant $g is not active \(revoked\)"
run bob revoke 999 --reason x
expect_refusal "revoking a grant that does not exist" 1 'no grant 999'

# ---- who may revoke ----
request alice web-1 1h
g=$N
approve erin "$g"
for u in frank dave; do
    run "$u" revoke "$g" --reason "'not mine'"
    expect_refusal "$u may not revoke grant $g" 1 "$u may not revoke grant $g"
done
run carol revoke "$g"
expect_refusal "revoke without --reason is a usage error" 2 'reason'
expect_eq "store: grant $g still active after the refused revokes" active \
    "$(db_query "SELECT status FROM grants WHERE id = $g")"

# carol (reviewer) revokes under a live session: a second sample.
bg_session rv2 alice+web-1 "$LIVE_CMD"
wait_until 10 file_has "$T/rv2.out" '^started' || fail "the exec session did not start: $(cat "$T/rv2.err")"
revoke_and_measure carol "$g" rv2
samples="$samples $MS_AFTER"
expect_lt "carol's revoke ends the session within 5 s (ms)" 5000 "$MS_BEFORE"
expect_audit "audit: grant.revoke by carol" grant.revoke "grant $g" carol

# A few more samples with bob.
for i in 3 4 5; do
    request alice web-1 1h
    g=$N
    approve bob "$g"
    bg_session "rv$i" alice+web-1 "$LIVE_CMD"
    wait_until 10 file_has "$T/rv$i.out" '^started' || fail "the exec session did not start: $(cat "$T/rv$i.err")"
    revoke_and_measure bob "$g" "rv$i"
    expect_lt "revoke $i ends the session within 5 s (ms)" 5000 "$MS_BEFORE"
    expect_match "revoke $i: the message is on stderr" "^drawbridge: grant $g was revoked; session closed\$" "$(cat "$T/rv$i.err")"
    samples="$samples $MS_AFTER"
done
# shellcheck disable=SC2086
log "revoke-to-disconnect over 5 revocations (ms after the revoke command returned): $samples;" \
    "max $(printf '%s\n' $samples | sort -n | tail -n 1)"

expect_verify_ok "drawbridge verify: the chain holds"
gw_still_serves
finish
