#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The SSH protocol seen by a client that breaks the rules (rawssh.py):
#   - messages out of state: USERAUTH_SUCCESS sent by the client (the
#     CVE-2018-10933 class) before key exchange, before the userauth service,
#     after a failed attempt and after authenticating; CHANNEL_OPEN and
#     GLOBAL_REQUEST before authentication.  No channel ever opens, and a
#     violation ends the connection promptly (DESIGN.md: "a protocol violation
#     ends one connection");
#   - the none, hostbased, gssapi-with-mic and keyboard-interactive methods are
#     refused and only publickey,password are offered;
#   - a public key offered without a signature (PK_OK probe) followed by an
#     empty or blank password is refused (the Warpgate class), and so is a
#     signature that is garbage;
#   - strict key exchange (kex-strict-s-v00@openssh.com, Terrapin) is
#     advertised and used by OpenSSH;
#   - weak algorithms are neither offered nor negotiated, towards the client
#     (OpenSSH forced to each one must fail) and towards a target (an sshd
#     that offers only weak ones is refused).
# Each case ends with the gateway still serving a real user.
# Runs in an environment of its own (it adds a target to the policy).
# Depends on: server.c (algorithm lists), session.c (auth callbacks,
# out-of-state handling), upstream.c (target algorithms), libssh's packet filter.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../jit-lib.sh
. "$(dirname "$0")/../jit-lib.sh"
# shellcheck source=lib-hostile.sh
. "$(dirname "$0")/lib-hostile.sh"
need_raw_client
private_env
T=$DIR/scratch
mkdir -p "$T"
export RAWSSH_TIMEOUT=2

# no_channel WHAT OUTPUT: no step of OUTPUT got a channel, a shell or a success.
no_channel() {
    if grep -qE 'CHANNEL_OPEN_CONFIRMATION|CHANNEL_SUCCESS|USERAUTH_SUCCESS|REQUEST_SUCCESS|^exec -> exec' <<<"$2"; then
        fail "$1: the gateway let something through: $2"
    fi
    pass "$1: no authentication, channel or request was granted"
}

# ended_promptly WHAT OUTPUT: the connection ended (DISCONNECT or CLOSED)
# within 2 s of the violation (expect-closed follows it directly), rather
# than lingering until login_grace (10 s here) or for ever.
ended_promptly() {
    local last secs
    last=$(printf '%s\n' "$2" | sed -n 's/^expect-closed -> //p' | tail -n 1)
    secs=$(printf '%s\n' "$last" | sed -n 's/.* after \([0-9]*\)\.[0-9]s)*$/\1/p')
    case "$last" in
    DISCONNECT* | CLOSED*)
        if [ -n "$secs" ] && [ "$secs" -lt 2 ]; then
            pass "$1: the gateway ended the connection ($last)"
            return
        fi
        ;;
    esac
    weak protocol-violation-lingers "$1: after the violation the connection stayed open, unserved ($last); the session child should disconnect at once"
}

# ---- USERAUTH_SUCCESS from the client ----
out=$(raw plain:52)
no_channel "USERAUTH_SUCCESS before key exchange" "$out"
expect_match "USERAUTH_SUCCESS before key exchange: connection ended" 'CLOSED|DISCONNECT' "$out"

out=$(raw kex msg:52 expect-closed:4 open:session)
no_channel "USERAUTH_SUCCESS after key exchange, before the userauth service" "$out"
ended_promptly "USERAUTH_SUCCESS before the userauth service" "$out"

out=$(raw kex service msg:52 expect-closed:4 exec:whoami)
no_channel "USERAUTH_SUCCESS right after SERVICE_ACCEPT" "$out"
ended_promptly "USERAUTH_SUCCESS right after SERVICE_ACCEPT" "$out"

out=$(raw kex service auth-password:alice:wrong-pw msg:52 expect-closed:4 exec:whoami)
expect_match "a wrong password is refused" '^auth-password -> USERAUTH_FAILURE' "$out"
no_channel "USERAUTH_SUCCESS after a failed password" "$out"
ended_promptly "USERAUTH_SUCCESS after a failed password" "$out"

