# SPDX-License-Identifier: Apache-2.0
"""The web console in a real browser: Debian's headless Chromium driven by
Selenium, one browser for the whole test.  bob logs in through a one-time
link and approves alice's pending request; carol (a reviewer) logs in the
same way, opens a recording whose output holds HTML and script and reads
its text from the player (as text: no markup, no alert), searches and
follows a hit to its moment, and watches a live session.  The browser's
console must show no Content-Security-Policy violation.  Screenshots of the
main pages go to SHOTS (kept by CI under the build folder)."""

import os
import subprocess
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from weblib import URL, check, eq, fail, ok, new_link, gw, db, done

SHOTS = os.environ["SHOTS"]
N = int(os.environ["REQ_ID"])
SID = os.environ["HOSTILE_SID"]
os.makedirs(SHOTS, exist_ok=True)

opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--ignore-certificate-errors",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--no-first-run", "--disable-default-apps", "--disable-extensions",
          "--window-size=1280,900", "--user-data-dir=" + os.path.join(os.environ["WEB_DIR"], "chromium")):
    opts.add_argument(a)
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
driver.set_page_load_timeout(30)


def wait(cond, what, timeout=20):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: cond())
    except TimeoutException:
        shot("timeout")
        fail("timed out: " + what)


def shot(name):
    driver.save_screenshot(os.path.join(SHOTS, name + ".png"))


def text_of(css):
    els = driver.find_elements(By.CSS_SELECTOR, css)
    return els[0].get_attribute("textContent") if els else ""


def csp_violations():
    return [e["message"] for e in driver.get_log("browser")
            if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]


def no_alert(what):
    try:
        a = driver.switch_to.alert
        fail(what + ": an alert opened: " + a.text)
    except NoAlertPresentException:
        ok(what + ": no alert")


def login(user):
    driver.get(new_link(user))
    check("login" in driver.title.lower() or driver.find_elements(By.ID, "login"),
          "%s: the link shows a page with one button" % user)
    driver.find_element(By.ID, "login").click()
    wait(lambda: text_of("#who").startswith(user), "%s logged in (the navigation names them)" % user)
    check(driver.current_url == URL + "/requests", "%s: after logging in, a clean URL" % user,
          driver.current_url)


