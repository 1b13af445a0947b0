"""What the browser drivers share (cdp.Chromium, bidi.Firefox): waiting for a
JavaScript condition and clicking an element like a mouse, on top of each
driver's own eval(expression) and mouse_click(x, y); and stopping the browser
and removing its temporary profile, also when a test fails."""
import json
import shutil
import time

from harness import stop_process


class Tab:
    """One page of a headless browser. A driver sets `proc` (the browser's
    Popen) and `profile` (a temporary directory), and defines eval,
    mouse_click and close."""

    proc = None
    profile = None

    def eval(self, expression):
        """The value of a JavaScript expression (awaited if a promise)."""
        raise NotImplementedError

    def mouse_click(self, x, y):
        """A left click, pressed and released, at viewport coordinates."""
        raise NotImplementedError

    def wait(self, expression, timeout=30):
        """Waits until `expression` is truthy; returns its value. An error
        (the page is between documents) counts as not yet."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                v = self.eval(expression)
            except RuntimeError:
                v = None
            if v:
                return v
            time.sleep(0.2)
        raise AssertionError("timed out waiting for: " + expression)

    def click(self, selector, attempts=5):
        """A real mouse click at the centre of the element, once it is shown.
        A page can move the element between the measure and the click (a
        table re-laid out by a refresh): a click the page saw land on
        another element is made again, up to `attempts` times."""
        for _ in range(attempts):
            box = self.wait("(() => { const e = document.querySelector(%s);"
                            " if (!e || e.offsetParent === null) return null;"
                            " e.scrollIntoView({block: 'center'});"
                            " window.__clickLanded = null;"
                            " window.addEventListener('click', (ev) => {"
                            "   window.__clickLanded = e.contains(ev.target); },"
                            "   {capture: true, once: true});"
                            " const r = e.getBoundingClientRect();"
                            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
                            % json.dumps(selector))
            self.mouse_click(box[0], box[1])
            try:
                landed = self.eval("window.__clickLanded")
            except RuntimeError:  # the click navigated: it landed
                return
            if landed is not False:  # on the element, or the page changed
                return
        raise AssertionError("clicks on %s kept landing elsewhere" % selector)

    def stop_browser(self):
        """Ends the browser (it ends its own child processes, also when it is
        killed: they lose their pipe to it), then removes the profile. The
        browser stays in the test's process group, so a test runner that
        kills a test on timeout kills its browser too."""
        if self.proc is not None:
            stop_process(self.proc)
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
