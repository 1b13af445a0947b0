#!/usr/bin/python3
"""End-to-end tests in headless Chromium (Debian's chromium) against real
daemons on 127.0.0.1: what a visitor's browser sees through the gateway.

usage: test_browser.py HOSTLESS_BINARY BUILD_DIR TEST_NAME
"""
import http.client
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.parse
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from harness import Cluster, make_site, wait_for  # noqa: E402
from cdp import Chromium  # noqa: E402

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


def request(port, host, path, method="GET", body=None, headers=None):
    """(status, body) of one request to 127.0.0.1:port with this Host."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=dict({"Host": host}, **(headers or {})))
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def new_site(node, directory, template):
    """A site from a starter template, published by `node`: its address."""
    node.run("new", directory, "--template", template)
    return node.json("publish", directory)["address"]


def dashboard_sites(c):
    """Node 1 publishes a blog and a docs site from the templates; node 2, the
    user's, visits both through the swarm and mirrors the docs. Returns
    (the user's node, blog's address, docs' address)."""
    publisher, me = c[1], c[2]
    blog = new_site(publisher, os.path.join(c.dir, "blog"), "blog")
    docs = new_site(publisher, os.path.join(c.dir, "docs"), "docs")
    gw = me.gateway_port
    for addr in (blog, docs):
        assert wait_for(lambda: request(gw, addr + ".localhost", "/")[0] == 200, 60)
    me.json("mirror", docs)
    return me, blog, docs


def dashboard_sign_in_and_mirror(browser, me, blog, docs, shot):
    """In `browser` (cdp.Chromium or bidi.Firefox), on the dashboard of `me`
    set up by dashboard_sites: no data before the sign-in link; the link
    signs in (the code leaves the address bar and works once); both sites
    are listed with role and title; a click on "Mirror" mirrors the blog
    (checked through the CLI). Saves a screenshot to `shot`."""
    gw = me.gateway_port
    browser.navigate("http://localhost:%d/" % gw)  # no sign-in link: no data
    browser.wait("document.getElementById('login').hidden === false")
    assert browser.eval("document.querySelectorAll('#sites tbody tr').length") == 0

    link = me.run("dashboard").stdout.strip()
    assert link.startswith("http://localhost:%d/#login=" % gw), link
    browser.navigate(link)
    row = "document.querySelector('tr[data-address=\"%s\"]')"
    browser.wait("%s && %s.querySelector('.role').textContent === 'visited' && "
                 "%s.querySelector('.title').textContent === 'My Blog'"
                 % ((row % blog,) * 3))
    browser.wait("%s && %s.querySelector('.role').textContent === 'mirrored'"
                 % ((row % docs,) * 2))
    assert browser.eval("location.hash") == ""  # the code left the address bar
    code = link.split("#login=")[1]
    status, _ = request(gw, "localhost", "/api/v1/session", "POST",
                        json.dumps({"code": code}), {"Content-Type": "application/json"})
    assert status == 403  # a code works once

    browser.click('tr[data-address="%s"] button[data-action="mirror"]' % blog)
    role = lambda: [s["role"] for s in me.json("sites") if s["address"] == blog]  # noqa
    assert wait_for(lambda: role() == ["mirrored"], 90), role()
    browser.wait("%s.querySelector('.role').textContent === 'mirrored'" % (row % blog))
    browser.screenshot(shot)
    assert os.path.getsize(shot) > 10000
    print("screenshot:", shot)


def dashboard_open_from_box(browser, docs):
    """The dashboard's address box takes any address form and opens the site
    (docs, from dashboard_sites) in this tab."""
    browser.eval("document.getElementById('open-input').value = %s"
                 % json.dumps("hostless://%s/reference.html" % docs))
    browser.click("#open-form button")
    title = browser.wait("location.host.startsWith(%s) && document.readyState === "
                         "'complete' && document.title" % json.dumps(docs))
    assert title == "Reference - My Project docs", title


def test_dashboard():
    """The dashboard needs a one-time sign-in link from the CLI; it lists a
    visited and a mirrored site with their titles, a click on "Mirror"
    mirrors a site (checked through the CLI), and its address box opens a
    site given in another address form."""
    with Cluster(BIN, 2) as c:
        me, blog, docs = dashboard_sites(c)
        # The API refuses anyone without the token or a session key.
        assert request(me.gateway_port, "localhost", "/api/v1/sites",
                       headers={"Authorization": "Bearer " + "0" * 32})[0] == 401
        with Chromium() as browser:
            dashboard_sign_in_and_mirror(browser, me, blog, docs,
                                         os.path.join(BUILD, "e2e-dashboard.png"))
            dashboard_open_from_box(browser, docs)


def test_dashboard_timeline():
    """The dashboard's timeline: following a feed from its form (any address
    form, a handle) shows the feed's posts, text as text (a post's markup is
    not parsed); a new post appears without a reload; blocking the feed from
    its row (two clicks) empties the timeline."""
    with Cluster(BIN, 2) as c:
        author, me = c[1], c[2]
        folder = os.path.join(c.dir, "feed")
        author.run("new", folder, "--template", "feed")
        hostile = "<b id=injected>bold</b> & <img src=x onerror=alert(1)>"
        address = author.json("post", folder, hostile)["publish"]["address"]
        gw = me.gateway_port
        with Chromium() as browser:
            browser.navigate(me.run("dashboard").stdout.strip())
            browser.wait("document.getElementById('main').hidden === false")
            browser.eval("document.getElementById('follow-address').value = %s"
                         % json.dumps("hostless://" + address))
            browser.eval("document.getElementById('follow-handle').value = 'alice'")
            browser.click("#follow-form button")
            first = "document.querySelector('#timeline .post-text')"
            text = browser.wait("%s && %s.textContent" % (first, first), timeout=90)
            assert text == hostile, text
            assert browser.eval("document.getElementById('injected') === null")
            assert browser.eval("document.querySelector('#timeline .post b').textContent") \
                == "@alice"
            assert [f["handle"] for f in me.json("following")] == ["alice"]

            author.json("post", folder, "a second post")
            browser.wait("%s && %s.textContent === 'a second post'" % (first, first), timeout=60)
            shot = os.path.join(BUILD, "e2e-timeline.png")
            browser.screenshot(shot)
            assert os.path.getsize(shot) > 10000
            print("screenshot:", shot)

            button = 'tr[data-address="%s"] button[data-action="block"]' % address
            browser.click(button)
            browser.click(button)  # armed: the second click blocks
            role = lambda: [s["role"] for s in me.json("sites") if s["address"] == address]  # noqa
            assert wait_for(lambda: role() == ["blocked"], 30), role()
            browser.wait("document.querySelectorAll('#timeline .post').length === 0")
            assert request(gw, address + ".localhost", "/")[0] != 200


def test_dashboard_post():
    """Posting from the dashboard: the author's dashboard offers its feed
    (made and first posted to with the command line), posts a text and a
    reply to a followed feed's post; both reach the reader's timeline, by
    push, and the reader's dashboard shows them (screenshot)."""
    with Cluster(BIN, 2) as c:
        author, reader = c[1], c[2]
        folder = os.path.join(c.dir, "feed")
        author.run("new", folder, "--template", "feed")
        address = author.json("post", folder, "from the command line")["publish"]["address"]
        # The reader's own feed, which the author follows: the reply's target.
        reader_folder = os.path.join(c.dir, "reader-feed")
        reader.run("new", reader_folder, "--template", "feed")
        reader_address = reader.json("post", reader_folder,
                                     "a question")["publish"]["address"]
        reader.json("follow", address, "--as", "alice")
        author.json("follow", reader_address, "--as", "bob")

        def reader_posts():
            return [(p["text"], p.get("reply_to", ""), p.get("own", False))
                    for p in reader.json("timeline")["posts"]]

        with Chromium() as browser:
            browser.navigate(author.run("dashboard").stdout.strip())
            browser.wait("document.getElementById('post-form').hidden === false", timeout=30)
            assert browser.eval("document.getElementById('post-feed').value") == address
            hostile = "<script>alert(1)</script> posted from the dashboard"
            browser.eval("document.getElementById('post-text').value = %s" % json.dumps(hostile))
            browser.click("#post-form button[type=submit]")
            browser.wait("document.getElementById('message').textContent.startsWith('posted')",
                         timeout=60)
            assert wait_for(lambda: reader_posts()[:1] == [(hostile, "", False)], 30), \
                reader_posts()
            print("posted from the dashboard; in the reader's timeline")

            # Reply to bob's post: its Reply button, then Post.
            bob = ("Array.from(document.querySelectorAll('#timeline .post'))"
                   ".find((li) => li.querySelector('.post-text').textContent === 'a question')")
            browser.wait("%s !== undefined" % bob, timeout=60)
            browser.eval("%s.querySelector('button.reply').click()" % bob)
            assert browser.eval("document.getElementById('post-reply').hidden") is False
            browser.eval("document.getElementById('post-text').value = 'an answer'")
            browser.click("#post-form button[type=submit]")
            browser.wait("document.getElementById('message').textContent.startsWith('posted')"
                         " && document.getElementById('post-text').value === ''", timeout=60)
            question = [p for p in reader.json("timeline")["posts"] if p["text"] == "a question"]
            assert question and question[0]["own"], question

            def answered():
                return [p for p in reader.json("timeline")["posts"] if p["text"] == "an answer"]

            assert wait_for(lambda: answered(), 30), reader_posts()
            assert answered()[0]["reply_to"] == question[0]["url"], answered()
            print("a reply from the dashboard, threaded in the reader's timeline")

            # The reader's dashboard shows both.
            browser.navigate(reader.run("dashboard").stdout.strip())
            texts = "Array.from(document.querySelectorAll('#timeline .post-text'))" \
                    ".map((e) => e.textContent)"
            browser.wait("%s.includes('an answer') && %s.includes(%s)"
                         % (texts, texts, json.dumps(hostile)), timeout=30)
            assert "reply to you" in browser.eval(
                "document.querySelector('#timeline .post-head').textContent")
            assert browser.eval("document.querySelectorAll('#timeline button.reply').length") == 4
            assert browser.eval("document.querySelector('#timeline script') === null")
            browser.eval("document.getElementById('feeds').scrollIntoView()")
            shot = os.path.join(BUILD, "e2e-post.png")
            browser.screenshot(shot)
            assert os.path.getsize(shot) > 10000
            print("screenshot:", shot)


def crawl(browser, port, address, start_paths):
    """Loads every page of a site reachable from start_paths in Chromium;
    every link and asset of every page must answer 200 (404 for the missing
    page). Returns the number of URLs checked."""
    host = "%s.localhost:%d" % (address, port)
    base = "http://" + host
    queue, seen, checked = list(start_paths), set(start_paths), 0
    while queue:
        path = queue.pop(0)
        browser.navigate(base + path)
        browser.wait("location.host === %s && document.readyState === 'complete' && "
                     "location.pathname === %s"
                     % (json.dumps(host), json.dumps(urllib.parse.urlsplit(path).path)))
        # Every image decoded, every stylesheet loaded.
        broken = browser.eval("[...document.images].filter(i => !i.complete || "
                              "i.naturalWidth === 0).map(i => i.src).concat("
                              "[...document.querySelectorAll('link[rel=stylesheet]')]"
                              ".filter(l => !l.sheet).map(l => l.href))")
        assert not broken, (path, broken)
        urls = browser.eval("[...document.querySelectorAll('a[href], link[href], img[src], "
                            "script[src]')].map(e => e.href || e.src)")
        for url in urls:
            u = urllib.parse.urlsplit(url)
            assert u.netloc == host, (path, url)  # no link leaves the site
            target = u.path or "/"
            status, _ = request(port, host, target)
            assert status == 200, (path, url, status)
            checked += 1
            if (target.endswith(".html") or target.endswith("/")) and target not in seen:
                seen.add(target)
                queue.append(target)
    return checked


def test_templates_render():
    """Every starter template, published on one node and rendered through
    another's gateway in Chromium: every page reachable from its front page
    and its 404 page loads, and every link and asset answers 200."""
    with Cluster(BIN, 2) as c:
        templates = c[1].json("new", "--list")
        assert {"minimal", "blog", "docs"} <= {t["name"] for t in templates}, templates
        with Chromium() as browser:
            for t in templates:
                address = new_site(c[1], os.path.join(c.dir, t["name"]), t["name"])
                gw = c[2].gateway_port
                host = "%s.localhost:%d" % (address, gw)
                assert wait_for(lambda: request(gw, host, "/")[0] == 200, 60)
                missing = request(gw, host, "/no-such-page")[0]
                starts = ["/"]
                if os.path.exists(os.path.join(c.dir, t["name"], "404.html")):
                    assert missing == 404
                    starts.append("/no-such-page")
                n = crawl(browser, gw, address, starts)
                print("template %s: %d links and assets, all 200" % (t["name"], n))


COMPLETION_SCRIPT = """
source /usr/share/bash-completion/bash_completion
source "$1"
t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE="$*"
      COMP_POINT=${#COMP_LINE}; COMPREPLY=(); _hostless; echo "${COMPREPLY[*]}"; }
t hostless pub
t hostless new --template ""
t hostless daemon --upl
t hostless keys ""
"""


def test_cli():
    """Every command's --help exits 0 and shows an example; bash completes
    commands, options and template names."""
    commands = [["daemon"], ["new"], ["publish"], ["resolve"], ["get"], ["torrent"],
                ["mirror"], ["unmirror"], ["follow"], ["unfollow"], ["following"], ["timeline"], ["dashboard"], ["status"], ["sites"], ["keys"],
                ["keys", "list"], ["keys", "new"], ["keys", "export"], ["keys", "import"],
                ["post"], ["block"], ["unblock"], ["network"], ["blocklist"],
                ["blocklist", "subscribe"], ["blocklist", "unsubscribe"], ["blocklist", "list"]]
    for cmd in [[]] + commands:
        p = subprocess.run([BIN] + cmd + ["--help"], capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, (cmd, p.returncode, p.stderr)
        assert "Example" in p.stdout, (cmd, p.stdout)
    script = os.path.join(HERE, "..", "..", "src", "cli", "completion", "hostless.bash")
    env = dict(os.environ, PATH=os.path.dirname(BIN) + ":" + os.environ["PATH"])
    p = subprocess.run(["bash", "-c", COMPLETION_SCRIPT, "bash", script], capture_output=True,
                       text=True, timeout=30, env=env)
    assert p.stdout.split("\n")[:4] == ["publish", "blog docs feed minimal", "--upload-limit",
                                        "list new export import"], (p.stdout, p.stderr)


EMBEDDER_SCRIPT = """
window.addEventListener('load', async () => {
  const r = {};
  const other = 'http://' + OTHER + '.localhost:' + location.port;
  const img = new Image();
  r.img = await new Promise(done => {
    img.onload = () => done(img.naturalWidth);
    img.onerror = () => done(0);
    img.src = other + '/dot.png';
  });
  r.script = await new Promise(done => {
    const s = document.createElement('script');
    s.onload = () => done(window.otherRan === true ? 'ran' : 'loaded');
    s.onerror = () => done('refused');
    s.src = other + '/run.js';
    document.head.appendChild(s);
  });
  try {
    await fetch(other + '/data.txt', {mode: 'no-cors'});
    r.fetch = 'sent';
  } catch (e) { r.fetch = 'error'; }
  const frame = document.createElement('iframe');
  frame.src = other + '/';
  document.body.appendChild(frame);
  await new Promise(done => { frame.onload = done; setTimeout(done, 3000); });
  // A forged API call: a form-like POST needs no CORS grant to be sent, but
  // carries no token.
  try {
    await fetch('http://localhost:' + location.port + '/api/v1/mirror',
                {method: 'POST', mode: 'no-cors', body: JSON.stringify({address: OTHER})});
    r.csrf = 'sent';
  } catch (e) { r.csrf = 'error'; }
  document.getElementById('result').textContent = JSON.stringify(r);
});
"""


def test_browser_security():
    """A page of site A that loads site B (image, script, fetch, frame) does not
    make the node fetch and seed B, nor learn whether the user holds B: the
    answer is the same before and after the user opened B, unless the daemon
    allows embedding. A click on A's link to B shows "Open this site?", and
    its button opens B. A site's script cannot call the API, and a foreign
    Host (DNS rebinding) is refused."""
    with Cluster(BIN, 3, extra_for={3: ["--allow-embedded-sites"]}) as c:
        b_dir = make_site(os.path.join(c.dir, "b"), {
            "index.html": "<!doctype html><title>B</title><h1>site B</h1>",
            "dot.png": png(9, 4, (0, 128, 0)), "run.js": "window.otherRan = true;",
            "data.txt": "data"})
        b = c[1].json("publish", b_dir)["address"]
        a_dir = make_site(os.path.join(c.dir, "a"), {
            "index.html": "<!doctype html><title>A</title><h1>site A</h1><pre id=result></pre>"
                          "<p><a id=to-b href='http://%s.localhost:%d/'>B</a></p>"
                          % (b, c[2].gateway_port) +
                          "<script>const OTHER = %s;</script><script src=embed.js></script>"
                          % json.dumps(b),
            "embed.js": EMBEDDER_SCRIPT})
        a = c[1].json("publish", a_dir)["address"]
        browser = Browser()
        try:
            def held(node):
                return {s["address"]: s["role"] for s in node.json("sites")}

            def open_a(node):
                return browser.result("http://%s.localhost:%d/" % (a, node.gateway_port))

            visitor = c[2]
            r = open_a(visitor)
            print("A's page, B never opened:", r)
            assert r["img"] == 0 and r["script"] == "refused", r
            never_opened = r
            sites = held(visitor)
            assert sites == {a: "visited"}, sites  # B never fetched, A not mirrored
            log = visitor.read_log()
            assert b not in log, log[-2000:]
            status, body = request(visitor.gateway_port, "%s.localhost" % b, "/dot.png",
                                   headers={"Sec-Fetch-Site": "cross-site",
                                            "Sec-Fetch-Mode": "no-cors",
                                            "Sec-Fetch-Dest": "image"})
            assert status == 403, (status, body)
            print("drive-by loads of an unopened site: refused (img, script, fetch, frame)")

            # A click on A's link to B: "Open this site?" on B's origin; its
            # button opens B.
            with Chromium() as tab:
                tab.navigate("http://%s.localhost:%d/" % (a, visitor.gateway_port))
                tab.wait("document.title === 'A'")
                tab.click("#to-b")
                tab.wait("document.title === 'Open this site?'")
                assert held(visitor) == {a: "visited"}
                tab.click("form button")
                tab.wait("document.title === 'B'", 60)
            assert held(visitor) == {a: "visited", b: "visited"}
            print("a link to an unopened site: the interstitial, then the site")

            # A's page still gets the same answer for B: the node's holdings
            # are not for other sites' pages to learn.
            r = open_a(visitor)
            print("A's page, B opened:", r)
            assert r == never_opened, (r, never_opened)

            # A daemon configured to allow it fetches B for A's page.
            r = open_a(c[3])
            assert r["img"] == 9 and r["script"] == "ran", r
            assert held(c[3]) == {a: "visited", b: "visited"}

            # DNS rebinding: a name that resolves to the gateway gets nothing.
            rules = "--host-resolver-rules=MAP rebind.test 127.0.0.1"
            for path in ["/", "/api/v1/status", "/s/%s/" % b]:
                dom = browser.run("http://rebind.test:%d%s" % (visitor.gateway_port, path),
                                  "--dump-dom", rules)
                assert "refuses this Host" in dom and "site B" not in dom, dom[:500]
            print("foreign Host refused in the browser")
        finally:
            browser.close()


if __name__ == "__main__":
    BIN = os.path.abspath(sys.argv[1])
    BUILD = os.path.abspath(sys.argv[2])
    name = sys.argv[3]
    globals()[name]()
    print("ok", name)
