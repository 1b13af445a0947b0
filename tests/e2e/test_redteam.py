#!/usr/bin/python3
"""The red-team suite (security issue 20, item 7): real Chromium, real daemons
on 127.0.0.1, and an attacker. The attacker is a website on another origin
(a small HTTP server this test runs, reached as http://evil.test:PORT/) or a
hostile hostless site the user opened; it tries to tell the sites the user
holds from unknown ones, to make the node fetch and seed a site, to reach the
API and the dashboard, and to keep a service worker on a site. Every attempt
must fail; each test says what it attacks and what holds.

usage: test_redteam.py HOSTLESS_BINARY BUILD_DIR TEST_NAME
"""
import http.client
import html
import http.server
import json
import os
import struct
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from harness import Cluster, make_site, wait_for  # noqa: E402
from cdp import Chromium  # noqa: E402
from test_browser import png, request  # noqa: E402

BIN = None
BUILD = None

# evil.test is the attacker's website; any other *.test name is a DNS name the
# attacker rebinds to 127.0.0.1. Both resolve to loopback only in this
# Chromium, so nothing leaves the machine.
RESOLVER = "--host-resolver-rules=MAP *.test 127.0.0.1"
TRIALS = 20  # per probe and per kind of site (held, unknown)


def wav(samples=800):
    """A short silent WAV (8 kHz, 8-bit mono) that <audio> can load."""
    data = b"\x80" * samples
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, 1, 1, 8000, 8000, 1, 8) + b"data" +
            struct.pack("<I", len(data)) + data)


def target_files(title):
    """A site worth sniffing: every kind of file a probe loads. The page has a
    frame of its own, so a page that could count a window's frames would see
    1 here and 0 on any refusal."""
    return {
        "index.html": "<!doctype html><title>%s</title><h1>%s</h1>"
                      "<iframe src=about.html></iframe>" % (title, title),
        "about.html": "<!doctype html><title>about</title><p>about</p>",
        "dot.png": png(3, 3, (200, 0, 0)),
        "run.js": "window.ran = true;",
        "style.css": "body { color: red; }",
        "tone.wav": wav(),
    }


