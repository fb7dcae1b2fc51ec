#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The CA key's files against the gateway's own account.  Started as root
# (user: nobody, upstream.signer_user: daemon), the daemon works in
# directories the gateway's account owns (state_dir, keys/), and that
# account is what a compromised session child runs as.  Across restarts:
#   - the CA key never belongs to the gateway's account, not even for the
#     moment the daemon hands state_dir over (a process of that account
#     trying to read it all through a restart gets EACCES every time, and
#     the file's owner and mode are never changed);
#   - a symbolic link the gateway's account put in place of user_ca.pub is
#     not followed by root: the file it points to keeps its content and
#     mode, and user_ca.pub is written again from user_ca;
#   - another key put in place of user_ca.pub is replaced at the next start
#     by the CA's own (owned by the signer's account, so not rewritable in
#     place), and between restarts `drawbridge keys` refuses to print a
#     user_ca.pub the signer's account does not own (run as root it prints
#     the key user_ca really holds);
#   - `drawbridge keys` run as the gateway's account before the first start
#     makes no CA key (run as root, it makes one of root's);
#   - a CA key the gateway's account made and put in place of user_ca is
#     never adopted: the daemon refuses to start, saying why;
#   - the hand-over of the tree to the gateway's account never reaches
#     root's files through directories that account swaps with links while
#     root walks (renameat2 RENAME_EXCHANGE in a loop, three restarts);
#   - started with a soft limit of 32 open files, 40 sessions at once all
#     get their certificates (the signer holds one socket per session).
# Depends on: handover.c, server.c, broker/signer/start.c, signer.c, keys.c, main.c (keys).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
    skip "needs root to run the signer under its own account"
fi
umask 022
DIR=$(test_tmpdir) || fail "cannot create a temporary directory"
chmod 0755 "$DIR"
# recordings_dir is handed over after state_dir (and keys/): many files in it
# make the hand-over long enough for a reader to be there if the key is ever
# the gateway's during it
export GW_CONFIG_EXTRA="user: nobody
recordings_dir: $DIR/rec"
export GW_UPSTREAM="{auth: certificate, cert_ttl: 2m, signer_user: daemon}"
trap 'rc=$?; touch "$DIR/stop" 2>/dev/null; env_down "$rc" || rc=1; exit $rc' EXIT
trap 'exit 130' INT TERM
env_up "$DIR" || fail "env_up failed"
chmod 0644 "$CFG" "$POLICY" "$LDAP_SECRET"
T=$DIR/t
mkdir -p "$T"
chmod 0755 "$T"
KEYS=$DIR/state/keys
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }
ca_pub() { ssh-keygen -y -f "$KEYS/user_ca" | cut -d' ' -f1,2; }
restart() {
    gw_stop
    local n
    n=$(grep -c 'signer\.start' "$DIR/gw.log")
    gw_start || return 1
    for _ in $(seq 1 100); do
        [ "$(grep -c 'signer\.start' "$DIR/gw.log")" -gt "$n" ] && return 0
        sleep 0.1
    done
    return 1
}

out=$(gw_ssh alice+staging-1 'echo first' 2>&1) || fail "a first session: $out"
expect_eq "a session through the separated signer (the control)" first "$out"
expect_eq "user_ca is the signer's, 0600" "daemon 600" "$(stat -c '%U %a' "$KEYS/user_ca")"
expect_eq "keys/ is the gateway's (so it can create and remove names there)" nobody "$(stat -c '%U' "$KEYS")"
truth=$(ca_pub)

# ---- a restart never hands the CA key to the gateway's account ----
"$PY" -c '
import os, sys
d = sys.argv[1]
for i in range(30000):
    open(os.path.join(d, "f%05d" % i), "w").close()' "$(mkdir -p "$DIR/rec/2020/01/01" && echo "$DIR/rec/2020/01/01")"
