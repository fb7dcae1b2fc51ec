# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Shared helpers for the integration tests, sourced by every script in this
# directory (in the manner of OpenSSH's regress/test-exec.sh).
#
# An "environment" is one directory holding everything a gateway needs to run
# for real on 127.0.0.1: a slapd loaded with the demo users (lib-ldap.sh), an
# OpenSSH sshd standing in for the target hosts, a config and a policy, and
# `drawbridge serve` itself.
#
# The gateway logs in to targets with per-session certificates (upstream.auth:
# certificate; GW_UPSTREAM overrides the whole upstream: section): the target
# sshd trusts the gateway's CA for each target's principal (the lines
# `drawbridge keys --target` prints) and does NOT hold the static upstream
# key, so nothing can pass by falling back to it.  A second sshd, the "keyed"
# one, holds the static key and serves keyed-1 (upstream_auth: key): the
# key mode keeps its coverage.  env_up DIR starts one and writes DIR/env.sh;
# env_use DIR makes the current script use one that is already running (the
# ctest fixture "gw"); env_down stops it.
#
# Client helpers use stock OpenSSH with -F /dev/null so that nothing of the
# invoking user's ~/.ssh leaks in, and a known_hosts file holding the
# gateway's host key (read with ssh-keyscan at start), so that host key
# checking stays on and ssh prints nothing of its own on stderr.

set -u
set -o pipefail

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GW_HOST=127.0.0.1
# The pty and TCP probe helpers are Python (python3 comes with asciinema).
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
LDAP_BASE="dc=example,dc=org"

# shellcheck source=tests/integration/lib-pg.sh
. "$LIB_DIR/lib-pg.sh"
if [ -f "$LIB_DIR/lib-ldap.sh" ]; then
    # shellcheck source=tests/integration/lib-ldap.sh
    . "$LIB_DIR/lib-ldap.sh"
fi

TEST_NAME=${TEST_NAME:-$(basename "${0%.sh}")}
TESTS_OK=0

# ---- reporting -------------------------------------------------------------

log() { printf '[%s] %s\n' "$TEST_NAME" "$*" >&2; }

# Prints the tail of every log of the current environment (on failure).
dump_logs() {
    local f
    [ -n "${DIR:-}" ] && [ -d "$DIR" ] || return 0
    for f in "$DIR/gw.log" "$DIR/target_sshd.log" "$DIR/keyed_sshd.log" "${LDAP_DIR:-$DIR}"/slapd.log; do
        [ -f "$f" ] || continue
        if [ "$f" = "$DIR/gw.log" ] && [ -n "${GW_LOG_START:-}" ]; then
            # Shared environment: what the gateway logged since this test
            # began (other tests' lines included).
            printf '\n----- %s since line %s (at most 150 lines) -----\n' "$f" "$GW_LOG_START" >&2
            tail -n +"$GW_LOG_START" "$f" | head -n 150 >&2
        else
            printf '\n----- %s (last 60 lines) -----\n' "$f" >&2
            tail -n 60 "$f" >&2
        fi
    done
}

# fail MSG: the test fails now.  Called in a subshell -- a command
# substitution, a pipeline, a background job -- exit would end only that
# subshell, so it also tells the test's own shell (SIGUSR1), which then
# exits 1 through its EXIT trap as if it had failed itself.
fail() {
    printf '[%s] FAIL: %s\n' "$TEST_NAME" "$*" >&2
    if [ -z "${LOGS_DUMPED:-}" ]; then
        LOGS_DUMPED=1
        dump_logs
    fi
    if [ "$BASHPID" != "$$" ]; then
        kill -USR1 "$$" 2>/dev/null
    fi
    exit 1
}
_subshell_failed() {
    LOGS_DUMPED=1
    printf '[%s] FAIL: a check inside a subshell failed (see above)\n' "$TEST_NAME" >&2
    exit 1
}
trap _subshell_failed USR1

# skip WHY: this test cannot run here.  Exit status 77 is the tests'
# SKIP_RETURN_CODE: ctest reports "Skipped", never "Passed".
SKIP_STATUS=77
skip() {
    printf '[%s] SKIP: %s\n' "$TEST_NAME" "$*" >&2
    exit "$SKIP_STATUS"
}

# skip_part WHAT WHY: one part of the test cannot run here; the rest runs,
# and finish then ends with the skip status (the test shows as skipped,
# with every part it did run checked).
SKIPPED_PARTS=()
skip_part() {
    printf '[%s] SKIP %s: %s\n' "$TEST_NAME" "$1" "$2" >&2
    SKIPPED_PARTS+=("$1")
}

pass() {
    TESTS_OK=$((TESTS_OK + 1))
    printf '[%s] ok %d - %s\n' "$TEST_NAME" "$TESTS_OK" "$*" >&2
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
    if [ "$2" != "$3" ]; then
        fail "$1: expected '$2', got '$3'"
    fi
    pass "$1"
}

