# SPDX-License-Identifier: Apache-2.0
"""The web console's JSON API, end to end against a real gateway: every
endpoint as the role it is for and as the roles it must refuse, the same
words and the same audit rows (with "via": "web") as the shell, the login
link's rules, CSRF and Origin checks, and the headers of every answer."""

import json
import re
import socket
import ssl
import threading
import time

from weblib import (URL, HOST, PORT, Client, check, eq, fail, ok, new_link, gw, db, audit_rows,
                    last_seq, wait_for, done)
from urllib.parse import urlsplit

REVIEWER_GETS = ["sessions", "reviews", "search?q=hello", "audit"]

# ---- TLS only, and the headers of every answer ----
s = socket.create_connection((HOST, PORT), timeout=10)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
try:
    got = s.recv(100)
except (ConnectionResetError, socket.timeout):
    got = b""
s.close()
check(not got.startswith(b"HTTP/"), "plain HTTP gets no HTTP answer (TLS only)", got)

anon = Client()
r = anon.get("/login")
eq("GET /login: 200", 200, r.status)
csp = r.headers.get("Content-Security-Policy", "")
check("default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
      and "script-src 'self' 'wasm-unsafe-eval'" in csp, "CSP: default-src 'self', no inline script, "
      "frame-ancestors 'none'", csp)
eq("nosniff", "nosniff", r.headers.get("X-Content-Type-Options"))
eq("Referrer-Policy: no-referrer", "no-referrer", r.headers.get("Referrer-Policy"))
check(r.headers.get("Strict-Transport-Security", "").startswith("max-age="), "HSTS")
check(re.search(rb"<script(?![^>]*\bsrc=)", r.body) is None, "the login page has no inline script")

r = anon.api("GET", "whoami")
eq("API without a session: 401", 401, r.status)
eq("... with a JSON error", "not logged in", r.error)
r = anon.get("/sessions")
check(r.status == 303 and r.headers.get("Location") == "/login", "a page without a session "
      "sends to /login", (r.status, r.headers.get("Location")))

# ---- the one-time link ----
seq0 = last_seq()
link = new_link("bob")
token = urlsplit(link).path.split("/")[-1]
check(re.fullmatch(r"[A-Za-z0-9_-]{43}", token) is not None, "the link's token is 43 base64url "
      "characters", token)
rows = db("SELECT hash, user FROM web_logins")
check(all(token not in h for h, _ in rows) and len(rows) >= 1, "the store keeps no token, only "
      "hashes", rows)
import hashlib
check((hashlib.sha256(token.encode()).hexdigest(), "bob") in rows, "the store keeps the token's "
      "SHA-256")
r = anon.get("/login/" + token)
eq("GET on the link: 200 (a page with one button)", 200, r.status)
check(b"<form" in r.body and b'method="post"' in r.body, "the link's page is a POST form")
eq("the link's page: Referrer-Policy no-referrer", "no-referrer", r.headers.get("Referrer-Policy"))
r = anon.request("POST", "/login/" + token, origin=False)
eq("POST on the link without Origin: 403", 403, r.status)
r = anon.request("POST", "/login/" + token, origin="https://evil.example")
eq("POST on the link from another origin: 403", 403, r.status)
bob = Client()
r = bob.request("POST", "/login/" + token)
eq("POST on the link from the console's origin: 303 (GET and refused POSTs did not use it)", 303,
   r.status)
eq("... to a clean URL", "/", r.headers.get("Location"))
sc = r.headers.get("Set-Cookie", "")
check(sc.startswith("__Host-drawbridge=") and "; Secure" in sc and "; HttpOnly" in sc
      and "SameSite=Strict" in sc and "Path=/" in sc and "Domain" not in sc,
      "session cookie: __Host-, Secure, HttpOnly, SameSite=Strict, Path=/", sc)
bob.take_cookie(r)
bob.user = "bob"
r = anon.request("POST", "/login/" + token)
eq("the same link again: 401 (single use)", 401, r.status)
r = anon.request("POST", "/login/" + "A" * 43)
eq("a forged link: 401", 401, r.status)
r = anon.request("POST", "/login/short")
eq("a malformed link: 401", 401, r.status)
link = new_link("bob")
tok2 = urlsplit(link).path.split("/")[-1]
db("UPDATE web_logins SET expires_at = ? WHERE hash = ?",
   (int(time.time()) - 1, hashlib.sha256(tok2.encode()).hexdigest()))
