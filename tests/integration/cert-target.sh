#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What a target makes of the gateway's certificates, with real sshds:
#   - every field of a certificate the gateway presented, captured by an
#     AuthorizedPrincipalsCommand (%k) on a target that trusts the CA the
#     sshd_config way (TrustedUserCAKeys), read back with ssh-keygen -L:
#     type, CA, key ID, serial (= the audited one), validity (60 s back,
#     cert_ttl ahead), the one principal, source-address, permit-pty only;
#   - with certificates from the same builder and CA but made by the test
#     (cert_tool; the gateway's own keys never leave its session children):
#     a certificate for another target refused, an expired one refused, one
#     used from another source address refused, each beside the same
#     certificate accepted where it belongs (so each refusal is the point
#     tested, not a broken setup);
#   - a target that does not trust the CA: a one-line refusal naming the
#     target and the authorized_keys line it misses, audited;
#   - a certificate issued on a grant that ends sooner than cert_ttl is
#     valid only until the grant's end;
#   - revoking (README): a KRL made from the audited serials revokes the
#     captured certificate, and a serial range covering now makes other-1's
#     sshd refuse the gateway's next certificate.
# Depends on: broker/signer (certkey.c), upstream.c, main.c (keys --target).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"
: "${CERT_TOOL:?CERT_TOOL must point at the cert_tool test helper}"
private_env

CA=$DIR/state/keys/user_ca
capfp=$(ssh-keygen -lf "$CA.pub" | cut -d' ' -f2)
T=$(test_tmpdir) || fail "cannot create a temporary directory"
RUNDIR=

cleanup_extra() {
    local p
    for p in "$T"/*.pid; do
        [ -f "$p" ] && stop_pid "$(cat "$p")" "extra sshd"
    done
    [ -n "$RUNDIR" ] && rm -rf "$RUNDIR"
    rm -rf "$T"
}
trap 'rc=$?; cleanup_extra; env_down "$rc" || rc=1; exit $rc' EXIT

# sshd_extra NAME PORT [extra sshd_config lines...]: another sshd like the
# target (same host key), its authorized_keys in $T/NAME.keys.
sshd_extra() {
    local name=$1 port=$2 pid
    shift 2
    sed -e "s/^Port .*/Port $port/" -e "s#^PidFile .*#PidFile $T/$name.pid#" \
        -e "s#^AuthorizedKeysFile .*#AuthorizedKeysFile $T/$name.keys#" \
        "$DIR/target_sshd_config" >"$T/$name.config"
    printf '%s\n' "$@" >>"$T/$name.config"
    touch "$T/$name.keys"
    /usr/sbin/sshd -t -f "$T/$name.config" || fail "sshd -t refused $name's config"
    (sshd_run -D -e -f "$T/$name.config") </dev/null >"$T/$name.log" 2>&1 &
    pid=$!
    wait_port "$port" "$pid" "$name sshd" || fail "$name sshd did not start"
}

OTHER_PORT=$(free_port) || fail "no port"
ssh-keygen -q -k -f "$T/other.krl" || fail "ssh-keygen -k (an empty KRL)"
sshd_extra other "$OTHER_PORT" "RevokedKeys $T/other.krl"
targets="  - name: other-1
    address: 127.0.0.1:$OTHER_PORT
    host_key: \"@HOST_KEY@\"
    logins: [@LOGIN@]
    labels: {env: staging}
  - name: untrusting-1
    address: 127.0.0.1:$KEYED_PORT
    host_key: \"@HOST_KEY@\"
    logins: [@LOGIN@]
    labels: {env: staging}"
if [ "$(id -u)" = 0 ]; then
    # sshd runs an AuthorizedPrincipalsCommand only from a root-owned,
    # non-writable path: /run is one.
    RUNDIR=$(mktemp -d /run/drawbridge-test.XXXXXX) || fail "mktemp in /run"
    chmod 0755 "$RUNDIR"
    cat >"$RUNDIR/principals" <<SCRIPT
