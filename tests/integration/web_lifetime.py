#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""How long the web console lets a connection or a live view live (run by
hostile/web-lifetime.sh, with weblib.py).

  - A request whose headers arrive at once but whose body trickles in, one
    byte every two seconds of a body announced as 64 KiB, is cut like one
    whose headers trickle in: otherwise each such client holds one of the
    console's 256 connections (64 per address) for as long as it likes,
    and four addresses lock everyone out.
  - A live view (server-sent events) belongs to the browser session that
    opened it: after that session logs out, the stream ends at once and
    sends nothing more.  The same reviewer's other session, and its own
    live view, are not touched.
  - One user cannot fill the console's table of browser sessions (4096,
    the least recently used pushed out when full) with logins of their
    own and so log everyone else out: a user's 33rd session ends that
    user's own least recently used one.
  - A one-time login link lives for one use within its minute: used again
    (someone replaying it from a screen, a chat or a proxy's log) or after
    its minute, it is refused and the attempt is an auth.failure row under
    the name of the user the link was for; a token that never existed is
    refused without one (no row for anyone to flood the audit with).

Every check runs; the weaknesses found are listed at the end (exit 1)."""
import hashlib
import json
import os
import re
import socket
import ssl
import sys
import time

from weblib import (HOST, PORT, URL, Client, check, db, done, eq, fail, last_seq, new_link, ok,
                    tls)
from urllib.parse import urlsplit

SID = os.environ["LIVE_SID"]
weak = []


def weakness(ident, what):
    print("[%s] WEAKNESS %s: %s" % (os.environ.get("TEST_NAME", "web-lifetime"), ident, what),
          file=sys.stderr, flush=True)
    weak.append(ident)


# ---- a body that trickles in ----
BODY_WAIT = 30  # the deadline is 10 s after the headers; idle timeout 30 s (reset by each byte)


def slow_body(source):
    s = socket.create_connection((HOST, PORT), timeout=5, source_address=(source, 0))
    t = tls().wrap_socket(s, server_hostname=HOST)
    t.sendall(("POST /login HTTP/1.1\r\nHost: %s:%d\r\nOrigin: %s\r\n"
               "Content-Type: application/x-www-form-urlencoded\r\n"
               "Content-Length: 65536\r\n\r\nuser=" % (HOST, PORT, URL)).encode())
    t.settimeout(0.2)
    return t


conns = [slow_body("127.0.0.4") for _ in range(4)]
ok("4 connections from 127.0.0.4 sent their headers and the start of a 64 KiB body")
closed = {}
start = time.time()
while time.time() - start < BODY_WAIT and len(closed) < len(conns):
    for i, t in enumerate(conns):
        if i in closed:
            continue
        try:
            t.sendall(b"a")
            if t.recv(1) == b"":
                closed[i] = time.time() - start
        except socket.timeout:
            pass
        except (OSError, ssl.SSLError):
            closed[i] = time.time() - start
    time.sleep(2)
for t in conns:
    t.close()
if len(closed) < len(conns):
    weakness("web-slow-body", "%d of %d connections trickling a body one byte every 2 s were "
             "still open after %d s" % (len(conns) - len(closed), len(conns), BODY_WAIT))
else:
    ok("every connection trickling its body was cut (the last after %.1f s)"
       % max(closed.values()))

# a body sent at once is not hurt by the deadline: the login form still answers
c = Client()
r = c.request("POST", "/login", raw=b"user=carol&password=wrong",
              headers={"Content-Type": "application/x-www-form-urlencoded"})
eq("a login POST sent at once is answered (wrong password: 401)", 401, r.status)


# ---- a live view ends with its browser session ----
class Live:
    """GET sessions/ID/live on a raw TLS socket, read as it comes.  The
    stream has ended when the connection closed or the chunked response
    ended (its last chunk: "0" and an empty line; the connection may be
    kept open for another request)."""

    def __init__(self, client):
        self.opened = time.time()  # the stream's time 0 is no earlier than this
        s = socket.create_connection((HOST, PORT), timeout=10)
        self.t = tls().wrap_socket(s, server_hostname=HOST)
        self.t.sendall(("GET /api/v1/sessions/%s/live HTTP/1.1\r\nHost: %s:%d\r\nCookie: %s\r\n"
                        "Accept: text/event-stream\r\n\r\n" % (SID, HOST, PORT,
                                                               client.cookie)).encode())
        self.buf = b""
        self.eof = False

    def read_for(self, seconds):
        """Reads for up to seconds; returns the bytes got (stops at EOF)."""
        got = b""
        end = time.time() + seconds
        while not self.eof and time.time() < end:
            self.t.settimeout(max(0.05, min(0.5, end - time.time())))
            try:
                d = self.t.recv(65536)
            except socket.timeout:
                continue
            except (OSError, ssl.SSLError):
                d = b""
            if d == b"":
                self.eof = True
                break
            got += d
            if (self.buf + got).endswith(b"\r\n0\r\n\r\n"):
                self.eof = True
        self.buf += got
        return got

    def close(self):
        self.t.close()


carol = Client()
carol.login("carol")
other = Client()
other.login("carol")
mine = Live(carol)
theirs = Live(other)
first = mine.read_for(5)
check(b" 200 " in first.split(b"\r\n", 1)[0] and b'"cols"' in first,
      "carol's live view answers 200 with the first event", first[:200])
check(b'"cols"' in theirs.read_for(5), "her second browser's live view runs too")
# what the session shows now reaches the stream before the logout
mine.read_for(1.5)
r = carol.api("POST", "logout", {})
eq("carol logs out", 200, r.status)
t0 = time.time()
after = mine.read_for(8)
if not mine.eof:
    weakness("web-live-after-logout", "carol's live view was still open 8 s after she logged "
             "out (%d bytes sent since)" % len(after))
else:
    ok("the live view ended %.1f s after the logout" % (time.time() - t0))
    # An event already on its way when the logout was handled may still arrive; one the
    # session showed after the logout (its time on the stream's clock, which started no
    # earlier than self.opened, is later than the logout's answer) must not.
    late = [t for t in (json.loads(m)[0] for m in re.findall(rb'data: (\[.*?\])\n', after))
            if mine.opened + t > t0 + 1.0]
    check(not late, "and sent nothing the session showed after it", late)
eq("her logged-out cookie gets nothing more", 401, carol.api("GET", "whoami").status)
more = theirs.read_for(3)
check(not theirs.eof and b"data:" in more,
      "her other browser's live view goes on (the session shows dots)", more[:200])
eq("her other browser is still logged in", 200, other.api("GET", "whoami").status)
mine.close()
theirs.close()

# ---- one user's logins push out only that user's sessions ----
def form_login(c, user):
    r = c.request("POST", "/login", raw=("user=%s&password=%s-pw-2026" % (user, user)).encode(),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    if r.status != 303:
        fail("%s's password login: %d %r" % (user, r.status, r.body[:200]))
    c.take_cookie(r)
    return c


first = form_login(Client(), "erin")
time.sleep(1.1)  # last used one second before the others
rest = [form_login(Client(), "erin") for _ in range(32)]
ok("erin logged in 33 times with her password")
if first.api("GET", "whoami").status == 200:
    weakness("web-sessions-per-user", "erin holds 33 browser sessions at once: one user's "
             "logins can fill the console's 4096 and push everyone else out")
else:
    ok("erin's 33rd login ended her least recently used session")
check(all(c.api("GET", "whoami").status == 200 for c in rest), "her 32 newest sessions work")
eq("carol's other browser is still logged in", 200, other.api("GET", "whoami").status)

# ---- a login link used again, or too late ----
def link_failures(since):
    return [(actor, json.loads(d)) for actor, d in
            db("SELECT actor, details FROM audit WHERE seq > ? AND event = 'auth.failure'",
               (since,))]


link = urlsplit(new_link("erin")).path
r = Client().request("POST", link)
eq("erin's link logs a browser in once", 303, r.status)
seq = last_seq()
r = Client().request("POST", link)
eq("the same link again: 401", 401, r.status)
rows = link_failures(seq)
if not any(a == "erin" and d.get("method") == "web-link" for a, d in rows):
    weakness("web-link-replay-not-audited", "erin's link used a second time left no audit row: %r"
             % rows)
else:
    ok("the second use is audited under erin's name")
    check(any("used already" in d.get("reason", "") for a, d in rows if a == "erin"),
          "saying it was used already", rows)
link = urlsplit(new_link("erin")).path
token = link.rsplit("/", 1)[1]
db("UPDATE web_logins SET expires_at = created_at - 1 WHERE hash = ?",
   (hashlib.sha256(token.encode()).hexdigest(),))
seq = last_seq()
r = Client().request("POST", link)
eq("a link past its minute: 401", 401, r.status)
rows = link_failures(seq)
if not any(a == "erin" and "expired" in d.get("reason", "") for a, d in rows):
    weakness("web-link-late-not-audited", "erin's link used after its minute left no audit row: "
             "%r" % rows)
else:
    ok("the late use is audited under erin's name, as expired")
seq = last_seq()
forged = "/login/" + "A" * 43
eq("a token that never existed: 401", 401, Client().request("POST", forged).status)
eq("and no audit row", [], link_failures(seq))

if weak:
    print("[%s] FAIL: weaknesses: %s" % (os.environ.get("TEST_NAME", "web-lifetime"),
                                          " ".join(weak)), file=sys.stderr)
    sys.exit(1)
done()
