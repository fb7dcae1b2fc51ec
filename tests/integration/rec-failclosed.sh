#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Recording is fail-closed: when the recording cannot be written, nothing
# runs unrecorded.
#   - state_dir/recordings replaced by a file: exec, pty and sftp sessions
#     are refused with a message that says why, nothing runs on the target,
#     each refusal is a recording.fail row in the audit chain, no session is
#     left open; the gateway's own shell still works; with the directory
#     back, sessions work again;
#   - the day's directory made immutable (chattr +i, so that not even root
#     can create a file in it): refused the same way;
#   - the recording's file system full in the middle of a session (a small
#     tmpfs): the running session is ended with a message and audited;
#   - the same in the middle of a binary stream on ext4 (a small image on
#     a loop device: a disk file system, with delayed allocation), where the
#     recording file's own thread meets the error.
# The last three need chattr and mount to work here (root, a file system with
# the immutable flag); where they do not, the rest still runs and the test
# then reports itself skipped (exit 77), never passed.
# Runs in an environment of its own (it breaks its state_dir).
# Depends on: broker/recorder.c (recorder_open, recorder_data, tick),
# channel.c (refusing and ending channels when the hook fails),
# recordings/sink.c (the file's writer thread).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

private_env
T=$DIR/scratch
mkdir -p "$T/remote"
REC=$DIR/state/recordings
DAY=$REC/$(date -u +%Y/%m/%d)
MOUNTED=
IMMUTABLE=
trap 'rc=$?; bg_cleanup; [ -n "$IMMUTABLE" ] && chattr -i "$IMMUTABLE"; [ -n "$MOUNTED" ] && umount "$MOUNTED"; env_down "$rc" || rc=1; exit $rc' EXIT

open_sessions() { db_query "SELECT count(*) FROM sessions WHERE ended_at = 0"; }
fails() { audit_count recording.fail "" alice; }

# expect_no_session WHAT N: exec, pty and sftp to staging-1 are refused; N
# names the marker files that must not appear.
expect_no_session() {
    local what=$1 n=$2 before
    before=$(fails)

    run alice+staging-1 "touch $T/remote/ran-$n-exec; echo reached-target"
    expect_ne "$what: an exec session is refused" 0 "$RC"
    expect_nomatch "$what: nothing ran" 'reached-target' "$OUT"
    NOCASE=1 expect_match "$what: the refusal says the session cannot be recorded" 'record' "$ERR"

    _ssh_opts
    "$PY" "$LIB_DIR/ptydrive.py" --timeout 15 --log "$T/pty-$n.log" size:24:80 \
        "send:touch $T/remote/ran-$n-pty\\r" exit:any \
        -- ssh "${SSH_OPTS[@]}" "${SSH_KEY_OPTS[@]}" -p "$GW_PORT" -l alice+staging-1 -t "$GW_HOST" \
        2>"$T/pty-$n.drive" || fail "$what: pty session: $(cat "$T/pty-$n.drive")"
    NOCASE=1 expect_match "$what: a pty session is refused with the reason on the terminal" 'record' "$(cat "$T/pty-$n.log")"

    printf 'put %s %s\n' "$T/put.bin" "$T/remote/ran-$n-sftp" >"$T/batch"
    rc=0
    gw_sftp alice+staging-1 -q -b "$T/batch" >/dev/null 2>&1 || rc=$?
    expect_ne "$what: an sftp session is refused" 0 "$rc"

    sleep 0.5
    expect_eq "$what: nothing reached the target" "" "$(find "$T/remote" -maxdepth 1 -name "ran-$n-*" -printf '%f ')"
    expect_eq "$what: a recording.fail audit row for each refusal" 3 "$(($(fails) - before))"
    expect_eq "$what: no session is left open" 0 "$(open_sessions)"
}

head -c 1000 /dev/urandom >"$T/put.bin"
run alice+staging-1 'echo recorded-ok'
expect_eq "sessions work before the recordings directory is broken" "0|recorded-ok" "$RC|$OUT"

