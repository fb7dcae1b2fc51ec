#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Fixture "gw" cleanup: stops the shared environment.  Fails when the gateway
# died during the tests, would not stop on SIGTERM, or logged a sanitizer
# report.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${GW_ENV:?GW_ENV must be set (by CMake)}"
if [ ! -f "$GW_ENV/env.sh" ]; then
    log "no environment in $GW_ENV: nothing to stop"
    exit 0
fi
# shellcheck source=/dev/null
. "$GW_ENV/env.sh"
status=0
if ! kill -0 "$GW_PID" 2>/dev/null; then
    echo "the shared gateway (pid $GW_PID) died during the tests" >&2
    status=1
fi
env_down "$status" || status=1
[ "$status" = 0 ] || fail "shared environment did not end cleanly"
pass "shared environment stopped"
finish
