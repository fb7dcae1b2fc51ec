#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The second factor under attack.  After a right first factor:
#   - wrong, reused, out-of-window, non-digit, 7-digit, empty and 64 KiB
#     answers are refused, each audited with its reason and counted;
#   - a device 30 s off is fine, 2 minutes off is not (codes made with
#     oathtool at skewed times: the gateway's clock is never touched);
#   - one code raced by four clients at once is accepted once;
#   - five wrong answers in a row lock the user's codes (the right code is
#     then refused too), audited and notified;
#   - a code prompt left unanswered ends with login_grace, audited;
#   - keyboard-interactive as a first factor, an answer nobody asked for, a
#     username changed between the factors: refused;
#   - enrolling twice without a reset is refused;
#   - a damaged secret, and another gateway key, refuse the login with a
#     message -- the factor is never skipped.
# Runs in an environment of its own (short login_grace; it damages the store).
# Depends on: broker/mfa/, session-mfa.c, shell/cmd-mfa.c.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../jit-lib.sh
. "$(dirname "$0")/../jit-lib.sh"
# shellcheck source=../mfa-lib.sh
. "$(dirname "$0")/../mfa-lib.sh"
# shellcheck source=lib-hostile.sh
. "$(dirname "$0")/lib-hostile.sh"
command -v sqlite3 >/dev/null || fail "the sqlite3 shell is missing (apt-get install sqlite3)"
"$PY" -c 'import paramiko' 2>/dev/null || fail "paramiko is missing (apt-get install python3-paramiko)"
need_raw_client
export GW_LIMITS="{max_startups: 64, max_startups_per_source: 32, login_grace: 4s, max_auth_tries: 6, slow_after_failures: 100000}"
export GW_NOTIFY='"cat >> @DIR@/notify.jsonl"'
private_env
T=$DIR/scratch
mkdir -p "$T"
mfa_init
LOG_START=$(($(wc -l <"$DIR/gw.log") + 1))
mfa_enrol bob
mfa_enrol erin
# dave's device runs 30 s off: his enrolment used the code of 30 s ago, so
# that by the end of this test both of his neighbouring steps are unused
mfa_enrol dave -30

failures() { # the user's run of wrong answers, from the store
    db_query "SELECT failures FROM mfa WHERE user = '$1'"
}
# refused WHAT ANSWER REASON [USER]: the user's first factor (bob's by
# default), then ANSWER, alone: refused, audited with REASON, counted.
refused() {
    local what=$1 answer=$2 reason=$3 user=${4:-bob} before after out rc=0 rows
    before=$(failures "$user")
    rows=$(mfa_audit_rows mfa.failure "$user" | grep -c . || true)
    out=$(mfa_paramiko "$user" --answer "$answer" --command whoami 2>&1) || rc=$?
    after=$(failures "$user")
    if [ "$rc" != 1 ] || grep -q 'answer 1: accepted' <<<"$out"; then
        weak mfa-bad-answer "$what was not refused (exit $rc): $out"
        return
    fi
    if [ "$after" != $((before + 1)) ]; then
        weak mfa-not-counted "$what: the run of failures went from $before to $after"
    fi
    if [ "$(mfa_audit_rows mfa.failure "$user" | grep -c . || true)" != $((rows + 1)) ] ||
        ! mfa_audit_rows mfa.failure "$user" | tail -n 1 | grep -q -- "$reason"; then
        weak mfa-not-audited "$what: no mfa.failure row saying '$reason'"
    fi
    pass "$what: refused, audited ($reason) and counted"
}
# accepted WHAT ANSWER [USER]
accepted() {
    local out
    out=$(mfa_paramiko "${3:-bob}" --answer "$2" --command whoami 2>&1) ||
        { weak mfa-good-refused "$1 was refused: $out"; return; }
    expect_match "$1: accepted" 'this login gave a code' "$out"
}

# ---- bad answers (at most four in a row: five would lock) ----
wrong=$(mfa_code bob -600)
refused "a wrong code" "$wrong" 'wrong code\|outside the time window'
refused "a non-digit code" "12a456" 'not a 6-digit code'
refused "a 7-digit code" "$(mfa_code bob)7" 'not a 6-digit code'
refused "an empty answer" "@empty" 'empty answer'
accepted "a right code after four wrong ones" "$(mfa_next_code bob)"
expect_eq "a right code ends the run" 0 "$(failures bob)"
refused "a 64 KiB answer" "@big:65536" 'not a 6-digit code'
refused "the code just used" "$(oathtool --totp -b "$(cat "$T/secret.bob")" -N "@$(($(cat "$T/step.bob") * 30))")" \
    'code already used'
