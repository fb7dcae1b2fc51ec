#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Replay is safe for the reviewer's terminal.  A session on staging-1
# prints sequences that would make a terminal answer or act -- OSC 52
# (clipboard, BEL- and ST-terminated), CSI 6n / 5n (status reports), CSI c,
# >c, =c (device attributes), DECRQSS and XTGETTCAP (DCS), window and title
# reports (CSI 14t, 18t, 20t, 21t), DECRQM, OSC colour and font queries,
# APC and PM strings, 8-bit C1 controls (raw and UTF-8 encoded) -- between
# harmless text and colours.  The recording keeps them all (it is evidence);
# `ssh -tt carol@gw replay ID` (and without a pty) shows none of them, byte
# for byte, while the text, its order and the colours survive.
# Depends on: recordings/sanitize.c, shell (replay, watch, the player).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"
shared_env

T=$(test_tmpdir) || fail "cannot create a temporary directory"
trap 'rm -rf "$T"' EXIT

# The hostile output, written by Python so that every byte is exact; each
# sequence is followed by a visible token that must survive in order.
nseq=$("$PY" - "$T/hostile.bin" <<'EOF'
import sys
seqs = [
    b"\x1b]52;c;cHduZWQ=\x07",        # OSC 52 clipboard write, BEL
    b"\x1b]52;p;cHduZWQ=\x1b\\",      # OSC 52, ST
    b"\x1b]52;c;?\x07",               # OSC 52 clipboard read
    b"\x1b[6n", b"\x1b[5n",           # cursor position / status reports
    b"\x1b[c", b"\x1b[0c", b"\x1b[>c", b"\x1b[=c",   # device attributes
    b"\x1bP$qm\x1b\\",                # DECRQSS (SGR)
    b"\x1bP$q\"p\x1b\\",              # DECRQSS (conformance level)
    b"\x1bP+q544e\x1b\\",             # XTGETTCAP
    b"\x1b[21t", b"\x1b[20t", b"\x1b[14t", b"\x1b[18t",  # title, icon, window reports
    b"\x1b[?2026$p",                  # DECRQM
    b"\x1b]4;1;?\x07", b"\x1b]11;?\x1b\\", b"\x1b]50;?\x07",  # colour and font queries
    b"\x1b_apc-payload\x1b\\", b"\x1b^pm-payload\x1b\\",     # APC, PM
    b"\x9b6n", b"\x90$qm\x9c", b"\x9d52;c;cHduZWQ=\x07",    # 8-bit C1, raw
    b"\xc2\x9b6n",                    # 8-bit CSI encoded as UTF-8 (U+009B)
]
out = b"begin \x1b[31mRED\x1b[0m \x1b[1;32mGREEN\x1b[0m\r\n"
for i, s in enumerate(seqs):
    out += s + b"tok%02d " % i
out += b"\r\nend-of-hostile\r\n"
open(sys.argv[1], "wb").write(out)
print(len(seqs))
EOF
) || fail "cannot write the hostile output"

run alice+staging-1 "cat $T/hostile.bin"
expect_eq "the hostile output crosses the gateway to the engineer unchanged" \
    "$(sha256sum <"$T/hostile.bin" | cut -d' ' -f1)" "$(sha256sum <"$T/run.out" | cut -d' ' -f1)"
sid=$(session_ids "\"user\" = 'alice' AND command = 'cat $T/hostile.bin'" | head -n 1)
[ -n "$sid" ] || fail "no session row for the hostile session"
sealed() { [ -n "$(db_query "SELECT id FROM sessions WHERE id = '$sid' AND sha256 != ''")" ]; }
wait_until 10 sealed || fail "session $sid was not sealed"
cast=$(db_query "SELECT recording_path FROM sessions WHERE id = '$sid'")

