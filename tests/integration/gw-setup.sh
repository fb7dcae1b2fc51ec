#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Fixture "gw" setup: starts the shared environment (slapd, target sshd,
# drawbridge serve) in $GW_ENV for the tests that declare FIXTURES_REQUIRED gw.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${GW_ENV:?GW_ENV must be set (by CMake)}"

# A previous run that was interrupted may have left daemons behind.
if [ -f "$GW_ENV/env.sh" ]; then
    (
        # shellcheck source=/dev/null
        . "$GW_ENV/env.sh"
        KEEP=0 env_down 0
    ) || true
fi
rm -rf "$GW_ENV"

if ! env_up "$GW_ENV"; then
    echo "env_up failed" >&2
    env_down 1
    exit 1
fi
log "gateway pid $GW_PID on $GW_HOST:$GW_PORT, target sshd on $TARGET_PORT, slapd on ${LDAP_PORT:-?}"
finish
