#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The second factor in the web console (run by mfa-web.sh, with weblib.py).

bob enrolled a second factor over SSH (his secret in T/secret.bob); erin
never did; the policy says approve needs a login that gave a code.  The
password form asks bob for his code too (missing, wrong and right), erin
logs in with her password alone but may not approve; a login link carries
whether the SSH login that made it gave a code."""
import os
import subprocess
import time
from urllib.parse import urlencode, urlsplit

from weblib import gw, ok, Client, check, db, done, eq, fail, new_link

T = os.environ["T"]
N = int(os.environ["N"])
N2 = int(os.environ["N2"])


def code(user, offset=0):
    secret = open(os.path.join(T, "secret." + user)).read().strip()
    return subprocess.run(["oathtool", "--totp", "-b", secret, "-N",
                           "@%d" % (int(time.time()) + offset)],
                          check=True, capture_output=True, text=True).stdout.strip()


def form_login(c, user, password, code=None):
    fields = {"user": user, "password": password}
    if code is not None:
        fields["code"] = code
    r = c.request("POST", "/login", raw=urlencode(fields).encode(),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    if r.status == 303:
        c.take_cookie(r)
        me = c.api("GET", "whoami")
        c.csrf = me.json()["csrf_token"]
        c.user = user
    return r


def failures(user):
    return db("SELECT failures FROM mfa WHERE user = ?", (user,))[0][0]


bob = Client()
r = form_login(bob, "bob", "bob-pw-2026")
eq("bob's password without his code: 401", 401, r.status)
check(b"give the verification code too" in r.body, "the answer asks for the code", r.body)
check(bob.cookie is None, "and logs nothing in")

before = failures("bob")
r = form_login(bob, "bob", "bob-pw-2026", code("bob", -600))
eq("bob's password with a wrong code: 401", 401, r.status)
check(b"wrong verification code" in r.body, "the answer says the code was wrong", r.body)
eq("the wrong code is counted like one at the SSH prompt", before + 1, failures("bob"))

r = form_login(bob, "bob", "bob-pw-2026", code("bob", 30))
eq("bob's password with a right code: logged in (303)", 303, r.status)
me = bob.api("GET", "whoami").json()
check(me.get("mfa", {}).get("verified") is True, "whoami: the login gave a code", me)
row = db("SELECT details FROM audit WHERE event = 'auth.success' AND actor = 'bob' "
         "ORDER BY seq DESC LIMIT 1")
check(row and '"method":"password+totp"' in row[0][0] and '"via":"web"' in row[0][0],
      "the login is audited with both factors, via web", row)

erin = Client()
r = form_login(erin, "erin", "erin-pw-2026")
eq("erin (no second factor) logs in with her password alone", 303, r.status)
r = erin.api("POST", "requests/%d/approve" % N, {})
eq("erin's approve without a code: 403 with the shell's words",
   (403, "approve needs a verification code (enrol: ssh gw mfa enroll)"), (r.status, r.error))
r = bob.api("POST", "requests/%d/approve" % N, {})
eq("bob's approve with a code: 200", 200, r.status)

# a login link carries the SSH login's code: bob's link was made after a code
link = os.environ["BOB_LINK"]
c = Client()
r = c.request("POST", urlsplit(link).path)
eq("bob's link logs a browser in", 303, r.status)
c.take_cookie(r)
me = c.api("GET", "whoami").json()
c.csrf = me["csrf_token"]
check(me.get("mfa", {}).get("verified") is True, "a link made by a login that gave a code: verified", me)
r = c.api("POST", "requests/%d/approve" % N2, {})
eq("and may approve", 200, r.status)
c = Client()
c.login("erin")
me = c.api("GET", "whoami").json()
check(me.get("mfa", {}).get("verified") is False, "erin's link: not verified", me)

# carol (a reviewer the policy requires to enrol, who has not) logs in with her
# password, and every reviewer call is refused as the shell refuses `sessions`
carol = Client()
r = form_login(carol, "carol", "carol-pw-2026")
eq("carol (required to enrol, not enrolled) logs in with her password", 303, r.status)
shell_words = gw("carol", "sessions").stderr.strip()
check(shell_words.startswith("drawbridge: "), "the shell refuses carol's sessions", shell_words)
for path in ("sessions", "sessions/aaaaaaaaaaaaaaaa", "sessions/aaaaaaaaaaaaaaaa/cast",
             "sessions/aaaaaaaaaaaaaaaa/transcript", "sessions/aaaaaaaaaaaaaaaa/live", "audit"):
    r = carol.api("GET", path)
    if r.status != 403 or "enrol" not in (r.error or ""):
        fail("carol GET %s before enrolling: %d %r (the shell: %r)" % (path, r.status, r.body, shell_words))
ok("carol gets none of the reviewer API before enrolling (403, the enrolment refusal)")
done()
