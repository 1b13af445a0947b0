"""Headless Firefox (Debian's firefox-esr) driven over WebDriver BiDi:
navigate, evaluate JavaScript, click like a mouse, take screenshots; the same
methods as cdp.Chromium, so a test can run its steps in either browser.

Why BiDi: `firefox-esr --remote-debugging-port=N` serves it as a websocket on
127.0.0.1:N/session, so python3-websocket (which cdp.py already uses) is the
whole client; Firefox no longer speaks the Chrome DevTools Protocol, Marionette
is a length-prefixed protocol of its own (another client to write), and
geckodriver is not packaged in Debian. `--screenshot URL` cannot wait for a
condition, sign in or click.

The profile is fresh and temporary, and so is HOME (Firefox writes there
too). Its user.js keeps Firefox off the network: no first-run pages, updates
(of Firefox, add-ons, media plugins), telemetry, studies, remote settings,
captive-portal or connectivity checks, safe browsing, DNS prefetch or DNS
over HTTPS (remote settings keep off the network only when the environment
has MOZ_DISABLE_NONLOCAL_CONNECTIONS=1, Firefox's switch for its own test
suites; in a release build that switch blocks nothing by itself). On top of
that every request that can go through a proxy goes to one on a closed port
of 127.0.0.1, with no retry without it: checked with strace, the only
connections Firefox makes, and it makes no DNS queries, are to the pages
asked for.
Loopback (localhost, 127.0.0.1, [::1] and *.localhost) is never sent to a
proxy, so sites and the dashboard are reached as a user's Firefox reaches
them, the name resolved by Firefox itself. Nothing here touches name
resolution, and neither do the remote agent's own "recommended preferences"
(on by default); a bare profile without any of this resolves
`<name>.localhost` the same way (checked with `firefox-esr --screenshot`).
"""
import base64
import json
import os
import subprocess
import tempfile
import time

import websocket

from harness import free_port, read_text
from tab import Tab

USER_JS = {
    # First run, default-browser and what's-new pages.
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "startup.homepage_welcome_url": "about:blank",
    "startup.homepage_welcome_url.additional": "",
    "browser.aboutwelcome.enabled": False,
    "browser.startup.page": 0,
    "datareporting.policy.firstRunURL": "",
    # Updates, telemetry, studies, remote settings.
    "app.update.disabledForTesting": True,
    "app.update.auto": False,
    "extensions.update.enabled": False,
    "extensions.systemAddon.update.enabled": False,
    "extensions.systemAddon.update.url": "",
    "media.gmp-manager.updateEnabled": False,
    "media.gmp-manager.url": "",
    "media.gmp-manager.chromium-update-url": "",
    "media.gmp-widevinecdm.enabled": False,
    "media.gmp-widevinecdm.allow-chromium-update": False,
    "media.gmp-gmpopenh264.enabled": False,
    "browser.search.update": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.usage.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.server": "",
    "app.normandy.enabled": False,
    "app.normandy.api_url": "",
    "app.shield.optoutstudies.enabled": False,
    "messaging-system.rsexperimentloader.enabled": False,
    # Remote settings skip all network activity only with exactly this
    # server, and only when MOZ_DISABLE_NONLOCAL_CONNECTIONS is set.
    "services.settings.server": "data:,#remote-settings-dummy/v1",
    "browser.newtabpage.enabled": False,
    "browser.newtabpage.activity-stream.feeds.system.topstories": False,
    "browser.newtabpage.activity-stream.feeds.section.topstories": False,
    "browser.topsites.contile.enabled": False,
    "browser.region.network.url": "",
    "browser.region.update.enabled": False,
    "geo.provider.network.url": "",
    "dom.push.connection.enabled": False,
    "browser.ping-centre.telemetry": False,
    "identity.fxaccounts.enabled": False,
    "browser.urlbar.suggest.searches": False,
    "browser.translations.enable": False,
    "browser.ml.enable": False,
    # Checks that talk to servers on their own.
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.downloads.remote.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.safebrowsing.provider.mozilla.updateURL": "",
    "browser.safebrowsing.provider.mozilla.gethashURL": "",
    "browser.safebrowsing.provider.google4.updateURL": "",
    "browser.safebrowsing.provider.google4.gethashURL": "",
    "security.OCSP.enabled": 0,
    "security.remote_settings.crlite_filters.enabled": False,
    "security.remote_settings.intermediates.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "network.http.speculative-parallel-limit": 0,
    "network.trr.mode": 5,  # DNS over HTTPS off
    # Anything left that is not loopback: a proxy on a closed port (discard).
    "network.proxy.type": 1,
    "network.proxy.http": "127.0.0.1",
    "network.proxy.http_port": 9,
    "network.proxy.ssl": "127.0.0.1",
    "network.proxy.ssl_port": 9,
    "network.proxy.socks": "127.0.0.1",
    "network.proxy.socks_port": 9,
    "network.proxy.socks_remote_dns": True,
    "network.proxy.allow_bypass": False,  # update checks retry without the proxy
    # A crash should fail the test, not open a reporter or restore tabs.
    "browser.sessionstore.resume_from_crash": False,
    "toolkit.crashreporter.enabled": False,
}


