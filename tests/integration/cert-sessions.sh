#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Certificate mode end to end (DESIGN.md, "Per-session certificates"): a
# shell, an exec, scp, sftp and rsync to staging-1, each logging in to the
# real sshd with a certificate -- sshd (LogLevel VERBOSE) names the key ID,
# which must name this user, target, login, the session's own id and its
# grant, and the serial, which must be the one the cert.issue audit row
# recorded.  The target holds no static key, so nothing passes by falling
# back to it; keyed-1 (upstream_auth: key) still logs in with the static
# key, and no certificate is made for it.
# Depends on: upstream.c (certificate mode), broker/signer, lib.sh (the
# environment in certificate mode).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
shared_env

t=$(test_tmpdir) || fail "cannot create a temporary directory"
trap 'rm -rf "$t"' EXIT
R="alice+staging-1@$GW_HOST"

static=$(head -n 1 "$DIR/keyed_authorized_keys")
case "$static" in *drawbridge-upstream) ;; *) fail "no static upstream key in keyed_authorized_keys" ;; esac
if grep -qF "$(cut -d' ' -f2 <<<"$static")" "$DIR/target_authorized_keys"; then
    fail "the certificate-mode target trusts the static upstream key"
fi
pass "the target sshd does not hold the static upstream key"

last_session_rowid() { db_query "SELECT coalesce(max(rowid), 0) FROM sessions"; }

# check_sessions WHAT ROWID KIND: every session of alice on staging-1 after
# ROWID logged in with a certificate naming it, whose serial is audited.
check_sessions() {
    local what=$1 since=$2 kind=$3 ids id line serial row n=0
    ids=$(db_query "SELECT id FROM sessions WHERE rowid > $since AND user = 'alice' AND target = 'staging-1' AND kind = '$kind'")
    [ -n "$ids" ] || fail "$what: no $kind session row"
    for id in $ids; do
        line=$(grep -F "Accepted certificate ID \"drawbridge user=alice target=staging-1 login=$LOGIN session=$id grant=standing\"" \
            "$DIR/target_sshd.log" | head -n 1)
        if [ -z "$line" ]; then
            # a connection carries one certificate, named after its first session
            continue
        fi
        serial=$(sed -n 's/.*(serial \([0-9]*\)).*/\1/p' <<<"$line")
        row=$(db_query "SELECT details FROM audit WHERE event = 'cert.issue' AND object = 'session $id'")
        expect_match "$what: the cert.issue row of session $id holds serial $serial" "\"serial\": *\"$serial\"" "$row"
        expect_match "$what: and its validity" '"valid_after": *[0-9]+.*"valid_before": *[0-9]+' "$row"
        n=$((n + 1))
    done
    [ "$n" -ge 1 ] || fail "$what: sshd logged no certificate naming the sessions ($ids): $(grep -c 'Accepted certificate' "$DIR/target_sshd.log") certificates in its log"
    pass "$what: sshd accepted a certificate naming the session ($n)"
}

since=$(last_session_rowid)
out=$(printf 'echo shell-ok-$((6*7))\nexit\n' | gw_ssh alice+staging-1 -tt 2>&1) || fail "shell: $out"
expect_match "a shell through a certificate" 'shell-ok-42' "$out"
check_sessions shell "$since" shell

since=$(last_session_rowid)
out=$(gw_ssh alice+staging-1 'echo exec-ok; id -un' 2>&1) || fail "exec: $out"
expect_eq "exec through a certificate" "exec-ok
$LOGIN" "$out"
check_sessions exec "$since" exec

head -c 200K /dev/urandom >"$t/file.bin"
since=$(last_session_rowid)
gw_scp -q "$t/file.bin" "$R:$t/scp-up.bin" 2>"$t/err" || fail "scp: $(cat "$t/err")"
cmp -s "$t/file.bin" "$t/scp-up.bin" || fail "scp: the copy differs"
pass "scp through a certificate"
# OpenSSH 9's scp speaks sftp: a subsystem session
check_sessions scp "$since" subsystem

since=$(last_session_rowid)
printf 'get %s %s\n' "$t/file.bin" "$t/sftp-down.bin" | gw_sftp alice+staging-1 -b - >"$t/sftp.out" 2>&1 ||
    fail "sftp: $(cat "$t/sftp.out")"
cmp -s "$t/file.bin" "$t/sftp-down.bin" || fail "sftp: the copy differs"
pass "sftp through a certificate"
check_sessions sftp "$since" subsystem

mkdir -p "$t/tree/a"
echo one >"$t/tree/a/one"
since=$(last_session_rowid)
gw_rsync -a "$t/tree/" "$R:$t/rsync-up/" 2>"$t/err" || fail "rsync: $(cat "$t/err")"
diff -r "$t/tree" "$t/rsync-up" >/dev/null || fail "rsync: the tree differs"
pass "rsync through a certificate"
check_sessions rsync "$since" exec

# keyed-1: the static key, no certificate.
fp=$(ssh-keygen -lf - <<<"$static" | cut -d' ' -f2)
issued=$(db_query "SELECT count(*) FROM audit WHERE event = 'cert.issue'")
out=$(gw_ssh alice+keyed-1 'echo keyed-ok' 2>&1) || fail "keyed-1: $out"
expect_eq "keyed-1 (upstream_auth: key) is reached" keyed-ok "$out"
wait_log() { grep -qF "$1" "$2"; }
for _ in $(seq 1 20); do wait_log "ED25519 $fp" "$DIR/keyed_sshd.log" && break; sleep 0.1; done
grep -qF "ED25519 $fp" <<<"$(grep -F "Accepted publickey for $LOGIN " "$DIR/keyed_sshd.log")" ||
    fail "keyed-1's sshd did not accept the static key ($fp): $(grep Accepted "$DIR/keyed_sshd.log")"
pass "keyed-1's sshd accepted the static key ($fp)"
expect_eq "no certificate was made for keyed-1" 0 \
    "$(db_query "SELECT count(*) FROM audit WHERE event = 'cert.issue' AND details LIKE '%keyed-1%'")"
expect_ne "(while certificates were made for the others)" 0 "$issued"
finish
