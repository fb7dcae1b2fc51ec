#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A recording thread that cannot keep up slows the relay and never lets
# memory grow: the session child's recording thread is stopped (ptrace, that
# one thread only) in the middle of a stream.  While it is stopped the engineer
# receives next to nothing (the relay waits for room in the recording queue
# instead of running ahead of the recording), and the child's RSS stays
# where it was.  Once the thread runs again the stream completes byte-exact,
# and the recording holds every byte (its end event counts them) and verifies.
# A session child killed in the middle of a stream leaves a recording that
# verify calls truncated (a prefix that every checkpoint proves), not tampered.
# Runs in an environment of its own so that the listener has exactly one
# child, the one serving this connection.
# Depends on: recordings/async.c (the bounded queue), broker/recorder.c,
# channel.c (the relay waits in the recording hook).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

BYTES=$((384 * 1024 * 1024))
STOP_S=4
# While the thread is stopped: what the engineer may still receive (the
# queue, the writer's buffer and what socket buffers hold), and what RSS may
# grow by (a relay that ran ahead of its recording would take all 384 MiB).
RECEIVED_LIMIT=$((16 * 1024 * 1024))
if [ "${DRAWBRIDGE_SANITIZE:-0}" = 1 ]; then
    GROWTH_LIMIT=$((24 * 1024))
    export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4:thread_local_quarantine_size_kb=64
else
    GROWTH_LIMIT=$((16 * 1024))
fi

private_env
T=$DIR/scratch
mkdir -p "$T"
_ssh_opts
ssh "${SSH_OPTS[@]}" "${SSH_KEY_OPTS[@]}" -p "$GW_PORT" -l alice+staging-1 "$GW_HOST" \
    "$(stream_cmd "$BYTES")" >"$T/out" 2>"$T/stream.err" &
client=$!
stopper=
trap 'rc=$?; [ -n "$stopper" ] && kill "$stopper" 2>/dev/null; kill_tree "$client"; env_down "$rc" || rc=1; exit $rc' EXIT

size() { stat -c %s "$T/out" 2>/dev/null || echo 0; }
got_some() { [ "$(size)" -ge $((8 * 1024 * 1024)) ]; }

child=
for _ in $(seq 1 100); do
    child=$(pgrep -n -P "$GW_PID" || true)
    [ -n "$child" ] && break
    sleep 0.1
done
[ -n "$child" ] || fail "no session child of the listener (pid $GW_PID) appeared"
wait_until 30 got_some || fail "the stream did not get going: $(cat "$T/stream.err")"
tid=
for t in /proc/"$child"/task/*; do
    [ "$(cat "$t/comm" 2>/dev/null)" = rec-writer ] && tid=${t##*/}
done
[ -n "$tid" ] || fail "session child $child has no rec-writer thread: $(cat /proc/"$child"/task/*/comm | tr '\n' ' ')"
rss_before=$(rss_kib "$child")

# Stop that one thread (PTRACE_SEIZE + PTRACE_INTERRUPT), hold it, let it go.
"$PY" - "$tid" "$STOP_S" >"$T/stopper.out" 2>&1 <<'PYEOF' &
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT, WALL = 17, 0x4206, 0x4207, 0x40000000
tid = int(sys.argv[1])
if libc.ptrace(PTRACE_SEIZE, tid, None, None) != 0:
    sys.exit("PTRACE_SEIZE %d: %s" % (tid, os.strerror(ctypes.get_errno())))
libc.ptrace(PTRACE_INTERRUPT, tid, None, None)
os.waitpid(tid, WALL)
print("stopped", flush=True)
time.sleep(float(sys.argv[2]))
libc.ptrace(PTRACE_DETACH, tid, None, None)
print("resumed", flush=True)
PYEOF
stopper=$!
stopped() { grep -q stopped "$T/stopper.out"; }
wait_until 10 stopped || fail "could not stop the recording thread: $(cat "$T/stopper.out")"
sleep 0.5 # what was already on its way
s0=$(size)
max=$(rss_kib "$child")
for _ in $(seq 1 10); do
    sleep 0.25
    r=$(rss_kib "$child")
    [ -n "$r" ] || fail "the session child $child died while its recording thread was stopped"
    [ "$r" -gt "$max" ] && max=$r