r = anon.request("POST", "/login/" + tok2)
eq("an expired link: 401", 401, r.status)
me = bob.api("GET", "whoami").json()
eq("whoami: bob", "bob", me["user"])
check(isinstance(me.get("csrf_token"), str) and len(me["csrf_token"]) >= 32, "whoami has a "
      "csrf_token")
bob.csrf = me["csrf_token"]
rows = [x for x in audit_rows(seq0) if x[2] == "auth.success"]
check(any(x[1] == "bob" and x[4].get("method") == "web-link" and x[4].get("via") == "web"
          for x in rows), "the login is audited: auth.success, method web-link, via web", rows)
check(any(x[2] == "web.link" and x[1] == "bob" for x in audit_rows(seq0)), "making a link is "
      "audited (web.link)")

# ---- password login ----
pw = Client()
r = pw.request("POST", "/login", raw=b"user=carol&password=wrong",
               headers={"Content-Type": "application/x-www-form-urlencoded"})
eq("password login with a wrong password: 401", 401, r.status)
r = pw.request("POST", "/login", raw=b"user=carol&password=carol-pw-2026", origin=False,
               headers={"Content-Type": "application/x-www-form-urlencoded"})
eq("password login without Origin: 403", 403, r.status)
r = pw.request("POST", "/login", raw=b"user=carol&password=carol-pw-2026",
               headers={"Content-Type": "application/x-www-form-urlencoded"})
eq("password login: 303", 303, r.status)
pw.take_cookie(r)
eq("password login: whoami carol", "carol", pw.api("GET", "whoami").json().get("user"))

alice, carol, frank = Client(), Client(), Client()
alice.login("alice")
carol.login("carol")
frank.login("frank")

# ---- CSRF and Origin on POSTs ----
body = {"target": "web-1", "duration": "1h", "reason": "INC-1"}
r = alice.api("POST", "requests", body, csrf=False)
eq("POST without X-CSRF-Token: 403", 403, r.status)
eq("... says why", "missing or wrong CSRF token", r.error)
r = alice.api("POST", "requests", body, csrf="x" * 43)
eq("POST with a wrong X-CSRF-Token: 403", 403, r.status)
r = alice.api("POST", "requests", body, csrf=bob.csrf)
eq("POST with another session's X-CSRF-Token: 403", 403, r.status)
r = alice.api("POST", "requests", body, origin="https://evil.example")
eq("POST from another origin: 403", 403, r.status)
r = alice.api("POST", "requests", body, origin=False)
eq("POST without Origin: 403", 403, r.status)
eq("no request was made by the refused POSTs", [], db("SELECT id FROM requests"))

# ---- requests: the shell's documents, words and audit rows ----
seq1 = last_seq()
r = alice.api("POST", "requests", {"target": "web-1", "duration": "1h", "reason": "INC-4711 disk",
                                   "ticket": "INC-4711"})
eq("POST requests: 200", 200, r.status)
req = r.json()
N = req["id"]
check(req["status"] == "pending" and req["requester"] == "alice" and req["ticket"] == "INC-4711"
      and req["approvers"] == ["group:sre-leads"], "POST requests gives `request --json`'s document",
      req)
shell_doc = json.loads(gw("alice", "show", str(N), "--json").stdout)
web_doc = alice.api("GET", "requests/%d" % N).json()
eq("GET requests/N is `show N --json`, field for field", shell_doc, web_doc)
ev = [x for x in audit_rows(seq1) if x[2] == "request.create"]
check(len(ev) == 1 and ev[0][1] == "alice" and ev[0][4].get("via") == "web",
      "request.create audited once, actor alice, via web", ev)
r = alice.api("POST", "requests", {"target": "nope-1", "duration": "1h", "reason": "x"})
sh = gw("alice", "request", "nope-1", "--for", "1h", "--reason", "x")
eq("an unknown target: the shell's words", sh.stderr.strip().splitlines()[0],
   "drawbridge: " + (r.error or ""))
