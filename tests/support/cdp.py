"""Headless Chromium driven over the DevTools protocol (python3-websocket):
navigate, evaluate JavaScript, click like a mouse, take screenshots."""
import base64
import json
import subprocess
import tempfile
import urllib.request

import websocket

from harness import free_port, wait_for
from tab import Tab


class Chromium(Tab):
    def __init__(self, extra=()):
        """extra: more command-line flags (e.g. --host-resolver-rules=...)."""
        self.profile = tempfile.mkdtemp(prefix="hostless-cdp-")
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--no-first-run", "--window-size=1280,800",
             "--user-data-dir=" + self.profile, "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=%d" % self.port] + list(extra) + ["about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        target = None

        def page():
            nonlocal target
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % self.port,
                                            timeout=2) as r:
                    pages = [t for t in json.load(r) if t["type"] == "page"]
            except OSError:
                return False
            target = pages[0] if pages else None
            return target is not None

        if not wait_for(page, 30, 0.2):
            self.close()
            raise RuntimeError("chromium's DevTools endpoint did not come up")
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=60,
                                              suppress_origin=True)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})

    def navigate(self, url):
        self.call("Page.navigate", url=url)

    def eval(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("JavaScript failed: %s" % r["exceptionDetails"])
        return r["result"].get("value")

    def mouse_click(self, x, y):
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                      clickCount=1)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass
        self.stop_browser()
