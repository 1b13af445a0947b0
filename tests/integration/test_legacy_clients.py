#!/usr/bin/python3
"""BitTorrent clients without v2 (Debian 12's aria2 1.36, Transmission 3.00)
download a site's v1 twin (`hostless torrent ADDR --v1`) from the daemon that
exported it, on a small simulated internet (tests/support/netsim.py: the
daemons with their default settings, each program in its own namespace with
a public-looking address; Transmission refuses loopback peers). A tiny HTTP
tracker made here tells the clients where the daemon is.

usage: test_legacy_clients.py HOSTLESS_BINARY NETSIM_DELAYER TEST_NAME   (as root)
"""
import http.server
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import netsim  # noqa: E402
from harness import make_site, stop_process, wait_for  # noqa: E402
from faults import tree_files  # noqa: E402

import libtorrent as lt  # noqa: E402  (python3-libtorrent)

BIN = None
DELAYER = None


class Tracker:
    """A BEP 3 HTTP tracker on (host, port) that answers every announce with
    one peer, (peer_ip, peer_port): the daemon under test (compact form,
    BEP 23). Made inside a netsim namespace, its socket stays there."""

    def __init__(self, host, port, peer_ip, peer_port):
        peers = socket.inet_aton(peer_ip) + struct.pack(">H", peer_port)
        body = b"d8:intervali60e5:peers%d:%se" % (len(peers), peers)
        self.announces = []
        announces = self.announces

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                q = urllib.parse.urlparse(self.path).query
                announces.append(urllib.parse.parse_qs(q).get("event", [""])[0])
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((host, port), Handler)
        self.url = "http://%s:%d/announce" % (host, port)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def with_announce(torrent, url):
    """The .torrent with an "announce" key (outside the info dictionary: the
    info-hash is the same)."""
    d = lt.bdecode(torrent)
    d[b"announce"] = url.encode()
    return lt.bencode(d)


def downloaded(folder, want):
    """Whether `folder` holds exactly the files of `want` with their bytes."""
    return os.path.isdir(folder) and tree_files(folder) == want


