#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# 1.5 GiB of deterministic pseudo-random data generated on the target and
# streamed through the gateway; SHA-256 taken on the target (sent back on
# stderr after the data) and at the client must agree, and so must the byte
# count.  The client rekeys every 256 MB and the target sshd every 512 MB
# (RekeyLimit), so both legs rekey several times mid-stream, where a relay
# that drops a short non-blocking write loses data.
# Depends on: relay.c (flow control, pending buffers, EOF after data,
# exit status), libssh rekeying on both sessions.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
shared_env

t=$(test_tmpdir) || fail "cannot create a temporary directory"
trap 'rm -rf "$t"' EXIT
BYTES=$((1536 * 1024 * 1024))

start=$(now_ms)
gw_ssh alice+staging-1 -o RekeyLimit=256M "$(stream_cmd "$BYTES")" 2>"$t/err" |
    tee >(wc -c >"$t/count") | sha256sum | cut -d' ' -f1 >"$t/client.sha"
rcs=("${PIPESTATUS[@]}")
ms=$(($(now_ms) - start))
for _ in $(seq 1 50); do # the wc process substitution may lag behind
    [ -s "$t/count" ] && break
    sleep 0.1
done

expect_eq "the stream's ssh exits 0 ($(tr '\n' ' ' <"$t/err"))" 0 "${rcs[0]}"
expect_eq "all $BYTES bytes arrived" "$BYTES" "$(tr -d ' ' <"$t/count")"
src=$(sed -n 's/^source-sha256=//p' "$t/err")
[ -n "$src" ] || fail "the target's hash did not arrive on stderr: $(cat "$t/err")"
expect_eq "SHA-256 at the client equals SHA-256 at the target" "$src" "$(cat "$t/client.sha")"
log "1.5 GiB in $((ms / 1000)).$((ms % 1000 / 100)) s: $((BYTES / 1024 / 1024 * 1000 / (ms > 0 ? ms : 1))) MiB/s (hashing at both ends included)"

gw_still_serves
finish
