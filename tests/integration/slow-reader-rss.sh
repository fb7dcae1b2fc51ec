#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Memory per connection stays bounded when the engineer's side reads slowly:
# a client paused with SIGSTOP while the target streams 2 GiB.  The gateway's
# session child must stop reading from the target once the client's window
# and its own small buffer are full; its RSS is sampled for 10 s.  After
# SIGCONT the stream must complete byte-exact (SHA-256 at both ends).
# Runs in an environment of its own so that the listener has exactly one
# child, the one serving this connection.
# Depends on: relay.c (read only what the destination can take, pending
# buffers), server.c (one child per connection).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

BYTES=$((2048 * 1024 * 1024))
# Limits in KiB: an absolute one for the child, and the growth allowed while
# the client is paused (what a relay that kept reading would blow through).
# Sanitizer builds carry shadow memory, so only the growth limit is
# meaningful there, with a small allocator quarantine so that freed buffers
# do not count as growth.
if [ "${DRAWBRIDGE_SANITIZE:-0}" = 1 ]; then
    RSS_LIMIT=$((512 * 1024))
    GROWTH_LIMIT=$((24 * 1024))
    export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4:thread_local_quarantine_size_kb=64
else
    RSS_LIMIT=$((32 * 1024))
    GROWTH_LIMIT=$((16 * 1024))
fi

private_env
mkfifo "$DIR/sink"
sha256sum <"$DIR/sink" | cut -d' ' -f1 >"$DIR/client.sha" &
reader=$!
_ssh_opts
ssh "${SSH_OPTS[@]}" "${SSH_KEY_OPTS[@]}" -p "$GW_PORT" -l alice+staging-1 "$GW_HOST" \
    "$(stream_cmd "$BYTES")" >"$DIR/sink" 2>"$DIR/stream.err" &
client=$!

child=
for _ in $(seq 1 100); do
    child=$(pgrep -n -P "$GW_PID" || true)
    [ -n "$child" ] && break
    sleep 0.1
done
[ -n "$child" ] || fail "no session child of the listener (pid $GW_PID) appeared"
# Let the stream get going, then stop reading.
sleep 1.5
kill -0 "$child" 2>/dev/null || fail "the session child ended before the pause (stream too short?)"
rss_before=$(rss_kib "$child")
kill -STOP "$client"
sleep 1
rss_paused=$(rss_kib "$child")
[ -n "$rss_paused" ] || fail "cannot read VmRSS of the session child $child"
max=$rss_paused
for _ in $(seq 1 36); do
    sleep 0.25
    r=$(rss_kib "$child")
    [ -n "$r" ] || fail "the session child $child died while the client was paused"
    [ "$r" -gt "$max" ] && max=$r
done
kill -CONT "$client"
log "session child $child VmRSS: ${rss_before} KiB streaming, ${rss_paused} KiB 1 s into the pause, max ${max} KiB over the next 9 s"

expect_lt "session child RSS while the client is paused (KiB)" "$RSS_LIMIT" "$max"
expect_lt "RSS growth from streaming to paused (KiB)" "$GROWTH_LIMIT" "$((max - rss_before))"

rc=0
wait "$client" || rc=$?
wait "$reader"
expect_eq "the stream completes after SIGCONT ($(tr '\n' ' ' <"$DIR/stream.err"))" 0 "$rc"
src=$(sed -n 's/^source-sha256=//p' "$DIR/stream.err")
[ -n "$src" ] || fail "the target's hash did not arrive: $(cat "$DIR/stream.err")"
expect_eq "2 GiB arrive byte-exact after the pause (SHA-256)" "$src" "$(cat "$DIR/client.sha")"

gw_still_serves
finish
