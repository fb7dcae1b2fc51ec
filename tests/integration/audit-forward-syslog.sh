#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# audit_forward: syslog (issue 12): every audit row goes to syslog(3) as it
# is committed, one message each ("drawbridge-audit" and the row as JSON,
# facility authpriv), and a file of those messages, as a syslog daemon would
# keep it, is a forwarded copy `drawbridge verify --forwarded` accepts.
#
# syslog(3) writes to /dev/log: the test runs the gateway's commands in a
# mount namespace of their own whose /dev holds its listener's socket (and
# the real null, zero, random and urandom), so that no syslog daemon of the
# machine is needed or disturbed.  Needs root and unshare(1); skipped
# otherwise.
# Depends on: store/forward.c.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root (a mount namespace with its own /dev/log)"
command -v unshare >/dev/null || skip "needs unshare(1)"

private_env
T=$DIR/scratch
mkdir -p "$T/dev"
request alice web-1 1h
approve bob "$N"
gw_stop
printf 'audit_forward: syslog\n' >>"$CFG"

# the syslog daemon of the namespace: every datagram on $T/dev/log, one per line
"$PY" - "$T/dev/log" "$T/syslog.txt" <<'PYEOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
with open(sys.argv[2], "ab", buffering=0) as out:
    try:
        while True:
            d = s.recv(65536)
            out.write(d.rstrip(b"\0\n") + b"\n")
    except socket.timeout:
        pass
PYEOF
LISTENER=$!
wait_until 10 test -S "$T/dev/log" || fail "the syslog listener did not start"

# in_ns CMD...: CMD with /dev replaced by $T/dev (log socket + the real device nodes)
in_ns() {
    unshare -m --propagation private bash -c '
        d=$1; shift
        for n in null zero random urandom; do : >"$d/$n"; mount --bind "/dev/$n" "$d/$n" || exit 97; done
        mount --bind "$d" /dev || exit 97
        exec "$@"' in_ns "$T/dev" "$@"
}

# verify writes its own verify.result row: it goes to syslog as it is committed
rc=0
out=$(in_ns "$DRAWBRIDGE_BIN" verify -c "$CFG" 2>&1) || rc=$?
[ "$rc" = 97 ] && skip "cannot bind-mount a /dev of the test's own here"
expect_eq "verify (with audit_forward: syslog) passes" 0 "$rc"
wait_until 5 file_has "$T/syslog.txt" 'drawbridge-audit .*"event":"verify.result"' ||
    fail "no verify.result row reached syslog: $(cat "$T/syslog.txt" 2>/dev/null)"
line=$(grep 'drawbridge-audit' "$T/syslog.txt" | tail -n 1)
expect_match "the message is the row as JSON with its hash (facility authpriv: <86>)" \
    '^<86>.*drawbridge-audit \{"seq":[0-9]+,"time":[0-9]+,"actor":.*"prev_hash":"[0-9a-f]{64}","hash":"[0-9a-f]{64}"\}$' "$line"
kill "$LISTENER" 2>/dev/null
wait "$LISTENER" 2>/dev/null

out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" --forwarded "$T/syslog.txt" 2>&1) ||
    fail "verify --forwarded on the syslog copy: $out"
expect_match "the syslog file is a forwarded copy verify accepts" 'forwarded copy: ok \(1 rows match' "$out"
last=$(sed -n 's/.*drawbridge-audit {"seq":\([0-9]*\),.*/\1/p' "$T/syslog.txt" | tail -n 1)
[ -n "$last" ] || fail "no seq in the syslog copy"
"$PY" - "$DIR/state/drawbridge.db" "$last" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE audit SET details = '{}' WHERE seq = ?", (int(sys.argv[2]),))
db.commit()
PYEOF
rc=0
out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" --forwarded "$T/syslog.txt" 2>&1) || rc=$?
expect_eq "a row changed after it went to syslog: exit 1" 1 "$rc"
expect_match "and it is named" "audit row $last: changed since it was forwarded" "$out"

finish