#!/bin/sh
# AuthorizedPrincipalsCommand: keep the certificate sshd was shown (%t %k),
# allow the target's one principal.
printf '%s %s\n' "\$1" "\$2" >>"$RUNDIR/captured"
echo drawbridge:capture-1
SCRIPT
    chmod 0755 "$RUNDIR/principals"
    CAP_PORT=$(free_port) || fail "no port"
    cp "$CA.pub" "$T/trusted_ca.pub"
    sshd_extra capture "$CAP_PORT" "TrustedUserCAKeys $T/trusted_ca.pub" \
        "AuthorizedPrincipalsCommand $RUNDIR/principals %t %k" "AuthorizedPrincipalsCommandUser root"
    targets="$targets
  - name: capture-1
    address: 127.0.0.1:$CAP_PORT
    host_key: \"@HOST_KEY@\"
    logins: [@LOGIN@]
    labels: {env: staging}"
fi
export GW_POLICY_TARGETS=$targets
gw_reload_policy || fail "the policy with the extra targets was refused"
"$DRAWBRIDGE_BIN" keys -c "$CFG" --target other-1 >"$T/other.keys" || fail "keys --target other-1"

# ---- every field of a certificate the gateway presented ----
if [ -n "$RUNDIR" ]; then
    out=$(gw_ssh alice+capture-1 'echo captured-ok' 2>&1) || fail "capture-1: $out"
    expect_eq "a session through a target that trusts the CA from sshd_config" captured-ok "$out"
    [ -s "$RUNDIR/captured" ] || fail "the AuthorizedPrincipalsCommand captured nothing"
    head -n 1 "$RUNDIR/captured" >"$T/captured-cert.pub"
    expect_match "the captured key is an Ed25519 certificate" '^ssh-ed25519-cert-v01@openssh.com ' "$(cat "$T/captured-cert.pub")"
    L=$(TZ=UTC ssh-keygen -L -f "$T/captured-cert.pub") || fail "ssh-keygen -L could not read the captured certificate"
    sid=$(db_query "SELECT id FROM sessions WHERE target = 'capture-1' ORDER BY rowid DESC LIMIT 1")
    row=$(db_query "SELECT time, details FROM audit WHERE event = 'cert.issue' AND object = 'session $sid'")
    [ -n "$row" ] || fail "no cert.issue row for session $sid"
    issued=${row%%|*}
    serial=$(sed -n 's/.*"serial": *"\([0-9]*\)".*/\1/p' <<<"$row")
    field() { sed -n "s/^ *$1: *//p" <<<"$L"; }
    # the items listed under a heading of ssh-keygen -L ("        Principals: " then "                ITEM")
    list_after() {
        awk -v h="$1:" '{ t = $0; sub(/^ +/, "", t); sub(/ +$/, "", t) }
            on && /^        [A-Za-z]/ { exit }
            on { if (t != "") print t; next }
            t == h { on = 1 }' <<<"$L"
    }
    expect_eq "type: a user certificate" "ssh-ed25519-cert-v01@openssh.com user certificate" "$(field Type)"
    expect_eq "signed by the gateway's CA" "ED25519 $capfp" "$(field 'Signing CA' | cut -d' ' -f1,2)"
    expect_eq "key ID: user, target, login, session, grant" \
        "\"drawbridge user=alice target=capture-1 login=$LOGIN session=$sid grant=standing\"" "$(field 'Key ID')"
    expect_eq "serial: the one the audit recorded" "$serial" "$(field Serial)"
    valid=$(field Valid)
    from=$(date -u -d "$(sed -n 's/^from \([^ ]*\) to .*/\1/p' <<<"$valid")" +%s)
    to=$(date -u -d "$(sed -n 's/^from [^ ]* to \(.*\)$/\1/p' <<<"$valid")" +%s)
    expect_eq "valid from 60 s before issue" "$((issued - 60))" "$from"
    expect_eq "to cert_ttl (2m) after it" "$((issued + 120))" "$to"
    expect_eq "exactly one principal, the target's" "drawbridge:capture-1" "$(list_after Principals)"
    expect_eq "critical options: source-address, the gateway's address" "source-address 127.0.0.1" "$(list_after 'Critical Options')"
    expect_eq "extensions: permit-pty only" "permit-pty" "$(list_after Extensions)"
    grep -qF "Accepted certificate ID \"drawbridge user=alice target=capture-1 login=$LOGIN session=$sid grant=standing\" (serial $serial)" "$T/capture.log" ||
        fail "sshd did not log the key ID and serial: $(grep 'Accepted' "$T/capture.log")"
    pass "sshd (LogLevel VERBOSE) logged the key ID and serial"
    # The README's KRL from the audited serials (FILE, keys/ and the KRL's path mapped).
    drawbridge() { "$DRAWBRIDGE_BIN" "$@"; }
    (
        cd "$DIR/state" || exit 1
        drawbridge audit -c "$CFG" --json --since 1h | jq -r 'select(.event == "cert.issue") | .details.serial' \
            | sed 's/^/serial: /' >revoked.txt
        ssh-keygen -k -f "$T/drawbridge_revoked.krl" -s keys/user_ca.pub revoked.txt
    ) >"$T/krl.out" 2>&1 || fail "the README's KRL commands failed: $(cat "$T/krl.out")"
    grep -qx "serial: $serial" "$DIR/state/revoked.txt" || fail "the audited serial $serial is not in the list"
    rc=0
    out=$(ssh-keygen -Q -f "$T/drawbridge_revoked.krl" "$T/captured-cert.pub" 2>&1) || rc=$?
    expect_eq "the KRL from the audited serials revokes the captured certificate" 1 "$rc"
    expect_match "(ssh-keygen -Q says so)" 'REVOKED' "$out"