rm -f "$DIR/stop"
# a process of the gateway's account reads user_ca for as long as the restart lasts
as_nobody "$PY" -c '
import os, sys
key, stop = sys.argv[1], sys.argv[2]
tries = got = 0
while not os.path.exists(stop):
    tries += 1
    try:
        with open(key, "rb") as f:
            f.read(16)
        got += 1
    except OSError:
        pass
print(tries, got)' "$KEYS/user_ca" "$DIR/stop" >"$T/thief.out" 2>&1 &
thief=$!
# and root watches the file for any change of owner or mode (IN_ATTRIB)
"$PY" -c '
import ctypes, os, select, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(os.O_NONBLOCK)
if fd < 0 or libc.inotify_add_watch(fd, sys.argv[1].encode(), 0x4) < 0:
    sys.exit("inotify: %s" % os.strerror(ctypes.get_errno()))
open(sys.argv[3], "w").close()
n = 0
while not os.path.exists(sys.argv[2]):
    if select.select([fd], [], [], 0.05)[0]:
        buf = os.read(fd, 65536)
        off = 0
        while off < len(buf):
            _, mask, _, ln = struct.unpack_from("iIII", buf, off)
            n += 1
            off += 16 + ln
print(n)' "$KEYS/user_ca" "$DIR/stop" "$T/watching" >"$T/attrib.out" 2>&1 &
watcher=$!
for _ in $(seq 1 50); do [ -e "$T/watching" ] && break; sleep 0.1; done
[ -e "$T/watching" ] || fail "the inotify watcher did not start: $(cat "$T/attrib.out")"
restart || fail "the gateway did not come back after a restart"
touch "$DIR/stop"
wait "$thief" || fail "the reader failed: $(cat "$T/thief.out")"
wait "$watcher" || fail "the watcher failed: $(cat "$T/attrib.out")"
read -r tries got <"$T/thief.out"
[ "${tries:-0}" -gt 100 ] || fail "the reader hardly ran ($tries tries)"
expect_eq "the gateway's account could not read user_ca at any moment of the restart ($tries tries)" 0 "$got"
expect_eq "user_ca's owner and mode were never changed during the restart" 0 "$(cat "$T/attrib.out")"
rm -rf "$DIR/rec/2020"
expect_eq "user_ca is still the signer's, 0600" "daemon 600" "$(stat -c '%U %a' "$KEYS/user_ca")"

# ---- a symbolic link in place of user_ca.pub ----
printf 'precious\n' >"$T/victim"
chmod 0600 "$T/victim"
as_nobody sh -c "rm -f '$KEYS/user_ca.pub' && ln -s '$T/victim' '$KEYS/user_ca.pub'" ||
    fail "the gateway's account could not replace user_ca.pub (the premise)"
restart || fail "the gateway did not come back after user_ca.pub became a link"
expect_eq "root did not write through the link" precious "$(cat "$T/victim")"
expect_eq "nor change the mode of what it points to" 600 "$(stat -c %a "$T/victim")"
[ -L "$KEYS/user_ca.pub" ] && fail "user_ca.pub is still a link"
expect_eq "user_ca.pub was written again from user_ca" "$truth" "$(cut -d' ' -f1,2 "$KEYS/user_ca.pub")"

# ---- another key in place of user_ca.pub ----
ssh-keygen -q -t ed25519 -N '' -C evil -f "$T/evil" || fail "ssh-keygen"
chmod 0644 "$T/evil.pub"
evil=$(cut -d' ' -f1,2 "$T/evil.pub")
as_nobody sh -c "rm -f '$KEYS/user_ca.pub' && cp '$T/evil.pub' '$KEYS/user_ca.pub'" ||
    fail "the gateway's account could not replace user_ca.pub (the premise)"
restart || fail "the gateway did not come back"
expect_eq "the next start writes the CA's own public key again" "$truth" "$(cut -d' ' -f1,2 "$KEYS/user_ca.pub")"
expect_eq "owned by the signer's account, 0644 (not rewritable in place)" "daemon 644" "$(stat -c '%U %a' "$KEYS/user_ca.pub")"
out=$(gw_ssh alice+staging-1 'echo after-restarts' 2>&1) || fail "a session after the restarts: $out"
expect_eq "sessions go on" after-restarts "$out"
# between restarts: the gateway's account swaps it again
as_nobody sh -c "rm -f '$KEYS/user_ca.pub' && cp '$T/evil.pub' '$KEYS/user_ca.pub'" ||
    fail "the gateway's account could not replace user_ca.pub (the premise)"
