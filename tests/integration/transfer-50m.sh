#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A 50 MB file through the gateway both ways with scp (SFTP mode, OpenSSH 9's
# default), scp -O (the legacy scp protocol over exec) and sftp put/get;
# every copy byte-identical (SHA-256).
# Depends on: relay.c (sftp subsystem, exec, flow control, EOF/exit status).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
shared_env

t=$(test_tmpdir) || fail "cannot create a temporary directory"
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/local" "$t/remote"
R="alice+staging-1@$GW_HOST"

head -c 50M /dev/urandom >"$t/local/src.bin"
want=$(sha256sum <"$t/local/src.bin" | cut -d' ' -f1)
cp "$t/local/src.bin" "$t/remote/src.bin"

same() { # same WHAT FILE
    [ -f "$2" ] || fail "$1: $2 was not created"
    expect_eq "$1: 50 MB byte-identical" "$want" "$(sha256sum <"$2" | cut -d' ' -f1)"
}

gw_scp -q "$t/local/src.bin" "$R:$t/remote/scp-up.bin" 2>"$t/err" || fail "scp upload: $(cat "$t/err")"
same "scp upload" "$t/remote/scp-up.bin"
gw_scp -q "$R:$t/remote/src.bin" "$t/local/scp-down.bin" 2>"$t/err" || fail "scp download: $(cat "$t/err")"
same "scp download" "$t/local/scp-down.bin"

gw_scp -q -O "$t/local/src.bin" "$R:$t/remote/scpO-up.bin" 2>"$t/err" || fail "scp -O upload: $(cat "$t/err")"
same "scp -O upload" "$t/remote/scpO-up.bin"
gw_scp -q -O "$R:$t/remote/src.bin" "$t/local/scpO-down.bin" 2>"$t/err" || fail "scp -O download: $(cat "$t/err")"
same "scp -O download" "$t/local/scpO-down.bin"

cat >"$t/batch" <<B
put $t/local/src.bin $t/remote/sftp-up.bin
get $t/remote/src.bin $t/local/sftp-down.bin
ls -l $t/remote/sftp-up.bin
B
gw_sftp alice+staging-1 -q -b "$t/batch" >"$t/sftp.out" 2>"$t/err" || fail "sftp batch: $(cat "$t/err")"
same "sftp put" "$t/remote/sftp-up.bin"
same "sftp get" "$t/local/sftp-down.bin"
expect_match "sftp ls sees the uploaded file" 'sftp-up\.bin' "$(cat "$t/sftp.out")"

# A failing sftp command fails the batch (the error travels back).
printf 'get %s/remote/no-such-file %s/local/x\n' "$t" "$t" >"$t/batch2"
rc=0
gw_sftp alice+staging-1 -q -b "$t/batch2" >/dev/null 2>&1 || rc=$?
expect_ne "sftp get of a missing file fails" 0 "$rc"

# scp of a missing remote file fails with a non-zero status.
rc=0
gw_scp -q -O "$R:$t/remote/no-such-file" "$t/local/x" >/dev/null 2>&1 || rc=$?
expect_ne "scp -O of a missing file fails" 0 "$rc"

gw_still_serves
finish