def write_user_js(profile):
    with open(os.path.join(profile, "user.js"), "w") as f:
        for name, value in USER_JS.items():
            f.write("user_pref(%s, %s);\n" % (json.dumps(name), json.dumps(value)))


class StartupError(Exception):
    """Firefox did not come up (not a RuntimeError: Tab.wait must not take it
    for a page between documents and keep waiting)."""


class Firefox(Tab):
    """Firefox() starts the browser and returns at once: it takes about 3 s
    to come up, which a test can spend starting daemons. The first command
    waits for it (up to startup_timeout seconds)."""

    def __init__(self, width=1280, height=800, startup_timeout=30):
        self.root = tempfile.mkdtemp(prefix="hostless-firefox-")
        self.profile = self.root  # removed whole by stop_browser
        profile = os.path.join(self.root, "profile")
        os.mkdir(profile)
        write_user_js(profile)
        self.port = free_port()
        self.log_path = os.path.join(self.root, "firefox.log")
        env = dict(os.environ, HOME=self.root, MOZ_CRASHREPORTER_DISABLE="1",
                   MOZ_HEADLESS="1", MOZ_DISABLE_NONLOCAL_CONNECTIONS="1")
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)
        try:
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(
                    ["firefox-esr", "--headless", "-no-remote", "-profile", profile,
                     "--remote-debugging-port=%d" % self.port, "about:blank"],
                    stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env)
        except OSError:  # not installed: no `with` will clean up after us
            self.stop_browser()
            raise
        self.deadline = time.time() + startup_timeout
        self.viewport = {"width": width, "height": height}
        self.ws = None
        self.next_id = 0
        self.context = None  # the tab that commands act on
        self.version = None

    def _ready(self):
        """Connects and opens the session, the first time."""
        if self.ws is not None:
            return
        while True:
            try:
                ws = websocket.create_connection(
                    "ws://127.0.0.1:%d/session" % self.port, timeout=60, suppress_origin=True)
                break
            except (OSError, websocket.WebSocketException):
                if self.proc.poll() is not None or time.time() > self.deadline:
                    raise StartupError("firefox's WebDriver BiDi endpoint did not come up:\n"
                                       + read_text(self.log_path)[-3000:])
                time.sleep(0.1)
        self.ws = ws
        self.version = self.call("session.new", capabilities={})["capabilities"][
            "browserVersion"]
        self.context = self.tabs()[0]
        self.call("browsingContext.setViewport", context=self.context, viewport=self.viewport)

    def call(self, method, **params):
        """One BiDi command; its result. Events (we subscribe to none) are
        skipped."""
        self._ready()
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if msg.get("type") == "error":
                    raise RuntimeError("%s: %s: %s" % (method, msg.get("error"),
                                                       msg.get("message")))
                return msg.get("result", {})

    def tabs(self):
        """The ids of the top-level browsing contexts (tabs); eval, click and
        navigate act on `self.context`, which a test may set to one of them."""
        tree = self.call("browsingContext.getTree", maxDepth=0)
        return [t["context"] for t in tree["contexts"]]

    def navigate(self, url):
        """Starts loading url and returns, as cdp.Chromium.navigate does: the
        test waits for what it expects (a cold site shows a progress page
        first)."""
        self._ready()
        self.call("browsingContext.navigate", context=self.context, url=url, wait="none")

    def eval(self, expression):
        # The value crosses as JSON text, like CDP's returnByValue: BiDi's
        # own serialisation of objects is a tree of typed nodes.
        self._ready()
        r = self.call("script.evaluate", target={"context": self.context}, awaitPromise=True,
                      expression="(async () => JSON.stringify(await (%s)))()" % expression)
        if r.get("type") == "exception":
            raise RuntimeError("JavaScript failed: %s" % r["exceptionDetails"].get("text"))
        text = r["result"].get("value")
        return None if text is None else json.loads(text)

    def mouse_click(self, x, y):
        self._ready()
        self.call("input.performActions", context=self.context, actions=[{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [{"type": "pointerMove", "x": int(x), "y": int(y)},
                        {"type": "pointerDown", "button": 0},
                        {"type": "pointerUp", "button": 0}]}])

    def screenshot(self, path):
        self._ready()
        data = self.call("browsingContext.captureScreenshot", context=self.context)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:
                pass
        self.stop_browser()
