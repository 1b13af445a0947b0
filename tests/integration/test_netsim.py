#!/usr/bin/python3
"""The network simulator checks itself (tests/support/netsim.py): the RTTs
ping measures match the latency model, the delayer drops what it should, a
capped link delivers its rate, a NATed node reaches out but is reached only
through a mapping (miniupnpd, by UPnP and by libtorrent's own UPnP/NAT-PMP),
two Nets live side by side, and nothing is left behind.

usage: test_netsim.py NETSIM_DELAYER TEST_NAME   (as root)
"""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import netsim  # noqa: E402

DELAYER = None
PYTHON_LT = "/usr/bin/python3"  # Debian's, where python3-libtorrent is


def ping_rtt(net, i, dst, count=10):
    """Average RTT (s) of `count` pings from slot i to dst, or None if all were lost."""
    p = net.run(i, ["ping", "-n", "-q", "-c", str(count), "-i", "0.1", "-W", "2", dst],
                check=False, timeout=60)
    m = re.search(r"= [\d.]+/([\d.]+)/", p.stdout)
    return float(m.group(1)) / 1000.0 if m else None


def check_rtts(net, pairs):
    for i, j in pairs:
        want = net.rtt(i, j)
        got = ping_rtt(net, i, net[j].public_ip)
        print("rtt %d->%d: model %.1f ms, ping %s ms" %
              (i, j, want * 1e3, "lost" if got is None else "%.1f" % (got * 1e3)))
        assert got is not None, "no ping answer from %d to %d" % (i, j)
        assert abs(got - want) <= 0.2 * want + 0.003, (
            "RTT %d->%d is %.1f ms, the model says %.1f ms" % (i, j, got * 1e3, want * 1e3))


def udp_delivery(net, src, dst, count=1000, rate=500, port=9100):
    """Sends count small datagrams from slot src to dst at rate/s; how many arrived."""
    with net.namespace(dst):
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with net.namespace(src):
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind((net[dst].ip, port))
    rx.settimeout(0.2)
    got = set()
    done = threading.Event()

    def receive():
        while not done.is_set():
            try:
                data, _ = rx.recvfrom(2048)
                got.add(int(data.split(b" ")[0]))
            except socket.timeout:
                continue

    t = threading.Thread(target=receive)
    t.start()
    start = time.monotonic()
    for k in range(count):
        tx.sendto(b"%d netsim" % k + b"." * 64, (net[dst].public_ip, port))
        delay = start + (k + 1) / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    time.sleep(net.rtt(src, dst) + 0.5)
    done.set()
    t.join()
    rx.close()
    tx.close()
    return len(got)


def tcp_rate(net, src, dst, seconds=4.0, port=9200):
    """Goodput (bit/s) of one TCP stream from slot src to dst, measured by the
    receiver after the first second (past slow start)."""
    with net.namespace(dst):
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((net[dst].ip, port))
    server.listen(1)
    samples = []

    def receive():
        conn, _ = server.accept()
        total = 0
        while True:
            data = conn.recv(65536)
            if not data:
                break
            total += len(data)
            samples.append((time.monotonic(), total))
        conn.close()

    t = threading.Thread(target=receive)
    t.start()
    with net.namespace(src):
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.connect((net[dst].public_ip, port))
    chunk = b"x" * 16384
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        client.sendall(chunk)
    client.close()
    t.join(60)
    server.close()
    t0 = samples[0][0] + 1.0
    window = [(ts, n) for ts, n in samples if ts >= t0]
    (ta, na), (tb, nb) = window[0], window[-1]
    return (nb - na) * 8 / (tb - ta)


def tcp_connects(net, src, ip, port, timeout=3.0):
    """True when slot src can open a TCP connection to ip:port and read a greeting."""
    with net.namespace(src):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((ip, port))
        return s.recv(16) == b"hello"
    except OSError:
        return False
    finally:
        s.close()


class Greeter:
    """A TCP server in slot i that says hello to each connection and records
    the peers' addresses."""

    def __init__(self, net, i, port):
        with net.namespace(i):
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((net[i].ip, port))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.peers = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve)
        self.thread.start()

    def _serve(self):
        while not self.done.is_set():
            try:
                c, addr = self.sock.accept()
            except socket.timeout:
                continue
            self.peers.append(addr[0])
            c.sendall(b"hello")
            c.close()

    def close(self):
        self.done.set()
        self.thread.join()
        self.sock.close()


LT_MAPPER = r"""
import json, sys, time
import libtorrent as lt
port = int(sys.argv[1])
s = lt.session({"listen_interfaces": "192.168.1.2:%d" % port, "enable_dht": False,
                "enable_lsd": False, "enable_upnp": True, "enable_natpmp": True,
                "alert_mask": lt.alert.category_t.port_mapping_notification
                              | lt.alert.category_t.error_notification})
maps = {}
deadline = time.time() + float(sys.argv[2])
while time.time() < deadline and len(maps) < 2:
    s.wait_for_alert(500)
    for a in s.pop_alerts():
        if isinstance(a, lt.portmap_alert):
            kind = "natpmp" if a.map_transport == lt.portmap_transport.natpmp else "upnp"
            if a.map_protocol == lt.portmap_protocol.tcp:
                maps[kind] = a.external_port
        print(a.message(), file=sys.stderr, flush=True)
print(json.dumps(maps), flush=True)
sys.stdin.read()  # keep the session (and its mappings) until told to go
"""


