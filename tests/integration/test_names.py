#!/usr/bin/python3
"""Names people can say (docs/gateway.md, "Names"): petnames and DNS names.

One daemon runs in a network namespace the test makes, beside a dnsmasq that
is the namespace's only DNS server (`ip netns exec` mounts
/etc/netns/<ns>/resolv.conf, which names 127.0.0.1): the daemon's TXT
queries never leave the namespace.

usage: test_names.py HOSTLESS_BINARY TEST_NAME
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, HERE)
import netsim  # noqa: E402
from harness import Node, make_site, wait_for  # noqa: E402
from test_network import fetch  # noqa: E402

BIN = None


class NsNode(Node):
    """A harness node whose daemon, commands and HTTP live in namespace ns
    (test_network.fetch(node, name, ...) asks for <name>.localhost)."""

    def __init__(self, ns, *args, **kw):
        super().__init__(*args, prefix=netsim.ns_argv(ns, []), **kw)
        self.ns = ns

    def cli_argv(self, args):
        return netsim.ns_argv(self.ns, super().cli_argv(args))

    def http_connection(self, timeout=60):
        return netsim._NsHTTPConnection(self.ns, "127.0.0.1", self.gateway_port, timeout)


class Dnsmasq:
    """dnsmasq on the namespace's 127.0.0.1:53 with the given TXT records
    ({name: [text, ...]}) and TTL; it logs every query it gets."""

    def __init__(self, ns, workdir):
        self.ns = ns
        self.log = os.path.join(workdir, "dnsmasq.log")
        self.proc = None

    def start(self, records, ttl):
        self.stop()
        argv = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", "--local=/example/", "--local=/org/", "--listen-address=127.0.0.1", "--bind-interfaces",
                "--user=root", "--local-ttl=%d" % ttl, "--log-queries",
                "--log-facility=" + self.log]
        # One record per text (one --txt-record with several texts would be
        # one record of several strings, read joined).
        for name, texts in records.items():
            argv += ["--txt-record=%s,%s" % (name, text) for text in texts]
        before = len(self.read())
        self.proc = subprocess.Popen(netsim.ns_argv(self.ns, argv), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_for(lambda: "started" in self.read()[before:], 10), self.read()

    def queries(self, name):
        """How many TXT queries for name dnsmasq got so far."""
        return sum(1 for line in self.read().splitlines()
                   if "query[TXT] " + name + " " in line)

    def read(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


def check_redirect(node, host, address, path="/"):
    status, headers, body = fetch(node, host, path)
    assert status == 307, (host, status, body)
    want = "http://%s.localhost:%d%s" % (address, node.gateway_port, path)
    assert headers["location"] == want, (headers["location"], want)
    assert headers.get("cache-control") == "no-store", headers


def test_names():
    work = tempfile.mkdtemp(prefix="hostless-names-")
    ns = netsim.new_prefix() + "dns"
    node = dns = None
    try:
        netsim.add_namespace(ns)
        netsim.sh([netsim.IP, "-n", ns, "link", "set", "lo", "up"])
        node = NsNode(ns, BIN, os.path.join(work, "home"), 1).start()
        a, b = (node.run("publish", make_site(os.path.join(work, name), {
            "index.html": "<h1>%s</h1>" % name})).stdout.split()[0] for name in "ab")

        # Petnames: set, open, use in a command, clash, remove.
        node.run("name", "set", "Blog", a)
        check_redirect(node, "blog", a, "/x/y.html?q=1")
        assert fetch(node, a, "/")[0] == 200
        # In commands too (a node alone has nothing to ask: a short lookup).
        assert node.json("resolve", "blog", "--timeout", "1")["address"] == a
        clash = node.run("name", "set", "blog", b, check=False)
        assert clash.returncode == 1 and "--force" in clash.stderr, clash.stderr
        node.run("name", "set", "blog", b, "--force")
        check_redirect(node, "blog", b)
        listed = node.json("name", "list")
        assert listed == [{"name": "blog", "address": b, "kind": "petname",
                           "added": listed[0]["added"]}], listed
        status, _, body = fetch(node, "nosuchname", "/")
        assert status == 404 and b"hostless name set nosuchname" in body, (status, body)
        node.run("name", "rm", "blog")
        assert fetch(node, "blog", "/")[0] == 404

        # DNS names: _hostless.<name> TXT "hostless=<address>", cached for its TTL.
        dns = Dnsmasq(ns, work)
        ttl = 3
        dns.start({"_hostless.example.org": ["v=spf1 -all", "hostless=" + a],
                   "_hostless.two.example": ["hostless=" + a, "hostless=" + b]}, ttl)
        check_redirect(node, "example.org", a, "/index.html")
        assert dns.queries("_hostless.example.org") == 1
        # Another site's page: a frame or image is refused, a navigation asks
        # first; neither makes the node query DNS.
        cross = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate",
                 "Sec-Fetch-Dest": "document"}
        status, _, body = fetch(node, "other.example", "/", headers=cross)
        assert status == 403 and b"Open other.example?" in body, (status, body)
        status, _, _ = fetch(node, "other.example", "/", headers={
            "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors",
            "Sec-Fetch-Dest": "image"})
        assert status == 403
        assert dns.queries("_hostless.other.example") == 0
        # The record changes: the old answer stands until its TTL is over.
        changed = time.time()
        dns.start({"_hostless.example.org": ["hostless=" + b]}, ttl)
        check_redirect(node, "example.org", a)
        assert dns.queries("_hostless.example.org") == 1
        assert wait_for(lambda: fetch(node, "example.org", "/")[1].get("location", "").startswith(
            "http://%s." % b), ttl + 5), "the new record was not read after its TTL"
        assert time.time() - changed >= ttl - 1
        # No record, or two different sites: a clear error.
        status, _, body = fetch(node, "missing.example", "/")
        assert status == 404 and b"_hostless.missing.example" in body, (status, body)
        dns.start({"_hostless.two.example": ["hostless=" + a, "hostless=" + b]}, ttl)
        status, _, body = fetch(node, "two.example", "/")
        assert status == 400 and b"more than one" in body, (status, body)
        # DNS down: the visitor is told, and it is not cached.
        dns.stop()
        status, _, body = fetch(node, "down.example", "/")
        assert status == 504 and b"DNS did not answer" in body, (status, body)
    finally:
        if dns:
            dns.stop()
        if node:
            node.stop()
            if sys.exc_info()[0]:
                print(node.read_log()[-3000:])
        netsim.remove_namespaces([ns])
        shutil.rmtree(work, ignore_errors=True)


TESTS = {"test_names": test_names}

if __name__ == "__main__":
    BIN = os.path.abspath(sys.argv[1])
    TESTS[sys.argv[2]]()
    print("ok: " + sys.argv[2])
