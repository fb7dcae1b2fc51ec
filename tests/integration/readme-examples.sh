#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Every ssh/scp/sftp/rsync example of the README's Usage section (and every
# such hint scripts/demo prints), read from
# the README at test time, rewritten to this environment (port, users and
# their keys or passwords, real request numbers and session ids made here,
# the test's targets and scratch paths) and run with the real OpenSSH
# clients against the real gateway, slapd and target sshd.  An example that
# exits 2, prints a usage line, is refused or otherwise fails, or that the
# test cannot map onto this environment, fails the test with what to fix.
# The rules are in readme-examples.py.
# Runs in an environment of its own: the examples create grants, approve,
# revoke and terminate.
# Depends on: README.md, the shell's commands, shell/opts.c (free text).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# the demo runs the web console, so its `ssh gw web` hint needs one here too
WEB_PORT=$(free_port) || fail "no free port for the web console"
export GW_CONFIG_EXTRA="web: {listen: [\"127.0.0.1:$WEB_PORT\"], public_url: \"https://127.0.0.1:$WEB_PORT\"}${GW_CONFIG_EXTRA:+
$GW_CONFIG_EXTRA}"
private_env
T=$DIR/scratch
mkdir -p "$T"
ROOT=$(cd "$LIB_DIR/../.." && pwd)
README=$ROOT/README.md
[ -f "$README" ] || fail "no README at $README"
[ -f "$ROOT/scripts/demo" ] || fail "no scripts/demo in $ROOT"

rc=0
DIR=$DIR GW_HOST=$GW_HOST GW_PORT=$GW_PORT GW_KEY=$GW_KEY T=$T \
    "$PY" "$LIB_DIR/readme-examples.py" "$README" "$ROOT/scripts/demo" || rc=$?
[ "$rc" = 0 ] || fail "README examples failed (above)"
pass "every client example of the README's Usage section and every demo hint runs as documented"
gw_still_serves
finish
