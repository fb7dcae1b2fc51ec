#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Every kind of session is recorded, as asciicast v2 that stock asciinema
# plays:
#   - an interactive shell on a pty: the header (size, TERM, the drawbridge
#     object), the output, the typed input ("i" events), a window change
#     ("r" event), the end marker; file mode 0600, sealed in the store;
#   - the same on norec-1, a target with record_input: false: output
#     recorded, no input events;
#   - exec (the command in the header), scp (both protocols), rsync, and
#     sftp with its file operations as "m" marker events naming the files
#     and byte counts, and as sftp.file rows in the audit chain;
#   - drawbridge verify finds each recording ok; drawbridge export and the
#     reviewer's `export` give the file's exact bytes; `sessions --json`
#     lists them.
# Runs in an environment of its own (an extra target, known session counts).
# Depends on: broker/recorder.c, channel.c (the recording hook), sftp.c,
# recordings/ (writer), admin.c (verify, export), shell (sessions, export).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

export GW_POLICY_TARGETS='  - name: norec-1
    address: @ADDR@
    host_key: "@HOST_KEY@"
    logins: [@LOGIN@]
    labels: {env: staging}
    record_input: false'
private_env
T=$DIR/scratch
mkdir -p "$T/remote"

# session_of WHERE: the newest session matching WHERE, once it has ended and
# its recording is sealed (sets SID and CAST).
session_of() {
    local where=$1
    sealed() {
        SID=$(session_ids "$where" | head -n 1)
        [ -n "$SID" ] && [ -n "$(db_query "SELECT id FROM sessions WHERE id = '$SID' AND ended_at > 0 AND sha256 != ''")" ]
    }
    wait_until 10 sealed || fail "no ended, sealed session for: $where (last: ${SID:-none})"
    CAST=$(db_query "SELECT recording_path FROM sessions WHERE id = '$SID'")
    [ -f "$CAST" ] || fail "session $SID: recording $CAST is not a file"
}

# header_field FILE PY-EXPR: evaluates PY-EXPR on the header h.
header_field() {
    "$PY" -c 'import json, sys; h = json.loads(open(sys.argv[1], encoding="utf-8").readline()); print(eval(sys.argv[2]))' "$1" "$2"
}

drive() {
    _ssh_opts
    "$PY" "$LIB_DIR/ptydrive.py" --timeout 20 --log "$T/$1.transcript" "${@:3}" \
        -- ssh "${SSH_OPTS[@]}" "${SSH_KEY_OPTS[@]}" -p "$GW_PORT" -l "$2" -t "$GW_HOST" 2>"$T/$1.drive"
}

# ---- an interactive shell, with typed input and a window change ----
drive shell alice+staging-1 size:30:100 'expect:[#$] ' \
    'send:echo rec-marker-$((6*7))\r' 'expect:rec-marker-42' \
    size:40:120 sleep:0.5 'send:stty size\r' 'expect:40 120' \
    'send:exit\r' exit:0 || fail "pty session to staging-1: $(cat "$T/shell.drive")"
session_of "\"user\" = 'alice' AND target = 'staging-1' AND kind = 'shell'"
shell_sid=$SID
expect_eq "the recording is state_dir/recordings/YYYY/MM/DD/ID.cast" \
    "$DIR/state/recordings/$(date -u +%Y/%m/%d)/$SID.cast" "$CAST"
expect_eq "the recording's mode is 0600" 600 "$(stat -c %a "$CAST")"
expect_eq "header: asciicast v2, 100x30, TERM, the session in the drawbridge object" \
    "2 100 30 True $SID alice staging-1 $LOGIN shell" \
    "$(header_field "$CAST" '" ".join(str(x) for x in (h["version"], h["width"], h["height"], bool(h.get("env", {}).get("TERM")), h["drawbridge"]["session"], h["drawbridge"]["user"], h["drawbridge"]["target"], h["drawbridge"]["login"], h["drawbridge"]["kind"]))')"
rc=0
asciinema_cat "$CAST" >"$T/shell.played" 2>"$T/shell.played.err" || rc=$?
expect_eq "asciinema cat plays it (exit 0)" 0 "$rc"
expect_match "what it plays contains the command's output" 'rec-marker-42' "$(cat "$T/shell.played")"
expect_match "and the size the target saw after the window change" '40 120' "$(cat "$T/shell.played")"
input=$(cast_events "$CAST" i | "$PY" -c 'import json, sys; print("".join(json.loads(l) for l in sys.stdin))')
expect_match "input events hold what was typed" 'echo rec-marker-\$\(\(6\*7\)\)' "$input"
expect_match "input events hold the later commands too" 'stty size' "$input"
expect_match "a resize event 120x40" '^"120x40"$' "$(cast_events "$CAST" r)"
expect_match "an end marker with the exit status" '^"end: exit status 0"$' "$(cast_events "$CAST" m)"

