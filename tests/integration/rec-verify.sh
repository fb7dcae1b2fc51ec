#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Recordings are tamper-evident:
#   - one byte changed in a closed recording: `drawbridge verify` says
#     "tampered" for that session and exits 1 (also when asked about that
#     session alone), and reviewers can neither replay nor export it; put
#     back, it verifies again;
#   - a byte appended: tampered;
#   - a closed recording cut after its first lines: not ok (exit 1), and the
#     report says it was cut short;
#   - a session whose gateway process is killed (kill -9) mid-way leaves a
#     file that asciinema still plays and that verify reports "truncated",
#     not "tampered" (exit 0), and the session no longer counts as live.
# Runs in an environment of its own (it edits recordings, kills a session).
# Depends on: recordings/verify.c, recordings/writer.c (checkpoints, flush
# every second), admin.c (verify), shell (replay, export), the listener's
# handling of session processes that die.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

private_env
T=$DIR/scratch
mkdir -p "$T"
trap 'rc=$?; bg_cleanup; env_down "$rc" || rc=1; exit $rc' EXIT

verify() {
    VRC=0
    VOUT=$("$DRAWBRIDGE_BIN" verify -c "$CFG" "$@" 2>&1) || VRC=$?
}
sealed_session() {
    local where=$1
    sealed() {
        SID=$(session_ids "$where" | head -n 1)
        [ -n "$SID" ] && [ -n "$(db_query "SELECT id FROM sessions WHERE id = '$SID' AND ended_at > 0 AND sha256 != ''")" ]
    }
    wait_until 10 sealed || fail "no sealed session for: $where"
    CAST=$(db_query "SELECT recording_path FROM sessions WHERE id = '$SID'")
}

run alice+staging-1 'echo tamper-me-please; echo second-line'
[ "$RC" = 0 ] || fail "exec on staging-1: $ERR"
sealed_session "\"user\" = 'alice' AND command LIKE 'echo tamper-me%'"
s1=$SID
c1=$CAST
run alice+staging-1 'echo bystander'
sealed_session "\"user\" = 'alice' AND command = 'echo bystander'"
s2=$SID
verify
expect_eq "verify exits 0 on untouched recordings" 0 "$VRC"
expect_match "verify: session $s1 ok" "^session $s1: ok\$" "$VOUT"
cp -p "$c1" "$T/orig.cast"

# ---- one byte changed ----
"$PY" -c '
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.rindex(b"tamper-me-please")  # in the output event, not the header
b[i] = ord("T")
open(p, "wb").write(bytes(b))
' "$c1"
cmp -s "$c1" "$T/orig.cast" && fail "the byte was not changed"
verify
expect_eq "one byte changed: verify exits 1" 1 "$VRC"
NOCASE=1 expect_match "one byte changed: session $s1 is reported tampered" "^session $s1: tampered" "$VOUT"
expect_match "the untouched session is still ok" "^session $s2: ok\$" "$VOUT"
verify "$s1"
expect_eq "verify of that session alone exits 1" 1 "$VRC"
NOCASE=1 expect_match "and says tampered" "^session $s1: tampered" "$VOUT"
verify "$s2"
expect_eq "verify of the other session alone exits 0" 0 "$VRC"
run carol replay "$s1"
expect_refusal "carol cannot replay a tampered recording" 1 'tamper|does not match its seal'
run carol export "$s1"
expect_eq "carol cannot export a tampered recording (exit 1)" 1 "$RC"
NOCASE=1 expect_match "export says why" 'tamper|does not match its seal' "$ERR"
expect_nomatch "export writes none of it" 'amper-me-please' "$OUT"

cp -p "$T/orig.cast" "$c1"
verify
expect_eq "put back, the recording verifies again (exit 0)" 0 "$VRC"

# ---- a byte appended ----
printf ' ' >>"$c1"
verify "$s1"
expect_eq "a byte appended: verify exits 1" 1 "$VRC"
NOCASE=1 expect_match "a byte appended: tampered" "^session $s1: tampered" "$VOUT"
cp -p "$T/orig.cast" "$c1"

# ---- cut after its first lines ----
head -n 2 "$T/orig.cast" >"$c1"
verify "$s1"
expect_eq "a closed recording cut after 2 lines: verify exits 1" 1 "$VRC"
NOCASE=1 expect_match "the report says it was cut short" \
    "^session $s1: .*(truncat|stops (after|before)|ends (early|before)|cut)" "$VOUT"
cp -p "$T/orig.cast" "$c1"
verify
expect_eq "put back again, everything verifies (exit 0)" 0 "$VRC"

# ---- a session killed mid-way ----
bg_session killed alice+staging-1 'echo started-before-kill; while sleep 0.3; do printf .; done'
wait_until 10 file_has "$T/killed.out" '^started-before-kill' || fail "the session did not start: $(cat "$T/killed.err")"
sid=$(session_ids "\"user\" = 'alice' AND command LIKE 'echo started-before-kill%'" | head -n 1)
[ -n "$sid" ] || fail "no session row for the session to kill"
cast=$(db_query "SELECT recording_path FROM sessions WHERE id = '$sid'")
# at least one flush (every second) with its checkpoint after the output
sleep 1.5
kids=$(pgrep -P "$GW_PID" | tr '\n' ' ')
[ -n "$kids" ] || fail "no session process under the gateway"
# shellcheck disable=SC2086
kill -KILL $kids
wait_until 10 has_file "$T/killed.rc" || fail "the client did not notice its session's process was killed"
pass "the session's process was killed (kill -9 $kids)"
rc=0
played=$(asciinema_cat "$cast") || rc=$?
expect_eq "asciinema cat plays the killed session's recording (exit 0)" 0 "$rc"
expect_match "and it holds the output from before the kill" 'started-before-kill' "$played"
not_live() {
    run carol sessions --live
    ! grep -q "^$sid " <<<"$OUT"
}
wait_until 10 not_live || fail "10 s after its process was killed, session $sid is still listed by sessions --live"
pass "the killed session is no longer listed as live"
verify "$sid"
expect_eq "verify exits 0 for a killed session's recording (truncated is not tampered)" 0 "$VRC"
expect_match "verify reports it truncated" "^session $sid: truncated" "$VOUT"
verify
expect_eq "verify of everything exits 0" 0 "$VRC"
expect_match "the summary counts one truncated" '1 truncated' "$VOUT"

gw_still_serves
finish
