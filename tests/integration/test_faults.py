#!/usr/bin/python3
"""Fault tests: daemons killed with SIGKILL while they download or publish,
and peers that send corrupted data. Real daemons on 127.0.0.1 (see
tests/support/harness.py and tests/support/faults.py).

Short figures by default (scripts/test); HOSTLESS_TEST_LONG=1 (scripts/test
--long) runs the full ones (10 kill points). HOSTLESS_TEST_SEED=N replays a
run's random choices.

usage: test_faults.py HOSTLESS_BINARY TEST_NAME
"""
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from faults import (check_catalog, fetch, kill9, long_run, sha256,  # noqa: E402
                    start_after_crash, tree_files)
from harness import Api, Cluster, Node, make_site, wait_for  # noqa: E402

BIN = None
MIB = 1 << 20


def rng_for(test):
    seed = int(os.environ.get("HOSTLESS_TEST_SEED", "0")) or random.randrange(1, 1 << 30)
    print("%s: HOSTLESS_TEST_SEED=%d" % (test, seed))
    return random.Random(seed)


def site_entry(node, address):
    for s in node.json("sites"):
        if s["address"] == address:
            return s
    return {}


def key_hex(publish_result):
    return publish_result["magnet"].split("urn:btpk:")[1].upper()


def same_files(files, root):
    """True if root holds exactly `files` ({relative path: bytes or str})."""
    want = {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}
    return tree_files(root) == want


# ---------------------------------------------------------------------------
# 1. Crash and restart


