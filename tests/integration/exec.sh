#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# exec through the gateway to staging-1 (standing access for engineers):
# stdout, stderr kept apart, exit status (also through an OpenSSH shared
# connection), stdin and EOF, the env allow-list;
# who may reach staging-1 by policy; exec of shell commands on the gateway.
# Depends on: relay.c (exec, extended data, exit-status, EOF, env),
# policy_eval (standing rules), the shell (exec of one command).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
shared_env

t=$(test_tmpdir) || fail "cannot create a temporary directory"
# the control socket of a shared connection (short path: sun_path)
mux=$(mktemp -d /tmp/dbmux.XXXXXX) || fail "cannot create a directory for the control socket"
trap 'mux_stop "$mux/s"; rm -rf "$t" "$mux"' EXIT

# stdout, stderr and the exit status, each on its own path.
rc=0
gw_ssh alice+staging-1 'echo out-line; echo err-line >&2; exit 7' >"$t/out" 2>"$t/err" || rc=$?
expect_eq "exit 7 comes back as 7" 7 "$rc"
expect_eq "stdout carries only stdout" out-line "$(cat "$t/out")"
expect_eq "stderr carries only stderr" err-line "$(cat "$t/err")"

rc=0
gw_ssh alice+staging-1 true >/dev/null 2>&1 || rc=$?
expect_eq "true exits 0" 0 "$rc"
rc=0
gw_ssh alice+staging-1 false >/dev/null 2>&1 || rc=$?
expect_eq "false exits 1" 1 "$rc"

# A command killed by a signal: exit-signal is relayed (OpenSSH's client
# shows it only in its debug output, and exits 255).
rc=0
out=$(gw_ssh alice+staging-1 -v 'kill -TERM $$' 2>&1) || rc=$?
expect_eq "a command killed by SIGTERM: ssh exits 255" 255 "$rc"
expect_match "the exit-signal reaches the client" 'rtype exit-signal' "$out"

out=$(gw_ssh alice+staging-1 id -un 2>&1) || fail "id -un: $out"
expect_eq "the command runs as the target's default login" "$LOGIN" "$out"

# The command line arrives as one string, quoting intact.
out=$(gw_ssh alice+staging-1 "printf '%s|' 'a b' \"c'd\" '\$HOME-literal'" 2>&1) || fail "printf: $out"
expect_eq "arguments and quoting survive" "a b|c'd|\$HOME-literal|" "$out"

# stdin to the target and EOF back: tr ends only if EOF is relayed.
out=$(printf 'hello\nworld\n' | gw_ssh alice+staging-1 'tr a-z A-Z' 2>&1) ||
    fail "stdin relay: rc $? output $out"
expect_eq "stdin reaches the target and EOF ends it" "HELLO
WORLD" "$out"

# A few MB of stdin, checked by hash on the target.
head -c 8M /dev/urandom >"$t/in.bin"
want=$(sha256sum <"$t/in.bin" | cut -d' ' -f1)
got=$(gw_ssh alice+staging-1 sha256sum <"$t/in.bin" 2>"$t/err" | cut -d' ' -f1) ||
    fail "8 MB stdin: $(cat "$t/err")"
expect_eq "8 MB of stdin arrive intact" "$want" "$got"

# Interleaved stdout/stderr volume: neither stream loses bytes.
gw_ssh alice+staging-1 'for i in $(seq 1 2000); do echo "o$i"; echo "e$i" >&2; done' >"$t/out" 2>"$t/err" ||
    fail "interleaved output: rc $?"
expect_eq "2000 stdout lines" 2000 "$(grep -c '^o[0-9]*$' "$t/out")"
expect_eq "2000 stderr lines" 2000 "$(grep -c '^e[0-9]*$' "$t/err")"
expect_eq "no stderr line on stdout" 0 "$(grep -c '^e' "$t/out" || true)"