# expect_same WHAT BEFORE AFTER: like expect_eq, for two values read the
# same way (a snapshot before and after): an empty BEFORE is a failure, as
# a read that failed twice would otherwise compare equal.
expect_same() {
    [ -n "$2" ] || fail "$1: nothing to compare (the first reading is empty)"
    expect_eq "$@"
}

# expect_ne WHAT UNEXPECTED ACTUAL: an empty ACTUAL (nothing was read) is a
# failure, never "different".
expect_ne() {
    if [ -z "$3" ]; then
        fail "$1: no value (expected anything but '$2')"
    fi
    if [ "$2" = "$3" ]; then
        fail "$1: did not expect '$2'"
    fi
    pass "$1"
}

# expect_match WHAT ERE TEXT (grep -E, case-insensitive when NOCASE=1)
expect_match() {
    local flags=-qE
    [ "${NOCASE:-0}" = 1 ] && flags=-qiE
    if ! grep $flags -- "$2" <<<"$3"; then
        fail "$1: /$2/ not found in: $(printf '%s' "$3" | head -c 2000)"
    fi
    pass "$1"
}

# expect_nomatch WHAT ERE TEXT
expect_nomatch() {
    local flags=-qE
    [ "${NOCASE:-0}" = 1 ] && flags=-qiE
    if grep $flags -- "$2" <<<"$3"; then
        fail "$1: /$2/ unexpectedly found in: $(printf '%s' "$3" | head -c 2000)"
    fi
    pass "$1"
}

# expect_lt WHAT LIMIT VALUE (integers; anything else is a failure)
expect_lt() {
    if ! [[ $2 =~ ^-?[0-9]+$ && $3 =~ ^-?[0-9]+$ ]]; then
        fail "$1: not an integer: '$3' (limit '$2')"
    fi
    if ! [ "$3" -lt "$2" ]; then
        fail "$1: expected < $2, got $3"
    fi
    pass "$1 ($3 < $2)"
}

