#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The listener's pre-authentication limits, with small values:
#   login_grace 6s: a connection that never authenticates is closed;
#   max_startups_per_source 2 / max_startups 4: unauthenticated connections
#     beyond the limits are not served, other sources still are, and logins
#     work again once the held connections are gone;
#   max_auth_tries 3: a client offering wrong passwords is cut off.
# Runs in an environment of its own (its own limits).
# Depends on: server.c (counting children per source, grace timer),
# session.c (auth attempt counting).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
export GW_LIMITS="{max_startups: 4, max_startups_per_source: 2, login_grace: 6s, max_auth_tries: 3, slow_after_failures: 100000}"
private_env

probe() { "$PY" "$LIB_DIR/tcpprobe.py" "$@"; }

# ---- max_startups_per_source and max_startups ----
probe hold 2 127.0.0.1 "$GW_PORT" --source 127.0.0.1 --seconds 4 >"$DIR/hold1" &
h1=$!
for _ in $(seq 1 50); do grep -q held "$DIR/hold1" && break; sleep 0.1; done
sleep 0.3
rc=0
out=$(gw_ssh alice -b 127.0.0.1 whoami 2>&1) || rc=$?
expect_ne "a third unauthenticated connection from 127.0.0.1 is not served" 0 "$rc"
out=$(gw_ssh alice -b 127.0.0.2 whoami 2>&1) || fail "login from 127.0.0.2 refused while 127.0.0.1 is at its limit: $out"
expect_match "another source is still served" '^user:[[:space:]]+alice' "$out"
probe hold 2 127.0.0.1 "$GW_PORT" --source 127.0.0.2 --seconds 4 >"$DIR/hold2" &
h2=$!
for _ in $(seq 1 50); do grep -q held "$DIR/hold2" && break; sleep 0.1; done
sleep 0.3
# All four slots are held by two sources: a newcomer from a third source
# takes the oldest slot of a busiest source, so that a few addresses holding
# silent connections cannot lock everyone else out.
out=$(gw_ssh alice -b 127.0.0.3 whoami 2>&1) || fail "a third source was locked out by two: $out"
expect_match "with max_startups reached by two sources, a third source is still served" \
    '^user:[[:space:]]+alice' "$out"
expect_match "the gateway made room by evicting the busiest source's oldest connection" \
    'conn.evicted' "$(cat "$DIR/gw.log")"
wait "$h1" "$h2"
sleep 0.5
# Four sources with one slot each: nobody is busier than a newcomer, so a
# fifth source is refused (max_startups is a hard limit then).
holders=()
for src in 127.0.0.1 127.0.0.2 127.0.0.3 127.0.0.4; do
    probe hold 1 127.0.0.1 "$GW_PORT" --source "$src" --seconds 4 >"$DIR/hold-$src" &
    holders+=($!)
    for _ in $(seq 1 50); do grep -q held "$DIR/hold-$src" && break; sleep 0.1; done
done
sleep 0.3
rc=0
out=$(gw_ssh alice -b 127.0.0.5 whoami 2>&1) || rc=$?
expect_ne "with max_startups (4) reached by four sources, a fifth source is not served" 0 "$rc"
wait "${holders[@]}"
sleep 0.5
out=$(gw_ssh alice -b 127.0.0.1 whoami 2>&1) || fail "login refused after the held connections closed: $out"
expect_match "logins work again once the held connections are gone" '^user:[[:space:]]+alice' "$out"

# ---- login_grace ----
secs=$(probe idle 127.0.0.1 "$GW_PORT" --timeout 20)
[ "$secs" != open ] || fail "an idle connection was still open after 20 s (login_grace 6s)"
expect_lt "an idle connection is closed within login_grace + 4 s" 10 "${secs%.*}"
expect_ne "an idle connection is not closed at once" 0 "${secs%.*}"

# During authentication: the password prompt is never answered.  ssh itself
# blocks in askpass and would not notice a disconnect, so watch the gateway
# child serving the connection (the only child in this environment) instead.
cat >"$DIR/askpass-slow" <<S
#!/bin/sh
echo \$\$ >"$DIR/askpass-slow.pid"
exec sleep 30
S
chmod +x "$DIR/askpass-slow"
_ssh_opts
SSH_ASKPASS=$DIR/askpass-slow SSH_ASKPASS_REQUIRE=force ssh "${SSH_OPTS[@]}" "${SSH_PW_OPTS[@]}" \
    -p "$GW_PORT" -l alice "$GW_HOST" whoami </dev/null >/dev/null 2>&1 &
slow=$!
for _ in $(seq 1 100); do [ -s "$DIR/askpass-slow.pid" ] && break; sleep 0.1; done
[ -s "$DIR/askpass-slow.pid" ] || fail "ssh never asked for the password"
start=$(now_ms)
child=$(pgrep -n -P "$GW_PID") || fail "no gateway child for the connection at the password prompt"
while kill -0 "$child" 2>/dev/null && [ $(($(now_ms) - start)) -lt 20000 ]; do
    sleep 0.1
done
ms=$(($(now_ms) - start))
kill "$(cat "$DIR/askpass-slow.pid")" 2>/dev/null
wait "$slow" 2>/dev/null
expect_lt "a connection stuck at the password prompt ends within login_grace + 4 s (ms)" 10000 "$ms"

# ---- max_auth_tries ----
cat >"$DIR/askpass-count" <<S
#!/bin/sh
echo try >>"$DIR/askpass.count"
echo wrong-password
S
chmod +x "$DIR/askpass-count"
: >"$DIR/askpass.count"
binds0=$(ldap_bind_count "uid=alice,ou=people,$LDAP_BASE") || fail "cannot count LDAP binds"
rc=0
SSH_ASKPASS=$DIR/askpass-count SSH_ASKPASS_REQUIRE=force timeout 60 ssh "${SSH_OPTS[@]}" \
    -o BatchMode=no -o PubkeyAuthentication=no -o IdentityAgent=none \
    -o PreferredAuthentications=password -o NumberOfPasswordPrompts=10 \
    -p "$GW_PORT" -l alice "$GW_HOST" whoami </dev/null >"$DIR/tries.out" 2>&1 || rc=$?
tries=$(wc -l <"$DIR/askpass.count")
binds=$(ldap_bind_count "uid=alice,ou=people,$LDAP_BASE") || fail "cannot count LDAP binds"
binds=$((binds - binds0))
expect_ne "wrong passwords never log in" 0 "$rc"
# The gateway checks each password with a BIND as alice: at most 3 reached
# the directory.  ssh may ask once more before it reads the disconnect.
expect_lt "at most max_auth_tries (3) passwords were checked against LDAP" 4 "$binds"
expect_ne "the passwords were checked at all" 0 "$binds"
expect_lt "the client was cut off (not asked for all 10 passwords)" 5 "$tries"

gw_still_serves
finish