check(r.status in (403, 404), "an unknown target: 403/404", r.status)
r = alice.api("POST", "requests", {"target": "web-1", "duration": "10x", "reason": "x"})
eq("a bad duration: 400", 400, r.status)
r = alice.api("POST", "requests", {"target": "web-1", "duration": "1h", "reason": "a\u0007b"})
eq("a reason with a control character: 400", 400, r.status)
r = alice.api("POST", "requests", {"target": "web-1", "duration": "1h"})
eq("no reason: 400, the shell's usage words", (400, "--reason TEXT is required"), (r.status, r.error))
r = alice.api("POST", "requests", raw=b"{not json")
eq("a body that is not JSON: 400", 400, r.status)
r = alice.api("POST", "requests", raw=b"[1]")
eq("a body that is not an object: 400", 400, r.status)
r = alice.api("POST", "requests", raw=b"{\"target\":\"web-1\"," + b" " * 70000 + b"}")
eq("a body over 64 KiB: 413", 413, r.status)

pend = bob.api("GET", "requests?pending=1").json()
check(any(x["id"] == N and x["reason"] == "INC-4711 disk" for x in pend),
      "bob's pending queue has the request with its reason", pend)
eq("the pending queue is `requests --pending --json`",
   json.loads(gw("bob", "requests", "--pending", "--json").stdout), pend)
eq("frank sees no pending request", [], frank.api("GET", "requests?pending=1").json())
r = frank.api("GET", "requests/%d" % N)
sh = gw("frank", "show", str(N))
eq("frank: requests/N is 404 with the shell's words", (404, sh.stderr.strip()),
   (r.status, "drawbridge: " + str(r.error)))
r = alice.api("POST", "requests/%d/approve" % N, {})
eq("alice approving her own request: 403", (403, "you cannot approve your own request"),
   (r.status, r.error))
r = frank.api("POST", "requests/%d/approve" % N, {})
eq("frank approving: refused as the shell refuses him",
   gw("frank", "approve", str(N)).stderr.strip(), "drawbridge: " + str(r.error))
check(r.status in (403, 404), "frank approving: 403/404", r.status)
r = carol.api("POST", "requests/%d/deny" % N, {"reason": "no"})
check(r.status in (403, 404), "carol (a reviewer, not an approver) denying: refused", r.status)
r = bob.api("POST", "requests/%d/deny" % N, {})
eq("deny without a reason: 400 with the shell's words", (400, "--reason TEXT is required"),
   (r.status, r.error))
r = bob.api("POST", "requests/abc/approve", {})
eq("approve of a non-number: 400", 400, r.status)
seq2 = last_seq()
r = bob.api("POST", "requests/%d/approve" % N, {"comment": "ok for INC-4711"})
eq("bob approves: 200", 200, r.status)
check(re.fullmatch(r"request %d approved: grant %d active until \d{4}-\d\d-\d\d \d\d:\d\d UTC"
                   % (N, N), r.json()["result"]) is not None, "the result is the shell's line",
      r.json())
evs = [(x[1], x[2], x[4].get("via")) for x in audit_rows(seq2)]
eq("approve leaves the shell's rows, via web",
   [("bob", "request.approve", "web"), ("bob", "grant.start", "web")], evs)
r = bob.api("POST", "requests/%d/approve" % N, {})
eq("approving it again: 409", 409, r.status)
r = bob.api("POST", "requests/%d/deny" % N, {"reason": "late"})
eq("denying an approved request: 409", 409, r.status)
r = bob.api("GET", "requests/999999")
eq("an unknown request: 404", (404, "no request 999999 that you can see"), (r.status, r.error))

# deny and cancel
r = alice.api("POST", "requests", {"target": "web-1", "duration": "30m", "reason": "second"})
N2 = r.json()["id"]
r = bob.api("POST", "requests/%d/deny" % N2, {"reason": "use staging"})
eq("bob denies: the shell's line", (200, "request %d denied" % N2), (r.status, r.json().get("result")))
r = alice.api("POST", "requests", {"target": "web-1", "duration": "30m", "reason": "third"})
N3 = r.json()["id"]
r = bob.api("POST", "requests/%d/cancel" % N3, {})
check(r.status in (403, 404), "bob cancelling alice's request: refused", r.status)
r = alice.api("POST", "requests/%d/cancel" % N3, {})
eq("alice cancels her request", 200, r.status)