finish() {
    if [ ${#SKIPPED_PARTS[@]} -gt 0 ]; then
        printf '[%s] SKIPPED in part: %d checks passed, not run here: %s\n' "$TEST_NAME" \
            "$TESTS_OK" "${SKIPPED_PARTS[*]}" >&2
        exit "$SKIP_STATUS"
    fi
    printf '[%s] all %d checks passed\n' "$TEST_NAME" "$TESTS_OK" >&2
    exit 0
}

now_ms() { date +%s%3N; }

# ---- ports and processes ---------------------------------------------------

# True when some TCP socket (any state) uses local port $1.
port_in_use() {
    local hex
    hex=$(printf '%04X' "$1")
    grep -qE "^ *[0-9]+: [0-9A-F]+:$hex " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# True when something listens on TCP port $1.
port_listening() {
    local hex
    hex=$(printf '%04X' "$1")
    grep -qE "^ *[0-9]+: [0-9A-F]+:$hex [0-9A-F]+:0000 0A" /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# A free port below the ephemeral range (so that no outgoing connection of a
# test can take it between now and the bind), not handed out before by this
# environment.
_PORTS_GIVEN=" "
free_port() {
    local p i
    for i in $(seq 1 500); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
        case "$_PORTS_GIVEN" in *" $p "*) continue ;; esac
        if ! port_in_use "$p"; then
            _PORTS_GIVEN="$_PORTS_GIVEN$p "
            echo "$p"
            return 0
        fi
    done
    echo "free_port: no free port found" >&2
    return 1
}

# wait_port PORT PID WHAT [SECONDS]: until PORT listens; fails early if PID died.
wait_port() {
    local port=$1 pid=$2 what=$3 secs=${4:-20} i
    for i in $(seq 1 $((secs * 10))); do
        if port_listening "$port"; then
            return 0
        fi
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            echo "$what (pid $pid) exited before listening on $port" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "$what did not listen on $port within ${secs}s" >&2
    return 1
}

# stop_pid PID WHAT: SIGTERM, wait up to 10 s, then SIGKILL.  Returns 1 if it
# had to be killed.
stop_pid() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    echo "$2 (pid $pid) ignored SIGTERM for 10 s; killing" >&2
    kill -KILL "$pid" 2>/dev/null
    return 1
}

# kill_tree PID: a background function call runs in a subshell whose child
# is the real program; end both (by pid, deepest first).
kill_tree() {
    local c
    for c in $(pgrep -P "$1" 2>/dev/null); do
        kill_tree "$c"
    done
    kill "$1" 2>/dev/null
    return 0
}

# RSS of a process in KiB (VmRSS), empty if it is gone.
rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# ---- the environment -------------------------------------------------------

# The upstream login on the target sshd is the invoking user (no useradd).
LOGIN=$(id -un)

# With UsePAM no, sshd refuses every method for an account whose shadow
# password field starts with '!' (locked).  Give root the documented
# "no password, not locked" value, and only when needed.
target_unlock_login() {
    local field
    [ "$(id -u)" = 0 ] || return 0
    field=$(awk -F: -v u="$LOGIN" '$1 == u { print $2 }' /etc/shadow 2>/dev/null)
    case "$field" in
    '!'*)
        echo "account $LOGIN is locked ('!' in /etc/shadow); usermod -p '*' $LOGIN" >&2
        usermod -p '*' "$LOGIN"
        ;;
    esac
}

# Writes DIR/target_sshd_config.  The target allows agent, X11 and TCP
# forwarding on purpose: the gateway must refuse them itself, and the tests
# would not notice if it relayed them to a target that refuses anyway.
# XAuthLocation /bin/true lets X11 forwarding "work" without X.
target_write_config() {
    cat >"$DIR/target_sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $TARGET_PORT
HostKey $DIR/target_host_ed25519
PidFile $DIR/target_sshd.pid
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AuthorizedKeysFile $DIR/target_authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowAgentForwarding yes
AllowTcpForwarding yes
X11Forwarding yes
XAuthLocation /bin/true
AcceptEnv LANG LC_* TERM DRAWBRIDGE_NOT_ALLOWED
MaxStartups 100:30:200
MaxSessions 50
RekeyLimit 512M
PrintMotd no
LogLevel VERBOSE
Subsystem sftp internal-sftp
EOF
}

# sshd_run ARGS...: runs sshd (in place of the shell, so $! is sshd's pid)
# where the login account's shell start-up files are empty, when root can
# make a mount namespace for it.  Every session on the target runs that
# account's shell, and a ~/.bashrc that starts pyenv or conda costs half a
# second per session and can print into a session's output (pyenv's "cannot
# rehash" when sessions start together): the tests are about the gateway.
sshd_run() {
    local home f hide=()
    home=$(getent passwd "$LOGIN" | cut -d: -f6)
    for f in .bashrc .bash_profile .bash_login .profile .bash_logout; do
        [ -n "$home" ] && [ -f "$home/$f" ] && hide+=("$home/$f")
    done
    if [ "${#hide[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
        unshare -m --propagation private true 2>/dev/null; then
        exec setsid unshare -m --propagation private -- bash -c \
            'n=$1; shift; for ((i = 0; i < n; i++)); do mount --bind /dev/null "$1" || exit 1; shift; done; exec "$@"' \
            sshd_run "${#hide[@]}" "${hide[@]}" /usr/sbin/sshd "$@"
    fi
    exec setsid /usr/sbin/sshd "$@"
}

target_start() {
    mkdir -p /run/sshd
    target_unlock_login
    /usr/sbin/sshd -t -f "$DIR/target_sshd_config" || return 1
    (sshd_run -D -e -f "$DIR/target_sshd_config") </dev/null >"$DIR/target_sshd.log" 2>&1 &
    TARGET_PID=$!
    wait_port "$TARGET_PORT" "$TARGET_PID" "target sshd" || return 1
}

# The keyed sshd: the target's config on its own port, pid file and
# authorized_keys (the static upstream key).
keyed_start() {
    sed -e "s/^Port .*/Port $KEYED_PORT/" -e "s#^PidFile .*#PidFile $DIR/keyed_sshd.pid#" \
        -e "s#^AuthorizedKeysFile .*#AuthorizedKeysFile $DIR/keyed_authorized_keys#" \
        "$DIR/target_sshd_config" >"$DIR/keyed_sshd_config"
    /usr/sbin/sshd -t -f "$DIR/keyed_sshd_config" || return 1
    (sshd_run -D -e -f "$DIR/keyed_sshd_config") </dev/null >"$DIR/keyed_sshd.log" 2>&1 &
    KEYED_PID=$!
    wait_port "$KEYED_PORT" "$KEYED_PID" "keyed sshd" || return 1
}

# target_trust: writes what each sshd trusts, from the policy and config of
# now: for every target, the line `drawbridge keys --target` prints.
# Certificate-mode targets' cert-authority lines go to the target sshd; the
# static key goes to the keyed sshd (and to the target sshd only when the
# whole environment runs in key mode).  Both also trust DIRECT_KEY.
target_trust() {
    local names n line static=
    names=$(sed -n '/^targets:/,/^rules:/s/^  - name: *//p' "$DIR/policy.yaml")
    : >"$DIR/target_authorized_keys.new"
    for n in $names; do
        line=$("$DRAWBRIDGE_BIN" keys -c "$CFG" --target "$n" 2>"$DIR/keys.err") || {
            echo "drawbridge keys --target $n failed: $(cat "$DIR/keys.err")" >&2
            return 1
        }
        case "$line" in
        cert-authority,*) printf '%s\n' "$line" >>"$DIR/target_authorized_keys.new" ;;
        ssh-*) static=$line ;;
        *) echo "drawbridge keys --target $n printed '$line'" >&2; return 1 ;;
        esac
    done
    if [ -z "$static" ]; then
        static=$(GW_UPSTREAM="{auth: key}" config_write_to "$DIR/keymode.yaml" &&
            "$DRAWBRIDGE_BIN" keys -c "$DIR/keymode.yaml" 2>"$DIR/keys.err") || return 1
    fi
    case "${GW_UPSTREAM:-}" in
    *"auth: key"*) printf '%s\n' "$static" >>"$DIR/target_authorized_keys.new" ;;
    esac
    cat "$DIRECT_KEY.pub" >>"$DIR/target_authorized_keys.new"
    mv "$DIR/target_authorized_keys.new" "$DIR/target_authorized_keys"
    { printf '%s\n' "$static"; cat "$DIRECT_KEY.pub"; } >"$DIR/keyed_authorized_keys"
}

