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
#     session -- is refused and leaves its own forwarding.refused row in the
#     audit (each case on a connection of its own, checked alone), for
#     OpenSSH's -L/-R/-D/-A/-X too (forwarding.sh shows they are refused
#     and that the target would have allowed them); only the global request
#     streamlocal-forward@openssh.com, which libssh answers itself, is an
#     accepted exception (ACCEPTED);
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

# ---- forwarding through the raw client: each refused, each audited ----
# fwd_rows SEQ0 ERE: the forwarding.refused rows by alice on staging-1
# since SEQ0 whose "what" matches ERE.
fwd_rows() {
    audit_filter 'int(r["seq"]) > int(a[0]) and r.get("event") == "forwarding.refused"
        and r.get("actor") == "alice" and r.get("object") == "staging-1"
        and re.search(a[1], (r.get("details") or {}).get("what", ""))' "$1" "$2"
}
# raw_fwd STEP ERE ID: a connection of its own whose one request is STEP:
# refused, the session still works afterwards, and a forwarding.refused row
# whose "what" matches ERE says so (else weakness ID: each case its own ID).
raw_fwd() {
    local step=$1 ere=$2 id=$3 seq0 out kind
    kind=${step%%:*}
    seq0=$(audit_last_seq)
    out=$(raw "${AUTH_T[@]}" "$step" exec:'echo still-here')
    expect_match "$step is refused" "^$kind -> (CHANNEL_OPEN_FAILURE|REQUEST_FAILURE)" "$out"
    expect_match "$step: the session still works" '^exec -> exec reply=CHANNEL_SUCCESS status=0 stdout=still-here' "$out"
    if [ -n "$(fwd_rows "$seq0" "$ere")" ]; then
        pass "$step: a forwarding.refused row (/$ere/)"
    else
        weak "$id" "$step was refused but left no forwarding.refused row matching /$ere/: $(audit_since "$seq0" | head -c 600)"
    fi
}
raw_fwd open:direct-tcpip 'local|dynamic' direct-tcpip-not-audited
raw_fwd open:x11 'X11' x11-channel-not-audited
raw_fwd open:auth-agent@openssh.com 'agent' agent-channel-not-audited
raw_fwd open:direct-streamlocal@openssh.com 'channel type|streamlocal' direct-streamlocal-not-audited
raw_fwd open:forwarded-tcpip 'remote' forwarded-tcpip-not-audited
raw_fwd global:tcpip-forward 'remote' tcpip-forward-not-audited
raw_fwd global:streamlocal-forward@openssh.com 'streamlocal|remote|global' streamlocal-forward-not-audited

# ---- forwarding through OpenSSH: each refused, each audited ----
# ssh_fwd OPTION ERE ID: ssh -L/-D/-R through alice+staging-1, the
# forwarding used (a connection to -L/-D's local port), a row matching ERE.
ssh_fwd() {
    local what=$1 ere=$2 id=$3 seq0 pid lp
    seq0=$(audit_last_seq)
    # shellcheck disable=SC2086 # what: option words
    gw_ssh alice+staging-1 $what 'sleep 2; echo done' >"$T/fwd.out" 2>&1 &
    pid=$!
    case "${what%% *}" in
    -L | -D)
        lp=${what#* }
        lp=${lp#127.0.0.1:}
        lp=${lp%%:*}
        wait_port "$lp" "$pid" "ssh ${what%% *}" || fail "ssh $what did not listen: $(cat "$T/fwd.out")"
        ;;
    esac
    case "${what%% *}" in
    -L) "$PY" "$LIB_DIR/tcpprobe.py" read 127.0.0.1 "$lp" --timeout 1 >/dev/null 2>&1 ;;
    -D) "$PY" "$LIB_DIR/tcpprobe.py" read 127.0.0.1 "$lp" --socks4 "$TARGET_PORT" --timeout 1 >/dev/null 2>&1 ;;
    esac
    wait "$pid" || fail "ssh $what alice+staging-1: the session itself failed: $(cat "$T/fwd.out")"
    expect_match "ssh ${what%% *}: the session still runs" '^done$' "$(cat "$T/fwd.out")"
    if [ -n "$(fwd_rows "$seq0" "$ere")" ]; then
        pass "ssh ${what%% *}: refused and audited (/$ere/)"
    else
        weak "$id" "ssh ${what%% *} through alice+staging-1 left no forwarding.refused row matching /$ere/"
    fi
}
lp=$(free_port)
ssh_fwd "-L $lp:127.0.0.1:$TARGET_PORT" 'local|dynamic' ssh-L-not-audited
lp=$(free_port)
ssh_fwd "-D 127.0.0.1:$lp" 'local|dynamic' ssh-D-not-audited
ssh_fwd "-R 0:127.0.0.1:$TARGET_PORT" 'remote' ssh-R-not-audited
eval "$(ssh-agent -s)" >/dev/null || fail "ssh-agent did not start"
BG+=("$SSH_AGENT_PID")
seq0=$(audit_last_seq)
GW_AGENT=$SSH_AUTH_SOCK gw_ssh alice+staging-1 -A 'echo "agent=${SSH_AUTH_SOCK:-none}"' >"$T/agent.out" 2>&1 ||
    fail "ssh -A alice+staging-1: $(cat "$T/agent.out")"