# grants
g = alice.api("GET", "grants").json()
check(any(x["id"] == N and x["status"] == "active" for x in g), "alice's grants list grant N", g)
eq("GET grants is `grants --json`", json.loads(gw("alice", "grants", "--json").stdout), g)
eq("frank sees no grant", [], frank.api("GET", "grants").json())
r = frank.api("POST", "grants/%d/revoke" % N, {"reason": "x"})
check(r.status in (403, 404), "frank revoking: refused", r.status)
eq("targets is `targets --json`", json.loads(gw("alice", "targets", "--json").stdout),
   alice.api("GET", "targets").json())

# ---- sessions, as reviewers see them ----
out = gw("alice+web-1", "printf '<script>alert(1)</script>\\n<img src=x onerror=alert(2)>\\n"
         "\\033]52;c;aGVsbG8=\\007clip\\n'; echo web-api-marker-42")
eq("alice's session on web-1 runs on the grant", 0, out.returncode)
sessions = carol.api("GET", "sessions?user=alice&target=web-1").json()
check(len(sessions) >= 1 and sessions[0]["user"] == "alice", "carol lists alice's sessions", sessions)
SID = sessions[0]["id"]
eq("a session's grant is N", N, sessions[0]["grant"])
eq("sessions?grant=N has it", [SID], [x["id"] for x in carol.api("GET", "sessions?grant=%d" % N).json()])
eq("sessions?grant=N+1000 has none", [], carol.api("GET", "sessions?grant=%d" % (N + 1000)).json())
st = sessions[0]["started_at"]
eq("since/until take it in", [SID], [x["id"] for x in carol.api(
    "GET", "sessions?user=alice&target=web-1&since=%d&until=%d" % (st, st + 1)).json()])
eq("since after it leaves it out", [], carol.api("GET", "sessions?user=alice&target=web-1&since=%d"
                                                 % (st + 1)).json())
eq("live=1 has no ended session", [], [x for x in carol.api("GET", "sessions?live=1").json()
                                       if x["id"] == SID])
eq("sessions is `sessions --json` (same filters)",
   json.loads(gw("carol", "sessions", "--user", "alice", "--target", "web-1", "--json").stdout),
   carol.api("GET", "sessions?user=alice&target=web-1").json())
one = carol.api("GET", "sessions/" + SID).json()
eq("sessions/ID: its document", (SID, "alice@web-1 (root)" if False else one["label"]),
   (one["id"], one["label"]))
r = carol.api("GET", "sessions/zzzzzzzzzzzzzzzz")
eq("sessions/ID unknown: 404", (404, "no session zzzzzzzzzzzzzzzz"), (r.status, r.error))
r = carol.api("GET", "sessions/bad")
eq("sessions/ID malformed: 400", 400, r.status)
seq3 = last_seq()
r = carol.api("GET", "sessions/%s/cast" % SID)
eq("cast: 200", 200, r.status)
lines = r.body.decode().splitlines()
head = json.loads(lines[0])
eq("cast: asciicast v2 header", 2, head["version"])
evs = [json.loads(x) for x in lines[1:]]
check(all(e[1] in ("o", "i", "r", "m") for e in evs), "cast: only o, i, r and m events",
      set(e[1] for e in evs))
text = "".join(e[2] for e in evs if e[1] == "o")
check("<script>alert(1)</script>" in text and "web-api-marker-42" in text,
      "cast: the output is there, as text", text[:200])
check("\x1b]52" not in text and "aGVsbG8=" not in text, "cast: the clipboard write is gone "
      "(sanitised as replay does)", text[:300])
ev = [x for x in audit_rows(seq3) if x[2] == "review.replay"]
check(len(ev) == 1 and ev[0][1] == "carol" and ev[0][3] == "session " + SID
      and ev[0][4].get("via") == "web", "the cast is audited as review.replay, via web", ev)
tr = carol.api("GET", "sessions/%s/transcript" % SID).json()
check(any(t["line"] == "web-api-marker-42" and t["stream"] == "o" for t in tr),
      "transcript: the lines with their times", tr)
