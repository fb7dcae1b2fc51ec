# SPDX-License-Identifier: Apache-2.0
"""The web console under attack: login links expired, reused and forged;
POSTs without the CSRF token or from another origin (nothing changes);
reviewer pages and API asked for by an engineer; a recording whose output
is HTML and script, which is only ever served as data; 500 concurrent
requests and a slowloris attack on the web port, from other loopback
addresses, while SSH logins and the console's own users go on."""

import hashlib
import os
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

from weblib import (URL, HOST, PORT, Client, check, eq, fail, ok, new_link, gw, db, tls, done)

SID = os.environ["HOSTILE_SID"]
N = int(os.environ["REQ_ID"])

# ---- login links ----
anon = Client()
link = new_link("bob")
tok = urlsplit(link).path.split("/")[-1]
db("UPDATE web_logins SET expires_at = ? WHERE hash = ?",
   (int(time.time()) - 1, hashlib.sha256(tok.encode()).hexdigest()))
r = anon.request("POST", "/login/" + tok)
eq("an expired link is refused (401)", 401, r.status)
check("Set-Cookie" not in r.headers, "... and sets no cookie")
link = new_link("bob")
tok = urlsplit(link).path.split("/")[-1]
eq("a fresh link works once", 303, anon.request("POST", "/login/" + tok).status)
r = anon.request("POST", "/login/" + tok)
eq("the same link a second time: 401", 401, r.status)
for forged in ("A" * 43, tok[:-1] + ("B" if tok[-1] != "B" else "C"), tok + "A", "../../etc/passwd",
               "%00" * 10, tok.upper() if tok.upper() != tok else tok.lower()):
    r = anon.request("POST", "/login/" + forged)
    if r.status not in (401, 404):
        fail("forged link %r: %d" % (forged, r.status))
ok("forged, truncated, extended and traversal links are refused")
r = anon.request("POST", "/login/" + ("x" * 5000))
check(r.status in (401, 404, 414, 431), "a 5000-byte link is refused", r.status)

bob, alice = Client(), Client()
bob.login("bob")
alice.login("alice")

# ---- CSRF and Origin: nothing changes ----
for what, kw in (("without X-CSRF-Token", {"csrf": False}),
                 ("with a forged X-CSRF-Token", {"csrf": "A" * 43}),
                 ("with alice's X-CSRF-Token", {"csrf": alice.csrf}),
                 ("from another origin", {"origin": "https://evil.example"}),
                 ("from the same host over http", {"origin": "http://%s:%d" % (HOST, PORT)}),
                 ("with Origin: null", {"origin": "null"}),
                 ("without Origin", {"origin": False})):
    r = bob.api("POST", "requests/%d/approve" % N, {}, **kw)
    if r.status != 403:
        fail("approve %s: %d %r" % (what, r.status, r.body))
ok("approve without the token, with a wrong token, from other origins: 403 each")
r = bob.api("POST", "requests/%d/approve" % N, {}, csrf=False,
            headers={"Content-Type": "application/x-www-form-urlencoded"})
eq("a form-encoded cross-site style POST: 403", 403, r.status)
eq("the request is still pending", [("pending",)], db("SELECT status FROM requests WHERE id = ?", (N,)))
eq("no decision was recorded", [], db("SELECT approver FROM decisions WHERE request_id = ?", (N,)))

# ---- an engineer asks for reviewer pages and data ----
for page in ("/sessions", "/sessions/" + SID, "/sessions/%s/watch" % SID, "/audit", "/search?q=x",
             "/reviews"):
    r = alice.get(page)
    if r.status != 403 or b"is for reviewers" not in r.body:
        fail("alice GET %s: %d %r" % (page, r.status, r.body[:100]))
for api in ("sessions", "sessions/" + SID, "sessions/%s/cast" % SID, "sessions/%s/transcript" % SID,
            "sessions/%s/live" % SID, "audit", "search?q=script", "reviews"):
    r = alice.api("GET", api)
    if r.status != 403:
        fail("alice GET /api/v1/%s: %d %r" % (api, r.status, r.body[:100]))
ok("alice (an engineer) is refused every reviewer page and API call")

