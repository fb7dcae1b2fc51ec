#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Port forwarding (-L, -R, -D), agent forwarding (-A) and X11 forwarding (-X)
# are refused, both towards a target and on the gateway's own shell.  The
# target sshd allows all of them (see lib.sh), and each check first shows
# that a direct connection would get them, so only the gateway can say no.
# Depends on: session.c (channel-open and global-request refusals), relay.c
# (auth-agent-req and x11-req not relayed).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
shared_env

t=$(test_tmpdir) || fail "cannot create a temporary directory"
BG=()
cleanup() {
    local p
    for p in "${BG[@]}"; do kill_tree "$p"; done
    [ -n "${SSH_AGENT_PID:-}" ] && kill "$SSH_AGENT_PID" 2>/dev/null
    rm -rf "$t"
}
trap cleanup EXIT

probe() { "$PY" "$LIB_DIR/tcpprobe.py" read 127.0.0.1 "$@"; }

# ---- -L: direct-tcpip to the target's sshd port ----
lport=$(free_port)
direct_ssh -N -o ExitOnForwardFailure=yes -L "$lport:127.0.0.1:$TARGET_PORT" 2>"$t/direct-L.err" &
BG+=($!)
wait_port "$lport" "${BG[-1]}" "direct ssh -L" || fail "direct -L did not listen"
expect_match "(direct) -L reaches the target" '^SSH-2\.0-' "$(probe "$lport")"
kill_tree "${BG[-1]}"

for who in alice+staging-1 alice; do
    lport=$(free_port)
    gw_ssh "$who" -N -L "$lport:127.0.0.1:$TARGET_PORT" 2>"$t/L.err" &
    BG+=($!)
    wait_port "$lport" "${BG[-1]}" "ssh -L via the gateway" || fail "ssh -L did not listen: $(cat "$t/L.err")"
    expect_nomatch "-L through $who does not reach anything" 'SSH-2\.0-' "$(probe "$lport")"
    kill_tree "${BG[-1]}"
    wait "${BG[-1]}" 2>/dev/null
    NOCASE=1 expect_match "-L through $who: the channel open was refused" 'open failed|prohibited|refused' "$(cat "$t/L.err")"
done

# ---- -D: dynamic (SOCKS4) forwarding ----
lport=$(free_port)
direct_ssh -N -o ExitOnForwardFailure=yes -D "127.0.0.1:$lport" 2>"$t/direct-D.err" &
BG+=($!)
wait_port "$lport" "${BG[-1]}" "direct ssh -D" || fail "direct -D did not listen"
expect_match "(direct) -D reaches the target (its banner after the SOCKS4 reply)" 'SSH-2\.0-OpenSSH' "$(probe "$lport" --socks4 "$TARGET_PORT")"
kill_tree "${BG[-1]}"

for who in alice+staging-1 alice; do
    lport=$(free_port)
    gw_ssh "$who" -N -D "127.0.0.1:$lport" 2>"$t/D.err" &
    BG+=($!)
    wait_port "$lport" "${BG[-1]}" "ssh -D via the gateway" || fail "ssh -D did not listen: $(cat "$t/D.err")"
    expect_nomatch "-D through $who does not reach anything" 'SSH-2\.0-' "$(probe "$lport" --socks4 "$TARGET_PORT")"
    kill_tree "${BG[-1]}"
    wait "${BG[-1]}" 2>/dev/null
done

# ---- -R: tcpip-forward global request ----
out=$(direct_ssh -o ExitOnForwardFailure=yes -R "0:127.0.0.1:$TARGET_PORT" 'echo forwarded' 2>&1) ||
    fail "(direct) -R: $out"
expect_match "(direct) -R is allowed by the target" 'forwarded' "$out"
for who in alice+staging-1 alice; do
    rc=0
    out=$(gw_ssh "$who" -o ExitOnForwardFailure=yes -R "0:127.0.0.1:$TARGET_PORT" whoami 2>&1) || rc=$?
    expect_eq "-R through $who makes ssh give up (ExitOnForwardFailure)" 255 "$rc"
    NOCASE=1 expect_match "-R through $who: the request was refused" 'remote port forwarding failed' "$out"
done

# ---- -A: agent forwarding ----
eval "$(ssh-agent -s)" >/dev/null || fail "ssh-agent did not start"
agentcmd='echo "agent=${SSH_AUTH_SOCK:-none}"'
out=$(GW_AGENT=$SSH_AUTH_SOCK direct_ssh -A "$agentcmd" 2>&1) || fail "(direct) -A: $out"
expect_match "(direct) the target would accept agent forwarding" '^agent=/' "$out"
out=$(GW_AGENT=$SSH_AUTH_SOCK gw_ssh alice+staging-1 -A "$agentcmd" 2>&1) || fail "-A through the gateway: $out"
expect_match "-A: the session still runs" '^agent=' "$out"
expect_match "-A: no agent socket on the target" '^agent=none$' "$out"

# ---- -X: X11 forwarding (no X server is needed to ask for it) ----
x11=(-o ForwardX11=yes -o ForwardX11Trusted=yes -o XAuthLocation=/bin/true)
x11cmd='echo "display=${DISPLAY:-none}"'
out=$(DISPLAY=:55 direct_ssh "${x11[@]}" "$x11cmd" 2>&1) || fail "(direct) -X: $out"
expect_match "(direct) the target would accept X11 forwarding" '^display=[^n]' "$out"
out=$(DISPLAY=:55 gw_ssh alice+staging-1 "${x11[@]}" "$x11cmd" 2>&1) || fail "-X through the gateway: $out"
expect_match "-X: the session still runs" '^display=' "$out"
expect_match "-X: no DISPLAY on the target" '^display=none$' "$out"

gw_still_serves
finish