# The attacker's script, in the website's page and in a hostile hostless
# site's page alike; CFG (defined after it) says where things are. The test
# calls its functions in the page over the DevTools protocol (as the page's
# own script could) and judges what they return.
ATTACK_JS = r"""
const sleep = ms => new Promise(done => setTimeout(done, ms));
const siteUrl = a => 'http://' + a + '.localhost:' + CFG.gw;
const bust = () => '?r=' + Math.random().toString(36).slice(2);

// One element's load: 'load', 'error' or 'timeout'; the element is removed.
function elementLoad(el, set, okEvent, parent) {
  return new Promise(done => {
    let timer;
    const finish = outcome => { clearTimeout(timer); el.remove(); done(outcome); };
    timer = setTimeout(() => finish('timeout'), 5000);
    el.addEventListener(okEvent || 'load', () => finish('load'));
    el.addEventListener('error', () => finish('error'));
    set(el);
    if (parent) parent.appendChild(el);
  });
}

function frameLoad(url) {
  return new Promise(done => {
    const f = document.createElement('iframe');
    let timer;
    const finish = outcome => {
      clearTimeout(timer);
      let frames;  // a window's frame count is readable across origins
      try { frames = f.contentWindow.length; } catch (e) { frames = 'n/a'; }
      let readable;
      try { readable = f.contentDocument !== null; } catch (e) { readable = false; }
      f.remove();
      done(outcome + ' frames=' + frames + ' readable=' + readable);
    };
    timer = setTimeout(() => finish('timeout'), 5000);
    f.onload = () => finish('load');
    f.onerror = () => finish('error');
    f.src = url;
    document.body.appendChild(f);
  });
}

const PROBES = {
  img: a => elementLoad(new Image(), e => { e.src = siteUrl(a) + '/dot.png' + bust(); }),
  img_via_s: a => elementLoad(new Image(), e => {
    e.src = 'http://localhost:' + CFG.gw + '/s/' + a + '/dot.png' + bust(); }),
  script: a => elementLoad(document.createElement('script'),
                           e => { e.src = siteUrl(a) + '/run.js' + bust(); }, 'load', document.head),
  style: a => elementLoad(document.createElement('link'), e => {
    e.rel = 'stylesheet'; e.href = siteUrl(a) + '/style.css' + bust(); }, 'load', document.head),
  audio: a => elementLoad(new Audio(), e => {
    e.preload = 'auto'; e.src = siteUrl(a) + '/tone.wav' + bust(); }, 'loadedmetadata'),
  object: a => elementLoad(document.createElement('object'),
                           e => { e.data = siteUrl(a) + '/' + bust(); }, 'load', document.body),
  iframe: a => frameLoad(siteUrl(a) + '/' + bust()),
  fetch_no_cors: a => fetch(siteUrl(a) + '/index.html' + bust(), {mode: 'no-cors'})
                        .then(x => 'resolved ' + x.type + ' ' + x.status, () => 'rejected'),
  fetch_cors: a => fetch(siteUrl(a) + '/index.html' + bust(), {credentials: 'include'})
                     .then(x => 'read ' + x.status, () => 'rejected'),
};

// History sniffing: every probe, `trials` times on the held and on the
// unknown site, interleaved in a random order so that the machine's drift
// hits both alike.
async function sniff(trials) {
  const r = {outcomes: {}, times: {}};
  for (let i = 0; i < trials; i++) {
    for (const [name, probe] of Object.entries(PROBES)) {
      const pair = [['held', CFG.held], ['unknown', CFG.unknown]];
      if (Math.random() < 0.5) pair.reverse();
      for (const [label, a] of pair) {
        const t = performance.now();
        const outcome = await probe(a);
        const ms = performance.now() - t;
        ((r.outcomes[name] ??= {})[label] ??= []).push(outcome);
        ((r.times[name] ??= {})[label] ??= []).push(ms);
      }
    }
  }
  return r;
}

function submit(action, method, fields, target, enctype) {
  const f = document.createElement('form');
  f.method = method; f.action = action; f.target = target;
  if (enctype) f.enctype = enctype;
  for (const [k, v] of Object.entries(fields)) {
    f.appendChild(Object.assign(document.createElement('input'), {type: 'hidden', name: k, value: v}));
  }
  document.body.appendChild(f);
  f.submit();
  f.remove();
}

// Drive-by opening: one way of sending the browser to the never-opened site
// at `u` (each way gets a site of its own, so the test can say which way, if
// any, made the node fetch it). `w` is the popup one user click gave.
const zeros = '0'.repeat(32);
const OPEN_WAYS = {
  'popup location': u => { w.location = u + '/'; },
  'popup location, a file': u => { w.location = u + '/dot.png'; },
  'popup location, a bad path (400)': u => { w.location = u + '/%00'; },
  'popup location, above the root': u => { w.location = u + '/%2e%2e/%2e%2e/x'; },
  'form GET': u => submit(u + '/', 'GET', {q: '1'}, 'victim'),
  'form POST, no fields (405)': u => submit(u + '/', 'POST', {}, 'victim'),
  'form POST, a field (413)': u => submit(u + '/index.html', 'POST', {q: '1'}, 'victim'),
  'Open it, no nonce': u => submit(u + '/.hostless/open?path=/', 'POST', {}, 'victim'),
  'Open it, forged nonce': u => submit(u + '/.hostless/open?nonce=' + zeros + '&path=/',
                                       'POST', {}, 'victim'),
  'Open it, nonce in the body': u => submit(u + '/.hostless/open', 'POST',
                                            {nonce: zeros, path: '/'}, 'victim'),
  'Open it, no-cors fetch': u => fetch(u + '/.hostless/open?nonce=' + zeros + '&path=/',
                                       {method: 'POST', mode: 'no-cors'}).catch(() => {}),
  'meta refresh': u => { w.location = CFG.refresh + '?to=' + encodeURIComponent(u + '/'); },
  'HTTP redirect': u => { w.location = CFG.redirect + '?to=' + encodeURIComponent(u + '/'); },
  'the gateway\'s /s/ redirect': u => {
    w.location = 'http://localhost:' + CFG.gw + '/s/' + u.split('//')[1].split('.')[0] + '/'; },
  'a frame': async u => {
    const f = document.createElement('iframe');
    f.className = 'framed-interstitial';
    f.src = u + '/';
    document.body.appendChild(f);
  },
  'a second popup, no click': u => { window.open(u + '/', '_blank'); },
};

async function tryToOpen(way, u) {
  try { await OPEN_WAYS[way](u); } catch (e) { return 'threw ' + e; }
  await sleep(1500);
  let readable;  // what the popup lets this page see afterwards
  try { readable = w.document !== undefined; } catch (e) { readable = false; }
  return 'readable=' + readable + ' frames=' + w.length;
}

// The control API and the dashboard, on every loopback name.
async function control() {
  const r = {reads: {}, writes: {}};
  const hosts = ['localhost', '127.0.0.1', '[::1]'];
  const text = async x => 'read ' + x.status + ' ' + (await x.text()).slice(0, 80);
  for (const h of hosts) {
    const base = 'http://' + h + ':' + CFG.gw;
    for (const p of ['/api/v1/status', '/api/v1/sites', '/api/v1/following', '/']) {
      r.reads['cors ' + h + p] = await fetch(base + p, {credentials: 'include'})
        .then(text, () => 'rejected');
      r.reads['no-cors ' + h + p] = await fetch(base + p, {mode: 'no-cors', credentials: 'include'})
        .then(x => 'resolved ' + x.type + ' ' + x.status, () => 'rejected');
    }
  }
  const writes = {
    mirror: {address: CFG.unknown}, follow: {address: CFG.unknown, handle: 'evil'},
    subscribe: {address: CFG.unknown}, block: {address: CFG.held},
    unmirror: {address: CFG.held}, publish: {folder: CFG.folder},
    get: {address: CFG.unknown, folder: CFG.get_folder},
    post: {feed: CFG.held, text: 'owned'}, 'login-codes': {}, session: {code: 'x'.repeat(32)},
  };
  let sink = 0;
  const intoFrame = (action, fields, enctype) => new Promise(done => {
    const f = document.createElement('iframe');
    f.name = 'sink' + (++sink);
    document.body.appendChild(f);
    const timer = setTimeout(() => { f.remove(); done('timeout'); }, 4000);
    f.onload = () => { clearTimeout(timer); f.remove(); done('load'); };
    submit(action, 'POST', fields, f.name, enctype);
  });
  for (const [p, body] of Object.entries(writes)) {
    const json = JSON.stringify(body);
    for (const h of hosts) {
      const url = 'http://' + h + ':' + CFG.gw + '/api/v1/' + p;
      const out = r.writes[p + ' ' + h] = {};
      out.no_cors = await fetch(url, {method: 'POST', mode: 'no-cors', credentials: 'include',
                                      headers: {'Content-Type': 'text/plain'}, body: json})
        .then(x => 'resolved ' + x.type + ' ' + x.status, () => 'rejected');
      out.cors_json = await fetch(url, {method: 'POST', body: json,
                                        headers: {'Content-Type': 'application/json'}})
        .then(text, () => 'rejected');
      // A text/plain form sends "name=value": shaped so the body is JSON.
      out.form_text = await intoFrame(url, {[json.slice(0, -1) + ',"x":"']: '"}'}, 'text/plain');
      out.form_urlencoded = await intoFrame(url, body);
    }
  }
  // The dashboard in frames: the test checks over DevTools that none rendered.
  for (const h of hosts) {
    const f = document.createElement('iframe');
    f.className = 'dashboard';
    f.src = 'http://' + h + ':' + CFG.gw + '/';
    document.body.appendChild(f);
  }
  await sleep(2000);
  return r;
}
"""


