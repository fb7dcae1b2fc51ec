# SPDX-License-Identifier: Apache-2.0
#
# A throwaway PostgreSQL for the tests (sourced).  Debian's server binaries
# in /usr/lib/postgresql/15/bin; the server refuses to run as root, so when
# the tests run as root it runs as the "postgres" account (runuser), with
# its data directory owned by that account.  It listens on 127.0.0.1 on a
# free port and on a socket in its own directory (-k), trusts every local
# connection (-A trust: a test cluster, never a real one) and is stopped by
# pg_stop.
#
#   pg_start DIR        initdb + start in DIR (a new directory); writes DIR/url
#                       (postgresql://postgres@127.0.0.1:PORT) and DIR/port;
#                       PG_AUTH_HOST=scram-sha-256 makes TCP logins need a password
#   pg_down DIR         stops it (fast shutdown), keeps its files
#   pg_restart DIR      starts it again on the same port
#   pg_stop DIR         stops it for good
#   pg_createdb DIR NAME    a new, empty database; prints its URL
#   pg_psql DIR DB SQL  runs SQL, prints rows with '|' between columns
#
# The ctest fixture "pg" (pg-setup.sh, pg-cleanup.sh) shares one server
# between the tests that name it; each test makes databases of its own.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# _pg_as CMD...: runs CMD as the server's account.
_pg_as() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_available() {
    [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] && command -v psql >/dev/null &&
        { [ "$(id -u)" != 0 ] || id postgres >/dev/null 2>&1; }
}

_pg_free_port() {
    "${PY:-python3}" - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
EOF
}

# The server's data and socket directories: DIR/server, or a directory under
# /tmp when the server's account cannot reach DIR (a parent it may not
# traverse: a private checkout, a mktemp directory).
_pg_srv() {
    cat "$1/server.path"
}

pg_start() {
    local dir=$1 port srv
    pg_available || { echo "PostgreSQL 15 is not installed (scripts/install-deps)" >&2; return 1; }
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd)
    chmod 0755 "$dir"
    srv=$dir/server
    if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$dir"; then
        srv=$(mktemp -d /tmp/db-pgsrv.XXXXXX) || return 1
        chmod 0755 "$srv"
    fi
    echo "$srv" >"$dir/server.path"
    mkdir -p "$srv/data" "$srv/sock"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$srv/data" "$srv/sock"
    fi
    chmod 0700 "$srv/data"
    # PG_AUTH_HOST=scram-sha-256: TCP connections need a password (the socket stays trusted)
    if ! _pg_as "$PG_BIN/initdb" -D "$srv/data" --auth-local=trust --auth-host="${PG_AUTH_HOST:-trust}" \
        -U postgres -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; then
        echo "initdb failed: $(tail -n 3 "$dir/initdb.log")" >&2
        return 1
    fi
    port=$(_pg_free_port) || return 1
    echo "$port" >"$dir/port"
    echo "postgresql://postgres@127.0.0.1:$port" >"$dir/url"
    pg_restart "$dir"
}

pg_restart() {
    local dir=$1 port srv
    port=$(cat "$dir/port") || return 1
    srv=$(_pg_srv "$dir") || return 1
    # fsync off: a throwaway cluster; the tests crash the gateways, never the machine
    if ! _pg_as "$PG_BIN/pg_ctl" -D "$srv/data" -l "$srv/data/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $srv/sock -c fsync=off -c max_connections=300 -c shared_buffers=16MB" \
        start >"$dir/pg_ctl.log" 2>&1; then
        echo "PostgreSQL did not start: $(tail -n 5 "$srv/data/server.log" 2>/dev/null)" >&2
        return 1
    fi
}

# pg_stop DIR: also removes a server directory made under /tmp (pg_start).
pg_stop() {
    local dir=$1 srv rc=0
    srv=$(_pg_srv "$dir" 2>/dev/null) || return 0
    if [ -f "$srv/data/postmaster.pid" ]; then
        _pg_as "$PG_BIN/pg_ctl" -D "$srv/data" -m fast -w -t 30 stop >>"$dir/pg_ctl.log" 2>&1 || rc=1
    fi
    case $srv in /tmp/db-pgsrv.*) [ "$rc" = 0 ] && rm -rf "$srv" ;; esac
    return $rc
}

# pg_down DIR: stops the server, keeping its files (pg_restart starts it again).
pg_down() {
    local dir=$1 srv
    srv=$(_pg_srv "$dir") || return 1
    [ -f "$srv/data/postmaster.pid" ] || return 0
    _pg_as "$PG_BIN/pg_ctl" -D "$srv/data" -m fast -w -t 30 stop >>"$dir/pg_ctl.log" 2>&1
}

pg_psql() {
    local dir=$1 db=$2 sql=$3
    # through the socket: trusted whatever PG_AUTH_HOST asked of TCP
    psql -X -q -v ON_ERROR_STOP=1 -At -F '|' -h "$(_pg_srv "$dir")/sock" -p "$(cat "$dir/port")" \
        -U postgres -d "$db" -c "$sql"
}

pg_createdb() {
    local dir=$1 name=$2
    pg_psql "$dir" postgres "CREATE DATABASE \"$name\"" >/dev/null || return 1
    echo "$(cat "$dir/url")/$name"
}
