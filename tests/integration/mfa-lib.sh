# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Helpers for the second-factor tests (mfa-*.sh, hostile/mfa.sh), sourced
# after lib.sh and jit-lib.sh.  Codes come from oathtool, as an
# authenticator app would make them; the gateway's clock is never touched
# (a skewed device is a code made with oathtool -N at another time).
#
#   mfa_init               scratch files under $T (askpass, prompt log)
#   mfa_enrol USER [OFF]   mfa enroll + mfa confirm through the shell; the
#                          secret in $T/secret.USER, recovery codes in
#                          $T/recovery.USER (one a line)
#   mfa_next_code USER     a code of USER's that was not used yet (codes are
#                          accepted once: waits for the clock when needed)
#   mfa_code USER OFFSET   the code of USER's secret at now + OFFSET seconds
#   mfa_ssh WHO [args]     stock OpenSSH, first factor (alice: her key; others:
#                          their password, or MFA_PW_OVERRIDE) then the code
#                          prompt, both answered by SSH_ASKPASS: the code is
#                          whatever $T/answer holds
#   mfa_paramiko ARGS      tests/integration/mfa_client.py against the gateway

MFA_CLIENT=$LIB_DIR/mfa_client.py

mfa_init() {
    command -v oathtool >/dev/null || fail "oathtool is missing (apt-get install oathtool)"
    cat >"$T/askpass" <<'EOF'
#!/bin/sh
# SSH_ASKPASS for the tests: logs every prompt, answers the code prompt
# with $MFA_ANSWER_FILE and a password prompt with $MFA_PW.
printf '%s\n' "$1" >>"$MFA_PROMPTS"
case "$1" in
*"Verification code"*) cat "$MFA_ANSWER_FILE" ;;
*assword*) printf '%s\n' "$MFA_PW" ;;
*) exit 1 ;;
esac
EOF
    chmod 700 "$T/askpass"
    : >"$T/prompts"
}

# mfa_code USER OFFSET
mfa_code() {
    oathtool --totp -b "$(cat "$T/secret.$1")" -N "@$(($(date +%s) + ${2:-0}))"
}

# Codes are accepted once per user: a login after another within the same
# 30-second step needs the next step's code (one step ahead is inside the
# window), and a third one waits for the clock.
mfa_next_code() {
    local user=$1 last now step
    last=$(cat "$T/step.$user" 2>/dev/null || echo 0)
    while :; do
        now=$(date +%s)
        step=$((now / 30))
        if [ "$step" -gt "$last" ]; then
            break
        fi
        # the next step's code, while the gateway's step cannot yet be two ahead of it
        if [ $((step + 1)) -gt "$last" ] && [ $((now % 30)) -lt 25 ]; then
            step=$((step + 1))
            break
        fi
        sleep 1
    done
    echo "$step" >"$T/step.$user"
    oathtool --totp -b "$(cat "$T/secret.$user")" -N "@$((step * 30))"
}

# mfa_enrol USER [OFFSET]: as the shell's users do it (the login itself gives
# no code); with OFFSET, confirmed by a device that many seconds off.
mfa_enrol() {
    local user=$1 offset=${2:-} uri secret n code
    run "$user" mfa enroll
    [ "$RC" = 0 ] || fail "mfa enroll for $user: exit $RC: $ERR"
    n=$(printf '%s\n' "$OUT" | grep -c '^otpauth://totp/' || true)
    [ "$n" = 1 ] || fail "mfa enroll printed $n otpauth lines: $OUT"
    uri=$(printf '%s\n' "$OUT" | grep '^otpauth://totp/')
    secret=${uri#*secret=}
    secret=${secret%%&*}
    printf '%s\n' "$secret" >"$T/secret.$user"
    if [ -n "$offset" ]; then
        code=$(mfa_code "$user" "$offset")
        echo $((($(date +%s) + offset) / 30)) >"$T/step.$user"
    else
        code=$(mfa_next_code "$user")
    fi
    run "$user" mfa confirm "$code"
    [ "$RC" = 0 ] || fail "mfa confirm for $user: exit $RC: $ERR"
    printf '%s\n' "$OUT" | sed -n 's/^  \([a-z2-7]\{5\}-[a-z2-7]\{5\}\)$/\1/p' >"$T/recovery.$user"
    n=$(wc -l <"$T/recovery.$user")
    [ "$n" = 10 ] || fail "mfa confirm printed $n recovery codes: $OUT"
}

# mfa_ssh WHO [ssh args] [command]: sets nothing; use as `mfa_ssh ... </dev/null >out 2>err`.
# MFA_SSH_OPTS (an array) adds options (ControlMaster and the like).
mfa_ssh() {
    local who=$1 user=${1%%+*}
    local -a auth
    shift
    if [ "$user" = alice ]; then
        auth=(-o IdentitiesOnly=yes -o IdentityAgent=none -i "$GW_KEY"
            -o PreferredAuthentications=publickey,keyboard-interactive)
    else
        auth=(-o PubkeyAuthentication=no -o IdentityAgent=none
            -o PreferredAuthentications=password,keyboard-interactive)
    fi
    MFA_PW="${MFA_PW_OVERRIDE:-$user-pw-2026}" MFA_PROMPTS="$T/prompts" MFA_ANSWER_FILE="$T/answer" \
        SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force \
        ssh -F /dev/null -o "UserKnownHostsFile=$DIR/known_hosts" -o GlobalKnownHostsFile=/dev/null \
        -o StrictHostKeyChecking=yes -o ConnectTimeout=10 -o BatchMode=no \
        -o NumberOfPasswordPrompts=1 ${MFA_SSH_OPTS[@]+"${MFA_SSH_OPTS[@]}"} "${auth[@]}" \
        -p "$GW_PORT" -l "$who" "$GW_HOST" "$@"
}

# mfa_run WHO [args]: mfa_ssh with RC, OUT and ERR set (as run does).
mfa_run() {
    RC=0
    mfa_ssh "$@" </dev/null >"$T/run.out" 2>"$T/run.err" || RC=$?
    OUT=$(cat "$T/run.out")
    ERR=$(cat "$T/run.err")
}

# The number of code prompts askpass answered so far.
mfa_prompts() {
    grep -c 'Verification code' "$T/prompts" || true
}

# mfa_paramiko USER [mfa_client.py options]: with the user's key (alice) or password.
mfa_paramiko() {
    local user=$1
    shift
    if [ "$user" = alice ]; then
        "$PY" "$MFA_CLIENT" --port "$GW_PORT" --user "$user" --key "$GW_KEY" \
            --known-hosts "$DIR/known_hosts" "$@"
    else
        "$PY" "$MFA_CLIENT" --port "$GW_PORT" --user "$user" --password "$user-pw-2026" \
            --known-hosts "$DIR/known_hosts" "$@"
    fi
}

# Audit rows of EVENT for OBJECT (a user), as "details" lines.
mfa_audit_rows() {
    db_query "SELECT details FROM audit WHERE event = '$1' AND object = '$2' ORDER BY seq"
}
