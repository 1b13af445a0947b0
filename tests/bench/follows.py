"""The `follows` benchmark (issue 17's target for 500 follows): what a node
following F feeds costs while nothing changes, on the simulated internet of
tests/support/netsim.py with daemons at their default settings (the
default --mirror-interval, 300 s, so each feed is polled once an interval).

Slots (full run: n = 60, F = 500 feeds from 10 authors; --quick: n = 10,
F = 100 from 5):
  1  bootstrap      2  the follower      3..2+A  the authors
  the rest: plain DHT nodes

The F feeds are published (each author publishes its share in turn: a
daemon publishes one folder at a time) and followed (8 follows at a time).
After one interval to settle (every feed's first poll is a walk), the
follower is measured over one more interval: resident memory at its end,
CPU time over it, and its DHT bytes in and out (libtorrent's counters: its
polls, its re-puts, and its share of the DHT's own traffic), extrapolated
to a day. Run by bench.py (`scripts/bench follows [--quick]`); needs root.
"""
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import netsim  # noqa: E402
from harness import Api, make_site, wait_for  # noqa: E402
from polling import dht_bytes, proc_usage, start_network  # noqa: E402
from stats import percentile  # noqa: E402

FOLLOWER = 2  # slot 1 bootstraps the DHT (polling.start_network)
INTERVAL = 300  # the default --mirror-interval


def run_follows(binary, delayer, quick, log=print):
    # 60 nodes, not 20: every name's lookups and puts land on the few nodes
    # there are. At 20, 337 of 500 publishes failed (not logged why; most
    # likely libtorrent's per-IP query limit, 5/s then 5 minutes blocked,
    # which the real DHT's thousands of nodes spread out).
    n = int(os.environ.get("HOSTLESS_FOLLOWS_N", 10 if quick else 60))
    feeds = int(os.environ.get("HOSTLESS_FOLLOWS_FEEDS", 100 if quick else 500))
    authors = 5 if quick else 10
    t0 = time.monotonic()

    def say(what):
        log("[%6.1f s] %s" % (time.monotonic() - t0, what))

    out = {"n": n, "feeds": feeds, "authors": authors, "interval_s": INTERVAL}
    with netsim.Net(n, loss=0.01, delayer=delayer) as net:
        nodes = start_network(net, binary, n)
        follower = Api(nodes[FOLLOWER])
        wait_for(lambda: follower.call("GET", "status", timeout=30)[1]["dht_nodes"] >= 8, 90, 0.5)
        say("%d daemons up" % n)

        errors = []  # the first failed publishes' output

        def publish_share(a):
            """Author `a` (0-based) publishes feeds a, a + authors, ..."""
            node = nodes[3 + a]
            got = []
            for k in range(a, feeds, authors):
                folder = make_site(os.path.join(net.dir, "feed%d" % k),
                                   {"index.html": "<h1>feed %d</h1>" % k,
                                    "feed.json": '{"n": %d}' % k})
                for _ in range(3):  # set-up, not measured: a failed publish is tried again
                    r = node.run("publish", folder, "--json", check=False, timeout=300)
                    if r.returncode == 0:
                        got.append(json.loads(r.stdout)["address"])
                        break
                    if len(errors) < 5:
                        errors.append("author %d, feed %d: %s"
                                      % (a, k, (r.stderr or r.stdout)[-300:]))
            return got

        with ThreadPoolExecutor(authors) as ex:
            addresses = [a for share in ex.map(publish_share, range(authors)) for a in share]
        out["published"] = len(addresses)
        say("%d feeds published" % len(addresses))
        for e in errors:
            say("a publish failed: " + e)

        took_publish = time.monotonic() - t0
        t_follow = time.monotonic()

        def follow(a):
            t = time.monotonic()
            rc = nodes[FOLLOWER].run("follow", a, check=False, timeout=600).returncode
            return rc, time.monotonic() - t

        with ThreadPoolExecutor(8) as ex:
            results = list(ex.map(follow, addresses))
        failed = sum(1 for rc, _ in results if rc)
        times = sorted(t for rc, t in results if rc == 0)
        out["follow_failed"] = failed
        out["follow_s"] = {"all": round(time.monotonic() - t_follow, 1),
                           "median": round(percentile(times, 50), 2) if times else None,
                           "p90": round(percentile(times, 90), 2) if times else None}
        out["publish_s"] = round(took_publish, 1)
        say("follows took %s s in all (8 at a time), each: median %s s, p90 %s s" % (
            out["follow_s"]["all"], out["follow_s"]["median"], out["follow_s"]["p90"]))
        followed = len(follower.call("GET", "following", timeout=60)[1])
        out["followed"] = followed
        say("%d followed (%d failed); one interval to settle" % (followed, failed))
        time.sleep(INTERVAL)

        b0, s0 = dht_bytes(follower)
        pid = s0["pid"]
        _, cpu0 = proc_usage(pid)
        began = time.monotonic()
        time.sleep(INTERVAL)
        rss, cpu1 = proc_usage(pid)
        b1, s1 = dht_bytes(follower)
        seconds = time.monotonic() - began
        polls = {k: s1["polls"][k] - s0["polls"][k] for k in s1["polls"]}
        out.update({"window_s": round(seconds, 1), "rss_kib": rss,
                    "cpu_s": round(cpu1 - cpu0, 2), "dht_bytes": b1 - b0, "polls": polls,
                    "torrents": s1["torrents"]})
        say("follower over %.0f s: RSS %d KiB, CPU %.2f s, DHT %d B, polls %s" % (
            seconds, rss, cpu1 - cpu0, b1 - b0, polls))
    return out
