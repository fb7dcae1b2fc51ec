# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# A throw-away OpenLDAP server for Drawbridge's integration tests, sourced by
# tests/integration/lib.sh (or directly by a test script).  ldap_start runs
# /usr/sbin/slapd as a plain background process on 127.0.0.1, with its config,
# data, TLS material and log under one directory the caller owns, and loads
# tests/fixtures/ldap/base.ldif.  The system slapd service and /etc/ldap/slapd.d
# are never used.
#
#   ldap_start DIR           start, load base.ldif, write DIR/ldap.secret
#   ldap_stop                SIGTERM (SIGKILL after 10 s), wait; data is kept
#   ldap_restart             start again on the same port(s) and data
#   ldap_pause / ldap_resume SIGSTOP / SIGCONT (a server that accepts, never answers)
#   ldap_add_key USER LINE   add an sshPublicKey value to USER's entry
#   ldap_set_password USER PW
#   ldap_bind_count DN       how many BINDs as DN the slapd log shows so far
#   ldap_cleanup             ldap_stop, then remove what ldap_start created
#
# Everything ldap_start writes is named slapd* or ldap* (slapd.conf,
# slapd.log, slapd-data/, ldap-tls/, ldap.secret, ...), so DIR may be shared
# with the rest of a test environment.  The functions work under set -e/-u.
#
# Exported after ldap_start: LDAP_DIR LDAP_PORT LDAP_URL LDAP_PID, and
# LDAP_BASE LDAP_BIND_DN LDAP_SECRET_FILE (the bastion's service account),
# LDAP_ROOTDN LDAP_ROOTPW_FILE (for the tools), LDAP_LOG; when openssl could
# make a test CA also LDAPS_PORT LDAPS_URL LDAP_CA_FILE LDAP_ROGUE_CA_FILE
# (a CA that did not sign the server certificate), else those are empty.
#
# The functions keep their state in files under LDAP_DIR, so a separate shell
# that only has LDAP_DIR in its environment (a ctest fixture, or a C test
# that runs "ldap_live.sh --ctl stop") can stop or restart the same server.
# Client tools run with LDAPNOINIT=1 so ~/.ldaprc and LDAP* variables of
# whoever runs the tests cannot change what they do.

LDAP_FIXTURES_DIR=${LDAP_FIXTURES_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../fixtures/ldap" && pwd)}
LDAP_SLAPD=${LDAP_SLAPD:-/usr/sbin/slapd}
# slapd's -d level: "stats" logs connections, BINDs and SEARCHes to the log.
LDAP_DEBUG_LEVEL=${LDAP_DEBUG_LEVEL:-stats}

export LDAP_BASE="dc=example,dc=org"
export LDAP_ROOTDN="cn=admin,dc=example,dc=org"
export LDAP_BIND_DN="cn=drawbridge,ou=services,dc=example,dc=org"
LDAP_SERVICE_PW="drawbridge-svc-pw"

_ldap_log() {
    echo "lib-ldap: $*" >&2
}

# True when something already accepts connections on 127.0.0.1:$1.
_ldap_port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

_ldap_pick_port() {
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + RANDOM % 40000))
        if ! _ldap_port_busy "$p"; then
            echo "$p"
            return 0
        fi
    done
    _ldap_log "no free port found"
    return 1
}

# Debian ships an AppArmor profile for /usr/sbin/slapd that does not allow a
# config, database or certificates under /tmp.  Profiles attach by path, so
# when that profile is enforced we run an identical copy of the binary from
# the test dir instead; on machines without AppArmor this does nothing.
_ldap_slapd_binary() {
    local dir=$1 prof=/sys/kernel/security/apparmor/profiles
    if [[ -r $prof ]] && grep -q 'slapd (enforce)' "$prof" 2>/dev/null; then
        cp "$LDAP_SLAPD" "$dir/slapd-unconfined"
        echo "$dir/slapd-unconfined"
        return 0
    fi
    echo "$LDAP_SLAPD"
}