# The recording is evidence: it holds the sequences as they were.
rc=0
out=$("$PY" - "$cast" "$T/hostile.bin" <<'EOF' 2>&1
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
text = "".join(json.loads(l)[2] for l in lines[1:] if l and json.loads(l)[1] == "o")
for needle in ("\x1b]52;c;cHduZWQ=\x07", "\x1b[6n", "\x1bP$qm\x1b\\", "\x1b[21t", "\x1b_apc-payload"):
    assert needle in text, repr(needle)
EOF
) || rc=$?
expect_eq "the recording keeps the hostile sequences as output events ($out)" 0 "$rc"

# check_clean WHAT FILE: none of the sequences, every token in order, colours kept.
check_clean() {
    local rc=0 out
    out=$("$PY" - "$2" "$nseq" <<'EOF' 2>&1
import re, sys
b = open(sys.argv[1], "rb").read()
bad = {
    "OSC 52": rb"\x1b\]52", "CSI 6n": rb"\x1b\[6n", "CSI 5n": rb"\x1b\[5n",
    "CSI c / 0c": rb"\x1b\[0?c", "CSI >c": rb"\x1b\[>c", "CSI =c": rb"\x1b\[=c",
    "DCS (DECRQSS, XTGETTCAP)": rb"\x1bP", "title/icon/window report": rb"\x1b\[(14|18|20|21)t",
    "DECRQM": rb"\x1b\[\?[0-9]*\$p", "OSC 4": rb"\x1b\]4;", "OSC 11": rb"\x1b\]11;",
    "OSC 50": rb"\x1b\]50;", "APC": rb"\x1b_", "PM": rb"\x1b\^",
}
found = [k for k, rx in bad.items() if re.search(rx, b)]
# C1 controls: as bytes that are not UTF-8 (surrogate-escaped) or as U+0080..U+009F
s = b.decode("utf-8", "surrogateescape")
if any(0xdc80 <= ord(c) <= 0xdc9f for c in s):
    found.append("8-bit C1 (raw)")
if any(0x80 <= ord(c) <= 0x9f for c in s):
    found.append("8-bit C1 (UTF-8)")
toks = [int(m) for m in re.findall(rb"tok([0-9]{2}) ", b)]
problems = []
if found: problems.append("hostile sequences left: " + ", ".join(found))
if toks != list(range(int(sys.argv[2]))): problems.append("tokens missing or out of order: %s" % toks)
if b"\x1b[31mRED" not in b or b"GREEN" not in b: problems.append("colours or text lost")
if b"end-of-hostile" not in b: problems.append("the end of the output is missing")
print("; ".join(problems) or "%d bytes clean" % len(b))
sys.exit(1 if problems else 0)
EOF
) || rc=$?
    expect_eq "$1 ($out)" 0 "$rc"
}

# A replay to a terminal: ssh -tt, so that the gateway sees a pty.
rc=0
gw_ssh_pw carol-pw-2026 carol -tt replay "$sid" --speed 100 </dev/null >"$T/replay.out" 2>"$T/replay.err" || rc=$?
expect_eq "ssh -tt carol@gw replay ID exits 0 ($(head -c 300 "$T/replay.err"))" 0 "$rc"
check_clean "replay on a terminal: no hostile sequence, text and colours kept" "$T/replay.out"
# Without a terminal too.
rc=0
as carol replay "$sid" --speed 100 </dev/null >"$T/replay2.out" 2>"$T/replay2.err" || rc=$?
expect_eq "carol@gw replay ID without a pty exits 0" 0 "$rc"
check_clean "replay without a pty: no hostile sequence" "$T/replay2.out"

# (watch shows a live session through the same player: rec-live.sh.)

# export, by contrast, gives the recording as it is (for asciinema, not a terminal).
as carol export "$sid" </dev/null >"$T/export.cast" 2>/dev/null || fail "carol export $sid failed"
cmp -s "$T/export.cast" "$cast" || fail "export is not the recording byte for byte"
pass "export gives the recording unchanged (evidence)"

gw_still_serves
finish
