"""The `polling` benchmark (issue 17, "fresh and cheap"): what keeping F
followed feeds fresh costs in DHT traffic, memory and CPU, on the simulated
internet of tests/support/netsim.py with daemons at their default settings.

Slots (full run: n = 60, F = 24; --quick: n = 14, F = 8):
  1  bootstrap      2  the author, publishing F feeds
  3  the follower: follows all F (--mirror-interval INTERVAL: its polls)
  4  the looker: has visited all F, and runs libtorrent's full lookup of
     each every INTERVAL (what every poll cost before direct polling)
  5  the control: has visited all F and does nothing (routing-table upkeep,
     announces of the F torrents, answering others: subtracted from 3 and 4)
  6..n  plain DHT nodes, so a name has its 8 closest nodes

Measured over ROUNDS intervals, after one warm-up interval: DHT bytes (in +
out, libtorrent's dht.dht_bytes_in/_out) of the follower and of the looker
above the control's; per poll and per full lookup; extrapolated to 500
follows a day at a 5-minute interval and at the 60-minute one a feed quiet
for 8 hours gets. The follower's resident memory and CPU time over the
window. Run by bench.py (`scripts/bench polling [--quick]`); needs root.
"""
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import netsim  # noqa: E402
from harness import Api, make_site, wait_for  # noqa: E402

BOOT, AUTHOR, FOLLOWER, LOOKER, CONTROL = 1, 2, 3, 4, 5
INTERVAL = 30  # seconds between two polls (or lookups) of one feed


def dht_bytes(api):
    s = api.call("GET", "status", timeout=30)[1]
    return s["dht_bytes_in"] + s["dht_bytes_out"], s


def proc_usage(pid):
    """(resident KiB, CPU seconds) of process `pid`."""
    with open("/proc/%d/status" % pid) as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss, (int(fields[11]) + int(fields[12])) / ticks


def run_polling(binary, delayer, quick, log=print):
    n = int(os.environ.get("HOSTLESS_POLL_N", 14 if quick else 60))
    feeds = int(os.environ.get("HOSTLESS_POLL_FEEDS", 8 if quick else 24))
    rounds = 3 if quick else 5
    t0 = time.monotonic()

    def say(what):
        log("[%6.1f s] %s" % (time.monotonic() - t0, what))

    out = {"n": n, "feeds": feeds, "rounds": rounds, "interval_s": INTERVAL}
    with netsim.Net(n, loss=0.01, delayer=delayer) as net:
        boot_ep = "%s:6881" % net[BOOT].public_ip
        extra = {FOLLOWER: ["--mirror-interval", str(INTERVAL)]}
        nodes = {i: net.node(i, binary, bootstrap=None if i == BOOT else boot_ep,
                             extra=extra.get(i, ()))
                 for i in range(1, n + 1)}
        with ThreadPoolExecutor(4) as ex:
            list(ex.map(lambda i: nodes[i].start(), range(1, n + 1)))
        api = {i: Api(nodes[i]) for i in (AUTHOR, FOLLOWER, LOOKER, CONTROL)}
        wait_for(lambda: all(api[i].call("GET", "status", timeout=30)[1]["dht_nodes"] >= 8
                             for i in api), 90, 0.5)
        say("%d daemons up" % n)

        def publish(k):
            folder = make_site(os.path.join(net.dir, "feed%d" % k),
                               {"index.html": "<h1>feed %d</h1>" % k, "feed.json": "{}"})
            return nodes[AUTHOR].json("publish", folder, timeout=180)["address"]

        with ThreadPoolExecutor(4) as ex:
            addresses = list(ex.map(publish, range(feeds)))
        say("%d feeds published" % feeds)

        def follow(a):
            return nodes[FOLLOWER].run("follow", a, check=False, timeout=300).returncode

        def visit(node, a):
            return node.run("get", a, os.path.join(net.dir, "got-%d-%s" % (node.index, a)),
                            check=False, timeout=300).returncode

        with ThreadPoolExecutor(4) as ex:
            failed = sum(1 for rc in ex.map(follow, addresses) if rc)
            failed += sum(1 for rc in ex.map(lambda a: visit(nodes[LOOKER], a), addresses) if rc)
            failed += sum(1 for rc in ex.map(lambda a: visit(nodes[CONTROL], a), addresses)
                          if rc)
        out["setup_failed"] = failed
        # Two intervals: every feed has had its first poll, a walk that finds
        # the nodes holding its name; the window then sees the steady state.
        say("followed and visited (%d failed); two intervals to settle" % failed)
        time.sleep(2 * INTERVAL)

        start = {i: dht_bytes(api[i]) for i in (FOLLOWER, LOOKER, CONTROL)}
        pid = start[FOLLOWER][1]["pid"]
        _, cpu0 = proc_usage(pid)
        lookups = 0
        began = time.monotonic()
        for r in range(rounds):
            round_start = time.monotonic()
            with ThreadPoolExecutor(4) as ex:
                lookups += sum(1 for p in ex.map(
                    lambda a: nodes[LOOKER].run("resolve", a, check=False, timeout=120), addresses)
                    if p.returncode == 0)
            time.sleep(max(0.0, INTERVAL - (time.monotonic() - round_start)))
        window = time.monotonic() - began
        end = {i: dht_bytes(api[i]) for i in (FOLLOWER, LOOKER, CONTROL)}
        rss, cpu1 = proc_usage(pid)

        delta = {i: end[i][0] - start[i][0] for i in end}
        p0, p1 = start[FOLLOWER][1]["polls"], end[FOLLOWER][1]["polls"]
        polls = {k: p1[k] - p0[k] for k in p1}
        npolls = polls["direct"] + polls["walked"] + polls["lookup"]
        follower_cost = delta[FOLLOWER] - delta[CONTROL]
        looker_cost = delta[LOOKER] - delta[CONTROL]
        out.update({
            "window_s": round(window, 1), "dht_bytes": delta, "polls": polls,
            "lookups": lookups,
            "bytes_per_poll": follower_cost / npolls if npolls else None,
            "bytes_per_lookup": looker_cost / lookups if lookups else None,
            "rss_kib": rss, "cpu_s": round(cpu1 - cpu0, 2),
        })
        say("window %.0f s: DHT bytes follower %d, looker %d, control %d; polls %s, "
            "lookups %d" % (window, delta[FOLLOWER], delta[LOOKER], delta[CONTROL], polls,
                            lookups))
        say("per poll %s B, per full lookup %s B; follower RSS %d KiB, CPU %.2f s" % (
            out["bytes_per_poll"], out["bytes_per_lookup"], rss, cpu1 - cpu0))
    return out
