#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The web console's JSON API against a real gateway (web_api.py): every
# endpoint for each role and every role it must refuse, the shell's words and
# audit rows, login links, CSRF and Origin checks, headers, live view by SSE.
# Depends on: broker/web/*, shell/cmd-web.c, store (web_logins), access-audit.c (via).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=web-lib.sh
. "$(dirname "$0")/web-lib.sh"

web_env
web_py web_api.py
gw_still_serves
finish
