#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Bad input to the access commands, as an engineer would type it over
# `ssh gw COMMAND`: malformed durations, unknown or hostile target names,
# bad request numbers, huge reasons and command lines, invalid UTF-8,
# control characters, shell metacharacters.  Each is one clear line on
# stderr ("drawbridge: ...", plus the usage line for usage errors), exit
# status 2 for usage and 1 for a refusal, and leaves no request behind.
# Metacharacters are never run: in a reason they are stored and shown as
# typed (and reach notify_command as JSON text); in a command, a target or
# a login they are refused; in no case does a file appear.
# Runs in an environment of its own (it creates requests, with a notify_command).
# Depends on: shell/parse.c, shell/opts.c, shell (request, show, approve),
# access_check_text, notify.c.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

export GW_NOTIFY='"cat >> @DIR@/notify.jsonl"'
private_env
T=$DIR/scratch
mkdir -p "$T"
P=$T/pwned

# case STATUS ERE COMMAND: alice runs COMMAND on the gateway; expects the refusal.
case_() {
    local status=$1 ere=$2 cmd=$3 shown
    shown=$(printf '%s' "$cmd" | LC_ALL=C tr -c '[:print:]' '?' | cut -c1-70)
    run alice "$cmd"
    expect_refusal "'$shown'" "$status" "$ere"
}

nreq() { db_value "SELECT count(*) FROM requests"; }
before=$(nreq)

# ---- durations ----
usage_dur="invalid duration '[^']*': use a number with a unit"
for d in 10x 0s -5m 1h30 1.5h 1H 99999999999999999999h 0x10s "''" 4h_ 1w; do
    case_ 2 "$usage_dur" "request web-1 --for $d --reason ok"
done
case_ 2 'too many arguments' 'request web-1 --for 1 h --reason ok'
case_ 1 'duration must be from 1s to 4h \(rule web-oncall\)' 'request web-1 --for 5h --reason ok'
case_ 2 'invalid duration' 'breakglass web-1 --for 1y --reason ok'

# ---- targets, logins, numbers, options ----
case_ 1 'no such target: nosuch-9' 'request nosuch-9 --for 1h --reason ok'
case_ 1 'no such target: WEB-1' 'request WEB-1 --for 1h --reason ok'
case_ 1 'no such target: \.\./\.\./etc/passwd' 'request ../../etc/passwd --for 1h --reason ok'
case_ 1 'no such target: web\?' "request $(printf 'web\xff') --for 1h --reason ok"
case_ 1 "no such target: web-1;touch $P-1" "request 'web-1;touch $P-1' --for 1h --reason ok"
case_ 1 'target web-1 has no login root;id' "request web-1 --for 1h --reason ok --login 'root;id'"
case_ 1 'ticket must be printable ASCII' "request web-1 --for 1h --reason ok --ticket 'a b'"
case_ 2 'too many arguments' 'request web-1 web-2 --for 1h --reason ok'
case_ 2 '--reason TEXT is required' 'request web-1 --for 1h'
case_ 2 '--for DURATION is required' 'request web-1 --reason ok'
case_ 2 "unknown option '--bogus'" 'requests --bogus'
case_ 1 'no request 99999 that you can see' 'show 99999'
case_ 2 "invalid number 'abc'" 'show abc'
case_ 2 "invalid number '1e3'" 'approve 1e3'
case_ 2 "invalid number '99999999999999999999999'" 'approve 99999999999999999999999'
case_ 2 "unknown option '-1'" 'approve -1'
case_ 1 'no request 424242' 'approve 424242'

# ---- reasons: empty, huge, not UTF-8, control characters ----
case_ 1 'a reason is required' "request web-1 --for 1h --reason ''"
big=$(head -c 5000 /dev/zero | tr '\0' a)
case_ 1 'the reason is too long \(at most 1024 bytes\)' "request web-1 --for 1h --reason $big"
case_ 1 'the reason is too long' "breakglass web-1 --reason $big"
case_ 1 'the comment is too long' "approve 1 --comment $big"
huge=$(head -c 100000 /dev/zero | tr '\0' b)
case_ 2 'line too long' "request web-1 --for 1h --reason $huge"
for bytes in 'bad\xff\xfeutf' 'over\xc0\xaflong' 'surrogate\xed\xa0\x80' 'cut\xe2\x82'; do
    case_ 1 'the reason is not valid UTF-8' "request web-1 --for 1h --reason $(printf '%b' "$bytes")"
done
case_ 2 'control character 0x1b' "request web-1 --for 1h --reason $(printf 'esc\x1b[31mred')"
case_ 1 'the reason contains a control character' "request web-1 --for 1h --reason 'tab	in'"
case_ 2 "unknown command 'who\?ami'" "$(printf 'who\xffami')"

# ---- shell metacharacters as commands: refused, never run ----
case_ 2 "unknown command 'whoami;'" "whoami; touch $P-2"
case_ 2 "unknown command '\\\$\(touch'" "\$(touch $P-3)"
case_ 2 'too many arguments' "help \`touch $P-4\`"
case_ 2 "unknown command 'requests\|touch'" "requests|touch $P-5"
case_ 2 "unknown command '&&'|too many arguments|unknown option" "requests && touch $P-6"
expect_eq "store: none of the refused commands created a request" "$before" "$(nreq)"

# ---- shell metacharacters in a reason: stored and shown as typed ----
reasons=("\$(touch $P-7)" "\`touch $P-8\`" "x; touch $P-9; \${IFS}|&>" "'quoted' \"double\" \\back")
quoted=("'\$(touch $P-7)'" "'\`touch $P-8\`'" "'x; touch $P-9; \${IFS}|&>'" "\"'quoted' \\\"double\\\" \\\\back\"")
ids=()
for i in "${!reasons[@]}"; do
    run alice request web-1 --for 1h --reason "${quoted[$i]}"
    expect_eq "a reason with metacharacters is accepted as text (#$i)" 0 "$RC"
    n=$(req_id "$OUT")
    ids+=("$n")
    [ -n "$n" ] || fail "no request number for reason #$i: $OUT $ERR"
    expect_eq "store: reason #$i kept byte for byte" "${reasons[$i]}" \
        "$(db_value "SELECT reason FROM requests WHERE id = $n")"
    run alice show "$n"
    expect_eq "show $n prints reason #$i as typed" "  reason:    ${reasons[$i]}" \
        "$(printf '%s\n' "$OUT" | grep '^  reason:')"
done
got_all() { [ "$(grep -c '"event": *"request.created"' "$DIR/notify.jsonl" 2>/dev/null)" -ge "${#reasons[@]}" ]; }
wait_until 10 got_all || fail "notify_command did not get the ${#reasons[@]} request.created events"
rc=0
out=$("$PY" -c '
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
got = set(e.get("reason") for e in evs if e.get("event") == "request.created")
missing = [r for r in sys.argv[2:] if r not in got]
assert not missing, missing
' "$DIR/notify.jsonl" "${reasons[@]}" 2>&1) || rc=$?
expect_eq "notify_command got each reason as JSON text, unchanged ($out)" 0 "$rc"

# Give anything that might have run a moment, then look for its traces.
sleep 1
left=$(find "$T" -maxdepth 1 -name 'pwned*' -printf '%f ')
expect_eq "no metacharacter ran anywhere: no pwned file" "" "$left"

expect_verify_ok "drawbridge verify: the chain holds"
gw_still_serves
finish