# A CA, a server certificate for 127.0.0.1/localhost signed by it, and an
# unrelated "rogue" CA for the negative tests.  Returns 1 without openssl.
_ldap_make_tls() {
    local t=$1/ldap-tls
    command -v openssl >/dev/null 2>&1 || return 1
    mkdir -p "$t" && chmod 700 "$t" || return 1
    (
        set -e
        cd "$t"
        for ca in ca rogue-ca; do
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                -days 3 -subj "/CN=Drawbridge test $ca" -keyout "$ca.key" -out "$ca.pem" \
                -addext "basicConstraints=critical,CA:TRUE" \
                -addext "keyUsage=critical,keyCertSign,cRLSign"
        done
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -subj "/CN=127.0.0.1" -keyout server.key -out server.csr
        printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" \
            "basicConstraints=critical,CA:FALSE" "extendedKeyUsage=serverAuth" \
            "keyUsage=critical,digitalSignature" >server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
            -days 3 -extfile server.ext -out server.pem
        rm -f rogue-ca.key server.csr
    ) >"$1/ldap-tls.log" 2>&1
}

# Loads the state an earlier ldap_start left in LDAP_DIR.
_ldap_load_state() {
    if [[ -z ${LDAP_DIR:-} || ! -f $LDAP_DIR/ldap-state ]]; then
        _ldap_log "no server: call ldap_start DIR first (or set LDAP_DIR)"
        return 1
    fi
    # shellcheck disable=SC1091
    source "$LDAP_DIR/ldap-state"
    if [[ -f $LDAP_DIR/slapd.run-pid ]]; then
        LDAP_PID=$(<"$LDAP_DIR/slapd.run-pid")
        export LDAP_PID
    fi
}

_ldap_alive() {
    local pid=$1 st
    kill -0 "$pid" 2>/dev/null || return 1
    # A child of this shell that exited is a zombie until waited for.
    st=$(_ldap_proc_state "$pid") || return 1
    [[ $st != Z ]]
}

# Starts slapd from LDAP_DIR's config and waits until it answers a rootDSE
# search.  Returns 1 if it exits or does not answer within 15 s.
_ldap_spawn() {
    local urls="ldap://127.0.0.1:$LDAP_PORT/" i bin
    if [[ -n ${LDAPS_PORT:-} ]]; then
        urls+=" ldaps://127.0.0.1:$LDAPS_PORT/"
    fi
    bin=$(_ldap_slapd_binary "$LDAP_DIR")
    # -d keeps slapd in the foreground (so $! is its pid) and logs to stderr.
    # stdin/stdout/stderr must not be ctest's pipes or ctest waits for slapd.
    "$bin" -d "$LDAP_DEBUG_LEVEL" -f "$LDAP_DIR/slapd.conf" -h "$urls" \
        </dev/null >>"$LDAP_LOG" 2>&1 &
    LDAP_PID=$!
    export LDAP_PID
    echo "$LDAP_PID" >"$LDAP_DIR/slapd.run-pid"
    for ((i = 0; i < 150; i++)); do
        if ! _ldap_alive "$LDAP_PID"; then
            wait "$LDAP_PID" 2>/dev/null || true
            return 1
        fi
        if LDAPNOINIT=1 ldapsearch -x -H "$LDAP_URL" -o nettimeout=1 -s base -b "" \
            -LLL namingContexts >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    _ldap_log "slapd did not answer on $LDAP_URL within 15 s"
    return 1
}

