#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The Debian package, as an operator meets it: `cpack -G DEB` from the build
# folder, lintian without errors, dependencies from dpkg-shlibdeps, then
# `dpkg -i`: the account and the state directory exist, `drawbridge check`
# passes on the installed example files, `systemd-analyze verify` passes on
# the unit.  Then the service runs: with systemd, `systemctl start`;
# without it, the unit's ExecStart line as the unit runs it -- as root with
# the unit's capability bounding set and no_new_privs (setpriv), in a mount
# namespace where the file system is read-only but for ReadWritePaths and
# /tmp is private (ProtectSystem=strict, PrivateTmp), traced with strace so
# that every system call and socket family it uses is checked against
# SystemCallFilter and RestrictAddressFamilies.  Through it a real user
# logs in (LDAP), opens a recorded session to a real target, the recording
# verifies, SIGHUP reloads, SIGTERM stops; then the package is purged.
#
# Without systemd the whole test runs in a private mount namespace on an
# overlay of / (a copy-on-write view of the machine that vanishes at the
# end), so that nothing else on the machine -- another test, another test
# suite -- ever sees the package, its drawbridge account (which any gateway
# started as root would switch to) or its files.  With systemd the unit must
# be the machine's, so the test installs for real, runs alone (RUN_SERIAL)
# and removes what it created.  Needs root, dpkg and (without systemd)
# overlayfs; skipped (exit 77) otherwise, and when a drawbridge package or
# /etc/drawbridge is already there.
# Depends on: dist/ (unit, sysusers.d, tmpfiles.d, maintainer scripts,
# packaging.cmake), man/, server.c (privilege drop).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

skip() {
    log "SKIPPED: $*"
    exit 77
}

# Stages: PKG_STAGE unset (the test as ctest starts it), "ns" (inside a
# private mount namespace, setting up the overlay), "root" (inside the
# overlay: the test proper).
case ${PKG_STAGE:-} in
'')
    [ "$(id -u)" = 0 ] || skip "needs root (dpkg -i, the service account)"
    for tool in dpkg dpkg-deb cpack lintian setpriv unshare; do
        command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/install-deps installs it)"
    done
    if dpkg-query -W -f='${Status}' drawbridge 2>/dev/null | grep -q 'installed'; then
        skip "a drawbridge package is already installed; not touching it"
    fi
    [ -e /etc/drawbridge ] && skip "/etc/drawbridge already exists; not touching it"
    PKG_DIR=$(test_tmpdir) || fail "cannot create a temporary directory"
    chmod 0755 "$PKG_DIR"
    export PKG_DIR
    if [ ! -d /run/systemd/system ]; then
        # No systemd to start the unit: everything happens in a copy-on-write
        # view of this machine that nobody else sees and that vanishes at the
        # end, so that the package's account, files and service never meet
        # another test (or another test suite) running meanwhile.
        rc=0
        PKG_STAGE=ns unshare -m --propagation private -- bash "$0" || rc=$?
        [ "${KEEP:-0}" = 1 ] && echo "kept $PKG_DIR (KEEP=1)" >&2 || rm -rf "$PKG_DIR"
        exit "$rc"
    fi
    ;;
ns)
    ov=$PKG_DIR/overlay
    root=$ov/root
    mkdir -p "$ov"
    mount -t tmpfs -o mode=0755 tmpfs "$ov" || skip "cannot mount a tmpfs for the overlay"
    mkdir -p "$ov/upper" "$ov/work" "$root"
    mount -t overlay overlay -o "lowerdir=/,upperdir=$ov/upper,workdir=$ov/work" "$root" ||
        skip "cannot mount an overlay of / (the package is installed only in one)"
    for m in /proc /sys /dev; do
        mount --rbind "$m" "$root$m" || fail "cannot bind $m into the overlay"
    done
    # what the test writes and keeps (logs, KEEP=1) goes to the real directory
    mount --bind "$PKG_DIR" "$root$PKG_DIR" || fail "cannot bind $PKG_DIR into the overlay"
    PKG_STAGE=root exec chroot "$root" /bin/bash -c 'cd / && exec bash "$0"' "$0"
    ;;
esac

