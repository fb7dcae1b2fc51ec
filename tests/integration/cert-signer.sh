#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The signer under its own account (started as root with user: nobody and
# upstream.signer_user: daemon), and what a compromised session child can
# get out of it:
#   - the signer runs as daemon, its checker and the session children as
#     nobody, none of them dumpable; the signer is not the listener's child;
#   - user_ca belongs to daemon (0600), and the session account gets EACCES
#     on it (daemon itself can read it: the control);
#   - a session child's own signer socket, taken from a live child
#     (pidfd_getfd) and written to directly: a request for a target alice has
#     no grant for, one for another user, one for a key-mode target and
#     malformed bytes are all refused and audited; only what alice may reach
#     is certified (staging-1 now, web-1 once a grant is approved); a burst
#     over cert_rate is refused and audited once; a flood of requests whose
#     answers are never read gets the socket closed, and stalls no one;
#   - source-address is the child's own connection's: a request naming an
#     outside address or another local one, or sent without a connected TCP
#     socket (none, a listening one, UDP), is refused and audited;
#   - the CA key unreadable: refused with one line and audited, then served
#     again once readable, without a restart;
#   - the CA rotated without downtime (README): the new key is used at the
#     next connection while the targets trust both;
#   - the signer killed: certificate-mode connections refused with one line
#     and an audit row, never the static key; keyed-1 still served.
# Depends on: server.c, broker/signer, upstream.c.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

if [ "$(id -u)" != 0 ]; then
    skip "needs root to run the signer under its own account"
fi
export GW_CONFIG_EXTRA="user: nobody"
export GW_UPSTREAM="{auth: certificate, cert_ttl: 2m, signer_user: daemon, cert_rate: 12}"
umask 022
DIR=$(test_tmpdir) || fail "cannot create a temporary directory"
chmod 0755 "$DIR"
trap 'rc=$?; env_down "$rc" || rc=1; exit $rc' EXIT
trap 'exit 130' INT TERM
env_up "$DIR" || fail "env_up failed"
chmod 0644 "$CFG" "$POLICY" "$LDAP_SECRET"
T=$DIR/t
mkdir -p "$T"
KEYS=$DIR/state/keys

uid_of() { awk '/^Uid:/ {print $2 "," $3 "," $4 "," $5}' "/proc/$1/status"; }
logged_pid() { sed -n "s/.*$1 pid=\([0-9]*\) uid=.*/\1/p" "$DIR/gw.log" | tail -n 1; }
nobody=$(id -u nobody)
daemon=$(id -u daemon)

# ---- accounts and files ----
signer=$(logged_pid signer.start)
checker=$(logged_pid checker.start)
[ -n "$signer" ] && [ -n "$checker" ] || fail "the signer and checker did not log their pids"
expect_eq "the signer runs as daemon (real, effective, saved, fs uid)" "$daemon,$daemon,$daemon,$daemon" "$(uid_of "$signer")"
expect_eq "its checker runs as the gateway's account" "$nobody,$nobody,$nobody,$nobody" "$(uid_of "$checker")"
expect_eq "the listener runs as the gateway's account" "$nobody,$nobody,$nobody,$nobody" "$(uid_of "$GW_PID")"
expect_eq "the signer is not dumpable" root "$(stat -c %U "/proc/$signer/environ")"
expect_eq "nor is its checker" root "$(stat -c %U "/proc/$checker/environ")"
grep -qx "$signer" <<<"$(pgrep -P "$GW_PID")" && fail "the signer is a child of the listener"
pass "the signer is not the listener's child"
expect_eq "user_ca belongs to the signer's account, 0600" "daemon 600" "$(stat -c '%U %a' "$KEYS/user_ca")"
expect_eq "user_ca.pub is readable" "644" "$(stat -c '%a' "$KEYS/user_ca.pub")"
expect_eq "keys/: the signer's group may pass, not list" "nobody daemon 710" "$(stat -c '%U %G %a' "$KEYS")"
expect_eq "state_dir too" "nobody daemon 710" "$(stat -c '%U %G %a' "$DIR/state")"
# read_as USER GROUP FILE: "ok" or the errno name of open(FILE)
read_as() {
    setpriv --reuid="$1" --regid="$2" --clear-groups -- "$PY" -c '
import errno, sys
try:
    open(sys.argv[1], "rb").read(1)
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])' "$3"
}
expect_eq "the session account gets EACCES on user_ca" EACCES "$(read_as nobody nogroup "$KEYS/user_ca")"
expect_eq "the signer's account can read it (the control)" ok "$(read_as daemon daemon "$KEYS/user_ca")"
expect_eq "the session account can read user_ca.pub" ok "$(read_as nobody nogroup "$KEYS/user_ca.pub")"

