"""netsim: the internet in a box, for tests and benchmarks (issue 15).

A `Net` is a routed star of Linux network namespaces on this machine:

    node 1 --veth--+
    node 2 --veth--+-- core router (ip_forward, FORWARD -> NFQUEUE -> netsim-delayer)
    home 3 --veth--+        (per-link tbf caps on both ends)
      `-- node 3 (192.168.1.2 behind MASQUERADE, optionally miniupnpd)

Addresses. Node slot i (1-based, at most 250) has the public address
44.i.0.1: every node sits in its own /16 (libtorrent keeps one DHT node per
close IP range, and restricts searches the same way), so 44.1.0.1,
44.2.0.1, ... The core router's side of slot i's link is 44.i.0.254/24 and
is that node's default gateway. A NATed slot puts a "home router"
namespace on that address instead (interface `wan`); its LAN is
192.168.1.0/24 (router 192.168.1.1, the node 192.168.1.2), the same in
every home as in real homes.

Why 44 and not 10: the addresses must look public to the software under
test. miniupnpd refuses to map any port when its WAN address is private or
reserved (RFC 1918, 100.64/10, the documentation and benchmark ranges), and
libtorrent treats 10/8 peers as local (its unlimited local peer class, no
external-IP votes, no BEP 42 node-id checks), so a 10.x net would not test
what the internet does. 44/8 is in neither list, nor in libtorrent's
"dark internet" list of /8s whose DHT packets it drops. The addresses exist
only inside the namespaces a Net makes, which have no route to the
machine's real network, and each namespace gets its own empty resolv.conf
(no DNS server anywhere): nothing a test does can leave the box.
`first_octet=10` gives the private variant.

Latency model. Each slot gets a point drawn uniformly on a 2 x 1 "world map"
(seeded: the same seed gives the same world). The round trip between slots i
and j is RTT = 10 ms + 117 ms * distance(i, j): from 10 ms (neighbours) to
at most 272 ms (opposite corners), median about 100 ms over all pairs (the
shape of measured internet RTTs between home users within and across
continents, without the long tail). `rtt=` a number makes every RTT that
constant instead (CI). The router's FORWARD chain sees each packet once, on
its way between two slots, and the delayer holds it for RTT/2 of that pair,
so a round trip costs RTT. Links inside a home are instant.

Loss. Each forwarded packet is dropped with probability `loss` (default
1 %) by the delayer, so a round trip is lost with about 2 * loss.

Access links. Each slot's link is capped with tbf: `up` on the node's (or
home router's) egress, `down` on the core router's egress towards it
(default 20 Mbit/s down, 2 Mbit/s up, a home line); None is uncapped;
`caps={i: (down, up)}` overrides per slot. The queue holds 100 ms at the
link's rate (home routers buffer a lot).

Everything a Net makes is named `hl<pid>x<k>-...` (router `-r`, node `-n<i>`,
home router `-h<i>`); `close()` (and `__exit__`, also on a failure or
SIGTERM) kills what runs in those namespaces and deletes them, and
`cleanup_stale()` removes the leftovers of runs whose process is gone.
"""
import contextlib
import ctypes
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from harness import Node as _HarnessNode
from harness import ROOT_FLAG, wait_for

IP = "ip"
IPTABLES = "iptables-legacy"  # the kernel here has no nft queue; miniupnpd uses libiptc
LAN_ROUTER = "192.168.1.1"
LAN_NODE = "192.168.1.2"
MAX_SLOTS = 250
RTT_BASE_MS = 10.0
RTT_MS_PER_UNIT = 117.0
WORLD = (2.0, 1.0)

_NAME_RE = re.compile(r"^hl(\d+)x(\d+)-")
_counter = [0]
_counter_lock = threading.Lock()
_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000


class NetsimUnavailable(RuntimeError):
    """This machine (or user) cannot run the simulator; the message says why."""


def sh(argv, check=True, timeout=60, input=None):
    """Runs argv; returns CompletedProcess (text). Raises with its output on failure."""
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input,
                       stdin=None if input is not None else subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s%s" % (" ".join(argv), p.returncode, p.stdout,
                                                      p.stderr))
    return p


def new_prefix():
    """A fresh `hl<pid>x<k>-` namespace prefix: cleanup_stale removes what
    is left under it once this process is gone."""
    with _counter_lock:
        _counter[0] += 1
        return "hl%dx%d-" % (os.getpid(), _counter[0])


