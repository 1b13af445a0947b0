#!/usr/bin/python3
"""Integration tests: real hostless daemons on 127.0.0.1 (see tests/support/harness.py).

usage: test_network.py HOSTLESS_BINARY TEST_NAME
"""
import filecmp
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from harness import ROOT_FLAG, Cluster, Node, free_port, make_site, wait_for  # noqa: E402
from faults import tree_files  # noqa: E402
from nginx import Nginx  # noqa: E402
from qbittorrent import QBittorrent  # noqa: E402

BIN = None


def same_tree(a, b):
    """Whether folders a and b hold the same files with the same bytes (what
    differs is printed)."""
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.diff_files or cmp.funny_files:
        print("%s vs %s: only left %s, only right %s, differ %s, funny %s" % (
            a, b, cmp.left_only, cmp.right_only, cmp.diff_files, cmp.funny_files))
        return False
    for f in cmp.common_files:
        if not filecmp.cmp(os.path.join(a, f), os.path.join(b, f), shallow=False):
            print("%s differs" % os.path.join(b, f))
            return False
    return all(same_tree(os.path.join(a, d), os.path.join(b, d)) for d in cmp.common_dirs)


def fetch(node, address, path, method="GET", headers=None, timeout=60):
    """One request to node's gateway with Host <address>.localhost (or the bare
    host when address is None); returns (status, headers dict, body bytes)."""
    c = node.http_connection(timeout=timeout)
    host = ("%s.localhost" % address if address else "localhost") + ":%d" % node.gateway_port
    h = {"Host": host}
    h.update(headers or {})
    c.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in h.items():
        c.putheader(k, v)
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def resolve_seq(node, address, want_seq):
    """Resolves until the node sees want_seq (puts propagate in the background)."""
    last = {}

    def check():
        nonlocal last
        p = node.run("resolve", address, "--json", "--timeout", "5", check=False)
        if p.returncode == 0:
            last = json.loads(p.stdout)
            return last["seq"] >= want_seq
        return False

    wait_for(check, 60)
    return last


def test_eight_nodes():
    """Publish on node 1, resolve on 6, get on 7, update, then node 1 leaves."""
    with Cluster(BIN, 8) as c:
        site = make_site(os.path.join(c.dir, "site"), {
            "index.html": "<h1>hello</h1>",
            "css/site.css": "body { color: red }",
            "img/blob.bin": os.urandom(300 * 1024),
            "with space/ünïcode ñame.txt": "odd names survive",
        })
        pub = c[1].json("publish", site)
        address, ih1 = pub["address"], pub["info_hash"]
        assert pub["seq"] == 1 and not pub["unchanged"]

        r = resolve_seq(c[6], address, 1)
        assert r.get("info_hash") == ih1, r

        out7 = os.path.join(c.dir, "out7")
        got = c[7].json("get", address, out7, timeout=300)
        assert got["info_hash"] == ih1, ("node 7 got another version", got, pub)
        assert same_tree(site, out7), "node 7's copy differs"

        again = c[1].json("publish", site)
        assert again["unchanged"] and again["seq"] == 1, again

        with open(os.path.join(site, "index.html"), "a") as f:
            f.write("<p>version two</p>")
        pub2 = c[1].json("publish", site)
        assert pub2["seq"] == 2 and pub2["address"] == address, pub2
        assert pub2["hashed_bytes"] < 1024, "re-publish hashed unchanged files: %s" % pub2
        r2 = resolve_seq(c[6], address, 2)
        assert r2.get("seq") == 2 and r2["info_hash"] == pub2["info_hash"], (r2, pub2)

        # Node 7 fetches version 2 too, then the publisher leaves: node 8
        # still gets the site, from node 7 alone.
        out7b = os.path.join(c.dir, "out7b")
        got7 = c[7].json("get", address, out7b)
        assert got7["seq"] == 2, ("node 7 got another version", got7, pub2)
        c[1].stop()
        out8 = os.path.join(c.dir, "out8")
        got8 = c[8].json("get", address, out8, timeout=300)
        assert got8["seq"] == 2, ("node 8 got another version", got8, pub2)
        assert same_tree(site, out8), "node 8's copy differs"


def independent_reader_resolves(reader):
    """An independent BEP 46 reader (`reader`: its command line, to which the
    key and a DHT node's port are added) sees our pointer, also with web
    seeds in it."""
    with Cluster(BIN, 4) as c:
        site = make_site(os.path.join(c.dir, "site"), {"index.html": "interop"})
        pub = c[1].json("publish", site)
        key_hex = pub["magnet"].split("urn:btpk:")[1]

        def look():
            p = subprocess.run(reader + [key_hex, str(c[1].peer_port), "10"],
                               capture_output=True, text=True, timeout=60)
            if p.returncode != 0:
                print("reader:", p.stderr.strip()[-300:])
            return json.loads(p.stdout) if p.returncode == 0 else None

        def look_for(seq):
            r = look()
            return r if r and r["seq"] >= seq else None

        r = wait_for(lambda: look_for(1), 60)
        assert r and r["info_hash"] == pub["info_hash"] and r["seq"] == 1, r
        assert r.get("ws", []) == [], r
        # With web seeds in the value ("ws" beside "ih"): still read.
        pub = c[1].json("publish", site, "--web-seed", "https://example.org/site/")
        assert pub["seq"] == 2 and pub["web_seeds"] == ["https://example.org/site/"], pub
        r = wait_for(lambda: look_for(2), 60)
        assert r and r["seq"] == 2 and r["info_hash"] == pub["info_hash"], r
        assert r.get("ws", pub["web_seeds"]) == pub["web_seeds"], r
        print("resolved seq %d, %s" % (r["seq"], r))


def test_python_libtorrent_resolves():
    """python3-libtorrent reads our pointers."""
    independent_reader_resolves(["/usr/bin/python3",
                                 os.path.join(HERE, "..", "support", "bep46_resolve.py")])


def test_webtorrent_resolves():
    """WebTorrent's DHT (npm's bittorrent-dht, which checks the signature)
    reads our pointers; scripts/test installs it in <build>/webtorrent."""
    script = os.path.join(os.path.dirname(BIN), "webtorrent", "resolve.mjs")
    assert os.path.isdir(os.path.join(os.path.dirname(script), "node_modules")), \
        "bittorrent-dht is not installed: run scripts/test (install_webtorrent in scripts/common.sh)"
    independent_reader_resolves(["node", script])