# ---- record_input: false ----
drive norec alice+norec-1 size:24:80 'expect:[#$] ' \
    'send:echo norec-secret-$((6*7))\r' 'expect:norec-secret-42' \
    'send:exit\r' exit:0 || fail "pty session to norec-1: $(cat "$T/norec.drive")"
session_of "\"user\" = 'alice' AND target = 'norec-1' AND kind = 'shell'"
expect_eq "norec-1: no input events" "" "$(cast_events "$CAST" i; cast_events "$CAST" bi)"
expect_eq "norec-1: the header says input is not recorded" False \
    "$(header_field "$CAST" 'h["drawbridge"].get("record_input")')"
expect_match "norec-1: output is recorded" 'norec-secret-42' "$(asciinema_cat "$CAST")"

# ---- exec ----
run alice+staging-1 'echo exec-out-$((6*7)); echo exec-err >&2; exit 3'
expect_eq "exec: exit 3 through the gateway" 3 "$RC"
session_of "\"user\" = 'alice' AND target = 'staging-1' AND kind = 'exec' AND command LIKE 'echo exec-out%'"
exec_sid=$SID
expect_eq "exec: the command is in the header" 'echo exec-out-$((6*7)); echo exec-err >&2; exit 3' \
    "$(header_field "$CAST" 'h["drawbridge"]["command"]')"
played=$(asciinema_cat "$CAST")
expect_match "exec: the output is recorded" 'exec-out-42' "$played"
expect_match "exec: stderr is recorded too" 'exec-err' "$played"
expect_match "exec: the end marker has exit status 3" '^"end: exit status 3"$' "$(cast_events "$CAST" m)"

# ---- scp (SFTP protocol, the default) and scp -O (the old protocol, an exec) ----
head -c 70000 /dev/urandom >"$T/src.bin"
gw_scp -q "$T/src.bin" "alice+staging-1@$GW_HOST:$T/remote/scp-default-file.bin" 2>"$T/scp.err" ||
    fail "scp: $(cat "$T/scp.err")"
cmp -s "$T/src.bin" "$T/remote/scp-default-file.bin" || fail "scp: the file arrived changed"
session_of "\"user\" = 'alice' AND target = 'staging-1' AND kind = 'subsystem'"
expect_match "scp: its sftp session names the file and the byte count in a marker" \
    "scp-default-file\.bin.*\(70000 bytes\)" "$(cast_events "$CAST" m)"
gw_scp -q -O "$T/src.bin" "alice+staging-1@$GW_HOST:$T/remote/scp-legacy-file.bin" 2>"$T/scp.err" ||
    fail "scp -O: $(cat "$T/scp.err")"
cmp -s "$T/src.bin" "$T/remote/scp-legacy-file.bin" || fail "scp -O: the file arrived changed"
session_of "\"user\" = 'alice' AND target = 'staging-1' AND kind = 'exec' AND command LIKE 'scp %'"
expect_match "scp -O: the recording's header has the scp command and path" \
    'scp .*-t .*scp-legacy-file\.bin' "$(header_field "$CAST" 'h["drawbridge"]["command"]')"
# (the file's bytes follow in "bi" events: only the text events are matched)
expect_match "scp -O: the protocol line with the file name is recorded" \
    'C0[0-7]{3} 70000 (scp-legacy-file|src)\.bin' "$(cast_events "$CAST" i)"

# ---- rsync ----
gw_rsync -q "$T/src.bin" "alice+staging-1@$GW_HOST:$T/remote/rsync-file.bin" 2>"$T/rsync.err" ||
    fail "rsync: $(cat "$T/rsync.err")"
session_of "\"user\" = 'alice' AND target = 'staging-1' AND kind = 'exec' AND command LIKE 'rsync %'"
expect_match "rsync: the recording's header has the rsync server command" \
    'rsync --server.*rsync-file\.bin' "$(header_field "$CAST" 'h["drawbridge"]["command"]')"