def client_downloads(net, slot, argv, dest, name, want):
    """Runs a BitTorrent client (argv) in netsim slot `slot` until dest/name
    holds exactly the files of `want` (it keeps seeding otherwise), at most
    90 s; prints how long it took, and what it left and its log if it failed."""
    client = os.path.basename(argv[0])
    log = os.path.join(net.dir, client + ".log")
    t = time.monotonic()
    with open(log, "wb") as out:
        proc = net.popen(slot, argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            done = lambda: downloaded(os.path.join(dest, name), want)  # noqa: E731
            ok = wait_for(lambda: done() or proc.poll() is not None, 90) and done()
        finally:
            stop_process(proc, 10)
    print("%s: %s after %.2f s" % (client, ok, time.monotonic() - t))
    if not ok:
        for d, _, names in os.walk(dest):
            print(d, [(n, os.path.getsize(os.path.join(d, n))) for n in names])
        with open(log, errors="replace") as f:
            print(f.read()[-3000:])
        net.dump_logs()
    assert ok, "%s did not download the twin" % client


def test_v1_twin():
    """aria2c and transmission-cli download the v1 twin from the daemon alone,
    bytes identical, no pad files; the twin is seeded again after a restart."""
    with netsim.Net(4, rtt=50, loss=0.01, delayer=DELAYER,
                    keep=bool(os.environ.get("NETSIM_KEEP"))) as net:
        boot = net.node(1, BIN).start()
        node = net.node(2, BIN, bootstrap=boot.endpoint).start()
        files = {"index.html": b"<h1>twin</h1>", "css/site.css": b"h1{color:red}" * 1000,
                 "img/a.bin": os.urandom(40000), "b.bin": os.urandom(100001),
                 "empty.txt": b""}
        site = make_site(os.path.join(net.dir, "site"), files)
        # A web seed (where nothing listens): the twin carries it too.
        web_seed = "http://%s:9/" % net[4].ip
        pub = node.json("publish", site, "--web-seed", web_seed)
        addr = pub["address"]
        p = node.run("torrent", addr, "--v1", check=False)
        assert p.returncode != 0 and "-o FILE, --magnet" in p.stderr, p.stderr
        out = os.path.join(net.dir, "twin.torrent")
        t = time.monotonic()
        node.run("torrent", addr, "--v1", "-o", out)
        print("torrent --v1 took %.2f s" % (time.monotonic() - t))
        magnet = node.run("torrent", addr, "--v1", "--magnet").stdout.strip()
        hybrid_magnet = node.run("torrent", addr, "--magnet").stdout.strip()
        with open(out, "rb") as f:
            twin = f.read()
        ti = lt.torrent_info(lt.bdecode(twin))
        twin_ih = str(ti.info_hashes().v1)
        print("twin", twin_ih, "of", pub["info_hash"], magnet)
        assert not ti.info_hashes().has_v2(), "the twin is not v1-only"
        assert twin_ih != pub["info_hash"]
        assert magnet.startswith("magnet:?xt=urn:btih:%s&dn=" % twin_ih), magnet
        assert magnet.endswith("&ws=" + urllib.parse.quote(web_seed, safe="")), magnet
        assert [w["url"] for w in ti.web_seeds()] == [web_seed], ti.web_seeds()
        assert hybrid_magnet.startswith("magnet:?xt=urn:btih:%s&" % pub["info_hash"]), \
            hybrid_magnet
        fs = ti.files()
        names = sorted(fs.file_path(i).split("/", 1)[1] for i in range(fs.num_files()))
        assert names == sorted(files), names  # no pad files
        assert ti.piece_length() == 16384 and ti.num_pieces() == (
            sum(len(v) for v in files.values()) + 16383) // 16384
        # The same version always gives the same twin.
        again = os.path.join(net.dir, "again.torrent")
        node.run("torrent", addr, "--v1", "-o", again)
        with open(again, "rb") as f:
            assert f.read() == twin
        name = ti.name()

        with net.namespace(3):
            tracker = Tracker(net[3].ip, 6969, net[2].ip, node.peer_port)
        try:
            torrent = os.path.join(net.dir, "tracked.torrent")
            with open(torrent, "wb") as f:
                f.write(with_announce(twin, tracker.url))

            dest = os.path.join(net.dir, "aria2")
            client_downloads(net, 3, ["aria2c", "--dir", dest, "--seed-time=0",
                                      "--enable-dht=false", "--enable-dht6=false",
                                      "--bt-enable-lpd=false", "--enable-peer-exchange=false",
                                      "--summary-interval=0", "--console-log-level=warn",
                                      torrent], dest, name, files)
            assert os.listdir(dest) == [name], os.listdir(dest)

            # A restart: the daemon seeds the twin again, as it was.
            node.stop()
            node.start()
            dest = os.path.join(net.dir, "transmission")
            config = os.path.join(net.dir, "transmission-config")
            # No DHT, local discovery, PEX or port mapping: only the tracker.
            os.makedirs(config)
            with open(os.path.join(config, "settings.json"), "w") as f:
                json.dump({"dht-enabled": False, "lpd-enabled": False, "pex-enabled": False,
                           "port-forwarding-enabled": False, "blocklist-enabled": False}, f)
            # (Transmission 3.00 creates no empty files: its way, not ours.)
            nonempty = {k: v for k, v in files.items() if v}
            client_downloads(net, 4, ["transmission-cli", "-w", dest, "-g", config, "-M", "-et",
                                      torrent], dest, name, nonempty)
            print("tracker announces:", tracker.announces)
        finally:
            tracker.close()


if __name__ == "__main__":
    BIN = os.path.abspath(sys.argv[1])
    DELAYER = os.path.abspath(sys.argv[2])
    name = sys.argv[3]
    globals()[name]()
    print("ok", name)
