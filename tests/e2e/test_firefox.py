#!/usr/bin/python3
"""End-to-end tests in headless Firefox (Debian's firefox-esr, driven over
WebDriver BiDi by tests/support/bidi.py) against real daemons on 127.0.0.1:
a site renders through the gateway at <address>.localhost, which Firefox
resolves to loopback by itself; /s/<address>/ on the bare host leads there;
the dashboard signs in and its links open sites. The same pages and steps as
test_browser.py's Chromium tests, in fewer checks: what differs between the
two browsers is name resolution, Fetch Metadata and the sign-in's headers.

usage: test_firefox.py HOSTLESS_BINARY BUILD_DIR TEST_NAME
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from harness import Cluster, make_site, wait_for  # noqa: E402
from bidi import Firefox  # noqa: E402
from test_browser import (dashboard_open_from_box, dashboard_sign_in_and_mirror,  # noqa: E402
                          dashboard_sites, site_files)

BIN = None
BUILD = None


def page_result(browser, url, timeout=60):
    """The JSON a site_files page leaves in <pre id=result> once its load
    handler ran (a cold site shows the "Opening site…" page first)."""
    browser.navigate(url)
    text = browser.wait("document.getElementById('result') && "
                        "document.getElementById('result').textContent", timeout)
    return json.loads(text)


def test_sites_render():
    """A site with a stylesheet, an image, a script and a module renders in
    Firefox at <address>.localhost (the script ran, the image decoded, the
    CSS applied), without the API in its reach; /s/<address>/ on the bare
    host opens a site never opened before on its own origin, with storage of
    its own, and one site's page cannot load the other's image; a folder
    without a slash is redirected."""
    with Firefox() as browser, Cluster(BIN, 2) as c:  # Firefox comes up meanwhile
        a = c[1].json("publish", make_site(os.path.join(c.dir, "a"),
                                           site_files("alpha", (200, 10, 20))))["address"]
        b = c[1].json("publish", make_site(os.path.join(c.dir, "b"),
                                           site_files("beta", (10, 20, 200))))["address"]
        gw = c[2].gateway_port  # the visitor: everything comes through the swarm
        url_a = "http://%s.localhost:%d/" % (a, gw)
        r = page_result(browser, url_a)
        print("firefox", browser.version)
        assert r["css"] == "rgb(200, 10, 20)" and r["img"] == 7, r
        assert r["module"] and r["title"] == "alpha", r
        assert r["before"] in (None, "alpha"), r
        assert r["api"] == "blocked", r
        assert r["api_same_origin"] == 404, r
        assert browser.eval("location.href") == url_a
        shot = os.path.join(BUILD, "e2e-firefox-site.png")
        browser.screenshot(shot)
        assert os.path.getsize(shot) > 1000
        print("screenshot:", shot)

        rb = page_result(browser, "http://localhost:%d/s/%s/" % (gw, b))
        assert browser.eval("location.href") == "http://%s.localhost:%d/" % (b, gw)
        assert rb["css"] == "rgb(10, 20, 200)" and rb["img"] == 7, rb
        assert rb["before"] in (None, "beta"), rb  # never alpha's storage
        assert page_result(browser, url_a)["before"] == "alpha"
        # Firefox too tells the gateway that a load from alpha's page is
        # another site's (Sec-Fetch-Site: cross-site): beta's image is refused.
        assert browser.eval("new Promise(done => { const i = new Image();"
                            " i.onload = () => done(i.naturalWidth); i.onerror = () => done(0);"
                            " i.src = %s; })"
                            % json.dumps("http://%s.localhost:%d/img/dot.png" % (b, gw))) == 0

        browser.navigate(url_a + "about")
        assert browser.wait("location.pathname === '/about/' && "
                            "document.querySelector('h1').textContent") == "about alpha"


def test_dashboard():
    """The dashboard in Firefox: nothing without the sign-in link; the link
    signs in (a code works once and leaves the address bar); it lists a
    visited and a mirrored site, a click on "Mirror" mirrors (checked through
    the CLI), a row's "Open" opens the site in a new tab and the address box
    opens one in this tab."""
    with Firefox() as browser, Cluster(BIN, 2) as c:  # Firefox comes up meanwhile
        me, blog, docs = dashboard_sites(c)
        dashboard_sign_in_and_mirror(browser, me, blog, docs,
                                     os.path.join(BUILD, "e2e-firefox-dashboard.png"))
        print("firefox", browser.version)

        # The row's "Open": a new tab, on the site's origin.
        dashboard = browser.context
        browser.click('tr[data-address="%s"] a.button' % blog)
        assert wait_for(lambda: len(browser.tabs()) == 2, 10), browser.tabs()
        browser.context = [t for t in browser.tabs() if t != dashboard][0]
        host = "%s.localhost:%d" % (blog, me.gateway_port)
        title = browser.wait("location.host === %s && document.readyState === 'complete' "
                             "&& document.title" % json.dumps(host))
        assert title == "My Blog", title
        browser.context = dashboard

        dashboard_open_from_box(browser, docs)


if __name__ == "__main__":
    BIN, BUILD = (os.path.abspath(a) for a in sys.argv[1:3])
    globals()[sys.argv[3]]()
    print("ok", sys.argv[3])