BUILD=$(dirname "$DRAWBRIDGE_BIN")
[ -f "$BUILD/CPackConfig.cmake" ] || fail "no CPackConfig.cmake in $BUILD"
CONF=/etc/drawbridge/drawbridge.yaml
STATE=/var/lib/drawbridge
had_user=0 had_group=0 had_state=0
getent passwd drawbridge >/dev/null && had_user=1
getent group drawbridge >/dev/null && had_group=1
[ -e "$STATE" ] && had_state=1

DIR=$PKG_DIR
: >"$DIR/gw.log"
SVC_PID= STRACE_PID= SYSTEMD=0
[ -d /run/systemd/system ] && SYSTEMD=1

cleanup() {
    local rc=$?
    if [ "$SYSTEMD" = 1 ]; then
        systemctl stop drawbridge.service >/dev/null 2>&1
    fi
    [ -n "$STRACE_PID" ] && kill_tree "$STRACE_PID"
    [ -n "$SVC_PID" ] && stop_pid "$SVC_PID" "drawbridge (package)"
    if [ -f "$DIR/target_sshd.pid" ]; then
        stop_pid "$(cat "$DIR/target_sshd.pid")" "target sshd"
    fi
    declare -F ldap_stop >/dev/null && ldap_stop
    # Inside the overlay all of this vanishes anyway; on the machine itself
    # (with systemd) it is what leaves the machine as it was found.
    if dpkg-query -W -f='${Status}' drawbridge 2>/dev/null | grep -q 'installed'; then
        dpkg --purge drawbridge >"$DIR/purge.log" 2>&1 || {
            echo "dpkg --purge failed:" >&2
            cat "$DIR/purge.log" >&2
            rc=1
        }
    fi
    rm -rf /etc/drawbridge
    [ "$had_state" = 0 ] && rm -rf "$STATE"
    [ "$had_user" = 0 ] && getent passwd drawbridge >/dev/null && userdel -f drawbridge
    [ "$had_group" = 0 ] && getent group drawbridge >/dev/null && groupdel drawbridge
    if [ "$rc" != 0 ] && [ -z "${LOGS_DUMPED:-}" ]; then
        dump_logs
    fi
    if [ "${PKG_STAGE:-}" != root ]; then
        [ "${KEEP:-0}" = 1 ] && echo "kept $DIR (KEEP=1)" >&2 || rm -rf "$DIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the package ------------------------------------------------------------

out=$(cpack --config "$BUILD/CPackConfig.cmake" -G DEB -B "$DIR/pkg" 2>&1) || fail "cpack -G DEB failed: $out"
deb=$(ls "$DIR"/pkg/drawbridge_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "cpack made no .deb: $out"
pass "cpack -G DEB made $(basename "$deb")"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libssh-4 libldap-2.5-0 libsqlite3-0 libyaml-0-2 libjansson4 libssl3 libc6; do
    expect_match "Depends names $lib (dpkg-shlibdeps)" "(^|, )$lib( |,|$)" "$depends"
done
expect_match "the /etc files are conffiles" '^/etc/drawbridge/drawbridge.yaml$' \
    "$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)"
out=$(lintian --fail-on error --tag-display-limit 0 "$deb" 2>&1) || fail "lintian reports errors:
$out"
expect_nomatch "lintian reports no errors" '^E: ' "$out"
[ -n "$out" ] && log "lintian: $(printf '%s' "$out" | grep -v 'root privileges' | tr '\n' ';')"

out=$(dpkg -i "$deb" 2>&1) || fail "dpkg -i failed: $out"
pass "dpkg -i installs it"
expect_eq "the drawbridge account exists" drawbridge "$(getent passwd drawbridge | cut -d: -f1)"
expect_eq "the signer's account exists" drawbridge-ca "$(getent passwd drawbridge-ca | cut -d: -f1)"
expect_eq "the state directory is 0700 drawbridge:drawbridge" "700 drawbridge drawbridge" \
    "$(stat -c '%a %U %G' "$STATE")"
for f in /usr/sbin/drawbridge /usr/share/man/man8/drawbridge.8.gz /usr/share/man/man5/drawbridge.yaml.5.gz \
    /usr/share/man/man5/drawbridge-policy.5.gz /usr/share/man/man7/drawbridge-shell.7.gz \
    /usr/lib/systemd/system/drawbridge.service "$CONF" /etc/drawbridge/policy.yaml; do
    [ -f "$f" ] || fail "$f is not installed"
done
pass "binary, man pages, unit and examples are installed"
UNIT=/usr/lib/systemd/system/drawbridge.service

out=$(drawbridge check -c "$CONF" 2>&1) || fail "drawbridge check refuses the installed examples: $out"
pass "drawbridge check passes on the installed example files"
if command -v systemd-analyze >/dev/null; then
    # Documentation= is checked with man(1) where there is one.
    man_opt=--man=yes
    command -v man >/dev/null || man_opt=--man=no
    out=$(systemd-analyze verify "$man_opt" "$UNIT" 2>&1) || fail "systemd-analyze verify: $out"
    expect_eq "systemd-analyze verify passes on the unit" "" "$out"
else
    log "systemd-analyze is not installed: the unit is not verified"
fi

# ---- a real directory and target for the installed service ----------------

ldap_start "$DIR" || fail "ldap_start failed"
GW_KEY=$DIR/alice_ed25519
for k in "$GW_KEY" "$DIR/target_host_ed25519"; do
    ssh-keygen -q -t ed25519 -N '' -C "$(basename "$k")" -f "$k" || fail "ssh-keygen failed"
done
ldap_add_key alice "$(cat "$GW_KEY.pub")" || fail "ldap_add_key failed"
TARGET_PORT=$(free_port) || fail "no free port"
target_write_config
target_start || fail "the target sshd did not start"
GW_PORT=$(free_port) || fail "no free port"

# As drawbridge(8) says: the bind secret readable by the service account,
# the tools run as that account.
install -m 0640 -o root -g drawbridge "$LDAP_SECRET_FILE" /etc/drawbridge/ldap.secret
sed -i -e "s#^listen: .*#listen: [\"127.0.0.1:$GW_PORT\"]#" \
    -e "s#^  url: .*#  url: $LDAP_URL#" \
    -e "s#^  \# bind_dn: .*#  bind_dn: $LDAP_BIND_DN#" \
    -e "s#^  \# bind_password_file: .*#  bind_password_file: /etc/drawbridge/ldap.secret#" \
    -e "s#^  user_base: .*#  user_base: ou=people,$LDAP_BASE#" \
    -e "s#^  group_base: .*#  group_base: ou=groups,$LDAP_BASE#" "$CONF"
# the web console, retention and certificate mode (the signer under its own
# account) on, so that their processes run under the sandbox too
WEB_PORT=$(free_port) || fail "no free port"
printf 'web: {listen: ["127.0.0.1:%s"], public_url: "https://127.0.0.1:%s"}\n' "$WEB_PORT" "$WEB_PORT" >>"$CONF"
printf 'upstream: {auth: certificate, cert_ttl: 2m}\n' >>"$CONF"
sed -i -e '/^recordings:/,/^audit:/ s/^  retain: null .*/  retain: 400d/' \
    -e '/^audit:/,$ s/^  retain: null .*/  retain: 800d/' "$CONF"
grep -q '^  retain: 800d' "$CONF" || fail "cannot turn retention on in $CONF"
hk=$(cut -d' ' -f1,2 "$DIR/target_host_ed25519.pub")
cat >/etc/drawbridge/policy.yaml <<EOF
protected: {env: [prod]}
targets:
  - name: staging-1
    address: 127.0.0.1:$TARGET_PORT
    host_key: "$hk"
    logins: [$LOGIN]
    labels: {env: staging}
rules:
  - name: staging-standing
    requesters: ["group:engineers"]
    targets: {labels: {env: staging}}
    standing: true
reviewers: ["group:security"]
EOF
out=$(drawbridge check -c "$CONF" 2>&1) || fail "check refuses the test configuration: $out"
# Before the first start the service account may not make the CA key (it
# would have held it): keys --target says to start the daemon first.
rc=0
out=$(runuser -u drawbridge -- drawbridge keys -c "$CONF" --target staging-1 2>&1) || rc=$?
expect_ne "keys --target as the service account before the first start" 0 "$rc"
expect_match "says the daemon makes the CA key" 'does not exist yet' "$out"

# ---- the service ------------------------------------------------------------

# In the overlay the build's own copy of the web console's files is hidden,
# so that the installed service has to find the installed ones.
if [ "${PKG_STAGE:-}" = root ]; then
    SRC=$(cd "$LIB_DIR/../.." && pwd)
    mount -t tmpfs -o ro,mode=0755 tmpfs "$SRC/broker/web" || fail "cannot hide $SRC/broker/web"
fi

if [ "$SYSTEMD" = 1 ]; then
    systemctl daemon-reload
    systemctl start drawbridge.service || fail "systemctl start drawbridge failed: $(journalctl -u drawbridge -n 30 --no-pager)"
    wait_port "$GW_PORT" "" "drawbridge.service" || fail "the service does not listen"
    SVC_PID=$(systemctl show -p MainPID --value drawbridge.service)
    pass "systemctl start drawbridge"
else
    log "no systemd on this machine: running the unit's ExecStart as the unit would"
    exec_start=$("$PY" "$LIB_DIR/unit_sandbox.py" get "$UNIT" ExecStart) || fail "no ExecStart in the unit"
    caps=$("$PY" "$LIB_DIR/unit_sandbox.py" setpriv-caps "$UNIT") || fail "no CapabilityBoundingSet in the unit"
    rw=$("$PY" "$LIB_DIR/unit_sandbox.py" get "$UNIT" ReadWritePaths) || fail "no ReadWritePaths in the unit"
    expect_eq "the unit asks for NoNewPrivileges" yes "$("$PY" "$LIB_DIR/unit_sandbox.py" get "$UNIT" NoNewPrivileges)"
    expect_eq "the unit asks for ProtectSystem=strict" strict "$("$PY" "$LIB_DIR/unit_sandbox.py" get "$UNIT" ProtectSystem)"
    tracer=()
    if command -v strace >/dev/null; then
        tracer=(strace -f -qq -o "$DIR/trace")
    else
        log "strace is not installed: system calls are not checked against SystemCallFilter"
    fi
    # Every mount read-only but the API file systems, then ReadWritePaths
    # writable again, a private /tmp, and the home directories hidden.
    # shellcheck disable=SC2016 # expanded by the inner shell
    sandbox='set -e
        mount --make-rprivate /
        awk "{print \$5}" /proc/self/mountinfo | while read -r m; do
            case $m in /proc*|/sys*|/dev*) continue ;; esac
            mount -o remount,bind,ro "$m" 2>/dev/null || true
        done
        for p in $RW; do mount --bind "$p" "$p"; mount -o remount,bind,rw "$p"; done
        mount -t tmpfs -o mode=1777 tmpfs /tmp
        mount -t tmpfs -o mode=1777 tmpfs /var/tmp
        for h in /home /root; do [ -d "$h" ] && mount -t tmpfs -o ro,mode=0755 tmpfs "$h"; done
        exec "$@"'
    # shellcheck disable=SC2086 # exec_start is the unit's command line, split as systemd does
    RW=$rw setsid "${tracer[@]}" unshare -m sh -c "$sandbox" sandbox \
        setpriv --no-new-privs --bounding-set "$caps" -- $exec_start </dev/null >>"$DIR/gw.log" 2>&1 &
    STRACE_PID=$!
    wait_port "$GW_PORT" "$STRACE_PID" "drawbridge (ExecStart)" || fail "the service does not listen"
    # strace's child, or (without strace) the process started here, which
    # became the daemon through exec
    SVC_PID=$(pgrep -x drawbridge -P "$STRACE_PID" | head -n 1)
    if [ -z "$SVC_PID" ] && [ "$(cat "/proc/$STRACE_PID/comm" 2>/dev/null)" = drawbridge ]; then
        SVC_PID=$STRACE_PID
    fi
    [ -n "$SVC_PID" ] || fail "cannot find the daemon's process"
    pass "the unit's ExecStart runs under its bounding set, no_new_privs and a read-only file system"
fi

uid=$(id -u drawbridge)
# The port is bound before the drop (root may need a low port), and the
# signer and the keys come between: give the daemon 10 s to finish starting.
uids=
for _ in $(seq 100); do
    uids=$(awk '/^Uid:/ {print $2 "," $3 "," $4 "," $5}' "/proc/$SVC_PID/status")
    [ "$uids" = "$uid,$uid,$uid,$uid" ] && break
    sleep 0.1
done
expect_eq "the listener runs as the drawbridge account (real, effective, saved, fs uid)" \
    "$uid,$uid,$uid,$uid" "$uids"
expect_eq "the listener holds no capabilities" 0000000000000000 "$(awk '/^CapEff:/ {print $2}' "/proc/$SVC_PID/status")"
expect_eq "state_dir belongs to drawbridge" drawbridge "$(stat -c %U "$STATE/drawbridge.db")"
expect_eq "the CA key is the signer's" "drawbridge-ca 600" "$(stat -c '%U %a' "$STATE/keys/user_ca")"
upstream=$(runuser -u drawbridge -- drawbridge keys -c "$CONF" --target staging-1 2>&1) ||
    fail "drawbridge keys --target as the service account failed: $upstream"
expect_match "keys --target prints the target's cert-authority line" \
    '^cert-authority,principals="[^"]+" ssh-ed25519 ' "$upstream"
printf '%s\n' "$upstream" >"$DIR/target_authorized_keys"

gw_known_hosts || fail "cannot read the gateway's host key"
out=$(drawbridge status -c "$CONF" 2>&1)
expect_match "status: the listener is up" '^listener: +up' "$out"
expect_match "status: the web console is up" '^web console: +up' "$out"
page=$("$PY" - "$WEB_PORT" <<'PYEOF'
import ssl, sys, urllib.request
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with urllib.request.urlopen("https://127.0.0.1:%s/login" % sys.argv[1], context=ctx, timeout=10) as r:
    print(r.status)
    print(r.read().decode())
PYEOF
) || fail "the web console does not answer: $page"
expect_match "the web console serves its installed pages" '<title>Log in · Drawbridge</title>' "$page"
out=$(gw_ssh alice whoami 2>&1) || fail "login through the installed service failed: $out"
expect_match "alice logs in through the installed service" '^user: *alice' "$out"
out=$(gw_ssh alice+staging-1 echo package-session-ok 2>&1) || fail "a session through the installed service failed: $out"
expect_eq "a recorded session to a target works, on a certificate" package-session-ok "$out"
signer=$(pgrep -u drawbridge-ca -x drawbridge | head -n 1)
[ -n "$signer" ] || fail "no signer process runs as drawbridge-ca"
pass "the signer runs as its own account"
expect_match "status counts the certificate" '^certificates: +1 issued in the last hour$' \
    "$(drawbridge status -c "$CONF" 2>&1)"
# The session's child seals the recording just after the client has gone.
for _ in $(seq 1 50); do
    out=$(runuser -u drawbridge -- drawbridge verify -c "$CONF" 2>&1) || fail "verify failed: $out"
    case $out in *" live"*) sleep 0.1 ;; *) break ;; esac
