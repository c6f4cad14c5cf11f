#!/usr/bin/python3
"""A real browser (Debian's headless Chromium through chromedriver and Selenium) logs in to
Mathesar as a user does: opens the login page, types the username and $MATHESAR_PASSWORD into the
form, submits, and waits for the home page, which Mathesar's frontend renders, to show the
expected texts. Saves a screenshot
of what it ends on (also on failure).

Usage: browser_login.py BASE USER SCREENSHOT.png [EXPECTED_TEXT...]
  EXPECTED_TEXT: strings the rendered home page must show (e.g. the user database's name).
Environment: MATHESAR_PASSWORD; BROWSER_TRUST_SPKI=HASH[,HASH] (base64 SHA-256 of a CA's
SubjectPublicKeyInfo: certificates are checked, and a chain holding that CA is trusted, as
Chromium's --ignore-certificate-errors-spki-list does; without it, certificate errors are
ignored, for the plain-HTTP and internal-CA scenarios); BROWSER_RESOLVE=HOST:ADDRESS (HOST
resolved to ADDRESS, as --host-resolver-rules).
Exit codes: 0 logged in and every text shown, 1 not, 2 usage.
"""

import json
import os
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


# The title of Chromium's page for a certificate it does not trust.
CERTIFICATE_WARNING = "Privacy error"


def page_text(driver):
    """The first 300 characters the page shows (an error page's reason), or why there are none."""
    try:
        return driver.find_element(By.TAG_NAME, "body").text[:300]
    except WebDriverException as e:
        return f"(unreadable: {type(e).__name__})"


def network_trouble(driver):
    """What the browser saw of the network, one line per request (its answer, its failure, or
    none yet: Chromium's performance log), its console errors and the page's state; printed on
    failure, since a page that stays blank says nothing in a screenshot."""
    lines = [f"document.readyState={driver.execute_script('return document.readyState')!r}"]
    try:
        requests = {}
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            p = msg.get("params", {})
            method = msg.get("method")
            if method == "Network.requestWillBeSent":
                requests[p["requestId"]] = [f"{p['request']['method']} {p['request']['url'][:160]}",
                                            "no answer"]
            elif method == "Network.responseReceived" and p.get("requestId") in requests:
                r = p.get("response", {})
                requests[p["requestId"]][1] = f"{r.get('status')} {r.get('protocol')}"
            elif method == "Network.loadingFailed" and p.get("requestId") in requests:
                requests[p["requestId"]][1] += f", failed: {p.get('errorText')}"
        lines += [f"{what} -> {answer}" for what, answer in requests.values()]
        lines += [f"console {e.get('level')}: {e.get('message', '')[:300]}"
                  for e in driver.get_log("browser")]
    except (WebDriverException, KeyError, ValueError) as e:
        lines.append(f"(logs unreadable: {type(e).__name__} {e})")
    return lines


def open_login_form(driver, url):
    """Loads the login page and waits for its form; the browser's certificate warning fails at
    once, with its reason. (The bed runs the browser in a network namespace of its own: on the
    machine's, Chromium aborted its connections whenever another lane's containers came or went,
    ERR_NETWORK_CHANGED, which showed as its network error page or a page left blank.)"""
    driver.get(url)
    WebDriverWait(driver, 30).until(
        lambda d: d.find_elements(By.NAME, "username") or d.title == CERTIFICATE_WARNING)
    if driver.title == CERTIFICATE_WARNING:
        raise RuntimeError("the browser does not trust the site's certificate")


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    base, user, shot, expected = argv[1].rstrip("/") + "/", argv[2], argv[3], argv[4:]
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    # No background connections (updates, sync, field trials): the bed's network is closed.
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1280,900", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync"):
        opts.add_argument(a)
    spki = os.environ.get("BROWSER_TRUST_SPKI")
    if spki:
        opts.add_argument("--ignore-certificate-errors-spki-list=" + spki)
    else:
        opts.add_argument("--ignore-certificate-errors")
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    resolve = os.environ.get("BROWSER_RESOLVE")
    if resolve:
        host, addr = resolve.split(":", 1)
        opts.add_argument(f"--host-resolver-rules=MAP {host} {addr}")
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    ok = False
    try:
        driver.set_page_load_timeout(60)
        open_login_form(driver, base + "auth/login/")
        wait = WebDriverWait(driver, 60)
        if driver.title != "Mathesar - Login":
            raise RuntimeError(f"the login page's title is {driver.title!r}")
        driver.find_element(By.NAME, "username").send_keys(user)
        driver.find_element(By.NAME, "password").send_keys(os.environ.get("MATHESAR_PASSWORD", ""))
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        # The frontend takes over the title ("Databases | Mathesar"): wait to leave the login page.
        wait.until(lambda d: "/auth/login" not in d.current_url)
        # The frontend renders after the page loads: wait for the expected texts in the DOM.
        deadline = time.monotonic() + 60
        body = ""
        while time.monotonic() < deadline:
            body = driver.find_element(By.TAG_NAME, "body").text
            if all(t in body for t in expected) and body.strip():
                break
            time.sleep(0.5)
        missing = [t for t in expected if t not in body]
        if missing:
            raise RuntimeError(f"the home page does not show {missing}; it shows: {body[:400]!r}")
        print(f"browser: logged in as {user}; home page shows {expected}; url {driver.current_url}")
        ok = True
    except (TimeoutException, WebDriverException, RuntimeError) as e:
        print(f"browser: FAILED at {driver.current_url} (title {driver.title!r}, page "
              f"{page_text(driver)!r}): {type(e).__name__} {e}", file=sys.stderr)
        try:
            for line in network_trouble(driver):
                print(f"browser:   {line}", file=sys.stderr)
        except WebDriverException as e:
            print(f"browser:   (no logs: {type(e).__name__})", file=sys.stderr)
    finally:
        try:
            driver.save_screenshot(shot)
        finally:
            driver.quit()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