else
    log "not root: the AuthorizedPrincipalsCommand capture is skipped (sshd runs it only from a root-owned path)"
fi

# ---- certificates made by the test, shown to other-1's sshd ----
ssh-keygen -q -t ed25519 -N '' -C test-key -f "$T/k" || fail "ssh-keygen"
now=$(date +%s)
# mint NAME PRINCIPAL AFTER BEFORE SOURCE
mint() {
    "$CERT_TOOL" "$CA" "$T/k.pub" "$2" "drawbridge user=alice target=test login=$LOGIN session=aaaaaaaaaaaaaaaa grant=standing" \
        "$3" "$4" "$5" "$((now << 8))" >"$T/$1-cert.pub" || fail "cert_tool $1"
}
# present NAME [ssh options]: log in to other-1's sshd with the key and certificate NAME;
# what sshd logged about it is in $T/said.
present() {
    local name=$1 from rc=0
    shift
    from=$(($(wc -l <"$T/other.log") + 1))
    present_ssh "$name" "$@" || rc=$?
    sleep 0.2
    tail -n +"$from" "$T/other.log" >"$T/said"
    return $rc
}
present_ssh() {
    local name=$1
    shift
    ssh -F /dev/null -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null \
        -o StrictHostKeyChecking=no -o LogLevel=ERROR -o BatchMode=yes -o IdentitiesOnly=yes \
        -o IdentityAgent=none -o PreferredAuthentications=publickey -i "$T/k" \
        -o "CertificateFile=$T/$name-cert.pub" -p "$OTHER_PORT" "$@" -l "$LOGIN" 127.0.0.1 echo presented-ok 2>&1
}
cp "$T/other.keys" "$T/other.keys.bak"
expect_match "other-1 trusts the CA for its own principal only" '^cert-authority,principals="drawbridge:other-1" ssh-ed25519 ' "$(cat "$T/other.keys")"

mint good drawbridge:other-1 $((now - 60)) $((now + 120)) 127.0.0.1
out=$(present good) || fail "a valid certificate for other-1 was refused by other-1: $out"
expect_eq "a certificate for other-1 logs in to other-1 (the control)" presented-ok "$out"

mint web drawbridge:web-1 $((now - 60)) $((now + 120)) 127.0.0.1
rc=0
out=$(present web) || rc=$?
expect_ne "a certificate for web-1 (same CA) is refused by other-1" 0 "$rc"
expect_nomatch "nothing ran" 'presented-ok' "$out"
expect_match "sshd says why: no authorized principal" 'not contain an authorized principal' "$(cat "$T/said")"

mint expired drawbridge:other-1 $((now - 600)) $((now - 30)) 127.0.0.1
rc=0
out=$(present expired) || rc=$?
expect_ne "an expired certificate is refused" 0 "$rc"
expect_match "sshd says it expired" 'Certificate invalid: expired' "$(cat "$T/said")"