_ldap_write_conf() {
    local dir=$1 tls=$2 rootpw
    # The paths go through sed and into slapd.conf unquoted.
    if [[ $dir$LDAP_FIXTURES_DIR =~ [[:space:]\|\&\\\"] ]]; then
        _ldap_log "paths with spaces, quotes or sed metacharacters are not supported: $dir"
        return 1
    fi
    rootpw=$(<"$LDAP_ROOTPW_FILE")
    sed -e "s|@DIR@|$dir|g" -e "s|@FIXTURES@|$LDAP_FIXTURES_DIR|g" \
        -e "s|@ROOTPW@|$rootpw|g" -e "s|@DATA@|$dir/slapd-data|g" -e "s|@TLS@|$dir/ldap-tls|g" "$LDAP_FIXTURES_DIR/slapd.conf.in" >"$dir/slapd.conf"
    if [[ $tls == 1 ]]; then
        sed -i -e 's|^#TLS#||' "$dir/slapd.conf"
    fi
    chmod 600 "$dir/slapd.conf"
}

ldap_start() {
    local dir=${1:?usage: ldap_start DIR} tls=0 attempt
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd)
    export LDAP_DIR=$dir
    export LDAP_LOG=$dir/slapd.log
    export LDAP_ROOTPW_FILE=$dir/ldap-rootpw.secret
    export LDAP_SECRET_FILE=$dir/ldap.secret
    rm -rf "$dir/slapd-data" && mkdir -m 700 "$dir/slapd-data" || return 1
    : >"$LDAP_LOG"
    # Random per run; no trailing newline because "ldapadd -y" sends the
    # whole file as the password.
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=\n' >"$LDAP_ROOTPW_FILE")
    if _ldap_make_tls "$dir"; then
        tls=1
        export LDAP_CA_FILE=$dir/ldap-tls/ca.pem LDAP_ROGUE_CA_FILE=$dir/ldap-tls/rogue-ca.pem
    else
        _ldap_log "openssl failed or missing: TLS disabled (see $dir/ldap-tls.log)"
        export LDAP_CA_FILE="" LDAP_ROGUE_CA_FILE="" LDAPS_PORT="" LDAPS_URL=""
    fi
    _ldap_write_conf "$dir" "$tls" || return 1
    # A port can be taken between the check and slapd's bind(): try again.
    for ((attempt = 0; attempt < 5; attempt++)); do
        LDAP_PORT=$(_ldap_pick_port) || return 1
        export LDAP_PORT LDAP_URL="ldap://127.0.0.1:$LDAP_PORT"
        if [[ $tls == 1 ]]; then
            LDAPS_PORT=$(_ldap_pick_port) || return 1
            export LDAPS_PORT LDAPS_URL="ldaps://127.0.0.1:$LDAPS_PORT"
        fi
        if _ldap_spawn; then
            break
        fi
        _ldap_log "slapd failed to start on port $LDAP_PORT (attempt $((attempt + 1)))"
        LDAP_PORT=""
    done
    if [[ -z $LDAP_PORT ]]; then
        tail -n 20 "$LDAP_LOG" >&2
        return 1
    fi
    declare -p LDAP_PORT LDAP_URL LDAPS_PORT LDAPS_URL LDAP_LOG LDAP_ROOTPW_FILE \
        LDAP_SECRET_FILE LDAP_CA_FILE LDAP_ROGUE_CA_FILE | sed 's/^declare -x/export/' \
        >"$dir/ldap-state"
    if ! LDAPNOINIT=1 ldapadd -x -H "$LDAP_URL" -D "$LDAP_ROOTDN" -y "$LDAP_ROOTPW_FILE" \
        -f "$LDAP_FIXTURES_DIR/base.ldif" >"$dir/ldapadd.log" 2>&1; then
        _ldap_log "loading base.ldif failed:"
        cat "$dir/ldapadd.log" >&2
        ldap_stop
        return 1
    fi
    # With a trailing newline, as an operator's editor would leave it: the
    # bastion strips it.
    (umask 077 && printf '%s\n' "$LDAP_SERVICE_PW" >"$LDAP_SECRET_FILE")
    return 0
}

ldap_stop() {
    local i
    # Nothing started (or already cleaned up): nothing to stop.
    [[ -n ${LDAP_DIR:-} && -f $LDAP_DIR/ldap-state ]] || return 0
    _ldap_load_state || return 1
    if [[ -z ${LDAP_PID:-} ]] || ! _ldap_alive "$LDAP_PID"; then
        wait "${LDAP_PID:-0}" 2>/dev/null || true
        return 0
    fi
    kill -TERM "$LDAP_PID" 2>/dev/null
    # A stopped (paused) process only acts on SIGTERM once continued.
    kill -CONT "$LDAP_PID" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
        _ldap_alive "$LDAP_PID" || break
        sleep 0.1
    done
    if _ldap_alive "$LDAP_PID"; then
        _ldap_log "slapd $LDAP_PID ignored SIGTERM; killing it"
        kill -KILL "$LDAP_PID" 2>/dev/null || true
        sleep 0.2
    fi
    # Reaps it when it is our child; harmless (and silent) when it is not.
    wait "$LDAP_PID" 2>/dev/null || true
    return 0
}

ldap_restart() {
    _ldap_load_state || return 1
    ldap_stop || return 1
    if ! _ldap_spawn; then
        _ldap_log "slapd did not come back on port $LDAP_PORT"
        tail -n 20 "$LDAP_LOG" >&2
        return 1
    fi
}

# Prints the state letter of a process (R, S, T for stopped, Z...).
_ldap_proc_state() {
    awk '{print $3}' "/proc/$1/stat" 2>/dev/null
}

# Signals are delivered asynchronously: return only once slapd is stopped
# (or running again), so the caller's next request meets the state it asked for.
_ldap_signal_wait() {
    local sig=$1 want=$2 i st
    _ldap_load_state || return 1
    kill "-$sig" "$LDAP_PID" || return 1
    for ((i = 0; i < 100; i++)); do
        st=$(_ldap_proc_state "$LDAP_PID")
        if [[ ($want == T && $st == T) || ($want != T && -n $st && $st != T) ]]; then
            return 0
        fi
        sleep 0.02
    done
    _ldap_log "slapd $LDAP_PID did not reach state $want after SIG$sig (state '$st')"
    return 1
}

ldap_pause() {
    _ldap_signal_wait STOP T
}

ldap_resume() {
    _ldap_signal_wait CONT running
}

# Prints USER's DN (as rootdn, so it works whatever the ACLs say).
_ldap_user_dn() {
    local user=$1 line
    if [[ ! $user =~ ^[a-z_][a-z0-9_.-]{0,63}$ ]]; then
        _ldap_log "bad user name: $user"
        return 1
    fi
    line=$(LDAPNOINIT=1 ldapsearch -x -H "$LDAP_URL" -D "$LDAP_ROOTDN" -y "$LDAP_ROOTPW_FILE" \
        -o ldif-wrap=no -LLL -b "ou=people,$LDAP_BASE" "(uid=$user)" 1.1 | grep -m1 '^dn:')
    case $line in
    "dn:: "*) printf '%s' "${line#dn:: }" | base64 -d ;;
    "dn: "*) printf '%s' "${line#dn: }" ;;
    *)
        _ldap_log "no entry for $user"
        return 1
        ;;
    esac
}

