#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Wrong, empty and injection-shaped passwords and usernames are refused, with
# alice's real password (and her real key) so that a gateway that normalised
# or trimmed a name, or let a filter match more than one entry, would let the
# attempt in.  Afterwards the gateway still serves alice.
# Depends on: names.c (grammar before LDAP), ldap.c (RFC 4515 escaping,
# exactly one entry, empty password refused before bind), session.c.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
shared_env

# refused WHAT RC OUTPUT: the attempt failed and nothing ran.
refused() {
    local what=$1 rc=$2 out=$3
    if [ "$rc" = 0 ]; then
        fail "$what: login succeeded (output: $out)"
    fi
    if grep -qE "^user:|^$LOGIN\$" <<<"$out"; then
        fail "$what: something ran (rc $rc, output: $out)"
    fi
    pass "$what refused (rc $rc)"
}

try_pw() {
    local pw=$1 who=$2 rc=0 out
    out=$(gw_ssh_pw "$pw" "$who" whoami 2>&1) || rc=$?
    refused "password '$(printf '%.40s' "$pw")' for '$(printf '%.80s' "$who")'" "$rc" "$out"
}

try_key() {
    local who=$1 rc=0 out
    out=$(gw_ssh "$who" whoami 2>&1) || rc=$?
    refused "alice's key for '$(printf '%.80s' "$who")'" "$rc" "$out"
}

# Wrong and empty passwords for real users.
try_pw alice-pw-2025 alice
try_pw bob-pw-2026 alice
try_pw '' alice
try_pw ' ' alice
try_pw '   ' alice
try_pw '' frank
try_pw 'alice-pw-2026 ' alice
try_pw ' alice-pw-2026' alice
try_pw 'ALICE-PW-2026' alice
try_pw '*' alice
try_pw '*)(uid=*' alice
try_pw "$(head -c 4000 /dev/zero | tr '\0' x)" alice
try_pw alice-pw-2025 alice+staging-1
try_pw '' alice+staging-1

# Usernames outside [a-z_][a-z0-9_.-]{0,63} (or with a bad target part).
long70=$(head -c 70 /dev/zero | tr '\0' a)
long65=alice$(head -c 60 /dev/zero | tr '\0' x)
names=(
    '*'
    'alice*'
    'alice)(uid=*'
    '*)(objectClass=*'
    'alice)(|(uid=*'
    'Alice'
    'ALICE'
    'a b'
    ' alice'
    'alice '
    "$long70"
    "$long65"
    'alice+'
    '+web-1'
    '+staging-1'
    'alice+web-1+x'
    'alice+staging-1+x'
    'alice+../x'
    'alice+staging-1/../web-1'
    'alice+Staging-1'
    '../alice'
    '-alice'
    'alice\2a'
    'alice%00'
    'alice@staging-1'
    'alice,ou=people'
    'uid=alice,ou=people,dc=example,dc=org'
)
for n in "${names[@]}"; do
    try_pw alice-pw-2026 "$n"
    try_key "$n"
done

# "twin" is the uid of two entries: exactly one entry or refuse.
try_pw twin-a-pw-2026 twin
try_pw twin-b-pw-2026 twin
out=$(gw_ssh_pw twin-a-pw-2026 twin-a whoami 2>&1) || fail "twin-a (one entry) could not log in: $out"
expect_match "twin-a (a unique uid) logs in" '^user:[[:space:]]+twin-a' "$out"

# A name that fits the grammar but is nobody (a 64-character one too).
try_pw alice-pw-2026 nosuchuser
try_pw alice-pw-2026 "a$(head -c 63 /dev/zero | tr '\0' b)"

# The grammar is checked before LDAP is asked: no search the gateway sent
# has a uid value outside [a-z_][a-z0-9_.-]{0,63} (an escaped one included).
bad=$(grep -E ' SRCH base=' "$LDAP_DIR/slapd.log" | grep -oE '\(uid=[^)]*\)' | sort -u |
    grep -vE '^\(uid=[a-z_][a-z0-9_.-]{0,63}\)$' || true)
expect_eq "no invalid name reached the directory" "" "$bad"
expect_match "(the slapd log does show the valid names' searches)" '\(uid=nosuchuser\)' \
    "$(grep -E ' SRCH base=' "$LDAP_DIR/slapd.log")"

gw_still_serves
out=$(gw_ssh_pw alice-pw-2026 alice whoami 2>&1) || fail "alice password login failed afterwards: $out"
expect_match "alice's password still works" '^user:[[:space:]]+alice' "$out"
finish
