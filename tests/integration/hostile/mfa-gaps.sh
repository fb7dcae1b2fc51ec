#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The second factor where someone holds a password but not the code:
#   - over SSH: bob's right password, then the connection closed at the
#     code prompt (what someone trying a stolen password does once the
#     prompt tells them it was right): audited, not only logged;
#   - in the web console: bob's right password without his code: audited
#     (via web), like a wrong one;
#   - `mfa reset` by a reviewer whom mfa.require names and who has not
#     enrolled yet: refused like every reviewer command until they have --
#     `mfa` is open to them to enrol, not to strip someone else's factor --
#     and bob's factor stays; once carol enrolled, her reset works.
# Runs in an environment of its own (web console; mfa.require names the
# reviewers); about 30 s.
# Depends on: broker/session-mfa.c, session.c (end of a connection),
# broker/web/auth.c (password form), shell/cmd-mfa.c (reset).
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../web-lib.sh
. "$(dirname "$0")/../web-lib.sh"
# shellcheck source=../mfa-lib.sh
. "$(dirname "$0")/../mfa-lib.sh"
# shellcheck source=lib-hostile.sh
. "$(dirname "$0")/lib-hostile.sh"
need_raw_client
export GW_POLICY_TAIL='mfa:
  require: ["group:security"]
  actions: [approve]'
web_env
T=$DIR/scratch
mkdir -p "$T"
mfa_init
mfa_enrol bob

# ---- SSH: the right password, then gone at the code prompt ----
before=$(audit_last_seq)
out=$(raw kex service auth-password:bob:bob-pw-2026)
expect_match "bob's right password gives partial success (the code is asked next)" \
    '^auth-password -> USERAUTH_FAILURE methods=keyboard-interactive partial=1$' "$out"
abandoned() {
    db_query "SELECT details FROM audit WHERE seq > $before AND event = 'auth.failure' AND actor = 'bob'" |
        grep -q 'no verification code'
}
if wait_until 5 abandoned; then
    pass "a connection closed at the code prompt after the right password is audited"
else
    weak mfa-abandoned-not-audited "bob's right password followed by a closed connection left no audit row: $(audit_since "$before")"
fi

# ---- web: the right password without the code ----
before=$(audit_last_seq)
out=$("$PY" - <<'PYEOF'
import os, ssl, http.client, urllib.parse
u = urllib.parse.urlsplit(os.environ["WEB_URL"])
c = http.client.HTTPSConnection(u.hostname, u.port, timeout=30,
                                context=ssl.create_default_context(cafile=os.environ["WEB_CA"]))
c.request("POST", "/login", body="user=bob&password=bob-pw-2026",
          headers={"Origin": os.environ["WEB_URL"],
                   "Content-Type": "application/x-www-form-urlencoded"})
r = c.getresponse()
print(r.status, r.read().decode().strip())
PYEOF
) || fail "the login form could not be posted: $out"
expect_match "bob's password without his code: 401, asking for the code" \
    '^401 bob has a second factor: give the verification code too$' "$out"
row=$(db_query "SELECT details FROM audit WHERE seq > $before AND event = 'auth.failure' AND actor = 'bob'")
if printf '%s' "$row" | grep -q 'no verification code'; then
    pass "the web console audits a right password given without the code"
    expect_match "with via web" '"via":"web"' "$row"
else
    weak mfa-web-nocode-not-audited "bob's right password without a code left no audit row in the console: $(audit_since "$before")"
fi

# ---- mfa reset by a reviewer who must enrol first ----
run carol mfa reset bob --reason "'lost phone'"
if [ "$RC" = 0 ]; then
    weak mfa-reset-unenrolled "carol (mfa.require, not enrolled) reset bob's factor: $OUT"
else
    expect_eq "carol (mfa.require, not enrolled) may not reset bob's factor" 1 "$RC"
    expect_match "with the gate's words" 'carol must enrol a second factor first' "$ERR"
fi
expect_eq "bob is still enrolled" active "$(db_query "SELECT state FROM mfa WHERE user = 'bob'")"
expect_match "the refusal is audited" '"action":"command"' \
    "$(db_query "SELECT details FROM audit WHERE event = 'access.refused' AND actor = 'carol' ORDER BY seq DESC LIMIT 1")"
mfa_enrol carol
mfa_next_code carol >"$T/answer"
mfa_run carol mfa reset bob --reason "'lost phone'"
expect_eq "once enrolled (and logged in with a code), carol resets bob's factor" 0 "$RC"
expect_eq "bob's factor is gone" "" "$(db_query "SELECT state FROM mfa WHERE user = 'bob'")"
gw_still_serves
hostile_finish
