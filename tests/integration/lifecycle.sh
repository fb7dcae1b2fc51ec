#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The daemon's life: SIGHUP reloads the policy (a policy that fails lint is
# not loaded and the old one stays), SIGTERM stops the listener promptly and
# frees the port, and --log-json logs one JSON object per line.
# Runs in an environment of its own (it edits the policy and stops the
# gateway).
# Depends on: server.c (signals as flags, reload, shutdown), policy load/lint,
# log.c (--log-json).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
private_env

reach() { gw_ssh alice+staging-1 'echo reached' 2>&1; }

# hup_and_wait: SIGHUP, then wait (10 s at most) for the gateway's answer in
# its log, policy.reload or policy.reload_failed; prints the log lines since
# the signal.  The gateway must survive it.
hup_and_wait() {
    local lines new
    lines=$(wc -l <"$DIR/gw.log")
    kill -HUP "$GW_PID" || fail "cannot signal the gateway"
    for _ in $(seq 1 100); do
        new=$(tail -n +"$((lines + 1))" "$DIR/gw.log")
        if grep -qE 'policy\.reload(_failed)?\b' <<<"$new"; then
            break
        fi
        sleep 0.1
    done
    grep -qE 'policy\.reload(_failed)?\b' <<<"$new" ||
        fail "the gateway logged neither policy.reload nor policy.reload_failed within 10 s of SIGHUP"
    kill -0 "$GW_PID" 2>/dev/null || fail "the gateway died on SIGHUP"
    printf '%s\n' "$new"
}

expect_eq "staging-1 is reachable with the initial policy" reached "$(reach)"

# Reload a policy without the standing rule: staging-1 is no longer reachable.
cp "$POLICY" "$DIR/policy.orig"
awk '/^  - name: staging-standing/ { skip = 1; next }
     skip && /^  - name:|^[a-z]/ { skip = 0 }
     !skip' "$DIR/policy.orig" >"$POLICY"
grep -q staging-standing "$POLICY" && fail "could not remove the standing rule"
"$DRAWBRIDGE_BIN" check -c "$CFG" >"$DIR/check.out" 2>&1 || fail "the edited policy fails check: $(cat "$DIR/check.out")"
newlog=$(hup_and_wait)
expect_match "the reload is logged as loaded" 'policy\.reload\b' "$newlog"
expect_nomatch "and not as failed" 'policy\.reload_failed' "$newlog"
rc=0
out=$(reach) || rc=$?
expect_ne "after SIGHUP without the standing rule, staging-1 is refused" 0 "$rc"
expect_nomatch "nothing ran on staging-1 after the reload" '^reached$' "$out"

# A policy that fails lint is not loaded and the previous one stays.  The
# bad policy is the original one (its standing rule gives staging-1 back)
# plus a rule that only lint refuses (an approval rule allowing 48 h): a
# gateway that loaded it without lint would let alice reach staging-1.
cp "$DIR/policy.orig" "$POLICY"
"$PY" - "$POLICY" <<'PYEOF'
import sys
p = sys.argv[1]
s = open(p).read()
rule = """  - name: lint-too-long
    requesters: ["group:sre"]
    targets: {names: [db-1]}
    logins: [%s]
    max_duration: 48h
    approvers: ["group:sre-leads"]
    approvals: 2
""" % s.split("logins: [", 1)[1].split("]", 1)[0]
s = s.replace("\nreviewers:", "\n" + rule.rstrip("\n") + "\nreviewers:", 1)
open(p, "w").write(s)
PYEOF
grep -q '^  - name: staging-standing' "$POLICY" || fail "the bad policy lost the standing rule"
grep -q 'max_duration: 48h' "$POLICY" || fail "could not add the 48h rule"
rc=0
"$DRAWBRIDGE_BIN" check -c "$CFG" >"$DIR/check.out" 2>&1 || rc=$?
expect_eq "(check) the bad policy fails lint" 1 "$rc"
expect_match "(check) for the 48 h rule alone" 'policy\.yaml:[0-9]+: .*(24h|24 h|max_duration)' "$(cat "$DIR/check.out")"
newlog=$(hup_and_wait)
expect_match "the failing reload is logged as failed, with lint's reason" \
    'policy\.reload_failed.*(24h|24 h|max_duration)' "$newlog"
expect_nomatch "and not as loaded" 'policy\.reload\b' "$newlog"
rc=0
out=$(reach) || rc=$?
expect_ne "after a failed reload the previous policy stays (staging-1 still refused)" 0 "$rc"
expect_nomatch "nothing ran on staging-1 after the failed reload" '^reached$' "$out"

# Back to the original policy.
cp "$DIR/policy.orig" "$POLICY"
newlog=$(hup_and_wait)
expect_match "the original policy is loaded again" 'policy\.reload\b' "$newlog"
expect_eq "after reloading the original policy staging-1 is reachable again" reached "$(reach)"

# SIGTERM: the listener exits promptly and the port is free.
start=$(now_ms)
kill -TERM "$GW_PID"
for _ in $(seq 1 100); do
    kill -0 "$GW_PID" 2>/dev/null || break
    sleep 0.1
done
ms=$(($(now_ms) - start))
kill -0 "$GW_PID" 2>/dev/null && fail "the gateway still runs 10 s after SIGTERM"
expect_lt "the gateway exits within 5 s of SIGTERM (ms)" 5000 "$ms"
wait "$GW_PID" 2>/dev/null
rc=$?
expect_eq "the gateway exits with status 0 on SIGTERM" 0 "$rc"
port_listening "$GW_PORT" && fail "port $GW_PORT still listening after SIGTERM"
pass "the port is free after SIGTERM"

# --log-json: every line the gateway logs is one JSON object.
lines=$(wc -l <"$DIR/gw.log")
GW_SERVE_ARGS=--log-json gw_start || fail "the gateway did not start again with --log-json"
gw_ssh_pw alice-pw-2026 alice whoami >/dev/null 2>&1 || fail "login after the restart failed"
gw_ssh alice+staging-1 true >/dev/null 2>&1 || fail "staging-1 after the restart failed"
rc=0
out=$(tail -n +"$((lines + 1))" "$DIR/gw.log" | "$PY" -c '
import json, sys
n = 0
for line in sys.stdin:
    obj = json.loads(line)
    assert isinstance(obj, dict), line
    n += 1
print(n)
' 2>&1) || rc=$?
expect_eq "--log-json: every new log line parses as a JSON object ($out)" 0 "$rc"
expect_ne "--log-json: the gateway logged something" 0 "$out"
expect_match "--log-json: the login is in the log" '"auth[.]ok".*alice' "$(tail -n +"$((lines + 1))" "$DIR/gw.log")"
finish