expect_match "ssh -A: no agent on the target" '^agent=none$' "$(cat "$T/agent.out")"
if [ -n "$(fwd_rows "$seq0" 'agent')" ]; then pass "ssh -A: audited"; else weak ssh-A-not-audited "ssh -A left no forwarding.refused row naming the agent"; fi
seq0=$(audit_last_seq)
DISPLAY=:55 gw_ssh alice+staging-1 -o ForwardX11=yes -o XAuthLocation=/bin/true 'echo "display=${DISPLAY:-none}"' >"$T/x11.out" 2>&1 ||
    fail "ssh -X alice+staging-1: $(cat "$T/x11.out")"
expect_match "ssh -X: no DISPLAY on the target" '^display=none$' "$(cat "$T/x11.out")"
if [ -n "$(fwd_rows "$seq0" 'X11')" ]; then pass "ssh -X: audited"; else weak ssh-X-not-audited "ssh -X left no forwarding.refused row naming X11"; fi

# ---- the audit chain cannot be grown without bound by one client ----
seq0=$(audit_last_seq)
steps=()
for _ in $(seq 1 200); do steps+=(send-global:keepalive@openssh.com); done
out=$(raw "${AUTH[@]}" "${steps[@]}" exec:whoami)
expect_match "after 200 global requests the connection still works" '^exec -> exec reply=CHANNEL_SUCCESS status=0' "$out"
# (the login's own auth.success row is there: the audit was read)
expect_eq "the flooding connection's login is in the audit" 1 \
    "$(audit_filter 'int(r["seq"]) > int(a[0]) and r.get("event") == "auth.success"' "$seq0" | grep -c .)"
n=$(audit_filter 'int(r["seq"]) > int(a[0]) and r.get("event") != "auth.success"' "$seq0" | grep -c . || true)
if [ "$n" -le 20 ]; then
    pass "200 global requests added $n audit row(s)"
else
    weak audit-flood-keepalive "one connection's 200 keepalive@openssh.com global requests added $n audit rows (no cap or aggregation; OpenSSH's ServerAliveInterval sends one per interval)"
fi
steps=()
for _ in $(seq 1 200); do steps+=(send-open:direct-tcpip); done
seq0=$(audit_last_seq)
out=$(raw "${AUTH[@]}" "${steps[@]}" exec:whoami)
expect_match "after 200 refused direct-tcpip opens the connection still works" '^exec -> exec reply=CHANNEL_SUCCESS status=0' "$(printf '%s\n' "$out" | grep -v '^send-open -> sent$')"
n=$(audit_filter 'int(r["seq"]) > int(a[0]) and r.get("event") != "auth.success"' "$seq0" | grep -c . || true)
nf=$(audit_filter 'int(r["seq"]) > int(a[0]) and r.get("event") == "forwarding.refused"' "$seq0" | grep -c . || true)
expect_ne "the refused direct-tcpip opens are audited (forwarding.refused rows)" 0 "$nf"
if [ "$n" -le 20 ]; then
    pass "200 refused direct-tcpip opens added $n audit row(s)"
else
    weak audit-flood-direct-tcpip "one connection's 200 refused direct-tcpip opens added $n audit rows"
fi
expect_verify_ok "the audit chain is intact after the floods"

gw_log_clean 1
gw_listener_alive
gw_still_serves
hostile_finish