mint elsewhere drawbridge:other-1 $((now - 60)) $((now + 120)) 127.0.0.2
rc=0
out=$(present elsewhere) || rc=$?
expect_ne "a certificate for source 127.0.0.2 is refused from 127.0.0.1" 0 "$rc"
expect_match "sshd says the source address is not permitted" 'not from a permitted source address \(127\.0\.0\.1\)' "$(cat "$T/said")"
out=$(present elsewhere -b 127.0.0.2) || fail "the certificate for 127.0.0.2 was refused from 127.0.0.2: $out"
expect_eq "the same certificate logs in from 127.0.0.2 (the control)" presented-ok "$out"

# ---- the gateway's certificates on other-1, then revoked by time range ----
out=$(gw_ssh alice+other-1 'echo gateway-on-other' 2>&1) || fail "alice+other-1: $out"
expect_eq "the gateway logs in to other-1 with its own certificate" gateway-on-other "$out"
now=$(date +%s)
# serials are issue time << 32 | 32 random bits: a range of them is a period
printf 'serial: %d-%d\n' $(((now - 3600) << 32)) $(((now + 3600) << 32)) >"$T/range.txt"
ssh-keygen -q -k -f "$T/other.krl" -s "$CA.pub" "$T/range.txt" 2>/dev/null || fail "ssh-keygen -k (range)"
rc=0
out=$(gw_ssh alice+other-1 'echo should-not-run' 2>&1) || rc=$?
expect_ne "a serial range covering now revokes the gateway's next certificate" 0 "$rc"
expect_nomatch "nothing ran" 'should-not-run' "$out"
expect_match "other-1's sshd refused it as revoked" 'revoked' "$(cat "$T/other.log")"

# ---- a certificate never outlives the grant it was issued on ----
out=$(as alice request web-1 --for 60s --reason cert-until-grant-end 2>&1) || fail "request: $out"
gid=$(sed -n 's/^request \([0-9]*\) pending.*/\1/p' <<<"$out")
[ -n "$gid" ] || fail "no request id in: $out"
out=$(as bob approve "$gid" 2>&1) || fail "approve: $out"
out=$(gw_ssh alice+web-1 'echo on-a-short-grant' 2>"$T/short.err") || fail "alice+web-1 on grant $gid: $out $(cat "$T/short.err")"
expect_eq "a session on a grant of 60 s" on-a-short-grant "$out"
ends=$(db_query "SELECT ends_at FROM grants WHERE id = $gid")
sid=$(db_query "SELECT id FROM sessions WHERE target = 'web-1' AND grant_id = $gid ORDER BY rowid DESC LIMIT 1")
row=$(db_query "SELECT time, details FROM audit WHERE event = 'cert.issue' AND object = 'session $sid'")
[ -n "$row" ] || fail "no cert.issue row for session $sid (grant $gid)"
issued=${row%%|*}
before=$(sed -n 's/.*"valid_before": *\([0-9]*\).*/\1/p' <<<"$row")
expect_lt "the grant ends sooner than cert_ttl (2m) after issue (the premise)" "$((issued + 120))" "$ends"
expect_eq "the certificate is valid until the grant's end, not cert_ttl" "$ends" "$before"

# ---- a target that does not trust the CA ----
seq0=$(db_query "SELECT coalesce(max(seq), 0) FROM audit")
rc=0
out=$(gw_ssh alice+untrusting-1 'echo reached' 2>&1) || rc=$?
expect_ne "a target that does not trust the CA is refused" 0 "$rc"
expect_nomatch "nothing ran there" 'reached' "$out"
want="cert-authority,principals=\"drawbridge:untrusting-1\" $(cut -d' ' -f1,2 "$CA.pub")"
expect_match "the refusal names the target" 'untrusting-1' "$out"
grep -qF "$want" <<<"$out" || fail "the refusal does not carry the missing line ($want): $out"
pass "the refusal carries the authorized_keys line the target misses"
expect_eq "the refusal is one line" 1 "$(grep -c . <<<"$out")"
row=$(db_query "SELECT event, details FROM audit WHERE seq > $seq0 AND object = 'untrusting-1' AND event = 'upstream.fail'")
grep -qF 'cert-authority,principals=\"drawbridge:untrusting-1\"' <<<"$row" ||
    fail "no upstream.fail audit row with the missing line: $row"
pass "the refusal is audited with the missing line"
finish
