#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The second factor's prompt with clients other than OpenSSH: PuTTY's plink
# (putty-tools), driven on a pty as a person would type, and paramiko
# (python3-paramiko), each after a password and paramiko after a key too.
# Each answers "Verification code" with a code oathtool makes; a wrong code
# is refused and the client asked again; a recovery code works once.
# Runs in an environment of its own (users enrol).
# Depends on: broker/mfa/, session-mfa.c, shell/cmd-mfa.c.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"
# shellcheck source=mfa-lib.sh
. "$(dirname "$0")/mfa-lib.sh"

command -v plink >/dev/null || fail "plink is missing (apt-get install putty-tools)"
"$PY" -c 'import paramiko' 2>/dev/null || fail "paramiko is missing (apt-get install python3-paramiko)"
private_env
T=$DIR/scratch
mkdir -p "$T"
mfa_init
mfa_enrol alice
mfa_enrol bob

# ---- paramiko ----
out=$(mfa_paramiko alice --answer "$(mfa_next_code alice)" --command "mfa status --json" 2>&1) ||
    fail "paramiko, alice's key and a code: $out"
expect_match "paramiko: the key ends in partial success, keyboard-interactive next" \
    '^first-factor: partial keyboard-interactive$' "$out"
expect_match "paramiko: the prompt is Verification code" '^prompt: Verification code: $' "$out"
expect_match "paramiko: the login gave a code" '"verified":true' "$out"

rc=0
out=$(mfa_paramiko bob --answer "$(mfa_code bob -150)" --answer "$(mfa_next_code bob)" \
    --command whoami 2>&1) || rc=$?
expect_eq "paramiko, bob's password, a wrong code then a right one: exit 0" 0 "$rc"
expect_match "paramiko: the wrong code was refused, the right one taken" \
    'answer 1: refused.*answer 2: accepted' "$(printf '%s' "$out" | tr '\n' ' ')"
expect_match "paramiko: bob's whoami says the login gave a code" 'this login gave a code' "$out"

rec=$(sed -n 1p "$T/recovery.bob")
out=$(mfa_paramiko bob --answer "$rec" --command whoami 2>&1) || fail "paramiko, a recovery code: $out"
pass "paramiko: a recovery code is taken"
rc=0
out=$(mfa_paramiko bob --answer "$rec" 2>&1) || rc=$?
expect_eq "paramiko: the same recovery code again is refused" 1 "$rc"

# ---- PuTTY's plink ----
fp=$(ssh-keygen -lf "$DIR/known_hosts" -E sha256 | awk '{ print $2 }')
[ -n "$fp" ] || fail "no fingerprint of the gateway's host key"
# the password is typed too: plink's -pw/-pwfile would also be given to the code prompt
plink_drive() {
    "$PY" "$LIB_DIR/ptydrive.py" --timeout 20 --log "$T/plink.log" size:24:100 \
        'expect:password: ' 'send:bob-pw-2026\r' "$@" \
        -- plink -ssh -P "$GW_PORT" -l bob -hostkey "$fp" -no-antispoof \
        "$GW_HOST" whoami 2>"$T/plink.err"
}
: >"$T/plink.log"
wrong=$(mfa_code bob -150)
code=$(mfa_next_code bob)
plink_drive 'expect:Verification code: ' "send:$wrong\\r" 'expect:Access denied' \
    'expect:Verification code: ' "send:$code\\r" 'expect:this login gave a code' exit:0 ||
    fail "plink, bob's password and a code: $(cat "$T/plink.err") $(tail -c 600 "$T/plink.log")"
pass "plink: password, a wrong code (asked again), then a right code: bob is in"
expect_audit "plink's login is audited with both factors" auth.success bob bob \
    '"method": "password\+totp"'
plink_drive 'expect:Verification code: ' "send:$(sed -n 2p "$T/recovery.bob")\\r" \
    'expect:this login gave a code' exit:0 ||
    fail "plink, a recovery code: $(cat "$T/plink.err") $(tail -c 600 "$T/plink.log")"
pass "plink: a recovery code is taken"
run dave+staging-1 echo still-serving
expect_eq "a user who never enrolled still gets in with a password alone" "0|still-serving" "$RC|$OUT"
finish
