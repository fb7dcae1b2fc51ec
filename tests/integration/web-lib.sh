# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# The web console's tests: web_env starts a private environment whose config
# has a `web:` section on a free port (a self-signed certificate is made under
# keys_dir), waits for the console, and writes DIR/link, a command that
# prints a fresh one-time login link for the user it is given (`ssh USER@gw
# web`, with alice's key or the user's demo password).  The Python side is
# weblib.py.  Sourced after lib.sh.

# shellcheck source=jit-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/jit-lib.sh"

web_env() {
    WEB_PORT=$(free_port) || fail "no free port for the web console"
    export GW_CONFIG_EXTRA="web: {listen: [\"127.0.0.1:$WEB_PORT\"], public_url: \"https://127.0.0.1:$WEB_PORT\"}${GW_CONFIG_EXTRA:+
$GW_CONFIG_EXTRA}"
    private_env
    wait_port "$WEB_PORT" "$GW_PID" "the web console" || fail "the web console did not start"
    WEB_URL=https://127.0.0.1:$WEB_PORT
    WEB_CA=$DIR/state/keys/web_tls.crt
    [ -s "$WEB_CA" ] || fail "no self-signed certificate was made under keys_dir"
    cat >"$DIR/link" <<LINKEOF
#!/bin/bash
# prints a one-time login link for \$1
. "$LIB_DIR/lib.sh"
. "$DIR/env.sh"
. "$LIB_DIR/jit-lib.sh"
as "\$1" web 2>/dev/null
LINKEOF
    chmod +x "$DIR/link"
    export WEB_URL WEB_CA WEB_PORT
    export WEB_LINK=$DIR/link WEB_DB=$DIR/state/drawbridge.db WEB_DIR=$DIR
}

# web_py SCRIPT [args]: runs a Python test of the console; its "ok"/"FAIL" lines count here.
web_py() {
    local script=$1 rc=0
    shift
    "$PY" "$LIB_DIR/$script" "$@" || rc=$?
    [ "$rc" = 0 ] || fail "$script failed (exit $rc)"
    pass "$script: all its checks passed"
}
