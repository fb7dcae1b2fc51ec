#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Started as root with `user: nobody`, the gateway hands state_dir to that
# account and runs as it: the listener and every session child are
# unprivileged, session children cannot be inspected by another process of
# the same account, and everything still works (login, a session to a
# target, its recording, the audit).
#
# Depends on: server.c (privilege drop), config.c (user:).
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
    skip "needs root to drop privileges"
fi
export GW_CONFIG_EXTRA="user: nobody"
# What the daemon reads after the drop must be readable by nobody: the
# config and policy (SIGHUP) and the LDAP bind secret (each session child).
umask 022
DIR=$(test_tmpdir) || fail "cannot create a temporary directory"
chmod 0755 "$DIR"
trap 'rc=$?; env_down "$rc" || rc=1; exit $rc' EXIT
trap 'exit 130' INT TERM
env_up "$DIR" || fail "env_up failed"
chmod 0644 "$CFG" "$POLICY" "$LDAP_SECRET"

uid_of() { awk '/^Uid:/ {print $2 "," $3 "," $4 "," $5}' "/proc/$1/status"; }
nobody=$(id -u nobody)

expect_eq "the listener runs as nobody (real, effective, saved, fs uid)" \
    "$nobody,$nobody,$nobody,$nobody" "$(uid_of "$GW_PID")"
expect_eq "state_dir belongs to nobody" nobody "$(stat -c %U "$DIR/state")"
expect_eq "the database belongs to nobody" nobody "$(stat -c %U "$DIR/state/drawbridge.db")"
expect_eq "the host key belongs to nobody" nobody "$(stat -c %U "$DIR/state/keys/host_ed25519")"

# A session: its child must be unprivileged too.
gw_ssh alice+staging-1 'sleep 3; echo priv-ok' >"$DIR/out.txt" 2>&1 &
client=$!
child=
for _ in $(seq 1 50); do
    child=$(pgrep -P "$GW_PID" | head -n 1)
    [ -n "$child" ] && break
    sleep 0.1
done
[ -n "$child" ] || fail "no session child appeared"
expect_eq "the session child runs as nobody" "$nobody,$nobody,$nobody,$nobody" "$(uid_of "$child")"
# Not dumpable: the kernel then gives its /proc entries to root, not to nobody.
expect_eq "the session child is not dumpable" root "$(stat -c %U "/proc/$child/environ")"
wait "$client" || fail "the session through the unprivileged gateway failed: $(cat "$DIR/out.txt")"
expect_eq "a session works through the unprivileged gateway" priv-ok "$(cat "$DIR/out.txt")"

# The recording and the audit were written by the unprivileged daemon.
rec=$(find "$DIR/state/recordings" -name '*.cast' | head -n 1)
[ -n "$rec" ] || fail "no recording was written"
expect_eq "the recording belongs to nobody" nobody "$(stat -c %U "$rec")"
expect_eq "the recording is private (0600)" 600 "$(stat -c %a "$rec")"
"$DRAWBRIDGE_BIN" audit -c "$CFG" --json >"$DIR/audit.json" || fail "drawbridge audit failed"
expect_match "the session is in the audit" '"event": *"session.end"' "$(cat "$DIR/audit.json")"
finish
