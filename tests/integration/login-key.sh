#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Public key authentication with the keys stored in LDAP (sshPublicKey):
# alice's key works; a key that is not hers, or hers used for another user,
# does not.
# Depends on: ldap.c (key attribute), session.c (publickey, VALID state only).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
shared_env

out=$(gw_ssh alice whoami 2>&1) || fail "alice key login failed: $out"
expect_match "key login: whoami shows alice" '^user:[[:space:]]+alice' "$out"

out=$(gw_ssh alice+staging-1 'echo key-target-ok' 2>&1) || fail "alice+staging-1 with key failed: $out"
expect_eq "key login reaches staging-1" key-target-ok "$out"

# A key nobody registered.
t=$(test_tmpdir) || fail "cannot create a temporary directory"
trap 'rm -rf "$t"' EXIT
ssh-keygen -q -t ed25519 -N '' -f "$t/stranger" || fail "ssh-keygen"
rc=0
out=$(GW_KEY_OVERRIDE=$t/stranger gw_ssh alice whoami 2>&1) || rc=$?
expect_ne "an unregistered key is refused" 0 "$rc"
expect_nomatch "no shell output for an unregistered key" 'user:' "$out"

# alice's key does not open bob's (or an unknown user's) account.
rc=0
out=$(gw_ssh bob whoami 2>&1) || rc=$?
expect_ne "alice's key is refused for bob" 0 "$rc"
expect_nomatch "no shell output as bob" 'user:' "$out"
rc=0
out=$(gw_ssh nosuchuser whoami 2>&1) || rc=$?
expect_ne "a key for an unknown user is refused" 0 "$rc"

# The public key alone is not enough: with only alice.pub and an unusable
# private key file, ssh sends the key as a probe (the server may answer
# PK_OK) but can never sign; a server that took the probe for a login
# (SSH_PUBLICKEY_STATE_NONE) would let this in.
cp "$GW_KEY.pub" "$t/pubonly.pub"
: >"$t/pubonly"
chmod 600 "$t/pubonly"
rc=0
out=$(GW_KEY_OVERRIDE=$t/pubonly gw_ssh alice whoami 2>&1) || rc=$?
expect_ne "the public key without the private key is refused" 0 "$rc"

gw_still_serves
finish
