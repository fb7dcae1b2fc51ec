# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Helpers for the hostile tests (tests/integration/hostile/*.sh), sourced
# after ../lib.sh and ../jit-lib.sh.
#
# A hostile test separates two kinds of bad news:
#   fail MSG        the test itself cannot go on (the environment broke, a
#                   precondition did not hold): stop now;
#   weak ID MSG     the gateway has a weakness: say which (ID is a short
#                   stable name, MSG says what was seen), keep checking the
#                   rest, and fail at hostile_finish.
# A weakness the project decided to live with is listed in ACCEPTED beside
# this file ("ID  TEST  reason", tab-separated, one per line); it is then
# reported as an accepted risk and does not fail the test.  Nothing is
# accepted silently: the list is in the tree, under review like the code.
# An accepted ID stands for one check of one case: it is accepted only in
# the test named on its line and only once per run.  The same ID reported
# a second time, or by another test, is a weakness like any other, so that
# an ID accepted for one narrow case can never cover a broader one.

HOSTILE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WEAK_IDS=()
ACCEPTED_SEEN=" "
# ctest names these tests hostile-NAME; run by hand, TEST_NAME is NAME.
case "$TEST_NAME" in
hostile-*) ;;
*) TEST_NAME=hostile-$TEST_NAME ;;
esac

# weak ID MESSAGE
weak() {
    local id=$1 line test
    shift
    # WEAK_IDS lives in the test's own shell: a subshell could not add to it.
    [ "$BASHPID" = "$$" ] || fail "weakness $id reported inside a subshell (not counted): $*"
    line=$(grep -E "^${id}"$'\t' "$HOSTILE_DIR/ACCEPTED" || true)
    if [ -n "$line" ]; then
        test=$(printf '%s\n' "$line" | cut -f2)
        case "$ACCEPTED_SEEN" in
        *" $id "*)
            printf '[%s] WEAKNESS %s: %s (accepted once per run, and reported again here)\n' \
                "$TEST_NAME" "$id" "$*" >&2
            WEAK_IDS+=("$id")
            return 0
            ;;
        esac
        if [ "$test" = "$TEST_NAME" ]; then
            ACCEPTED_SEEN="$ACCEPTED_SEEN$id "
            printf '[%s] accepted risk %s: %s\n' "$TEST_NAME" "$id" "$*" >&2
            return 0
        fi
        printf '[%s] WEAKNESS %s: %s (ACCEPTED lists it for %s only)\n' "$TEST_NAME" "$id" "$*" "$test" >&2
        WEAK_IDS+=("$id")
        return 0
    fi
    printf '[%s] WEAKNESS %s: %s\n' "$TEST_NAME" "$id" "$*" >&2
    WEAK_IDS+=("$id")
}

# check ID WHAT COMMAND...: COMMAND succeeding is a pass, failing a weakness.
check() {
    local id=$1 what=$2
    shift 2
    if "$@"; then
        pass "$what"
    else
        weak "$id" "$what"
    fi
}

hostile_finish() {
    if [ ${#WEAK_IDS[@]} -gt 0 ]; then
        printf '[%s] FAIL: %d check(s) passed, %d weakness(es): %s\n' "$TEST_NAME" "$TESTS_OK" \
            "${#WEAK_IDS[@]}" "${WEAK_IDS[*]}" >&2
        exit 1
    fi
    finish
}

# python3-cryptography (Debian package) gives the raw client curve25519,
# Ed25519 and AES; without it the protocol cases cannot run at all.
need_raw_client() {
    "$PY" -c 'import cryptography.hazmat.primitives.asymmetric.x25519' 2>/dev/null ||
        fail "python3-cryptography is missing (apt-get install python3-cryptography): the raw SSH client needs it"
}

# raw STEP...: the raw SSH client against the gateway (see rawssh.py);
# prints its "step -> outcome" lines.  RAWSSH_TIMEOUT (s) bounds each wait.
raw() {
    timeout 120 "$PY" "$HOSTILE_DIR/rawssh.py" "$GW_HOST" "$GW_PORT" "$@" 2>&1
}

# outcome_of STEP OUTPUT: the outcome of the first step named STEP.
outcome_of() {
    printf '%s\n' "$2" | sed -n "s/^$1 -> //p" | head -n 1
}

# audit_since and audit_last_seq are in ../jit-lib.sh: they fail the test
# when `drawbridge audit` does, rather than read as "no rows".

# The gateway's listener is alive and its children are within reason.
gw_listener_alive() {
    kill -0 "$GW_PID" 2>/dev/null || fail "the gateway's listener (pid $GW_PID) is gone"
    pass "the listener (pid $GW_PID) is alive"
}

# Every gateway process of this environment (listener and children).
gw_children() {
    pgrep -P "$GW_PID" 2>/dev/null || true
}

# True when the listener has no child left.
gw_no_children() {
    [ -z "$(gw_children)" ]
}

# No sanitizer report, crash or assertion in the gateway's log since line $1.
gw_log_clean() {
    local from=${1:-1} bad
    bad=$(tail -n +"$from" "$DIR/gw.log" | grep -E 'child\.crash|ERROR: (Address|Leak)Sanitizer|runtime error:|Assertion|Segmentation' | head -n 5 || true)
    if [ -n "$bad" ]; then
        weak crash "the gateway crashed or tripped a sanitizer: $bad"
    else
        pass "no crash or sanitizer report in the gateway's log"
    fi
}