try:
    # ---- bob approves alice's request ----
    login("bob")
    card = wait(lambda: driver.find_elements(By.ID, "request-%d" % N), "request %d in bob's queue" % N)[0]
    check("INC-77 from the browser test" in card.text, "the card shows the requester's reason")
    shot("requests")
    card.find_element(By.CSS_SELECTOR, "input[name=comment]").send_keys("ok from the browser")
    approve = [b for b in card.find_elements(By.CSS_SELECTOR, "button") if b.text == "Approve"]
    eq("the button is labelled with the shell's verb", 1, len(approve))
    approve[0].click()
    wait(lambda: ("request %d approved" % N) in text_of("#flash"), "the approval's message")
    eq("the store says request %d is approved by bob" % N, [("approved", "bob")],
       db("SELECT status, decided_by FROM requests WHERE id = ?", (N,)))
    row = db("SELECT details FROM audit WHERE event = 'request.approve' ORDER BY seq DESC LIMIT 1")
    check('"via":"web"' in row[0][0], "the approval's audit row says via web", row)
    driver.get(URL + "/requests/%d" % N)
    wait(lambda: text_of("#status") == "approved", "the request page shows it approved")
    shot("request")
    driver.get(URL + "/audit")
    wait(lambda: "audit is for reviewers" in driver.page_source, "bob is refused the audit page")
    driver.get(URL + "/requests")
    wait(lambda: driver.find_elements(By.ID, "logout"), "the navigation")
    driver.find_element(By.ID, "logout").click()
    wait(lambda: driver.current_url.endswith("/login"), "logout goes to /login")
    shot("login")

    # ---- carol reviews ----
    login("carol")
    driver.get(URL + "/sessions?user=alice")
    wait(lambda: driver.find_elements(By.CSS_SELECTOR, "a.session"), "the sessions list")
    shot("sessions")
    driver.get(URL + "/sessions/" + SID)
    wait(lambda: driver.find_elements(By.CSS_SELECTOR, ".ap-overlay-start, .ap-terminal"),
         "the player")
    for el in driver.find_elements(By.CSS_SELECTOR, ".ap-overlay-start"):
        el.click()
    wait(lambda: "hostile-end-marker" in text_of(".ap-terminal"), "the recording's text in the player")
    term = text_of(".ap-terminal")
    check("<script>alert(1)</script>" in term and "<img src=x onerror=alert(2)>" in term,
          "the player shows the recorded HTML as text", term[:300])
    tr = text_of("#transcript")
    check("<script>alert(1)</script>" in tr, "the transcript shows it as text", tr[:300])
    n_scripts = driver.execute_script("return document.querySelectorAll('script').length")
    n_imgs = driver.execute_script("return document.querySelectorAll('img').length")
    eq("no script element came from the recording (the page's own two)", 2, n_scripts)
    eq("no img element came from the recording", 0, n_imgs)
    no_alert("the hostile recording")
    shot("player")
    # a slower speed and an idle limit play the same recording again, from where it was
    from selenium.webdriver.support.ui import Select
    Select(driver.find_element(By.ID, "speed")).select_by_value("0.5")
    Select(driver.find_element(By.ID, "idle")).select_by_value("2")
    wait(lambda: driver.find_elements(By.CSS_SELECTOR, "#player .ap-player"), "the player made again")
    eq("one player on the page after changing speed and idle limit", 1,
       len(driver.find_elements(By.CSS_SELECTOR, "#player .ap-player")))
    check(driver.find_element(By.ID, "moment").get_attribute("href").split("?t=")[1] != "",
          "the link to this moment carries a time")

    # search: a hit opens the player at its moment
    driver.get(URL + "/search?q=hostile-end-marker")
    hit = wait(lambda: driver.find_elements(By.CSS_SELECTOR, "a.hit-link"), "a search hit")[0]
    shot("search")
    href = hit.get_attribute("href")
    check(("/sessions/%s?t=" % SID) in href, "the hit links to the player at a moment", href)
    hit.click()
    wait(lambda: driver.find_elements(By.CSS_SELECTOR, "#transcript div.now"),
         "the player opened at the hit's moment (its transcript line is marked)", 30)
    check("hostile-end-marker" in text_of("#transcript div.now"), "the marked line is the hit")

    # a live session, followed
    live = subprocess.Popen(["bash", "-c", '. "$LIB/lib.sh"; . "$WEB_DIR/env.sh"; . "$LIB/jit-lib.sh"; '
                             'as alice+staging-1 "for i in \\$(seq 1 80); do echo live-browser-\\$i; sleep 0.25; done"'],
                            env=dict(os.environ, LIB=os.path.dirname(os.path.abspath(__file__))),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        lsid = None
        while lsid is None and time.time() < deadline:
            rows = db("SELECT id FROM sessions WHERE ended_at = 0 AND target = 'staging-1'")
            lsid = rows[0][0] if rows else None
            time.sleep(0.2)
        check(lsid is not None, "the live session is in the store")
        driver.get(URL + "/sessions/%s/watch" % lsid)
        first = wait(lambda: [l for l in text_of(".ap-terminal").split() if l.startswith("live-browser-")],
                     "live output in the watch page")
        later = wait(lambda: [l for l in text_of(".ap-terminal").split() if l.startswith("live-browser-")
                              and l not in first], "more live output as it happens")
        ok("the watch page follows the session (%s, then %s)" % (first[-1], later[-1]))
        shot("watch")
    finally:
        live.kill()
        live.wait()

    for page in ("targets", "grants", "audit", "reviews"):
        driver.get(URL + "/" + page)
        wait(lambda: driver.find_elements(By.CSS_SELECTOR, "#content > *"), "the %s page" % page)
        shot(page)
    v = csp_violations()
    eq("no Content-Security-Policy violation in the browser's console", [], v)
finally:
    driver.quit()
done()