rc=0
out=$(as_nobody "$DRAWBRIDGE_BIN" keys -c "$CFG" --target staging-1 2>&1) || rc=$?
expect_ne "drawbridge keys (as the gateway's account) refuses a user_ca.pub the signer does not own" 0 "$rc"
expect_nomatch "and prints no key of it" "${evil#* }" "$out"
expect_match "saying why" 'user_ca\.pub' "$out"
out=$("$DRAWBRIDGE_BIN" keys -c "$CFG" --target staging-1 2>"$T/keys.err") || fail "drawbridge keys as root: $(cat "$T/keys.err")"
expect_match "run as root, it says user_ca.pub was not user_ca's" 'does not hold user_ca.s public key' "$(cat "$T/keys.err")"
expect_eq "and prints the key user_ca holds" "cert-authority,principals=\"drawbridge:staging-1\" $truth drawbridge-user-ca" "$out"
expect_eq "and has put that key back in user_ca.pub" "$truth" "$(cut -d' ' -f1,2 "$KEYS/user_ca.pub")"

# ---- nor is a CA key ever made by the gateway's account ----
# `drawbridge keys` run as that account before the daemon's first start (a
# fresh keys_dir) must not make the CA key itself: that account would have
# held it from its birth.
mkdir -p "$T/freshkeys"
chown nobody:nogroup "$T/freshkeys"
cp "$CFG" "$T/fresh.yaml"
printf 'keys_dir: %s\n' "$T/freshkeys" >>"$T/fresh.yaml"
chmod 0644 "$T/fresh.yaml"
rc=0
out=$(as_nobody "$DRAWBRIDGE_BIN" keys -c "$T/fresh.yaml" --target staging-1 2>&1) || rc=$?
expect_ne "drawbridge keys as the gateway's account before the first start prints no CA" 0 "$rc"
expect_match "it says the daemon makes it" 'does not exist yet.*first start' "$out"
[ -e "$T/freshkeys/user_ca" ] && fail "the gateway's account made a CA key: $(stat -c '%U %a' "$T/freshkeys/user_ca")"
pass "and made no CA key"
out=$("$DRAWBRIDGE_BIN" keys -c "$T/fresh.yaml" --target staging-1 2>&1) || fail "drawbridge keys as root on a fresh keys_dir: $out"
expect_eq "run as root, it makes the CA key as root's" "root 600" "$(stat -c '%U %a' "$T/freshkeys/user_ca")"

# ---- a CA key of the gateway's account's making in place of user_ca ----
gw_stop
mv "$KEYS/user_ca" "$T/user_ca.real"
chmod 0644 "$T/evil"
as_nobody sh -c "cp '$T/evil' '$KEYS/user_ca' && chmod 0600 '$KEYS/user_ca' && rm -f '$KEYS/user_ca.pub' && cp '$T/evil.pub' '$KEYS/user_ca.pub'" ||
    fail "the gateway's account could not put a key in keys/ (the premise)"