# After authenticating the same message is still a violation: the session
# must end rather than stay open and unserved.
out=$(raw kex service auth-password:alice:alice-pw-2026 msg:52 expect-closed:4)
expect_match "(alice authenticates with her password)" '^auth-password -> USERAUTH_SUCCESS' "$out"
ended_promptly "USERAUTH_SUCCESS after authentication" "$out"

# ---- CHANNEL_OPEN and GLOBAL_REQUEST before authentication ----
out=$(raw kex service open:session open:direct-tcpip exec:whoami)
no_channel "CHANNEL_OPEN session / direct-tcpip before authentication" "$out"
out=$(raw kex service send-open:session expect-closed:4)
ended_promptly "CHANNEL_OPEN before authentication" "$out"
out=$(raw kex send-open:session expect-closed:4)
ended_promptly "CHANNEL_OPEN before the userauth service" "$out"
out=$(raw kex service global:tcpip-forward global:keepalive@openssh.com)
no_channel "GLOBAL_REQUEST tcpip-forward before authentication" "$out"
out=$(raw kex service send-global:tcpip-forward expect-closed:4)
ended_promptly "GLOBAL_REQUEST before authentication" "$out"
# a queued pre-auth open never becomes a channel once someone authenticates
out=$(raw kex service open:session auth-password:alice:alice-pw-2026 exec:whoami)
if grep -q '^auth-password -> USERAUTH_SUCCESS' <<<"$out"; then
    expect_match "after a pre-auth CHANNEL_OPEN and a login, the first channel is a fresh one" \
        '^exec -> exec reply=CHANNEL_SUCCESS status=0 stdout=user: +alice' "$out"
else
    no_channel "a login after a pre-auth CHANNEL_OPEN" "$out"
fi

# ---- methods the gateway does not accept ----
out=$(raw kex service auth-none:alice auth-hostbased:alice:"$GW_KEY.pub" auth-gssapi:alice auth-kbdint:alice exec:whoami)
for m in none hostbased gssapi kbdint; do
    expect_match "method $m is refused, publickey and password offered" \
        "^auth-$m -> USERAUTH_FAILURE methods=publickey,password partial=0\$" "$out"
done
no_channel "none/hostbased/gssapi/keyboard-interactive" "$out"
# (OpenSSH keeps the first value of an option: no gw_ssh_pw here, it sets its own.)
_ssh_opts
out=$(SSHPASS=alice-pw-2026 sshpass -e ssh "${SSH_OPTS[@]}" -o BatchMode=no -o PubkeyAuthentication=no \
    -o IdentityAgent=none -o PreferredAuthentications=keyboard-interactive,hostbased,gssapi-with-mic \
    -o KbdInteractiveAuthentication=yes -o HostbasedAuthentication=yes -o GSSAPIAuthentication=yes \
    -o NumberOfPasswordPrompts=1 -p "$GW_PORT" -l alice "$GW_HOST" whoami 2>&1) &&
    fail "OpenSSH logged in with keyboard-interactive/hostbased/gssapi: $out"
expect_nomatch "OpenSSH with only kbdint/hostbased/gssapi does not log in" '^user:' "$out"

# ---- public key without a signature, then an empty password (Warpgate) ----
seq_pk=$(audit_last_seq)
for pw in '' ' ' '\x00' '\t'; do
    out=$(raw kex service "auth-pk-probe:alice:$GW_KEY.pub" "auth-password:alice:$pw" exec:whoami)
    expect_match "alice's key offered without a signature gets PK_OK only" '^auth-pk-probe -> PK_OK$' "$out"
    expect_match "then the password '$pw' is refused" '^auth-password -> (USERAUTH_FAILURE|DISCONNECT|CLOSED)' "$out"
    no_channel "PK_OK probe + password '$pw'" "$out"
