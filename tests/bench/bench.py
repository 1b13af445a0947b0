#!/usr/bin/python3
"""hostless benchmarks. Each one measures hostless and its baseline in the
same run (this machine's timings are noisy) and reports the ratio against the
issue's target. Nothing here asserts a timing: a missed target is reported.

usage: bench.py HOSTLESS_BINARY BUILD_DIR [--quick] [--docs] [NAME...]
  --quick  tiny sizes, seconds: proves the benchmark still runs
  --docs   regenerate docs/benchmarks.md (and its plots) from build/bench/*.json
"""
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from harness import Cluster, Node, free_port, wait_for  # noqa: E402

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


class Nginx:
    """nginx with one worker serving `root` on 127.0.0.1 (the baseline web server)."""

    def __init__(self, root):
        self.dir = tempfile.mkdtemp(prefix="hostless-nginx-")
        self.port = free_port()
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""%sworker_processes 1;
daemon off;
pid %s/nginx.pid;
error_log %s/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  client_body_temp_path %s;
  proxy_temp_path %s;
  fastcgi_temp_path %s;
  uwsgi_temp_path %s;
  scgi_temp_path %s;
  server { listen 127.0.0.1:%d; root %s; }
}
""" % ((user,) + (self.dir,) * 7 + (self.port, root)))
        self.proc = subprocess.Popen(["nginx", "-c", conf, "-p", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for(lambda: can_connect(self.port), 10):
            raise RuntimeError("nginx did not start")

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def can_connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


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
    ratio = hostless / baseline if baseline else None
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


def publish(node, folder):
    return node.json("publish", folder)


# ---------------------------------------------------------------------------
# Benchmarks


def bench_gateway():
    """wrk against the gateway serving a fully local site and against nginx
    (1 worker) serving the same files."""
    seconds = 1 if QUICK else 8
    large = 8 * MIB if QUICK else 256 * MIB
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
        nginx = Nginx(site)
        try:
            base = "http://127.0.0.1:%d/" % gw
            ng = "http://127.0.0.1:%d/" % nginx.port
            h_small, _ = wrk(base + "small.bin", 16, seconds, host)
            n_small, _ = wrk(ng + "small.bin", 16, seconds)
            _, h_large = wrk(base + "large.bin", 4, seconds, host)
            _, n_large = wrk(ng + "large.bin", 4, seconds)
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
            nginx.close()
    return {"rows": [
        row("4 KiB file, 16 keep-alive connections", h_small, n_small, 0.8, "req/s"),
        row("%d MiB file, 4 connections" % (large // MIB), h_large / MIB, n_large / MIB, 0.9,
            "MiB/s"),
        row("4 KiB file with 64 idle connections held (vs itself)", h_idle, h_small, 0.9,
            "req/s"),
    ], "notes": ["baseline: nginx %s, 1 worker, sendfile; wrk -t2, %d s per run"
                 % (nginx_version(), seconds)]}


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


def plain_libtorrent_pair(folder, workdir):
    """Seconds two python3-libtorrent sessions (default settings, loopback)
    take to move `folder` as a hybrid torrent: what the library itself does
    here."""
    script = """
import libtorrent as lt, os, sys, time
src, out = sys.argv[1], sys.argv[2]
fs = lt.file_storage()
lt.add_files(fs, src)
ct = lt.create_torrent(fs)
lt.set_piece_hashes(ct, os.path.dirname(src))
data = lt.bencode(ct.generate())
def session():
    return lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False,
                       "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False})
s1, s2 = session(), session()
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
    p = subprocess.run(["/usr/bin/python3", "-c", script, folder, os.path.join(workdir, "lt-out")],
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


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


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
        # Visitors' own upload and download are not capped: the bound is F/U.
        t_min = total / u
        t_cs = n * total / u
        plot_points.append((n, t_last, t_min, t_cs))
        rows.append(row("N=%d: last visitor done / Kumar-Ross bound" % n, t_last, t_min,
                        1.25 if n == counts[-1] else None, "s", higher_is_better=False))
        rows.append(row("N=%d: publisher upload / F" % n, uploaded / total, 1.0,
                        2.0 if n == counts[-1] else None, "x F", higher_is_better=False))
    return {"rows": rows, "series": plot_points,
            "notes": ["F = %d bytes, U = %d KiB/s (libtorrent rate limit, local peers included); "
                      "bound T_min = max(F/U, F/d_min, N F/(U + sum u_i)) = F/U with visitors "
                      "uncapped; client-server time N F/U" % (size, cap_kib),
                      "times include each visitor's name lookup and metadata fetch"]}


BENCHES = {
    "gateway": bench_gateway,
    "publish": bench_publish,
    "update": bench_update,
    "transfer": bench_transfer,
    "visit": bench_visit,
    "swarm": bench_swarm,
}
NOT_YET = {
    "scale": "RSS and start-up time with 100 and 1000 mirrored sites",
}


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


def write_docs(results):
    docs = os.path.join(ROOT, "docs")
    img = os.path.join(docs, "benchmarks")
    os.makedirs(img, exist_ok=True)
    lines = ["# Benchmarks", "",
             "Generated by `scripts/bench` (do not edit by hand). Every benchmark measures",
             "hostless and its baseline in the same run and reports the ratio; targets come",
             "from the benchmarks issue. A missed target is shown, not tuned away.", "",
             "- Machine: " + machine(),
             "- Date: " + datetime.date.today().isoformat(), ""]
    for name in BENCHES:
        r = results.get(name)
        if not r:
            continue
        lines += ["## " + name, "", r["doc"], "",
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
        if plot(name, r, os.path.join(img, name + ".png")):
            lines += ["", "![%s](benchmarks/%s.png)" % (name, name)]
        lines.append("")
    lines += ["## Not measured yet", ""]
    for name, what in NOT_YET.items():
        lines.append("- **%s**: %s." % (name, what))
    lines.append("")
    with open(os.path.join(docs, "benchmarks.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    global BIN, BUILD, QUICK
    args = sys.argv[1:]
    BIN, BUILD = os.path.abspath(args[0]), os.path.abspath(args[1])
    QUICK = "--quick" in args
    docs = "--docs" in args
    names = [a for a in args[2:] if not a.startswith("--")] or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print("unknown benchmark(s): %s; known: %s" % (", ".join(unknown), ", ".join(BENCHES)))
        return 2
    outdir = os.path.join(BUILD, "bench")
    os.makedirs(outdir, exist_ok=True)
    for name in names:
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
        write_docs(results)
        print("\nwrote docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