def config_js(cfg):
    return "const CFG = %s;\n" % json.dumps(cfg)


EVIL_PAGE = """<!doctype html><meta charset=utf-8><title>evil</title>
<body><h1>a page on another website</h1><button id=go>Play</button>
<script>%s%s
let w = null;
document.getElementById('go').onclick = () => { w = window.open('about:blank', 'victim'); };
</script>"""

# The hostile hostless site's page: the same script, from its own origin.
HOSTILE_PAGE = """<!doctype html><meta charset=utf-8><title>hostile</title>
<body><h1>a hostless site that turns on its visitors</h1><button id=go>Play</button>
<script src=attack.js></script>
<script>
let w = null;
document.getElementById('go').onclick = () => { w = window.open('about:blank', 'victim'); };
</script>"""

class Attacker:
    """The attacker's website on 127.0.0.1, reached as http://evil.test:PORT/:
    {path: html}, plus /redirect?to=URL (a 302) and /refresh?to=URL (a page
    with a meta refresh)."""

    def __init__(self, pages):
        outer = self
        self.pages = pages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                to = urllib.parse.parse_qs(url.query).get("to", [""])[0]
                if url.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = outer.pages.get(url.path, "")
                if url.path == "/refresh":
                    body = "<!doctype html><meta http-equiv=refresh content=\"0; url=%s\">" \
                           "<title>refresh</title>" % html.escape(to)
                body = body.encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.origin = "http://evil.test:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