def ns_argv(ns, argv):
    return [IP, "netns", "exec", ns] + list(argv)


def _ip_batch(ns, lines):
    """Runs `ip` commands (one a line, without the leading `ip`) in namespace ns."""
    argv = [IP] + (["-n", ns] if ns else []) + ["-batch", "-"]
    sh(argv, input="\n".join(lines) + "\n")


NETNS_ETC = "/etc/netns"


def add_namespace(ns):
    """Creates namespace ns with an /etc/netns/<ns>/resolv.conf that names no
    server (`ip netns exec` mounts it over /etc/resolv.conf): a program there
    that looks up a public name (libtorrent's default DHT routers) fails at
    once instead of sending a query anywhere."""
    d = os.path.join(NETNS_ETC, ns)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "resolv.conf"), "w") as f:
        f.write("# netsim: no DNS inside the simulated internet\nnameserver 127.0.0.1\n")
    sh([IP, "netns", "add", ns])


def list_namespaces():
    p = sh([IP, "netns", "list"], check=False)
    return [line.split()[0] for line in p.stdout.splitlines() if line.strip()]


def _kill_namespace_processes(ns):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = [int(x) for x in sh([IP, "netns", "pids", ns], check=False).stdout.split()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        if sig == signal.SIGTERM:
            wait_for(lambda: not sh([IP, "netns", "pids", ns], check=False).stdout.split(), 5)


def remove_namespaces(names):
    """Kills what runs in each namespace, then deletes it (its veths go with it)."""
    for ns in names:
        _kill_namespace_processes(ns)
    for ns in names:
        sh([IP, "netns", "del", ns], check=False)
        shutil.rmtree(os.path.join(NETNS_ETC, ns), ignore_errors=True)


def _alive(pid):
    """True while pid runs (a zombie left unreaped by a container's init is dead)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def cleanup_stale(prefix=None):
    """Removes leftover namespaces: those starting with prefix, or (prefix None)
    every `hl<pid>x<k>-` one whose pid is no longer running. Returns their names."""
    stale = []
    known = set(list_namespaces())
    with contextlib.suppress(OSError):
        known |= set(os.listdir(NETNS_ETC))
    for ns in sorted(known):
        if prefix is not None:
            if ns.startswith(prefix):
                stale.append(ns)
            continue
        m = _NAME_RE.match(ns)
        if m and not _alive(int(m.group(1))):
            stale.append(ns)
    # Nodes and home routers first, the router last (nothing depends on order
    # for correctness, but it keeps the log readable).
    stale.sort(key=lambda n: n.endswith("-r"))
    remove_namespaces(stale)
    return stale


def run_named_test(tests, delayer, name):
    """A test script's main: checks this machine can run a Net (exit 1 with
    the reason if not), then runs tests[name]() and says ok."""
    try:
        check_environment(delayer)
    except NetsimUnavailable as e:
        print("netsim cannot run here: %s" % e)
        sys.exit(1)
    tests[name]()
    print("ok: " + name)


def check_environment(delayer):
    """Raises NetsimUnavailable with a clear reason when this machine cannot run
    a Net: not root, no netns/veth/tbf, no NFQUEUE target, missing tools."""
    if os.geteuid() != 0:
        raise NetsimUnavailable("the network simulator needs root (network namespaces, "
                                "iptables, tc); run the test as root")
    for tool in (IP, "tc", IPTABLES, "ping"):
        if shutil.which(tool) is None:
            raise NetsimUnavailable("%s is missing: install the packages in "
                                    "scripts/common.sh (TEST_PACKAGES)" % tool)
    if not os.access(delayer, os.X_OK):
        raise NetsimUnavailable("no netsim-delayer at %s (build with -Dtests=true)" % delayer)
    ns = "hl%dx0-probe" % os.getpid()
    try:
        for what, argv in [
            ("network namespaces", [IP, "netns", "add", ns]),
            ("veth", [IP, "-n", ns, "link", "add", "name", "a", "type", "veth", "peer", "name", "b"]),
            ("tbf", ["tc", "-n", ns, "qdisc", "add", "dev", "a", "root", "tbf", "rate", "1mbit",
                     "burst", "10kb", "latency", "50ms"]),
            ("the iptables NFQUEUE target", ns_argv(ns, [IPTABLES, "-A", "FORWARD", "-j",
                                                         "NFQUEUE", "--queue-num", "0",
                                                         "--queue-bypass"])),
            ("iptables MASQUERADE", ns_argv(ns, [IPTABLES, "-t", "nat", "-A", "POSTROUTING",
                                                 "-o", "a", "-j", "MASQUERADE"])),
        ]:
            p = sh(argv, check=False)
            if p.returncode != 0:
                raise NetsimUnavailable("this kernel or system lacks %s: `%s` said %s" %
                                        (what, " ".join(argv), (p.stderr or p.stdout).strip()))
    finally:
        remove_namespaces([n for n in list_namespaces() if n == ns])


@contextlib.contextmanager
def in_namespace(ns):
    """Switches the calling thread into network namespace ns: sockets created
    inside the block live there (and stay there afterwards)."""
    target = os.open("/run/netns/" + ns, os.O_RDONLY)
    here = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        if _libc.setns(target, _CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns(%s): %s" % (ns, os.strerror(e)))
        try:
            yield
        finally:
            if _libc.setns(here, _CLONE_NEWNET) != 0:
                # A thread stuck in a test namespace would send the rest of
                # the test's traffic to the wrong place: stop here.
                os._exit(70)
    finally:
        os.close(target)
        os.close(here)


class _NsHTTPConnection(http.client.HTTPConnection):
    """An HTTPConnection whose socket is made inside a network namespace."""

    def __init__(self, ns, host, port, timeout):
        super().__init__(host, port, timeout=timeout)
        self._ns = ns

    def connect(self):
        with in_namespace(self._ns):
            super().connect()


def _bits(rate):
    """'20mbit', '2Mbit', 2e6 -> bits per second (int); None stays None."""
    if rate is None:
        return None
    if isinstance(rate, (int, float)):
        return int(rate)
    m = re.fullmatch(r"\s*([\d.]+)\s*([kmg]?)(bit)?\s*", rate.lower())
    if not m:
        raise ValueError("rate %r: write e.g. '20mbit' or bits per second" % rate)
    return int(float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[m.group(2)])


class Slot:
    """One place on the simulated internet: a node, maybe behind a home router."""

    def __init__(self, net, index):
        self.net = net
        self.index = index
        self.ns = "%sn%d" % (net.prefix, index)  # where the node's programs run
        self.public_ip = "%d.%d.0.1" % (net.first_octet, index)
        self.gateway_ip = "%d.%d.0.254" % (net.first_octet, index)  # the core router's side
        self.nat = net.nat.get(index)  # None, "plain" or "upnp"
        self.home_ns = "%sh%d" % (net.prefix, index) if self.nat else None
        self.ip = LAN_NODE if self.nat else self.public_ip  # the node's own address
        self.down, self.up = net.caps.get(index, (net.down, net.up))
        self.point = None
        self.miniupnpd = None


class Net:
    """A simulated internet of n nodes; see the module docstring for the model.

    n: number of nodes (slots 1..n). rtt: None for the coordinate model, or
    a constant RTT in ms. loss: per-packet drop probability. down/up: default
    access-link caps (rate strings like '20mbit', bits/s, or None). caps:
    {slot: (down, up)}. nat: {slot: 'plain' | 'upnp'}. hairpin: home
    routers loop a packet for their own public address back to the node
    (many real ones don't: a NATed node then cannot reach itself through its
    public address, as by default here). first_octet: of every
    public address (see the docstring about miniupnpd). seed: of the world
    map and of the delayer's drops. delayer: path of netsim-delayer (default:
    $NETSIM_DELAYER). workdir: where configs and logs go (default a new
    temporary folder, removed on close unless keep).

    Not thread-safe to build or close; the helpers that run commands or make
    sockets may be used from many threads once it is built.
    """

    def __init__(self, n, rtt=None, loss=0.01, down="20mbit", up="2mbit", caps=None, nat=None,
                 first_octet=44, seed=1, delayer=None, workdir=None, keep=False, hairpin=False):
        if not 1 <= n <= MAX_SLOTS:
            raise ValueError("a Net has 1..%d nodes" % MAX_SLOTS)
        self.n = n
        self.constant_rtt = rtt
        self.loss = loss
        self.down, self.up = down, up
        self.caps = dict(caps or {})
        self.nat = dict(nat or {})
        self.first_octet = first_octet
        self.hairpin = hairpin
        self.seed = seed
        self.delayer = delayer or os.environ.get("NETSIM_DELAYER")
        self.keep = keep
        self.queue_num = 0  # per router namespace: each has its own netfilter
        self.prefix = new_prefix()
        self.router_ns = self.prefix + "r"
        self.dir = workdir or tempfile.mkdtemp(prefix="hostless-netsim-")
        os.makedirs(self.dir, exist_ok=True)
        self.table_path = os.path.join(self.dir, "delays.table")
        self.delayer_log = os.path.join(self.dir, "delayer.log")
        self.slots = [None] + [Slot(self, i) for i in range(1, n + 1)]
        rng = random.Random(seed)
        for s in self.slots[1:]:
            s.point = (rng.random() * WORLD[0], rng.random() * WORLD[1])
        self.nodes = []  # NetNodes started through node()
        self._delayer_proc = None
        self._old_sigterm = None
        self._built = False
        self.built_at = time.monotonic()

    # ---- the model -------------------------------------------------------

    def rtt(self, i, j):
        """The model's round-trip time between slots i and j, in seconds
        (links inside a home add nothing)."""
        if i == j:
            return 0.0
        if self.constant_rtt is not None:
            return self.constant_rtt / 1000.0
        d = math.dist(self.slots[i].point, self.slots[j].point)
        return (RTT_BASE_MS + RTT_MS_PER_UNIT * d) / 1000.0

    def __getitem__(self, i):
        return self.slots[i]

    # ---- building --------------------------------------------------------

    def __enter__(self):
        self.build()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.dump_logs()
        self.close()

    def build(self):
        """Makes the namespaces, links, caps, NAT and the delayer."""
        check_environment(self.delayer)
        cleanup_stale()
        if threading.current_thread() is threading.main_thread():
            # meson ends a test that overran with SIGTERM: unwind so that the
            # with-blocks tear the net down.
            self._old_sigterm = signal.signal(signal.SIGTERM, _raise_on_sigterm)
        try:
            self._build_router()
            for s in self.slots[1:]:
                self._build_slot(s)
            self._write_table()
            self._start_delayer()
            self._built = True
            self.built_at = time.monotonic()
        except BaseException:
            self.dump_logs()
            self.close()
            raise

    def _build_router(self):
        r = self.router_ns
        add_namespace(r)
        sh(ns_argv(r, ["sysctl", "-qw", "net.ipv4.ip_forward=1",
                       "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"]))
        _ip_batch(r, ["link set lo up"])
        sh(ns_argv(r, [IPTABLES, "-A", "FORWARD", "-j", "NFQUEUE", "--queue-num",
                       str(self.queue_num), "--queue-bypass"]))

    def _build_slot(self, s):
        r = self.router_ns
        link = "n%d" % s.index
        edge_ns = s.home_ns or s.ns  # the namespace on the core's link
        edge_if = "wan" if s.nat else "eth0"
        add_namespace(s.ns)
        if s.nat:
            add_namespace(s.home_ns)
        _ip_batch(r, [
            "link add name %s type veth peer name %s netns %s" % (link, edge_if, edge_ns),
            "addr add %s/24 dev %s" % (s.gateway_ip, link),
            "link set %s up" % link,
        ])
        _ip_batch(edge_ns, [
            "link set lo up",
            "addr add %s/24 dev %s" % (s.public_ip, edge_if),
            "link set %s up" % edge_if,
            "route add default via %s" % s.gateway_ip,
        ])
        self._cap(r, link, s.down)
        self._cap(edge_ns, edge_if, s.up)
        if s.nat:
            self._build_home(s)

    def _build_home(self, s):
        h = s.home_ns
        _ip_batch(h, [
            "link add name lan type veth peer name eth0 netns %s" % s.ns,
            "addr add %s/24 dev lan" % LAN_ROUTER,
            "link set lan up",
        ])
        _ip_batch(s.ns, [
            "link set lo up",
            "addr add %s/24 dev eth0" % LAN_NODE,
            "link set eth0 up",
            "route add default via %s" % LAN_ROUTER,
        ])
        sh(ns_argv(h, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]))
        ipt = lambda *a: sh(ns_argv(h, [IPTABLES] + list(a)))  # noqa: E731
        ipt("-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE")
        # A home router: answers come back in, nothing else unless mapped
        # (miniupnpd's chain is put ahead of these).
        ipt("-A", "FORWARD", "-i", "wan", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED",
            "-j", "ACCEPT")
        ipt("-A", "FORWARD", "-i", "wan", "-j", "DROP")
        if self.hairpin:
            # NAT loopback: the node reaches its own public address (a home
            # router with one host behind it: every port is that host's).
            ipt("-t", "nat", "-A", "PREROUTING", "-i", "lan", "-d", s.public_ip, "-j", "DNAT",
                "--to-destination", LAN_NODE)
            ipt("-t", "nat", "-A", "POSTROUTING", "-o", "lan", "-s", "192.168.1.0/24", "-d",
                LAN_NODE, "-j", "MASQUERADE")
        if s.nat == "upnp":
            self._start_miniupnpd(s)

    def _cap(self, ns, dev, rate):
        bps = _bits(rate)
        if bps is None:
            return
        byte_rate = bps / 8
        burst = max(3200, int(byte_rate / 100))  # 10 ms at the rate, at least two packets
        limit = burst + int(byte_rate * 0.1)  # 100 ms of queue
        sh(["tc", "-n", ns, "qdisc", "replace", "dev", dev, "root", "tbf", "rate", "%dbit" % bps,
            "burst", str(burst), "limit", str(limit)])

    def _start_miniupnpd(self, s):
        """A real UPnP IGD + NAT-PMP daemon on s's home router (Debian's miniupnpd,
        iptables backend). Its chains are made here, as Debian's
        iptables_init.sh makes them in a clean table (that script needs the
        `miniupnpd` package's functions file, which miniupnpd-iptables alone
        lacks); iptables-legacy, as miniupnpd's libiptc."""
        h = s.home_ns
        d = os.path.join(self.dir, "home%d" % s.index)
        os.makedirs(d, exist_ok=True)
        ipt = lambda *a: sh(ns_argv(h, [IPTABLES] + list(a)))  # noqa: E731
        for table, chain, hook, match in (
                ("nat", "MINIUPNPD", "PREROUTING", ["-i", "wan"]),
                ("mangle", "MINIUPNPD", "PREROUTING", ["-i", "wan"]),
                ("filter", "MINIUPNPD", "FORWARD", ["-i", "wan", "!", "-o", "wan"]),
                ("nat", "MINIUPNPD-POSTROUTING", "POSTROUTING", ["-o", "wan"])):
            ipt("-t", table, "-N", chain)
            ipt("-t", table, "-I", hook, *match, "-j", chain)
        conf = os.path.join(d, "miniupnpd.conf")
        with open(conf, "w") as f:
            f.write("\n".join([
                "ext_ifname=wan",
                "listening_ip=lan",
                "port=0",
                "enable_natpmp=yes",
                "enable_upnp=yes",
                "secure_mode=yes",
                "system_uptime=yes",
                "notify_interval=30",
                "clean_ruleset_interval=600",
                "lease_file=%s" % os.path.join(d, "leases"),
                "uuid=%08x-0000-4000-8000-%012x" % (os.getpid() & 0xffffffff, s.index),
                "allow 1024-65535 192.168.1.0/24 1024-65535",
                "deny 0-65535 0.0.0.0/0 0-65535",
            ]) + "\n")
        log = open(os.path.join(d, "miniupnpd.log"), "ab")
        s.miniupnpd = subprocess.Popen(
            ns_argv(h, ["miniupnpd", "-f", conf, "-d", "-P", os.path.join(d, "miniupnpd.pid")]),
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        listening = wait_for(lambda: s.miniupnpd.poll() is not None or "5351" in sh(
            ns_argv(h, ["ss", "-lnu"]), check=False).stdout, 10)
        if s.miniupnpd.poll() is not None or not listening:
            raise RuntimeError("miniupnpd did not start on %s:\n%s" % (h, self._read(
                os.path.join(d, "miniupnpd.log"))))

    def _write_table(self):
        """One line per ordered pair of public addresses: delay RTT/2, the loss."""
        lines = ["default 0 %g" % self.loss]
        for a in self.slots[1:]:
            for b in self.slots[1:]:
                if a is not b:
                    lines.append("%s %s %.3f %g" % (a.public_ip, b.public_ip,
                                                     self.rtt(a.index, b.index) * 500.0,
                                                     self.loss))
        tmp = self.table_path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, self.table_path)

    def _start_delayer(self):
        ready = os.path.join(self.dir, "delayer.ready")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(ready)
        log = open(self.delayer_log, "ab")
        self._delayer_proc = subprocess.Popen(
            ns_argv(self.router_ns, [self.delayer, "--queue", str(self.queue_num), "--table",
                                     self.table_path, "--seed", str(self.seed), "--ready", ready]),
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        if not wait_for(lambda: os.path.exists(ready) or self._delayer_proc.poll() is not None,
                        10) or self._delayer_proc.poll() is not None:
            raise RuntimeError("netsim-delayer did not start:\n" + self._read(self.delayer_log))

    def set_loss(self, loss, rtt=None):
        """Changes the loss (and optionally the constant RTT, ms) of every pair,
        now: the delayer re-reads its table."""
        self.loss = loss
        if rtt is not None:
            self.constant_rtt = rtt
        self._write_table()
        before = self._read(self.delayer_log).count("reloaded")
        self._delayer_proc.send_signal(signal.SIGHUP)
        if not wait_for(lambda: self._read(self.delayer_log).count("reloaded") > before, 10):
            raise RuntimeError("netsim-delayer did not reload:\n" + self._read(self.delayer_log))

    def delayer_stats(self):
        """The delayer's counters now, as a dict of numbers."""
        before = self._read(self.delayer_log).count("stats (now)")
        self._delayer_proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: self._read(self.delayer_log).count("stats (now)") > before, 5)
        line = [x for x in self._read(self.delayer_log).splitlines() if "stats (now)" in x][-1]
        words = line.split(":", 1)[1].split()
        return {words[k]: float(words[k + 1]) for k in range(0, len(words) - 1, 2)}

    # ---- running things --------------------------------------------------

    def argv(self, i, argv):
        """argv wrapped to run in slot i's node namespace."""
        return ns_argv(self.slots[i].ns, argv)

    def run(self, i, argv, check=True, timeout=60, **kw):
        """Runs argv in slot i's node namespace; CompletedProcess (text)."""
        if "input" not in kw:
            kw["stdin"] = subprocess.DEVNULL
        p = subprocess.run(self.argv(i, argv), capture_output=True, text=True, timeout=timeout,
                           **kw)
        if check and p.returncode != 0:
            raise RuntimeError("node %d: %s failed (%d): %s%s" % (i, " ".join(argv), p.returncode,
                                                                 p.stdout, p.stderr))
        return p

    def popen(self, i, argv, **kw):
        """Starts argv in slot i's node namespace (subprocess.Popen arguments)."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.Popen(self.argv(i, argv), **kw)

    def namespace(self, i):
        """Context manager: sockets made inside are in slot i's node namespace."""
        return in_namespace(self.slots[i].ns)

    def http_connection(self, i, port, host="127.0.0.1", timeout=60):
        """An unopened HTTPConnection made from slot i's namespace."""
        return _NsHTTPConnection(self.slots[i].ns, host, port, timeout)

    def node(self, i, binary, bootstrap=None, extra=(), peer_port=6881, gateway_port=8420,
             home=None):
        """A hostless daemon for slot i (not started): see NetNode."""
        node = NetNode(self, i, binary, home or os.path.join(self.dir, "n%d" % i, "home"),
                       bootstrap=bootstrap, extra=extra, peer_port=peer_port,
                       gateway_port=gateway_port)
        self.nodes.append(node)
        return node

    # ---- teardown --------------------------------------------------------

    def dump_logs(self, tail=3000):
        print("---- netsim %s (%s) ----" % (self.prefix, self.dir))
        print("delayer:", self._read(self.delayer_log)[-tail:])
        for s in self.slots[1:]:
            if s.miniupnpd is not None:
                print("miniupnpd %d:" % s.index,
                      self._read(os.path.join(self.dir, "home%d" % s.index,
                                              "miniupnpd.log"))[-tail:])
        for node in self.nodes:
            print("---- node %d log ----\n%s" % (node.index, node.read_log()[-tail:]))

    def close(self):
        """Stops everything and removes every namespace of this Net. Idempotent."""
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.stop()
        if self._delayer_proc is not None:
            if self._delayer_proc.poll() is None:
                self._delayer_proc.terminate()
                try:
                    self._delayer_proc.wait(10)
                except subprocess.TimeoutExpired:
                    self._delayer_proc.kill()
                    self._delayer_proc.wait()
            self._delayer_proc = None
        for s in self.slots[1:]:
            if s.miniupnpd is not None:
                if s.miniupnpd.poll() is None:
                    s.miniupnpd.terminate()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        s.miniupnpd.wait(5)
                s.miniupnpd = None
        cleanup_stale(self.prefix)
        if self._old_sigterm is not None:
            signal.signal(signal.SIGTERM, self._old_sigterm)
            self._old_sigterm = None
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    @staticmethod
    def _read(path):
        try:
            with open(path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""


def _raise_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


class NetNode(_HarnessNode):
    """A hostless daemon in a Net slot, compatible with harness.Node (home,
    start(), stop(), run(), json(), read_log(), Api(node)): the daemon runs
    with its default settings (no --lan; --no-lsd, so that peers are found
    the internet's way), listens on the slot's own address, serves its
    gateway on 127.0.0.1 inside its namespace, and bootstraps from
    `bootstrap` ("ip:port", e.g. net.node(1)'s `endpoint`). CLI commands run
    in the same namespace, where the daemon's 127.0.0.1 is."""

    def __init__(self, net, index, binary, home, bootstrap=None, extra=(), peer_port=6881,
                 gateway_port=8420):
        super().__init__(binary, home, index, extra=extra)
        self.net = net
        self.slot = net.slots[index]
        self.ns = self.slot.ns
        self.ip = self.slot.ip
        self.peer_port = peer_port
        self.gateway_port = gateway_port
        self.bootstrap = bootstrap
        os.makedirs(os.path.dirname(home), exist_ok=True)
        self.log_path = os.path.join(os.path.dirname(home), "daemon.log")

    @property
    def endpoint(self):
        """Where other nodes reach this one: public address and peer port (a
        NATed node's is its home router's, usable once a port is mapped)."""
        return "%s:%d" % (self.slot.public_ip, self.peer_port)

    def daemon_argv(self):
        args = [self.binary, "--home", self.home, "daemon", "--no-lsd",
                "--listen", "%s:%d" % (self.ip, self.peer_port),
                "--gateway", "127.0.0.1:%d" % self.gateway_port] + ROOT_FLAG + self.extra
        if self.bootstrap:
            args += ["--bootstrap", self.bootstrap]
        return ns_argv(self.ns, args)

    def cli_argv(self, args):
        return ns_argv(self.ns, [self.binary, "--home", self.home] + list(args))

    def start(self):
        """Starts the daemon; its output goes to log_path, each line stamped
        with the seconds since the Net was built (to line up nodes' logs)."""
        self.proc = subprocess.Popen(self.daemon_argv(), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._log_thread = threading.Thread(target=self._copy_log, args=(self.proc.stdout,),
                                            daemon=True)
        self._log_thread.start()
        ok = wait_for(lambda: os.path.exists(os.path.join(self.home, "daemon.json"))
                      or self.proc.poll() is not None, 20)
        if self.proc.poll() is not None or not ok:
            raise RuntimeError("node %d did not start:\n%s" % (self.index, self.read_log()))
        return self

    def _copy_log(self, pipe):
        with open(self.log_path, "ab", buffering=0) as log:
            for line in pipe:
                log.write(b"[%8.3f] " % (time.monotonic() - self.net.built_at) + line)
        pipe.close()

    def stop(self, sig=signal.SIGTERM, timeout=20):
        thread = getattr(self, "_log_thread", None)
        super().stop(sig, timeout)
        if thread is not None:
            thread.join(5)

    def http_connection(self, timeout=60):
        return _NsHTTPConnection(self.ns, "127.0.0.1", self.gateway_port, timeout)

    def get(self, address, path="/", timeout=60, method="GET"):
        """One request to this node's gateway for a site: (status, headers, body)."""
        c = self.http_connection(timeout=timeout)
        try:
            host = "%s.localhost:%d" % (address, self.gateway_port) if address else "localhost"
            c.request(method, path, headers={"Host": host})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()


if __name__ == "__main__":
    # python3 netsim.py cleanup [PREFIX]: removes leftover namespaces.
    if len(sys.argv) >= 2 and sys.argv[1] == "cleanup":
        print("\n".join(cleanup_stale(sys.argv[2] if len(sys.argv) > 2 else None)))
    else:
        print(json.dumps({"usage": "netsim.py cleanup [PREFIX]"}))
