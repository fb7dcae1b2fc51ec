#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Interactive sessions on a pseudo-terminal, driven by input (ptydrive.py):
# to staging-1 (pty size, a window change, typed commands, exit status) and
# to the gateway's own shell (prompt, help, whoami, line editing, exit).
# Depends on: relay.c (pty-req, window-change, shell), the shell's
# interactive terminal (shell/term.c) and its help/whoami/exit commands.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
shared_env

t=$(test_tmpdir) || fail "cannot create a temporary directory"
trap 'rm -rf "$t"' EXIT

# ssh argv for USER, to run under ptydrive (which cannot call a function).
ssh_argv() {
    _ssh_opts
    SSH_ARGV=(ssh "${SSH_OPTS[@]}" "${SSH_KEY_OPTS[@]}" -p "$GW_PORT" -l "$1" -t "$GW_HOST")
}

drive() {
    "$PY" "$LIB_DIR/ptydrive.py" --timeout 20 --log "$t/transcript" "$@" 2>"$t/drive.err"
}

# ---- a shell on staging-1 ----
ssh_argv alice+staging-1
: >"$t/transcript"
if ! drive size:30:100 \
    'send:stty size; tty\r' 'expect:[\r\n]30 100\r' 'expect:/dev/pts/' \
    'send:echo hi-$((6*7))\r' 'expect:hi-42' \
    size:50:132 sleep:1 \
    'send:stty size\r' 'expect:[\r\n]50 132\r' \
    'send:exit 3\r' exit:3 \
    -- "${SSH_ARGV[@]}"; then
    fail "pty session to staging-1: $(cat "$t/drive.err")"
fi
pass "pty to staging-1: initial size 30x100 reaches the target"
pass "pty to staging-1: typed 'echo hi-\$((6*7))' printed hi-42"
pass "pty to staging-1: a window change to 50x132 reaches the target"
pass "pty to staging-1: 'exit 3' ends the session with status 3"

# The same with stdin piped into ssh -tt (no local terminal).
out=$(printf 'echo piped-$((6*7))\nexit\n' | gw_ssh alice+staging-1 -tt 2>&1) || fail "ssh -tt with piped input: $out"
expect_match "ssh -tt with piped input runs the typed command" 'piped-42' "$out"

# ---- the gateway's own shell ----
ssh_argv alice
: >"$t/transcript"
if ! drive size:24:80 \
    'expect:alice@drawbridge> ' \
    'send:help\r' 'expect:whoami' 'expect:alice@drawbridge> ' \
    'send:whoami\r' 'expect:user:[ ]+alice' 'expect:engineers' 'expect:alice@drawbridge> ' \
    'send:whoamx\x7fi\r' 'expect:user:[ ]+alice' 'expect:alice@drawbridge> ' \
    'send:exit\r' exit:0 \
    -- "${SSH_ARGV[@]}"; then
    fail "pty session to the gateway shell: $(cat "$t/drive.err")"
fi
pass "gateway shell: prompt shows the user"
pass "gateway shell: help lists whoami"
pass "gateway shell: whoami shows alice and her groups"
pass "gateway shell: backspace edits the line"
pass "gateway shell: exit ends the session with status 0"

gw_still_serves
finish