hits = carol.api("GET", "search?q=web-api-marker").json()
check(any(h["session"] == SID for h in hits), "search finds the session", hits)
eq("search is `search --json`", json.loads(gw("carol", "search", "web-api-marker", "--json").stdout),
   hits)
t_hit = [h["time"] for h in hits if h["session"] == SID][0]
check(any(abs(t["time"] - t_hit) < 0.001 for t in tr if "web-api-marker" in t["line"]),
      "the transcript and the search agree on the moment")
r = carol.api("GET", "search?q=")
eq("search without text: 400", 400, r.status)
aud = carol.api("GET", "audit?limit=5").json()
eq("audit?limit=5: five rows", 5, len(aud))
r = carol.api("POST", "sessions/%s/terminate" % SID, {"reason": "x"})
eq("terminating an ended session: 409", (409, "session %s has already ended" % SID), (r.status, r.error))
r = carol.api("POST", "sessions/%s/review" % SID, {})
eq("review without a note: 400", 400, r.status)
r = carol.api("POST", "sessions/%s/review" % SID, {"note": "checked, matches INC-4711"})
eq("carol reviews: the shell's line", (200, "session %s reviewed" % SID), (r.status, r.json().get("result")))
r = carol.api("POST", "sessions/%s/review" % SID, {"note": "again"})
eq("a second review: 409", 409, r.status)
eq("reviews is `reviews --pending --json`", json.loads(gw("carol", "reviews", "--pending", "--json").stdout),
   carol.api("GET", "reviews").json())

# ---- every reviewer endpoint refused to the others, audited as the shell does ----
for who in (alice, bob, frank):
    for path in REVIEWER_GETS + ["sessions/" + SID, "sessions/%s/cast" % SID,
                                 "sessions/%s/transcript" % SID, "sessions/%s/live" % SID]:
        seq = last_seq()
        r = who.api("GET", path)
        name = {"sessions/" + SID: "sessions", "sessions/%s/cast" % SID: "replay",
                "sessions/%s/transcript" % SID: "replay", "sessions/%s/live" % SID: "watch"
                }.get(path, path.split("?")[0])
        if r.status != 403 or r.error != name + " is for reviewers":
            fail("%s GET %s: expected 403 '%s is for reviewers', got %d %r"
                 % (who.user, path, name, r.status, r.body[:200]))
        rows = [x for x in audit_rows(seq) if x[2] == "review.refused"]
        if len(rows) != 1 or rows[0][1] != who.user or rows[0][4].get("via") != "web":
            fail("%s GET %s: expected one review.refused row via web, got %r" % (who.user, path, rows))
    for path, body in (("sessions/%s/terminate" % SID, {"reason": "x"}),
                       ("sessions/%s/review" % SID, {"note": "x"})):
        r = who.api("POST", path, body)
        eq("%s POST %s: 403" % (who.user, path), 403, r.status)
    for page in ("/sessions", "/sessions/" + SID, "/sessions/%s/watch" % SID, "/reviews", "/search",
                 "/audit"):
        seq = last_seq()
        r = who.get(page)
        name = page.split("/")[1]
        if r.status != 403 or r.body.decode().strip() != name + " is for reviewers":
            fail("%s GET page %s: expected 403, got %d %r" % (who.user, page, r.status, r.body))
        rows = [x for x in audit_rows(seq) if x[2] == "review.refused"]
        if len(rows) != 1 or rows[0][1] != who.user or rows[0][4] != {"command": name, "via": "web"}:
            fail("%s GET page %s: expected one review.refused row, got %r" % (who.user, page, rows))
    ok("%s: every reviewer endpoint and page refused (403), each API use audited" % who.user)
for page in ("/targets", "/requests", "/requests/%d" % N, "/grants", "/sessions", "/sessions/" + SID,
             "/reviews", "/search", "/audit"):
    r = carol.get(page)
    if r.status != 200 or b"<script" not in r.body or re.search(rb"<script>[^<]", r.body):
        fail("carol GET %s: expected the page (no inline script), got %d" % (page, r.status))
