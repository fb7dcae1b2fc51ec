#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The second factor with stock OpenSSH: a user who never enrolled logs in as
# before (no prompt); alice enrols (mfa enroll, mfa confirm) and from then on
# her key alone is not enough -- after it the gateway asks "Verification
# code" (partial success, then keyboard-interactive), a right code lets her
# in, a wrong one does not, a recovery code works once.  bob does the same
# after his LDAP password.  With ControlMaster one code opens the master
# connection and every multiplexed session after it.  The policy's rules:
# dave (mfa.require names group:oncall) may only enrol until he has;
# approve and protected-target sessions need a login that gave a code, with
# the contract's one-line refusal.  A reviewer's reset removes a factor.
# Enrolment and reset reach notify_command; access-report shows who is
# enrolled and who is required but not.
# Runs in an environment of its own (policy with an mfa section; grants on web-1).
# Depends on: broker/mfa/, session-mfa.c, shell/cmd-mfa.c, cmd-whoami.c, the
# policy's mfa section, admin.c (access-report).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"
# shellcheck source=mfa-lib.sh
. "$(dirname "$0")/mfa-lib.sh"

export GW_NOTIFY='"cat >> @DIR@/notify.jsonl"'
export GW_POLICY_TAIL='mfa:
  require: ["group:oncall"]
  actions: [protected, approve]
  issuer: "Drawbridge Test"'
private_env
T=$DIR/scratch
mkdir -p "$T"
mfa_init

# ---- never enrolled: nothing changes ----
run alice whoami
expect_eq "alice (never enrolled) logs in with her key alone" 0 "$RC"
expect_match "whoami: not enrolled, no code" '^mfa: +not enrolled; this login gave no code$' "$OUT"
run erin whoami
expect_eq "erin (password, never enrolled) logs in with her password alone" 0 "$RC"

# ---- enrolment ----
run alice mfa enroll
expect_eq "mfa enroll exits 0" 0 "$RC"
expect_match "mfa enroll prints the otpauth URI with the policy's issuer" \
    '^otpauth://totp/Drawbridge%20Test:alice\?secret=[A-Z2-7]{32}&issuer=Drawbridge%20Test&algorithm=SHA1&digits=6&period=30$' "$OUT"
expect_nomatch "no QR code without a terminal" $'\u2588' "$OUT"
run alice whoami
expect_match "whoami while pending" 'enrolment not yet confirmed' "$OUT"
mfa_enrol alice
pass "alice confirmed her enrolment and got 10 recovery codes"
sed -n 3p "$T/recovery.alice" >"$T/answer"
mfa_run alice mfa enroll
expect_refusal "enrolling again without a reset is refused" 1 'alice is already enrolled'

# ---- alice's key alone is no longer enough ----
run alice whoami
expect_eq "alice's key alone (no code can be given) is refused" 255 "$RC"
expect_match "ssh says only keyboard-interactive can continue" 'Permission denied \(keyboard-interactive\)' "$ERR"

: >"$T/prompts"
mfa_next_code alice >"$T/answer"
mfa_run alice whoami
expect_eq "alice with her key and a right code gets in" 0 "$RC"
expect_eq "one code prompt was asked" 1 "$(mfa_prompts)"
expect_match "the prompt says Verification code" 'Verification code: $' "$(cat "$T/prompts")"
expect_match "whoami: enrolled, this login gave a code" '^mfa: +enrolled; this login gave a code$' "$OUT"
expect_audit "the login is audited with both factors" auth.success alice alice '"method": "publickey\+totp"'

mfa_code alice -150 >"$T/answer"
mfa_run alice whoami
expect_eq "a wrong code is refused" 255 "$RC"
expect_match "the refusal is said" 'drawbridge: wrong verification code' "$ERR"
expect_nomatch "nothing ran" 'alice' "$OUT"

