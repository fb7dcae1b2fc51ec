#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Password authentication against LDAP (service bind, search, bind as the
# user), and the groups read at login as shown by the shell's whoami.
# Depends on: ldap.c (search + bind + groups), session.c (password auth),
# the shell's whoami.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
shared_env

out=$(gw_ssh_pw alice-pw-2026 alice whoami 2>&1) || fail "alice password login failed: $out"
expect_match "whoami shows alice" '^user:[[:space:]]+alice' "$out"
expect_match "alice's groups include sre" 'groups:.*sre' "$out"
expect_match "alice's groups include engineers" 'groups:.*engineers' "$out"

out=$(gw_ssh_pw bob-pw-2026 bob whoami 2>&1) || fail "bob password login failed: $out"
expect_match "whoami shows bob" '^user:[[:space:]]+bob' "$out"
expect_match "bob's groups include sre-leads" 'groups:.*sre-leads' "$out"

# frank is in no group: he may still log in to the shell.
out=$(gw_ssh_pw frank-pw-2026 frank whoami 2>&1) || fail "frank password login failed: $out"
expect_match "whoami shows frank" '^user:[[:space:]]+frank' "$out"
expect_nomatch "frank has no groups" 'groups:.*(sre|engineers|security|oncall)' "$out"

# mallory's DN is "cn=mallory *)(cn=*,ou=people,...": the group search must
# escape the DN it puts into (member=%d) to find exactly red-team.
out=$(gw_ssh_pw mallory-pw-2026 mallory whoami 2>&1) || fail "mallory password login failed: $out"
expect_match "whoami shows mallory" '^user:[[:space:]]+mallory' "$out"
expect_match "mallory's groups are exactly red-team" '^groups:[[:space:]]+red-team[[:space:]]*$' "$out"

# Password login to a target (alice: engineers -> standing on staging-1).
out=$(gw_ssh_pw alice-pw-2026 alice+staging-1 'echo "on-target:$(id -un)"' 2>&1) ||
    fail "alice+staging-1 with a password failed: $out"
expect_eq "password login reaches staging-1 as $LOGIN" "on-target:$LOGIN" "$out"

finish
