#!/usr/bin/env python3
"""browse.py - the web interface in a real browser (headless Debian chromium + chromedriver,
driven by Selenium), against a live server that tests/tests/ui.rs started and filled.

Environment (all set by ui.rs):
  UI_URL      the server, http://127.0.0.1:PORT
  UI_TOKEN    an admin token (typed into the page's token box, as a user would)
  UI_REPO     the repo with the package set (300 packages: deb, rpm, pacman)
  UI_FIND     part of a package name that search must find, UI_FOUND the name it finds
  UI_XSS      file name of the package whose description holds <script>
  UI_DROP     a .deb to drop on the repo page (not yet uploaded); UI_DROP_NAME its package name
  UI_DROP_BIG a .deb past the page's 4 MiB upload-session threshold (harness-big)
  UI_SHOTS    where the screenshots go
  UI_APT      tests/clients/apt.sh
Exits 0 when every check passed; prints one line per check, and the screenshots' paths.
"""
import base64
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

os.environ.setdefault("SE_OFFLINE", "true")  # no Selenium Manager downloads: no internet
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

URL = os.environ["UI_URL"].rstrip("/")
TOKEN = os.environ["UI_TOKEN"]
REPO = os.environ["UI_REPO"]
SHOTS = os.environ["UI_SHOTS"]
os.makedirs(SHOTS, exist_ok=True)
shots = []


def log(msg):
    print("[ui] " + msg, flush=True)


def browser(javascript=True):
    o = webdriver.ChromeOptions()
    o.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1280,900", "--no-first-run", "--disable-extensions"):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        o.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    d = webdriver.Chrome(options=o, service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")))
    d.set_page_load_timeout(30)
    return d


def png_colours(path):
    """Distinct colours of a PNG (8-bit RGB or RGBA, as Chromium writes), every 7th pixel."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    colours = set()
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        for x in range(0, w, 7):
            colours.add(bytes(line[x * bpp:x * bpp + 3]))
        prev = line
    return len(colours), w, h


def shot(d, name, what):
    """A full-page screenshot, checked to be no blank page."""
    height = d.execute_script("return Math.max(document.body.scrollHeight, 600)")
    d.set_window_size(1280, min(height + 120, 4000))
    path = os.path.join(SHOTS, name + ".png")
    assert d.save_screenshot(path), path
    n, w, h = png_colours(path)
    assert n >= 8, "%s is blank: %d colours" % (path, n)
    d.set_window_size(1280, 900)
    shots.append((path, what, n, w, h))
    log("screenshot %s (%dx%d, %d colours): %s" % (path, w, h, n, what))


def no_console_errors(d, where):
    """No CSP violation, script error or failed load in the browser's console."""
    bad = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert not bad, "%s: console errors: %s" % (where, bad)


def wait(d, cond, t=20):
    # The results are swapped in as the user types: an element read mid-swap is stale.
    return WebDriverWait(d, t, ignored_exceptions=[StaleElementReferenceException]).until(cond)


def listed(d):
    """The package names the table shows now (read in one go: the table may be swapped)."""
    return d.execute_script(
        "return Array.from(document.querySelectorAll('#packages tbody th a')).map((a) => a.textContent)")


def get(path):
    with urllib.request.urlopen(URL + path) as r:
        return r.read()


def main():
    d = browser()
    try:
        run(d)
    finally:
        d.quit()
    nojs()
    log("screenshots:")
    for path, what, n, w, h in shots:
        print("  %s  %dx%d  %s" % (path, w, h, what))
    with open(os.path.join(SHOTS, "index.json"), "w") as f:
        json.dump([{"path": p, "shows": s, "colours": n, "width": w, "height": h} for p, s, n, w, h in shots], f, indent=1)
    log("OK")


