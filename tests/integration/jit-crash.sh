#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kill -9 during approvals loses nothing.  Four clients request, approve,
# deny and cancel in loops (web-1 needs one approval, db-1 two) while the
# gateway -- the listener and every session process -- is killed with
# SIGKILL at random moments and started again.  Afterwards every request,
# decision and grant is either fully there or absent:
#   - an approved request has its grant, starting at the final approval
#     (starts_at = decided_at) for the duration asked, for the same user,
#     target and login; every grant has its approved request;
#   - decisions belong to known requests, and their counts agree with each
#     request's status; no grant without enough approvals;
#   - every request, decision and grant has its audit row, and every such
#     audit row its request, decision or grant;
#   - what a client was told was approved is approved;
#   - `drawbridge verify` finds the chain intact, and the gateway serves.
# Runs in an environment of its own (it kills the gateway).
# Depends on: store/*.c (one transaction per state change, the head anchor),
# access.c, audit.c, server.c (start on an existing state_dir).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=jit-lib.sh
. "$(dirname "$0")/jit-lib.sh"

export GW_POLICY_RULES='  - name: db-two
    requesters: ["group:sre"]
    targets: {names: [db-1]}
    logins: [@LOGIN@]
    max_duration: 1h
    approvers: ["group:sre-leads"]
    approvals: 2'
private_env
T=$DIR/scratch
mkdir -p "$T"
trap 'rc=$?; touch "$T/stop"; bg_cleanup; env_down "$rc" || rc=1; exit $rc' EXIT

# worker W: loops until T/stop exists, logging "request N", "approved N",
# "denied N", "cancelled N" for what the gateway confirmed (exit 0).
worker() {
    local w=$1 k=0 out n target
    while [ ! -e "$T/stop" ]; do
        k=$((k + 1))
        target=web-1
        [ $(((w + k) % 3)) = 0 ] && target=db-1
        out=$(as alice request "$target" --for "$((k % 50 + 10))m" --reason "'crash w$w k$k'" </dev/null 2>/dev/null) || continue
        n=$(req_id "$out")
        [ -n "$n" ] || continue
        echo "request $n" >>"$T/w$w.log"
        case $((k % 6)) in
        0)
            as erin deny "$n" --reason "'no k$k'" </dev/null >/dev/null 2>&1 && echo "denied $n" >>"$T/w$w.log"
            ;;
        1)
            as alice cancel "$n" </dev/null >/dev/null 2>&1 && echo "cancelled $n" >>"$T/w$w.log"
            ;;
        *)
            out=$(as bob approve "$n" </dev/null 2>/dev/null) || continue
            if [ "$target" = db-1 ]; then
                out=$(as erin approve "$n" </dev/null 2>/dev/null) || continue
            fi
            case $out in "request $n approved: grant $n "*) echo "approved $n" >>"$T/w$w.log" ;; esac
            ;;
        esac
    done
}

# The gateway's processes: the listener and its descendants.
gw_pids() {
    local p c
    for p in "$@"; do
        echo "$p"
        for c in $(pgrep -P "$p" 2>/dev/null); do
            gw_pids "$c"
        done
    done
}

for w in 1 2 3 4; do
    worker "$w" &
    BG_PIDS+=($!)
done

kills=0
for round in 1 2 3 4 5 6 7 8; do
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.4 + (r % 100) / 100 }')"
    pids=$(gw_pids "$GW_PID" | tr '\n' ' ')
    # shellcheck disable=SC2086 # one word per pid
    kill -KILL $pids 2>/dev/null
    wait "$GW_PID" 2>/dev/null
    kills=$((kills + $(wc -w <<<"$pids")))
    started=0
    for attempt in 1 2 3 4 5; do
        if gw_start; then
            started=1
            break
        fi
        sleep 0.5
    done
    [ "$started" = 1 ] || fail "the gateway did not start again after kill -9 (round $round)"
done
sleep 1
touch "$T/stop"
for p in "${BG_PIDS[@]}"; do
    wait "$p" 2>/dev/null
done
BG_PIDS=()
log "killed $kills gateway processes in 8 rounds"
pass "the gateway started again after each of 8 rounds of kill -9 ($kills processes)"

cat "$T"/w*.log >"$T/confirmed" 2>/dev/null
nreq=$(db_query "SELECT count(*) FROM requests")
napproved=$(db_query "SELECT count(*) FROM requests WHERE status = 'approved'")
log "$nreq requests, $napproved approved; the clients saw $(grep -c '^approved' "$T/confirmed") approvals confirmed"
[ "$napproved" -ge 5 ] || fail "only $napproved requests were approved: the test did not exercise approvals"
pass "the loops got work done around the kills ($nreq requests, $napproved approved)"

