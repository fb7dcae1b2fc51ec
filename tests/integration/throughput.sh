#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Measurement, not a gate (label "bench"): 512 MiB of `head -c` from the
# target to the client through the gateway, next to a direct ssh to the same
# sshd, run back to back (three rounds each, best kept).
#   ctest -L bench --output-on-failure
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
shared_env

BYTES=$((512 * 1024 * 1024))
ROUNDS=${ROUNDS:-3}

# measure NAME CMD...: prints the best MiB/s of ROUNDS runs; fails on a
# short count or a failing ssh (fail in $(...) fails the test: lib.sh).
measure() {
    local name=$1 best=0 i start ms n rate
    shift
    for i in $(seq 1 "$ROUNDS"); do
        start=$(now_ms)
        n=$("$@" "head -c $BYTES /dev/zero" 2>"$DIR/throughput.err" | wc -c) ||
            fail "$name: the transfer failed: $(head -c 500 "$DIR/throughput.err")"
        ms=$(($(now_ms) - start))
        [ "$n" = "$BYTES" ] || fail "$name: got $n of $BYTES bytes: $(head -c 500 "$DIR/throughput.err")"
        rate=$((BYTES / 1024 / 1024 * 1000 / (ms > 0 ? ms : 1)))
        log "$name round $i: $rate MiB/s"
        [ "$rate" -gt "$best" ] && best=$rate
    done
    echo "$best"
}

gw=$(measure "gateway" gw_ssh alice+staging-1)
direct=$(measure "direct" direct_ssh)
log "512 MiB head -c: gateway $gw MiB/s, direct ssh $direct MiB/s ($((gw * 100 / (direct > 0 ? direct : 1)))% of direct)"
pass "throughput measured (gateway $gw MiB/s, direct $direct MiB/s)"
finish