done
expect_match "the recording and the audit chain verify" 'recordings: 1 checked: 1 ok' "$out"

lines=$(wc -l <"$DIR/gw.log")
if [ "$SYSTEMD" = 1 ]; then
    systemctl reload drawbridge.service || fail "systemctl reload failed"
    sleep 1
    expect_match "reload loads the policy" 'policy\.reload' "$(journalctl -u drawbridge -n 20 --no-pager)"
    systemctl stop drawbridge.service || fail "systemctl stop failed"
    pass "systemctl stop drawbridge"
else
    kill -HUP "$SVC_PID"
    for _ in $(seq 1 50); do
        tail -n +"$((lines + 1))" "$DIR/gw.log" | grep -q 'policy\.reload' && break
        sleep 0.1
    done
    expect_match "SIGHUP reloads the policy" 'policy\.reload' "$(tail -n +"$((lines + 1))" "$DIR/gw.log")"
    stop_pid "$SVC_PID" "drawbridge (ExecStart)" || fail "the daemon did not stop on SIGTERM"
    SVC_PID=
    wait "$STRACE_PID" 2>/dev/null
    STRACE_PID=
    pass "SIGTERM stops it"
    if [ -f "$DIR/trace" ]; then
        out=$("$PY" "$LIB_DIR/unit_sandbox.py" check-trace "$UNIT" "$DIR/trace" /usr/sbin/drawbridge 2>&1) ||
            fail "the daemon needs what the unit forbids:
$out"
        pass "every system call and socket family is allowed by the unit"
        log "$out"
    fi
fi

# ---- removal ----------------------------------------------------------------

out=$(dpkg --purge drawbridge 2>&1) || fail "dpkg --purge failed: $out"
[ -e /usr/sbin/drawbridge ] && fail "the binary is still there after purge"
[ -e "$UNIT" ] && fail "the unit is still there after purge"
[ -e "$CONF" ] && fail "the configuration is still there after purge"
pass "dpkg --purge removes the package and its configuration"
finish