# Values go through base64 so keys and passwords need no LDIF quoting.
_ldap_modify() {
    local dn=$1 op=$2 attr=$3 value=$4
    LDAPNOINIT=1 ldapmodify -x -H "$LDAP_URL" -D "$LDAP_ROOTDN" -y "$LDAP_ROOTPW_FILE" \
        >/dev/null <<EOF
dn:: $(printf '%s' "$dn" | base64 -w0)
changetype: modify
$op: $attr
$attr:: $(printf '%s' "$value" | base64 -w0)
EOF
}

ldap_add_key() {
    local user=${1:?usage: ldap_add_key USER PUBKEY_LINE} key=${2:?usage: ldap_add_key USER PUBKEY_LINE} dn
    _ldap_load_state || return 1
    dn=$(_ldap_user_dn "$user") || return 1
    _ldap_modify "$dn" add sshPublicKey "$key"
}

ldap_set_password() {
    local user=${1:?usage: ldap_set_password USER PW} pw=${2?usage: ldap_set_password USER PW} dn
    _ldap_load_state || return 1
    dn=$(_ldap_user_dn "$user") || return 1
    _ldap_modify "$dn" replace userPassword "$pw"
}

# slapd logs 'BIND dn="..." method=128' for every simple bind it receives.
# Prints nothing and returns 1 when the log cannot be read (never a count).
ldap_bind_count() {
    local dn=${1:?usage: ldap_bind_count DN}
    _ldap_load_state || return 1
    [[ -r $LDAP_LOG ]] || { echo "ldap_bind_count: cannot read $LDAP_LOG" >&2; return 1; }
    grep -cF "BIND dn=\"$dn\" method=128" "$LDAP_LOG" || true
}

ldap_cleanup() {
    [[ -n ${LDAP_DIR:-} && -f $LDAP_DIR/ldap-state ]] || return 0
    ldap_stop
    rm -rf "${LDAP_DIR:?}/slapd-data" "$LDAP_DIR/ldap-tls" "$LDAP_DIR/slapd.conf" \
        "$LDAP_DIR/ldap-state" "$LDAP_DIR/slapd.run-pid" "$LDAP_DIR/slapd.args" \
        "$LDAP_DIR/slapd.pid" "$LDAP_DIR/slapd-unconfined" "$LDAP_DIR/ldap-rootpw.secret" \
        "$LDAP_DIR/ldap.secret" "$LDAP_DIR/ldapadd.log" "$LDAP_DIR/ldap-tls.log" \
        "$LDAP_DIR/slapd.log"
    rmdir "$LDAP_DIR" 2>/dev/null || true
    return 0
}