def run(d):
    # / sends a browser to /ui/: the repo list.
    d.get(URL + "/")
    assert d.current_url.endswith("/ui/"), d.current_url
    wait(d, EC.presence_of_element_located((By.LINK_TEXT, REPO)))
    assert "300" in d.find_element(By.CSS_SELECTOR, "table.list tbody").text
    no_console_errors(d, "/ui/")
    shot(d, "01-repos", "the repo list: %s with its formats, 300 packages, last publish" % REPO)

    # The repo page loads its first page.
    d.find_element(By.LINK_TEXT, REPO).click()
    wait(d, EC.presence_of_element_located((By.ID, "packages")))
    rows = d.find_elements(By.CSS_SELECTOR, "#packages tbody tr")
    assert len(rows) == 50, len(rows)
    assert "of 300 entries" in d.find_element(By.ID, "count").text, d.find_element(By.ID, "count").text
    no_console_errors(d, "repo page")
    log("repo page: 50 rows, %s" % d.find_element(By.ID, "count").text)
    shot(d, "02-repo", "the repo page: the first 50 of 300 entries, search form, drop zone")

    # Next page by the cursor.
    d.find_element(By.CSS_SELECTOR, "a[rel=next]").click()
    wait(d, EC.text_to_be_present_in_element((By.ID, "count"), "51–100"))
    log("next page: %s" % d.find_element(By.ID, "count").text)

    # Search as you type finds a package by part of its name.
    d.get(URL + "/ui/repos/" + REPO)
    q = wait(d, EC.element_to_be_clickable((By.ID, "q")))
    q.send_keys(os.environ["UI_FIND"])
    found = os.environ["UI_FOUND"]
    wait(d, lambda d: found in listed(d))
    names = listed(d)
    assert all(os.environ["UI_FIND"] in n for n in names), names
    assert os.environ["UI_FIND"] in d.current_url, d.current_url
    log("search %r as typed: %s" % (os.environ["UI_FIND"], names))
    shot(d, "03-search", "search as you type: %r finds %s" % (os.environ["UI_FIND"], ", ".join(names)))

    # The package page shows its sha256, which matches the file it serves.
    d.find_element(By.LINK_TEXT, found).click()
    sha = wait(d, EC.presence_of_element_located((By.ID, "sha256"))).text
    href = d.find_element(By.LINK_TEXT, "Download").get_attribute("href")
    with urllib.request.urlopen(href) as r:
        served = hashlib.sha256(r.read()).hexdigest()
    assert sha == served, (sha, served)
    body = d.find_element(By.TAG_NAME, "main").text
    assert "Versions of" in body and "Served to:" in body, body
    no_console_errors(d, "package page")
    log("package page: sha256 %s matches %s" % (sha, href))
    shot(d, "04-package", "the package page of %s: digests, fields, versions, clients" % found)

    # A description holding <script> renders as text.
    xss = os.environ["UI_XSS"]
    d.get(URL + "/ui/repos/%s/packages/%s" % (REPO, xss))
    wait(d, EC.presence_of_element_located((By.ID, "sha256")))
    text = d.find_element(By.TAG_NAME, "main").text
    assert "<script>window.pwned=1</script>" in text, text
    assert "<b>bold</b>" in text, text
    assert d.execute_script("return window.pwned === undefined"), "the description's script ran"
    assert not d.find_elements(By.CSS_SELECTOR, "main b"), "the description's markup was rendered"
    log("a description with <script> renders as text")
    shot(d, "05-xss", "a package whose description holds <script> and <b>: shown as text")

    # Set up: the apt snippet, written to a throwaway root, makes apt-get update succeed.
    d.get(URL + "/ui/repos/%s/setup" % REPO)
    pre = wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, "pre[data-client=apt]")))
    sources, fname = pre.get_attribute("textContent"), pre.get_attribute("data-file")
    assert "Signed-By:" in sources and "/repos/%s/" % REPO in sources, sources
    fp = d.find_element(By.ID, "fingerprint").text
    assert len(fp) >= 40, fp
    btn = d.find_element(By.CSS_SELECTOR, "button.copy[data-copy=%s]" % pre.get_attribute("id"))
    btn.click()
    wait(d, lambda d: btn.text == "Copied")
    no_console_errors(d, "setup page")
    shot(d, "06-setup", "the Set up tab: apt .sources (Signed-By key), dnf/yum/zypper .repo, pacman; fingerprint %s" % fp)

    # History.
    d.get(URL + "/ui/repos/%s/history" % REPO)
    wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, "table.list")))
    shot(d, "07-history", "the history tab: the journal of the uploads")

    # The token, typed once, kept in sessionStorage.
    d.get(URL + "/ui/repos/" + REPO)
    d.find_element(By.ID, "token").send_keys(TOKEN + Keys.ENTER)
    wait(d, EC.visibility_of_element_located((By.ID, "token-state")))
    assert d.execute_script("return sessionStorage.getItem('reposmith-token')") == TOKEN

    # Accessible: every visible control is named (a label, aria-label or text), the drop zone
    # is reached by the keyboard, and body text meets WCAG AA contrast (4.5:1) on its background.
    unnamed = d.execute_script("""
        const named = (e) => (e.labels && e.labels.length) || e.getAttribute('aria-label')
          || (e.tagName === 'BUTTON' && e.textContent.trim());
        return Array.from(document.querySelectorAll('input, select, textarea, button'))
          .filter((e) => e.offsetParent !== null && e.type !== 'hidden' && !named(e))
          .map((e) => e.outerHTML);""")
    assert not unnamed, unnamed
    zone = d.find_element(By.ID, "drop")
    assert zone.get_attribute("tabindex") == "0" and zone.get_attribute("role") == "button"
    ratio = d.execute_script("""
        const lum = (c) => {
          const v = c.match(/[0-9.]+/g).slice(0, 3).map((x) => {
            x = x / 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
          return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
        };
        const st = getComputedStyle(document.body);
        let bg = st.backgroundColor;
        if (/rgba\(.*, 0\)/.test(bg)) bg = getComputedStyle(document.documentElement).backgroundColor;
        if (/rgba\(.*, 0\)/.test(bg)) bg = 'rgb(255, 255, 255)';
        const [a, b] = [lum(st.color), lum(bg)].sort((x, y) => y - x);
        return (a + 0.05) / (b + 0.05);""")
    assert ratio >= 4.5, "body text contrast %.2f:1" % ratio
    log("controls named, drop zone keyboard-reachable, text contrast %.1f:1" % ratio)

    # Drag and drop: a .deb dropped on the page uploads with a progress bar and is listed.
    drop = os.environ["UI_DROP"]
    data = base64.b64encode(open(drop, "rb").read()).decode()
    d.execute_script("""
        const [b64, name] = arguments;
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, {type: 'application/vnd.debian.binary-package'}));
        const zone = document.getElementById('drop');
        for (const t of ['dragenter', 'dragover', 'drop'])
          zone.dispatchEvent(new DragEvent(t, {bubbles: true, cancelable: true, dataTransfer: dt}));
        """, data, os.path.basename(drop))
    wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, "#uploads li progress")))
    wait(d, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#uploads li"), "published"), 60)
    bar = d.find_element(By.CSS_SELECTOR, "#uploads li progress")
    assert bar.get_attribute("value") == bar.get_attribute("max"), (bar.get_attribute("value"), bar.get_attribute("max"))
    name = os.environ["UI_DROP_NAME"]
    q = d.find_element(By.ID, "q")
    q.clear()
    q.send_keys(name)
    wait(d, lambda d: name in listed(d))
    log("dropped %s: published, listed" % os.path.basename(drop))
    shot(d, "08-upload", "after dropping %s: its progress bar full, 'published', and the table lists it" % os.path.basename(drop))
    packages = get("/repos/%s/dist/dists/stable/main/binary-amd64/Packages" % REPO).decode()
    assert "Package: %s\n" % name in packages, "the dropped package is not in the apt index"
    log("the dropped package is in the apt index")

    # A file past the page's 4 MiB threshold goes through an upload session (POST /uploads/,
    # PUT, commit), with its own progress bar.
    big = os.environ["UI_DROP_BIG"]
    data = base64.b64encode(open(big, "rb").read()).decode()
    d.execute_script("""
        const [b64, name] = arguments;
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, {type: 'application/vnd.debian.binary-package'}));
        document.getElementById('drop').dispatchEvent(
          new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: dt}));
        """, data, os.path.basename(big))
    last = "#uploads li:last-child"
    wait(d, EC.text_to_be_present_in_element((By.CSS_SELECTOR, last), os.path.basename(big)))
    wait(d, EC.text_to_be_present_in_element((By.CSS_SELECTOR, last), "published"), 120)
    bar = d.find_element(By.CSS_SELECTOR, last + " progress")
    assert int(bar.get_attribute("max")) == os.path.getsize(big), bar.get_attribute("max")
    packages = get("/repos/%s/dist/dists/stable/main/binary-amd64/Packages" % REPO).decode()
    assert "Package: harness-big\n" in packages, "the big dropped package is not in the apt index"
    log("dropped %s (%d bytes) through an upload session: in the apt index" % (os.path.basename(big), os.path.getsize(big)))

    # The Set up snippet, in a throwaway root: apt-get update, and the dropped package installs.
    root = tempfile.mkdtemp(prefix="ui-apt-")
    os.makedirs(root + "/etc/apt/sources.list.d")
    with open(root + "/etc/apt/sources.list.d/" + fname, "w") as f:
        f.write(sources + "\n")
    env = dict(os.environ, APT_CONFIG_ROOT=root, APT_INSTALL=name, APT_EXPECT_FILES="",
               APT_EXPECT_PKGS=name)
    r = subprocess.run(["bash", os.environ["UI_APT"], URL + "/repos/%s/dist" % REPO], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, "apt with the Set up snippet failed:\n" + r.stderr
    log("apt-get update with the Set up snippet (%s): OK; %s installed" % (fname, name))

    # Remove it, after the confirmation.
    d.get(URL + "/ui/repos/%s/packages/%s" % (REPO, os.path.basename(drop)))
    d.find_element(By.CSS_SELECTOR, "button[data-delete]").click()
    alert = wait(d, EC.alert_is_present())
    assert os.path.basename(drop) in alert.text, alert.text
    alert.accept()
    wait(d, EC.url_to_be(URL + "/ui/repos/" + REPO))
    listing = json.loads(get("/repos/%s/packages/" % REPO))
    assert not any(p["filename"] == os.path.basename(drop) for p in listing["packages"])
    log("removed %s after the confirmation" % os.path.basename(drop))

    # Create a repo.
    d.get(URL + "/ui/")
    d.find_element(By.ID, "new-name").send_keys("made-in-ui")
    d.find_element(By.ID, "new-desc").send_keys("created from the browser")
    d.find_element(By.CSS_SELECTOR, "#create-form button").click()
    wait(d, EC.url_to_be(URL + "/ui/repos/made-in-ui"))
    assert "created from the browser" in d.find_element(By.TAG_NAME, "main").text
    log("created repo made-in-ui")
    shot(d, "09-created", "a repo created from the browser (empty)")
    no_console_errors(d, "created repo")


def nojs():
    """Reading works without JavaScript: search and pages are a GET form and links."""
    d = browser(javascript=False)
    try:
        d.get(URL + "/ui/repos/" + REPO)
        q = wait(d, EC.presence_of_element_located((By.ID, "q")))
        q.send_keys(os.environ["UI_FIND"])
        d.find_element(By.CSS_SELECTOR, "#search button[type=submit]").click()
        found = os.environ["UI_FOUND"]
        wait(d, lambda d: found in listed(d))
        assert d.find_element(By.ID, "upload").get_attribute("hidden") is not None
        log("without JavaScript: the search form finds %s" % found)
        shot(d, "10-nojs", "without JavaScript: the search form submitted, results listed, no write controls")
    finally:
        d.quit()


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        log("FAILED: %s" % e)
        raise
