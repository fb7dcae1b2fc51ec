#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Names and passwords that OpenSSH cannot even send, through the raw client
# (rawssh.py): NUL bytes, invalid UTF-8, newlines, confusable Unicode, 4 KiB
# and 64 KiB names and passwords, and the target selector with "..", "/",
# two "+" and a newline.  Every one is refused; no name outside the grammar
# ever reaches the directory (slapd's log); each refusal leaves an
# auth.failure row whose actor is "-" or a valid name, never the raw bytes.
# login-refused.sh covers what OpenSSH can send (wrong, empty and blank
# passwords, `*`, `)(`, upper case, 65-character names, twin entries) with
# the real password and key; this test does not repeat those.
# Runs on the shared environment.
# Depends on: names.c (grammar), session.c (binding the first name),
# ldap.c (escaping, password checks), libssh's string unpacking.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../jit-lib.sh
. "$(dirname "$0")/../jit-lib.sh"
# shellcheck source=lib-hostile.sh
. "$(dirname "$0")/lib-hostile.sh"
need_raw_client
shared_env
T=$(test_tmpdir) || fail "cannot create a temporary directory"
trap 'rm -rf "$T"' EXIT
export RAWSSH_TIMEOUT=3
seq0=$(audit_last_seq)

# refused_raw WHAT USER PASSWORD: a password login with these exact bytes
# (Python escapes) is refused and nothing runs.  A success fails the test.
refused_raw() {
    local what=$1 user=$2 pw=$3 out
    out=$(raw kex service "auth-password:$user:$pw" exec-if-authed:whoami)
    case "$(outcome_of auth-password "$out")" in
    USERAUTH_FAILURE* | DISCONNECT* | CLOSED*)
        if grep -q "^exec-if-authed -> exec" <<<"$out"; then
            fail "$what: a command ran after a refused login: $out"
        fi
        pass "$what: refused"
        ;;
    USERAUTH_SUCCESS)
        fail "$what: logged in ($(outcome_of exec-if-authed "$out"))"
        ;;
    *) fail "$what: unexpected answer: $out" ;;
    esac
}

k4=$(head -c 4096 /dev/zero | tr '\0' a)
k64=$(head -c 65536 /dev/zero | tr '\0' a)

# ---- usernames (with alice's real password) ----
refused_raw "empty username" '' alice-pw-2026
refused_raw "username of one space" ' ' alice-pw-2026
refused_raw "username of a tab" '\t' alice-pw-2026
refused_raw "username 'alice' + newline" 'alice\n' alice-pw-2026
refused_raw "username 'alice' + CR" 'alice\r' alice-pw-2026
refused_raw "username ' alice'" ' alice' alice-pw-2026
refused_raw "username of 4 KiB" "$k4" alice-pw-2026
refused_raw "username 'alice' + 4 KiB" "alice$k4" alice-pw-2026
refused_raw "username of 64 KiB" "$k64" alice-pw-2026
refused_raw "username '*'" '*' alice-pw-2026
refused_raw "username ')('" ')(' alice-pw-2026
refused_raw "username 'alice)(uid=*'" 'alice)(uid=*' alice-pw-2026
refused_raw "username with a backslash" 'alice\\5c' alice-pw-2026
refused_raw "username '\\2a'" '\\2a' alice-pw-2026
refused_raw "username with Latin-1 e-acute (invalid UTF-8)" 'alic\xe9' alice-pw-2026
refused_raw "username with a lone continuation byte" 'alice\x80' alice-pw-2026
refused_raw "username with an overlong '/' (C0 AF)" 'alice\xc0\xaf' alice-pw-2026
refused_raw "username with Cyrillic a (U+0430)" '\xd0\xb0lice' alice-pw-2026
refused_raw "username with fullwidth a (U+FF41)" '\xef\xbd\x81lice' alice-pw-2026
refused_raw "username with a zero-width space" 'ali\xe2\x80\x8bce' alice-pw-2026
refused_raw "username with a combining mark" 'alice\xcc\x81' alice-pw-2026
refused_raw "username starting with NUL" '\x00alice' alice-pw-2026
# nul_case WHAT USER PASSWORD ID ERE: bytes after a NUL that libssh 0.10
# never shows the gateway (it unpacks names and passwords as C strings).
# Refused is fine.  A login is weakness ID (accepted in ACCEPTED for this
# case alone), and only if what ran is what ERE says -- the name before the
# NUL with alice's rights and nothing more -- and the audit's logins since
# name alice alone; anything else fails the test.
nul_case() {
    local what=$1 user=$2 pw=$3 id=$4 ere=$5 out seq0 res actors
    seq0=$(audit_last_seq)
    out=$(raw kex service "auth-password:$user:$pw" exec-if-authed:whoami)
    case "$(outcome_of auth-password "$out")" in
    USERAUTH_FAILURE* | DISCONNECT* | CLOSED*)
        if grep -q "^exec-if-authed -> exec" <<<"$out"; then
            fail "$what: a command ran after a refused login: $out"
        fi
        pass "$what: refused"
        ;;
    USERAUTH_SUCCESS)
        res=$(outcome_of exec-if-authed "$out")
        grep -qE -- "$ere" <<<"$res" ||
            fail "$what: logged in, and what ran is not /$ere/: $res"
        actors=$(audit_filter 'int(r["seq"]) > int(a[0]) and r.get("event") == "auth.success"' "$seq0" |
            "$PY" -c 'import json, sys; print(" ".join(sorted(set(json.loads(l)["actor"] for l in sys.stdin))))')
        expect_eq "$what: the login is audited as alice's, and only hers" alice "$actors"
        weak "$id" "$what: logged in with what came before the NUL ($res)"
        ;;
    *) fail "$what: unexpected answer: $out" ;;
    esac
}