def crash_resume(mode):
    """kill -9 a visitor at random points of a 64 MiB download (`mode`:
    "mirror", the daemon's own fetch, or "get"); each restart goes on from the
    pieces verified before the kill, and the copy ends byte-identical.

    The publisher uploads at 4 MiB/s (all peers, loopback included), so a kill
    point lands mid-download. For each leg (start or restart -> next kill or
    the end) the payload downloaded must not exceed what the leg added to the
    verified bytes, plus a slack for the pieces in flight at the kill: a
    daemon that started from zero would download again what it had."""
    rng = rng_for("crash_resume_" + mode)
    kills = 10 if long_run() else 3
    if mode == "get":
        kills = 3 if long_run() else 1
    # Pieces in flight at the kill: libtorrent counts a piece as held once it
    # is hashed, before its write reaches the file, so a kill loses what its
    # disk thread had not written yet: a few MiB on an idle machine, more when
    # the disk thread lags (seen: 15 MiB of a 30 MiB leg with the machine
    # loaded 6 times over). A restart from zero would lose it all.
    def slack_for(leg_bytes):
        return 4 * MIB + leg_bytes // 4
    # A mirroring visitor frees unused versions 2 s after they are retired: the
    # partial download found at restart must not be freed under the resumed
    # fetch. (A get is run again by the user: its partial download is kept for
    # the default grace period, 600 s.)
    grace = ["--version-grace", "2"] if mode == "mirror" else []
    with Cluster(BIN, 2, extra_for={1: ["--upload-limit", "4096"], 2: grace}) as c:
        pub, vis = c[1], c[2]
        files = {"index.html": "<h1>big site</h1>", "video/big.bin": os.urandom(40 * MIB)}
        for i in range(24):
            files["assets/%02d.bin" % i] = os.urandom(MIB)
        site = make_site(os.path.join(c.dir, "site"), files)
        size = sum(len(v) for v in files.values())
        pub_result = pub.json("publish", site)
        addr, ih = pub_result["address"], pub_result["info_hash"]
        points = sorted(rng.uniform(0.15, 0.9) for _ in range(kills))

        def start_fetch(k):
            args = [BIN, "--home", vis.home, mode, addr]
            if mode == "get":
                # The same folder each time: a get resumes in the folder an
                # interrupted one left.
                args.append(os.path.join(c.dir, "out"))
            return subprocess.Popen(args + ["--json"], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)

        def fetching():
            """The version being fetched ({on_disk, size, ...}), also once it
            became the served one."""
            entry = site_entry(vis, addr)
            return entry if entry.get("info_hash") == ih else entry.get("fetching", {})

        cli = start_fetch(0)
        verified_before = 0  # verified bytes at the last kill
        legs = []
        for k, frac in enumerate(points):
            t0 = time.time()
            f = wait_for(lambda: fetching() if fetching().get("on_disk", 0) >= frac * size
                         else None, 600)
            assert f, "kill point %d (%.0f%%) not reached: %s" % (k, frac * 100, fetching())
            downloaded = vis.json("status")["downloaded"]
            kill9(vis)
            verified = f["on_disk"]
            legs.append((verified_before, downloaded, verified))
            print("kill %d at %.0f%% (after %.0f s): %d bytes verified; this leg downloaded %d "
                  "bytes for %d newly verified" % (k + 1, frac * 100, time.time() - t0, verified,
                                                   downloaded, verified - verified_before))
            assert downloaded <= verified - verified_before + slack_for(verified - verified_before), \
                legs[-1]
            # The CLI lost its daemon; a get wrote nothing yet but its
            # marker (the folder is the get's, to resume).
            assert cli.wait(30) == 1, cli.stderr.read()
            if mode == "get":
                out = os.path.join(c.dir, "out")
                assert os.listdir(out) == [".hostless-get"], os.listdir(out)

            # The catalog as the crash left it.
            problems, sites, _ = check_catalog(vis.home, orphans=False)
            assert not problems, problems
            row = [s for s in sites if s[0] == key_hex(pub_result)]
            assert row and row[0][6] == 1, sites  # the site and its pointer are known
            assert row[0][1] == ("mirrored" if mode == "mirror" else "visited"), row

            start_after_crash(vis)
            if mode == "get":
                cli = start_fetch(k + 1)  # the user runs it again
            # libtorrent checks the partial files: the verified pieces come
            # back from disk, not from the network.
            resumed = wait_for(lambda: fetching().get("on_disk", 0) -
                               vis.json("status")["downloaded"] >=
                               verified - slack_for(verified - verified_before), 120)
            assert resumed, (verified, fetching(), vis.json("status"))
            verified_before = verified

        if mode == "mirror":
            assert wait_for(lambda: site_entry(vis, addr).get("seq") == 1, 600), \
                site_entry(vis, addr)
        else:
            out = json.loads(cli.communicate(timeout=600)[0])
            assert out["info_hash"] == ih, out
            assert same_files(files, os.path.join(c.dir, "out"))
        entry = site_entry(vis, addr)
        downloaded = vis.json("status")["downloaded"]
        print("after the last restart: downloaded %d bytes for the remaining %d"
              % (downloaded, size - verified_before))
        assert entry["on_disk"] == entry["size"] == size and entry["info_hash"] == ih, entry
        assert downloaded <= size - verified_before + slack_for(size - verified_before), \
            (downloaded, verified_before)

        # Byte-identical, and the catalog holds exactly this version.
        out = os.path.join(c.dir, "copy")
        vis.json("get", addr, out)
        assert same_files(files, out), "the copy differs from the published folder"
        problems, sites, versions = check_catalog(vis.home)
        assert not problems, problems
        assert [(v[0].lower(), v[3], v[4]) for v in versions] == [(ih, size, 0)], versions
        assert os.listdir(os.path.join(vis.home, "store")) == [ih]
        if mode == "mirror":
            assert site_entry(vis, addr)["role"] == "mirrored"
            assert vis.read_log().count("resuming the mirror of " + addr) == kills
        total = sum(leg[1] for leg in legs) + downloaded
        print("%s: %d kills, %d payload bytes downloaded in all for %d (%.3fx)"
              % (mode, kills, total, size, total / size))


def test_crash_resume_mirror():
    crash_resume("mirror")


def test_crash_resume_get():
    crash_resume("get")