refused "a code from two minutes ago" "@totp:$(cat "$T/secret.bob"):-120" 'outside the time window'
refused "a code from two minutes ahead" "@totp:$(cat "$T/secret.bob"):120" 'outside the time window'
accepted "a right code after four wrong ones, again" "$(mfa_next_code bob)"
# a code followed by NUL and junk: libssh hands answers over as C strings
nul_code=$(mfa_next_code bob)
out=$(mfa_paramiko bob --answer "@nul:$nul_code" --command whoami 2>&1) || true
if grep -q 'answer 1: accepted' <<<"$out"; then
    # accepted (ACCEPTED) only as what it is: bob's own login with bob's code
    expect_match "a right code followed by NUL and junk: what ran is bob's whoami" '^user: +bob$' "$out"
    weak nul-code-truncated "a right code followed by NUL and junk was taken as the code"
else
    pass "a right code followed by NUL and junk is refused"
fi

# ---- one code, four clients at once: accepted once ----
code=$(mfa_next_code bob)
racers=()
for i in 1 2 3 4; do
    (mfa_paramiko bob --answer "$code" >"$T/race.$i" 2>&1; echo $? >"$T/race.$i.rc") &
    racers+=($!)
done
wait "${racers[@]}"
ok=$(cat "$T"/race.?.rc | grep -c '^0$' || true)
if [ "$ok" != 1 ]; then
    weak mfa-race "one code raced by four logins was accepted $ok times"
else
    pass "one code raced by four logins is accepted exactly once"
fi

# ---- the lockout ----
for i in 1 2 3 4 5; do
    mfa_paramiko erin --answer "$(mfa_code erin -600)" >/dev/null 2>&1 || true
done
out=$(mfa_paramiko erin --answer "$(mfa_next_code erin)" --command whoami 2>&1) && rc=0 || rc=$?
if [ "$rc" = 0 ]; then
    weak mfa-no-lockout "after five wrong codes the right one still logs erin in"
else
    pass "after five wrong codes in a row even the right code is refused"
fi
expect_match "the lock is audited" '"locked_until"' "$(mfa_audit_rows mfa.lock erin)"
wait_until 5 file_has "$DIR/notify.jsonl" '"event":"mfa.locked".*"user":"erin"' ||
    weak mfa-lock-not-notified "no mfa.locked notification for erin"
pass "the lock is notified"
rc=0
mfa_paramiko erin --answer "$(sed -n 1p "$T/recovery.erin")" >/dev/null 2>&1 || rc=$?
expect_eq "a recovery code is refused while locked too" 1 "$rc"
expect_match "the lock says until when" 'locked until [0-9:]+ UTC' \
    "$(grep 'mfa.refused.*user=erin' "$DIR/gw.log" | tail -n 1)"

# ---- a prompt left unanswered: login_grace (4 s) ends it ----
out=$(raw kex service auth-password:bob:bob-pw-2026 auth-kbdint:bob expect-closed:15)
expect_match "after bob's password the code prompt comes (INFO_REQUEST, shown as message 60)" \
    '^auth-kbdint -> PK_OK$' "$out"
secs=$(printf '%s\n' "$out" | sed -n 's/^expect-closed -> .* after \([0-9]*\)\..*/\1/p')
if [ -z "$secs" ] || [ "$secs" -gt 8 ]; then
    weak mfa-grace "an unanswered code prompt was not ended by login_grace: $out"
else
    pass "an unanswered code prompt is ended by login_grace (after ${secs}s)"
fi
grace_audited() {
    grep -q "no verification code within login_grace" <<<"$(audit_rows auth.failure bob bob)"
}
if wait_until 5 grace_audited; then
    pass "the unanswered prompt is audited"
else
    weak mfa-grace-not-audited "no audit row for the unanswered prompt"
fi

# ---- protocol abuse ----
out=$(raw kex service auth-kbdint:bob)
expect_match "keyboard-interactive as a first factor is refused" \
    '^auth-kbdint -> USERAUTH_FAILURE methods=[a-z,]+ partial=0$' "$out"
