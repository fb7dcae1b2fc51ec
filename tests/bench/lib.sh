# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# The benchmark's environment, on top of the integration tests' lib.sh
# (slapd, the target sshd and `drawbridge serve` on 127.0.0.1): raised limits
# for hundreds of concurrent sessions, a second OpenSSH sshd as a ProxyJump
# host, and one ssh_config naming every path the benchmark compares:
#
#   direct   straight to the target sshd
#   viajump  to the target sshd through the jump sshd (ProxyJump)
#   gw       alice+staging-1 through the gateway (LDAP key, recording on),
#            which logs in to the target with a per-session certificate
#   gwkey    alice+keyed-1 through the gateway: the same, but the gateway logs
#            in with its static key (upstream_auth: key; connection setup only)
#
# bench_env_up DIR starts everything and writes DIR/bench.env (sourced by
# the measuring scripts); bench_env_down stops it all.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$REPO_DIR/tests/integration/lib.sh"

# Hundreds of sessions at once: the gateway's pre-auth limits and the
# target's MaxStartups must not be what a ramp-up measures.
GW_LIMITS="{max_startups: 1000, max_startups_per_source: 1000, login_grace: 60s, max_auth_tries: 6}"
# ... nor the signer's per-user rate limit (every connection is alice's).
GW_UPSTREAM="{auth: certificate, cert_ttl: 2m, cert_rate: 100000, signer_user: $(id -un)}"

# The target's config as the integration tests write it, with room for a
# ramp of hundreds of connections and less logging per connection.  sshd
# takes the first value of a keyword, so the lines are replaced, not added.
eval "$(declare -f target_write_config | sed '1s/^target_write_config/_integ_target_write_config/')"
target_write_config() {
    _integ_target_write_config
    sed -i -e 's/^MaxStartups .*/MaxStartups 1000:30:2000/' \
        -e 's/^MaxSessions .*/MaxSessions 1000/' \
        -e 's/^LogLevel .*/LogLevel ERROR/' "$DIR/target_sshd_config"
}

# The jump host: a second sshd, its own host key, key authentication for the
# invoking user, TCP forwarding allowed (that is all ProxyJump needs).
jump_write_config() {
    cat >"$DIR/jump_sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $JUMP_PORT
HostKey $DIR/jump_host_ed25519
PidFile $DIR/jump_sshd.pid
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AuthorizedKeysFile $DIR/jump_authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowTcpForwarding yes
AllowAgentForwarding no
X11Forwarding no
PermitTTY no
MaxStartups 1000:30:2000
MaxSessions 1000
PrintMotd no
LogLevel ERROR
EOF
}

jump_start() {
    local attempt k
    for k in "$DIR/jump_host_ed25519" "$DIR/jump_client_ed25519"; do
        rm -f "$k" "$k.pub"
        ssh-keygen -q -t ed25519 -N '' -C "$(basename "$k")" -f "$k" || return 1
    done
    cp "$DIR/jump_client_ed25519.pub" "$DIR/jump_authorized_keys"
    for attempt in 1 2 3; do
        JUMP_PORT=$(free_port) || return 1
        jump_write_config
        /usr/sbin/sshd -t -f "$DIR/jump_sshd_config" || return 1
        setsid /usr/sbin/sshd -D -e -f "$DIR/jump_sshd_config" </dev/null >"$DIR/jump_sshd.log" 2>&1 &
        JUMP_PID=$!
        wait_port "$JUMP_PORT" "$JUMP_PID" "jump sshd" && return 0
        echo "jump sshd did not start on port $JUMP_PORT; trying another port" >&2
    done
    return 1
}

# One client config for every path, so that the three differ only in where
# they go: same client, same ciphers, same host key checking.  ssh takes the
# first value it finds, so "Host *" comes last.
bench_ssh_config() {
    {
        printf '[127.0.0.1]:%s %s\n' "$TARGET_PORT" "$(cut -d' ' -f1,2 "$DIR/target_host_ed25519.pub")"
        printf '[127.0.0.1]:%s %s\n' "$JUMP_PORT" "$(cut -d' ' -f1,2 "$DIR/jump_host_ed25519.pub")"
        cat "$DIR/known_hosts"
    } >"$DIR/bench_known_hosts"
    cat >"$DIR/bench_ssh_config" <<EOF
Host direct
    HostName 127.0.0.1
    Port $TARGET_PORT
    User $LOGIN
    IdentityFile $DIRECT_KEY
Host jump
    HostName 127.0.0.1
    Port $JUMP_PORT
    User $LOGIN
    IdentityFile $DIR/jump_client_ed25519
Host viajump
    HostName 127.0.0.1
    Port $TARGET_PORT
    User $LOGIN
    IdentityFile $DIRECT_KEY
    ProxyJump jump
Host gw
    HostName 127.0.0.1
    Port $GW_PORT
    User alice+staging-1
    IdentityFile $GW_KEY
Host gwkey
    HostName 127.0.0.1
    Port $GW_PORT
    User alice+keyed-1
    IdentityFile $GW_KEY
Host *${BENCH_KEX:+
    KexAlgorithms $BENCH_KEX}
    BatchMode yes
    IdentitiesOnly yes
    IdentityAgent none
    PreferredAuthentications publickey
    UserKnownHostsFile $DIR/bench_known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    UpdateHostKeys no
    ControlMaster no
    ControlPath none
    ConnectTimeout 20
    LogLevel ERROR
EOF
}