# ---- a recovery code, once ----
head -n 1 "$T/recovery.alice" >"$T/answer"
mfa_run alice mfa status --json
expect_eq "a recovery code logs alice in" 0 "$RC"
expect_eq "mfa status --json: enrolled, verified, 8 recovery codes left" "true|true|8" \
    "$(printf '%s\n' "$OUT" | json_get enrolled)|$(printf '%s\n' "$OUT" | json_get verified)|$(printf '%s\n' "$OUT" | json_get recovery_codes_left)"
mfa_run alice whoami
expect_eq "the same recovery code again is refused" 255 "$RC"
expect_audit "the recovery code's use is audited" auth.success alice alice '"method": "publickey\+recovery-code"'

# ---- bob: LDAP password, then the code ----
mfa_enrol bob
mfa_next_code bob >"$T/answer"
mfa_run bob whoami
expect_eq "bob with his password and a right code gets in" 0 "$RC"
expect_match "bob's whoami: this login gave a code" 'this login gave a code' "$OUT"
expect_audit "bob's login is audited with both factors" auth.success bob bob '"method": "password\+totp"'
echo 111111 >"$T/answer"
MFA_PW_OVERRIDE=wrong-password mfa_run bob whoami
expect_eq "a wrong password is refused before any code is asked" 255 "$RC"

# ---- ControlMaster: one code per master connection ----
: >"$T/prompts"
sed -n 6p "$T/recovery.alice" >"$T/answer"
# a socket path short enough for sun_path wherever the build tree is
CM=$(mktemp -d /tmp/mfa-cm.XXXXXX) || fail "mktemp"
trap 'rc=$?; ssh -o "ControlPath=$CM/cm" -O exit -p "$GW_PORT" "$GW_HOST" 2>/dev/null; rm -rf "$CM"; env_down "$rc" || rc=1; exit $rc' EXIT
MFA_SSH_OPTS=(-o ControlMaster=yes -o "ControlPath=$CM/cm" -o ControlPersist=60)
mfa_ssh alice -f -N </dev/null >"$T/master.out" 2>"$T/master.err" ||
    fail "the master connection did not start: $(cat "$T/master.err")"
MFA_SSH_OPTS=(-o ControlMaster=no -o "ControlPath=$CM/cm")
for i in 1 2 3; do
    mfa_run alice mfa status --json
    [ "$RC" = 0 ] || fail "multiplexed session $i: exit $RC: $ERR"
done
expect_eq "three multiplexed sessions: still one code prompt" 1 "$(mfa_prompts)"
expect_eq "a multiplexed session carries the master's code" true "$(printf '%s\n' "$OUT" | json_get verified)"
ssh -o "ControlPath=$CM/cm" -O exit -p "$GW_PORT" "$GW_HOST" 2>/dev/null
MFA_SSH_OPTS=()

# ---- required users may only enrol ----
run dave whoami
expect_eq "dave (required, not enrolled) may run whoami" 0 "$RC"
expect_match "whoami says he must enrol" 'not enrolled, but required: enrol with mfa enroll' "$OUT"
run dave mfa status
expect_eq "dave may run mfa status" 0 "$RC"
run dave help
expect_eq "dave may run help" 0 "$RC"
run dave targets
expect_refusal "dave may not run targets before enrolling" 1 \
    'dave must enrol a second factor first: ssh gw mfa enroll'
run dave+staging-1 echo reached
expect_refusal "dave may not open a target session before enrolling" 1 \
    'dave must enrol a second factor first'
expect_audit "the refusal is audited" access.refused staging-1 dave 'must enrol'

# ---- actions that need a code ----
# alice_request LINE: alice (enrolled) requests web-1, logging in with recovery code LINE; sets N.
alice_request() {
    sed -n "${1}p" "$T/recovery.alice" >"$T/answer"
    mfa_run alice request web-1 --for 1h --reason "'test of $TEST_NAME'"
    [ "$RC" = 0 ] || fail "alice request web-1: exit $RC: $ERR"
    N=$(req_id "$OUT")
    [ -n "$N" ] || fail "no request number in: $OUT"
}
alice_request 4
run erin approve "$N"
expect_eq "erin's approve without a code: exit 1" 1 "$RC"
expect_eq "the contract's one-line refusal" \
    "drawbridge: approve needs a verification code (enrol: ssh gw mfa enroll)" "$ERR"
