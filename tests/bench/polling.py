"""The `polling` benchmark (issue 17, "fresh and cheap"): what keeping F
followed feeds fresh costs in DHT traffic, memory and CPU, on the simulated
internet of tests/support/netsim.py with daemons at their default settings.

Slots (full run: n = 60, F = 24; --quick: n = 14, F = 8):
  1  bootstrap      2  the author, publishing F feeds
  3  the follower: follows all F (--mirror-interval INTERVAL: its polls)
  4  the looker: runs libtorrent's full lookup of each feed every INTERVAL
     (what every check cost before direct polling)
  5..n  plain DHT nodes, so a name has its 8 closest nodes

Measured, after two warm-up intervals: a poll's DHT bytes from the
follower's own count (`status` polls.bytes: each query as sent and each
answer as received, which is what libtorrent's dht_bytes counters count);
a full lookup's from the looker's dht_bytes_in + _out over ROUNDS intervals
of lookups, less the same node's over as long a window without them (a
node's background DHT traffic, answering others and keeping its routing
table, differs from node to node by up to 3x on this net, so no other node
can be the baseline). Extrapolated to 500 follows a day at a 5-minute
interval and at the 60-minute one a feed quiet for 8 hours gets. The
follower's resident memory and CPU time over the window. Run by bench.py
(`scripts/bench polling [--quick]`); needs root.
"""
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import netsim  # noqa: E402
from harness import Api, make_site, wait_for  # noqa: E402

BOOT, AUTHOR, FOLLOWER, LOOKER = 1, 2, 3, 4
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


def start_network(net, binary, n, extra=None):
    """Starts daemons in slots 1..n of `net` (4 at a time), each bootstrapping
    from slot 1 (BOOT) alone; `extra`: daemon flags by slot. Returns the nodes
    by slot."""
    boot_ep = "%s:6881" % net[BOOT].public_ip
    extra = extra or {}
    nodes = {i: net.node(i, binary, bootstrap=None if i == BOOT else boot_ep,
                         extra=extra.get(i, ()))
             for i in range(1, n + 1)}
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda i: nodes[i].start(), range(1, n + 1)))
    return nodes


def run_polling(binary, delayer, quick, log=print):
    n = int(os.environ.get("HOSTLESS_POLL_N", 14 if quick else 60))
    feeds = int(os.environ.get("HOSTLESS_POLL_FEEDS", 8 if quick else 24))
    rounds = 3 if quick else 5
    t0 = time.monotonic()

    def say(what):
        log("[%6.1f s] %s" % (time.monotonic() - t0, what))

    out = {"n": n, "feeds": feeds, "rounds": rounds, "interval_s": INTERVAL}
    with netsim.Net(n, loss=0.01, delayer=delayer) as net:
        nodes = start_network(net, binary, n, {FOLLOWER: ["--mirror-interval", str(INTERVAL)]})
        api = {i: Api(nodes[i]) for i in (AUTHOR, FOLLOWER, LOOKER)}
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

        with ThreadPoolExecutor(4) as ex:
            failed = sum(1 for rc in ex.map(follow, addresses) if rc)
        out["setup_failed"] = failed
        # Two intervals: every feed has had its first poll, a walk that finds
        # the nodes holding its name; the window then sees the steady state.
        say("followed (%d failed); two intervals to settle" % failed)
        time.sleep(2 * INTERVAL)

        def window(lookups):
            """DHT bytes of the looker and the follower's status over ROUNDS
            intervals, the looker resolving every feed each interval when
            `lookups`; returns (looker bytes, lookups done, follower status
            before, after, seconds)."""
            b0, _ = dht_bytes(api[LOOKER])
            f0 = dht_bytes(api[FOLLOWER])[1]
            began, done = time.monotonic(), 0
            for r in range(rounds):
                round_start = time.monotonic()
                if lookups:
                    with ThreadPoolExecutor(4) as ex:
                        done += sum(1 for p in ex.map(
                            lambda a: nodes[LOOKER].run("resolve", a, check=False, timeout=120),
                            addresses) if p.returncode == 0)
                time.sleep(max(0.0, INTERVAL - (time.monotonic() - round_start)))
            b1, _ = dht_bytes(api[LOOKER])
            f1 = dht_bytes(api[FOLLOWER])[1]
            return b1 - b0, done, f0, f1, time.monotonic() - began

        settled = dht_bytes(api[FOLLOWER])[1]
        say("polls while settling: %s" % settled["polls"])
        pid = settled["pid"]
        _, cpu0 = proc_usage(pid)
        busy, lookups, f0, f1, seconds = window(True)
        rss, cpu1 = proc_usage(pid)
        idle, _, g0, g1, _ = window(False)
        polls = {k: f1["polls"][k] - f0["polls"][k] for k in f1["polls"]}
        later = {k: g1["polls"][k] - g0["polls"][k] for k in g1["polls"]}
        # A direct poll's bytes from the polls of a window without walks (the
        # second, normally); a walk's from the rest.
        plain = later if later["walked"] == 0 and later["direct"] else polls
        direct = plain["bytes"] / plain["direct"] if plain["direct"] and not plain["walked"] \
            else None
        # A walk's bytes from the windows' walks; with none there (walks come
        # once an hour), from the first polls' (the counts since the start).
        basis = [polls, later] if polls["walked"] + later["walked"] else [settled["polls"]]
        walks = sum(b["walked"] for b in basis)
        walk = None
        if direct is not None and walks:
            walk = (sum(b["bytes"] for b in basis) - direct * sum(b["direct"] for b in basis)) \
                / walks
        out.update({
            "window_s": round(seconds, 1), "looker_bytes": [busy, idle], "polls": polls,
            "polls_idle_window": later, "lookups": lookups,
            "bytes_per_poll": direct, "bytes_per_walk": walk,
            "bytes_per_lookup": (busy - idle) / lookups if lookups else None,
            "rss_kib": rss, "cpu_s": round(cpu1 - cpu0, 2),
        })
        say("looker DHT bytes: %d with %d lookups, %d without; follower polls %s then %s" % (
            busy, lookups, idle, polls, later))
        say("per direct poll %s B, per walk %s B, per full lookup %s B; follower RSS %d KiB, "
            "CPU %.2f s" % (out["bytes_per_poll"], out["bytes_per_walk"],
                            out["bytes_per_lookup"], rss, cpu1 - cpu0))
    return out