class Scene:
    """Two daemons: node 1 publishes a site the user opens on node 2 (typed,
    as a user does: `held`) and one node 2 never hears of (`unknown`); the
    attacker's website, whose page http://evil.test:PORT/ has the attack
    script; Chromium signed in to node 2's dashboard, the held site opened
    in it. `hostile`: an extra site node 1 publishes with the attack script
    as its attack.js, for the user to open."""

    def __init__(self, hostile=None):
        self.cluster = Cluster(BIN, 2)
        self.tab = self.attacker = None
        try:
            self._start(hostile)
        except BaseException:
            self.close()
            raise

    def _start(self, hostile):
        c = self.cluster
        self.publisher, self.victim = c[1], c[2]
        self.gw = self.victim.gateway_port
        self.held = self.publish("held")
        self.unknown = self.publish("unknown")
        # A folder a forged publish would publish, and one a forged get would
        # write into.
        self.folder = make_site(os.path.join(c.dir, "evil-folder"),
                                {"index.html": "<title>planted</title>"})
        self.get_folder = os.path.join(c.dir, "evil-get")
        self.attacker = Attacker({})
        cfg = {"gw": self.gw, "held": self.held, "unknown": self.unknown,
               "refresh": self.attacker.origin + "/refresh",
               "redirect": self.attacker.origin + "/redirect",
               "folder": self.folder, "get_folder": self.get_folder}
        self.attacker.pages["/"] = EVIL_PAGE % (ATTACK_JS, config_js(cfg))
        self.hostile = None
        if hostile is not None:
            self.hostile = self.publisher.json("publish", make_site(
                os.path.join(c.dir, "hostile"),
                dict(hostile, **{"attack.js": ATTACK_JS + config_js(cfg)})))["address"]

        self.tab = Chromium([RESOLVER])
        # The user signs in to the dashboard (so its session key sits in the
        # browser, where an attacker would want it) and opens the held site.
        self.tab.navigate(self.victim.run("dashboard").stdout.strip())
        self.tab.wait("document.getElementById('main').hidden === false", 30)
        self.open_in_closed_tab(self.held, "held")
        self.before = self.holdings()
        assert self.before == {self.held: "visited"}, self.before

    def publish(self, name):
        """A site node 1 publishes (node 2 hears nothing of it): its address."""
        return self.publisher.json("publish", make_site(
            os.path.join(self.cluster.dir, name), target_files(name)))["address"]

    def site_url(self, address, path="/"):
        return "http://%s.localhost:%d%s" % (address, self.gw, path)

    def open_typed(self, address, title):
        """The user types the site's address: a visit, through the swarm."""
        self.tab.navigate(self.site_url(address))
        self.tab.wait("document.title === %s" % json.dumps(title), 90)

    def open_in_closed_tab(self, address, title):
        """The user opens the site in a new tab, typing its address, and
        closes the tab when done.

        Why not in the attacker's tab: Chromium keeps the page of a tab's
        previous site alive (back/forward cache), and a cross-site frame of a
        site whose renderer process is alive commits some 200 ms sooner than
        one that needs a new process, whatever the server answers. That
        tells an attacker which site the user was just on (or has open in
        another tab), for any website alike: Chromium's leak, which no answer
        of the node's can close. With the tab closed, what the attacker can
        measure is what the node answers."""
        target = self.tab.call("Target.createTarget", url=self.site_url(address))["targetId"]

        def loaded():
            return [t for t in self.tab.call("Target.getTargets")["targetInfos"]
                    if t["targetId"] == target and t["title"] == title]

        assert wait_for(loaded, 90), self.pages()
        self.tab.call("Target.closeTarget", targetId=target)
        assert wait_for(lambda: not any(t["targetId"] == target for t in
                                        self.tab.call("Target.getTargets")["targetInfos"]), 30)

    def holdings(self):
        return {s["address"]: s["role"] for s in self.victim.json("sites")}

    def pages(self):
        """Chromium's open pages (tabs and popups): [(url, title)]."""
        return [(t["url"], t["title"]) for t in self.tab.call("Target.getTargets")["targetInfos"]
                if t["type"] == "page"]

    def assert_unknown_untouched(self, expected):
        """The node holds what the user opened and nothing else, and never
        looked the unknown site up."""
        time.sleep(2)  # a fetch started by the attack would show by now
        assert self.holdings() == expected, (self.holdings(), expected)
        log = self.victim.read_log()
        assert self.unknown not in log, log[-3000:]
        assert not os.path.exists(self.get_folder)
        assert self.victim.json("following") == []
        assert self.victim.json("blocklist", "list") == []
        print("the node holds only what the user opened; the unknown site was never looked up")

    def close(self):
        if self.tab:
            self.tab.close()
        if self.attacker:
            self.attacker.close()
        self.cluster.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            for n in self.cluster.nodes:
                print("---- node %d log ----\n%s" % (n.index, n.read_log()[-3000:]))
        self.close()


