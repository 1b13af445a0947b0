#!/usr/bin/python3
"""hostless with its default settings on a small simulated internet
(tests/support/netsim.py): every node in its own namespace with its own
address, 50 ms round trips, 1 % loss, home-line caps, the publisher behind a
home router running miniupnpd, another behind a plain NAT (no port mapping:
no peer can connect to it, so it must connect out). No --lan anywhere: the daemons get only a
bootstrap node, since the public DHT routers are not reachable.

usage: test_internet.py HOSTLESS_BINARY NETSIM_DELAYER TEST_NAME   (as root)
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import netsim  # noqa: E402
from harness import make_site, wait_for  # noqa: E402
from nginx import Nginx  # noqa: E402

BIN = None
DELAYER = None


def status_line(node):
    """A node's `status --json`, for the record (or the error)."""
    p = node.run("status", "--json", check=False, timeout=30)
    return p.stdout.strip() if p.returncode == 0 else "status failed: " + p.stderr.strip()


def test_internet_small():
    small_internet(nat={2: "upnp", 3: "plain"})


def small_internet(nat=None, loss=0.01, rtt=50):
    """12 nodes; node 1 bootstraps the DHT; node 2 (NATed, miniupnpd) publishes
    a multi-file site right after the daemons start; node 12, started after
    the publish returned, opens it at once and must get the right bytes within
    60 s, never an instant error."""
    t0 = time.monotonic()
    marks = []

    def mark(what):
        marks.append((what, time.monotonic() - t0))
        print("[%6.2f s] %s" % (marks[-1][1], what), flush=True)

    files = {
        "index.html": "<!doctype html><link rel=stylesheet href=style.css><h1>on the internet</h1>",
        "style.css": "h1 { color: teal }",
        "app.js": "console.log('hello from the simulated internet')",
        "img/photo.bin": os.urandom(200 * 1024),
        "notes/index.html": "<p>notes</p>",
    }
    nat = {2: "upnp"} if nat is None else nat
    with netsim.Net(12, rtt=rtt, loss=loss, nat=nat, delayer=DELAYER,
                    keep=bool(os.environ.get("NETSIM_KEEP"))) as net:
        mark("net built (%s, every RTT %d ms, %g %% loss, 20/2 Mbit/s, NAT %s)" %
             (net.prefix, rtt, loss * 100, nat))
        boot = net.node(1, BIN).start()
        boot_ep = "%s:%d" % (net[1].public_ip, boot.peer_port)
        nodes = [boot] + [net.node(i, BIN, bootstrap=boot_ep).start() for i in range(2, 12)]
        mark("11 daemons started (default settings, bootstrap %s)" % boot_ep)
        pub = nodes[1]
        site = make_site(os.path.join(net.dir, "site"), files)
        p = pub.run("publish", site, "--json", check=False, timeout=120)
        mark("publish on node 2 returned %d" % p.returncode)
        print("publish stdout: %s\npublish stderr: %s" % (p.stdout.strip(), p.stderr.strip()))
        assert p.returncode == 0, "publish failed: " + p.stderr
        address = json.loads(p.stdout)["address"]

        fresh = net.node(12, BIN, bootstrap=boot_ep).start()
        mark("fresh node 12 started")
        visit_start = time.monotonic()
        try:
            status, _, body = fresh.get(address, "/", timeout=75)
        except OSError as e:
            status, body = None, str(e).encode()
        took = time.monotonic() - visit_start
        mark("first visit on node 12: status %s after %.2f s" % (status, took))
        ok = status == 200 and body == files["index.html"].encode()
        if not ok:
            print("first visit answered %s: %s" % (status, body[:400]))
            # For the record: when does the site open after all?
            while time.monotonic() - visit_start < 120:
                try:
                    s2, _, b2 = fresh.get(address, "/", timeout=35)
                except OSError as e:
                    s2, b2 = None, str(e).encode()
                mark("retry on node 12: status %s %s" % (s2, b2[:120]))
                if s2 == 200:
                    break
                time.sleep(1)
            for n in (pub, fresh, boot):
                print("status node %d: %s" % (n.index, status_line(n)))
            net.dump_logs(tail=6000)
        assert status == 200, "the first visit got %s after %.1f s: %s" % (status, took, body[:300])
        assert body == files["index.html"].encode(), "index.html differs: %r" % body[:200]
        assert took <= 60, "the first visit took %.1f s" % took
        for path in ("style.css", "app.js", "img/photo.bin", "notes/index.html"):
            t = time.monotonic()
            s, _, b = fresh.get(address, "/" + path, timeout=60)
            want = files[path] if isinstance(files[path], bytes) else files[path].encode()
            assert s == 200 and b == want, "/%s: status %s, %d bytes" % (path, s, len(b))
            mark("/%s: %d bytes in %.2f s" % (path, len(b), time.monotonic() - t))
        # A node that was up all along opens it too.
        t = time.monotonic()
        s, _, b = nodes[10].get(address, "/", timeout=60)
        mark("visit on node 11 (running since the start): status %s after %.2f s" %
             (s, time.monotonic() - t))
        assert s == 200 and b == files["index.html"].encode(), (s, b[:200])
        if nat.get(3) == "plain":
            plain_nat_publisher(nodes[2], fresh, net, mark)
        # The publisher behind the UPnP home router is reachable with no
        # set-up (its router mapped its port), and its name is in the DHT.
        if nat.get(2) == "upnp":
            reach = pub.json("status")["reachability"]
            assert reach["reachable"] and reach.get("port_mapping"), reach
            mark("publisher reachable: %s" % reach["summary"])
        entry = wait_for(lambda: [s for s in pub.json("sites")
                                         if s["address"] == address
                                         and s["name"]["state"] == "stored"], 30)
        assert entry, "the publisher's name is not stored: %s" % pub.json("sites")
        mark("publisher's name stored on %d DHT nodes" % entry[0]["name"]["nodes"])
        print("status node 2 (publisher): %s" % status_line(pub))
        print("status node 12 (visitor): %s" % status_line(fresh))
        print("delayer: %s" % net.delayer_stats())
    print("timings: " + ", ".join("%s %.2f" % (w.split(" (")[0], t) for w, t in marks))


