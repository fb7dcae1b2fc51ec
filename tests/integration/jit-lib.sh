# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Helpers for the access (jit-*.sh) and recording (rec-*.sh) tests, sourced
# after lib.sh: acting as one of the demo users, reading the audit chain and
# the store, and checking refusals the way users see them.
#
# Users and how they log in: alice with her key (it is in LDAP), everyone
# else with the password "<name>-pw-2026".  Their groups (lib-ldap.sh):
#   alice  sre, engineers         bob   sre-leads, sre
#   carol  security (reviewer)    dave  oncall (break-glass), engineers
#   erin   sre-leads              frank none

# as WHO [ssh args...]: WHO is USER or USER+TARGET.
as() {
    local who=$1 user
    shift
    user=${who%%+*}
    if [ "$user" = alice ]; then
        gw_ssh "$who" "$@"
    else
        gw_ssh_pw "$user-pw-2026" "$who" "$@"
    fi
}

# run WHO [ssh args...]: sets RC, OUT (stdout) and ERR (stderr); stdin is
# /dev/null.  Needs T, a scratch directory.
run() {
    RC=0
    as "$@" </dev/null >"${T:?}/run.out" 2>"$T/run.err" || RC=$?
    OUT=$(cat "$T/run.out")
    ERR=$(cat "$T/run.err")
}

# expect_refusal WHAT STATUS ERE: the last run exited STATUS and said ERE on
# stderr in one "drawbridge: ..." line (a usage line may follow a usage
# error, status 2), with nothing on stdout.
expect_refusal() {
    local what=$1 status=$2 ere=$3 first n
    if [ "$RC" != "$status" ]; then
        fail "$what: exit status $RC, expected $status (stdout: $OUT; stderr: $ERR)"
    fi
    first=$(printf '%s\n' "$ERR" | head -n 1)
    if ! grep -qE -- "^drawbridge: .*($ere)" <<<"$first"; then
        fail "$what: stderr's first line is not 'drawbridge: ... /$ere/': $ERR"
    fi
    n=$(printf '%s\n' "$ERR" | grep -c . || true)
    if [ "$status" = 2 ]; then
        if [ "$n" -gt 2 ] || { [ "$n" = 2 ] && ! grep -q '^usage: ' <<<"$(sed -n 2p <<<"$ERR")"; }; then
            fail "$what: more than the error and a usage line on stderr: $ERR"
        fi
    elif [ "$n" != 1 ]; then
        fail "$what: expected one line on stderr, got $n: $ERR"
    fi
    if [ -n "$OUT" ]; then
        fail "$what: a refusal printed on stdout: $OUT"
    fi
    pass "$what (exit $status: $first)"
}

# req_id TEXT: N of "request N pending..." (empty when absent).
req_id() {
    printf '%s\n' "$1" | sed -n 's/^request \([0-9][0-9]*\) pending.*/\1/p' | head -n 1
}

# request WHO TARGET DURATION [more request args]: creates a request, sets N.
request() {
    local who=$1 target=$2 dur=$3
    shift 3
    run "$who" request "$target" --for "$dur" --reason "'test of $TEST_NAME'" "$@"
    [ "$RC" = 0 ] || fail "$who request $target --for $dur: exit $RC: $ERR"
    N=$(req_id "$OUT")
    [ -n "$N" ] || fail "$who request $target: no request number in: $OUT"
}

# approve WHO N: must succeed; sets OUT.
approve() {
    run "$1" approve "$2"
    [ "$RC" = 0 ] || fail "$1 approve $2: exit $RC: $ERR"
}

# audit_json: the whole chain, one JSON object per line (drawbridge audit
# --json).  A `drawbridge audit` that fails, or prints nothing (every
# environment has at least its policy.load row), fails the test -- also
# from inside $(...) -- so that no count of rows is ever taken from an
# audit that could not be read.
audit_json() {
    local f rc=0
    f=$(mktemp "${INTEG_WORK:-${TMPDIR:-/tmp}}/audit.XXXXXX") || fail "audit_json: mktemp failed"
    "$DRAWBRIDGE_BIN" audit -c "$CFG" --json >"$f" 2>"$f.err" || rc=$?
    if [ "$rc" != 0 ]; then
        fail "drawbridge audit --json exited $rc: $(head -c 500 "$f.err")"
    fi
    if ! [ -s "$f" ]; then
        fail "drawbridge audit --json printed nothing: $(head -c 500 "$f.err")"
    fi
    cat "$f"
    rm -f "$f" "$f.err"
}