def best_threshold_accuracy(held, unknown):
    """How often the best single timing threshold (either way round) tells a
    held site's probe from an unknown site's: 0.5 is a coin flip, 1.0 a clean
    separation."""
    points = sorted([(t, 1) for t in held] + [(t, 0) for t in unknown])
    best, held_below, unknown_below = 0.5, 0, 0
    for _, is_held in points:
        held_below += is_held
        unknown_below += 1 - is_held
        right = held_below + len(unknown) - unknown_below  # "fast means held"
        accuracy = right / len(points)
        best = max(best, accuracy, 1 - accuracy)
    return best


# Why this criterion: the defence answers every cross-site load with one 403
# before anything is looked up, so held and unknown times come from the same
# distribution; a leak worth having (a DHT lookup, a fetch, a read of the
# site) costs milliseconds to seconds and separates them almost perfectly.
# The best threshold chosen after the fact over 2 x 20 samples of one
# distribution reaches 85 % right with probability about 1e-4 (the two-sample
# Kolmogorov-Smirnov statistic D = 2 * accuracy - 1 >= 0.7), so the bound
# does not flake on a noisy machine, and the random interleaving makes the
# machine's drift hit both sides alike. Medians are printed for the record.
MAX_ACCURACY = 0.85


def check_sniffing(r, where):
    """Every probe's outcomes are the same for the held and the unknown site,
    none read anything, and timing does not tell them apart."""
    assert "error" not in r, (where, r)
    for name, by in sorted(r["outcomes"].items()):
        held, unknown = by["held"], by["unknown"]
        assert len(held) == len(unknown) >= 10, (where, name, by)
        assert sorted(set(held)) == sorted(set(unknown)), (where, name, by)
        assert len(set(held)) == 1, (where, name, by)  # not even now and then
        assert not held[0].startswith("read"), (where, name, by)
        assert "readable=true" not in held[0] and "frames=1" not in held[0], (where, name, by)
        assert "opaque" not in held[0] or name == "fetch_no_cors", (where, name, by)
    separated = []
    for name, t in sorted(r["times"].items()):
        held, unknown = sorted(t["held"]), sorted(t["unknown"])
        accuracy = best_threshold_accuracy(held, unknown)
        print("%s %-13s %-36s held median %6.1f ms, unknown %6.1f ms, best threshold %3.0f %%"
              % (where, name, r["outcomes"][name]["held"][0], held[len(held) // 2],
                 unknown[len(unknown) // 2], 100 * accuracy))
        if accuracy > MAX_ACCURACY:
            separated.append((name, accuracy, held, unknown))
    assert not separated, (where, separated)


def attack_open(s, where):
    """Runs every way of OPEN_WAYS from the page in s.tab (its popup opened
    by one user click), each against a site of its own that node 1
    published and node 2 never heard of. Asserts that none made the node
    fetch its site, that the popup ends on "Open this site?" and tells the
    page nothing, and that the framed interstitial did not render."""
    ways = s.tab.eval("Object.keys(OPEN_WAYS)")
    targets = {way: s.publish("target%d" % i) for i, way in enumerate(ways)}
    s.tab.click("#go")  # the user's one click gives the page a popup
    s.tab.wait("w !== null")
    outcomes = {}
    for way in ways:
        outcomes[way] = s.tab.eval("tryToOpen(%s, %s)" % (
            json.dumps(way), json.dumps(s.site_url(targets[way]).rstrip("/"))))
        print("%s %-34s -> %s" % (where, way, outcomes[way]))
    time.sleep(3)  # a fetch started by any of them would show by now
    held = s.holdings()
    log = s.victim.read_log()
    fetched = [way for way in ways if targets[way] in held]
    looked_up = [way for way in ways if targets[way] in log]
    assert not fetched and not looked_up, \
        "%s these ways made the node fetch and seed a site the user never opened: %s " \
        "(looked up: %s)" % (where, fetched, looked_up)
    for way, outcome in outcomes.items():
        assert outcome == "readable=false frames=0", (where, way, outcome)
    # The popup shows "Open this site?" on the last site's origin: the
    # defence, which asks the user and fetches nothing meanwhile.
    last = targets["the gateway's /s/ redirect"]  # the popup's last navigation
    assert any(last in url and title == "Open this site?" for url, title in s.pages()), \
        s.pages()
    framed = [d for url, ds in frame_documents(s.tab).items() for d in ds
              if targets["a frame"] in url]
    assert framed, frame_documents(s.tab)
    for href, title, text in framed:  # Chromium's "refused to connect" page
        assert href.startswith("chrome-error:") and "Open it" not in text, (href, title, text)
    print(where, "drive-by opening: %d ways, none made the node fetch; the popup shows "
          "\"Open this site?\", the framed one is blocked" % len(ways))
    return targets


def run_in_page(tab, expression, timeout):
    """The value of a page's promise that may take longer than one DevTools
    call waits."""
    tab.eval("window.__done = null; Promise.resolve(%s).then(v => { window.__done = {v}; }, "
             "e => { window.__done = {e: String(e)}; }); 1" % expression)
    done = tab.wait("window.__done", timeout)
    assert "e" not in done, (expression, done)
    return done["v"]


def frame_documents(tab):
    """{frame url: [(location, title, text)]} of every frame of another
    origin in the tab (each is a target of its own in Chromium), read in
    that frame: what the user would see in it."""
    tab.call("Target.setAutoAttach", autoAttach=True, waitForDebuggerOnStart=False,
             flatten=True)
    out = {}
    for t in tab.call("Target.getTargets")["targetInfos"]:
        if t["type"] != "iframe":
            continue
        session = tab.call("Target.attachToTarget", targetId=t["targetId"],
                           flatten=True)["sessionId"]
        tab.next_id += 1
        tab.ws.send(json.dumps({"id": tab.next_id, "sessionId": session,
                                "method": "Runtime.evaluate", "params": {
                                    "returnByValue": True, "expression":
                                    "JSON.stringify([location.href, document.title, "
                                    "document.body ? document.body.innerText : ''])"}}))
        while True:
            msg = json.loads(tab.ws.recv())
            if msg.get("id") == tab.next_id:
                break
        href, title, text = json.loads(msg["result"]["result"]["value"])
        out.setdefault(t["url"], []).append((href, title, text[:300]))
        tab.call("Target.detachFromTarget", sessionId=session)
    return out


def check_control(s, r, where):
    """Nothing of the API or the dashboard was readable, every write was
    refused or unreadable, and no frame shows the dashboard."""
    assert "error" not in r, (where, r)
    for what, outcome in r["reads"].items():
        assert outcome in ("rejected", "resolved opaque 0"), (where, what, outcome)
    for what, out in r["writes"].items():
        assert out["no_cors"] in ("rejected", "resolved opaque 0"), (where, what, out)
        assert out["cors_json"] == "rejected", (where, what, out)  # no preflight grant
    dashboards = [d for url, ds in frame_documents(s.tab).items() for d in ds
                  if any(url.startswith("http://%s:%d/" % (h, s.gw))
                         for h in ("localhost", "127.0.0.1", "[::1]"))]
    assert len(dashboards) == 3, frame_documents(s.tab)
    for href, title, text in dashboards:  # Chromium's "refused to connect" page
        assert href.startswith("chrome-error:") and s.held not in text, (where, href, text)
    print(where, "API and dashboard: %d reads and %d writes (4 ways each), none got through; "
          "no frame shows the dashboard" % (len(r["reads"]), len(r["writes"])))


def test_redteam_sniffing():
    """A website on another origin tries to tell a site the user holds from
    one the node never heard of: image (direct and through the gateway's /s/
    redirect), script, stylesheet, audio, <object>, <iframe> (its load event
    and frame count), no-cors and CORS fetch, 20 interleaved trials each.
    Every outcome is the same for both, nothing is readable, no timing
    threshold separates them, and the unknown site was never looked up."""
    with Scene() as s:
        s.tab.navigate(s.attacker.origin + "/")
        s.tab.wait("document.title === 'evil'")
        check_sniffing(run_in_page(s.tab, "sniff(%d)" % TRIALS, 240), "website:")
        s.assert_unknown_untouched(s.before)


def test_redteam_open():
    """A website on another origin tries to make the node fetch (and so seed)
    sites the user never opened: after one click on its page (a popup), it
    sends the popup there by script (the front page, a file, a bad path, a
    path above the root), by GET and POST forms (with and without fields),
    by a meta refresh, an HTTP redirect and the gateway's own /s/
    redirect; it posts "Open it" with no nonce, a forged one, one in the
    body, and by fetch; it frames the site, and opens a second popup with
    no click; at last it navigates its own tab there. The browser shows
    "Open this site?" at most (never framed, never readable), and the node
    holds nothing new and looked nothing up."""
    with Scene() as s:
        s.tab.navigate(s.attacker.origin + "/")
        s.tab.wait("document.title === 'evil'")
        attack_open(s, "website:")
        s.tab.eval("location.href = %s" % json.dumps(s.site_url(s.unknown)))
        s.tab.wait("document.title === 'Open this site?'")
        s.assert_unknown_untouched(s.before)


def test_redteam_control():
    """A website on another origin tries to reach the control API and the
    dashboard of a signed-in user, on localhost, 127.0.0.1 and [::1]: CORS
    and no-cors reads of status, sites, following and the dashboard;
    no-cors POSTs with JSON-shaped text/plain bodies, CORS JSON POSTs, and
    text/plain and urlencoded form POSTs to mirror, follow, subscribe,
    block, unmirror, publish, get, post, login-codes and session; the
    dashboard in frames. Then DNS rebinding: names of the attacker's mapped
    to 127.0.0.1 (bare, and ending in a site's or localhost's name) at the
    gateway's port, whose pages then read "their own" origin. Nothing is
    readable, no frame shows the dashboard, no state changed (no mirror,
    follow, block, blocklist, publish, get), and the user's dashboard
    session still works."""
    with Scene() as s:
        s.tab.navigate(s.attacker.origin + "/")
        s.tab.wait("document.title === 'evil'")
        check_control(s, run_in_page(s.tab, "control()", 180), "website:")
        s.assert_unknown_untouched(s.before)
        dashboard_still_signed_in(s)
        check_rebinding(s)


def dashboard_still_signed_in(s):
    """The user's dashboard session, made before the attack, still lists the
    held site: no forged sign-in pushed it out, no forged call changed it."""
    s.tab.navigate("http://localhost:%d/" % s.gw)
    row = "document.querySelector('tr[data-address=\"%s\"] .role')" % s.held
    s.tab.wait("%s && %s.textContent === 'visited'" % (row, row), 30)
    print("the user's dashboard session still works")


REBIND_READS = """
(async () => {
  const out = [];
  const go = async (path, init) => {
    try {
      const x = await fetch(path, init);
      out.push([path, x.status, (await x.text()).slice(0, 120)]);
    } catch (e) { out.push([path, 'rejected', String(e)]); }
  };
  for (const p of ['/', '/api/v1/status', '/api/v1/sites', '/s/HELD/', '/dot.png',
                   '/dashboard.js', '/index.html']) await go(p);
  for (const p of ['/api/v1/session', '/api/v1/login-codes', '/api/v1/mirror'])
    await go(p, {method: 'POST', headers: {'Content-Type': 'application/json'},
                 body: JSON.stringify({code: 'x', address: 'HELD'})});
  return JSON.stringify(out);
})()
"""


def check_rebinding(s):
    """DNS rebinding: the attacker's name now resolves to 127.0.0.1, so its
    page at the gateway's port is same-origin with whatever the gateway
    answers for that name. It answers only the refusal."""
    names = ["rebind.test", "localhost.rebind.test", "%s.localhost.rebind.test" % s.held,
             "%s.rebind.test" % s.held, "127.0.0.1.rebind.test"]
    # The attacker's page was loaded from its own server before the name
    # moved, so no CSP of the gateway's binds it: the refusal page stands in
    # for it, with its CSP bypassed.
    s.tab.call("Page.setBypassCSP", enabled=True)
    for name in names:
        s.tab.navigate("http://%s:%d/" % (name, s.gw))
        s.tab.wait("document.readyState === 'complete' && location.hostname === %s"
                   % json.dumps(name))
        assert "refuses this Host" in s.tab.eval("document.body.innerText"), name
        reads = json.loads(s.tab.eval(REBIND_READS.replace("HELD", s.held)))
        for path, status, text in reads:  # (a body for a foreign Host is refused unread)
            assert (status, text.startswith("hostless refuses this Host")) == (403, True) or \
                (status, text) == (413, "hostless: this host takes no request body\n"), \
                (name, path, status, text)
        # The same names without a browser, with the real token even, and
        # with a port in the Host that is not the gateway's.
        for host in (name, "%s:%d" % (name, s.gw), "%s:80" % name):
            status, body = request(s.gw, host, "/api/v1/status",
                                   headers={"Authorization": "Bearer " + token(s.victim)})
            assert status == 403 and b"refuses this Host" in body, (host, status, body)
    print("DNS rebinding: %d names, their pages read only the refusal" % len(names))


def token(node):
    with open(os.path.join(node.home, "api-token")) as f:
        return f.read().strip()


def test_redteam_hostile_site():
    """A hostless site the user opened (published by node 1, opened on
    node 2) turns on its visitor: its script runs every attack of the
    website's from the hostless origin, which the browser counts as another
    site too: sniffing the held site against the unknown one (20
    interleaved trials of every probe), drive-by opening of never-opened
    sites (every way of test_redteam_open), and the API and the dashboard
    (reads, no-cors and form writes, frames). Every attempt fails as it
    does for the website; the node holds the two sites the user opened and
    nothing else, and the user's dashboard session still works."""
    with Scene(hostile={"index.html": HOSTILE_PAGE}) as s:
        s.open_typed(s.hostile, "hostile")
        expected = {s.held: "visited", s.hostile: "visited"}
        assert s.holdings() == expected, s.holdings()
        check_sniffing(run_in_page(s.tab, "sniff(%d)" % TRIALS, 240), "hostile site:")
        attack_open(s, "hostile site:")
        check_control(s, run_in_page(s.tab, "control()", 180), "hostile site:")
        s.assert_unknown_untouched(expected)
        dashboard_still_signed_in(s)


SW_PAGE = """<!doctype html><meta charset=utf-8><title>sw</title><h1>a site with a worker</h1>
<pre id=result></pre>
<script>
(async () => {
  const r = {controlled: navigator.serviceWorker.controller !== null, attempts: {}};
  const tries = {
    root: () => navigator.serviceWorker.register('/sw.js'),
    scoped: () => navigator.serviceWorker.register('./sw.js', {scope: '/'}),
    module: () => navigator.serviceWorker.register('/sw.js?v=2',
                                                  {type: 'module', updateViaCache: 'none'}),
    nested: () => navigator.serviceWorker.register('/js/worker.js', {scope: '/js/'}),
  };
  for (const [name, t] of Object.entries(tries)) {
    try { await t(); r.attempts[name] = 'registered'; }
    catch (e) { r.attempts[name] = 'rejected ' + e.name; }
  }
  r.registrations = (await navigator.serviceWorker.getRegistrations()).length;
  window.result = r;
})();
</script>"""

SW_SCRIPT = "self.addEventListener('install', () => self.skipWaiting());\n" \
            "self.addEventListener('activate', e => e.waitUntil(self.clients.claim()));\n" \
            "self.addEventListener('fetch', e => e.respondWith(new Response(" \
            "'<title>owned</title>owned', {headers: {'Content-Type': 'text/html'}})));\n"


def test_redteam_service_worker():
    """A hostless site's page tries to install a service worker (one that
    answers every request with "owned"), four ways: at /sw.js, with an
    explicit scope, as a module, and under a folder. Every register()
    rejects because the gateway refuses the worker's script; after a
    reload no worker controls the page and the site renders from the
    gateway; once the user blocks the site, a reload shows the block,
    not the site (no worker outlives it)."""
    with Cluster(BIN, 2) as c:
        publisher, victim = c[1], c[2]
        address = publisher.json("publish", make_site(os.path.join(c.dir, "sw"), {
            "index.html": SW_PAGE, "sw.js": SW_SCRIPT, "js/worker.js": SW_SCRIPT}))["address"]
        gw = victim.gateway_port
        url = "http://%s.localhost:%d/" % (address, gw)
        with Chromium() as tab:
            tab.navigate(url)
            tab.wait("document.title === 'sw'", 90)
            r = tab.wait("window.result", 60)
            print("service worker attempts:", r)
            assert not r["controlled"], r
            for name, outcome in r["attempts"].items():
                assert outcome.startswith("rejected"), (name, r)
            assert r["registrations"] == 0, r
            for _ in range(2):  # a worker that got in would answer the reload
                tab.navigate(url)
                tab.wait("document.title === 'sw' && window.result", 30)
                assert tab.eval("navigator.serviceWorker.controller === null")
                assert tab.eval("navigator.serviceWorker.getRegistrations()"
                                ".then(r => r.length)") == 0
                assert tab.eval("document.querySelector('h1').textContent") == \
                    "a site with a worker"
            # The script itself, as the browser asks for it: refused.
            for headers in ({"Service-Worker": "script"},
                            {"Sec-Fetch-Dest": "serviceworker", "Sec-Fetch-Site": "same-origin",
                             "Sec-Fetch-Mode": "same-origin"}):
                status, _ = request(gw, "%s.localhost" % address, "/sw.js", headers=headers)
                assert status == 403, (headers, status)
            assert request(gw, "%s.localhost" % address, "/sw.js")[0] == 200  # as a file

            victim.run("block", address)
            assert wait_for(lambda: request(gw, "%s.localhost" % address, "/")[0] != 200, 30)
            tab.navigate(url)
            tab.wait("document.readyState === 'complete' && document.title !== 'sw'", 30)
            title = tab.eval("document.title")
            assert title not in ("sw", "owned"), title
            print("blocked: a reload shows %r, not the site nor a worker's answer" % title)


if __name__ == "__main__":
    BIN = os.path.abspath(sys.argv[1])
    BUILD = os.path.abspath(sys.argv[2])
    name = sys.argv[3]
    started = time.monotonic()
    globals()[name]()
    print("ok", name, "(%.0f s)" % (time.monotonic() - started))