done
out=$(raw kex service "auth-pk-probe:alice:$GW_KEY.pub" msg:52 exec:whoami)
no_channel "PK_OK probe + USERAUTH_SUCCESS from the client" "$out"
out=$(raw kex service "auth-pk-probe:alice:$GW_KEY.pub" "auth-pk-badsig:alice:$GW_KEY.pub" exec:whoami)
no_channel "alice's key with a garbage signature" "$out"
expect_eq "no auth.success row for any probe" 0 "$(audit_since "$seq_pk" | grep -c '"auth.success"' || true)"

# A garbage signature is dropped by libssh without an answer: it is then
# neither counted towards max_auth_tries (6) nor audited.
seq0=$(audit_last_seq)
steps=()
for _ in 1 2 3 4 5 6 7; do steps+=("auth-pk-badsig:alice:$GW_KEY.pub"); done
out=$(RAWSSH_TIMEOUT=1 raw kex service "${steps[@]}" auth-password:alice:alice-pw-2026)
if grep -qE '^auth-pk-badsig -> USERAUTH_FAILURE' <<<"$out"; then
    pass "a garbage signature is answered with USERAUTH_FAILURE"
else
    weak badsig-unanswered "a publickey request with a garbage signature gets no answer at all (libssh drops it before the auth callback): $(printf '%s' "$out" | grep -m1 badsig)"
fi
if grep -q '^auth-password -> USERAUTH_SUCCESS' <<<"$out"; then
    weak badsig-not-counted "7 garbage signatures did not count towards max_auth_tries (6): the right password afterwards still logged in"
else
    pass "garbage signatures count towards max_auth_tries"
fi
n=$(audit_since "$seq0" | grep -c '"auth.failure"' || true)
if [ "$n" -ge 7 ]; then
    pass "each garbage signature has an auth.failure row"
else
    weak badsig-not-audited "7 garbage signatures left $n auth.failure row(s) in the audit"
fi

# ---- strict key exchange (Terrapin) ----
out=$(raw kex server-kexinit)
expect_match "the gateway's KEXINIT advertises kex-strict-s-v00@openssh.com" \
    'kex=[^ ]*kex-strict-s-v00@openssh\.com' "$out"
expect_match "the raw client and the gateway agree on strict kex" '^kex -> NEWKEYS strict=1$' "$out"
out=$(gw_ssh alice -vvv whoami 2>&1) || fail "ssh -vvv alice whoami: $out"
expect_match "OpenSSH uses strict KEX ordering with the gateway" 'will use strict KEX ordering' "$out"

# ---- weak algorithms: not offered ----
kexinit=$(raw kex server-kexinit | sed -n 's/^server-kexinit -> //p')
[ -n "$kexinit" ] || fail "no server KEXINIT from the raw client"
expect_nomatch "the gateway offers no SHA-1/MD5/CBC/3DES/RC4/group1/ssh-rsa/ssh-dss algorithm" \
    '(=|,)(ssh-rsa|ssh-dss|diffie-hellman-group1-sha1|diffie-hellman-group14-sha1|diffie-hellman-group-exchange-sha1|[a-z0-9-]*-cbc|3des[a-z0-9-]*|arcfour[0-9]*|hmac-sha1[a-z0-9@.-]*|hmac-md5[a-z0-9@.-]*|umac-64[a-z0-9@.-]*|hmac-ripemd160[a-z0-9@.-]*)(,| |$)' \
    "$kexinit"

