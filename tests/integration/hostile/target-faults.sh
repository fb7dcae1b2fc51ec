#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Faults on the way to a target, each refused with a message and an audit
# row that says what went wrong, nothing run, and the gateway still serving:
#   - the target is down (nothing listens): refused within 15 s;
#   - the target's host key changed (its key regenerated, sshd restarted):
#     refused, the message names the host key, and once the pinned key is
#     back the target is reached again;
#   - the recordings directory is unusable (a file where the directory
#     should be): every target session is refused (recording is
#     fail-closed), nothing runs; once it is back, sessions work.
# refusals.sh covers a pinned key that never matched (wrongkey-1) and the
# down target's message on the shared environment.
# Runs in an environment of its own (it restarts the target sshd).
# Depends on: upstream.c (pinning, connect errors), recorder.c (fail-closed),
# channel.c (refusals and their audit rows).
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../jit-lib.sh
. "$(dirname "$0")/../jit-lib.sh"
# shellcheck source=lib-hostile.sh
. "$(dirname "$0")/lib-hostile.sh"
private_env
T=$DIR/scratch
mkdir -p "$T"

# attempt WHO MARKER: runs "touch MARKER; echo reached-target" through WHO.
attempt() {
    local t0
    t0=$(now_ms)
    RC=0
    OUT=$(gw_ssh "$1" "touch $2; echo reached-target" 2>&1) || RC=$?
    MS=$(($(now_ms) - t0))
}

# audit_reason WHAT SEQ0 OBJECT ERE ID: a row since SEQ0 about OBJECT
# whose details (not its event or object name) say ERE; weakness ID when
# there is no row, ID-no-reason when no row says why.
audit_reason() {
    local rows details
    rows=$(audit_filter 'int(r["seq"]) > int(a[0]) and r.get("object") == a[1]
        and r.get("event") not in ("auth.success", "auth.failure")' "$2" "$3")
    [ -n "$rows" ] || { weak "$5" "$1: no audit row about $3"; return; }
    pass "$1: audited ($(printf '%s\n' "$rows" | "$PY" -c 'import json,sys; print(", ".join(json.loads(l)["event"] for l in sys.stdin))'))"
    details=$(printf '%s\n' "$rows" | "$PY" -c 'import json,sys; [print(json.dumps(json.loads(l).get("details"))) for l in sys.stdin]')
    if grep -qiE -- "$4" <<<"$details"; then
        pass "$1: the audit row says why (/$4/)"
    else
        weak "$5-no-reason" "$1: the audit row does not say why (no /$4/ in its details): $(printf '%s\n' "$details" | head -c 400)"
    fi
}

# ---- target down ----
seq0=$(audit_last_seq)
attempt alice+down-1 "$T/ran-down"
expect_ne "down-1 is refused" 0 "$RC"
expect_lt "down-1 is refused within 15 s (ms)" 15000 "$MS"
expect_match "the message says the target is unreachable" \
    "^drawbridge: target down-1 \\(127\\.0\\.0\\.1:$DOWN_PORT\\) is unreachable: " "$OUT"
expect_nomatch "nothing ran on the way" 'reached-target' "$OUT"
audit_reason "target down" "$seq0" down-1 'unreachable|connection refused|cannot connect' target-down-not-audited

# ---- host key changed ----
cp "$DIR/target_host_ed25519" "$T/pinned_key"
cp "$DIR/target_host_ed25519.pub" "$T/pinned_key.pub"
restart_target() {
    stop_pid "$(cat "$DIR/target_sshd.pid" 2>/dev/null)" "target sshd"
    stop_pid "${TARGET_PID:-}" "target sshd"
    target_start || fail "the target sshd did not restart"
}
rm -f "$DIR/target_host_ed25519" "$DIR/target_host_ed25519.pub"
ssh-keygen -q -t ed25519 -N '' -C changed -f "$DIR/target_host_ed25519" || fail "ssh-keygen"
restart_target
seq0=$(audit_last_seq)
attempt alice+staging-1 "$T/ran-hostkey"
expect_ne "staging-1 with a changed host key is refused" 0 "$RC"
NOCASE=1 expect_match "the message names the host key" 'host ?key' "$OUT"
[ -e "$T/ran-hostkey" ] && fail "the command ran on a target whose host key changed"
pass "nothing ran on the target with the changed key"
audit_reason "changed host key" "$seq0" staging-1 'host ?key|mismatch|SHA256:' hostkey-change-not-audited
cp "$T/pinned_key" "$DIR/target_host_ed25519"
cp "$T/pinned_key.pub" "$DIR/target_host_ed25519.pub"
restart_target
attempt alice+staging-1 "$T/ran-back"
expect_eq "with the pinned key back, staging-1 is reached" 0 "$RC"
rm -f "$T/ran-back"

# ---- recordings directory unusable ----
R=$DIR/state/recordings
[ -d "$R" ] || fail "no recordings directory at $R"
mv "$R" "$R.aside"
echo "not a directory" >"$R"
seq0=$(audit_last_seq)
attempt alice+staging-1 "$T/ran-norec"
expect_ne "with the recordings directory unusable, a target session is refused" 0 "$RC"
[ -e "$T/ran-norec" ] && fail "the command ran on the target without a recording"
pass "nothing ran on the target without a recording"
NOCASE=1 expect_match "the message says the session cannot be recorded" 'record' "$OUT"
audit_reason "recordings unusable" "$seq0" staging-1 'record' recording-refusal-not-audited
rows=$(audit_since "$seq0" | grep '"session.start"' || true)
if [ -n "$rows" ]; then
    n_end=$(audit_since "$seq0" | grep -c '"session.end"' || true)
    [ "$n_end" -ge 1 ] || weak session-row-left-open "a refused session has a session.start row and no session.end"
fi
# the gateway's own shell records nothing to a target; it may go on working
out=$(gw_ssh alice whoami 2>&1) && log "the gateway's shell works without the recordings directory" ||
    log "the gateway's shell is refused without the recordings directory: $out"
rm -f "$R"
mv "$R.aside" "$R"
attempt alice+staging-1 "$T/ran-recback"
expect_eq "with the recordings directory back, staging-1 is reached" 0 "$RC"
expect_verify_ok "verify passes after the faults"

gw_log_clean 1
gw_listener_alive
gw_still_serves
hostile_finish