expect_nomatch "and not offered as one" '^auth-kbdint -> .*keyboard-interactive' "$out"
out=$(raw kex service auth-password:bob:bob-pw-2026 info-response:123456)
expect_match "bob's password gives partial success (keyboard-interactive only)" \
    '^auth-password -> USERAUTH_FAILURE methods=keyboard-interactive partial=1$' "$out"
# libssh's packet filter ends the connection; a refusal would do as well
if ! grep -qE '^info-response -> (USERAUTH_FAILURE|DISCONNECT|CLOSED)' <<<"$out"; then
    weak mfa-unasked-answer "an answer nobody asked for logged bob in"
else
    pass "an answer nobody asked for is refused"
fi
out=$(raw kex service auth-password:bob:bob-pw-2026 auth-kbdint:erin auth-password:erin:erin-pw-2026)
expect_match "a username changed between the factors is refused" \
    '^auth-kbdint -> USERAUTH_FAILURE methods=keyboard-interactive partial=0$' "$out"
expect_match "and no other password is taken once a first factor passed" \
    '^auth-password -> USERAUTH_FAILURE methods=keyboard-interactive partial=0$' "$out"

# ---- enrolling twice ----
out=$(mfa_paramiko bob --answer "$(sed -n 2p "$T/recovery.bob")" --command "mfa enroll" 2>&1) || true
expect_match "enrolling twice without a reset is refused" 'already enrolled' "$out"
expect_nomatch "and no new secret is shown" 'otpauth://' "$out"

# ---- a damaged secret, another key: refused with a message, never skipped ----
sqlite3 "$DIR/state/drawbridge.db" ".timeout 5000" \
    "UPDATE mfa SET secret = substr(secret, 1, 20) || (CASE substr(secret, 21, 1) WHEN '0' THEN '1' ELSE '0' END) || substr(secret, 22) WHERE user = 'bob'" ||
    fail "cannot damage bob's secret"
: >"$T/prompts"
mfa_next_code bob >"$T/answer"
mfa_run bob whoami
if [ "$RC" = 0 ]; then
    weak mfa-damaged-skipped "a damaged secret let bob in (exit 0: $OUT)"
else
    expect_match "a damaged secret refuses bob's login with a message" \
        'drawbridge: your second factor cannot be read' "$ERR"
fi
expect_eq "no code was even asked" 0 "$(mfa_prompts)"
expect_match "the damaged secret is audited" 'does not unseal' "$(mfa_audit_rows mfa.unreadable bob)"
cp "$DIR/state/keys/mfa.key" "$T/mfa.key.orig"
head -c 32 /dev/urandom >"$DIR/state/keys/mfa.key"
mfa_run erin whoami
[ "$RC" != 0 ] || weak mfa-wrong-key-skipped "another gateway key let erin in"
expect_match "another key refuses erin's login with a message" 'cannot be read' "$ERR"
rm -f "$DIR/state/keys/mfa.key"
mfa_run erin whoami
[ "$RC" != 0 ] || weak mfa-no-key-skipped "a missing key let erin in"
expect_match "a missing key refuses erin's login with a message" 'cannot be checked' "$ERR"
run carol whoami
expect_eq "a user who never enrolled does not need the key" 0 "$RC"
cp "$T/mfa.key.orig" "$DIR/state/keys/mfa.key"
chmod 600 "$DIR/state/keys/mfa.key"

# ---- clock skew: 30 s either way is fine ----
for skew in -30 30; do
    # a step this test has not used yet, 30 s off the gateway's clock
    while [ $((($(date +%s) + skew) / 30)) -le "$(cat "$T/step.dave")" ] || [ $(($(date +%s) % 30)) -gt 24 ] ||
        [ $(($(date +%s) % 30)) -lt 2 ]; do
        sleep 1
    done
    echo $((($(date +%s) + skew) / 30)) >"$T/step.dave"
    accepted "a device ${skew#-}s $([ "$skew" -lt 0 ] && echo behind || echo ahead)" \
        "@totp:$(cat "$T/secret.dave"):$skew" dave
done

refused "dave's code of two minutes ago" "@totp:$(cat "$T/secret.dave"):-120" \
    'outside the time window' dave

gw_log_clean "$LOG_START"
gw_listener_alive
expect_verify_ok "the audit chain verifies"
gw_still_serves
hostile_finish