# A NUL after a valid name: the gateway only ever sees what comes before.
nul_case "username 'alice' NUL 'x'" 'alice\x00x' alice-pw-2026 nul-name-truncated \
    '^exec reply=CHANNEL_SUCCESS status=0 stdout=user: +alice\\x0a'
nul_case "username 'alice' NUL '+web-1'" 'alice\x00+web-1' alice-pw-2026 nul-name-truncated-before-target \
    '^exec reply=CHANNEL_SUCCESS status=0 stdout=user: +alice\\x0a'
nul_case "username 'alice+staging-1' NUL 'x'" 'alice+staging-1\x00x' alice-pw-2026 nul-name-truncated-after-target \
    "^exec reply=CHANNEL_SUCCESS status=0 stdout=$LOGIN stderr=\$"

# ---- the target selector ----
refused_raw "target '..'" 'alice+..' alice-pw-2026
refused_raw "target '../web-1'" 'alice+../web-1' alice-pw-2026
refused_raw "target 'staging-1/..'" 'alice+staging-1/..' alice-pw-2026
refused_raw "target '/etc/passwd'" 'alice+/etc/passwd' alice-pw-2026
refused_raw "target 'staging-1/x'" 'alice+staging-1/x' alice-pw-2026
refused_raw "two '+'" 'alice+staging-1+web-1' alice-pw-2026
refused_raw "two '+' in a row" 'alice++staging-1' alice-pw-2026
refused_raw "target + newline" 'alice+staging-1\n' alice-pw-2026
refused_raw "target with a newline inside" 'alice+stag\ning-1' alice-pw-2026
refused_raw "target of 4 KiB" "alice+$k4" alice-pw-2026
refused_raw "target with Cyrillic a" 'alice+st\xd0\xb0ging-1' alice-pw-2026
# '..' is in the grammar's alphabet: a target named '..' or '.' must still be
# nothing (no target of the policy has that name).
out=$(gw_ssh alice+.. 'echo reached-target' 2>&1) && fail "alice+.. ran: $out"
expect_nomatch "key login as alice+.. runs nothing" 'reached-target' "$out"
out=$(gw_ssh alice+. 'echo reached-target' 2>&1) && fail "alice+. ran: $out"
expect_nomatch "key login as alice+. runs nothing" 'reached-target' "$out"

# ---- passwords (for alice, a valid name) ----
refused_raw "password of 4 KiB" alice "$k4"
refused_raw "password of 64 KiB" alice "$k64"
refused_raw "alice's password + 4 KiB" alice "alice-pw-2026$k4"
refused_raw "password with Cyrillic a" alice '\xd0\xb0lice-pw-2026'
refused_raw "password of invalid UTF-8" alice 'alice-pw-2026\xff'
refused_raw "password NUL + alice's password" alice '\x00alice-pw-2026'
refused_raw "password '*'" alice '*'
refused_raw "password ')('" alice ')('
refused_raw "password with a backslash" alice '\\'
refused_raw "password of newlines" alice '\n\n'
refused_raw "password of one NUL" alice '\x00'
# alice's password followed by NUL and more: the gateway sees only the part
# before the NUL (libssh), which is alice's password.
nul_case "alice's password + NUL + junk" alice 'alice-pw-2026\x00junk' nul-password-truncated \
    '^exec reply=CHANNEL_SUCCESS status=0 stdout=user: +alice\\x0a'

# ---- the directory never saw a name outside the grammar ----
bad=$(grep -E ' SRCH base=' "$LDAP_DIR/slapd.log" | grep -oE 'filter="\(&\(objectClass=inetOrgPerson\)\(uid=[^"]*\)\)"|\(uid=[^)]*\)' |
    sed -E 's/.*\(uid=([^)]*)\).*/\1/' | sort -u | grep -vE '^[a-z_][a-z0-9_.-]{0,63}$' || true)
expect_eq "no invalid name reached the directory" "" "$bad"
expect_match "(the slapd log does show searches for alice)" '\(uid=alice\)' "$(grep -E ' SRCH base=' "$LDAP_DIR/slapd.log")"

# ---- the audit names only valid users (or "-") ----
rows=$(audit_since "$seq0" | grep '"auth.failure"' || true)
[ -n "$rows" ] || fail "no auth.failure row for any of the refusals"
pass "the refusals are in the audit ($(printf '%s\n' "$rows" | grep -c .) auth.failure rows)"
actors=$(printf '%s\n' "$rows" | "$PY" -c '
import json, re, sys
for line in sys.stdin:
    r = json.loads(line)
    for v in (r.get("actor"), r.get("object"), (r.get("details") or {}).get("user")):
        if v is not None and v != "-" and not re.fullmatch(r"[a-z_][a-z0-9_.-]{0,63}", v):
            print(repr(v))
')
expect_eq "no auth.failure row carries a name outside the grammar" "" "$actors"
"$DRAWBRIDGE_BIN" audit -c "$CFG" >"$T/audit.txt" 2>&1 || fail "drawbridge audit failed: $(cat "$T/audit.txt")"
if LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f]' "$T/audit.txt"; then
    fail "drawbridge audit printed control bytes"
fi
pass "drawbridge audit prints no control bytes"

gw_log_clean "$GW_LOG_START"
gw_still_serves
hostile_finish
