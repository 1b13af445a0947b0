"""The `feed` benchmark (issue 17): how fast a new post reaches the followers
of a feed, on the simulated internet of tests/support/netsim.py, with every
daemon at its default settings (no --lan; --mirror-interval 300 s, so a post
that arrives within seconds arrived by push).

Slots (full run: n = 14; --quick: n = 8):
  1  bootstrap       2  the author (public)
  3..n-1  followers; the first 3 (quick: 2) behind a plain NAT (MASQUERADE)
  n  a late follower, started once the author is offline

Measured: for each of `posts` new posts, the seconds from the start of
`hostless post` until each follower's copy holds the new version (and in
round trips of the follower-author RTT); then, with the author stopped, the
seconds a fresh node's `hostless follow` takes to hold the whole feed (from
the other followers). Run by bench.py (`scripts/bench feed [--quick]`);
needs root. Nothing is asserted about timings.
"""
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import netsim  # noqa: E402
from harness import Api, wait_for  # noqa: E402
from stats import percentile  # noqa: E402

BOOT, AUTHOR = 1, 2
WAIT = 60  # seconds a follower is given to hold a post (a poll would take 300)


def run_feed(binary, delayer, quick, log=print):
    n = int(os.environ.get("HOSTLESS_FEED_N", 8 if quick else 14))
    posts = 2 if quick else 5
    late = n
    followers = list(range(3, n))
    behind_nat = followers[:2 if quick else 3]
    t0 = time.monotonic()

    def say(what):
        log("[%6.1f s, %d] %s" % (time.monotonic() - t0, time.time(), what))

    out = {"n": n, "posts": posts, "followers": len(followers), "nat": len(behind_nat)}
    with netsim.Net(n, loss=0.01, nat={i: "plain" for i in behind_nat}, delayer=delayer) as net:
        boot_ep = "%s:6881" % net[BOOT].public_ip
        nodes = {i: net.node(i, binary, bootstrap=None if i == BOOT else boot_ep)
                 for i in range(1, n + 1)}
        with ThreadPoolExecutor(4) as ex:
            list(ex.map(lambda i: nodes[i].start(), range(1, n)))
        api = {i: Api(nodes[i]) for i in range(1, n)}
        want = min(8, n - 3)
        wait_for(lambda: api[AUTHOR].call("GET", "status", timeout=30)[1]["dht_nodes"] >= want,
                 60, 0.5)
        say("%d daemons up" % (n - 1))

        folder = os.path.join(net.dir, "feed")
        author = nodes[AUTHOR]
        author.run("new", folder, "--template", "feed")
        first = author.json("post", folder, "first post", timeout=180)
        address = first["publish"]["address"]
        say("feed published: %s" % address)

        def follow(i):
            t = time.monotonic()
            p = nodes[i].run("follow", address, "--as", "author", check=False, timeout=300)
            return i, time.monotonic() - t, p.returncode, p.stderr.strip()[-300:]

        with ThreadPoolExecutor(4) as ex:
            follows = list(ex.map(follow, followers))
        out["follow_s"] = [round(t, 2) for _, t, rc, _ in follows if rc == 0]
        failed = [(i, err) for i, _, rc, err in follows if rc != 0]
        out["follow_failed"] = len(failed)
        say("%d follows, median %.1f s; failed: %s" % (
            len(out["follow_s"]), percentile(out["follow_s"], 50) or -1, failed))
        following = [i for i, _, rc, _ in follows if rc == 0]
        time.sleep(5)

        def seq_of(i):
            try:
                for s in api[i].call("GET", "following", timeout=10)[1] or []:
                    if s["address"] == address:
                        return s["seq"]
            except OSError:
                pass
            return 0

        delays, in_rtts = [], []
        missed = 0
        seq = first["publish"]["seq"]
        for k in range(posts):
            seq += 1  # the version this post makes: watched for while `post` runs
            got = {}
            started = time.monotonic()

            def watch(i):
                while time.monotonic() - started < WAIT:
                    if seq_of(i) >= seq:
                        got[i] = time.monotonic() - started
                        return
                    time.sleep(0.05)

            threads = [threading.Thread(target=watch, args=(i,)) for i in following]
            for t in threads:
                t.start()
            res = author.json("post", folder, "post %d" % (k + 2), timeout=180)
            returned = time.monotonic() - started
            if res["publish"]["seq"] != seq:
                raise RuntimeError("post made seq %s, not %d" % (res["publish"]["seq"], seq))
            for t in threads:
                t.join()
            for i in following:
                if i in got:
                    delays.append(got[i])
                    in_rtts.append(got[i] / net.rtt(i, AUTHOR))
                else:
                    missed += 1
            say("post %d (seq %d): `post` returned after %.1f s; followers holding it: %d of %d,"
                " median %.2f s, slowest %.2f s" % (
                    k + 2, seq, returned, len(got), len(following),
                    percentile(list(got.values()), 50) or -1, max(got.values(), default=-1)))
            time.sleep(2)
        out.update({"delays_s": [round(d, 3) for d in delays], "delays_rtt": in_rtts,
                    "missed": missed, "tries": posts * len(following)})

        # The author goes offline; a new node follows the feed from the followers.
        author.stop()
        nodes[late].start()
        api[late] = Api(nodes[late])
        wait_for(lambda: api[late].call("GET", "status", timeout=30)[1]["dht_nodes"] >= want,
                 60, 0.5)
        t = time.monotonic()
        p = nodes[late].run("follow", address, check=False, timeout=300)
        out["late_follow_s"] = time.monotonic() - t
        out["late_follow_ok"] = p.returncode == 0
        say("author offline: a new follower holds the whole feed after %.1f s (%s)" % (
            out["late_follow_s"], "ok" if p.returncode == 0 else p.stderr.strip()[-300:]))
        if os.environ.get("FEED_LOGS"):
            for i in (AUTHOR, followers[0], followers[-1]):
                print("---- node %d ----\n%s" % (i, nodes[i].read_log()[-4000:]))
    return out
