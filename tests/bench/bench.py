#!/usr/bin/python3
"""hostless benchmarks. Each one measures hostless and its baseline in the
same run (this machine's timings are noisy) and reports the ratio against the
issue's target. Nothing here asserts a timing: a missed target is reported.

usage: bench.py HOSTLESS_BINARY BUILD_DIR [--quick] [--docs] [NAME...]
  --quick  tiny sizes, seconds: proves the benchmark still runs
  --docs   regenerate docs/benchmarks.md (and its plots) from build/bench/*.json;
           with NAMEs, only their sections (the rest of the file is kept as it is)
  --docs-only  the same from the JSON already in build/bench/, running nothing
`internet`, `feed`, `polling` and `follows` (root, the network simulator) run
only when named.
"""
import datetime
import http.client
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from harness import Api, Cluster, Node, wait_for  # noqa: E402
from nginx import Nginx  # noqa: E402
from stats import percentile  # noqa: E402

BIN = None
BUILD = None
QUICK = False
MIB = 1 << 20


# ---------------------------------------------------------------------------
# Helpers


def write_random(path, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, 4 * MIB)
            f.write(os.urandom(n))
            left -= n


def wrk(url, connections, seconds, host=None):
    """(requests/s, bytes/s) from wrk."""
    args = ["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, url]
    if host:
        args[1:1] = ["-H", "Host: " + host]
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    scale = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[m.group(2)]
    if re.search(r"Non-2xx or 3xx responses", out):
        raise RuntimeError("wrk saw error responses:\n" + out)
    return rps, float(m.group(1)) * scale


def row(metric, hostless, baseline, target=None, unit="", higher_is_better=True, note=""):
    ratio = hostless / baseline if baseline and hostless is not None else None
    met = None
    if target is not None and ratio is not None:
        met = ratio >= target if higher_is_better else ratio <= target
    return {"metric": metric, "hostless": hostless, "baseline": baseline, "unit": unit,
            "ratio": ratio, "target": target, "higher_is_better": higher_is_better,
            "met": met, "note": note}


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "%.3g" % v if abs(v) < 1000 else "%.0f" % v
    return str(v)


def print_table(result):
    print("\n== %s%s ==" % (result["name"], " (quick)" if result["quick"] else ""))
    print("%-46s %14s %14s %8s %10s" % ("metric", "hostless", "baseline", "ratio", "target"))
    for r in result["rows"]:
        target = "-" if r["target"] is None else \
            ("%s%g" % (">=" if r["higher_is_better"] else "<=", r["target"]))
        flag = {True: " met", False: " MISSED", None: ""}[r["met"]]
        print("%-46s %14s %14s %8s %10s%s" % (r["metric"] + (" (%s)" % r["unit"] if r["unit"]
                                                             else ""),
                                             fmt(r["hostless"]), fmt(r["baseline"]),
                                             fmt(r["ratio"]), target, flag))
    for n in result.get("notes", []):
        print("  note:", n)
    for line in result.get("tables", []):
        print("  " + line)


def publish(node, folder):
    return node.json("publish", folder)


# ---------------------------------------------------------------------------
# Benchmarks


# Requests hostless's gateway answers on one keep-alive connection before it
# closes it (ConnectionLimits::max_requests, src/gateway/connections.hpp); the
# nginx baselines get the same cap (keepalive_requests) and wrk reconnects
# after it, so both pay the same reconnects.
GATEWAY_MAX_REQUESTS = 1000


def spread(values):
    """(max - min) / median, the visible noise of a few runs."""
    return (max(values) - min(values)) / percentile(values, 50)


def bench_gateway():
    """wrk against the gateway serving a fully local site and against nginx
    serving the same files, with one worker per core (worker_processes auto:
    the headline 4 KiB ratio) and with one worker (kept for history). Both
    close a keep-alive connection after the same number of requests. The
    4 KiB figures are medians of three interleaved runs (hostless, nginx 1
    worker, nginx auto, three times)."""
    seconds = 1 if QUICK else 8
    large = 8 * MIB if QUICK else 256 * MIB
    rounds = 3
    with Cluster(BIN, 1) as c:
        site = os.path.join(c.dir, "site")
        os.makedirs(site)
        with open(os.path.join(site, "index.html"), "w") as f:
            f.write("<h1>bench</h1>")
        write_random(os.path.join(site, "small.bin"), 4096)
        write_random(os.path.join(site, "large.bin"), large)
        addr = publish(c[1], site)["address"]
        gw = c[1].gateway_port
        host = "%s.localhost:%d" % (addr, gw)
        load = os.getloadavg()[0]
        nginx1 = Nginx(site, keepalive_requests=GATEWAY_MAX_REQUESTS)
        nginx_auto = None
        try:
            nginx_auto = Nginx(site, workers="auto", keepalive_requests=GATEWAY_MAX_REQUESTS)
            base = "http://127.0.0.1:%d/" % gw
            ng1 = "http://127.0.0.1:%d/" % nginx1.port
            ng_auto = "http://127.0.0.1:%d/" % nginx_auto.port
            h_runs, n1_runs, auto_runs = [], [], []
            for _ in range(rounds):
                h_runs.append(wrk(base + "small.bin", 16, seconds, host)[0])
                n1_runs.append(wrk(ng1 + "small.bin", 16, seconds)[0])
                auto_runs.append(wrk(ng_auto + "small.bin", 16, seconds)[0])
            auto_workers = nginx_auto.worker_count()
            h_small, n1_small, auto_small = (percentile(r, 50) for r in (h_runs, n1_runs, auto_runs))
            _, h_large = wrk(base + "large.bin", 4, seconds, host)
            _, n_large = wrk(ng1 + "large.bin", 4, seconds)
            # 64 idle keep-alive connections, each after one request.
            idle = []
            for _ in range(64):
                conn = http.client.HTTPConnection("127.0.0.1", gw, timeout=30)
                conn.request("GET", "/small.bin", headers={"Host": host})
                conn.getresponse().read()
                idle.append(conn)
            h_idle, _ = wrk(base + "small.bin", 16, seconds, host)
            for conn in idle:
                conn.close()
        finally:
            nginx1.close()
            if nginx_auto:
                nginx_auto.close()

    def runs(values):
        return "%s (spread %.0f %%)" % (", ".join("%.0f" % v for v in values),
                                         100 * spread(values))

    return {"rows": [
        row("4 KiB file, 16 keep-alive connections, vs nginx auto (%d workers)" % auto_workers,
            h_small, auto_small, 0.8, "req/s"),
        row("4 KiB file, 16 keep-alive connections, vs nginx 1 worker", h_small, n1_small,
            None, "req/s"),
        row("%d MiB file, 4 connections, vs nginx 1 worker" % (large // MIB), h_large / MIB,
            n_large / MIB, 0.9, "MiB/s"),
        row("4 KiB file with 64 idle connections held (vs itself)", h_idle, h_small, 0.9,
            "req/s"),
    ], "runs": {"hostless": h_runs, "nginx_1": n1_runs, "nginx_auto": auto_runs},
        "notes": [
        "baseline: nginx %s, sendfile, `worker_processes auto` (%d workers here) and "
        "`worker_processes 1`; wrk -t2, %d s per run; both servers close a keep-alive "
        "connection after %d requests (hostless's limit; nginx `keepalive_requests`) and wrk "
        "reconnects" % (nginx_version(), auto_workers, seconds, GATEWAY_MAX_REQUESTS),
        "4 KiB rows: medians of %d interleaved runs (hostless, nginx 1 worker, nginx auto, "
        "%d times); req/s of each run: hostless %s; nginx 1 worker %s; nginx auto %s; the "
        "other rows are one run each"
        % (rounds, rounds, runs(h_runs), runs(n1_runs), runs(auto_runs)),
        "measured %s: one run of this benchmark on this %d-core machine, where wrk's two "
        "threads share the cores with the server under test (load average %.2f before it)"
        % (datetime.date.today().isoformat(), os.cpu_count(), load),
    ]}


def nginx_version():
    p = subprocess.run(["nginx", "-v"], capture_output=True, text=True)
    m = re.search(r"nginx/([\d.]+)", p.stderr)
    return m.group(1) if m else "?"


def openssl_speed(alg):
    """Bytes/s of `alg` on 16 KiB blocks using both cores."""
    secs = "1" if QUICK else "3"
    out = subprocess.run(["openssl", "speed", "-seconds", secs, "-bytes", "16384",
                          "-multi", str(os.cpu_count() or 1), alg],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r"^%s\s+([\d.]+)k" % alg, out, re.M)
    return float(m.group(1)) * 1000


def bench_publish():
    """Publishing a folder of mixed file sizes against mktorrent (2 threads, v1
    only) and against the hybrid hashing limit; then a re-publish after one
    1 MiB file changed."""
    scale = 64 if QUICK else 1
    with Cluster(BIN, 1) as c:
        folder = os.path.join(c.dir, "site")
        os.makedirs(folder)
        with open(os.path.join(folder, "index.html"), "w") as f:
            f.write("<h1>bench</h1>")
        total = 0
        for i in range(8):
            write_random(os.path.join(folder, "large", "%d.bin" % i), 64 * MIB // scale)
            total += 64 * MIB // scale
        for i in range(300):
            write_random(os.path.join(folder, "medium", "%03d.bin" % i), MIB // scale)
            total += MIB // scale
        for i in range(2000 // scale):
            size = 16384 + (i * 7919) % 196608
            write_random(os.path.join(folder, "small", "%04d.bin" % i), size)
            total += size
        subprocess.run(["sync"])
        # Warm the page cache for both tools alike.
        subprocess.run(["cat"] + [os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs],
                       stdout=subprocess.DEVNULL)
        t0 = time.monotonic()
        first = publish(c[1], folder)
        t_publish = time.monotonic() - t0
        out = os.path.join(c.dir, "mk.torrent")
        t0 = time.monotonic()
        subprocess.run(["mktorrent", "-t", str(os.cpu_count() or 1), "-l", "19", "-o", out,
                        folder], check=True, stdout=subprocess.DEVNULL)
        t_mk = time.monotonic() - t0
        sha1, sha256 = openssl_speed("sha1"), openssl_speed("sha256")
        limit = 1 / (1 / sha1 + 1 / sha256)  # every byte through both hashes
        # Re-publish with one 1 MiB file changed.
        write_random(os.path.join(folder, "medium", "007.bin"), MIB // scale)
        t0 = time.monotonic()
        second = publish(c[1], folder)
        t_again = time.monotonic() - t0
    rate = total / t_publish
    return {"rows": [
        row("publish %d MiB, %d files: throughput" % (total // MIB, first["files"]),
            rate / MIB, total / t_mk / MIB, None, "MiB/s",
            note="baseline: mktorrent (v1 only, SHA-1)"),
        row("publish throughput vs hybrid hashing limit", rate / MIB, limit / MIB, 0.8, "MiB/s",
            note="limit: SHA-1 and SHA-256 over every byte, openssl speed on all cores"),
        row("re-publish after one file changed: bytes hashed", second["hashed_bytes"],
            MIB // scale, 1.0, "bytes", higher_is_better=False),
    ], "notes": ["publish %.2f s, mktorrent %.2f s, re-publish %.2f s; openssl SHA-1 %.0f MiB/s,"
                 " SHA-256 %.0f MiB/s" % (t_publish, t_mk, t_again, sha1 / MIB, sha256 / MIB),
                 "publish includes copying the folder into the store (a snapshot), mktorrent "
                 "only reads it"]}


def bench_update():
    """Payload a mirror downloads for an update / bytes changed, for 1, 10 and
    50 changed files of 100."""
    size = 16384 if QUICK else 512 * 1024
    rows = []
    with Cluster(BIN, 2, extra_for={2: ["--mirror-interval", "1"]}) as c:
        publisher, mirror = c[1], c[2]
        folder = os.path.join(c.dir, "site")
        os.makedirs(folder)
        with open(os.path.join(folder, "index.html"), "w") as f:
            f.write("<h1>bench</h1>")
        for i in range(100):
            write_random(os.path.join(folder, "f%03d.bin" % i), size)
        addr = publish(publisher, folder)["address"]
        mirror.json("mirror", addr)
        for changed in (1, 10, 50):
            before = mirror.json("status")["downloaded"]
            for i in range(changed):
                write_random(os.path.join(folder, "f%03d.bin" % (i * 2)), size)
            seq = publish(publisher, folder)["seq"]

            def seq_now():
                return [s for s in mirror.json("sites") if s["address"] == addr][0]["seq"]

            if not wait_for(lambda: seq_now() == seq, 120):
                raise RuntimeError("the mirror did not follow the update")
            cost = mirror.json("status")["downloaded"] - before
            rows.append(row("%d of 100 files changed: downloaded / changed" % changed,
                            cost, changed * size, 1.05, "bytes", higher_is_better=False))
    return {"rows": rows, "notes": ["%d-byte files; ratio = payload bytes downloaded by the "
                                    "mirror / bytes changed" % size]}


def bench_transfer():
    """One seed, one visitor, nothing capped: `hostless get` of a large site
    against curl fetching the same file from nginx."""
    size = 8 * MIB if QUICK else 256 * MIB
    with Cluster(BIN, 2) as c:
        folder = os.path.join(c.dir, "site")
        write_random(os.path.join(folder, "big.bin"), size)
        with open(os.path.join(folder, "index.html"), "w") as f:
            f.write("<h1>bench</h1>")
        addr = publish(c[1], folder)["address"]
        out = os.path.join(c.dir, "out")
        t0 = time.monotonic()
        c[2].json("get", addr, out)
        t_get = time.monotonic() - t0
        nginx = Nginx(folder)
        try:
            t0 = time.monotonic()
            # Into a file, as `get` writes one.
            subprocess.run(["curl", "-s", "-o", os.path.join(c.dir, "curl.bin"),
                            "http://127.0.0.1:%d/big.bin" % nginx.port], check=True)
            t_curl = time.monotonic() - t0
        finally:
            nginx.close()
        t_lt = plain_libtorrent_pair(folder, c.dir)
    return {"rows": [row("%d MiB site: throughput" % (size // MIB), size / t_get / MIB,
                         size / t_curl / MIB, 0.2, "MiB/s",
                         note="baseline: curl from nginx"),
                     row("%d MiB site: vs two plain libtorrent sessions" % (size // MIB),
                         size / t_get / MIB, size / t_lt / MIB, None, "MiB/s")],
            "notes": ["`hostless get` %.2f s (name lookup, metadata, download, copy out), "
                      "curl %.2f s; two python3-libtorrent sessions with default settings "
                      "moving the same folder as a hybrid torrent: %.2f s" % (t_get, t_curl, t_lt)]}


def plain_libtorrent_pair(folder, workdir, upload_kib=0):
    """Seconds two python3-libtorrent sessions (default settings, loopback)
    take to move `folder` as a hybrid torrent: what the library itself does
    here. With `upload_kib`, the seeding session's upload is capped at that
    (local peers included, as `hostless daemon --upload-limit` does) and
    both connect over TCP, as hostless does: a reference for the limiter."""
    script = """
import libtorrent as lt, os, sys, time
src, out, cap = sys.argv[1], sys.argv[2], int(sys.argv[3])
fs = lt.file_storage()
lt.add_files(fs, src)
ct = lt.create_torrent(fs)
lt.set_piece_hashes(ct, os.path.dirname(src))
data = lt.bencode(ct.generate())
def session():
    return lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False,
                       "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False})
s1, s2 = session(), session()
if cap:
    s1.apply_settings({"upload_rate_limit": cap * 1024})
    for s in (s1, s2):
        s.apply_settings({"enable_outgoing_utp": False})
    everyone = lt.ip_filter()
    everyone.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    s1.set_peer_class_filter(everyone)
a = lt.add_torrent_params(); a.ti = lt.torrent_info(data); a.save_path = os.path.dirname(src)
a.flags |= lt.torrent_flags.seed_mode
s1.add_torrent(a)
b = lt.add_torrent_params(); b.ti = lt.torrent_info(data); b.save_path = out
h = s2.add_torrent(b)
time.sleep(0.5)
h.connect_peer(("127.0.0.1", s1.listen_port()))
t0 = time.time()
while not h.status().is_seeding and time.time() - t0 < 600:
    time.sleep(0.05)
print(time.time() - t0)
"""
    p = subprocess.run(["/usr/bin/python3", "-c", script, folder, os.path.join(workdir, "lt-out"),
                        str(upload_kib)],
                       capture_output=True, text=True, timeout=700, check=True)
    return float(p.stdout.strip().splitlines()[-1])


def timed_get(port, host, path, headers=None):
    """(seconds to the first byte, seconds to the last, status, body)."""
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers=dict({"Host": host}, **(headers or {})))
        r = conn.getresponse()
        first = r.read(1)
        t_first = time.monotonic() - t0
        body = first + r.read()
        return t_first, time.monotonic() - t0, r.status, body
    finally:
        conn.close()


def bench_visit():
    """A fresh visitor daemon on a loopback DHT opens a 1 MiB multi-file site
    through its gateway: time to the first byte and to the whole page (every
    asset); then the same warm."""
    nodes = 4 if QUICK else 20
    trials = 2 if QUICK else 10
    cold_first, cold_page, warm_first = [], [], []
    with Cluster(BIN, nodes) as c:
        folder = os.path.join(c.dir, "site")
        assets = ["css/site.css", "js/app.js"] + ["img/%d.png" % i for i in range(4)]
        os.makedirs(folder)
        with open(os.path.join(folder, "index.html"), "w") as f:
            f.write("<!doctype html><title>visit</title><link rel=stylesheet href=css/site.css>"
                    + "".join("<img src=img/%d.png>" % i for i in range(4))
                    + "<script src=js/app.js></script>")
        write_random(os.path.join(folder, "css", "site.css"), 20000)
        write_random(os.path.join(folder, "js", "app.js"), 40000)
        for i in range(4):
            write_random(os.path.join(folder, "img", "%d.png" % i), 240000)
        addr = publish(c[2], folder)["address"]
        for trial in range(trials):
            visitor = Node(BIN, os.path.join(c.dir, "v%d" % trial), 100 + trial,
                           bootstrap_port=c[1].peer_port).start()
            try:
                wait_for(lambda: visitor.json("status")["dht_nodes"] >= 1, 30)
                host = "%s.localhost:%d" % (addr, visitor.gateway_port)
                t0 = time.monotonic()
                first, _, status, _ = timed_get(visitor.gateway_port, host, "/")
                if status != 200:
                    raise RuntimeError("cold visit answered %d" % status)
                for a in assets:  # a browser loads them in parallel; sequential here
                    if timed_get(visitor.gateway_port, host, "/" + a)[2] != 200:
                        raise RuntimeError("asset %s failed" % a)
                cold_first.append(first)
                cold_page.append(time.monotonic() - t0)
                warm_first.append(timed_get(visitor.gateway_port, host, "/")[0])
            finally:
                visitor.stop()
    med = percentile
    return {"rows": [
        row("cold visit: first byte, median", med(cold_first, 50), 0.3, 1.0, "s",
            higher_is_better=False, note="baseline: the target"),
        row("cold visit: first byte, p90", med(cold_first, 90), 0.3, None, "s",
            higher_is_better=False),
        row("cold visit: whole page, median", med(cold_page, 50), 0.43, None, "s",
            higher_is_better=False, note="baseline: js-ipfs, name + one 4 KiB file"),
        row("cold visit: whole page, p90", med(cold_page, 90), 0.43, None, "s",
            higher_is_better=False),
        row("warm visit: first byte, median", med(warm_first, 50) * 1000, 5, 1.0, "ms",
            higher_is_better=False, note="baseline: the target"),
    ], "notes": ["%d-node loopback DHT, %d trials, a fresh visitor daemon each (joined the DHT "
                 "before the request); assets fetched one after another" % (nodes, trials)]}


def bench_swarm():
    """One publisher with its upload capped at U, N visitor daemons `get` a
    site at once: the last visitor's completion time against the Kumar-Ross
    bound and against client-server distribution, and what the publisher
    uploaded."""
    size = 2 * MIB if QUICK else 32 * MIB
    cap_kib = 1024 if QUICK else 4096
    counts = [1, 2] if QUICK else [1, 2, 4, 8, 16]
    u = cap_kib * 1024
    rows, plot_points = [], []
    t_plain = None
    for n in counts:
        with Cluster(BIN, n + 1, extra_for={1: ["--upload-limit", str(cap_kib)]}) as c:
            folder = os.path.join(c.dir, "site")
            write_random(os.path.join(folder, "data.bin"), size)
            with open(os.path.join(folder, "index.html"), "w") as f:
                f.write("<h1>swarm</h1>")
            addr = publish(c[1], folder)["address"]
            total = size + len("<h1>swarm</h1>")
            up_before = c[1].json("status")["uploaded"]
            procs = []
            t0 = time.monotonic()
            for i in range(2, n + 2):
                procs.append(subprocess.Popen(
                    [BIN, "--home", c[i].home, "get", addr, os.path.join(c.dir, "out%d" % i)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
            for p in procs:
                if p.wait(timeout=900) != 0:
                    raise RuntimeError("a visitor's get failed: " + p.stderr.read())
            t_last = time.monotonic() - t0
            uploaded = c[1].json("status")["uploaded"] - up_before
            if t_plain is None:
                # What libtorrent's rate limiter itself delivers at U.
                t_plain = plain_libtorrent_pair(folder, c.dir, cap_kib)
        # Visitors' own upload and download are not capped: the bound is F/U.
        t_min = total / u
        t_cs = n * total / u
        plot_points.append((n, t_last, t_min, t_cs))
        rows.append(row("N=%d: last visitor done / Kumar-Ross bound" % n, t_last, t_min,
                        1.25 if n == counts[-1] else None, "s", higher_is_better=False))
        rows.append(row("N=%d: publisher upload / F" % n, uploaded / total, 1.0,
                        2.0 if n == counts[-1] else None, "x F", higher_is_better=False))
    rows.append(row("N=%d: last visitor done / two plain libtorrent sessions, N=1" % counts[-1],
                    plot_points[-1][1], t_plain, None, "s", higher_is_better=False))
    return {"rows": rows, "series": plot_points,
            "notes": ["F = %d bytes, U = %d KiB/s (libtorrent rate limit, local peers included); "
                      "bound T_min = max(F/U, F/d_min, N F/(U + sum u_i)) = F/U with visitors "
                      "uncapped; client-server time N F/U" % (size, cap_kib),
                      "times include each visitor's name lookup and metadata fetch",
                      "two plain python3-libtorrent sessions (default settings but TCP, the seed "
                      "capped at U the same way) move the same site in %.2f s: %.2fx F/U, what "
                      "libtorrent's rate limiter delivers with one peer" % (t_plain,
                                                                            t_plain * u / total)]}


def proc_memory(pid):
    """{'VmRSS', 'VmHWM' (MiB), 'Threads'} of a running process, from /proc."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024  # kB
            elif key == "Threads":
                out[key] = int(value)
    return out


def cpu_seconds(pid):
    """User + system CPU seconds a process has used."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def watch_idle(pid, seconds):
    """Leaves a process alone for `seconds`, sampling it every second: its
    VmRSS at the end and the highest seen (MiB), its thread count, and the
    share of a core it used meanwhile."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    rss_max = 0.0
    while True:
        mem = proc_memory(pid)
        rss_max = max(rss_max, mem["VmRSS"])
        if time.monotonic() - t0 >= seconds:
            break
        time.sleep(1)
    return {"rss_mib": mem["VmRSS"], "rss_max_mib": rss_max, "threads": mem["Threads"],
            "cpu": (cpu_seconds(pid) - c0) / (time.monotonic() - t0)}


def http_get(port, host, path="/", timeout=5):
    """(status, body), or None when nothing answers."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Host": host})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()
    except OSError:
        return None


def time_cli(node, *args, runs=3):
    """{'s': median seconds of `hostless ARGS` against `node`, 'error': None},
    or, at the first run that fails, its seconds and its error message."""
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        p = node.run(*args, check=False, timeout=600)
        if p.returncode != 0:
            return {"s": time.monotonic() - t0,
                    "error": (p.stderr.strip() or "exit %d" % p.returncode).splitlines()[-1]}
        times.append(time.monotonic() - t0)
    return {"s": percentile(times, 50), "error": None}


def small_site(folder, i):
    """Site number i: three small files (~3 KiB in all), all unique to it, so
    nothing is shared between sites."""
    os.makedirs(os.path.join(folder, "css"), exist_ok=True)
    with open(os.path.join(folder, "index.html"), "w") as f:
        f.write("<!doctype html><title>site %d</title><link rel=stylesheet href=css/site.css>"
                "<h1>site %d</h1><p>%s</p>" % (i, i, "lorem ipsum " * 40))
    with open(os.path.join(folder, "css", "site.css"), "w") as f:
        f.write("/* site %d */ body { margin: 0 auto; max-width: 40em; }\n" % i + "p{}\n" * 100)
    write_random(os.path.join(folder, "logo.png"), 2048)


def timed_start(node, site_host=None, expected=None, count=0, limit=900):
    """Starts a stopped node. Seconds from starting its process until
    'gateway': its gateway answers HTTP (the daemon has re-added every torrent
    by then: it opens the gateway last); 'site': it serves the index.html of
    the site at `site_host` (if given); 'all': its API lists `count` sites
    with every byte on disk (every torrent back and seeding)."""
    marks = {}
    errors = []

    def start():
        try:
            node.start()
        except RuntimeError as e:
            # The harness gives a daemon 20 s to come up; a slower one that
            # is still running is measured, not failed.
            if node.proc is None or node.proc.poll() is not None:
                errors.append(e)

    t0 = time.monotonic()
    starter = threading.Thread(target=start)
    starter.start()
    deadline = t0 + limit
    port = node.gateway_port
    while "gateway" not in marks and time.monotonic() < deadline and not errors:
        if http_get(port, "localhost") is not None:
            marks["gateway"] = time.monotonic() - t0
        else:
            time.sleep(0.01)
    while site_host and "site" not in marks and time.monotonic() < deadline and not errors:
        r = http_get(port, site_host, timeout=60)
        if r and r[0] == 200 and expected in r[1]:
            marks["site"] = time.monotonic() - t0
        else:
            time.sleep(0.01)
    starter.join()
    if errors:
        raise errors[0]
    api = Api(node)
    while count and "all" not in marks and time.monotonic() < deadline:
        _, sites = api.call("GET", "sites")
        whole = [s for s in sites if s.get("size") and s.get("on_disk") == s["size"]]
        if len(whole) >= count:
            marks["all"] = time.monotonic() - t0
        else:
            time.sleep(0.05)
    if "gateway" not in marks or (site_host and "site" not in marks) or \
            (count and "all" not in marks):
        raise RuntimeError("the restarted node was not back within %d s: %s" % (limit, marks))
    return marks


def scale_run(n, publishers, workers, idle_s, budget_s):
    """One fresh cluster: `publishers` daemons publish n small sites and one
    more daemon mirrors them all; measures that mirror. The set-up stops
    early, and says why, when a mirror fails or `budget_s` has passed: the
    mirror is then measured with the sites it holds."""
    out = {"n": n}
    with Cluster(BIN, publishers + 1) as c:
        pub_apis = [Api(c[i]) for i in range(1, publishers + 1)]
        mirror = c[publishers + 1]
        mirror_api = Api(mirror)
        folders = []
        for i in range(n):
            folders.append(os.path.join(c.dir, "sites", "s%04d" % i))
            small_site(folders[-1], i)
        mirrored = {}  # index: address
        published_at = []
        retried = []
        stopped = []  # why the set-up stopped early
        t0 = time.monotonic()

        def one(i):
            # Publish, then mirror at once, as `hostless mirror` would. A
            # mirror whose name lookup found nothing is asked again (at most
            # twice), and counted.
            if stopped:
                return
            if time.monotonic() - t0 > budget_s:
                stopped.append("the set-up took longer than %d s" % budget_s)
                return
            r = pub_apis[i % publishers].run("publish", {"folder": folders[i]})
            published_at.append(time.monotonic())
            for attempt in range(3):
                try:
                    mirror_api.run("mirror", {"address": r["address"]})
                    mirrored[i] = r["address"]
                    return
                except RuntimeError as e:
                    if attempt < 2 and "no pointer found" in str(e):
                        retried.append(i)
                        continue
                    stopped.append("after %.0f s, a mirror failed: %s" % (
                        time.monotonic() - t0, e))
                    return

        with ThreadPoolExecutor(workers) as pool:
            for f in [pool.submit(one, i) for i in range(n)]:
                f.result()
        out["setup_s"] = time.monotonic() - t0
        out["publish_s"] = (max(published_at) - t0) if published_at else 0
        out["mirror_retries"] = len(retried)
        out["setup_stopped"] = stopped[0] if stopped else None

        sites = mirror_api.call("GET", "sites", timeout=600)[1]
        held = [s for s in sites if s["role"] == "mirrored" and s.get("on_disk") == s.get("size")]
        out["mirrored"] = len(held)
        out["bytes"] = sum(s["size"] for s in held)
        out["setup_peak_mib"] = proc_memory(mirror.proc.pid)["VmHWM"]
        out["idle"] = watch_idle(mirror.proc.pid, idle_s)
        out["sites"] = time_cli(mirror, "sites", "--json")

        t0 = time.monotonic()
        mirror.stop(timeout=300)
        out["stop_s"] = time.monotonic() - t0
        last = max(mirrored)
        host = "%s.localhost:%d" % (mirrored[last], mirror.gateway_port)
        out["start"] = timed_start(mirror, host, b"<h1>site %d</h1>" % last, len(held))
        out["restart_idle"] = watch_idle(mirror.proc.pid, idle_s)
        out["restart_peak_mib"] = proc_memory(mirror.proc.pid)["VmHWM"]
        out["restart_sites"] = time_cli(mirror, "sites", "--json")
    return out


def scale_empty(idle_s):
    """The same measurements for a node with no site (the baseline)."""
    with Cluster(BIN, 2) as c:
        node = c[2]
        idle = watch_idle(node.proc.pid, idle_s)
        sites = time_cli(node, "sites", "--json")
        node.stop()
        marks = timed_start(node)
    return {"idle": idle, "sites": sites, "start": marks}


def bench_scale():
    """A node mirrors N small sites (three files, ~3 KiB each) published by
    other nodes: its resident memory once they are all mirrored, how long
    `hostless sites` takes, and its start-up after a restart."""
    counts = [4, 8] if QUICK else [100, 1000]
    publishers = 1 if QUICK else 2
    workers = 4
    idle_s = 2 if QUICK else 60
    budget_s = 150 if QUICK else 3600
    target_mib = 300
    runs = [scale_run(n, publishers, workers, idle_s, budget_s) for n in counts]
    empty = scale_empty(idle_s)

    def cli_row(label, m, baseline):
        if m["error"]:
            label += " (fails: %s)" % m["error"]
        return row(label, m["s"], baseline, None, "s", higher_is_better=False,
                   note="baseline: a node with no site")

    rows = []
    for r in runs:
        n = r["n"]
        k = r["mirrored"]
        whole = k == n
        target = 1.0 if n == counts[-1] else None
        at = "N=%d" % n if whole else "N=%d (%d mirrored)" % (n, k)
        rows += [
            row("N=%d: sites mirrored whole" % n, k, n, 1.0, "sites"),
            row("N=%d: set-up, publish + mirror all" % n, r["setup_s"], None, None, "s",
                higher_is_better=False),
            row("%s: RSS once all mirrored" % at, r["idle"]["rss_mib"], target_mib, target,
                "MiB", higher_is_better=False, note="baseline: the target"),
            row("%s: peak RSS (VmHWM) since start" % at, r["setup_peak_mib"], target_mib, None,
                "MiB", higher_is_better=False),
            cli_row("%s: `hostless sites`" % at, r["sites"], empty["sites"]["s"]),
            row("%s: restart to gateway answering" % at, r["start"]["gateway"],
                empty["start"]["gateway"], None, "s", higher_is_better=False,
                note="baseline: a node with no site"),
            row("%s: restart to serving a mirrored site" % at, r["start"]["site"],
                empty["start"]["gateway"], None, "s", higher_is_better=False),
            row("%s: restart to all whole and seeding" % at, r["start"]["all"],
                empty["start"]["gateway"], None, "s", higher_is_better=False),
            row("%s: RSS after restart" % at, r["restart_idle"]["rss_mib"], target_mib, target,
                "MiB", higher_is_better=False),
            row("%s: peak RSS (VmHWM) since restart" % at, r["restart_peak_mib"], target_mib,
                None, "MiB", higher_is_better=False),
            cli_row("%s: `hostless sites` after restart" % at, r["restart_sites"],
                    empty["sites"]["s"]),
        ]
        if not whole:
            # Memory with fewer sites than asked says nothing about the target.
            for x in rows:
                if x["metric"].startswith(at) and x["target"] is not None:
                    x["met"] = False
    notes = ["set-up: %d publisher daemon%s and the mirror on a loopback DHT; %d sites at a time "
             "are published and then mirrored through the API (the call `hostless mirror` "
             "makes); RSS is VmRSS at the end of %d s left alone (after set-up, and after the "
             "restart), peak is VmHWM" % (publishers, "s" if publishers > 1 else "", workers,
                                          idle_s)]
    for r in runs:
        i, ri = r["idle"], r["restart_idle"]
        if r["setup_stopped"]:
            notes.append("N=%d: **the set-up stopped with %d of %d sites mirrored: %s**" % (
                r["n"], r["mirrored"], r["n"], r["setup_stopped"]))
        notes.append(
            "N=%d: %.0f KiB of sites; all published after %.0f s, set-up done after %.0f s "
            "(%d mirror calls found no name and were repeated); after set-up: %d threads, "
            "RSS up to %.1f MiB, %.2f of a core used while left alone; `hostless daemon` "
            "stopped (saving resume data) in %.2f s; after the restart: RSS up to %.1f MiB, "
            "%.2f of a core" % (
                r["n"], r["bytes"] / 1024, r["publish_s"], r["setup_s"], r["mirror_retries"],
                i["threads"], i["rss_max_mib"], i["cpu"], r["stop_s"], ri["rss_max_mib"],
                ri["cpu"]))
    a, b = runs[0], runs[-1]
    if b["mirrored"] > a["mirrored"]:
        notes.append("per mirrored site, between %d and %d sites: %.0f KiB of RSS, %.1f ms of "
                     "start-up until all are seeding" % (
                         a["mirrored"], b["mirrored"],
                         (b["idle"]["rss_mib"] - a["idle"]["rss_mib"]) * 1024
                         / (b["mirrored"] - a["mirrored"]),
                         (b["start"]["all"] - a["start"]["all"]) * 1000
                         / (b["mirrored"] - a["mirrored"])))
    notes.append("a node with no site: %.1f MiB RSS, %.2f of a core used while left alone, "
                 "gateway answering %.2f s after start, `sites` %.3f s" % (
                     empty["idle"]["rss_mib"], empty["idle"]["cpu"], empty["start"]["gateway"],
                     empty["sites"]["s"]))
    met = all(x["met"] for x in rows if x["target"] is not None and x["unit"] == "MiB")
    notes.append("target: < %d MiB RSS at N=%d: %s" % (target_mib, counts[-1],
                                                       "met" if met else "**missed**"))
    series = [(0, empty["idle"]["rss_mib"], empty["idle"]["rss_mib"], empty["start"]["gateway"],
               empty["start"]["gateway"], empty["sites"]["s"])]
    series += [(r["mirrored"], r["idle"]["rss_mib"], r["restart_idle"]["rss_mib"],
                r["start"]["gateway"], r["start"]["all"], r["sites"]["s"]) for r in runs]
    return {"rows": rows, "notes": notes, "scale_series": series, "target_mib": target_mib,
            "runs": runs, "empty": empty}


def netsim_delayer(bench):
    """The network simulator's delayer binary, once this machine is known to
    run a simulated net (else a RuntimeError naming the benchmark)."""
    import netsim
    delayer = os.environ.get("NETSIM_DELAYER") or os.path.join(BUILD, "tests", "support", "netsim",
                                                                 "netsim-delayer")
    try:
        netsim.check_environment(delayer)
    except netsim.NetsimUnavailable as e:
        raise RuntimeError("the %s benchmark cannot run here: %s" % (bench, e))
    return delayer


def bench_internet():
    """hostless daemons with their default settings (no --lan) on the simulated
    internet (tests/support/netsim.py: a network namespace and a public-looking
    address per node, RTTs from synthetic coordinates, median ~100 ms, random
    loss, 20/2 Mbit/s home lines capped by tbf, home routers with and without
    miniupnpd): cold visits of a multi-file site by fresh nodes at 1 % and 5 %
    loss, in seconds and in round trips of the visitor-publisher RTT;
    publish-to-visible; update reach of 10 mirrors; a swarm on home links
    against the Kumar-Ross bound; and who can fetch from whom behind NATs.
    Needs root."""
    import internet
    delayer = netsim_delayer("internet")
    o = internet.run_internet(BIN, delayer, QUICK, log=lambda s: print(s, flush=True))
    return internet_result(o)


def bench_feed():
    """How fast a new post reaches a feed's followers on the simulated internet
    (tests/bench/feed.py): daemons at their default settings, so only the
    pointer push delivers within --mirror-interval (300 s); then a new
    follower with the author offline. Needs root."""
    import feed
    delayer = netsim_delayer("feed")
    o = feed.run_feed(BIN, delayer, QUICK, log=lambda s: print(s, flush=True))
    d = o["delays_s"]
    rows = [
        row("post in followers' copies: delivered", len(d), o["tries"], 1.0, "followers x posts"),
        row("post in followers' copies, median", percentile(d, 50), 2.0, 1.0, "s",
            higher_is_better=False, note="baseline: the target (2 s)"),
        row("post in followers' copies, p90", percentile(d, 90), None, None, "s",
            higher_is_better=False),
        row("post in followers' copies, median", percentile(o["delays_rtt"], 50), None, None,
            "RTTs", higher_is_better=False),
        row("author offline: new follower holds the feed", o["late_follow_s"], 2.0, 1.0, "s",
            higher_is_better=False, note="baseline: the target (2 s)"),
        row("follow (author online), median", percentile(o["follow_s"], 50), None, None, "s",
            higher_is_better=False),
    ]
    notes = ["%d followers (%d behind a plain NAT), %d posts, default settings (no --lan); "
             "times from the start of `hostless post`, which includes its publish" %
             (o["followers"], o["nat"], o["posts"])]
    if o["missed"]:
        notes.append("%d deliveries did not arrive within %d s" % (o["missed"], feed.WAIT))
    if not o["late_follow_ok"]:
        notes.append("the late follow failed")
    return {"rows": rows, "notes": notes, "raw": o}


def bench_polling():
    """What keeping followed feeds fresh costs (tests/bench/polling.py): DHT
    bytes of direct polls (the nodes holding a name, asked with the seq held)
    against libtorrent's full lookup per check, on the simulated internet at
    default settings; the follower's memory and CPU. Needs root."""
    import polling
    delayer = netsim_delayer("polling")
    o = polling.run_polling(BIN, delayer, QUICK, log=lambda s: print(s, flush=True))
    per_poll, per_walk, per_lookup = o["bytes_per_poll"], o["bytes_per_walk"], o["bytes_per_lookup"]
    mib = 1 << 20
    # A day of one follow: at a 5-minute interval 288 checks, of which 24 (one
    # an hour) walk; at the 60-minute one (a feed quiet for 8 hours) 24
    # checks, all walks. Before: 288 full lookups (and 48 re-puts, not
    # counted here).
    walk = per_walk if per_walk is not None else per_lookup
    day_active = 500 * (264 * per_poll + 24 * walk) if per_poll and walk else None
    day_quiet = 500 * 24 * walk if walk else None
    day_before = 500 * 288 * per_lookup if per_lookup else None
    rows = [
        row("DHT bytes a day, 500 active follows: full lookups / polls",
            day_before / day_active if day_before and day_active else None, 10.0, 1.0, "x",
            note="target: 10x cheaper"),
        row("DHT bytes per direct poll", per_poll, None, None, "B", higher_is_better=False),
        row("DHT bytes per walk", per_walk, None, None, "B", higher_is_better=False),
        row("DHT bytes per full lookup", per_lookup, None, None, "B", higher_is_better=False),
        row("500 follows, all active (5 min): DHT per day, polls",
            day_active / mib if day_active else None, None, None, "MiB", higher_is_better=False),
        row("500 follows, all active (5 min): DHT per day, full lookups",
            day_before / mib if day_before else None, None, None, "MiB",
            higher_is_better=False),
        row("500 follows, all quiet (60 min): DHT per day, polls",
            day_quiet / mib if day_quiet else None, None, None, "MiB", higher_is_better=False),
        row("follower resident memory (%d follows)" % o["feeds"], o["rss_kib"] / 1024, None, None,
            "MiB", higher_is_better=False),
        row("follower CPU over the window (%d follows)" % o["feeds"],
            100.0 * o["cpu_s"] / o["window_s"], None, None, "% of a core",
            higher_is_better=False),
    ]
    notes = ["%d nodes, %d feeds, %d rounds of %d s; a poll's bytes as the follower counts "
             "them; a lookup's: the looker's DHT bytes with lookups less its bytes over as long "
             "a window without; polls in the first window: %s" % (
                 o["n"], o["feeds"], o["rounds"], o["interval_s"], o["polls"])]
    if o["setup_failed"]:
        notes.append("%d follows or visits failed during set-up" % o["setup_failed"])
    return {"rows": rows, "notes": notes, "raw": o}


def internet_result(o):
    """Rows, notes and tables of the internet benchmark from run_internet's output."""
    rows, notes, tables = [], [], []
    for key, loss in (("visits_1", 1), ("visits_5", 5)):
        if not o[key]:
            continue
        s = internet_visits(o[key])
        o[key + "_summary"] = s
        at = "cold visit, %d %% loss" % loss
        lead = loss == 1
        if s["ok"] < s["trials"]:
            rows.append(row("%s: visits that got the page" % at, s["ok"], s["trials"], 1.0,
                            "visits"))
        rows += [
            row("%s: first byte, median" % at, s["first_rt_med"], 8, 1.0 if lead else None,
                "RTTs", higher_is_better=False, note="baseline: the target"),
            row("%s: first byte, p90" % at, s["first_rt_p90"], 15, 1.0 if lead else None,
                "RTTs", higher_is_better=False, note="baseline: the target"),
            row("%s: whole page, median" % at, s["page_rt_med"], None, None, "RTTs",
                higher_is_better=False),
            row("%s: whole page, p90" % at, s["page_rt_p90"], None, None, "RTTs",
                higher_is_better=False),
            row("%s: first byte, median" % at, s["first_med"], None, None, "s",
                higher_is_better=False),
            row("%s: first byte, p90" % at, s["first_p90"], None, None, "s",
                higher_is_better=False),
            row("%s: whole page, median" % at, s["page_med"], None, None, "s",
                higher_is_better=False),
            row("%s: whole page, p90" % at, s["page_p90"], None, None, "s",
                higher_is_better=False),
        ]
        notes.append("%s: %d trials, %d got index.html, %d the whole page; statuses %s; "
                     "visitor-publisher RTT median %.0f ms; each fresh daemon had %s s (median) "
                     "to fill its routing table (8 nodes) before the visit" % (
                         at, s["trials"], s["ok"], s["whole"], "/".join(s["statuses"]),
                         (s["rtt_med"] or 0) * 1000, fmt(s["joined_med"])))
    if o.get("old_name"):
        on = o["old_name"]
        rows.append(row("cold-visit site's name, %.0f min after its put: found by fresh "
                        "resolvers" % (on["age_s"] / 60), on["found"], on["asked"], 1.0,
                        "nodes"))
    for tag, trials in o.get("visible", {}).items():
        vis = [t["visible_s"] for t in trials if t["visible_s"] is not None]
        pub = [t["publish_s"] for t in trials]
        rows.append(row("publish-to-visible, publisher %s, median" % tag,
                        percentile(vis, 50) if vis else None, None, None, "s",
                        higher_is_better=False))
        rows.append(row("publish-to-visible, publisher %s, max" % tag,
                        max(vis) if vis else None, None, None, "s", higher_is_better=False))
        rows.append(row("`publish` itself, publisher %s, median" % tag, percentile(pub, 50),
                        None, None, "s", higher_is_better=False))
        notes.append("publish-to-visible, publisher %s: %d versions, %d seen by a node that had "
                     "never looked the site up (times %s s after `publish` returned; "
                     "`publish` took %s s%s)" % (
                         tag, len(trials), len(vis),
                         ", ".join("%.2f" % t["visible_s"] if t["visible_s"] is not None
                                   else "never" for t in trials),
                         ", ".join("%.2f" % t for t in pub),
                         "; it warned that the node is not known to be reachable"
                         if any(t["warning"] for t in trials) else ""))
    for key in ("update_default", "update_short"):
        u = o.get(key)
        if u is None:
            continue
        if "error" in u:
            notes.append("update reach (%s) failed: %s" % (key, u["error"]))
            continue
        rows.append(row("update reach, %s: all %d mirrors" % (u["label"], u["mirrors"]),
                        u["all_s"], None, None, "s", higher_is_better=False))
        rows.append(row("update reach, %s: median mirror" % u["label"], u["median_s"], None,
                        None, "s", higher_is_better=False))
        notes.append("update reach, %s: %d of %d mirrors served the new version within %d s "
                     "(times from `publish` returning: %s s)" % (
                         u["label"], u["reached"], u["mirrors"], u["limit"],
                         ", ".join("%.1f" % x for x in u["times"])))
    series = []
    last_n = o["swarm"][-1]["n"] if o["swarm"] else None
    for s in o["swarm"]:
        big = s["n"] == last_n and s["n"] >= 16
        rows.append(row("swarm N=%d: last visitor done / Kumar-Ross bound" % s["n"], s["last_s"],
                        s["bound_s"], 1.25 if big else None, "s", higher_is_better=False))
        rows.append(row("swarm N=%d: publisher upload / F" % s["n"], s["upload_f"], 1.0,
                        1.2 if big else None, "x F", higher_is_better=False))
        if s["failed"]:
            notes.append("swarm N=%d: %d visitors' `get` failed: %s" % (
                s["n"], len(s["failed"]), list(s["failed"].values())[:2]))
        series.append((s["n"], s["last_s"], s["bound_s"], s["n"] * s["bound_s"] if s["n"] else 0))
    if o["swarm"]:
        notes.append("swarm: one file of F = %d bytes; publisher and visitors on the default "
                     "home line (tbf: 2 Mbit/s up, 20 Mbit/s down), so the bound "
                     "max(F/U, F/d, N F/(U + N u)) is F/U = %.1f s; times include each visitor's "
                     "name lookup and metadata fetch; every visitor is fresh" % (
                         o["swarm"][0]["size"], o["swarm"][0]["bound_s"]))
    if o["nat"]:
        tables += ["| NAT case | works | time (s) | reachability of the NATed node (`status`) |",
                   "|---|---|---|---|"]
    for r in o["nat"]:
        reach = r.get("reachability")
        tables.append("| %s | %s | %s | %s |" % (
            r["case"], "yes" if r["works"] else "**no**", fmt(r["s"]),
            ("`%s`" % json.dumps(reach, sort_keys=True)) if reach else r.get("error", "")))
    notes += ["update reach: a mirror learns of a new version from the signed pointer pushed "
              "over its connections to the site's peers (docs/microblog.md, \"Push\"), or "
              "else by its poll every `--mirror-interval`, whose period then dominates (0-300 s, "
              "150 s on average with the default), plus the changed files' transfer"]
    notes += o.get("findings", [])
    if o.get("ab"):
        tables += [""] + internet_ab_table(o["ab"])
    notes.insert(0, "N = %d nodes (%d daemons at the start, one fresh daemon per cold-visit "
                    "trial), run %s, %.0f s in all; starting the daemons took %.0f s; with all "
                    "running: load average %.2f, their RSS %.0f MiB in all" % (
                        o["n"], o["n"] - 2 * o["trials"], datetime.date.today().isoformat(),
                        o["total_s"], o["start_s"], o["load"][0], o["rss_mib"]))
    notes.append("cold-visit page: index.html + css + js + a 200 KiB image, %d bytes; the "
                 "assets are fetched in parallel once index.html is there; round trips = "
                 "seconds / the model RTT between visitor and publisher" % o["page_bytes"])
    return {"rows": rows, "notes": notes, "tables": tables, "series": series,
            "internet": {"visits_1": o["visits_1"], "visits_5": o["visits_5"]}, "raw": o}


def internet_ab_summary(o):
    """The figures an A/B run of the internet benchmark is compared on."""
    out = {"n": o["n"], "trials": o["trials"]}
    for key in ("visits_1", "visits_5"):
        if o.get(key):
            out[key] = internet_visits(o[key])
    out["swarm"] = [{"n": s["n"], "last_over_bound": s["last_s"] / s["bound_s"]
                     if s["last_s"] else None, "upload_f": s["upload_f"]} for s in o["swarm"]]
    out["nat"] = [{"case": r["case"], "works": r["works"], "s": r["s"]} for r in o["nat"]]
    return out


def internet_ab_table(ab):
    """Markdown lines comparing A/B runs: ab = {"label": ..., "runs": [(name, summary)]}."""
    runs = ab["runs"]
    lines = ["**%s**" % ab["label"], "",
             "| metric | " + " | ".join(name for name, _ in runs) + " |",
             "|---|" + "---|" * len(runs)]

    def line(label, get):
        vals = []
        for _, s in runs:
            try:
                vals.append(fmt(get(s)))
            except (KeyError, IndexError, TypeError):
                vals.append("-")
        lines.append("| %s | %s |" % (label, " | ".join(vals)))

    for key, loss in (("visits_1", 1), ("visits_5", 5)):
        line("cold visit %d %% loss: got the page / trials" % loss,
             lambda s, k=key: "%d/%d" % (s[k]["ok"], s[k]["trials"]))
        for what, label in (("first_rt_med", "first byte median (RTTs)"),
                            ("first_rt_p90", "first byte p90 (RTTs)"),
                            ("page_rt_med", "whole page median (RTTs)"),
                            ("page_rt_p90", "whole page p90 (RTTs)"),
                            ("first_med", "first byte median (s)"),
                            ("page_med", "whole page median (s)")):
            line("cold visit %d %% loss: %s" % (loss, label),
                 lambda s, k=key, w=what: s[k][w])
    for k, sw in enumerate(runs[0][1]["swarm"]):
        line("swarm N=%d: last done / Kumar-Ross" % sw["n"],
             lambda s, k=k: s["swarm"][k]["last_over_bound"])
        line("swarm N=%d: publisher upload / F" % sw["n"],
             lambda s, k=k: s["swarm"][k]["upload_f"])
    for k, r in enumerate(runs[0][1]["nat"]):
        line("NAT: " + r["case"],
             lambda s, k=k: ("yes, %.1f s" % s["nat"][k]["s"]) if s["nat"][k]["works"] else "no")
    return lines


def internet_visits(trials):
    ok = [t for t in trials if t["first"] is not None]
    whole = [t for t in ok if t["page"] is not None]

    def p(values, q):
        return percentile(values, q) if values else None

    f = [t["first"] for t in ok]
    pg = [t["page"] for t in whole]
    return {"trials": len(trials), "ok": len(ok), "whole": len(whole),
            "first_med": p(f, 50), "first_p90": p(f, 90),
            "page_med": p(pg, 50), "page_p90": p(pg, 90),
            "first_rt_med": p([t["first"] / t["rtt"] for t in ok], 50),
            "first_rt_p90": p([t["first"] / t["rtt"] for t in ok], 90),
            "page_rt_med": p([t["page"] / t["rtt"] for t in whole], 50),
            "page_rt_p90": p([t["page"] / t["rtt"] for t in whole], 90),
            "rtt_med": p([t["rtt"] for t in trials], 50),
            "joined_med": p([t["joined_s"] for t in trials], 50),
            "statuses": sorted(set(str(t["status"]) for t in trials))}


def bench_follows():
    """What following many feeds costs while nothing changes
    (tests/bench/follows.py): the follower's resident memory, CPU and DHT
    bytes over one --mirror-interval, on the simulated internet at default
    settings. Needs root."""
    import follows
    delayer = netsim_delayer("follows")
    o = follows.run_follows(BIN, delayer, QUICK, log=lambda s: print(s, flush=True))
    f = o["followed"]
    day = 86400.0 / o["window_s"] if o.get("window_s") else None
    rows = [
        row("follower resident memory, %d follows" % f, o["rss_kib"] / 1024, 50.0, 1.0, "MiB",
            higher_is_better=False, note="target: under 50 MiB for 500 follows"),
        row("follower CPU, %d follows" % f, 100.0 * o["cpu_s"] / o["window_s"], 1.0, 1.0,
            "% of a core", higher_is_better=False, note="target: under 1 % for 500 follows"),
        row("follower DHT bytes a day, %d follows" % f,
            o["dht_bytes"] * day / (1 << 20) if day else None, None, None, "MiB",
            higher_is_better=False),
    ]
    notes = ["%d nodes, %d feeds from %d authors (%d published in %s s, %d follows failed), "
             "following them took %s s (8 at a time; each: median %s s, p90 %s s); one "
             "interval (%d s) to settle, then %.0f s measured; polls in it: %s" % (
                 o["n"], o["feeds"], o["authors"], o["published"], o["publish_s"],
                 o["follow_failed"], o["follow_s"]["all"], o["follow_s"]["median"],
                 o["follow_s"]["p90"], o["interval_s"], o["window_s"], o["polls"])]
    return {"rows": rows, "notes": notes, "raw": o}


BENCHES = {
    "gateway": bench_gateway,
    "publish": bench_publish,
    "update": bench_update,
    "transfer": bench_transfer,
    "visit": bench_visit,
    "swarm": bench_swarm,
    "scale": bench_scale,
    "internet": bench_internet,
    "feed": bench_feed,
    "polling": bench_polling,
    "follows": bench_follows,
}
NOT_YET = {}
EXPLICIT_ONLY = {"internet", "feed", "polling", "follows"}


# ---------------------------------------------------------------------------
# Report


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.+)", f.read())
            cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    distro = "?"
    try:
        with open("/etc/os-release") as f:
            m = re.search(r'PRETTY_NAME="(.+)"', f.read())
            distro = m.group(1) if m else distro
    except OSError:
        pass
    return "%s, %d cores, %.0f GiB RAM, %s, Linux %s" % (cpu, os.cpu_count() or 1, mem, distro,
                                                         platform.release())


def plot(name, result, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    if result.get("scale_series"):
        return plot_scale(plt, name, result, path)
    if result.get("internet"):
        return plot_internet(plt, name, result, path)
    if result.get("series"):  # swarm: completion time against N
        ns = [p[0] for p in result["series"]]
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(ns, [p[1] for p in result["series"]], "o-", label="hostless: last visitor done")
        ax.plot(ns, [p[2] for p in result["series"]], "--", label="Kumar-Ross bound")
        ax.plot(ns, [p[3] for p in result["series"]], ":", label="client-server N F/U")
        ax.set_xlabel("visitors N")
        ax.set_ylabel("seconds")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ns)
        ax.set_xticklabels([str(n) for n in ns])
        ax.legend()
        ax.set_title(name)
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return True
    rows = [r for r in result["rows"] if r["ratio"] is not None]
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.5 * len(rows)))
    labels = [r["metric"] for r in rows]
    ratios = [r["ratio"] for r in rows]
    colors = ["#2da44e" if r["met"] else "#cf222e" if r["met"] is False else "#8c959f"
              for r in rows]
    ax.barh(labels, ratios, color=colors)
    for i, r in enumerate(rows):
        if r["target"] is not None:
            ax.plot([r["target"], r["target"]], [i - 0.4, i + 0.4], color="black", lw=1.5)
    ax.invert_yaxis()
    ax.set_xlabel("hostless / baseline (black line: target)")
    ax.set_title(name)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def plot_scale(plt, name, result, path):
    """RSS and start-up against the number of mirrored sites (N=0: a node
    with no site)."""
    pts = result["scale_series"]
    ns = [p[0] for p in pts]
    fig, (mem, sec) = plt.subplots(1, 2, figsize=(9, 3.8))
    mem.plot(ns, [p[1] for p in pts], "o-", label="after set-up")
    mem.plot(ns, [p[2] for p in pts], "s--", label="after restart")
    mem.axhline(result["target_mib"], color="#cf222e", lw=1, ls=":", label="target")
    mem.set_xlabel("sites mirrored")
    mem.set_ylabel("RSS (MiB)")
    mem.set_ylim(bottom=0)
    mem.legend()
    sec.plot(ns, [p[3] for p in pts], "o-", label="restart: gateway answers")
    sec.plot(ns, [p[4] for p in pts], "s--", label="restart: all N seeding")
    sec.plot(ns, [p[5] for p in pts], "^:", label="hostless sites")
    sec.set_xlabel("sites mirrored")
    sec.set_ylabel("seconds")
    sec.set_ylim(bottom=0)
    sec.legend()
    fig.suptitle(name)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def plot_internet(plt, name, result, path):
    """Cold visits (first byte and whole page, in round trips) as CDFs at 1 %
    and 5 % loss, and the swarm's last-done time against the bound."""
    fig, (cdf, sw) = plt.subplots(1, 2, figsize=(10, 3.8))
    for key, label, style in (("visits_1", "1 % loss", "-"), ("visits_5", "5 % loss", "--")):
        trials = result["internet"][key]
        for what, color in (("first", "#0969da"), ("page", "#cf222e")):
            xs = sorted(t[what] / t["rtt"] for t in trials if t[what] is not None)
            if xs:
                cdf.step(xs, [(k + 1) / len(trials) for k in range(len(xs))], style,
                         color=color, where="post",
                         label="%s, %s" % ("first byte" if what == "first" else "whole page",
                                           label))
    cdf.axvline(8, color="black", lw=1, ls=":", label="target median (8 RTTs)")
    cdf.set_xlabel("cold visit, round trips (time / visitor-publisher RTT)")
    cdf.set_ylabel("share of trials")
    cdf.set_xscale("log")
    cdf.legend(fontsize=7)
    pts = [p for p in result["series"] if p[1] is not None]
    if pts:
        ns = [p[0] for p in pts]
        sw.plot(ns, [p[1] for p in pts], "o-", label="hostless: last visitor done")
        sw.plot(ns, [p[2] for p in pts], "--", label="Kumar-Ross bound")
        sw.plot(ns, [p[2] * 1.25 for p in pts], ":", label="target 1.25x bound")
        sw.set_xscale("log", base=2)
        sw.set_xticks(ns)
        sw.set_xticklabels([str(n) for n in ns])
        sw.set_xlabel("visitors N (home links, publisher 2 Mbit/s up)")
        sw.set_ylabel("seconds")
        sw.set_ylim(bottom=0)
        sw.legend(fontsize=7)
    fig.suptitle(name)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def section_lines(name, r, img):
    """The docs section of one benchmark result (its plot written to img/)."""
    lines = ["## " + name, "", r["doc"], "",
             "| metric | hostless | baseline | ratio | target | |", "|---|---|---|---|---|---|"]
    for x in r["rows"]:
        target = "" if x["target"] is None else \
            ("%s %g" % ("≥" if x["higher_is_better"] else "≤", x["target"]))
        unit = " (%s)" % x["unit"] if x["unit"] else ""
        verdict = {True: "met", False: "**missed**", None: ""}[x["met"]]
        lines.append("| %s%s | %s | %s | %s | %s | %s |" % (
            x["metric"], unit, fmt(x["hostless"]), fmt(x["baseline"]), fmt(x["ratio"]),
            target, verdict))
    lines.append("")
    for n in r.get("notes", []):
        lines.append("- " + n)
    if r.get("tables"):
        lines += [""] + r["tables"]
    if plot(name, r, os.path.join(img, name + ".png")):
        lines += ["", "![%s](benchmarks/%s.png)" % (name, name)]
    lines.append("")
    return lines


def existing_sections(path):
    """(header lines, {benchmark name: its section's lines}) of the current docs."""
    try:
        with open(path) as f:
            text = f.read().split("\n")
    except OSError:
        return None, {}
    header, sections, current = [], {}, None
    for line in text:
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        if current is None:
            header.append(line)
        else:
            sections[current].append(line)
    return header, sections


def write_docs(results, only=None):
    """Regenerates docs/benchmarks.md. Sections of benchmarks in `only` (all
    when None) come from `results`; every other section, and any benchmark
    without a result, keeps its current text and plot, as does the header
    (machine, date) when only some sections are regenerated."""
    docs = os.path.join(ROOT, "docs")
    img = os.path.join(docs, "benchmarks")
    os.makedirs(img, exist_ok=True)
    out_path = os.path.join(docs, "benchmarks.md")
    old_header, old = existing_sections(out_path)
    if only is None or not old_header:
        lines = ["# Benchmarks", "",
                 "Generated by `scripts/bench` (do not edit by hand). Every benchmark measures",
                 "hostless and its baseline in the same run and reports the ratio; targets come",
                 "from the benchmarks issue. A missed target is shown, not tuned away.", "",
                 "- Machine: " + machine(),
                 "- Date: " + datetime.date.today().isoformat(), ""]
    else:
        lines = list(old_header)
    for name in BENCHES:
        r = results.get(name)
        if r and (only is None or name in only):
            lines += section_lines(name, r, img)
        elif name in old:
            lines += old[name]
        elif r:
            lines += section_lines(name, r, img)
    if NOT_YET:
        lines += ["## Not measured yet", ""]
        for name, what in NOT_YET.items():
            lines.append("- **%s**: %s." % (name, what))
        lines.append("")
    while len(lines) > 1 and lines[-1] == "" and lines[-2] == "":
        lines.pop()
    with open(out_path, "w") as f:
        f.write("\n".join(lines))


def main():
    global BIN, BUILD, QUICK
    args = sys.argv[1:]
    BIN, BUILD = os.path.abspath(args[0]), os.path.abspath(args[1])
    QUICK = "--quick" in args
    docs_only = "--docs-only" in args
    docs = "--docs" in args or docs_only
    named = [a for a in args[2:] if not a.startswith("--")]
    # `internet` needs root and a long while: run only when named.
    names = named or [n for n in BENCHES if n not in EXPLICIT_ONLY]
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print("unknown benchmark(s): %s; known: %s" % (", ".join(unknown), ", ".join(BENCHES)))
        return 2
    outdir = os.path.join(BUILD, "bench")
    os.makedirs(outdir, exist_ok=True)
    for name in [] if docs_only else names:
        result = BENCHES[name]()
        result.update({"name": name, "quick": QUICK, "doc": " ".join(BENCHES[name].__doc__.split()),
                       "date": datetime.datetime.now().isoformat(timespec="seconds")})
        print_table(result)
        with open(os.path.join(outdir, name + ("-quick" if QUICK else "") + ".json"), "w") as f:
            json.dump(result, f, indent=2)
    if docs and not QUICK:
        results = {}
        for name in BENCHES:
            p = os.path.join(outdir, name + ".json")
            if os.path.exists(p):
                with open(p) as f:
                    results[name] = json.load(f)
        write_docs(results, only=named or None)
        print("\nwrote docs/benchmarks.md" + (" (sections: %s)" % ", ".join(named) if named
                                               else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