# Writes DIR/policy.yaml.  Besides the targets the tests use, db-1 is a
# second protected target so that web-oncall (one approval) does not select
# every protected target, which lint refuses.
#
# Tests that need more add it through the environment (set before env_up, or
# later followed by gw_reload_policy):
#   GW_REQUEST_TTL     request_ttl (default 24h)
#   GW_POLICY_TARGETS  YAML appended to the targets list ("  - name: ...")
#   GW_POLICY_RULES    YAML appended to the rules list
#   GW_POLICY_TAIL     YAML appended at the end (top-level keys such as mfa:)
# In both, @ADDR@, @HOST_KEY@ and @LOGIN@ stand for the target sshd's
# address, its pinned host key and the upstream login.
policy_extra() {
    local hk=$1 text=$2
    text=${text//@ADDR@/127.0.0.1:$TARGET_PORT}
    text=${text//@HOST_KEY@/$hk}
    text=${text//@LOGIN@/$LOGIN}
    printf '%s' "$text"
}

policy_write() {
    local hk wrong xt xr nl=$'\n'
    hk=$(cut -d' ' -f1,2 "$DIR/target_host_ed25519.pub")
    wrong=$(cut -d' ' -f1,2 "$DIR/wrong_host_ed25519.pub")
    xt=$(policy_extra "$hk" "${GW_POLICY_TARGETS:-}")
    xr=$(policy_extra "$hk" "${GW_POLICY_RULES:-}")
    cat >"$DIR/policy.yaml" <<EOF
protected: {env: [prod]}
request_ttl: ${GW_REQUEST_TTL:-24h}
targets:
  - name: web-1
    address: 127.0.0.1:$TARGET_PORT
    host_key: "$hk"
    logins: [$LOGIN]
    labels: {env: prod, tier: web}
  - name: db-1
    address: 127.0.0.1:$TARGET_PORT
    host_key: "$hk"
    logins: [$LOGIN]
    labels: {env: prod, tier: db}
  - name: staging-1
    address: 127.0.0.1:$TARGET_PORT
    host_key: "$hk"
    logins: [$LOGIN]
    labels: {env: staging}
  - name: wrongkey-1
    address: 127.0.0.1:$TARGET_PORT
    host_key: "$wrong"
    logins: [$LOGIN]
    labels: {env: staging}
  - name: down-1
    address: 127.0.0.1:$DOWN_PORT
    host_key: "$hk"
    logins: [$LOGIN]
    labels: {env: staging}
  - name: keyed-1
    address: 127.0.0.1:$KEYED_PORT
    host_key: "$hk"
    logins: [$LOGIN]
    labels: {env: staging}
    upstream_auth: key${xt:+$nl$xt}
rules:
  - name: web-oncall
    requesters: ["group:sre"]
    targets: {labels: {env: prod, tier: web}}
    logins: [$LOGIN]
    max_duration: 4h
    approvers: ["group:sre-leads"]
    approvals: 1
  - name: staging-standing
    requesters: ["group:engineers"]
    targets: {labels: {env: staging}}
    standing: true${xr:+$nl$xr}
reviewers: ["group:security"]
break_glass:
  requesters: ["group:oncall"]
  max_duration: 30m
${GW_POLICY_TAIL:-}
EOF
}

# Writes DIR/drawbridge.yaml.  GW_LIMITS may override the limits line (tests
# of the pre-auth limits use small numbers), GW_NOTIFY sets notify_command
# (default null; @DIR@ in it stands for DIR).  GW_LDAP_MODE picks how the
# gateway talks to slapd: plain (default), ldaps or starttls, the latter two
# checking the server certificate against GW_LDAP_CA (default: the test CA
# that signed it; LDAP_ROGUE_CA_FILE is one that did not).
config_write() {
    config_write_to "$DIR/drawbridge.yaml"
}

# config_write_to FILE: the config (see config_write) into FILE.
config_write_to() {
    # slow_after_failures: the tests fail logins on purpose, many times, from one address
    local limits=${GW_LIMITS:-"{max_startups: 64, max_startups_per_source: 32, login_grace: 10s, max_auth_tries: 6, slow_after_failures: 100000}"}
    local url=$LDAP_URL starttls=false ca=null notify=${GW_NOTIFY:-null}
    case ${GW_LDAP_MODE:-plain} in
    plain) ;;
    ldaps) url=$LDAPS_URL ca=${GW_LDAP_CA:-$LDAP_CA_FILE} ;;
    starttls) starttls=true ca=${GW_LDAP_CA:-$LDAP_CA_FILE} ;;
    *) echo "unknown GW_LDAP_MODE ${GW_LDAP_MODE}" >&2; return 1 ;;
    esac
    # Started as root the gateway becomes the drawbridge account when there is
    # one (a machine with the package installed): the tests run as whoever
    # runs them, unless GW_CONFIG_EXTRA names the account itself (privdrop).
    # Likewise its signer would become drawbridge-ca: GW_UPSTREAM's default
    # names the invoking user (cert-signer names its own accounts).
    local user_line="user: $(id -un)"
    if grep -q '^user:' <<<"${GW_CONFIG_EXTRA:-}"; then
        user_line=
    fi
    gw_store_config || return 1
    cat >"$1" <<EOF
