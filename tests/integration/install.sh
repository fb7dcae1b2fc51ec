#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `cmake --install` (into DESTDIR, under a prefix of its own): the binary in
# sbin, the man pages compressed under share/man, the unit naming that very
# binary, the sysusers.d and tmpfiles.d entries, the example configuration
# and policy in /etc/drawbridge, which pass `drawbridge check`, and which a
# second install leaves alone once an operator has changed them.
# Depends on: dist/CMakeLists.txt, man/CMakeLists.txt.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

BUILD=$(dirname "$DRAWBRIDGE_BIN")
[ -f "$BUILD/cmake_install.cmake" ] || fail "no cmake_install.cmake next to $DRAWBRIDGE_BIN"
t=$(test_tmpdir) || fail "cannot create a temporary directory"
trap 'rm -rf "$t"' EXIT
root=$t/root
prefix=/opt/drawbridge-test

out=$(DESTDIR=$root cmake --install "$BUILD" --prefix "$prefix" 2>&1) || fail "cmake --install failed: $out"
pass "cmake --install into DESTDIR"

for f in sbin/drawbridge share/man/man8/drawbridge.8.gz share/man/man5/drawbridge.yaml.5.gz \
    share/man/man5/drawbridge-policy.5.gz share/man/man7/drawbridge-shell.7.gz \
    lib/systemd/system/drawbridge.service lib/sysusers.d/drawbridge.conf lib/tmpfiles.d/drawbridge.conf \
    share/doc/drawbridge/copyright share/doc/drawbridge/examples/drawbridge.yaml \
    share/doc/drawbridge/examples/policy.yaml; do
    [ -f "$root$prefix/$f" ] || fail "$prefix/$f was not installed"
done
pass "binary, man pages, unit, sysusers.d, tmpfiles.d and examples installed under the prefix"
[ -x "$root$prefix/sbin/drawbridge" ] || fail "the installed binary is not executable"
out=$("$root$prefix/sbin/drawbridge" --version) || fail "the installed binary does not run"
expect_match "the installed binary runs" '^drawbridge [0-9]' "$out"
for p in "$root$prefix"/share/man/man*/*.gz; do
    out=$(gzip -dc "$p" | mandoc -Tlint -W warning 2>&1)
    expect_eq "installed $(basename "$p") is gzip and lints clean" "" "$out"
done

unit=$root$prefix/lib/systemd/system/drawbridge.service
expect_match "the unit starts the installed binary" \
    "^ExecStart=$prefix/sbin/drawbridge serve -c /etc/drawbridge/drawbridge.yaml --foreground\$" "$(cat "$unit")"
expect_match "the unit keeps only the state directory writable" '^ReadWritePaths=/var/lib/drawbridge$' "$(cat "$unit")"
for k in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes ProtectHome=yes \
    SystemCallFilter=@system-service 'RestrictAddressFamilies=' 'CapabilityBoundingSet='; do
    expect_match "the unit sets $k" "^$k" "$(cat "$unit")"
done
expect_match "sysusers.d creates the drawbridge account" '^u drawbridge ' "$(cat "$root$prefix/lib/sysusers.d/drawbridge.conf")"
expect_match "sysusers.d creates the signer's account" '^u drawbridge-ca ' "$(cat "$root$prefix/lib/sysusers.d/drawbridge.conf")"
expect_match "tmpfiles.d makes the state directory 0700 drawbridge, leaving an existing one alone" \
    '^d /var/lib/drawbridge :0700 :drawbridge :drawbridge' "$(cat "$root$prefix/lib/tmpfiles.d/drawbridge.conf")"

# The examples pass check (paths moved into the test's directory).
etc=$root/etc/drawbridge
[ -f "$etc/drawbridge.yaml" ] && [ -f "$etc/policy.yaml" ] || fail "the examples were not installed in /etc/drawbridge"
sed -e "s#^policy: .*#policy: $etc/policy.yaml#" -e "s#^state_dir: .*#state_dir: $t/state#" \
    "$etc/drawbridge.yaml" >"$t/check.yaml"
out=$("$root$prefix/sbin/drawbridge" check -c "$t/check.yaml" 2>&1) || fail "check refuses the installed examples: $out"
pass "drawbridge check accepts the installed example configuration and policy"

# An operator's changes survive a second install; a missing file comes back.
echo "# changed by the operator" >>"$etc/policy.yaml"
rm "$etc/drawbridge.yaml"
out=$(DESTDIR=$root cmake --install "$BUILD" --prefix "$prefix" 2>&1) || fail "the second cmake --install failed: $out"
expect_match "a second install keeps the changed policy" 'changed by the operator' "$(tail -n 1 "$etc/policy.yaml")"
expect_match "and says so" 'Keeping: .*/etc/drawbridge/policy.yaml' "$out"
[ -f "$etc/drawbridge.yaml" ] || fail "the removed example configuration was not installed again"
pass "a removed example is installed again"
finish