out=$(gw_ssh alice+staging-1 'echo via-signer' 2>&1) || fail "a session through the separated signer: $out"
expect_eq "a session works with the signer under its own account" via-signer "$out"

# session_pid USER COMMAND: the pid of USER's live session running a command
# that starts with COMMAND, once it is in the store (within 10 s).
session_pid() {
    local pid
    for _ in $(seq 1 100); do
        pid=$(db_query "SELECT pid FROM sessions WHERE user = '$1' AND command LIKE '$2%' AND ended_at = 0")
        [ -n "$pid" ] && printf '%s\n' "$pid" && return 0
        sleep 0.1
    done
    return 1
}

# ---- a compromised session child ----
gw_ssh alice+staging-1 'sleep 25; echo child-done' >"$T/victim.out" 2>&1 &
victim=$!
child=$(session_pid alice 'sleep 25') || fail "the session to take the socket from did not start"
sid=$(db_query "SELECT id FROM sessions WHERE pid = $child AND ended_at = 0")
seq0=$(db_query "SELECT max(seq) FROM audit")
forge() { "$PY" "$LIB_DIR/signer_forge.py" "$child" "$@"; }
jfield() { "$PY" -c 'import json,sys; print(json.loads(sys.stdin.readline())[sys.argv[1]])' "$1"; }

out=$(forge request alice web-1 "$LOGIN" "$sid" 127.0.0.1) || fail "forge: $out"
expect_eq "a forged request for web-1 (no grant) is refused" 1 "$(jfield status <<<"$out")"
expect_match "and says why" 'no active grant' "$(jfield message <<<"$out")"
row=$(db_query "SELECT actor, details FROM audit WHERE seq > $seq0 AND event = 'cert.refused' AND object = 'web-1'")
expect_match "the refusal is audited against web-1, as alice" '^alice\|.*no active grant' "$row"

out=$(forge request bob staging-1 "$LOGIN" "$sid" 127.0.0.1) || fail "forge: $out"
expect_eq "a request for another user on alice's socket is refused" 1 "$(jfield status <<<"$out")"
expect_match "(authenticated as alice)" 'authenticated as alice' "$(jfield message <<<"$out")"

out=$(forge request alice keyed-1 "$LOGIN" "$sid" 127.0.0.1) || fail "forge: $out"
expect_eq "a request for a key-mode target is refused" 1 "$(jfield status <<<"$out")"

out=$(forge raw 0101deadbeef) || fail "forge: $out"
expect_eq "malformed bytes are refused" 1 "$(jfield status <<<"$out")"
long=$(head -c 9000 /dev/zero | od -An -v -tx1 | tr -d ' \n')
out=$(forge raw "0101$long") || fail "forge: $out"
expect_eq "an oversized message is refused" 1 "$(jfield status <<<"$out")"
n=$(db_query "SELECT count(*) FROM audit WHERE seq > $seq0 AND event = 'cert.refused' AND actor = 'alice'")
expect_eq "each of the five refusals is audited" 5 "$n"

out=$(forge request alice staging-1 "$LOGIN" "$sid" 127.0.0.1) || fail "forge: $out"
expect_eq "what alice may reach anyway (staging-1) is certified" 0 "$(jfield status <<<"$out")"
jfield cert <<<"$out" >"$T/forged-cert.pub"
L=$(ssh-keygen -L -f "$T/forged-cert.pub") || fail "ssh-keygen -L on the forged certificate"
expect_match "for staging-1's principal only" 'Principals: *
 *drawbridge:staging-1
 *Critical' "$L"
expect_match "naming alice" "Key ID: \"drawbridge user=alice target=staging-1 login=$LOGIN session=$sid grant=standing\"" "$L"

# a grant makes web-1 reachable: only then is it certified
out=$(as alice request web-1 --for 30m --reason forged-request-test 2>&1) || fail "request: $out"
id=$(sed -n 's/^request \([0-9]*\) pending.*/\1/p' <<<"$out")
[ -n "$id" ] || fail "no request id in: $out"
out=$(as bob approve "$id" 2>&1) || fail "approve: $out"
out=$(forge request alice web-1 "$LOGIN" "$sid" 127.0.0.1) || fail "forge: $out"
expect_eq "with a grant, web-1 is certified" 0 "$(jfield status <<<"$out")"
jfield cert <<<"$out" >"$T/granted-cert.pub"
expect_match "with the grant in the key ID" "grant=$id\"" "$(ssh-keygen -L -f "$T/granted-cert.pub")"