bench_env_write() {
    local v
    {
        for v in DIR GW_PORT GW_PID TARGET_PORT TARGET_PID JUMP_PORT JUMP_PID LOGIN CFG GW_KEY \
            DIRECT_KEY LDAP_PID DRAWBRIDGE_BIN REPO_DIR BENCH_DIR; do
            printf 'export %s=%q\n' "$v" "${!v:-}"
        done
        printf 'export BENCH_SSH_CONFIG=%q\n' "$DIR/bench_ssh_config"
        printf 'export BENCH_STATE_DIR=%q\n' "$DIR/state"
    } >"$DIR/bench.env"
}

# bench_env_up DIR: everything the benchmark talks to, on 127.0.0.1.
bench_env_up() {
    env_up "$1" || return 1
    jump_start || return 1
    bench_ssh_config
    bench_env_write
}

bench_env_down() {
    local rc=0
    if [ -n "${DIR:-}" ] && [ -f "$DIR/jump_sshd.pid" ]; then
        stop_pid "$(cat "$DIR/jump_sshd.pid")" "jump sshd" || rc=1
    fi
    stop_pid "${JUMP_PID:-}" "jump sshd" || rc=1
    env_down "${1:-0}" || rc=1
    return $rc
}

# Raises the limits of this shell (and so of every daemon and client it
# starts) for hundreds of concurrent sessions; soft limits only, as far as the
# hard limits allow.
bench_raise_limits() {
    local want=65536 hard
    hard=$(ulimit -Hn)
    if [ "$hard" = unlimited ] || [ "$hard" -ge "$want" ]; then
        ulimit -n "$want" 2>/dev/null || true
    else
        ulimit -n "$hard" 2>/dev/null || true
    fi
    ulimit -u unlimited 2>/dev/null || ulimit -u "$(ulimit -Hu)" 2>/dev/null || true
}

# bench_build: configures and builds the drawbridge binary into BUILD_DIR
# (default: build-bench in the checkout) as RelWithDebInfo; sets
# DRAWBRIDGE_BIN.  Only the daemon is built: the benchmark needs no tests.
bench_build() {
    BUILD_DIR=${BUILD_DIR:-$REPO_DIR/build-bench}
    mkdir -p "$BUILD_DIR" || return 1
    BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
    if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
        cmake -S "$REPO_DIR" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            >"$BUILD_DIR/bench-configure.log" 2>&1 || {
            cat "$BUILD_DIR/bench-configure.log" >&2
            return 1
        }
    fi
    cmake --build "$BUILD_DIR" -j"$(nproc)" --target drawbridge >"$BUILD_DIR/bench-build.log" 2>&1 || {
        tail -n 40 "$BUILD_DIR/bench-build.log" >&2
        return 1
    }
    DRAWBRIDGE_BIN=$BUILD_DIR/drawbridge
    export DRAWBRIDGE_BIN BUILD_DIR
}

# bench_start: what tests/bench/run and tests/bench/profile do first: build,
# raise limits, start the environment under BUILD_DIR (stopped on exit; kept
# with KEEP=1) and export what it holds.
bench_start() {
    bench_build || { echo "tests/bench: the build failed" >&2; exit 1; }
    bench_raise_limits
    local work
    work=$(mktemp -d "$BUILD_DIR/bench-env.XXXXXX") || exit 1
    trap 'rc=$?; bench_env_down "$rc" || true; exit $rc' EXIT
    trap 'exit 130' INT TERM
    log "starting slapd, target sshd, jump sshd and the gateway in $work"
    bench_env_up "$work" || fail "the environment did not start"
    # shellcheck source=/dev/null
    . "$DIR/bench.env"
}
