# SPDX-License-Identifier: Apache-2.0
"""What the web console's Python tests share: an HTTPS client that checks
the console's self-signed certificate (WEB_CA), keeps its cookie and sends
the CSRF token, logging in through a real one-time link (`ssh USER@gw web`,
WEB_LINK), and test reporting in the integration tests' form."""

import http.client
import json
import os
import sqlite3
import ssl
import subprocess
import sys
import time
from urllib.parse import urlsplit

URL = os.environ["WEB_URL"]
HOST = urlsplit(URL).hostname
PORT = urlsplit(URL).port
NAME = os.environ.get("TEST_NAME", os.path.basename(sys.argv[0]))
_ok = 0


def ok(what):
    global _ok
    _ok += 1
    print("[%s] ok %d - %s" % (NAME, _ok, what), file=sys.stderr, flush=True)


def fail(what):
    print("[%s] FAIL: %s" % (NAME, what), file=sys.stderr, flush=True)
    sys.exit(1)


def check(cond, what, detail=""):
    if not cond:
        fail(what + (": " + str(detail) if detail != "" else ""))
    ok(what)


def eq(what, want, got):
    check(want == got, what, "expected %r, got %r" % (want, got))


def tls():
    ctx = ssl.create_default_context(cafile=os.environ["WEB_CA"])
    return ctx


class Resp:
    def __init__(self, r, body):
        self.status = r.status
        self.headers = r.headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode())

    @property
    def error(self):
        try:
            return self.json().get("error")
        except Exception:
            return None


class Client:
    """One browser: a cookie jar of one cookie and the CSRF token."""

    def __init__(self):
        self.cookie = None
        self.csrf = None
        self.user = None

    def request(self, method, path, body=None, headers=None, origin=True, csrf=True, raw=None):
        h = {}
        if self.cookie:
            h["Cookie"] = self.cookie
        if method != "GET" and origin:
            h["Origin"] = URL if origin is True else origin
        if method != "GET" and csrf and self.csrf:
            h["X-CSRF-Token"] = self.csrf if csrf is True else csrf
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c = http.client.HTTPSConnection(HOST, PORT, context=tls(), timeout=30)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            return Resp(r, r.read())
        finally:
            c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def api(self, method, path, body=None, **kw):
        return self.request(method, "/api/v1/" + path, body=body if method != "GET" else None, **kw)

    def take_cookie(self, r):
        sc = r.headers.get("Set-Cookie", "")
        if sc.startswith("__Host-drawbridge="):
            self.cookie = sc.split(";", 1)[0]

    def login(self, user):
        """Logs in through a fresh one-time link; returns the POST's response."""
        link = new_link(user)
        r = self.request("POST", urlsplit(link).path)
        if r.status != 303:
            fail("login link for %s: POST answered %d %r" % (user, r.status, r.body[:200]))
        self.take_cookie(r)
        me = self.api("GET", "whoami")
        if me.status != 200:
            fail("whoami after logging in %s: %d %r" % (user, me.status, me.body))
        self.csrf = me.json()["csrf_token"]
        self.user = user
        return r


def new_link(user):
    out = subprocess.run([os.environ["WEB_LINK"], user], capture_output=True, text=True, timeout=60)
    link = out.stdout.strip()
    if out.returncode != 0 or not link.startswith(URL + "/login/"):
        fail("`ssh %s@gw web` printed no login link: rc=%d %r %r"
             % (user, out.returncode, out.stdout, out.stderr))
    return link


def gw(user, *cmd, stdin=None):
    """Runs `ssh USER@gw CMD` through lib.sh (alice by key, others by password)."""
    script = ('. "$LIB/lib.sh"; . "$WEB_DIR/env.sh"; . "$LIB/jit-lib.sh"; as "$@"')
    env = dict(os.environ, LIB=os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run(["bash", "-c", script, "gw", user] + list(cmd), capture_output=True,
                          text=True, timeout=120, env=env, input=stdin)


def db(sql, args=()):
    con = sqlite3.connect(os.environ["WEB_DB"], timeout=10)
    try:
        cur = con.execute(sql, args)
        rows = cur.fetchall()
        con.commit()
        return rows
    finally:
        con.close()


def audit_rows(since_seq):
    return [(seq, actor, event, obj, json.loads(d)) for seq, actor, event, obj, d in
            db("SELECT seq, actor, event, object, details FROM audit WHERE seq > ? ORDER BY seq",
               (since_seq,))]


def last_seq():
    return db("SELECT coalesce(max(seq), 0) FROM audit")[0][0]


def wait_for(cond, what, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    fail("timed out waiting for " + what)


def done():
    print("[%s] %d checks passed" % (NAME, _ok), file=sys.stderr)
