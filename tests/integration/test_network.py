#!/usr/bin/python3
"""Integration tests: real hostless daemons on 127.0.0.1 (see tests/support/harness.py).

usage: test_network.py HOSTLESS_BINARY TEST_NAME
"""
import filecmp
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from harness import Cluster, Node, free_port, wait_for  # noqa: E402
from qbittorrent import QBittorrent  # noqa: E402

BIN = None


def make_site(path, files):
    for rel, content in files.items():
        p = os.path.join(path, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode())
    return path


def same_tree(a, b):
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.diff_files or cmp.funny_files:
        return False
    for f in cmp.common_files:
        if not filecmp.cmp(os.path.join(a, f), os.path.join(b, f), shallow=False):
            return False
    return all(same_tree(os.path.join(a, d), os.path.join(b, d)) for d in cmp.common_dirs)


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
        assert got["info_hash"] == ih1
        assert same_tree(site, out7), "node 7's copy differs"

        again = c[1].json("publish", site)
        assert again["unchanged"] and again["seq"] == 1

        with open(os.path.join(site, "index.html"), "a") as f:
            f.write("<p>version two</p>")
        pub2 = c[1].json("publish", site)
        assert pub2["seq"] == 2 and pub2["address"] == address
        assert pub2["hashed_bytes"] < 1024, "re-publish hashed unchanged files: %s" % pub2
        r2 = resolve_seq(c[6], address, 2)
        assert r2.get("seq") == 2 and r2["info_hash"] == pub2["info_hash"], (r2, pub2)

        # Node 7 fetches version 2 too, then the publisher leaves: node 8
        # still gets the site, from node 7 alone.
        out7b = os.path.join(c.dir, "out7b")
        c[7].json("get", address, out7b)
        c[1].stop()
        out8 = os.path.join(c.dir, "out8")
        got8 = c[8].json("get", address, out8, timeout=300)
        assert got8["seq"] == 2
        assert same_tree(site, out8), "node 8's copy differs"


def test_python_libtorrent_resolves():
    """An independent BEP 46 reader (python3-libtorrent) sees our pointer."""
    with Cluster(BIN, 4) as c:
        site = make_site(os.path.join(c.dir, "site"), {"index.html": "interop"})
        pub = c[1].json("publish", site)
        key_hex = pub["magnet"].split("urn:btpk:")[1]

        def look():
            p = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "..", "support",
                                                                "bep46_resolve.py"),
                                key_hex, str(c[1].peer_port), "10"],
                               capture_output=True, text=True, timeout=60)
            return json.loads(p.stdout) if p.returncode == 0 else None

        r = wait_for(look, 60)
        assert r and r["info_hash"] == pub["info_hash"] and r["seq"] == 1, r


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
                            "127.0.0.1:%d" % free_port()],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and "already running" in p.stderr and \
            str(n.proc.pid) in p.stderr, p.stderr

        # Ports in use.
        other = os.path.join(base, "other")
        p = subprocess.run([BIN, "--home", other, "daemon", "--lan", "--listen",
                            "127.0.0.1:%d" % free_port(), "--gateway",
                            "127.0.0.1:%d" % n.gateway_port],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and "--gateway" in p.stderr, p.stderr
        p = subprocess.run([BIN, "--home", other, "daemon", "--lan", "--listen",
                            "127.0.0.1:%d" % n.peer_port, "--gateway",
                            "127.0.0.1:%d" % free_port()],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and "--listen" in p.stderr, p.stderr

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


if __name__ == "__main__":
    BIN = os.path.abspath(sys.argv[1])
    name = sys.argv[2]
    globals()[name]()
    print("ok", name)
