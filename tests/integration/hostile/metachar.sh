#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Shell metacharacters, $(...) and backticks in what users type to the
# gateway's shell never run anywhere: not on the gateway, not in
# notify_command (which gets the request, reason and comments as JSON on its
# stdin), not on a target.  Every payload tries to create a marker file; at
# the end none exists.  Where the text is kept (a request's reason, ticket,
# an approval's comment) it comes back byte for byte, which shows it was
# stored as data rather than dropped.
# Runs in an environment of its own (requests, grants, notify_command).
# Depends on: shell/parse.c (no expansion), shell commands, notify.c.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../jit-lib.sh
. "$(dirname "$0")/../jit-lib.sh"
# shellcheck source=lib-hostile.sh
. "$(dirname "$0")/lib-hostile.sh"
export GW_NOTIFY='cat >>@DIR@/notify.jsonl'
private_env
T=$DIR/scratch
M=$DIR/markers
mkdir -p "$T" "$M"

n=0
# payload: a fresh marker path M/k wrapped in one of the shell's tricks.
payloads() {
    local k=$((n++))
    printf '%s\n' "\$(touch $M/$k-a)" "\`touch $M/$k-b\`" "; touch $M/$k-c" "| touch $M/$k-d" \
        "&& touch $M/$k-e" "|| touch $M/$k-f" "\${IFS}touch\${IFS}$M/$k-g" "> $M/$k-h" \
        "\$(touch${IFS:0:1}$M/$k-i)" "'; touch $M/$k-j; '" "\"; touch $M/$k-k; \""
}

# ---- whole command lines ----
while IFS= read -r p; do
    for cmd in "whoami $p" "help $p" "targets $p" "grants $p" "requests $p" "show 1 $p"; do
        run alice "$cmd"
        [ "$RC" != 0 ] || [ -n "$OUT" ] || fail "'$cmd': exit 0 with no output"
    done
done < <(payloads)
pass "command lines with metacharacters were answered (or refused) by the gateway's shell"

# ---- texts that are stored: reason, ticket, comment, deny reason ----
reason="\$(touch $M/r1) \`touch $M/r2\` ; touch $M/r3 | touch $M/r4 & touch $M/r5"
run alice request web-1 --for 30m --reason "'$reason'" --ticket "'\$(touch\${IFS}$M/t1)'"
[ "$RC" = 0 ] || fail "request with a metacharacter reason: exit $RC: $ERR"
N=$(req_id "$OUT")
[ -n "$N" ] || fail "no request number: $OUT"
run bob approve "$N" --comment "'\`touch $M/c1\` \$(touch $M/c2)'"
[ "$RC" = 0 ] || fail "bob approve $N: exit $RC: $ERR"
run bob request web-1 --for 30m --reason "'\$(touch $M/r6)'"
N2=$(req_id "$OUT")
[ -n "$N2" ] || fail "no request number for bob's request: $OUT $ERR"
run erin deny "$N2" --reason "'\$(touch $M/d1); touch $M/d2'"
[ "$RC" = 0 ] || fail "erin deny $N2: exit $RC: $ERR"
run alice show "$N" --json
[ "$RC" = 0 ] || fail "show $N --json: exit $RC: $ERR"
got=$(printf '%s\n' "$OUT" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["request"]["reason"])')
expect_eq "the reason is stored byte for byte" "$reason" "$got"
expect_match "the ticket is stored as typed" "touch\\\$\\{IFS\\}$M/t1" "$OUT"
expect_match "the approval comment is stored as typed" "touch $M/c1" "$OUT"
expect_audit "the audit has the reason as typed" request.create "request $N" alice "touch $M/r3"

# ---- notify_command got them as data on stdin ----
wait_until 10 test -s "$DIR/notify.jsonl" || fail "notify_command never ran (no $DIR/notify.jsonl)"
expect_match "notify_command received the reason as JSON" "touch $M/r1" "$(cat "$DIR/notify.jsonl")"
sleep 1

# ---- names and arguments that reach further ----
for t in "\$(touch $M/n1)" "\`touch $M/n2\`" "staging-1;touch $M/n3" "staging-1\$(touch $M/n4)"; do
    run alice connect "'$t'"
    expect_ne "connect '$t' is refused" 0 "$RC"
    run alice request "'$t'" --for 1h --reason x
    expect_ne "request '$t' is refused" 0 "$RC"
done
run alice request web-1 --for 30m --reason x --login "'\$(touch $M/l1)'"
expect_ne "request --login '\$(...)' is refused" 0 "$RC"
# environment variables passed to a target and TERM
out=$(LC_HOSTILE="\$(touch $M/e1)" gw_ssh alice+staging-1 -o SendEnv=LC_HOSTILE 'echo env-done' 2>&1) || true
expect_match "a session with a hostile LC_ variable still runs" 'env-done' "$out"
out=$(TERM="xterm\$(touch $M/e2)" gw_ssh alice+staging-1 -tt 'echo term-done' </dev/null 2>&1) || true
# (the gateway may refuse the terminal for such a TERM: then it says so)
expect_match "a target session with a hostile TERM runs or has its pty refused" 'term-done|PTY allocation request failed' "$out"
out=$(TERM="xterm\$(touch $M/e3)" gw_ssh alice -tt 'whoami' </dev/null 2>&1) || true
expect_match "a gateway shell command with a hostile TERM runs or has its pty refused" 'user: +alice|PTY allocation request failed' "$out"
# a newline inside an exec command is refused, not run as a second command
run alice "$(printf 'whoami\ntouch %s/nl1' "$M")"
expect_ne "an exec command with a newline is refused" 0 "$RC"

# ---- nothing ran ----
sleep 1
made=$(find "$M" -mindepth 1 | head -n 20)
if [ -n "$made" ]; then
    fail "a payload ran: marker file(s) $made"
fi
pass "no marker file was created by any of the payloads"
gw_log_clean 1
gw_still_serves
hostile_finish