# ---- HTML and script in a recording are data, never markup ----
carol = Client()
carol.login("carol")
r = carol.api("GET", "sessions/%s/cast" % SID)
eq("the cast of the hostile recording: 200", 200, r.status)
eq("the cast is not HTML", "application/x-asciicast", r.headers.get("Content-Type"))
eq("nosniff on the cast", "nosniff", r.headers.get("X-Content-Type-Options"))
check(b"<script>alert(1)</script>" in r.body, "the cast carries the text as text")
r = carol.api("GET", "sessions/%s/transcript" % SID)
eq("the transcript is JSON", "application/json", r.headers.get("Content-Type"))
r = carol.get("/<script>alert(1)</script>")
check(r.headers.get("Content-Type", "").startswith("text/plain") and b"<script>" not in r.body,
      "an unknown path with markup is not echoed as HTML", r.body[:100])
r = carol.api("GET", "sessions/%3Cscript%3E/cast")
check(r.headers.get("Content-Type") == "application/json" and r.status == 400,
      "a session id with markup: a JSON 400", (r.status, r.body[:100]))
for page in ("/sessions/" + SID, "/search?q=%3Cscript%3E"):
    r = carol.get(page)
    check(b"alert(" not in r.body, "page %s is the same static file for everyone" % page)


# ---- a flood and slow clients, from other loopback addresses ----
def ssh_login_ok():
    out = gw("alice", "whoami")
    return out.returncode == 0 and "alice" in out.stdout


def web_ok():
    try:
        return carol.api("GET", "whoami").status == 200
    except OSError:
        return False


def flood_one(i, results):
    try:
        s = socket.create_connection((HOST, PORT), timeout=20, source_address=("127.0.0.3", 0))
        t = tls().wrap_socket(s, server_hostname=HOST)
        t.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = t.recv(64)
        results[i] = "ok" if data.startswith(b"HTTP/1.1 200") else "other"
        t.close()
    except (OSError, ssl.SSLError):
        results[i] = "refused"


results = [None] * 500
threads = [threading.Thread(target=flood_one, args=(i, results)) for i in range(500)]
t0 = time.time()
for th in threads:
    th.start()
ssh_during = [ssh_login_ok() for _ in range(3)]
web_during = web_ok()
for th in threads:
    th.join(60)
counts = {k: results.count(k) for k in ("ok", "refused", "other", None)}
ok("500 concurrent requests from 127.0.0.3 in %.1f s: %r" % (time.time() - t0, counts))
check(counts[None] == 0, "every flood connection finished")
check(all(ssh_during), "SSH logins succeed during the flood", ssh_during)
check(web_during, "the console still answers its users (127.0.0.1) during the flood")

slow = []
for i in range(150):
    try:
        s = socket.create_connection((HOST, PORT), timeout=5, source_address=("127.0.0.2", 0))
        s.settimeout(1)
        slow.append(s)
    except OSError:
        pass
# (the checks below about them must not hold for want of connections)
check(len(slow) >= 100, "slowloris: %d of 150 connections opened from 127.0.0.2" % len(slow), len(slow))
# a TLS ClientHello that never ends: one byte every second
hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 300
closed_at = {}
start = time.time()
ssh_during = []
for k in range(16):
    for idx, s in enumerate(slow):
        if idx in closed_at:
            continue
        try:
            s.sendall(hello[k:k + 1])
            try:
                if s.recv(1) == b"":
                    closed_at[idx] = time.time() - start
            except socket.timeout:
                pass
        except OSError:
            closed_at[idx] = time.time() - start
    if k in (3, 9):
        ssh_during.append(ssh_login_ok())
        ssh_during.append(web_ok())
    time.sleep(max(0, start + k + 1 - time.time()))
for s in slow:
    s.close()
check(all(ssh_during), "SSH logins and the console's users go on during the slowloris", ssh_during)
cut = len(closed_at)
check(cut == len(slow), "every slow connection was closed by the console within 16 s (%d of %d; "
      "the last after %.1f s)" % (cut, len(slow), max(closed_at.values() or [0])), cut)
deadline = time.time() + 10
while not web_ok() and time.time() < deadline:
    time.sleep(0.5)
check(web_ok(), "the console answers after the attacks")
done()