# audit_filter PYTHON-EXPR [ARGS...]: the rows r of the chain for which
# PYTHON-EXPR is true (ARGS in the list a; re is imported), one JSON object
# per line, sorted keys.
audit_filter() {
    local out expr=$1
    shift
    out=$(audit_json | "$PY" -c '
import json, re, sys
a = sys.argv[2:]
for line in sys.stdin:
    r = json.loads(line)
    if eval("(" + sys.argv[1] + ")"):
        print(json.dumps(r, sort_keys=True))
' "$expr" "$@") || fail "audit_filter: cannot read the audit as JSON ($expr)"
    [ -z "$out" ] || printf '%s\n' "$out"
}

# audit_rows EVENT [OBJECT [ACTOR]]: the matching rows of the chain.
audit_rows() {
    audit_filter 'r.get("event") == a[0] and (not a[1] or r.get("object") == a[1]) and (not a[2] or r.get("actor") == a[2])' \
        "$1" "${2:-}" "${3:-}"
}

# audit_count EVENT [OBJECT [ACTOR]]
audit_count() {
    local rows
    rows=$(audit_rows "$@")
    if [ -z "$rows" ]; then
        echo 0
    else
        printf '%s\n' "$rows" | grep -c .
    fi
}

# audit_since SEQ: the rows after seq SEQ.
audit_since() {
    audit_filter 'int(r["seq"]) > int(a[0])' "${1:?audit_since needs a seq}"
}

# audit_last_seq: the seq of the chain's last row (never 0: the chain is
# never empty once a gateway has started).
audit_last_seq() {
    local s
    s=$(audit_json | "$PY" -c '
import json, sys
print(max(int(json.loads(l)["seq"]) for l in sys.stdin if l.strip()))
') || fail "audit_last_seq: cannot read the audit's seq numbers"
    [[ $s =~ ^[1-9][0-9]*$ ]] || fail "audit_last_seq: no seq in the audit ('$s')"
    echo "$s"
}

# expect_audit WHAT EVENT OBJECT ACTOR [ERE on the row]: at least one row.
expect_audit() {
    local what=$1 rows
    rows=$(audit_rows "$2" "$3" "$4")
    [ -n "$rows" ] || fail "$what: no audit row $2 / $3 / $4"
    if [ -n "${5:-}" ] && ! grep -qE -- "$5" <<<"$rows"; then
        fail "$what: audit row $2 / $3 / $4 does not match /$5/: $rows"
    fi
    pass "$what"
}

# json_get FIELD: reads one JSON object on stdin, prints FIELD ("" if absent).
json_get() {
    "$PY" -c '
import json, sys
v = json.loads(sys.stdin.readline()).get(sys.argv[1])
print("" if v is None else (json.dumps(v) if isinstance(v, (dict, list, bool)) else v))
' "$1"
}

# expect_verify_ok WHAT: drawbridge verify exits 0 and says the chain is ok.
expect_verify_ok() {
    local rc=0 out
    out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" 2>&1) || rc=$?
    [ "$rc" = 0 ] || fail "$1: drawbridge verify exited $rc: $out"
    expect_match "$1" 'audit chain: ok' "$out"
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds.
wait_until() {
    local deadline=$(($(now_ms) + $1 * 1000))
    shift
    while ! "$@"; do
        [ "$(now_ms)" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# Session ids of the store, newest first, for WHERE (SQL on table sessions).
session_ids() {
    db_query "SELECT id FROM sessions WHERE $1 ORDER BY started_at DESC, rowid DESC"
}

# A remote command for a session that should stay up until the gateway ends
# it: it says "started", then writes a dot now and then, so that it also
# ends on the target (SIGPIPE) once its channel is gone.
LIVE_CMD='echo started; while sleep 0.3; do printf .; done'

# Background clients.  bg_cleanup ends those still running (call it from
# the EXIT trap, before env_down).
BG_PIDS=()
bg_cleanup() {
    local p
    for p in "${BG_PIDS[@]}"; do
        kill_tree "$p"
    done
    return 0
}

# bg_session NAME WHO COMMAND: an exec session in the background; in T:
# NAME.out, NAME.err, NAME.rc (its exit status) and NAME.end (now_ms when
# the client exited).
bg_session() {
    local name=$1 who=$2 cmd=$3
    (
        rc=0
        as "$who" "$cmd" </dev/null >"$T/$name.out" 2>"$T/$name.err" || rc=$?
        now_ms >"$T/$name.end"
        echo "$rc" >"$T/$name.rc"
    ) &
    BG_PIDS+=($!)
}

# bg_pty NAME WHO STEPS...: ptydrive (24x80) on `ssh -t WHO` in the
# background; NAME.log is the transcript, NAME.drive its errors, NAME.rc and
# NAME.end as above.  Only alice (key) can be driven this way.
bg_pty() {
    local name=$1 who=$2
    shift 2
    _ssh_opts
    (
        rc=0
        "$PY" "$LIB_DIR/ptydrive.py" --timeout 30 --log "$T/$name.log" size:24:80 "$@" \
            -- ssh "${SSH_OPTS[@]}" "${SSH_KEY_OPTS[@]}" -p "$GW_PORT" -l "$who" -t "$GW_HOST" \
            2>"$T/$name.drive" || rc=$?
        now_ms >"$T/$name.end"
        echo "$rc" >"$T/$name.rc"
    ) &
    BG_PIDS+=($!)
}

has_file() { [ -s "$1" ]; }
# file_has FILE ERE
file_has() { grep -qE -- "$2" "$1" 2>/dev/null; }

# asciinema_cat FILE: `asciinema cat FILE` on a pty of its own in raw mode
# (it opens /dev/tty; raw, so that no CR is added), its output on stdout,
# its exit status returned.
asciinema_cat() {
    "$PY" - "$1" <<'PYEOF'
import os, pty, sys, tty
pid, fd = pty.fork()
if pid == 0:
    tty.setraw(0)
    os.execvp("asciinema", ["asciinema", "cat", sys.argv[1]])
out = b""
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    out += data
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
PYEOF
}

# cast_events FILE CODE: the data of every CODE event ("o", "i", "r", "m"
# ...) of an asciicast, one JSON string per line.
cast_events() {
    "$PY" - "$1" "$2" <<'PYEOF'
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    next(f)
    for line in f:
        if line.strip():
            ev = json.loads(line)
            if ev[1] == sys.argv[2]:
                print(json.dumps(ev[2]))
PYEOF
}