listen: ["127.0.0.1:$GW_PORT"]
state_dir: $DIR/state
policy: $DIR/policy.yaml
ldap:
  url: $url
  starttls: $starttls
  ca_file: $ca
  bind_dn: cn=drawbridge,ou=services,$LDAP_BASE
  bind_password_file: $LDAP_SECRET
  user_base: ou=people,$LDAP_BASE
  user_filter: "(&(objectClass=inetOrgPerson)(uid=%u))"
  group_base: ou=groups,$LDAP_BASE
  group_filter: "(member=%d)"
  group_name_attribute: cn
  ssh_key_attribute: sshPublicKey
  timeout: 3s
limits: $limits
notify_command: ${notify//@DIR@/$DIR}
upstream: ${GW_UPSTREAM:-"{auth: certificate, cert_ttl: 2m, signer_user: $(id -un)}"}
${user_line}
${GW_STORE_LINE:-}
${GW_CONFIG_EXTRA:-}
EOF
}

# The store: SQLite in state_dir, or, when the test runs against PostgreSQL
# (DRAWBRIDGE_TEST_PG names the fixture "pg"'s directory, see lib-pg.sh), a
# database of this environment's own (GW_PG_URL, made on first use);
# GW_STORE_LINE is the config line.
gw_store_config() {
    GW_STORE_LINE=
    [ -n "${DRAWBRIDGE_TEST_PG:-}" ] || return 0
    if [ -z "${GW_PG_URL:-}" ]; then
        local name
        name=g_$(basename "$DIR" | tr -c 'a-zA-Z0-9\n' '_' | tr 'A-Z' 'a-z')_$$_$RANDOM
        GW_PG_URL=$(pg_createdb "$DRAWBRIDGE_TEST_PG" "$name") || return 1
    fi
    GW_STORE_LINE="store: {url: \"$GW_PG_URL\"}"
}

gw_start() {
    # Its own session: a signal meant for the tests' process group (a
    # terminal's SIGHUP or SIGINT, job control) must not reach the daemon.
    # shellcheck disable=SC2086 # GW_SERVE_ARGS: extra words (e.g. --log-json)
    setsid "$DRAWBRIDGE_BIN" serve -c "$CFG" -f ${GW_SERVE_ARGS:-} </dev/null >>"$DIR/gw.log" 2>&1 &
    GW_PID=$!
    wait_port "$GW_PORT" "$GW_PID" "drawbridge serve" || return 1
}

gw_stop() {
    stop_pid "${GW_PID:-}" "drawbridge serve"
}

# gw_reload_policy: writes the policy again (with the GW_POLICY_* and
# GW_REQUEST_TTL of now), checks it, sends SIGHUP and waits until the
# gateway logs that it loaded it.  Returns 1 (with the reason on stderr) when
# the policy fails check or the gateway does not take it within 10 s.
gw_reload_policy() {
    local lines
    policy_write
    if ! "$DRAWBRIDGE_BIN" check -c "$CFG" >"$DIR/check.out" 2>&1; then
        echo "the new policy fails check: $(cat "$DIR/check.out")" >&2
        return 1
    fi
    target_trust || return 1
    lines=$(wc -l <"$DIR/gw.log")
    kill -HUP "$GW_PID" || return 1
    for _ in $(seq 1 100); do
        if grep -q 'policy\.reload_failed' <<<"$(tail -n +"$((lines + 1))" "$DIR/gw.log")"; then
            echo "the gateway refused the new policy" >&2
            return 1
        fi
        if grep -q 'policy\.reload\b' <<<"$(tail -n +"$((lines + 1))" "$DIR/gw.log")"; then
            return 0
        fi
        sleep 0.1
    done
    echo "the gateway did not reload the policy within 10 s" >&2
    return 1
}

# db_query SQL: runs SQL read-only against state_dir/drawbridge.db (or the
# PostgreSQL store, GW_PG_URL) and prints the rows, columns separated by '|'
# (as the sqlite3 shell does).  SQL for both quotes the column "user".
# Python's sqlite3 module, so that the tests need no sqlite3 program.  A
# query that cannot run (no database, no such table or column) fails the
# test, also from inside $(...): it never reads as "no rows".
db_query() {
    local out
    if [ -n "${GW_PG_URL:-}" ]; then
        out=$(psql -X -q -v ON_ERROR_STOP=1 -At -F '|' "$GW_PG_URL" -c "$1" 2>&1) ||
            fail "db_query could not run: $1: $out"
        [ -z "$out" ] || printf '%s\n' "$out"
        return
    fi
    out=$("$PY" - "$DIR/state/drawbridge.db" "$1" <<'PYEOF'
import sqlite3, sys
try:
    db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=10)
    rows = db.execute(sys.argv[2]).fetchall()
except sqlite3.Error as e:
    sys.exit("db_query: %s: %s" % (sys.argv[1], e))
for row in rows:
    print("|".join("" if v is None else str(v) for v in row))
PYEOF
    ) || fail "db_query could not run: $1"
    [ -z "$out" ] || printf '%s\n' "$out"
}