def test_selfcheck():
    started = time.monotonic()
    # 1-3 plain, 4 behind a home router with miniupnpd, 5 behind a plain NAT.
    caps = {2: ("5mbit", "2mbit"), 3: (None, None)}
    with netsim.Net(5, loss=0.0, seed=7, caps=caps, nat={4: "upnp", 5: "plain"},
                    delayer=DELAYER) as net:
        prefix = net.prefix
        print("built %s in %.1f s: %s" % (prefix, time.monotonic() - started,
                                          ", ".join("%d=%s%s" % (s.index, s.public_ip,
                                                                 " (%s NAT)" % s.nat
                                                                 if s.nat else "")
                                                    for s in net.slots[1:])))

        # Latency: the model, per direction, also through a home router.
        check_rtts(net, [(1, 2), (1, 3), (2, 3), (3, 1), (4, 1), (5, 2)])

        # Loss: 10 % per packet, one-way datagrams.
        net.set_loss(0.10)
        got = udp_delivery(net, 1, 3, count=1000)
        print("udp at 10 %% loss: %d of 1000 arrived" % got)
        assert 850 <= got <= 950, "10 %% loss let %d of 1000 datagrams through" % got
        net.set_loss(0.0)
        assert udp_delivery(net, 1, 3, count=200, port=9101) == 200, "loss 0 still drops"

        # Access links: slot 1's 2 Mbit/s uplink, slot 2's 5 Mbit/s downlink.
        up = tcp_rate(net, 1, 3)
        print("tcp 1->3 (2 Mbit/s uplink): %.2f Mbit/s" % (up / 1e6))
        assert 1.5e6 <= up <= 2.1e6, "a 2 Mbit/s uplink carried %.2f Mbit/s" % (up / 1e6)
        down = tcp_rate(net, 3, 2, port=9201)
        print("tcp 3->2 (5 Mbit/s downlink): %.2f Mbit/s" % (down / 1e6))
        assert 3.9e6 <= down <= 5.2e6, "a 5 Mbit/s downlink carried %.2f Mbit/s" % (down / 1e6)

        # NAT: out yes (seen as the home's address), in no.
        g1 = Greeter(net, 1, 7001)
        g5 = Greeter(net, 5, 7001)
        g4 = Greeter(net, 4, 7002)
        try:
            assert tcp_connects(net, 5, net[1].public_ip, 7001), "NATed node 5 cannot reach out"
            assert g1.peers[-1] == net[5].public_ip, "node 1 saw %s" % g1.peers[-1]
            assert not tcp_connects(net, 1, net[5].public_ip, 7001), "plain NAT let a peer in"
            assert not tcp_connects(net, 1, net[4].public_ip, 7002), "unmapped port let a peer in"
            p = net.run(4, ["upnpc", "-e", "netsim", "-a", net[4].ip, "7002", "7002", "TCP"],
                        check=False, timeout=30)
            print("upnpc: " + " | ".join(p.stdout.strip().splitlines()[-3:]))
            assert "is redirected to internal" in p.stdout, "upnpc made no mapping:\n" + p.stdout
            assert tcp_connects(net, 1, net[4].public_ip, 7002), "a UPnP-mapped port is closed"
        finally:
            for g in (g1, g5, g4):
                g.close()

        # libtorrent's own UPnP and NAT-PMP clients get mappings, and the
        # mapped port takes connections from the core.
        lt = net.popen(4, [PYTHON_LT, "-c", LT_MAPPER, "7003", "20"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
        try:
            maps = json.loads(lt.stdout.readline() or "{}")
            print("libtorrent port mappings: %s" % maps)
            assert maps, "libtorrent got no UPnP/NAT-PMP mapping: " + (
                net._read(os.path.join(net.dir, "home4", "miniupnpd.log"))[-2000:])
            for kind, port in maps.items():
                with net.namespace(1):
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.settimeout(3)
                try:
                    s.connect((net[4].public_ip, port))
                finally:
                    s.close()
                print("connected in through the %s mapping %s:%d" % (kind, net[4].public_ip,
                                                                     port))
        finally:
            lt.stdin.close()
            lt.wait(10)

        # A second Net beside this one: its own router namespace and queue 0.
        with netsim.Net(2, rtt=30, loss=0.0, delayer=DELAYER) as other:
            got = ping_rtt(other, 1, other[2].public_ip, count=5)
            print("second net: rtt %.1f ms (model 30)" % (got * 1e3))
            assert got is not None and abs(got - 0.030) <= 0.009
            check_rtts(net, [(2, 1)])
        stats = net.delayer_stats()
        print("delayer: %s" % stats)
    left = [n for n in netsim.list_namespaces() if n.startswith(prefix)]
    assert not left, "namespaces left after teardown: %s" % left
    assert not [n for n in os.listdir(netsim.NETNS_ETC) if n.startswith(prefix)]
    print("selfcheck done in %.1f s" % (time.monotonic() - started))


def main():
    global DELAYER
    DELAYER = os.path.abspath(sys.argv[1])
    netsim.run_named_test(globals(), DELAYER, sys.argv[2])


if __name__ == "__main__":
    main()
