#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Disk watermarks, on a real small file system: state_dir is a 32 MiB tmpfs
# and a file is grown in it to take the space away.  With the defaults
# (recordings.warn_free 10%, min_free 2%):
#   below warn_free  the listener logs "disk.low" and notify_command hears
#                    of it; sessions still start;
#   below min_free   "disk.full" in the log and to notify_command; a new
#                    session to a target is refused with "disk nearly full"
#                    (and audited), a live one goes on to its end, the
#                    gateway's shell still works and the reviewers'
#                    `sessions` says so;
#   space again      "disk.ok", and sessions start again.
# Needs root to mount the tmpfs: skipped (exit 77) where that is impossible.
# Depends on: disk.c, server.c (server_disk), channel.c (chan_disk_refuses),
# shell/cmd-sessions.c.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
DIR=$(test_tmpdir) || fail "cannot create a temporary directory"
mkdir -p "$DIR/state"
if ! mount -t tmpfs -o size=32m,mode=0700 tmpfs "$DIR/state" 2>"$DIR/mount.err"; then
    why=$(cat "$DIR/mount.err")
    rm -rf "$DIR"
    skip "cannot mount a tmpfs: $why"
fi
cleanup() {
    local rc=$? keep=${KEEP:-0}
    KEEP=1 env_down "$rc" || rc=1
    umount "$DIR/state" || rc=1
    [ "$keep" = 1 ] || rm -rf "$DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export GW_NOTIFY="cat >>@DIR@/notify.log; echo >>@DIR@/notify.log"
env_up "$DIR" || fail "env_up failed"

# fill_to BYTES: grows the filler until about BYTES are left.
fill_to() {
    local avail
    avail=$(df -B1 --output=avail "$DIR/state" | tail -n 1 | tr -d ' ')
    [ "$avail" -gt "$1" ] || return 0
    fallocate -l $(($(stat -c %s "$DIR/state/filler" 2>/dev/null || echo 0) + avail - $1)) "$DIR/state/filler"
}
# wait_log ERE: until the gateway's log has it (the listener looks every 5 s).
wait_log() {
    for _ in $(seq 1 100); do
        grep -qE "$1" "$DIR/gw.log" && return 0
        sleep 0.1
    done
    return 1
}

out=$(gw_ssh alice+staging-1 echo room 2>&1) || fail "a session failed with room on the disk: $out"
expect_eq "a session starts while there is room" room "$out"
expect_nomatch "no disk warning while there is room" 'disk\.(low|full)' "$(cat "$DIR/gw.log")"

# ---- below warn_free ----
fill_to $((1536 * 1024))
wait_log 'warn disk\.low ' || fail "no disk.low warning within 10 s at $(df -h "$DIR/state" | tail -n 1)"
pass "below warn_free the listener logs disk.low"
expect_match "the warning names the watermark" 'disk\.low disk space low: .* below recordings\.warn_free 10%' \
    "$(grep 'disk\.low' "$DIR/gw.log")"
for _ in $(seq 1 50); do grep -q '"disk.low"' "$DIR/notify.log" 2>/dev/null && break; sleep 0.1; done
expect_match "notify_command hears disk.low" '"event":"disk.low"' "$(cat "$DIR/notify.log" 2>/dev/null)"
out=$(gw_ssh alice+staging-1 echo low 2>&1) || fail "a session was refused below warn_free only: $out"
expect_eq "below warn_free sessions still start" low "$out"

# A session that is live when the disk fills up keeps going.
gw_ssh alice+staging-1 'sleep 8; echo survived' >"$DIR/live.out" 2>&1 &
live=$!
for _ in $(seq 1 100); do
    [ "$(db_query 'SELECT count(*) FROM sessions WHERE ended_at = 0')" -ge 1 ] && break
    sleep 0.1
done

# ---- below min_free ----
fill_to $((256 * 1024))
wait_log 'error disk\.full ' || fail "no disk.full line within 10 s at $(df -h "$DIR/state" | tail -n 1)"
pass "below min_free the listener logs disk.full"
for _ in $(seq 1 50); do grep -q '"disk.full"' "$DIR/notify.log" 2>/dev/null && break; sleep 0.1; done
expect_match "notify_command hears disk.full" '"event":"disk.full"' "$(cat "$DIR/notify.log" 2>/dev/null)"
rc=0
out=$(gw_ssh alice+staging-1 echo should-not-run 2>&1) || rc=$?
expect_ne "a new session is refused below min_free" 0 "$rc"
expect_nomatch "the command did not run" 'should-not-run' "$out"
expect_match "the refusal names the reason" '^drawbridge: disk nearly full' "$out"
expect_match "the refusal is audited" '"event": *"access.refused".*"reason": *"disk nearly full"' \
    "$("$DRAWBRIDGE_BIN" audit -c "$CFG" --json | grep access.refused)"
out=$(gw_ssh alice whoami 2>&1) || fail "the gateway's shell failed with the disk nearly full: $out"
expect_match "the gateway's shell still works" '^user:' "$out"
out=$(gw_ssh_pw carol-pw-2026 carol sessions 2>&1) || fail "sessions failed: $out"
expect_match "the reviewers' sessions list says so" '^note: disk nearly full: new sessions are refused' "$out"
out=$(gw_ssh_pw carol-pw-2026 carol sessions --json 2>/dev/null) || fail "sessions --json failed"
expect_match "sessions --json stays a JSON array" '^\[' "$out"
wait "$live" || fail "the live session failed when the disk filled: $(cat "$DIR/live.out")"
expect_eq "the live session went on to its end" survived "$(cat "$DIR/live.out")"

# ---- room again ----
rm -f "$DIR/state/filler"
wait_log 'info disk\.ok ' || fail "no disk.ok line within 10 s after space was freed"
pass "with space again the listener says so"
out=$(gw_ssh alice+staging-1 echo again 2>&1) || fail "sessions did not start again: $out"
expect_eq "sessions start again" again "$out"
finish