n=$(grep -c 'signer\.start' "$DIR/gw.log")
setsid "$DRAWBRIDGE_BIN" serve -c "$CFG" -f </dev/null >>"$DIR/gw.log" 2>&1 &
GW_PID=$!
rc=0
for _ in $(seq 1 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$GW_PID" 2>/dev/null && fail "the daemon started with a CA key the gateway's account made"
wait "$GW_PID" || rc=$?
expect_ne "the daemon does not start with a CA key the gateway's account owns" 0 "$rc"
expect_match "and says why" "user_ca.*(gateway's account|belongs to nobody)" "$(tail -n 5 "$DIR/gw.log")"
expect_eq "no signer was started with it" "$n" "$(grep -c 'signer\.start' "$DIR/gw.log")"
expect_eq "the planted key was not given to the signer's account" nobody "$(stat -c %U "$KEYS/user_ca")"
rm -f "$KEYS/user_ca" "$KEYS/user_ca.pub"
mv "$T/user_ca.real" "$KEYS/user_ca"
gw_start || fail "the gateway did not start with its own CA key back"
out=$(gw_ssh alice+staging-1 'echo restored' 2>&1) || fail "a session with the CA key restored: $out"
expect_eq "with its own key back the gateway serves again" restored "$out"
expect_eq "user_ca.pub is the CA's again" "$truth" "$(cut -d' ' -f1,2 "$KEYS/user_ca.pub")"

# ---- the hand-over of state_dir follows no link, even one swapped in mid-walk ----
# The gateway's account swaps directories of its own with links to root's
# files (renameat2 RENAME_EXCHANGE, as fast as it can) while root hands the
# tree over at a start: root must never reach through one.
for k in 1 2 3 4; do
    mkdir -p "$T/victim$k" "$DIR/rec/swap$k"
    echo root-only >"$T/victim$k/file"
    for f in $(seq 1 64); do echo root-only >"$T/victim$k/file$f"; : >"$DIR/rec/swap$k/file$f"; done
    : >"$DIR/rec/swap$k/file"
    ln -s "$T/victim$k" "$DIR/rec/swap$k.l"
done
chown -R nobody:nogroup "$DIR/rec"
rm -f "$DIR/stop"
for k in 1 2 3 4; do
    as_nobody "$PY" -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b, stop = (x.encode() for x in sys.argv[1:4])
n = 0
while n % 4096 or not os.path.exists(stop):
    libc.renameat2(-100, a, -100, b, 2)
    n += 1' "$DIR/rec/swap$k" "$DIR/rec/swap$k.l" "$DIR/stop" &
    echo $! >>"$T/swappers"
done
for round in 1 2 3; do
    restart || fail "the gateway did not come back (round $round)"
done
touch "$DIR/stop"
while read -r p; do wait "$p"; done <"$T/swappers"
for k in 1 2 3 4; do
    expect_eq "root's files behind a swapped link are still root's (victim $k)" "root root" "$(stat -c '%U %G' "$T/victim$k"/* | sort -u)"
    expect_eq "and so is its directory (victim $k)" "root" "$(stat -c '%U' "$T/victim$k")"
done
rm -rf "$DIR/rec/swap"*

# ---- as many sessions at once as the machine allows, not as a soft limit ----
# The signer holds one descriptor per authenticated session; started with a
# small soft limit on open files (systemd's default is 1024) it must not lose
# sessions past it while the hard limit allows more.
gw_stop
setsid prlimit --nofile=32:4096 "$DRAWBRIDGE_BIN" serve -c "$CFG" -f </dev/null >>"$DIR/gw.log" 2>&1 &
GW_PID=$!
wait_port "$GW_PORT" "$GW_PID" "drawbridge serve (32 open files)" || fail "the gateway did not start under prlimit"
N=40
for i in $(seq 1 "$N"); do
    gw_ssh alice+staging-1 "echo up-$i; sleep 8; echo done-$i" >"$T/many.$i" 2>&1 &
    echo $! >>"$T/many.pids"
    sleep 0.05
done
up=0
for _ in $(seq 1 150); do
    up=$(cat "$T"/many.* 2>/dev/null | grep -c '^up-' || true)
    [ "$up" -ge "$N" ] && break
    grep -q 'no certificate' "$T"/many.* 2>/dev/null && break
    sleep 0.1
done
ok=0
while read -r p; do wait "$p" && ok=$((ok + 1)); done <"$T/many.pids"
grep -l 'certificate\|signer' "$T"/many.* >/dev/null && fail "a session got no certificate: $(grep -h 'certificate\|signer' "$T"/many.* | sort | uniq -c | head -n 3)"
pass "none was refused a certificate"
expect_eq "$N sessions at once, all through, under a soft limit of 32 open files" "$N" "$ok"
finish