def publish_version(site, k, rng):
    """Rewrites the folder as version k: every file changes (so a publish
    copies and hashes ~65 MiB), and one file exists only in this version."""
    shutil.rmtree(site, ignore_errors=True)
    files = {"index.html": "<h1>version %d</h1>" % k, "only-v%d.txt" % k: "v%d" % k}
    for i in range(300):
        files["pages/p%03d.html" % i] = ("<p>version %d, page %d</p>\n" % (k, i)) * (i % 40 + 1)
    for i in range(8):
        files["media/m%02d.bin" % i] = rng.randbytes(8 * MIB)
    make_site(site, files)
    return files


def served_version(node, address, versions):
    """Which of `versions` ({k: files}) node's gateway serves, checking every
    byte of every file, and that the other versions' own files are absent;
    None if the site is not served whole as one of them."""
    status, index = fetch(node, address, "/index.html")
    m = re.match(rb"<h1>version (\d+)</h1>$", index) if status == 200 else None
    k = int(m.group(1)) if m else None
    if k not in versions:
        return None
    for path, content in versions[k].items():
        want = content.encode() if isinstance(content, str) else content
        status, body = fetch(node, address, "/" + path)
        assert status == 200 and sha256(body) == sha256(want), \
            "version %d: %s is %d, %d bytes" % (k, path, status, len(body))
    for other in versions:
        if other != k:
            status, _ = fetch(node, address, "/only-v%d.txt" % other)
            assert status == 404, "version %d serves version %d's file" % (k, other)
    return k


