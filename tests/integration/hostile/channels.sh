#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# An authenticated client abusing channels and requests:
#   - channel-open floods: 200 session channels asked for at once on one
#     connection (at most the per-connection limit is granted, the rest
#     refused, the connection still works), 100 open/close cycles (slots are
#     given back), and four such connections at the same time; the gateway
#     keeps serving;
#   - every kind of forwarding -- direct-tcpip (-L, -D), tcpip-forward (-R),
#     streamlocal, x11, auth-agent channels, x11-req and auth-agent-req on a
#     session -- is refused and leaves a forwarding.refused row in the audit,
#     for OpenSSH's -L/-R/-D/-A/-X too (forwarding.sh shows they are refused
#     and that the target would have allowed them);
#   - a client cannot grow the audit chain without bound: 200 global
#     requests on one connection must not become 200 rows.
# Runs in an environment of its own (it counts audit rows).
# Depends on: channel.c (slots), session.c (refusals and their audit rows).
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
BG=()
trap 'rc=$?; for p in "${BG[@]}"; do kill_tree "$p"; done; env_down "$rc" || rc=1; exit $rc' EXIT
export RAWSSH_TIMEOUT=10
AUTH=(kex service auth-password:alice:alice-pw-2026)
AUTH_T=(kex service auth-password:alice+staging-1:alice-pw-2026)

# ---- channel floods ----
out=$(raw "${AUTH[@]}" flood:200 exec:whoami close-all exec:whoami)
expect_match "(alice authenticated)" '^auth-password -> USERAUTH_SUCCESS' "$out"
res=$(outcome_of flood "$out")
ok=$(printf '%s\n' "$res" | sed -n 's/.*confirmed=\([0-9]*\).*/\1/p')
bad=$(printf '%s\n' "$res" | sed -n 's/.*refused=\([0-9]*\).*/\1/p')
[ -n "$ok" ] || fail "200 channel opens: no count ($out)"
expect_lt "of 200 channels asked for at once, at most 16 were granted (got $ok)" 17 "$ok"
expect_eq "every one of the 200 was answered" 200 "$((ok + bad))"
expect_match "after closing them, a new channel still runs a command" \
    '^exec -> exec reply=CHANNEL_SUCCESS status=0 stdout=user: +alice' "$(printf '%s\n' "$out" | tail -n 1)"
out=$(raw "${AUTH[@]}" cycle:100 exec:whoami)
expect_match "100 open/close cycles on one connection" '^cycle -> cycles=100$' "$out"
expect_match "and a command still runs afterwards" '^exec -> exec reply=CHANNEL_SUCCESS status=0' "$out"
# towards a target: every granted channel is a target session
out=$(raw "${AUTH_T[@]}" flood:50 close-all exec:'echo still-here')
expect_match "a flood of target channels is answered" '^flood -> confirmed=[0-9]+ refused=[0-9]+$' "$out"
expect_match "and the target is still reached afterwards" '^exec -> exec reply=CHANNEL_SUCCESS status=0 stdout=still-here' "$out"
for i in 1 2 3 4; do
    raw "${AUTH[@]}" flood:300 close-all cycle:30 exec:whoami >"$T/par$i" 2>&1 &
    BG+=($!)
done
for p in "${BG[@]}"; do wait "$p" 2>/dev/null; done
BG=()
for i in 1 2 3 4; do
    expect_match "parallel flood $i: the connection still works" '^exec -> exec reply=CHANNEL_SUCCESS status=0' "$(cat "$T/par$i")"
done
gw_listener_alive

# ---- forwarding through the raw client: refused and audited ----
seq0=$(audit_last_seq)
out=$(raw "${AUTH_T[@]}" open:direct-tcpip open:x11 open:auth-agent@openssh.com \
    open:direct-streamlocal@openssh.com open:forwarded-tcpip global:tcpip-forward \
    global:streamlocal-forward@openssh.com exec:'echo still-here')
for s in open global; do
    if printf '%s\n' "$out" | grep -E "^$s -> " | grep -vqE "^$s -> (CHANNEL_OPEN_FAILURE|REQUEST_FAILURE)"; then
        fail "a forwarding $s was not refused: $out"
    fi
done
pass "direct-tcpip, x11, auth-agent, direct-streamlocal, forwarded-tcpip channels and tcpip/streamlocal-forward requests are refused"
expect_match "the session itself still works" '^exec -> exec reply=CHANNEL_SUCCESS status=0 stdout=still-here' "$out"
rows=$(audit_since "$seq0" | grep '"forwarding.refused"' || true)
n=$(printf '%s' "$rows" | grep -c . || true)
if [ "$n" -ge 7 ]; then
    pass "each of the 7 refusals has a forwarding.refused audit row ($n)"