# ---- sftp: file operations as markers and audit rows ----
head -c 12345 /dev/urandom >"$T/put.bin"
cat >"$T/batch" <<EOF
mkdir $T/remote/sftp-dir
put $T/put.bin $T/remote/sftp-dir/sftp-upload.bin
get $T/remote/sftp-dir/sftp-upload.bin $T/got.bin
rename $T/remote/sftp-dir/sftp-upload.bin $T/remote/sftp-dir/sftp-renamed.bin
rm $T/remote/sftp-dir/sftp-renamed.bin
rmdir $T/remote/sftp-dir
EOF
gw_sftp alice+staging-1 -q -b "$T/batch" >"$T/sftp.out" 2>"$T/sftp.err" || fail "sftp batch: $(cat "$T/sftp.err")"
cmp -s "$T/put.bin" "$T/got.bin" || fail "sftp: the file came back changed"
session_of "\"user\" = 'alice' AND target = 'staging-1' AND kind = 'subsystem'"
sftp_sid=$SID
marks=$(cast_events "$CAST" m)
expect_match "sftp: a marker for the mkdir" 'mkdir .*sftp-dir' "$marks"
expect_match "sftp: a marker for the upload with its size" 'write .*sftp-upload\.bin.*12345 bytes' "$marks"
expect_match "sftp: a marker for the download" 'read .*sftp-upload\.bin' "$marks"
expect_match "sftp: a marker for the remove" 'remove .*sftp-renamed\.bin' "$marks"
expect_match "sftp: a marker for the rmdir" 'rmdir .*sftp-dir' "$marks"
expect_audit "audit: sftp.file rows for the session" sftp.file "session $sftp_sid" alice 'sftp-upload\.bin'
asciinema_cat "$CAST" >/dev/null || fail "asciinema cat refuses the sftp session's recording"
pass "asciinema cat plays the sftp session's recording"

# ---- verify, export, sessions ----
rc=0
out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" 2>&1) || rc=$?
expect_eq "drawbridge verify exits 0" 0 "$rc"
for s in "$shell_sid" "$exec_sid" "$sftp_sid"; do
    expect_match "verify: session $s ok" "^session $s: ok\$" "$out"
done
# Every session to a target has a recording, and verify calls each one ok:
# as many "session ID: ok" lines as there are such sessions, and a summary
# with nothing else (verify prints TAMPERED: and MISSING: in capitals).
nrec=$(db_value "SELECT count(*) FROM sessions WHERE target != ''")
expect_ne "(there are recorded sessions)" 0 "$nrec"
expect_eq "verify: every recorded session is ok" "$nrec" \
    "$(printf '%s\n' "$out" | grep -cE '^session [a-z2-7]+: ok$' || true)"
NOCASE=1 expect_nomatch "verify: no recording tampered, truncated, live or missing" \
    '^session [^:]+: (tampered|truncated|live|missing)' "$out"
expect_match "verify: the summary counts them all ok" \
    "^recordings: [0-9]+ checked: $nrec ok, 0 truncated, 0 live, 0 tampered, 0 missing(, [0-9]+ without a recording)?\$" "$out"

"$DRAWBRIDGE_BIN" export -c "$CFG" "$exec_sid" >"$T/export.cast" 2>"$T/export.err" ||
    fail "drawbridge export $exec_sid: $(cat "$T/export.err")"
exec_cast=$(db_query "SELECT recording_path FROM sessions WHERE id = '$exec_sid'")
cmp -s "$T/export.cast" "$exec_cast" || fail "drawbridge export did not write the recording's bytes"
pass "drawbridge export writes the recording byte for byte"
as carol export "$shell_sid" </dev/null >"$T/carol.cast" 2>"$T/carol.err" ||
    fail "carol: export $shell_sid: $(cat "$T/carol.err")"
cmp -s "$T/carol.cast" "$(db_query "SELECT recording_path FROM sessions WHERE id = '$shell_sid'")" ||
    fail "ssh carol@gw export did not write the recording's bytes"
pass "ssh carol@gw export ID > s.cast gives the recording byte for byte"
expect_match "asciinema cat plays the exported file" 'rec-marker-42' "$(asciinema_cat "$T/carol.cast")"

run carol sessions --json
expect_eq "carol: sessions --json exits 0" 0 "$RC"
rc=0
out=$(printf '%s' "$OUT" | "$PY" -c '
import json, sys
rows = {r["id"]: r for r in json.load(sys.stdin)}
for sid in sys.argv[1:]:
    r = rows.get(sid)
    assert r is not None, "missing " + sid
    assert r["recorded"] and r["sealed"] and not r["live"], r
' "$shell_sid" "$exec_sid" "$sftp_sid" 2>&1) || rc=$?
expect_eq "sessions --json lists the shell, exec and sftp sessions as recorded and sealed ($out)" 0 "$rc"
n=$(db_value "SELECT count(*) FROM sessions WHERE target != '' AND (recording_path IS NULL OR sha256 = '')")
expect_eq "store: every ended session to a target has a sealed recording" 0 "$n"

# Last, as OpenSSH's sftp renames through the posix-rename@openssh.com
# extension rather than SSH_FXP_RENAME: the rename must be seen either way.
expect_match "sftp: a marker for the rename, both names" 'rename .*sftp-upload\.bin.*sftp-renamed\.bin' "$marks"
expect_audit "audit: the rename is in the chain" sftp.file "session $sftp_sid" alice '"op": "rename"'

gw_still_serves
finish