def test_crash_during_publish():
    """kill -9 during a publish of a new version (during the copy, the
    hashing, the catalog write or the DHT put, and the CLI instead of the
    daemon once): after a restart the site serves the old version whole or
    the new one whole (every byte checked through the gateway; a visitor gets
    the same), never a mix or a broken one, and publishing again works."""
    rng = rng_for("crash_during_publish")
    rounds = 10 if long_run() else 3
    # Where the kill is aimed: a stage of the publish job ("hashed": hashing
    # over, the torrent being added and the catalog written), or a random time.
    targets = ["copying", "hashing", "announcing", "hashed", "any time"]
    order = {"starting": 0, "copying": 1, "hashing": 2, "hashed": 3, "announcing": 4,
             "finished": 5}
    with Cluster(BIN, 3, extra_for={1: ["--version-grace", "0"]}) as c:
        pub, visitor, other = c[1], c[2], c[3]
        site = os.path.join(c.dir, "site")
        versions = {1: publish_version(site, 1, rng)}
        first = pub.json("publish", site, timeout=300)
        addr = first["address"]
        seq, last_duration = first["seq"], 5.0

        def check_visitor(k, seq):
            r = {}

            def resolved():
                nonlocal r
                p = visitor.run("resolve", addr, "--json", "--timeout", "5", check=False)
                r = json.loads(p.stdout) if p.returncode == 0 else {}
                return r.get("seq") == seq

            assert wait_for(resolved, 60), (r, seq)
            out = os.path.join(c.dir, "visitor-%d" % len(os.listdir(c.dir)))
            visitor.json("get", addr, out, timeout=300)
            assert same_files(versions[k], out), "the visitor's copy is not version %d" % k

        # The CLI killed mid-publish: the daemon finishes the job anyway.
        versions[2] = publish_version(site, 2, rng)
        cli = subprocess.Popen([BIN, "--home", pub.home, "publish", site],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Killed once the daemon has the job (its staging folder is there, or
        # the CLI is already done): a kill at a fixed time came before a slow
        # CLI (the sanitized build's) had sent its request.
        store = os.path.join(pub.home, "store")
        assert wait_for(lambda: cli.poll() is not None or any(
            d.startswith(".") for d in os.listdir(store)), 60, interval=0.01)
        time.sleep(rng.uniform(0, 0.3))
        cli.send_signal(signal.SIGKILL)
        cli.wait()
        assert wait_for(lambda: served_version(pub, addr, {2: versions[2]}) == 2, 120)
        seq = site_entry(pub, addr)["seq"]
        assert seq == 2
        again = pub.json("publish", site)
        assert again["unchanged"] and again["seq"] == 2, again
        print("CLI killed mid-publish: the daemon published version 2")

        landed = []
        for r in range(rounds):
            k = r + 3
            versions = {k - 1: versions[k - 1], k: publish_version(site, k, rng)}
            target = targets[r % len(targets)]
            frac = rng.uniform(0.1, 0.9)
            at = rng.uniform(0, last_duration)
            stopped = [visitor, other] if target == "announcing" else []
            for n in stopped:  # DHT nodes that do not answer: the put takes seconds
                n.proc.send_signal(signal.SIGSTOP)
            api = Api(pub)
            t0 = time.time()
            job = api.start("publish", {"folder": site})
            while True:
                j = api.job(job)
                stage = j["stage"] if j["state"] == "running" else "finished"
                progress = j["done"] / j["total"] if j["total"] else 0
                if stage == "hashing" and progress >= 1:
                    stage = "hashed"
                if target == "any time":
                    if time.time() - t0 >= at or stage == "finished":
                        break
                elif order.get(stage, 0) > order[target]:
                    break  # passed it between two polls: kill now
                elif stage == target and (stage not in ("copying", "hashing") or progress >= frac):
                    break
            kill9(pub)
            for n in stopped:
                n.proc.send_signal(signal.SIGCONT)
            if stage == "hashed":
                landed.append("the torrent add / catalog write (hashing over)")
            elif stage in ("copying", "hashing"):
                landed.append("%s at %.0f%%" % (stage, progress * 100))
            else:
                landed.append(stage)

            problems, _, _ = check_catalog(pub.home, orphans=False)
            assert not problems, problems
            start_after_crash(pub)
            assert not [d for d in os.listdir(os.path.join(pub.home, "store"))
                        if d.startswith(".")], "staging left in the store"
            served = served_version(pub, addr, versions)
            entry = site_entry(pub, addr)
            assert served in (k - 1, k), "round %d: neither version %d nor %d whole" % (r, k - 1, k)
            assert entry["seq"] == (seq if served == k - 1 else seq + 1), (served, entry, seq)
            problems, _, _ = check_catalog(pub.home)
            assert not problems, problems
            check_visitor(served, entry["seq"])
            print("round %d: killed during %s -> serves version %d (%s)"
                  % (r + 1, landed[-1], served, "old" if served == k - 1 else "new"))

            # Publishing again completes the new version.
            t0 = time.time()
            again = pub.json("publish", site, timeout=300)
            last_duration = max(time.time() - t0, 0.2)
            if served == k:
                assert again["unchanged"] and again["seq"] == entry["seq"], again
            else:
                assert not again["unchanged"] and again["seq"] == entry["seq"] + 1, again
            seq = again["seq"]
            assert served_version(pub, addr, {k: versions[k]}) == k
            check_visitor(k, seq)
        print("kills landed during: %s" % ", ".join(landed))


# ---------------------------------------------------------------------------
# 2. Corrupt peers


def corrupt_copy(src, dst, files_to_damage, piece_len, per_file, rng):
    """Copies a version's folder and flips one byte in `per_file` distinct
    pieces of each named file; returns [(path, offset)]."""
    shutil.copytree(src, dst)
    damaged = []
    for rel in files_to_damage:
        path = os.path.join(dst, rel)
        size = os.path.getsize(path)
        pieces = rng.sample(range(size // piece_len), per_file)
        with open(path, "r+b") as f:
            for p in sorted(pieces):
                off = p * piece_len + rng.randrange(piece_len)
                f.seek(off)
                b = f.read(1)
                f.seek(off)
                f.write(bytes([b[0] ^ 0xFF]))
                damaged.append((rel, off))
    return damaged


class Readers:
    """Gateway clients hashing every byte they are served against the real
    files: whole files and Range requests across the damaged pieces."""

    def __init__(self, node, address, files, damaged, rng):
        self.node, self.address, self.files = node, address, files
        self.served = 0
        self.wrong_bytes = 0  # served bytes that differ from the real file
        self.failed = []  # responses not whole (error status, cut short)
        self.lock = threading.Lock()
        jobs = [(path, None) for path in files]
        for path, off in damaged:
            start = max(0, off - rng.randrange(1, 100000))
            end = min(len(files[path]) - 1, off + rng.randrange(1, 100000))
            jobs.append((path, (start, end)))
        rng.shuffle(jobs)
        self.threads = [threading.Thread(target=self.run, args=(jobs[i::6],)) for i in range(6)]
        for t in self.threads:
            t.start()

    def run(self, jobs):
        for path, rng in jobs:
            want = self.files[path]
            headers = {}
            if rng:
                headers["Range"] = "bytes=%d-%d" % rng
                want = want[rng[0]:rng[1] + 1]
            try:
                status, body = fetch(self.node, self.address, "/" + path, headers)
            except http.client.IncompleteRead as e:
                status, body = "cut short", e.partial
            except (OSError, http.client.HTTPException) as e:
                status, body = repr(e), b""
            with self.lock:
                if status in (200, 206, "cut short"):
                    self.served += len(body)
                    if sha256(body) != sha256(want[:len(body)]):
                        self.wrong_bytes += sum(a != b for a, b in zip(body, want))
                if status not in (200, 206) or len(body) != len(want):
                    self.failed.append((path, rng, status, len(body)))

    def join(self):
        for t in self.threads:
            t.join()
        return self


class CorruptSeed:
    """tests/support/corrupt_seed.py, with its last reported figures."""

    def __init__(self, torrent, data, bootstrap_port):
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "..", "support",
                                                                      "corrupt_seed.py"),
                                      torrent, data, str(bootstrap_port)],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        self.last = {"uploaded": 0, "closed": []}
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.proc.stdout:
            self.last = json.loads(line)

    def close(self):
        self.proc.kill()
        self.proc.wait()


def bans(node):
    return re.findall(r"banned peer ([\d.]+:\d+)", node.read_log())


def hash_failures(node):
    return len(re.findall(r"failed its hash check", node.read_log()))


def test_corrupt_peer():
    """A peer serving corrupted data for the right info-hash (a python
    libtorrent session claiming every piece of an altered copy) next to an
    honest publisher: visitors end byte-identical, the corrupt peer is banned
    and the honest one never, the waste is about the failed pieces, and the
    gateway never serves a wrong byte (every response hashed and compared).

    Visitor A first has only the corrupt peer (the publisher is offline), so
    the hash failures and the ban are the corrupt peer's doing; then the
    publisher comes back. Visitor B starts with both, the corrupt one fast
    and the publisher capped at 2 MiB/s."""
    import libtorrent as lt  # python3-libtorrent, as in corrupt_seed.py

    rng = rng_for("corrupt_peer")
    per_file = 8 if long_run() else 4
    extra = ["--gateway-timeout", "120"]
    with Cluster(BIN, 3, extra=extra) as c:
        boot, pub, a = c[1], c[2], c[3]
        files = {"index.html": b"<h1>corrupt peers</h1>", "big.bin": os.urandom(32 * MIB),
                 "media/clip.bin": os.urandom(6 * MIB + 12345),
                 "docs/page.html": b"<p>page</p>" * 1000}
        site = make_site(os.path.join(c.dir, "site"), files)
        size = sum(len(v) for v in files.values())
        p = pub.json("publish", site)
        addr, ih = p["address"], p["info_hash"]
        torrent = os.path.join(c.dir, "site.torrent")
        pub.run("torrent", addr, "-o", torrent)
        piece_len = lt.torrent_info(torrent).piece_length()
        data = os.path.join(c.dir, "corrupt")
        damaged = corrupt_copy(os.path.join(pub.home, "store", ih), data,
                               [os.path.join(addr, "big.bin"),
                                os.path.join(addr, "media", "clip.bin")], piece_len, per_file, rng)
        damaged = [(os.path.relpath(path, addr), off) for path, off in damaged]
        print("piece size %d; %d pieces damaged: %s" % (piece_len, len(damaged), damaged))

        # Visitor A: the name is known, the publisher gone, the corrupt seed up.
        a.run("resolve", addr)
        pub.stop()
        seed = CorruptSeed(torrent, data, boot.peer_port)
        try:
            readers_a = Readers(a, addr, files, damaged, rng)
            get_a = subprocess.Popen([BIN, "--home", a.home, "get", addr,
                                      os.path.join(c.dir, "out-a"), "--json"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            assert wait_for(lambda: bans(a) and seed.last["uploaded"] > 0, 120), \
                (seed.last, a.read_log()[-2000:])
            sent_a = seed.last["uploaded"]
            assert sent_a > 0 and hash_failures(a) >= 1, (seed.last, hash_failures(a))
            print("visitor A alone with the corrupt peer: %d bytes received from it, %d hash "
                  "failures, banned %s" % (sent_a, hash_failures(a), bans(a)))

            # The publisher comes back, slow; visitor B starts with both.
            pub.extra += ["--upload-limit", "2048"]
            pub.start()
            b = Node(BIN, os.path.join(c.dir, "n4"), 4, bootstrap_port=boot.peer_port,
                     extra=extra).start()
            c.nodes.append(b)
            readers_b = Readers(b, addr, files, damaged, rng)
            got_b = b.json("get", addr, os.path.join(c.dir, "out-b"), timeout=600)
            out_a, err_a = get_a.communicate(timeout=600)
            assert get_a.returncode == 0, err_a
            assert json.loads(out_a)["info_hash"] == ih and got_b["info_hash"] == ih
            readers_a.join()
            readers_b.join()
            sent_all = seed.last["uploaded"]
        finally:
            seed.close()

        assert same_files(files, os.path.join(c.dir, "out-a")), "visitor A's copy differs"
        assert same_files(files, os.path.join(c.dir, "out-b")), "visitor B's copy differs"
        honest = "127.0.0.1:%d" % pub.peer_port
        for name, node, readers in (("A", a, readers_a), ("B", b, readers_b)):
            st = node.json("status")
            downloaded, failed, redundant = st["downloaded"], st["failed_bytes"], \
                st["redundant_bytes"]
            failures = hash_failures(node)
            print("visitor %s: downloaded %d payload bytes for %d: %d over, of which %d failed "
                  "the hash check (%d failures) and %d came twice (piece deadlines, end game); "
                  "bans %s; gateway served %d bytes, all hashed: %d wrong bytes, %d responses "
                  "not whole" % (name, downloaded, size, downloaded - size, failed, failures,
                                 redundant, bans(node), readers.served, readers.wrong_bytes,
                                 len(readers.failed)))
            assert readers.wrong_bytes == 0, "the gateway served corrupted bytes"
            assert not readers.failed, readers.failed[:5]
            assert honest not in bans(node), "the honest publisher was banned"
            # What the corrupt peer cost: its failed pieces, nothing more.
            assert failed <= failures * piece_len and (failed > 0) == (failures > 0), \
                (failed, failures)
            assert downloaded - size <= failed + redundant + MIB, st
            assert redundant <= size // 2, st
        print("the corrupt peer sent %d bytes in all (%d to B); its connections closed: %s"
              % (sent_all, sent_all - sent_a, seed.last["closed"]))
        assert seed.last["closed"], "the corrupt peer was never disconnected"
        assert sent_all > sent_a and hash_failures(b) >= 1 and bans(b), \
            "visitor B never got data from the corrupt peer: the test proves nothing for B"


if __name__ == "__main__":
    BIN = os.path.abspath(sys.argv[1])
    name = sys.argv[2]
    globals()[name]()
    print("ok", name)
