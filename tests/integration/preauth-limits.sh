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
export GW_LIMITS="{max_startups: 4, max_startups_per_source: 2, login_grace: 6s, max_auth_tries: 3}"
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
rc=0
out=$(gw_ssh alice -b 127.0.0.3 whoami 2>&1) || rc=$?
expect_ne "with max_startups (4) reached, a fifth source is not served" 0 "$rc"
wait "$h1" "$h2"
sleep 0.5
out=$(gw_ssh alice -b 127.0.0.1 whoami 2>&1) || fail "login refused after the held connections closed: $out"
expect_match "logins work again once the held connections are gone" '^user:[[:space:]]+alice' "$out"

# ---- login_grace ----
secs=$(probe idle 127.0.0.1 "$GW_PORT" --timeout 20)
[ "$secs" != open ] || fail "an idle connection was still open after 20 s (login_grace 6s)"
expect_lt "an idle connection is closed within login_grace + 4 s" 10 "${secs%.*}"
expect_ne "an idle connection is not closed at once" 0 "${secs%.*}"

# During authentication: the password prompt is never answered.
cat >"$DIR/askpass-slow" <<S
#!/bin/sh
echo \$\$ >"$DIR/askpass-slow.pid"
exec sleep 20
S
chmod +x "$DIR/askpass-slow"
start=$(now_ms)
_ssh_opts
rc=0
SSH_ASKPASS=$DIR/askpass-slow SSH_ASKPASS_REQUIRE=force timeout 30 ssh "${SSH_OPTS[@]}" "${SSH_PW_OPTS[@]}" \
    -p "$GW_PORT" -l alice "$GW_HOST" whoami </dev/null >/dev/null 2>&1 || rc=$?
ms=$(($(now_ms) - start))
expect_ne "a login stuck at the password prompt fails" 0 "$rc"
expect_lt "it is cut off within login_grace + 4 s (ms)" 10000 "$ms"
[ -s "$DIR/askpass-slow.pid" ] && kill "$(cat "$DIR/askpass-slow.pid")" 2>/dev/null

# ---- max_auth_tries ----
cat >"$DIR/askpass-count" <<S
#!/bin/sh
echo try >>"$DIR/askpass.count"
echo wrong-password
S
chmod +x "$DIR/askpass-count"
: >"$DIR/askpass.count"
rc=0
SSH_ASKPASS=$DIR/askpass-count SSH_ASKPASS_REQUIRE=force timeout 60 ssh "${SSH_OPTS[@]}" \
    -o BatchMode=no -o PubkeyAuthentication=no -o IdentityAgent=none \
    -o PreferredAuthentications=password -o NumberOfPasswordPrompts=10 \
    -p "$GW_PORT" -l alice "$GW_HOST" whoami </dev/null >"$DIR/tries.out" 2>&1 || rc=$?
tries=$(wc -l <"$DIR/askpass.count")
expect_ne "wrong passwords never log in" 0 "$rc"
expect_lt "the client was cut off after max_auth_tries (3) passwords" 4 "$tries"
expect_ne "at least one password was asked for" 0 "$tries"

gw_still_serves
finish
