#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Targets the gateway must refuse, each with a message the engineer can act
# on: a host key that does not match the pinned one, a protected target
# without a grant, a target that is down.  Nothing runs in any case.
# Depends on: relay.c (host key pinning, connect errors), policy_eval
# (protected targets), session.c (messages to the client).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
shared_env

# attempt USER+TARGET: sets RC, OUT (stdout+stderr) and SECS.
attempt() {
    local start
    start=$(now_ms)
    RC=0
    OUT=$(gw_ssh "$1" 'echo reached-target' 2>&1) || RC=$?
    SECS=$((($(now_ms) - start) / 1000))
}

# Host key mismatch: wrongkey-1 is the same sshd pinned with another key.
attempt alice+wrongkey-1
expect_ne "wrongkey-1 is refused" 0 "$RC"
expect_nomatch "nothing ran on wrongkey-1" 'reached-target' "$OUT"
NOCASE=1 expect_match "the refusal names the host key" 'host[ _-]?key' "$OUT"
NOCASE=1 expect_match "the mismatch is logged" 'wrongkey-1.*host[ _-]?key|host[ _-]?key.*wrongkey-1' "$(cat "$DIR/gw.log")"

# Protected target without a grant.
attempt alice+web-1
expect_ne "web-1 (protected, no grant) is refused" 0 "$RC"
expect_nomatch "nothing ran on web-1" 'reached-target' "$OUT"
expect_match "the refusal says how to request access" \
    'no active grant; request one with: ssh [^ ]+ request web-1' "$OUT"
# Not even bob, an approver, reaches it without a grant of his own.
RC=0
OUT=$(gw_ssh_pw bob-pw-2026 bob+web-1 'echo reached-target' 2>&1) || RC=$?
expect_ne "bob+web-1 (approver, no grant) is refused" 0 "$RC"
expect_match "bob gets the same message" 'no active grant; request one with: ssh [^ ]+ request web-1' "$OUT"

# A target where nothing listens.
attempt alice+down-1
expect_ne "down-1 is refused" 0 "$RC"
NOCASE=1 expect_match "the refusal says the target cannot be reached" \
    'unreachable|not reachable|cannot (be )?reach|could not (connect|reach)|cannot connect|connection refused|is down|unavailable' "$OUT"
expect_lt "down-1 is refused quickly (seconds)" 10 "$SECS"

gw_still_serves
finish
