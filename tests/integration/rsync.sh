#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# rsync of a directory tree through the gateway, both ways, then an
# incremental run after a change (rsync's delta protocol over one exec
# channel, with data flowing both ways at once).
# Depends on: relay.c (exec, bidirectional flow, EOF and exit status).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
shared_env

t=$(test_tmpdir) || fail "cannot create a temporary directory"
trap 'rm -rf "$t"' EXIT
R="alice+staging-1@$GW_HOST"

src=$t/src
mkdir -p "$src/a/b/c" "$src/empty-dir"
head -c 6M /dev/urandom >"$src/big.bin"
for i in $(seq 1 200); do echo "file $i $RANDOM" >"$src/a/f$i.txt"; done
head -c 100K /dev/urandom >"$src/a/b/c/deep.bin"
printf 'spaces\n' >"$src/a/name with spaces.txt"
ln -s a/f1.txt "$src/link-to-f1"
chmod 640 "$src/a/f2.txt"

gw_rsync -a "$src/" "$R:$t/up/" 2>"$t/err" || fail "rsync upload: $(cat "$t/err")"
diff -r --no-dereference "$src" "$t/up" >"$t/diff" 2>&1 || fail "upload differs: $(head -20 "$t/diff")"
pass "rsync upload: the tree is identical"
expect_eq "rsync upload keeps the symlink" "a/f1.txt" "$(readlink "$t/up/link-to-f1")"
expect_eq "rsync upload keeps modes" 640 "$(stat -c %a "$t/up/a/f2.txt")"

# Change a few blocks of the big file and a small file; rsync again.
printf 'changed' | dd of="$src/big.bin" bs=1 seek=3000000 conv=notrunc 2>/dev/null
echo "new line" >>"$src/a/f7.txt"
# rsync's quick check compares size and mtime in whole seconds: move the
# changed files' mtimes so that a change within the same second is seen.
touch -m -d '2001-02-03 04:05:06' "$src/big.bin" "$src/a/f7.txt"
rm "$src/a/f9.txt"
out=$(gw_rsync -a --delete --stats "$src/" "$R:$t/up/" 2>"$t/err") || fail "rsync update: $(cat "$t/err")"
diff -r --no-dereference "$src" "$t/up" >"$t/diff" 2>&1 || fail "update differs: $(head -20 "$t/diff")"
pass "rsync update: the tree is identical again"
expect_match "rsync update used the delta protocol (matched data)" 'Matched data: [1-9]' "$out"

gw_rsync -a "$R:$t/up/" "$t/down/" 2>"$t/err" || fail "rsync download: $(cat "$t/err")"
diff -r --no-dereference "$src" "$t/down" >"$t/diff" 2>&1 || fail "download differs: $(head -20 "$t/diff")"
pass "rsync download: the tree is identical"

gw_still_serves
finish