expect_audit "the refused approve is audited" access.refused approve erin 'verification code'
run erin deny "$N" --reason "'not listed'"
expect_eq "deny is not in mfa.actions: erin denies without a code" "0|" "$RC|$ERR"
alice_request 5
head -n 1 "$T/recovery.bob" >"$T/answer"
mfa_run bob approve "$N"
expect_eq "bob approves with a login that gave a code" 0 "$RC"

head -n 2 "$T/recovery.alice" | tail -n 1 >"$T/answer"
mfa_run alice+web-1 echo on-web-1
expect_eq "alice reaches protected web-1 with a code" "0|on-web-1" "$RC|$OUT"

# ---- a reviewer resets alice's factor: the session to web-1 then needs one again ----
run erin mfa reset alice --reason "'lost phone'"
expect_refusal "only reviewers reset" 1 'mfa reset is for reviewers'
run carol mfa reset alice --reason "'lost phone'"
expect_eq "carol (reviewer) resets alice's factor" 0 "$RC"
expect_match "the reset says alice must enrol again" 'alice must enrol again' "$OUT"
run alice+web-1 echo on-web-1
expect_eq "alice+web-1 without a code: exit 1" 1 "$RC"
expect_eq "the protected session's refusal" \
    "drawbridge: a session to protected target web-1 needs a verification code (enrol: ssh gw mfa enroll)" "$ERR"
run alice+staging-1 echo on-staging
expect_eq "an unprotected target needs no code" "0|on-staging" "$RC|$OUT"

# ---- on a terminal, enrolment shows a QR code ----
_ssh_opts
"$PY" "$LIB_DIR/ptydrive.py" --timeout 20 --log "$T/qr.log" size:60:100 \
    'expect:\xe2\x96\x88\xe2\x96\x88' 'expect:\x1b\[0m\r\n' 'expect:otpauth://totp/Drawbridge%20Test:alice[?]secret=' exit:0 \
    -- ssh "${SSH_OPTS[@]}" "${SSH_KEY_OPTS[@]}" -p "$GW_PORT" -l alice -t "$GW_HOST" mfa enroll \
    2>"$T/qr.err" || fail "mfa enroll on a terminal: $(cat "$T/qr.err")"
pass "mfa enroll on a terminal draws a QR code (lines ending CR LF), then the URI"

# ---- notify_command and the audit ----
wait_until 5 file_has "$DIR/notify.jsonl" '"event":"mfa.reset"' || fail "no mfa.reset notification"
expect_match "notify: alice's enrolment" '"event":"mfa.enrolled".*"user":"alice"' "$(cat "$DIR/notify.jsonl")"
expect_match "notify: bob's enrolment" '"event":"mfa.enrolled".*"user":"bob"' "$(cat "$DIR/notify.jsonl")"
expect_match "notify: the reset names actor, user and reason" \
    '"actor":"carol".*"event":"mfa.reset".*"reason":"lost phone".*"user":"alice"' "$(cat "$DIR/notify.jsonl")"
expect_audit "the reset is audited" mfa.reset alice carol 'lost phone'
expect_audit "enrolment is audited" mfa.enrolled bob bob

# ---- access-report ----
rc=0
report=$("$DRAWBRIDGE_BIN" access-report -c "$CFG" 2>&1) || rc=$?
expect_eq "access-report exits 0" 0 "$rc"
expect_match "access-report lists bob as enrolled" '^  bob +enrolled since ' "$report"
expect_match "access-report lists dave as required but not enrolled" \
    '^  dave +required \(group:oncall\), not enrolled' "$report"
expect_nomatch "alice (reset) is not listed as enrolled" '^  alice +enrolled' "$report"
expect_verify_ok "the audit chain verifies"
gw_still_serves
finish
