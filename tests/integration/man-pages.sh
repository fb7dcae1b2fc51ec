#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The manual pages under man/: each one lints clean with mandoc -Tlint and
# groff -ww, and together they document every configuration key the
# gateway accepts, every policy key, every `drawbridge` subcommand and every
# shell command `help` lists (man_coverage.py), so that they cannot drift
# from the product: adding a key or a command without its man page entry
# fails here.  The checker is itself checked on a page with one item removed.
# Depends on: man/*, broker/ (cfg_keys lists), policies/ (pp_keys lists),
# main.c (--help), the shell's help.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
shared_env

SRC=$(cd "$LIB_DIR/../.." && pwd)
MAN=$SRC/man
t=$(test_tmpdir) || fail "cannot create a temporary directory"
trap 'rm -rf "$t"' EXIT

pages=$(ls "$MAN"/*.[1-9])
for p in drawbridge.8 drawbridge.yaml.5 drawbridge-policy.5 drawbridge-shell.7; do
    [ -f "$MAN/$p" ] || fail "man/$p is missing"
done
for p in $pages; do
    out=$(mandoc -Tlint -W warning "$p" 2>&1)
    expect_eq "mandoc -Tlint: $(basename "$p") has no warnings" "" "$out"
    out=$(groff -ww -mandoc -z "$p" 2>&1)
    expect_eq "groff -ww: $(basename "$p") has no warnings" "" "$out"
done

"$DRAWBRIDGE_BIN" --help >"$t/help.txt" 2>&1 || fail "drawbridge --help failed"
gw_ssh alice help --json >"$t/shell-help.json" 2>"$t/shell-help.err" ||
    fail "help --json failed: $(cat "$t/shell-help.err")"
out=$("$PY" "$LIB_DIR/man_coverage.py" "$SRC" "$MAN" "$t/help.txt" "$t/shell-help.json" 2>&1) ||
    fail "the man pages miss what the product has:
$out"
pass "the man pages document every config key, policy key, subcommand and shell command"
log "$out"

# The checker must notice a missing item: drop one of each kind.
for drop in 'drawbridge.yaml.5:^\.It Cm max_auth_tries' 'drawbridge-policy.5:^\.It Cm record_input' \
    'drawbridge.8:^\.It Cm access-report' 'drawbridge-shell.7:^\.It Ic reviews'; do
    page=${drop%%:*} re=${drop#*:}
    rm -rf "$t/man" && cp -r "$MAN" "$t/man"
    grep -v -- "$re" "$MAN/$page" >"$t/man/$page"
    out=$("$PY" "$LIB_DIR/man_coverage.py" "$SRC" "$t/man" "$t/help.txt" "$t/shell-help.json" 2>&1) &&
        fail "the checker did not notice $page without /$re/"
    expect_match "the checker notices $page without /$re/" "${page%.*}\\(${page##*.}\\)" "$out"
done
finish