else
    weak forwarding-not-audited "7 forwarding attempts (direct-tcpip, x11, auth-agent@openssh.com, direct-streamlocal@openssh.com, forwarded-tcpip channels; tcpip-forward, streamlocal-forward@openssh.com requests) left $n forwarding.refused row(s), for: $(printf '%s\n' "$rows" | "$PY" -c 'import json,sys; print(", ".join(json.loads(l)["details"].get("what","?") for l in sys.stdin))')"
fi

# ---- forwarding through OpenSSH: audited ----
lp=$(free_port)
for what in "-L $lp:127.0.0.1:$TARGET_PORT" "-D 127.0.0.1:$lp" "-R 0:127.0.0.1:$TARGET_PORT"; do
    seq0=$(audit_last_seq)
    # shellcheck disable=SC2086 # what: option words
    gw_ssh alice+staging-1 $what 'sleep 1; echo done' >"$T/fwd.out" 2>&1 &
    pid=$!
    sleep 0.5
    case "${what%% *}" in
    -L) "$PY" "$LIB_DIR/tcpprobe.py" read 127.0.0.1 "$lp" --timeout 1 >/dev/null 2>&1 ;;
    -D) "$PY" "$LIB_DIR/tcpprobe.py" read 127.0.0.1 "$lp" --socks4 "$TARGET_PORT" --timeout 1 >/dev/null 2>&1 ;;
    esac
    wait "$pid" 2>/dev/null
    n=$(audit_since "$seq0" | grep -c '"forwarding.refused"' || true)
    if [ "$n" -ge 1 ]; then
        pass "ssh ${what%% *}: refused and audited ($n row(s))"
    else
        weak forwarding-not-audited "ssh ${what%% *} through alice+staging-1 left no forwarding.refused row"
    fi
done
eval "$(ssh-agent -s)" >/dev/null || fail "ssh-agent did not start"
BG+=("$SSH_AGENT_PID")
seq0=$(audit_last_seq)
GW_AGENT=$SSH_AUTH_SOCK gw_ssh alice+staging-1 -A 'echo "agent=${SSH_AUTH_SOCK:-none}"' >"$T/agent.out" 2>&1
expect_match "ssh -A: no agent on the target" '^agent=none$' "$(cat "$T/agent.out")"
n=$(audit_since "$seq0" | grep -c '"forwarding.refused"' || true)
if [ "$n" -ge 1 ]; then pass "ssh -A: audited"; else weak forwarding-not-audited "ssh -A left no forwarding.refused row"; fi
seq0=$(audit_last_seq)
DISPLAY=:55 gw_ssh alice+staging-1 -o ForwardX11=yes -o XAuthLocation=/bin/true 'echo "display=${DISPLAY:-none}"' >"$T/x11.out" 2>&1
expect_match "ssh -X: no DISPLAY on the target" '^display=none$' "$(cat "$T/x11.out")"
n=$(audit_since "$seq0" | grep -c '"forwarding.refused"' || true)
if [ "$n" -ge 1 ]; then pass "ssh -X: audited"; else weak forwarding-not-audited "ssh -X left no forwarding.refused row"; fi

# ---- the audit chain cannot be grown without bound by one client ----
seq0=$(audit_last_seq)
steps=()
for _ in $(seq 1 200); do steps+=(send-global:keepalive@openssh.com); done
out=$(raw "${AUTH[@]}" "${steps[@]}" exec:whoami)
expect_match "after 200 global requests the connection still works" '^exec -> exec reply=CHANNEL_SUCCESS status=0' "$out"
n=$(audit_since "$seq0" | grep -vc '"auth.success"' || true)
if [ "$n" -le 20 ]; then
    pass "200 global requests added $n audit row(s)"
else
    weak audit-flood "one connection's 200 keepalive@openssh.com global requests added $n audit rows (no cap or aggregation; OpenSSH's ServerAliveInterval sends one per interval)"
fi
steps=()
for _ in $(seq 1 200); do steps+=(send-open:direct-tcpip); done
seq0=$(audit_last_seq)
out=$(raw "${AUTH[@]}" "${steps[@]}" exec:whoami)
n=$(audit_since "$seq0" | grep -vc '"auth.success"' || true)
if [ "$n" -le 20 ]; then
    pass "200 refused direct-tcpip opens added $n audit row(s)"
else
    weak audit-flood "one connection's 200 refused direct-tcpip opens added $n audit rows"
fi
expect_verify_ok "the audit chain is intact after the floods"

gw_log_clean 1
gw_listener_alive
gw_still_serves
hostile_finish