def test_downloads_from_plain_libtorrent_seed():
    """Our daemon fetches a version seeded only by python3-libtorrent."""
    with Cluster(BIN, 3) as c:
        site = make_site(os.path.join(c.dir, "site"), {"index.html": "wire",
                                                       "big.bin": os.urandom(500000)})
        pub = c[1].json("publish", site)
        torrent = os.path.join(c.dir, "site.torrent")
        c[1].run("torrent", pub["address"], "-o", torrent)
        data = os.path.join(c.dir, "seed-data")
        shutil.copytree(os.path.join(c[1].home, "store", pub["info_hash"]), data)
        resolve_seq(c[2], pub["address"], 1)  # node 2 and 3 hold the name now
        resolve_seq(c[3], pub["address"], 1)
        c[1].stop()
        seed = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "..", "support",
                                                                  "lt_seed.py"),
                                 torrent, data, str(c[2].peer_port)],
                                stdout=subprocess.PIPE, text=True)
        try:
            assert seed.stdout.readline().strip() == "ready"
            out = os.path.join(c.dir, "out")
            got = c[3].json("get", pub["address"], out, timeout=300)
            assert got["info_hash"] == pub["info_hash"] and same_tree(site, out)
        finally:
            seed.kill()
            seed.wait()


def test_restart_keeps_sites():
    """A restarted node still seeds and re-announces what it published."""
    with Cluster(BIN, 3) as c:
        site = make_site(os.path.join(c.dir, "site"), {"index.html": "persist",
                                                       "a.bin": os.urandom(100000)})
        pub = c[2].json("publish", site)
        c[2].stop()
        assert not os.path.exists(os.path.join(c[2].home, "daemon.json"))
        assert os.listdir(os.path.join(c[2].home, "resume")), "no resume data saved"
        c[2].start()
        out = os.path.join(c.dir, "out")
        got = c[3].json("get", pub["address"], out)
        assert got["info_hash"] == pub["info_hash"] and same_tree(site, out)