# cert_rate: 12 a minute: a burst of 16 cannot all pass, and is audited once
seq1=$(db_query "SELECT max(seq) FROM audit")
out=$(forge request alice staging-1 "$LOGIN" "$sid" 127.0.0.1 16) || fail "forge: $out"
refused=$(grep -c '"too many certificate requests' <<<"$out" || true)
[ "$refused" -ge 1 ] || fail "a burst of 16 over cert_rate 12 was not limited: $out"
pass "a burst over cert_rate is refused ($refused of 16)"
expect_eq "and audited once" 1 "$(db_query "SELECT count(*) FROM audit WHERE seq > $seq1 AND event = 'cert.refused' AND details LIKE '%too many%'")"

# a child that asks and never reads its answers is cut off, and stalls nobody
out=$(forge flood 5000) || fail "forge flood: $out"
expect_eq "a child that reads no answers has its signer socket closed" True "$(jfield closed <<<"$out")"
run dave+staging-1 'echo not-stalled'
expect_eq "meanwhile the signer serves others" not-stalled "$OUT"

wait "$victim" || fail "the session whose socket was used failed: $(cat "$T/victim.out")"
expect_eq "the session whose socket was used went on" child-done "$(cat "$T/victim.out")"

# ---- source-address: the gateway's end of the child's own connection ----
# A child that could name any address would get a certificate usable from
# outside the gateway (its owner's laptop), for a session nobody records.
as dave+staging-1 'sleep 20; echo dave-done' >"$T/dave.out" 2>&1 &
dvictim=$!
child=$(session_pid dave 'sleep 20') || fail "dave's session to take the socket from did not start"
dsid=$(db_query "SELECT id FROM sessions WHERE pid = $child AND ended_at = 0")
seq4=$(db_query "SELECT max(seq) FROM audit")
out=$(forge request dave staging-1 "$LOGIN" "$dsid" 203.0.113.7) || fail "forge: $out"
expect_eq "a request naming an address outside the gateway (203.0.113.7) is refused" 1 "$(jfield status <<<"$out")"
expect_match "(not the connection's address)" "not the gateway's address on this connection \\(127\\.0\\.0\\.1\\)" "$(jfield message <<<"$out")"
out=$(forge request dave staging-1 "$LOGIN" "$dsid" 127.0.0.2) || fail "forge: $out"
expect_eq "so is another local address than the connection's (127.0.0.2)" 1 "$(jfield status <<<"$out")"
out=$(FORGE_CONN=none forge request dave staging-1 "$LOGIN" "$dsid" 127.0.0.1) || fail "forge: $out"
expect_eq "a request without its connection is refused" 1 "$(jfield status <<<"$out")"
expect_match "(says so)" 'without its connection' "$(jfield message <<<"$out")"
out=$(FORGE_CONN=listen forge request dave staging-1 "$LOGIN" "$dsid" 127.0.0.1) || fail "forge: $out"
expect_eq "a listening socket in place of the connection is refused" 1 "$(jfield status <<<"$out")"
out=$(FORGE_CONN=udp forge request dave staging-1 "$LOGIN" "$dsid" 127.0.0.1) || fail "forge: $out"
expect_eq "a UDP socket in place of the connection is refused" 1 "$(jfield status <<<"$out")"
expect_eq "each of these refusals is audited" 5 "$(db_query "SELECT count(*) FROM audit WHERE seq > $seq4 AND event = 'cert.refused' AND actor = 'dave'")"
expect_eq "and nothing was issued" 0 "$(db_query "SELECT count(*) FROM audit WHERE seq > $seq4 AND event = 'cert.issue'")"
out=$(forge request dave staging-1 "$LOGIN" "$dsid" 127.0.0.1) || fail "forge: $out"
expect_eq "the connection's own address is certified (the control)" 0 "$(jfield status <<<"$out")"
jfield cert <<<"$out" >"$T/dave-cert.pub"
expect_match "source-address is that address" 'source-address 127\.0\.0\.1' "$(ssh-keygen -L -f "$T/dave-cert.pub")"
expect_match "the audit row names the connection's peer" '"peer": *"127\.0\.0\.1:[0-9]+"' \
    "$(db_query "SELECT details FROM audit WHERE seq > $seq4 AND event = 'cert.issue' AND actor = 'dave'")"