def plain_nat_publisher(pub, visitor, net, mark):
    """A publisher behind a NAT that maps no port: nobody can connect to it,
    so the visitor gets the site only if the publisher connects out to it
    (sites/reach.cpp: an unreachable node announces its sites again every
    15 s and libtorrent connects to the peers that announced)."""
    files = {"index.html": "<h1>from behind a plain NAT</h1>", "data.bin": os.urandom(64 * 1024)}
    site = make_site(os.path.join(net.dir, "site-nat"), files)
    p = pub.run("publish", site, "--json", check=False, timeout=120)
    assert p.returncode == 0, "publish behind the plain NAT failed: " + p.stderr
    out = json.loads(p.stdout)
    assert "reachability" in out, "publish on an unreachable node did not warn: %s" % out
    mark("publish on node %d (plain NAT) returned; warning: %s" % (pub.index, out["reachability"]))
    t = time.monotonic()
    got = None
    while time.monotonic() - t < 60:
        try:
            s, _, b = visitor.get(out["address"], "/data.bin", timeout=35)
        except OSError:
            s, b = None, b""
        if s == 200:
            got = b
            break
        mark("plain-NAT site: status %s %s" % (s, b[:160]))
        time.sleep(1)
    took = time.monotonic() - t
    mark("visit of the plain-NAT publisher's site: %s after %.2f s" %
         ("200" if got is not None else "nothing", took))
    if got is None:
        print("status node %d: %s" % (pub.index, status_line(pub)))
        net.dump_logs(tail=4000)
    assert got == files["data.bin"], "the plain-NAT publisher's site was not fetched in 60 s"
    reach = pub.json("status")["reachability"]
    assert not reach["reachable"], "a node behind a plain NAT says it is reachable: %s" % reach
    # It knows it is behind a NAT (the DHT sees another address than its own).
    assert reach.get("behind_nat") is True, reach


def test_internet_web_seed():
    """A site whose publisher is gone and which nobody mirrors loads from its
    web seed (nginx on a server line) with the default settings, where web
    seeds are not on the visitor's network: the figures for issue 19."""
    t0 = time.monotonic()
    files = {"index.html": "<h1>from a web seed</h1>", "style.css": "h1 { color: teal }",
             "big.bin": os.urandom(2 * 1024 * 1024 + 17)}
    with netsim.Net(5, rtt=50, loss=0.01, delayer=DELAYER, caps={3: ("100mbit", "100mbit")},
                    keep=bool(os.environ.get("NETSIM_KEEP"))) as net:
        boot = net.node(1, BIN).start()
        pub = net.node(2, BIN, bootstrap=boot.endpoint).start()
        net.node(5, BIN, bootstrap=boot.endpoint).start()  # holds the name too
        exported = os.path.join(net.dir, "webseed")
        os.makedirs(exported)
        with net.namespace(3):
            nginx = Nginx(exported, host=net[3].ip, port=80)
        try:
            url = "http://%s/" % net[3].ip
            site = make_site(os.path.join(net.dir, "site"), files)
            out = json.loads(pub.run("publish", site, "--web-seed", url, "--json",
                                     timeout=120).stdout)
            address = out["address"]
            pub.run("export", address, exported)
            stored = wait_for(lambda: [s for s in pub.json("sites") if s["address"] == address
                                       and s["name"]["state"] == "stored"], 60)
            assert stored, "the name was never stored: %s" % pub.json("sites")
            pub.stop()
            visitor = net.node(4, BIN, bootstrap=boot.endpoint).start()
            t = time.monotonic()
            status, _, body = visitor.get(address, "/", timeout=75)
            first = time.monotonic() - t
            assert status == 200 and body == files["index.html"].encode(), (status, body[:300])
            t = time.monotonic()
            status, _, body = visitor.get(address, "/big.bin", timeout=120)
            big = time.monotonic() - t
            assert status == 200 and body == files["big.bin"], (status, len(body))
            mbit = len(body) * 8 / big / 1e6
            print("web seed only, default settings, RTT 50 ms, 1 %% loss, visitor 20 Mbit/s "
                  "down: first page %.2f s (publisher gone), %d-byte file %.2f s "
                  "(%.1f Mbit/s, %.0f %% of the visitor's line); test %.0f s" %
                  (first, len(body), big, mbit, mbit / 20 * 100, time.monotonic() - t0))
            assert first <= 60, "the first page took %.1f s" % first
        finally:
            nginx.close()


def main():
    global BIN, DELAYER
    BIN = os.path.abspath(sys.argv[1])
    DELAYER = os.path.abspath(sys.argv[2])
    netsim.run_named_test(globals(), DELAYER, sys.argv[3])


if __name__ == "__main__":
    main()