# ---- weak algorithms: OpenSSH forced to each one cannot connect ----
forced=(
    "-o Ciphers=3des-cbc"
    "-o Ciphers=aes128-cbc"
    "-o Ciphers=aes256-cbc"
    "-o Ciphers=aes128-ctr -o MACs=hmac-sha1"
    "-o Ciphers=aes128-ctr -o MACs=hmac-sha1-etm@openssh.com"
    "-o Ciphers=aes128-ctr -o MACs=hmac-md5"
    "-o Ciphers=aes128-ctr -o MACs=hmac-md5-etm@openssh.com"
    "-o Ciphers=aes128-ctr -o MACs=umac-64@openssh.com"
    "-o KexAlgorithms=diffie-hellman-group1-sha1"
    "-o KexAlgorithms=diffie-hellman-group14-sha1"
    "-o KexAlgorithms=diffie-hellman-group-exchange-sha1"
    "-o HostKeyAlgorithms=ssh-rsa"
    "-o HostKeyAlgorithms=ssh-dss"
)
for f in "${forced[@]}"; do
    rc=0
    # shellcheck disable=SC2086 # f: option words
    out=$(gw_ssh alice $f whoami 2>&1) || rc=$?
    expect_eq "forcing '$f' fails" 255 "$rc"
    expect_match "forcing '$f': no matching algorithm" 'no matching (cipher|MAC|key exchange method|host key type)' "$out"
done
# and the strong ones the weak ones were paired with do work (the checks above can fail)
# shellcheck disable=SC2086
out=$(gw_ssh alice -o Ciphers=aes128-ctr -o MACs=hmac-sha2-256 -o KexAlgorithms=diffie-hellman-group14-sha256 whoami 2>&1) ||
    fail "aes128-ctr + hmac-sha2-256 + group14-sha256 should work: $out"
expect_match "(aes128-ctr, hmac-sha2-256 and group14-sha256 are accepted)" '^user:[[:space:]]+alice' "$out"

# ---- weak algorithms towards a target ----
# One sshd per weak offer; the gateway must refuse each rather than use it.
WEAK_PIDS=()
weak_sshd() { # weak_sshd NAME PORT "sshd options": starts it and adds NAME to the policy
    sed -e "s/^Port .*/Port $2/" -e "s#^PidFile .*#PidFile $DIR/$1.pid#" \
        "$DIR/target_sshd_config" >"$DIR/$1_config"
    printf '%s\n' "$3" >>"$DIR/$1_config"
    /usr/sbin/sshd -t -f "$DIR/$1_config" || fail "sshd -t refused the $1 config"
    (sshd_run -D -e -f "$DIR/$1_config") </dev/null >"$DIR/$1.log" 2>&1 &
    WEAK_PIDS+=($!)
    wait_port "$2" "${WEAK_PIDS[-1]}" "$1" || fail "$1 did not start"
}
stop_weak() {
    local p
    for p in "${WEAK_PIDS[@]}"; do stop_pid "$p" "weak sshd"; done
}
trap 'rc=$?; stop_weak; env_down "$rc" || rc=1; exit $rc' EXIT
declare -A WEAKOPT=(
    [weakkex-1]="KexAlgorithms diffie-hellman-group14-sha1,diffie-hellman-group1-sha1"
    [weakmac-1]="Ciphers aes128-ctr
MACs hmac-sha1,hmac-md5"
    [weakcbc-1]="Ciphers aes128-cbc,3des-cbc"
)
GW_POLICY_TARGETS=
for name in weakkex-1 weakmac-1 weakcbc-1; do
    p=$(free_port)
    weak_sshd "$name" "$p" "${WEAKOPT[$name]}"
    GW_POLICY_TARGETS+="  - name: $name
    address: 127.0.0.1:$p
    host_key: \"@HOST_KEY@\"
    logins: [@LOGIN@]
    labels: {env: staging}
"
done
export GW_POLICY_TARGETS=${GW_POLICY_TARGETS%$'\n'}
gw_reload_policy || fail "the policy with the weak targets was not loaded"
for name in weakkex-1 weakmac-1 weakcbc-1; do
    rc=0
    out=$(gw_ssh "alice+$name" 'echo reached-target' 2>&1) || rc=$?
    expect_ne "$name ($(printf '%s' "${WEAKOPT[$name]}" | tr '\n' ' ')) is refused" 0 "$rc"
    expect_nomatch "$name: nothing ran" 'reached-target' "$out"
    NOCASE=1 expect_match "$name: the refusal says why" 'no match|kex|unreachable' "$out"
done

gw_log_clean 1
gw_listener_alive
gw_still_serves
hostile_finish