wait "$dvictim" || fail "dave's session whose socket was used failed: $(cat "$T/dave.out")"
expect_eq "dave's session went on" dave-done "$(cat "$T/dave.out")"

# ---- the CA key unreadable, then readable again ----
chmod 000 "$KEYS/user_ca"
seq2=$(db_query "SELECT max(seq) FROM audit")
run dave+staging-1 'echo no'
expect_refusal "with the CA key unreadable, a certificate-mode session" 255 "authority's key cannot be read"
expect_eq "audited as a refused certificate" 1 "$(db_query "SELECT count(*) FROM audit WHERE seq > $seq2 AND event = 'cert.refused' AND details LIKE '%cannot be read%'")"
expect_eq "and as a failed upstream login" 1 "$(db_query "SELECT count(*) FROM audit WHERE seq > $seq2 AND event = 'upstream.fail' AND object = 'staging-1'")"
chmod 600 "$KEYS/user_ca"
run dave+staging-1 'echo readable-again'
expect_eq "readable again: served without a restart" readable-again "$OUT"

# ---- rotating the CA without downtime (README) ----
ssh-keygen -q -t ed25519 -N '' -C drawbridge-user-ca -f "$T/user_ca.new" || fail "ssh-keygen"
old=$(cut -d' ' -f1,2 "$KEYS/user_ca.pub")
new=$(cut -d' ' -f1,2 "$T/user_ca.new.pub")
newfp=$(ssh-keygen -lf "$T/user_ca.new.pub" | cut -d' ' -f2)
# 1. the targets trust both
sed "s#$old#$new#" "$DIR/target_authorized_keys" | grep '^cert-authority' >>"$DIR/target_authorized_keys"
# 2. the new key replaces the old one, owned by the signer's account
install -o daemon -g daemon -m 0600 "$T/user_ca.new" "$KEYS/user_ca.tmp" && mv "$KEYS/user_ca.tmp" "$KEYS/user_ca"
install -o daemon -g daemon -m 0644 "$T/user_ca.new.pub" "$KEYS/user_ca.pub.tmp" && mv "$KEYS/user_ca.pub.tmp" "$KEYS/user_ca.pub"
run dave+staging-1 'echo rotated'
expect_eq "the next session uses the new CA" rotated "$OUT"
grep 'Accepted certificate ID "drawbridge user=dave' "$DIR/target_sshd.log" | tail -n 1 | grep -qF "signed by CA ED25519 $newfp" ||
    fail "the last certificate of dave was not signed by the new CA ($newfp)"
pass "signed by the new CA ($newfp)"
# 3. after cert_ttl the old lines go
grep -vF "$old" "$DIR/target_authorized_keys" >"$T/ak" && cat "$T/ak" >"$DIR/target_authorized_keys"
run dave+staging-1 'echo old-ca-gone'
expect_eq "with the old CA removed from the target, sessions go on" old-ca-gone "$OUT"

# ---- the signer killed ----
kill -KILL "$signer"
for _ in $(seq 1 50); do grep -q 'signer\.down' "$DIR/gw.log" && break; sleep 0.1; done
expect_match "the listener notices the signer is gone" 'signer\.down' "$(cat "$DIR/gw.log")"
for _ in $(seq 1 50); do kill -0 "$checker" 2>/dev/null || break; sleep 0.1; done
kill -0 "$checker" 2>/dev/null && fail "the checker outlived the signer"
pass "the checker ended with the signer"
seq3=$(db_query "SELECT max(seq) FROM audit")
run dave+staging-1 'echo no'
expect_refusal "with the signer down, a certificate-mode session" 255 "no certificate signer is running|signer is not running"
expect_eq "audited" 1 "$(db_query "SELECT count(*) FROM audit WHERE seq > $seq3 AND event = 'upstream.fail' AND details LIKE '%signer%'")"
staticfp=$(ssh-keygen -lf "$DIR/keyed_authorized_keys" | head -n 1 | cut -d' ' -f2)
grep -qF "ED25519 $staticfp" <<<"$(grep -F "publickey for" "$DIR/target_sshd.log")" &&
    fail "the static key ($staticfp) was tried on the certificate-mode target"
pass "and the static key was not tried on the target"
run dave+keyed-1 'echo key-mode-ok'
expect_eq "a key-mode target is still served" key-mode-ok "$OUT"
finish