# ---- a file where the recordings directory should be ----
mv "$REC" "$REC.away"
: >"$REC"
expect_no_session "recordings is a file" 1
expect_audit "audit: recording.fail says why" recording.fail "" alice '"error": "[^"]+'
run alice whoami
expect_eq "the gateway's own shell still works (it is not a target session)" 0 "$RC"
rm -f "$REC"
mv "$REC.away" "$REC"
run alice+staging-1 'echo recorded-again'
expect_eq "with the directory back, sessions work again" "0|recorded-again" "$RC|$OUT"

# ---- an immutable day directory ----
mkdir -p "$DAY"
if chattr +i "$DAY" 2>"$T/chattr.err"; then
    IMMUTABLE=$DAY
    expect_no_session "the day's directory is immutable" 2
    chattr -i "$DAY"
    IMMUTABLE=
    run alice+staging-1 'echo recorded-after-chattr'
    expect_eq "sessions work again after chattr -i" "0|recorded-after-chattr" "$RC|$OUT"
else
    skip_part "immutable directory" "chattr +i failed here: $(cat "$T/chattr.err")"
fi

# full_mid_session TAG WHAT BYTES CMD: with $DAY on a small file system just
# mounted, a session whose CMD writes BYTES after a pause is ended once the
# recording fills it: a non-zero status, a message, less than BYTES through,
# a recording.fail row; and sessions work again once it is unmounted.
full_mid_session() {
    local tag=$1 what=$2 bytes=$3 cmd=$4 before got
    MOUNTED=$DAY
    chmod 0700 "$DAY"
    before=$(fails)
    bg_session "$tag" alice+staging-1 "echo started; sleep 1.5; $cmd; echo; echo finished-unrecorded"
    wait_until 20 has_file "$T/$tag.rc" || fail "$what: the session still runs 20 s after the disk filled"
    expect_ne "$what: the session ends with a non-zero status" 0 "$(cat "$T/$tag.rc")"
    expect_match "$what: the engineer is told" 'drawbridge: .*record' "$(cat "$T/$tag.err")"
    expect_nomatch "$what: the session did not run to its end" 'finished-unrecorded' "$(tail -c 100 "$T/$tag.out")"
    got=$(wc -c <"$T/$tag.out")
    expect_lt "$what: the client got less than the $bytes bytes written" "$bytes" "$got"
    wait_until 5 eval '[ "$(fails)" -gt "$before" ]' || fail "$what: no recording.fail audit row"
    pass "$what: a recording.fail audit row"
    log "$what: the client got $got bytes; the recording holds $(cat "$DAY"/*.cast 2>/dev/null | wc -c) bytes of $(df -k --output=size "$DAY" | tail -1 | tr -d " ") KiB"
    umount "$DAY"
    MOUNTED=
    run alice+staging-1 "echo recorded-after-$tag"
    expect_eq "$what: sessions work again once there is room" "0|recorded-after-$tag" "$RC|$OUT"
}

# ---- the file system fills up during a session (text) ----
if mount -t tmpfs -o size=256k,mode=0700 tmpfs "$DAY" 2>"$T/mount.err"; then
    full_mid_session full "disk full mid-session" 3000000 'head -c 3000000 /dev/zero | tr "\0" x'
else
    skip_part "disk full" "cannot mount a tmpfs here: $(cat "$T/mount.err")"
fi

# ---- the same with binary data on ext4 ----
# A stream's full buffers are written by the recording file's own thread
# (recordings/sink.c); its write error must end the session the same way.
if truncate -s 8M "$T/rec.img" && mkfs.ext4 -q -F "$T/rec.img" 2>"$T/mount.err" &&
    mount -o loop "$T/rec.img" "$DAY" 2>>"$T/mount.err"; then
    full_mid_session fullbin "disk full in a binary stream" 40000000 'head -c 40000000 /dev/urandom'
else
    skip_part "disk full, binary" "cannot mount an ext4 image here: $(cat "$T/mount.err")"
fi

gw_still_serves
finish
