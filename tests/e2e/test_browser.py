#!/usr/bin/python3
"""End-to-end tests in headless Chromium (Debian's chromium) against real
daemons on 127.0.0.1: what a visitor's browser sees through the gateway.

usage: test_browser.py HOSTLESS_BINARY BUILD_DIR TEST_NAME
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from harness import Cluster, make_site  # noqa: E402

BIN = None
BUILD = None


def png(width, height, rgb):
    """A tiny solid-colour PNG, so the test needs no image files."""
    raw = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                              0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class Browser:
    """Headless Chromium with one profile kept across runs (like one user)."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="hostless-chromium-")

    def run(self, url, *extra):
        args = ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--no-first-run",
                "--user-data-dir=" + self.profile, "--virtual-time-budget=20000"] + \
            list(extra) + [url]
        p = subprocess.run(args, capture_output=True, text=True, timeout=180,
                           stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise AssertionError("chromium failed (%d): %s" % (p.returncode, p.stderr[-2000:]))
        return p.stdout

    def dom(self, url):
        return self.run(url, "--dump-dom")

    def result(self, url, tries=3):
        """The JSON a test page leaves in <pre id=result> once its load handler
        ran. A cold site shows the progress page first, and on a busy machine
        the page may still be loading when Chromium's time budget ends: then
        it is opened again, as a user would reload."""
        for _ in range(tries):
            dom = self.dom(url)
            m = re.search(r'<pre id="result">(.+?)</pre>', dom, re.S)
            if m:
                return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
        raise AssertionError("the page never finished loading:\n" + dom[:3000])

    def close(self):
        shutil.rmtree(self.profile, ignore_errors=True)


PAGE_SCRIPT = """
window.addEventListener('load', async () => {
  const r = {};
  r.css = getComputedStyle(document.querySelector('h1')).color;
  r.img = document.querySelector('img').naturalWidth;
  r.module = window.moduleRan === true;
  r.title = document.title;
  try { r.before = localStorage.getItem('who'); localStorage.setItem('who', SITE); }
  catch (e) { r.before = 'error ' + e; }
  // The daemon's API: from a site's origin it must be out of reach.
  try {
    const a = await fetch('http://localhost:' + location.port + '/api/v1/status');
    r.api = 'status ' + a.status;
  } catch (e) { r.api = 'blocked'; }
  try {
    const b = await fetch('/api/v1/status');
    r.api_same_origin = b.status;
  } catch (e) { r.api_same_origin = 'blocked'; }
  document.getElementById('result').textContent = JSON.stringify(r);
});
"""


def site_files(name, colour):
    return {
        "index.html": "<!doctype html><title>%s</title><link rel=stylesheet href=css/site.css>"
                      "<h1>%s home</h1><img src=img/dot.png alt=dot>"
                      "<p><a href=about/>about</a></p><pre id=result></pre>"
                      "<script>const SITE = %s;</script>"
                      "<script src=js/app.js></script>"
                      "<script type=module src=js/mod.mjs></script>" % (name, name,
                                                                        json.dumps(name)),
        "about/index.html": "<!doctype html><title>about</title><h1>about %s</h1>" % name,
        "css/site.css": "h1 { color: rgb(%d, %d, %d); }" % colour,
        "img/dot.png": png(7, 5, colour),
        "js/app.js": PAGE_SCRIPT,
        "js/mod.mjs": "window.moduleRan = true;",
    }


def test_sites_render():
    """A multi-page site renders with its CSS, image and scripts; two sites keep
    separate storage; a site's script cannot use the API."""
    with Cluster(BIN, 2) as c:
        a = c[1].json("publish", make_site(os.path.join(c.dir, "a"),
                                           site_files("alpha", (200, 10, 20))))
        b = c[1].json("publish", make_site(os.path.join(c.dir, "b"),
                                           site_files("beta", (10, 20, 200))))
        gw = c[2].gateway_port  # the visitor: everything comes through the swarm
        browser = Browser()
        try:
            url_a = "http://%s.localhost:%d/" % (a["address"], gw)
            url_b = "http://%s.localhost:%d/" % (b["address"], gw)
            r = browser.result(url_a)  # a cold visit: the progress page first
            assert r["css"] == "rgb(200, 10, 20)" and r["img"] == 7, r
            assert r["module"] and r["title"] == "alpha", r
            # (None, or its own value if a reload was needed: never the other site's.)
            assert r["before"] in (None, "alpha"), r
            assert r["api"] == "blocked", r  # no CORS grant, and no token anyway
            assert r["api_same_origin"] == 404, r  # on the site's origin it is the site's path
            rb = browser.result(url_b)
            assert rb["css"] == "rgb(10, 20, 200)" and rb["before"] in (None, "beta"), rb
            assert browser.result(url_a)["before"] == "alpha"
            assert browser.result(url_b)["before"] == "beta"
            about = browser.dom(url_a + "about")  # directory without slash: redirected
            assert "<h1>about alpha</h1>" in about, about[:500]
            shot = os.path.join(BUILD, "e2e-site.png")
            browser.run(url_a, "--screenshot=" + shot, "--window-size=800,600")
            assert os.path.getsize(shot) > 1000
            print("screenshot:", shot)
        finally:
            browser.close()


if __name__ == "__main__":
    BIN = os.path.abspath(sys.argv[1])
    BUILD = os.path.abspath(sys.argv[2])
    name = sys.argv[3]
    globals()[name]()
    print("ok", name)
