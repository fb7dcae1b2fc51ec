#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Retention when things go wrong, on a real small file system (state_dir is
# a 16 MiB tmpfs), recordings.retain 2s:
#   - the file cannot be removed after its audit row was written (the
#     recordings folder read-only: what a crash between the two leaves):
#     verify says "expired by retention ... not removed yet", never
#     "missing"; the next start finds it and finishes;
#   - the disk is full when retention runs: the audit row cannot be written,
#     so nothing is deleted at all -- the recording stays and verifies, no
#     recording.expire row exists; with room again the next start expires it.
# Needs root to mount: skipped (exit 77) where that is impossible.
# Depends on: retention.c, admin.c (verify), server.c (retention at start).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root to mount a tmpfs"
DIR=$(test_tmpdir) || fail "cannot create a temporary directory"
mkdir -p "$DIR/state"
if ! mount -t tmpfs -o size=16m,mode=0700 tmpfs "$DIR/state" 2>"$DIR/mount.err"; then
    why=$(cat "$DIR/mount.err")
    rm -rf "$DIR"
    skip "cannot mount a tmpfs: $why"
fi
cleanup() {
    local rc=$? keep=${KEEP:-0}
    KEEP=1 env_down "$rc" || rc=1
    umount "$DIR/state/recordings" 2>/dev/null
    umount "$DIR/state" || rc=1
    [ "$keep" = 1 ] || rm -rf "$DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# min_free 0: the disk watermarks must not refuse the sessions this test needs
export GW_CONFIG_EXTRA="recordings: {retain: 2s, warn_free: 0%, min_free: 0%}"
env_up "$DIR" || fail "env_up failed"

restart() {
    local lines
    lines=$(wc -l <"$DIR/gw.log")
    gw_stop
    [ -n "${1:-}" ] && eval "$1"
    gw_start || fail "the gateway did not start again"
    for _ in $(seq 1 100); do
        grep -qE "$2" <<<"$(tail -n +"$((lines + 1))" "$DIR/gw.log")" && return 0
        sleep 0.1
    done
    fail "no /$2/ in the log after the restart"
}
new_session() {
    local out
    out=$(gw_ssh alice+staging-1 echo "$1" 2>&1) || fail "session failed: $out"
    SID=$(db_query "SELECT id FROM sessions WHERE target = 'staging-1' ORDER BY started_at DESC, rowid DESC LIMIT 1")
    SPATH=$(db_query "SELECT recording_path FROM sessions WHERE id = '$SID'")
    [ -f "$SPATH" ] || fail "no recording for $SID"
}

# ---- the file cannot go after its audit row is written ----
new_session one
sleep 3
mkdir -p "$DIR/state/recordings"
restart 'mount --bind "$DIR/state/recordings" "$DIR/state/recordings" && mount -o remount,bind,ro "$DIR/state/recordings"' \
    'retention\.(expired|unlink)'
for _ in $(seq 1 50); do grep -q 'retention\.expired' "$DIR/gw.log" && break; sleep 0.1; done
[ -f "$SPATH" ] || fail "the file went although its folder is read-only"
expect_match "the removal failed and says the next run tries again" \
    'retention\.unlink .*Read-only file system \(the next run tries again\)' \
    "$(grep -E 'retention|server\.start' "$DIR/gw.log")"
expect_eq "its audit row was written first" 1 \
    "$(db_query "SELECT count(*) FROM audit WHERE event = 'recording.expire' AND object = 'session $SID'")"
rc=0
out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" 2>&1) || rc=$?
expect_eq "verify passes in between" 0 "$rc"
expect_match "and says the removal is pending" "^session $SID: expired by retention \\(.*\\), its file not removed yet" "$out"
expect_nomatch "never missing" 'MISSING' "$out"
restart 'umount "$DIR/state/recordings"' 'earlier, interrupted run'
[ -f "$SPATH" ] && fail "the next start did not finish the removal"
pass "the next start finishes the removal"
out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" 2>&1) || fail "verify failed: $out"
expect_match "verify: expired by retention" "^session $SID: expired by retention \\([^)]*\\)\$" "$out"

# ---- the disk is full when retention runs ----
new_session two
sleep 3
fill() {
    local avail
    avail=$(df -B1 --output=avail "$DIR/state" | tail -n 1 | tr -d ' ')
    fallocate -l "$avail" "$DIR/state/filler" 2>/dev/null || dd if=/dev/zero of="$DIR/state/filler" bs=64k 2>/dev/null
    # what fallocate's rounding left
    dd if=/dev/zero of="$DIR/state/filler2" bs=4k 2>/dev/null
    true
}
restart fill 'retention\.failed'
[ "$(df -B1 --output=avail "$DIR/state" | tail -n 1 | tr -d ' ')" -lt 65536 ] || fail "the disk is not full"
[ -f "$SPATH" ] || fail "the recording was deleted although its audit row could not be written"
pass "with the disk full nothing is deleted"
expect_match "and the log says why" 'retention\.(failed|incomplete)' "$(tail -n 20 "$DIR/gw.log")"
rm -f "$DIR/state/filler" "$DIR/state/filler2"
expect_eq "no recording.expire row was written" 0 \
    "$(db_query "SELECT count(*) FROM audit WHERE event = 'recording.expire' AND object = 'session $SID'")"
out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" 2>&1) || fail "verify failed after the full disk: $out"
expect_match "the recording still verifies" "^session $SID: ok\$" "$out"
restart '' 'retention\.expired'
[ -f "$SPATH" ] && fail "with room again the recording did not expire"
pass "with room again the next start expires it"
out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" 2>&1) || fail "verify failed: $out"
expect_match "verify: expired by retention" "^session $SID: expired by retention" "$out"
finish