done
s1=$(size)
log "recording thread $tid stopped: the engineer received $((s1 - s0)) bytes in 2.5 s; child RSS ${rss_before} KiB before, max ${max} KiB while stopped"
expect_lt "the relay waits for its recording: bytes received in 2.5 s with the thread stopped" \
    "$RECEIVED_LIMIT" "$((s1 - s0))"
expect_lt "RSS growth while the recording thread is stopped (KiB)" "$GROWTH_LIMIT" "$((max - rss_before))"

wait "$stopper" || fail "the stopper failed: $(cat "$T/stopper.out")"
stopper=
rc=0
wait "$client" || rc=$?
expect_eq "the stream completes once the thread runs again ($(tr '\n' ' ' <"$T/stream.err"))" 0 "$rc"
src=$(sed -n 's/^source-sha256=//p' "$T/stream.err")
[ -n "$src" ] || fail "the target's hash did not arrive: $(cat "$T/stream.err")"
expect_eq "384 MiB arrive byte-exact (SHA-256)" "$src" "$(sha256sum <"$T/out" | cut -d' ' -f1)"

sid=$(session_ids "user = 'alice' AND target = 'staging-1'" | head -n 1)
path=$(db_query "SELECT recording_path FROM sessions WHERE id = '$sid'")
ended() { [ "$(db_query "SELECT ended_at > 0 FROM sessions WHERE id = '$sid'")" = 1 ]; }
wait_until 10 ended || fail "session $sid did not end"
out_bytes=$(tail -c 4096 "$path" | sed -n 's/.*"e", "out=\([0-9]*\) in=.*/\1/p')
expect_eq "the recording counts every byte of output (end event)" \
    "$((BYTES + $(wc -c <"$T/stream.err")))" "$out_bytes"
rc=0
vout=$("$DRAWBRIDGE_BIN" verify -c "$CFG" "$sid" 2>&1) || rc=$?
expect_eq "verify: exit 0" 0 "$rc"
expect_match "verify: the recording is ok" "^session $sid: ok" "$vout"
rm -f "$path" # 500 MB

# ---- killed mid-stream: what reached the file is a truncated recording, not a tampered one ----
ssh "${SSH_OPTS[@]}" "${SSH_KEY_OPTS[@]}" -p "$GW_PORT" -l alice+staging-1 "$GW_HOST" \
    "$(stream_cmd "$BYTES")" >"$T/out" 2>"$T/stream.err" &
client=$!
child=
for _ in $(seq 1 100); do
    child=$(pgrep -n -P "$GW_PID" || true)
    [ -n "$child" ] && break
    sleep 0.1
done
[ -n "$child" ] || fail "no session child for the second stream"
wait_until 30 got_some || fail "the second stream did not get going: $(cat "$T/stream.err")"
kill -KILL "$child"
wait "$client" 2>/dev/null
sid=$(session_ids "user = 'alice' AND target = 'staging-1'" | head -n 1)
rc=0
vout=$("$DRAWBRIDGE_BIN" verify -c "$CFG" "$sid" 2>&1) || rc=$?
log "session $sid killed at $(size) bytes received: $(printf '%s\n' "$vout" | grep "^session $sid")"
expect_eq "verify exits 0 for the session killed mid-stream" 0 "$rc"
expect_nomatch "verify does not call it tampered" 'TAMPERED' "$vout"
expect_match "verify calls it truncated" "^session $sid: truncated" "$vout"
rm -f "$(db_query "SELECT recording_path FROM sessions WHERE id = '$sid'")"

gw_still_serves
finish
