#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The command line: --version, --help, check (good and bad files, with
# "file:line: message"), keys (the key the targets trust).
# Depends on: main.c (CLI), config.c (validation), policy lint, keys.c.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
shared_env

out=$("$DRAWBRIDGE_BIN" --version 2>&1) || fail "--version exited $?"
expect_match "--version names the version" '[0-9]+\.[0-9]+\.[0-9]+' "$out"

out=$("$DRAWBRIDGE_BIN" --help 2>&1) || fail "--help exited $?"
expect_match "--help lists serve" 'serve' "$out"
expect_match "--help lists check" 'check' "$out"
expect_match "--help lists keys" 'keys' "$out"

rc=0
"$DRAWBRIDGE_BIN" no-such-subcommand >/dev/null 2>&1 || rc=$?
expect_ne "unknown subcommand fails" 0 "$rc"

rc=0
out=$("$DRAWBRIDGE_BIN" check -c "$CFG" 2>&1) || rc=$?
expect_eq "check accepts the test config ($out)" 0 "$rc"

# keys prints what the targets trust (env_up wrote their authorized_keys from
# it): in certificate mode the CA key, then how to trust it from sshd_config;
# with --target, that target's one line.
out=$("$DRAWBRIDGE_BIN" keys -c "$CFG" 2>&1) || fail "keys exited $?: $out"
expect_eq "keys prints the CA public key first" "$(cat "$DIR/state/keys/user_ca.pub")" "$(head -n 1 <<<"$out")"
expect_match "keys says how to trust the CA from sshd_config" 'TrustedUserCAKeys' "$out"
expect_match "and names AuthorizedPrincipalsFile" 'AuthorizedPrincipalsFile' "$out"
out=$("$DRAWBRIDGE_BIN" keys -c "$CFG" --target web-1 2>&1) || fail "keys --target web-1 exited $?: $out"
expect_eq "keys --target web-1 prints the line web-1's login trusts" \
    "cert-authority,principals=\"drawbridge:web-1\" $(cat "$DIR/state/keys/user_ca.pub")" "$out"
grep -qxF "$out" "$DIR/target_authorized_keys" || fail "the target does not hold the line keys --target printed"
out=$("$DRAWBRIDGE_BIN" keys -c "$CFG" --target keyed-1 2>&1) || fail "keys --target keyed-1 exited $?: $out"
expect_eq "keys --target keyed-1 (upstream_auth: key) prints the static upstream key" \
    "$(head -n 1 "$DIR/keyed_authorized_keys")" "$out"
expect_match "which is not a certificate line" '^ssh-ed25519 [A-Za-z0-9+/=]+ drawbridge-upstream$' "$out"
rc=0
out=$("$DRAWBRIDGE_BIN" keys -c "$CFG" --target no-such-target 2>&1) || rc=$?
expect_eq "keys --target of an unknown target fails" 1 "$rc"
expect_match "and says which" 'no target no-such-target' "$out"
rc=0
"$DRAWBRIDGE_BIN" check -c "$CFG" --target web-1 >/dev/null 2>&1 || rc=$?
expect_eq "--target is an option of keys only (usage, exit 2)" 2 "$rc"

t=$(test_tmpdir) || fail "cannot create a temporary directory"
trap 'rm -rf "$t"' EXIT

# check notes protected targets left on the static key, and succeeds.
out=$("$DRAWBRIDGE_BIN" check -c "$CFG" 2>&1 >/dev/null) || fail "check: $out"
expect_nomatch "in certificate mode check notes nothing" 'note:' "$out"
sed 's/^upstream: .*/upstream: {auth: key}/' "$CFG" >"$t/keymode.yaml"
rc=0
out=$("$DRAWBRIDGE_BIN" check -c "$t/keymode.yaml" 2>&1 >/dev/null) || rc=$?
expect_eq "in key mode check still succeeds" 0 "$rc"
expect_match "and notes web-1, protected, on the static key" \
    "policy\.yaml:[0-9]+: note: protected target web-1 is logged in to with the static upstream key" "$out"
expect_match "and db-1" 'note: protected target db-1 ' "$out"
expect_nomatch "not staging-1 (unprotected)" 'staging-1' "$out"

# An unknown key in the config: refused with file:line.
sed 's/^notify_command: null$/notify_command: null\nno_such_key: 1/' "$CFG" >"$t/unknown.yaml"
rc=0
out=$("$DRAWBRIDGE_BIN" check -c "$t/unknown.yaml" 2>&1) || rc=$?
expect_eq "check refuses an unknown config key" 1 "$rc"
line=$(grep -n '^no_such_key' "$t/unknown.yaml" | cut -d: -f1)
expect_match "unknown key reported as file:line" "unknown\.yaml:$line:" "$out"

# A bad value (a port out of range).
sed "s/127\.0\.0\.1:$GW_PORT/127.0.0.1:99999/" "$CFG" >"$t/badport.yaml"
rc=0
out=$("$DRAWBRIDGE_BIN" check -c "$t/badport.yaml" 2>&1) || rc=$?
expect_eq "check refuses port 99999" 1 "$rc"
expect_match "bad port reported as file:line" 'badport\.yaml:[0-9]+:' "$out"

# A missing bind password file.
sed "s#bind_password_file: .*#bind_password_file: $t/nonexistent.secret#" "$CFG" >"$t/nosecret.yaml"
rc=0
out=$("$DRAWBRIDGE_BIN" check -c "$t/nosecret.yaml" 2>&1) || rc=$?
expect_eq "check refuses a missing bind_password_file" 1 "$rc"

# Policy lint: standing access on a protected target is refused.
sed 's/targets: {labels: {env: staging}}/targets: {labels: {env: prod}}/' "$POLICY" >"$t/policy.yaml"
sed "s#^policy: .*#policy: $t/policy.yaml#" "$CFG" >"$t/standing.yaml"
rc=0
out=$("$DRAWBRIDGE_BIN" check -c "$t/standing.yaml" 2>&1) || rc=$?
expect_eq "check refuses standing access to a protected target" 1 "$rc"
expect_match "lint reported as policy file:line" 'policy\.yaml:[0-9]+:' "$out"

finish