# db_value SQL: the one value SQL selects; no row, or more than one, fails
# the test (so that two failed readings never compare equal).
db_value() {
    local out
    out=$(db_query "$1")
    case "$out" in
    *$'\n'*) fail "db_value: more than one row for: $1" ;;
    '') fail "db_value: no row for: $1" ;;
    esac
    printf '%s\n' "$out"
}

# Records the gateway's host key so that clients check it (and print no
# "Permanently added" warning on stderr, which the tests read).
gw_known_hosts() {
    local i
    for i in 1 2 3 4 5; do
        if ssh-keyscan -T 5 -t ed25519 -p "$GW_PORT" "$GW_HOST" >"$DIR/known_hosts" 2>>"$DIR/keyscan.log" &&
            [ -s "$DIR/known_hosts" ]; then
            return 0
        fi
        sleep 0.5
    done
    echo "ssh-keyscan could not read the gateway's host key on port $GW_PORT" >&2
    return 1
}

env_write() {
    local v
    {
        echo "# written by env_up; sourced by tests that use this environment"
        for v in DIR GW_PORT GW_PID GW_HOST TARGET_PORT TARGET_PID DOWN_PORT LOGIN CFG POLICY \
            GW_KEY ALICE_PUB DIRECT_KEY LDAP_SECRET LDAP_PORT LDAP_URL LDAP_PID LDAP_DIR \
            DRAWBRIDGE_BIN KEYED_PORT KEYED_PID GW_UPSTREAM GW_PG_URL; do
            printf 'export %s=%q\n' "$v" "${!v:-}"
        done
    } >"$DIR/env.sh"
}

# env_up DIR: starts slapd, the target sshd and the gateway in DIR.
env_up() {
    DIR=$1
    : "${DRAWBRIDGE_BIN:?DRAWBRIDGE_BIN must point at the drawbridge binary}"
    [ -x "$DRAWBRIDGE_BIN" ] || { echo "not executable: $DRAWBRIDGE_BIN" >&2; return 1; }
    mkdir -p "$DIR" || return 1
    DIR=$(cd "$DIR" && pwd)
    CFG=$DIR/drawbridge.yaml
    POLICY=$DIR/policy.yaml
    : >"$DIR/gw.log"

    if ! declare -F ldap_start >/dev/null; then
        echo "tests/integration/lib-ldap.sh is missing: cannot start slapd" >&2
        return 1
    fi
    ldap_start "$DIR" || { echo "ldap_start failed" >&2; return 1; }
    LDAP_SECRET=${LDAP_SECRET_FILE:-${LDAP_DIR:-$DIR}/ldap.secret}

    # Keys: alice's client key (in LDAP), a key for direct ssh to the target
    # (for comparisons only), the target's host key and an unrelated one.
    GW_KEY=$DIR/alice_ed25519
    DIRECT_KEY=$DIR/direct_ed25519
    local k
    for k in "$GW_KEY" "$DIRECT_KEY" "$DIR/target_host_ed25519" "$DIR/wrong_host_ed25519"; do
        rm -f "$k" "$k.pub"
        ssh-keygen -q -t ed25519 -N '' -C "$(basename "$k")" -f "$k" || return 1
    done
    ALICE_PUB=$(cat "$GW_KEY.pub")
    ldap_add_key alice "$ALICE_PUB" || { echo "ldap_add_key alice failed" >&2; return 1; }

    # The target first: a port picked here can still be taken by someone
    # else before the daemon binds it, so each daemon gets a few tries.
    DOWN_PORT=$(free_port) || return 1
    : >"$DIR/target_authorized_keys"
    : >"$DIR/keyed_authorized_keys"
    local attempt
    for attempt in 1 2 3; do
        TARGET_PORT=$(free_port) || return 1
        target_write_config
        target_start && break
        [ "$attempt" = 3 ] && return 1
        echo "target sshd did not start on port $TARGET_PORT; trying another port" >&2
    done
    for attempt in 1 2 3; do
        KEYED_PORT=$(free_port) || return 1
        keyed_start && break
        [ "$attempt" = 3 ] && return 1
        echo "keyed sshd did not start on port $KEYED_PORT; trying another port" >&2
    done

    # GW_PORT_WANTED (the demo's 2222) is used when it is free.
    if [ -n "${GW_PORT_WANTED:-}" ] && ! port_in_use "$GW_PORT_WANTED"; then
        GW_PORT=$GW_PORT_WANTED
        _PORTS_GIVEN="$_PORTS_GIVEN$GW_PORT "
    else
        GW_PORT=$(free_port) || return 1
    fi
    policy_write
    config_write || return 1

    # First run generates the keys under state_dir/keys.
    local upstream
    if ! upstream=$("$DRAWBRIDGE_BIN" keys -c "$CFG" 2>"$DIR/keys.err"); then
        echo "drawbridge keys failed: $(cat "$DIR/keys.err")" >&2
        return 1
    fi
    case "$upstream" in
    ssh-*) ;;
    *) echo "drawbridge keys printed no public key: '$upstream'" >&2; return 1 ;;
    esac
    target_trust || return 1
    if ! "$DRAWBRIDGE_BIN" check -c "$CFG" >"$DIR/check.out" 2>&1; then
        echo "drawbridge check refused the test config:" >&2
        cat "$DIR/check.out" >&2
        return 1
    fi

    for attempt in 1 2 3; do
        gw_start && break
        [ "$attempt" = 3 ] && return 1
        # Only a port someone else took is worth another try.
        port_in_use "$GW_PORT" || return 1
        echo "port $GW_PORT was taken before the gateway could bind it; trying another" >&2
        GW_PORT=$(free_port) || return 1
        config_write || return 1
    done
    gw_known_hosts || return 1
    env_write
}