def test_bad_input():
    """Clear errors, exit 1, and no partial state."""
    with Cluster(BIN, 1) as c:
        n = c[1]
        base = c.dir

        def fails(args, fragment):
            p = n.run(*args, check=False)
            assert p.returncode == 1, (args, p.returncode, p.stderr)
            assert fragment in p.stderr, (args, p.stderr)

        fails(["publish", os.path.join(base, "missing")], "does not exist")
        os.makedirs(os.path.join(base, "empty"))
        fails(["publish", os.path.join(base, "empty")], "no files to publish")
        make_site(os.path.join(base, "dots"), {".hidden": "x"})
        fails(["publish", os.path.join(base, "dots")], "no files to publish")
        make_site(os.path.join(base, "escape"), {"index.html": "x"})
        with open(os.path.join(base, "secret.txt"), "w") as f:
            f.write("secret")
        os.symlink(os.path.join(base, "secret.txt"), os.path.join(base, "escape", "s.txt"))
        fails(["publish", os.path.join(base, "escape")], "points outside")
        os.mkfifo(os.path.join(base, "dots", "pipe"))
        fails(["publish", os.path.join(base, "dots")], "not a regular file")
        fails(["resolve", "not-an-address"], "Accepted forms")
        # Nothing was published by any of these.
        assert n.json("sites") == []
        assert not [d for d in os.listdir(os.path.join(n.home, "store")) if d.startswith(".")]

        # A second daemon for the same home is refused, naming the pid.
        p = subprocess.run([BIN, "--home", n.home, "daemon", "--lan", "--listen",
                            "127.0.0.1:%d" % free_port(), "--gateway",
                            "127.0.0.1:%d" % free_port()] + ROOT_FLAG,
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and "already running" in p.stderr and \
            str(n.proc.pid) in p.stderr, p.stderr

        # Ports in use.
        other = os.path.join(base, "other")
        p = subprocess.run([BIN, "--home", other, "daemon", "--lan", "--listen",
                            "127.0.0.1:%d" % free_port(), "--gateway",
                            "127.0.0.1:%d" % n.gateway_port] + ROOT_FLAG,
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and "--gateway" in p.stderr, p.stderr
        p = subprocess.run([BIN, "--home", other, "daemon", "--lan", "--listen",
                            "127.0.0.1:%d" % n.peer_port, "--gateway",
                            "127.0.0.1:%d" % free_port()] + ROOT_FLAG,
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and "--listen" in p.stderr, p.stderr

        # A gateway other hosts can reach only when asked for by name; root
        # only when asked for by name.
        daemon = [BIN, "--home", other, "daemon", "--lan", "--listen",
                  "127.0.0.1:%d" % free_port(), "--gateway"]
        p = subprocess.run(daemon + ["0.0.0.0:%d" % free_port()] + ROOT_FLAG,
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and "not a loopback address" in p.stderr and \
            "--allow-remote-gateway" in p.stderr, p.stderr
        if os.geteuid() == 0:
            p = subprocess.run(daemon + ["127.0.0.1:%d" % free_port()],
                               capture_output=True, text=True, timeout=30)
            assert p.returncode == 1 and "refusing to run as root" in p.stderr and \
                "--allow-root" in p.stderr, p.stderr

        # No daemon.
        p = subprocess.run([BIN, "--home", os.path.join(base, "nobody"), "status"],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and "no daemon running" in p.stderr, p.stderr

        # API without the token: 401.
        s = socket.create_connection(("127.0.0.1", n.gateway_port))
        s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        reply = s.recv(100).decode()
        s.close()
        assert " 401 " in reply.split("\r\n")[0], reply


def test_many_files():
    """A site of 20,000 files publishes and downloads intact."""
    with Cluster(BIN, 2) as c:
        files = {"index.html": "many"}
        for i in range(20000):
            files["d%02d/f%05d.txt" % (i % 50, i)] = "file %d\n" % i
        site = make_site(os.path.join(c.dir, "site"), files)
        pub = c[1].json("publish", site, timeout=600)
        assert pub["files"] == 20001
        out = os.path.join(c.dir, "out")
        c[2].json("get", pub["address"], out, timeout=600)
        assert same_tree(site, out)


def test_qbittorrent_downloads():
    """A whole separate client (qbittorrent-nox) downloads a version from us."""
    with Cluster(BIN, 1) as c:
        site = make_site(os.path.join(c.dir, "site"), {
            "index.html": "<h1>qbittorrent</h1>",
            "odd name \u00e9.txt": "unicode",
            "assets/big.bin": os.urandom(3 * 1024 * 1024 + 17)})
        pub = c[1].json("publish", site)
        torrent = os.path.join(c.dir, "site.torrent")
        c[1].run("torrent", pub["address"], "-o", torrent)
        with QBittorrent(os.path.join(c.dir, "qbt")) as qbt:
            save = os.path.join(c.dir, "qbt-save")
            qbt.add_torrent(torrent, save)
            found = wait_for(lambda: qbt.torrents(), 30)
            assert found, "qBittorrent did not list the torrent"
            t = found[0]
            # qBittorrent names a hybrid torrent by its v1 hash or the v2 one truncated.
            assert pub["info_hash"] in (t.get("infohash_v1"), t["hash"]) or \
                t.get("infohash_v2", "").startswith(t["hash"]), t
            qbt.add_peers(t["hash"], ["127.0.0.1:%d" % c[1].peer_port])

            def done():
                info = qbt.torrents()[0]
                if info["progress"] < 1.0 and info["num_seeds"] == 0:
                    qbt.add_peers(t["hash"], ["127.0.0.1:%d" % c[1].peer_port])
                return info["progress"] >= 1.0

            assert wait_for(done, 120, interval=0.5), qbt.torrents()
            got = os.path.join(save, t["name"])
            assert same_tree(site, got), os.listdir(save)


def test_unreadable_files():
    """Files and folders the daemon cannot read are named, and nothing is published.

    Root reads everything, so as root the daemon runs as nobody (setpriv)."""
    base = tempfile.mkdtemp(prefix="hostless-it-")
    prefix = []
    if os.geteuid() == 0:
        os.chown(base, 65534, 65534)
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    n = Node(BIN, os.path.join(base, "home"), 1, prefix=prefix)
    try:
        os.makedirs(n.home)
        if prefix:
            os.chown(n.home, 65534, 65534)
        n.start()
        site = make_site(os.path.join(base, "site"), {"index.html": "x", "secret.txt": "s",
                                                      "private/a.txt": "a"})
        os.chmod(os.path.join(site, "secret.txt"), 0)
        p = n.run("publish", site, check=False)
        assert p.returncode == 1 and "secret.txt" in p.stderr and \
            "permission denied" in p.stderr, p.stderr
        os.chmod(os.path.join(site, "secret.txt"), 0o644)
        os.chmod(os.path.join(site, "private"), 0)
        p = n.run("publish", site, check=False)
        assert p.returncode == 1 and "private" in p.stderr and \
            "ermission denied" in p.stderr, p.stderr
        assert n.json("sites") == []
        os.chmod(os.path.join(site, "private"), 0o755)
        assert n.json("publish", site)["files"] == 3  # and it works once fixed
    finally:
        n.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_file_changing_while_published():
    """A file rewritten during publish is an error, not a torn snapshot."""
    with Cluster(BIN, 1) as c:
        n = c[1]
        site = make_site(os.path.join(c.dir, "site"), {"index.html": "x"})
        live = os.path.join(site, "live.bin")
        with open(live, "wb") as f:
            f.write(os.urandom(64 * 1024 * 1024))
        stop = threading.Event()
        writes = 0

        def writer():
            nonlocal writes
            with open(live, "r+b") as f:
                while not stop.is_set():
                    f.seek(random.randrange(64 * 1024 * 1024))
                    f.write(os.urandom(16))
                    f.flush()
                    writes += 1
                    os.utime(live, ns=(time.time_ns(), time.time_ns() + writes))

        t = threading.Thread(target=writer)
        t.start()
        try:
            wait_for(lambda: writes > 10, 10)
            p = n.run("publish", site, check=False)
        finally:
            stop.set()
            t.join()
        assert p.returncode == 1 and "live.bin changed while" in p.stderr, p.stderr
        assert n.json("sites") == []
        store = os.path.join(n.home, "store")
        assert not os.path.isdir(store) or os.listdir(store) == [], os.listdir(store)
        # Once the file is saved, the same folder publishes.
        assert n.json("publish", site)["files"] == 2


def test_gateway_serves_sites():
    """A visitor's gateway serves a site it has never seen, like a web server."""
    with Cluster(BIN, 3, extra=["--gateway-timeout", "5"]) as c:
        big = os.urandom(5 * 1024 * 1024 + 3)
        site = make_site(os.path.join(c.dir, "site"), {
            "index.html": "<h1>home</h1>",
            "docs/index.html": "<h1>docs</h1>",
            "docs/caf\u00e9 page.html": "unicode",
            "style.css": "h1{color:red}",
            "app.js": "console.log(1)",
            "img/logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
            "404.html": "<h1>custom missing</h1>",
            "big.bin": big,
            "empty.txt": ""})
        secret = os.path.join(c.dir, "secret.txt")
        with open(secret, "w") as f:
            f.write("TOP-SECRET")
        pub = c[1].json("publish", site)
        addr = pub["address"]
        v = c[2]  # never saw the site

        # A browser on a cold site gets the progress page, which reloads itself.
        status, h, body = fetch(c[3], addr, "/", headers={"Accept": "text/html"})
        assert status == 503 and b"Opening site" in body and b"http-equiv=refresh" in body, \
            (status, body)
        # Other clients wait, then get 404 with the reason (a name no one
        # published): the lookup is retried until the gateway's timeout (5 s
        # here), never an instant error.
        c[1].run("keys", "new", "nobody")
        unknown = [k for k in c[1].json("keys", "list") if k["name"] == "nobody"][0]["address"]
        started = time.monotonic()
        status, _, body = fetch(v, unknown, "/")
        waited = time.monotonic() - started
        assert status == 404 and b"no pointer found" in body, (status, body)
        assert waited >= 4.5, "answered after %.2f s, before the 5 s timeout" % waited

        status, h, body = fetch(v, addr, "/")
        assert status == 200 and body == b"<h1>home</h1>", (status, body)
        assert h["content-type"].startswith("text/html") and h["x-content-type-options"] == "nosniff"
        etag = h["etag"]
        assert fetch(v, addr, "/", headers={"If-None-Match": etag})[0] == 304
        assert fetch(v, addr, "/docs/")[2] == b"<h1>docs</h1>"
        status, h, _ = fetch(v, addr, "/docs?x=1")
        assert status == 301 and h["location"] == "/docs/?x=1", (status, h)
        assert fetch(v, addr, "/docs/caf%C3%A9%20page.html")[2] == b"unicode"
        for path, mime in [("/style.css", "text/css"), ("/app.js", "text/javascript"),
                           ("/img/logo.svg", "image/svg+xml")]:
            status, h, _ = fetch(v, addr, path)
            assert status == 200 and h["content-type"].startswith(mime), (path, h)
        assert fetch(v, addr, "/empty.txt")[2] == b""
        status, h, body = fetch(v, addr, "/nope.html")
        assert status == 404 and body == b"<h1>custom missing</h1>", (status, body)

        # HEAD, Range, 416.
        status, h, body = fetch(v, addr, "/big.bin", method="HEAD")
        assert status == 200 and body == b"" and int(h["content-length"]) == len(big), h
        for rng, want in [("bytes=0-0", big[0:1]), ("bytes=1000-200000", big[1000:200001]),
                          ("bytes=-10", big[-10:]), ("bytes=5000000-", big[5000000:])]:
            status, h, body = fetch(v, addr, "/big.bin", headers={"Range": rng})
            assert status == 206 and body == want, (rng, status, len(body))
            assert h["content-range"].endswith("/%d" % len(big)), h
        status, h, _ = fetch(v, addr, "/big.bin", headers={"Range": "bytes=%d-" % len(big)})
        assert status == 416 and h["content-range"] == "bytes */%d" % len(big), (status, h)
        status, _, body = fetch(v, addr, "/big.bin")
        assert status == 200 and body == big

        # Traversal never reaches anything outside the site.
        for path in ["/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt",
                     "/docs/%2e%2e/%2e%2e/secret.txt", "/index.html%00", "/docs\\..\\..",
                     "/%5c..%5csecret.txt", "/" + "a/" * 10000, "/" + "x" * 20000]:
            status, _, body = fetch(v, addr, path)
            assert b"TOP-SECRET" not in body and status in (400, 404, 414), (path[:40], status)

        # Foreign Host refused; /s/ redirects to the subdomain form.
        status, _, _ = fetch(v, None, "/", headers={"Host": "evil.example:%d" % v.gateway_port})
        assert status == 403
        status, h, _ = fetch(v, None, "/s/%s/docs/?a=b" % addr)
        assert status == 302 and h["location"] == \
            "http://%s.localhost:%d/docs/?a=b" % (addr, v.gateway_port), h
        # A visitor seeds what it holds: node 3 gets the site with node 1 gone.
        wait_for(lambda: all(s.get("on_disk") == s.get("size") for s in v.json("sites")), 60)
        c[1].stop()
        out = os.path.join(c.dir, "out")
        c[3].json("get", addr, out)
        assert same_tree(site, out)


def test_gateway_streams():
    """Large files stream as verified pieces arrive; a Range jumps the download there."""
    mib = 1024 * 1024
    # The publisher uploads at 4 MiB/s, so a 24 MiB file takes seconds to move.
    with Cluster(BIN, 3, extra_for={1: ["--upload-limit", "4096"]}) as c:
        big = os.urandom(24 * mib)
        site = make_site(os.path.join(c.dir, "site"), {"index.html": "video", "big.bin": big})
        addr = c[1].json("publish", site)["address"]

        def have(node):
            s = [x for x in node.json("sites") if x["address"] == addr]
            return s[0].get("on_disk", 0) if s else 0

        # Node 3 seeks to 20 MiB first: those bytes come before the rest.
        status, h, body = fetch(c[3], addr, "/big.bin",
                                headers={"Range": "bytes=%d-%d" % (20 * mib, 20 * mib + 65535)})
        assert status == 206 and body == big[20 * mib:20 * mib + 65536], status
        held = have(c[3])
        assert held < 12 * mib, "seek fetched %d bytes first" % held
        c[3].stop()  # so node 2 only has the slow publisher to fetch from

        # Node 2 gets the first bytes of the response long before the file is whole.
        conn = http.client.HTTPConnection("127.0.0.1", c[2].gateway_port, timeout=120)
        conn.request("GET", "/big.bin",
                     headers={"Host": "%s.localhost:%d" % (addr, c[2].gateway_port)})
        r = conn.getresponse()
        assert r.status == 200 and int(r.getheader("Content-Length")) == len(big)
        first = r.read(256 * 1024)
        held = have(c[2])
        assert held < 16 * mib, "the response started only after %d bytes" % held
        rest = r.read()
        conn.close()
        assert first + rest == big

        # Clients that stop reading a stream do not starve the others.
        stalled = []
        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", c[2].gateway_port))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: %s.localhost\r\n\r\n" % addr.encode())
            stalled.append(s)
        try:
            for _ in range(5):
                assert fetch(c[2], addr, "/index.html", timeout=10)[2] == b"video"
        finally:
            for s in stalled:
                s.close()


def test_gateway_updates_whole_versions():
    """A visited site is served at once from the version held; a newer one
    replaces it only once complete, and never mixes with the old one."""
    with Cluster(BIN, 2, extra=["--refresh-interval", "1"]) as c:
        def version(n):
            return {"index.html": "<h1>v%d</h1><link rel=stylesheet href=s.css>" % n,
                    "s.css": "/* v%d */" % n + " " * (n * 1000),
                    "asset.bin": os.urandom(300000)}

        site = os.path.join(c.dir, "site")
        make_site(site, version(1))
        addr = c[1].json("publish", site)["address"]
        assert fetch(c[2], addr, "/")[2].startswith(b"<h1>v1</h1>")
        make_site(site, version(2))
        assert c[1].json("publish", site)["seq"] == 2
        seen = []

        def updated():
            status, _, page = fetch(c[2], addr, "/")
            _, _, css = fetch(c[2], addr, "/s.css")
            assert status == 200
            # Every response is one version's file, whole.
            assert page in (b"<h1>v1</h1><link rel=stylesheet href=s.css>",
                            b"<h1>v2</h1><link rel=stylesheet href=s.css>"), page
            assert css.rstrip(b" ") in (b"/* v1 */", b"/* v2 */"), css[:20]
            seen.append(page[:11])
            return page.startswith(b"<h1>v2</h1>") and css.startswith(b"/* v2 */")

        assert wait_for(updated, 90), seen[-3:]
        site_entry = [x for x in c[2].json("sites") if x["address"] == addr][0]
        assert site_entry["seq"] == 2, site_entry


def test_mirror_outlives_publisher():
    """A mirror follows updates and keeps the name alive: with the publisher
    gone and its own put expired, a fresh visitor still resolves the site and
    loads it from the mirror alone."""
    lifetime = 8  # seconds a DHT node keeps an item (libtorrent's default: forever)
    with Cluster(BIN, 3, extra=["--dht-item-lifetime", str(lifetime)],
                 extra_for={3: ["--republish-interval", "2", "--mirror-interval", "1"]}) as c:
        publisher, mirror = c[2], c[3]
        site = make_site(os.path.join(c.dir, "site"), {"index.html": "<h1>v1</h1>",
                                                       "data.bin": os.urandom(400000)})
        addr = publisher.json("publish", site)["address"]
        m = mirror.json("mirror", addr)
        assert m["seq"] == 1, m
        assert [x["role"] for x in mirror.json("sites") if x["address"] == addr] == ["mirrored"]

        # It follows an update.
        make_site(site, {"index.html": "<h1>v2</h1>"})
        assert publisher.json("publish", site)["seq"] == 2

        def mirror_seq():
            return [x for x in mirror.json("sites") if x["address"] == addr][0]["seq"]

        assert wait_for(lambda: mirror_seq() == 2, 60), mirror_seq()

        # Mirroring survives a restart.
        mirror.stop()
        mirror.start()
        c.wait_dht()
        assert mirror_seq() == 2

        publisher.stop()
        time.sleep(lifetime + 4)  # every copy of the publisher's own put has expired
        visitor = Node(BIN, os.path.join(c.dir, "fresh"), 9,
                       bootstrap_port=c[1].peer_port).start()
        c.nodes.append(visitor)  # stopped with the cluster
        r = resolve_seq(visitor, addr, 2)
        assert r["seq"] == 2, r
        out = os.path.join(c.dir, "out")
        visitor.json("get", addr, out)
        assert same_tree(site, out)
        assert fetch(visitor, addr, "/")[2] == b"<h1>v2</h1>"

        # unmirror frees what no other site uses.
        info_hash = [x for x in mirror.json("sites") if x["address"] == addr][0]["info_hash"]
        mirror.run("unmirror", addr)
        assert all(x["address"] != addr for x in mirror.json("sites"))
        assert not os.path.exists(os.path.join(mirror.home, "store", info_hash))
        p = mirror.run("unmirror", addr, check=False)
        assert p.returncode == 1 and "not mirrored" in p.stderr, p.stderr


def test_mirror_rejects_rollback():
    """An older validly signed pointer re-put into the DHT (here by a stale
    copy of the publisher's home) does not move a mirror back, across a
    restart."""
    with Cluster(BIN, 3, extra_for={3: ["--mirror-interval", "1"]}) as c:
        publisher, mirror = c[2], c[3]
        site = make_site(os.path.join(c.dir, "site"), {"index.html": "<h1>v1</h1>"})
        addr = publisher.json("publish", site)["address"]
        publisher.stop()
        stale = os.path.join(c.dir, "stale-home")
        shutil.copytree(publisher.home, stale, ignore=shutil.ignore_patterns("daemon.*"))
        publisher.start()
        assert mirror.json("mirror", addr)["seq"] == 1
        make_site(site, {"index.html": "<h1>v2</h1>"})
        assert publisher.json("publish", site)["seq"] == 2

        def mirror_seq():
            return [x for x in mirror.json("sites") if x["address"] == addr][0]["seq"]

        assert wait_for(lambda: mirror_seq() == 2, 60), mirror_seq()

        # A separate DHT where only the seq-1 item exists.
        for n in c.nodes:
            n.stop()
        island = Node(BIN, os.path.join(c.dir, "island"), 7).start()
        forger = Node(BIN, stale, 8, bootstrap_port=island.peer_port).start()
        c.nodes += [island, forger]
        assert resolve_seq(island, addr, 1)["seq"] == 1
        mirror.bootstrap_port = island.peer_port
        mirror.start()
        # The mirror looks the name up every second and finds only seq 1 out
        # there; for several rounds it must stay where it was.
        assert not wait_for(lambda: mirror_seq() != 2, 6)
        assert mirror.json("resolve", addr, "--timeout", "5")["seq"] == 2
        assert fetch(mirror, addr, "/")[2] == b"<h1>v2</h1>"


def store_modes(node, info_hash):
    """{relative path: permission bits} of a version's files in node's store."""
    root = os.path.join(node.home, "store", info_hash)
    modes = {}
    for d, _, files in os.walk(root):
        for f in files:
            path = os.path.join(d, f)
            if not f.startswith(".") and os.path.isfile(path):
                modes[os.path.relpath(path, root)] = os.stat(path).st_mode & 0o777
    return modes


def test_sealed_store():
    """A whole version's files are read-only in the store (a file hard-linked
    into several versions must not be written through any of them), and
    everything still works for a daemon that file modes bind (as root the
    daemons run as nobody): publish, mirror, an update that reuses sealed
    files, a restart that seeds them again, a fresh visitor, and `get` (the
    user's copy is writable)."""
    with Cluster(BIN, 3, unprivileged=True,
                 extra_for={2: ["--mirror-interval", "1"]}) as c:
        publisher, mirror, visitor = c[1], c[2], c[3]
        site = make_site(os.path.join(c.dir, "site"), {
            "index.html": "<h1>v1</h1>", "big.bin": os.urandom(3 << 20), "a/b.txt": "b"})
        v1 = publisher.json("publish", site)
        addr = v1["address"]

        def sealed(node, ih):
            modes = store_modes(node, ih)
            return modes and all(m == 0o444 for m in modes.values()) and modes

        assert wait_for(lambda: sealed(publisher, v1["info_hash"]), 15), \
            store_modes(publisher, v1["info_hash"])
        assert mirror.json("mirror", addr)["seq"] == 1
        assert wait_for(lambda: sealed(mirror, v1["info_hash"]), 15), \
            store_modes(mirror, v1["info_hash"])
        print("publisher's and mirror's stores sealed:", sorted(store_modes(mirror,
                                                                           v1["info_hash"])))

        # An update: the mirror's new version starts from its sealed files.
        make_site(site, {"index.html": "<h1>v2</h1>"})
        v2 = publisher.json("publish", site)

        def mirror_seq():
            return [x for x in mirror.json("sites") if x["address"] == addr][0]["seq"]

        assert wait_for(lambda: mirror_seq() == 2, 60), mirror.read_log()[-3000:]
        assert fetch(mirror, addr, "/")[2] == b"<h1>v2</h1>"
        assert wait_for(lambda: sealed(mirror, v2["info_hash"]), 15)
        assert "reused" in mirror.read_log() or "already held" in mirror.read_log(), \
            mirror.read_log()[-2000:]

        # The publisher restarts; with the mirror gone, a fresh visitor fetches
        # everything from the publisher's sealed files.
        mirror.stop()
        publisher.stop()
        publisher.start()
        status, _, body = fetch(visitor, addr, "/big.bin", timeout=120)
        assert status == 200 and body == open(os.path.join(site, "big.bin"), "rb").read()
        for n in (publisher, visitor):
            assert "ermission denied" not in n.read_log(), n.read_log()[-3000:]

        out = os.path.join(c.dir, "copy")
        visitor.json("get", addr, out)
        assert same_tree(site, out)
        modes = {f: os.stat(os.path.join(out, f)).st_mode & 0o200 for f in os.listdir(out)
                 if os.path.isfile(os.path.join(out, f))}
        assert modes and all(modes.values()), modes
        print("restart, fresh visit and get: fine; the copy is writable")


def test_visit_cache_evicts_least_recent():
    """Visited sites share a cache cap: the least recently visited goes first,
    a mirrored site never."""
    with Cluster(BIN, 2, extra_for={2: ["--cache-size", "1"]}) as c:
        publisher, visitor = c[1], c[2]
        addrs = {}
        for name in ("a", "b", "m", "c"):
            site = make_site(os.path.join(c.dir, name), {"index.html": name,
                                                         "data.bin": os.urandom(600 * 1024)})
            addrs[name] = publisher.json("publish", site)["address"]

        def held():
            return {x["address"]: x for x in visitor.json("sites")}

        def visit(name):
            # Timestamps are whole seconds: let one pass so visits are ordered.
            t = int(time.time())
            wait_for(lambda: int(time.time()) > t, 3)
            assert fetch(visitor, addrs[name], "/")[2] == name.encode()
            # The rest of the site follows in the background.
            assert wait_for(lambda: held().get(addrs[name], {}).get("on_disk", 0) >= 600 * 1024, 60)

        visit("a")
        visit("b")  # 1.2 MB of visited sites > 1 MiB: "a" goes
        assert wait_for(lambda: addrs["a"] not in held(), 30), held().keys()
        assert addrs["b"] in held()
        assert visitor.json("mirror", addrs["m"])["seq"] == 1
        visit("c")  # "b" goes; the mirror is not counted and never evicted
        assert wait_for(lambda: addrs["b"] not in held(), 30), held().keys()
        sites = held()
        assert sites[addrs["m"]]["role"] == "mirrored" and addrs["c"] in sites
        # An evicted site is fetched again on the next visit.
        assert fetch(visitor, addrs["a"], "/")[2] == b"a"


def test_replaced_versions_freed():
    """A replaced version is freed after its grace period, also when the
    daemon restarted in between."""
    with Cluster(BIN, 1, extra=["--version-grace", "2"]) as c:
        n = c[1]
        site = make_site(os.path.join(c.dir, "site"), {"index.html": "v1", "same.bin": "x" * 5000})
        store = os.path.join(n.home, "store")
        v1 = n.json("publish", site)["info_hash"]
        make_site(site, {"index.html": "v2"})
        v2 = n.json("publish", site)["info_hash"]
        assert wait_for(lambda: not os.path.exists(os.path.join(store, v1)), 30), os.listdir(store)
        make_site(site, {"index.html": "v3"})
        v3 = n.json("publish", site)["info_hash"]
        n.stop()  # v2's grace period was running in memory only
        n.start()
        assert wait_for(lambda: not os.path.exists(os.path.join(store, v2)), 30), os.listdir(store)
        assert os.listdir(store) == [v3]
        # Unchanged files were shared with the freed versions (hard links): still whole.
        assert fetch(n, n.json("sites")[0]["address"], "/same.bin")[2] == b"x" * 5000


def test_incremental_update():
    """An update costs only what changed: the mirror of a 100-file, 53 MiB
    site downloads about the one changed 1 MiB file when the publisher
    changes it and renames another; the renamed one and the 98 others come
    from what it holds. Also across sites: mirroring a site B that carries
    two of A's files downloads neither."""
    mib = 1 << 20
    with Cluster(BIN, 3, extra_for={3: ["--mirror-interval", "1"]}) as c:
        publisher, mirror = c[2], c[3]
        files = {"index.html": "<h1>v1</h1>"}
        for i in range(50):
            files["big/%02d.bin" % i] = os.urandom(mib)
        for i in range(49):
            files["small/%02d.bin" % i] = os.urandom(64 << 10)
        site = make_site(os.path.join(c.dir, "site"), files)
        addr = publisher.json("publish", site)["address"]
        m = mirror.json("mirror", addr)
        assert m["bytes"] >= 53 * mib, m

        def downloaded():
            return mirror.json("status")["downloaded"]

        before = downloaded()
        changed = os.urandom(mib)
        with open(os.path.join(site, "big", "07.bin"), "wb") as f:
            f.write(changed)
        os.makedirs(os.path.join(site, "moved"))
        os.rename(os.path.join(site, "big", "13.bin"), os.path.join(site, "moved", "13.bin"))
        assert publisher.json("publish", site)["seq"] == 2

        def mirror_site():
            return [x for x in mirror.json("sites") if x["address"] == addr][0]

        assert wait_for(lambda: mirror_site()["seq"] == 2, 60), mirror_site()
        cost = downloaded() - before
        print("update: %d payload bytes downloaded for %d changed (%.3fx)"
              % (cost, mib, cost / mib))
        assert cost <= 1.05 * mib, cost
        assert "starts from" in mirror.read_log()
        out = os.path.join(c.dir, "out")
        store = os.path.join(mirror.home, "store", mirror_site()["info_hash"])
        shutil.copytree(store, out)
        assert same_tree(site, os.path.join(out, os.listdir(out)[0])), os.listdir(out)

        # Across sites: site B carries two of site A's files under new names.
        other = make_site(os.path.join(c.dir, "other"), {"index.html": "<h1>B</h1>"})
        shutil.copy(os.path.join(site, "big", "00.bin"), os.path.join(other, "a.bin"))
        shutil.copy(os.path.join(site, "moved", "13.bin"), os.path.join(other, "b.bin"))
        other_addr = publisher.json("publish", other)["address"]
        assert other_addr != addr
        before = downloaded()
        mirror.json("mirror", other_addr)
        cost = downloaded() - before
        print("second site: %d payload bytes downloaded for %d new" % (cost, len("<h1>B</h1>")))
        assert cost < 64 << 10, cost
        out = os.path.join(c.dir, "out-b")
        mirror.run("get", other_addr, out)
        assert same_tree(other, out)


def test_atomic_switch_under_load():
    """While a mirror fetches an update (slowly: the publisher's upload is
    capped), 8 clients keep loading the page, its CSS and a 4 MiB asset from
    the mirror's gateway: every response is one version's file, whole, and
    once a client got version 2 it never gets version 1 again."""
    mib = 1 << 20
    with Cluster(BIN, 2, extra_for={1: ["--upload-limit", "2048"],
                                    2: ["--mirror-interval", "1"]}) as c:
        publisher, mirror = c[1], c[2]

        def version(n):
            return {"index.html": "<h1>v%d</h1><link rel=stylesheet href=s.css>" % n,
                    "s.css": "/* v%d */" % n + " " * (n * 1000),
                    "big.bin": os.urandom(4 * mib)}

        site = os.path.join(c.dir, "site")
        files = {1: version(1), 2: version(2)}
        make_site(site, files[1])
        addr = publisher.json("publish", site)["address"]
        mirror.json("mirror", addr)

        def which(path, body):
            for n in (1, 2):
                want = files[n][path.lstrip("/") or "index.html"]
                want = want.encode() if isinstance(want, str) else want
                if body == want:
                    return n
            return None

        stop = threading.Event()
        failures, counts = [], []

        def client():
            newest, n = 0, 0
            while not stop.is_set():
                for path in ("/", "/s.css", "/big.bin"):
                    status, _, body = fetch(mirror, addr, path)
                    v = which(path, body) if status == 200 else None
                    n += 1
                    if v is None:
                        failures.append("%s: status %d, %d bytes of neither version"
                                        % (path, status, len(body)))
                    elif v < newest:
                        failures.append("%s: version %d after version %d" % (path, v, newest))
                    newest = max(newest, v or 0)
            counts.append(n)

        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(1)
        make_site(site, files[2])
        assert publisher.json("publish", site)["seq"] == 2

        def mirror_seq():
            return [x for x in mirror.json("sites") if x["address"] == addr][0]["seq"]

        switched = wait_for(lambda: mirror_seq() == 2, 90)
        time.sleep(1)
        stop.set()
        for t in threads:
            t.join()
        print("%d responses during the update, %d wrong" % (sum(counts), len(failures)))
        assert switched
        assert not failures, failures[:5]
        assert fetch(mirror, addr, "/")[2] == files[2]["index.html"].encode()


def test_big_visited_site_updates_on_demand():
    """A visited site over the per-site cap is fetched only as it is read,
    its updates too: the new version is served at once, and a visitor that
    only reads the page downloads only the page."""
    mib = 1 << 20
    with Cluster(BIN, 2, extra_for={2: ["--site-cache-size", "1", "--refresh-interval", "1"]}) as c:
        publisher, visitor = c[1], c[2]
        site = os.path.join(c.dir, "site")
        make_site(site, {"index.html": "<h1>v1</h1>", "big.bin": os.urandom(3 * mib)})
        addr = publisher.json("publish", site)["address"]
        assert fetch(visitor, addr, "/")[2] == b"<h1>v1</h1>"
        big = os.urandom(3 * mib)
        make_site(site, {"index.html": "<h1>v2</h1>", "big.bin": big})
        assert publisher.json("publish", site)["seq"] == 2
        assert wait_for(lambda: fetch(visitor, addr, "/")[2] == b"<h1>v2</h1>", 60)
        entry = [x for x in visitor.json("sites") if x["address"] == addr][0]
        assert entry["seq"] == 2, entry
        got = visitor.json("status")["downloaded"]
        print("downloaded %d bytes for two versions of a %d-byte site" % (got, entry["size"]))
        assert got < mib, got
        assert fetch(visitor, addr, "/big.bin")[2] == big


def test_swarm_sends_fresh_pieces():
    """Four visitors `get` a site at once from a publisher with a capped
    upload: each gets it whole and right, and the publisher turns requests
    down (BEP 6 reject and suggest, node/fresh_pieces.cpp) so that the
    visitors pass pieces on instead of all asking it for the same ones."""
    size = 4 << 20
    with Cluster(BIN, 5, extra_for={1: ["--upload-limit", "1024"]}) as c:
        publisher = c[1]
        site = make_site(os.path.join(c.dir, "site"), {"data.bin": os.urandom(size)})
        addr = publisher.json("publish", site)["address"]
        up0 = publisher.json("status")["uploaded"]
        procs = {i: subprocess.Popen(c[i].cli_argv(["get", addr, os.path.join(c.dir, "out%d" % i)]),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     stdin=subprocess.DEVNULL) for i in range(2, 6)}
        for i, p in procs.items():
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, (i, out, err)
            assert same_tree(site, os.path.join(c.dir, "out%d" % i)), i
        st = publisher.json("status")
        sent = (st["uploaded"] - up0) / size
        print("publisher uploaded %.2f F, turned %d requests down" % (sent, st["requests_declined"]))
        assert st["requests_declined"] > 0, st
        # Four copies from the publisher alone would be 4 F.
        assert sent < 3, sent


def test_get_resumes():
    """`get` into the folder an interrupted get of the same site left keeps
    what is there and right, replaces what is not, fetches the rest; any other
    non-empty folder is refused, and nothing in it is touched."""
    with Cluster(BIN, 2) as c:
        publisher, visitor = c[1], c[2]
        files = {"index.html": "<h1>resume</h1>", "a/kept.txt": "kept " * 100,
                 "a/gone.txt": "gone", "b/changed.bin": os.urandom(5000),
                 "b/cut.bin": os.urandom(70000)}
        addr = publisher.json("publish", make_site(os.path.join(c.dir, "site"), files))["address"]
        out = os.path.join(c.dir, "out")
        visitor.json("get", addr, out)
        assert tree_files(out) == {k: v.encode() if isinstance(v, str) else v
                                   for k, v in files.items()}
        # What an interrupted get leaves: its marker, some files missing,
        # one with other bytes, one cut short.
        with open(os.path.join(out, ".hostless-get"), "w") as f:
            json.dump({"address": addr}, f)
        os.remove(os.path.join(out, "a", "gone.txt"))
        with open(os.path.join(out, "b", "changed.bin"), "r+b") as f:
            f.write(b"X" * 10)
        with open(os.path.join(out, "b", "cut.bin"), "r+b") as f:
            f.truncate(1000)
        r = visitor.json("get", addr, out)
        assert r["resumed"] and r["kept"] == 2 and r["files"] == 5, r
        assert tree_files(out) == {k: v.encode() if isinstance(v, str) else v
                                   for k, v in files.items()}
        # Done: the folder is the user's now, and a third get is refused.
        again = visitor.run("get", addr, out, check=False)
        assert again.returncode == 1 and "not empty" in again.stderr, again.stderr
        # Another site's interrupted get, or a folder of the user's: refused.
        other = os.path.join(c.dir, "other")
        make_site(other, {".hostless-get": json.dumps({"address": "y" * 52}), "mine.txt": "mine"})
        p = visitor.run("get", addr, other, check=False)
        assert p.returncode == 1 and "another site" in p.stderr, p.stderr
        mine = make_site(os.path.join(c.dir, "mine"), {"notes.txt": "my notes"})
        p = visitor.run("get", addr, mine, check=False)
        assert p.returncode == 1 and "not empty" in p.stderr, p.stderr
        assert tree_files(mine) == {"notes.txt": b"my notes"}
        assert tree_files(other)["mine.txt"] == b"mine"


def test_web_seed():
    """A site whose publisher is gone and which nobody mirrors loads from its
    web seed alone (nginx serving what `hostless export` wrote): metadata
    and every byte, checked; a web seed with an altered file gets 0 wrong
    bytes served."""
    with Cluster(BIN, 3) as c:
        dht, publisher, visitor = c[1], c[2], c[3]
        files = {"index.html": "<h1>from the web seed</h1>", "css/site.css": "h1{color:red}",
                 "big.bin": os.urandom(3 * 1024 * 1024 + 5)}
        site = make_site(os.path.join(c.dir, "site"), files)
        exported = os.path.join(c.dir, "webseed")
        os.makedirs(exported)
        nginx = Nginx(exported)
        try:
            url = "http://127.0.0.1:%d/" % nginx.port
            pub = publisher.json("publish", site, "--web-seed", url[:-1])
            addr = pub["address"]
            assert pub["web_seeds"] == [url], pub
            assert "&ws=" + urllib.parse.quote(url, safe="") in pub["torrent_magnet"], pub
            r = publisher.json("export", addr, exported)
            name = r["name"]
            assert os.path.exists(os.path.join(exported, pub["info_hash"] + ".torrent"))
            assert tree_files(os.path.join(exported, name)) == {
                k: v.encode() if isinstance(v, str) else v for k, v in files.items()}
            # The name stays in the DHT (node 1 holds it); the publisher goes.
            wait_for(lambda: resolve_seq(dht, addr, 1), 30)
            publisher.stop()
            # A visitor that never saw the site: the pointer from the DHT, the
            # metadata and the bytes from nginx.
            assert visitor.json("resolve", addr)["info_hash"] == pub["info_hash"]
            for path, content in files.items():
                want = content.encode() if isinstance(content, str) else content
                status, _, body = fetch(visitor, addr, "/" + path, timeout=120)
                assert status == 200 and body == want, (path, status, len(body))
            # A web seed holding other bytes: nothing of them is served (the
            # visitor goes too, so the web seed is the only source).
            visitor.stop()
            bad = 2 * 1024 * 1024
            with open(os.path.join(exported, name, "big.bin"), "r+b") as f:
                f.seek(bad)
                f.write(b"\0" * 4096)
            fresh = Node(BIN, os.path.join(c.dir, "n4"), 4, bootstrap_port=dht.peer_port,
                         extra=["--gateway-timeout", "5"]).start()
            try:
                status, _, body = fetch(fresh, addr, "/index.html", timeout=120)
                assert status == 200 and body == files["index.html"].encode(), (status, body)
                want = files["big.bin"][bad:bad + 4096]
                try:
                    status, _, body = fetch(fresh, addr, "/big.bin", timeout=60, headers={
                        "Range": "bytes=%d-%d" % (bad, bad + 4095)})
                except http.client.IncompleteRead as e:
                    # Headers go out before the bytes: the gateway ends the
                    # answer when no verified byte comes.
                    status, body = "cut", e.partial
                print("the altered range: %s, %d bytes" % (status, len(body)))
                assert body == want[:len(body)], "wrong bytes served"
                assert status != 206 or body == want, status
            finally:
                fresh.stop()
        finally:
            nginx.close()


if __name__ == "__main__":
    BIN = os.path.abspath(sys.argv[1])
    name = sys.argv[2]
    globals()[name]()
    print("ok", name)