# Environment: LANG and LC_* pass, anything else does not.  The target
# accepts DRAWBRIDGE_NOT_ALLOWED (AcceptEnv), so only the gateway can drop it;
# first show that it would arrive on a direct connection.
envcmd='echo "${LANG:-unset}|${LC_TIME:-unset}|${DRAWBRIDGE_NOT_ALLOWED:-unset}"'
out=$(LANG=C.UTF-8 LC_TIME=C DRAWBRIDGE_NOT_ALLOWED=leak direct_ssh -o SendEnv=LANG \
    -o SendEnv=LC_TIME -o SendEnv=DRAWBRIDGE_NOT_ALLOWED "$envcmd" 2>&1) || fail "direct env: $out"
expect_eq "(direct) the target accepts all three variables" "C.UTF-8|C|leak" "$out"
out=$(LANG=C.UTF-8 LC_TIME=C DRAWBRIDGE_NOT_ALLOWED=leak gw_ssh alice+staging-1 -o SendEnv=LANG \
    -o SendEnv=LC_TIME -o SendEnv=DRAWBRIDGE_NOT_ALLOWED "$envcmd" 2>&1) || fail "gateway env: $out"
expect_eq "LANG and LC_* pass the gateway, others do not" "C.UTF-8|C|unset" "$out"

# Who may reach staging-1: engineers (alice, dave) by standing rule; erin
# (sre-leads) and frank (no group) may not.
out=$(gw_ssh_pw dave-pw-2026 dave+staging-1 'echo dave-ok' 2>&1) || fail "dave+staging-1: $out"
expect_eq "dave (engineers) reaches staging-1" dave-ok "$out"
for u in erin frank; do
    rc=0
    out=$(gw_ssh_pw "$u-pw-2026" "$u+staging-1" 'echo reached' 2>&1) || rc=$?
    expect_ne "$u (not an engineer) is refused staging-1" 0 "$rc"
    expect_nomatch "$u ran nothing on staging-1" '^reached$' "$out"
done

# Unknown target.
rc=0
out=$(gw_ssh alice+no-such-target 'echo reached' 2>&1) || rc=$?
expect_ne "an unknown target is refused" 0 "$rc"
expect_nomatch "nothing ran for an unknown target" '^reached$' "$out"

# OpenSSH connection sharing (ControlMaster): the master closes a session's
# channel as soon as EOF has gone both ways, before the exit status came,
# and still passes on the status the server sends before its own close.  A
# command that closes its output a second before it exits opens that gap
# every time; the status must come back all the same.
mux_opts "$mux/s"
MUX_OPTS+=(-l alice+staging-1)
rc=0
ssh "${MUX_OPTS[@]}" -o ControlMaster=yes -o ControlPersist=no -fN "$GW_HOST" </dev/null \
    >"$t/mux.out" 2>&1 || rc=$?
expect_eq "a shared connection to alice+staging-1 (ssh -M -fN) starts" 0 "$rc"
rc=0
out=$(ssh "${MUX_OPTS[@]}" "$GW_HOST" 'echo shared-$((6*7)); exit 5' </dev/null 2>&1) || rc=$?
expect_eq "a command on the shared connection: its output" shared-42 "$out"
expect_eq "a command on the shared connection: its exit status (5)" 5 "$rc"
rc=0
out=$(ssh "${MUX_OPTS[@]}" "$GW_HOST" 'echo early; exec >&- 2>&-; sleep 1; exit 4' </dev/null 2>&1) ||
    rc=$?
expect_eq "a command that closed its output before it exited: its output" early "$out"
expect_eq "a command that closed its output before it exited: its exit status (4)" 4 "$rc"
ssh -S "$mux/s" -O exit x >/dev/null 2>&1 || true

# Exec of gateway shell commands.
rc=0
out=$(gw_ssh alice help 2>&1) || rc=$?
expect_eq "help exits 0" 0 "$rc"
expect_match "help lists whoami" 'whoami' "$out"
rc=0
out=$(gw_ssh alice no-such-command 2>"$t/err") || rc=$?
expect_eq "an unknown shell command is a usage error (exit 2)" 2 "$rc"
expect_match "the unknown command is reported on stderr" \
    "^drawbridge: unknown command 'no-such-command'; try 'help'\$" "$(cat "$t/err")"
expect_eq "and nothing on stdout" "" "$out"

gw_still_serves
finish
