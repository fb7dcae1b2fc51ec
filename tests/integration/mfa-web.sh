#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The second factor in the web console: the password form asks an enrolled
# user for the code as well (missing, wrong and right; a wrong one counted
# as at the SSH prompt), a user without a code may not approve when
# mfa.actions says so (the shell's words, 403), and a one-time login link
# carries whether the SSH login that made it gave a code, and a reviewer the
# policy requires to enrol who has not gets none of the reviewer API
# (mfa_web.py).
# Runs in an environment of its own (web console, an mfa policy).
# Depends on: broker/web/auth.c, broker/web/run.c, shell/cmd-web.c, broker/mfa/.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=web-lib.sh
. "$(dirname "$0")/web-lib.sh"
# shellcheck source=mfa-lib.sh
. "$(dirname "$0")/mfa-lib.sh"

export GW_POLICY_TAIL='mfa:
  require: ["group:security"]
  actions: [approve]'
web_env
T=$DIR/scratch
mkdir -p "$T"
mfa_init
mfa_enrol bob
request alice web-1 1h
N1=$N
request alice web-1 2h
N2=$N
head -n 1 "$T/recovery.bob" >"$T/answer"
mfa_run bob web
[ "$RC" = 0 ] || fail "bob (with a code) could not make a login link: $ERR"
BOB_LINK=$(printf '%s\n' "$OUT" | grep "^$WEB_URL/login/")
[ -n "$BOB_LINK" ] || fail "no login link in: $OUT"
T=$T N=$N1 N2=$N2 BOB_LINK=$BOB_LINK web_py mfa_web.py
gw_still_serves
finish