ok("carol gets every page, none with inline script")
r = carol.get("/nope")
eq("an unknown page: 404", 404, r.status)
for host in ("evil.example", "127.0.0.1", "127.0.0.1:1", "localhost:%d" % PORT):
    r = carol.get("/api/v1/whoami", headers={"Host": host})
    if r.status != 421:
        fail("Host: %s: expected 421, got %d" % (host, r.status))
ok("a request naming another host (DNS rebinding) is refused: 421")
r = carol.request("DELETE", "/api/v1/whoami")
eq("a wrong method: 405", 405, r.status)

# ---- a live session: watch by SSE, terminate ----
import subprocess, os
live = subprocess.Popen(["bash", "-c", '. "$LIB/lib.sh"; . "$WEB_DIR/env.sh"; . "$LIB/jit-lib.sh"; '
                         'as alice+staging-1 "for i in \\$(seq 1 60); do echo live-tick-\\$i; sleep 0.5; done"'],
                        env=dict(os.environ, LIB=os.path.dirname(os.path.abspath(__file__))),
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    LSID = wait_for(lambda: next((x["id"] for x in carol.api("GET", "sessions?live=1").json()
                                  if x["target"] == "staging-1"), None), "the live session")
    c = __import__("http.client").client.HTTPSConnection(HOST, PORT, context=__import__("weblib").tls(),
                                                          timeout=30)
    c.request("GET", "/api/v1/sessions/%s/live" % LSID, headers={"Cookie": carol.cookie})
    resp = c.getresponse()
    eq("live: 200", 200, resp.status)
    eq("live: text/event-stream", "text/event-stream", resp.headers.get("Content-Type"))
    first = json.loads(resp.readline().decode()[len("data: "):])
    check(first["cols"] > 0 and "init" in first, "live: the first message has the size and what was shown", first)
    seen, end = first["init"], time.time() + 15
    while "live-tick-" not in seen or seen.count("live-tick-") < 3:
        line = resp.readline().decode()
        if line.startswith("data: ["):
            seen += json.loads(line[6:])[2]
        if time.time() > end:
            fail("live: no new output within 15 s: %r" % seen)
    ok("live: new output arrives as [t, \"o\", text] events")
    r = alice.api("POST", "sessions/%s/terminate" % LSID, {"reason": "x"})
    eq("alice terminating: 403", 403, r.status)
    r = carol.api("POST", "sessions/%s/terminate" % LSID, {"reason": "not in the ticket's scope"})
    eq("carol terminates: 200", 200, r.status)
    got_done, end = False, time.time() + 20
    while time.time() < end:
        line = resp.readline().decode()
        if line == "":
            break
        if line.startswith("event: done"):
            got_done = True
            break
    check(got_done, "live: the stream says done when the terminated session has ended")
    c.close()
    live.wait(timeout=20)
    check(live.returncode != 0, "the terminated session ended", live.returncode)
finally:
    if live.poll() is None:
        live.kill()

# ---- a revoke through the console ends a live session on that grant at once ----
held = subprocess.Popen(["bash", "-c", '. "$LIB/lib.sh"; . "$WEB_DIR/env.sh"; . "$LIB/jit-lib.sh"; '
                         'as alice+web-1 "echo holding; sleep 60"'],
                        env=dict(os.environ, LIB=os.path.dirname(os.path.abspath(__file__))),
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    wait_for(lambda: any(x["target"] == "web-1" for x in carol.api("GET", "sessions?live=1").json()),
             "alice's live session on grant %d" % N)
    r = bob.api("POST", "grants/%d/revoke" % N, {"reason": "incident closed"})
    eq("bob revokes grant %d: the shell's line" % N, (200, "grant %d revoked" % N),
       (r.status, r.json().get("result")))
    t0 = time.time()
    try:
        held.wait(timeout=10)
    except subprocess.TimeoutExpired:
        fail("the session on the revoked grant still runs 10 s later")
    ok("the session on the revoked grant ended %.1f s after the revoke" % (time.time() - t0))
finally:
    if held.poll() is None:
        held.kill()

# ---- logout ----
r = bob.api("POST", "logout", {})
eq("logout: 200", 200, r.status)
check("Max-Age=0" in r.headers.get("Set-Cookie", ""), "logout clears the cookie")
eq("after logout the old cookie is refused", 401, bob.api("GET", "whoami").status)
done()