# env_use DIR: use an environment started by another process (the fixture).
env_use() {
    local d=$1
    if [ ! -f "$d/env.sh" ]; then
        echo "no environment in $d (did the fixture integration/gw-setup run?)" >&2
        exit 1
    fi
    # shellcheck source=/dev/null
    . "$d/env.sh"
    if ! kill -0 "$GW_PID" 2>/dev/null; then
        DIR=$d
        fail "the shared gateway (pid $GW_PID) is not running"
    fi
    GW_LOG_START=$(($(wc -l <"$DIR/gw.log") + 1))
}

# env_down [STATUS]: stops everything of the current environment and removes
# DIR unless KEEP=1.  A non-zero STATUS (or a daemon that would not stop)
# prints the logs first.
env_down() {
    local status=${1:-0} rc=0
    [ -n "${DIR:-}" ] || return 0
    gw_stop || rc=1
    if [ -f "$DIR/target_sshd.pid" ]; then
        stop_pid "$(cat "$DIR/target_sshd.pid")" "target sshd" || rc=1
    fi
    stop_pid "${TARGET_PID:-}" "target sshd" || rc=1
    if [ -f "$DIR/keyed_sshd.pid" ]; then
        stop_pid "$(cat "$DIR/keyed_sshd.pid")" "keyed sshd" || rc=1
    fi
    stop_pid "${KEYED_PID:-}" "keyed sshd" || rc=1
    if declare -F ldap_stop >/dev/null; then
        ldap_stop || rc=1
    fi
    # Sanitizer reports of any gateway process (children included) land in
    # gw.log: a session that "worked" but tripped ASan/UBSan is a failure.
    # So is a session child the listener saw die of a signal (child.crash:
    # anything but the SIGTERM and SIGKILL that the tests send), even after
    # its client had its answer.
    if [ -f "$DIR/gw.log" ] && grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|child\.crash' "$DIR/gw.log"; then
        echo "sanitizer report or crashed child in $DIR/gw.log:" >&2
        grep -E -A 30 'ERROR: (Address|Leak)Sanitizer|runtime error:|child\.crash' "$DIR/gw.log" | head -n 120 >&2
        rc=1
    fi
    if { [ "$status" != 0 ] && [ "$status" != "$SKIP_STATUS" ] || [ "$rc" != 0 ]; } && [ -z "${LOGS_DUMPED:-}" ]; then
        LOGS_DUMPED=1
        dump_logs
    fi
    if [ "${KEEP:-0}" = 1 ]; then
        echo "environment kept in $DIR (KEEP=1)" >&2
    else
        rm -rf "$DIR"
    fi
    return $rc
}

# test_tmpdir: prints a new scratch directory for this test (under the build
# tree when run by ctest).  Fails rather than print nothing, so that no test
# ever writes to "/$name".
test_tmpdir() {
    local base=${INTEG_WORK:-${TMPDIR:-/tmp}} d
    mkdir -p "$base" || return 1
    d=$(mktemp -d "$base/$TEST_NAME.XXXXXX") || return 1
    [ -n "$d" ] && [ -d "$d" ] || return 1
    printf '%s\n' "$d"
}

# private_env: a whole environment of this test's own, stopped on exit.  For
# tests that stop or restart parts of it, or measure one connection alone.
private_env() {
    DIR=$(test_tmpdir) || fail "cannot create a temporary directory"
    trap 'rc=$?; env_down "$rc" || rc=1; exit $rc' EXIT
    trap 'exit 130' INT TERM
    env_up "$DIR" || fail "env_up failed"
}

# shared_env: the environment of the ctest fixture "gw".
shared_env() {
    env_use "${GW_ENV:?GW_ENV must name the shared environment (set by CMake)}"
}

# ---- clients ---------------------------------------------------------------