# The consistency checks, read-only on the store and on the audit chain.
"$DRAWBRIDGE_BIN" audit -c "$CFG" --json >"$T/audit.jsonl" 2>"$T/audit.err" ||
    fail "drawbridge audit failed: $(cat "$T/audit.err")"
rc=0
out=$("$PY" - "$DIR/state/drawbridge.db" "$T/audit.jsonl" "$T/confirmed" <<'EOF' 2>&1
import json, sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=10)
q = lambda sql: db.execute(sql).fetchall()
bad = []
req = {r[0]: r for r in q("SELECT id, requester, target, login, duration, status, decided_at, "
                          "decided_by, approvals_needed FROM requests")}
grants = {g[0]: g for g in q("SELECT id, user, target, login, starts_at, ends_at FROM grants")}
decs = q("SELECT request_id, approver, decision FROM decisions")
for rid, who, target, login, dur, st, dat, dby, need in req.values():
    ap = [d for d in decs if d[0] == rid and d[2] == "approve"]
    dn = [d for d in decs if d[0] == rid and d[2] == "deny"]
    g = grants.get(rid)
    if st == "approved":
        if g is None:
            bad.append("request %d approved without a grant" % rid)
        elif (g[1], g[2], g[3]) != (who, target, login):
            bad.append("grant %d is for %s but request %d for %s" % (rid, g[1:4], rid, (who, target, login)))
        elif g[4] != dat or g[5] - g[4] != dur:
            bad.append("grant %d runs %d..%d, request decided at %d for %ds" % (rid, g[4], g[5], dat, dur))
        if len(ap) < need:
            bad.append("request %d approved with %d of %d approvals" % (rid, len(ap), need))
        if dby not in [d[1] for d in ap]:
            bad.append("request %d approved by %s, who has no approval on it" % (rid, dby))
    else:
        if g is not None:
            bad.append("request %d is %s but has a grant" % (rid, st))
    if st == "denied" and not dn:
        bad.append("request %d denied without a deny decision" % rid)
    if st in ("pending", "cancelled") and (dn or len(ap) >= need):
        bad.append("request %d is %s with decisions %s" % (rid, st, [d[1:] for d in decs if d[0] == rid]))
for d in decs:
    if d[0] not in req:
        bad.append("decision %s for an unknown request" % (d,))
for gid in grants:
    if gid not in req:
        bad.append("grant %d without a request" % gid)

audit = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
def objs(event, prefix):
    return [(int(a["object"].split()[1]), a["actor"]) for a in audit
            if a["event"] == event and a["object"].startswith(prefix + " ")]
created = set(i for i, _ in objs("request.create", "request"))
started = set(i for i, _ in objs("grant.start", "grant"))
approvals = sorted(objs("request.approve", "request"))
denials = sorted(objs("request.deny", "request"))
if created != set(req):
    bad.append("request.create rows and requests differ: %s" % sorted(created ^ set(req))[:10])
if started != set(grants):
    bad.append("grant.start rows and grants differ: %s" % sorted(started ^ set(grants))[:10])
if approvals != sorted((d[0], d[1]) for d in decs if d[2] == "approve"):
    bad.append("request.approve rows and approve decisions differ")
if denials != sorted((d[0], d[1]) for d in decs if d[2] == "deny"):
    bad.append("request.deny rows and deny decisions differ")
cancelled = set(i for i, _ in objs("request.cancel", "request"))
if cancelled != set(r for r in req if req[r][5] == "cancelled"):
    bad.append("request.cancel rows and cancelled requests differ")

for line in open(sys.argv[3]):
    what, n = line.split()
    n = int(n)
    want = {"approved": "approved", "denied": "denied", "cancelled": "cancelled"}.get(what)
    if n not in req:
        bad.append("the client was told of request %d, which is not in the store" % n)
    elif want and req[n][5] != want:
        bad.append("the client was told request %d was %s; the store says %s" % (n, want, req[n][5]))
print("%d requests, %d decisions, %d grants, %d audit rows" % (len(req), len(decs), len(grants), len(audit)))
for b in bad[:20]:
    print("BAD: " + b)
sys.exit(1 if bad else 0)
EOF
) || rc=$?
log "consistency: $out"
expect_eq "every request, decision and grant is whole, with its audit row, and what clients were told holds" 0 "$rc"

rc=0
out=$("$DRAWBRIDGE_BIN" verify -c "$CFG" 2>&1) || rc=$?
expect_eq "drawbridge verify exits 0 after the kills ($out)" 0 "$rc"
expect_match "drawbridge verify: the chain holds" 'audit chain: ok' "$out"

request alice web-1 1h
approve bob "$N"
run alice+web-1 'echo after-crash-$((6*7))'
expect_eq "a new request, approval and session work after the kills" "0|after-crash-42" "$RC|$OUT"
gw_still_serves
finish