# Options shared by every OpenSSH client call to the gateway.
_ssh_opts() {
    SSH_OPTS=(-F /dev/null
        -o "UserKnownHostsFile=$DIR/known_hosts"
        -o GlobalKnownHostsFile=/dev/null
        -o StrictHostKeyChecking=yes
        -o ConnectTimeout=10
        -o ServerAliveInterval=15
        -o ControlMaster=no -o ControlPath=none)
    # No agent unless a test asks for one (GW_AGENT): OpenSSH takes the first
    # value of an option, so a later -o IdentityAgent could not undo "none",
    # and with "none" ssh -A forwards nothing.
    SSH_KEY_OPTS=(-o BatchMode=yes -o IdentitiesOnly=yes -o "IdentityAgent=${GW_AGENT:-none}"
        -o PreferredAuthentications=publickey -o PasswordAuthentication=no
        -i "${GW_KEY_OVERRIDE:-$GW_KEY}")
    SSH_PW_OPTS=(-o BatchMode=no -o PubkeyAuthentication=no -o "IdentityAgent=${GW_AGENT:-none}"
        -o PreferredAuthentications=password,keyboard-interactive
        -o NumberOfPasswordPrompts=1)
}

# mux_opts SOCKET: MUX_OPTS, the options of _ssh_opts with OpenSSH connection
# sharing on SOCKET instead of turned off, the user's key and the gateway's
# port.  mux_stop SOCKET ends the shared connection's master, if there is one.
mux_opts() {
    local i
    _ssh_opts
    MUX_OPTS=()
    for ((i = 0; i < ${#SSH_OPTS[@]}; i++)); do
        case ${SSH_OPTS[$i]} in
        ControlMaster=* | ControlPath=*) unset 'MUX_OPTS[-1]' ;;
        *) MUX_OPTS+=("${SSH_OPTS[$i]}") ;;
        esac
    done
    MUX_OPTS+=("${SSH_KEY_OPTS[@]}" -p "$GW_PORT" -S "$1")
}
mux_stop() {
    [ -S "$1" ] && ssh -S "$1" -O exit x >/dev/null 2>&1
    return 0
}

# gw_ssh USER[+TARGET] [ssh options] [command...]: key authentication with
# alice's key (or GW_KEY_OVERRIDE).  OpenSSH accepts options after the host.
gw_ssh() {
    local who=$1
    shift
    _ssh_opts
    ssh "${SSH_OPTS[@]}" "${SSH_KEY_OPTS[@]}" -p "$GW_PORT" -l "$who" "$GW_HOST" "$@"
}

# gw_ssh_pw PASSWORD USER[+TARGET] [ssh options] [command...]
gw_ssh_pw() {
    local pw=$1 who=$2
    shift 2
    _ssh_opts
    SSHPASS=$pw sshpass -e ssh "${SSH_OPTS[@]}" "${SSH_PW_OPTS[@]}" -p "$GW_PORT" -l "$who" "$GW_HOST" "$@"
}

# gw_scp [scp args]: paths name the gateway as USER+TARGET@$GW_HOST:PATH.
gw_scp() {
    _ssh_opts
    scp "${SSH_OPTS[@]}" "${SSH_KEY_OPTS[@]}" -P "$GW_PORT" "$@"
}

# gw_sftp USER+TARGET [sftp args]
gw_sftp() {
    local who=$1
    shift
    _ssh_opts
    sftp "${SSH_OPTS[@]}" "${SSH_KEY_OPTS[@]}" -P "$GW_PORT" "$@" "$who@$GW_HOST"
}

# gw_rsync [rsync args]: paths name the gateway as USER+TARGET@$GW_HOST:PATH.
gw_rsync() {
    _ssh_opts
    local e
    e="ssh ${SSH_OPTS[*]} ${SSH_KEY_OPTS[*]} -p $GW_PORT"
    rsync -e "$e" "$@"
}

# direct_ssh [ssh options] [command...]: straight to the target sshd, for
# comparisons (never used to test the gateway).
direct_ssh() {
    ssh -F /dev/null -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null \
        -o StrictHostKeyChecking=no -o LogLevel=ERROR -o BatchMode=yes -o IdentitiesOnly=yes \
        -o "IdentityAgent=${GW_AGENT:-none}" -i "$DIRECT_KEY" -p "$TARGET_PORT" -l "$LOGIN" 127.0.0.1 "$@"
}

# stream_cmd BYTES: a remote command (for bash on the target) that writes
# BYTES of deterministic pseudo-random data (AES-CTR keystream) to stdout and
# then the data's SHA-256 to stderr, so that a test can compare the hash taken
# where the data was made with the hash of what arrived.
stream_cmd() {
    printf '%s' "exec 3>&1; h=\$(openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f -iv 0f0e0d0c0b0a09080706050403020100 </dev/zero 2>/dev/null | head -c $1 | tee /dev/fd/3 | sha256sum | cut -d' ' -f1); echo \"source-sha256=\$h\" >&2"
}

# The check most tests end with: the gateway still serves a real user.
gw_still_serves() {
    local out
    out=$(gw_ssh alice+staging-1 echo still-serving 2>&1) ||
        fail "gateway no longer serves alice+staging-1: $out"
    expect_eq "gateway still serves alice+staging-1" still-serving "$out"
}
