"""Test harness: real hostless daemons as processes on 127.0.0.1.

Each node gets its own home and ports, runs with --lan --no-lsd (so peers are
found through the DHT, not multicast) and bootstraps to the first node. Every
process is stopped when the harness is closed, also when a test fails.
"""
import errno
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def wait_for(pred, timeout, interval=0.05):
    """Polls pred() until it returns a truthy value or timeout seconds pass;
    returns its last value."""
    deadline = time.time() + timeout
    while True:
        value = pred()
        if value or time.time() >= deadline:
            return value
        time.sleep(interval)
        interval = min(interval * 2, 0.5)


def read_text(path):
    """A file's text (undecodable bytes replaced), "" if it cannot be read:
    for logs of processes that may not have written one."""
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def stop_process(proc, timeout=10, sig=signal.SIGTERM):
    """Sends sig to a running Popen and waits for it; kills it if it is still
    there after timeout seconds."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def make_site(path, files):
    """Writes {relative path: str or bytes} under path; returns path."""
    for rel, content in files.items():
        p = os.path.join(path, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode())
    return path


def _taken_on_ipv6_loopback(port):
    """True if [::1]:port is in use (False too on a host without IPv6)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", port))
        return False
    except OSError as e:
        return e.errno == errno.EADDRINUSE


# The daemon refuses to run as root unless told; tests run as root here (and
# in CI) to make network namespaces.
ROOT_FLAG = ["--allow-root"] if os.geteuid() == 0 else []
NOBODY = 65534  # the uid and gid unprivileged test daemons run as


def free_port():
    """A TCP and UDP port free on 127.0.0.1 (and TCP on [::1], where a
    loopback gateway listens too) right now."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
        except OSError:
            continue
        if not _taken_on_ipv6_loopback(port):
            return port


class Api:
    """A node's control API called directly, as the CLI calls it, so that a
    test or a benchmark can start many jobs and watch them without a CLI
    process each. Paths are relative to /api/v1/."""

    def __init__(self, node):
        with open(os.path.join(node.home, "api-token")) as f:
            self.token = f.read().strip()
        self.port = node.gateway_port
        self.node = node

    def call(self, method, path, body=None, timeout=120):
        """(HTTP status, parsed JSON body or None)."""
        c = self.node.http_connection(timeout=timeout)
        try:
            headers = {"Host": "localhost", "Authorization": "Bearer " + self.token}
            data = None
            if body is not None:
                data = json.dumps(body)
                headers["Content-Type"] = "application/json"
            c.request(method, "/api/v1/" + path, body=data, headers=headers)
            r = c.getresponse()
            payload = r.read()
            return r.status, (json.loads(payload) if payload else None)
        finally:
            c.close()

    def start(self, path, body):
        """Starts a job (publish, mirror); its id."""
        status, j = self.call("POST", path, body)
        if status != 202:
            raise RuntimeError("%s answered %d: %s" % (path, status, j))
        return j["job"]

    def job(self, job_id):
        """The job's state as the API reports it."""
        return self.call("GET", "jobs/" + job_id)[1]

    def run(self, path, body, timeout=900):
        """Starts a job and waits for its end: its result, or raises."""
        job_id = self.start(path, body)
        deadline = time.monotonic() + timeout
        interval = 0.02
        while time.monotonic() < deadline:
            j = self.job(job_id)
            if j["state"] == "done":
                return j["result"]
            if j["state"] == "failed":
                raise RuntimeError("%s failed: %s" % (job_id, j.get("error")))
            time.sleep(interval)
            interval = min(interval * 1.5, 0.5)
        raise RuntimeError("%s did not end within %d s" % (job_id, timeout))


class Node:
    def __init__(self, binary, home, index, bootstrap_port=None, extra=(), prefix=()):
        """prefix: a command the daemon runs under, e.g. setpriv to drop root."""
        self.binary = binary
        self.prefix = list(prefix)
        self.home = home
        self.index = index
        self.peer_port = free_port()
        self.gateway_port = free_port()
        self.bootstrap_port = bootstrap_port
        self.extra = list(extra)
        self.proc = None
        self.log_path = os.path.join(os.path.dirname(home), "node%d.log" % index)

    def daemon_argv(self):
        """The daemon's command line (netsim.NetNode runs it elsewhere)."""
        args = self.prefix + [self.binary, "--home", self.home, "daemon", "--lan", "--no-lsd",
                "--listen", "127.0.0.1:%d" % self.peer_port,
                "--gateway", "127.0.0.1:%d" % self.gateway_port] + ROOT_FLAG + self.extra
        if self.bootstrap_port:
            args += ["--bootstrap", "127.0.0.1:%d" % self.bootstrap_port]
        return args

    def cli_argv(self, args):
        """A hostless command against this node."""
        return [self.binary, "--home", self.home] + list(args)

    def http_connection(self, timeout=60):
        """An unopened HTTPConnection to this node's gateway."""
        return http.client.HTTPConnection("127.0.0.1", self.gateway_port, timeout=timeout)

    def start(self):
        args = self.daemon_argv()
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        ok = wait_for(lambda: os.path.exists(os.path.join(self.home, "daemon.json"))
                      or self.proc.poll() is not None, 20)
        if self.proc.poll() is not None or not ok:
            raise RuntimeError("node %d did not start:\n%s" % (self.index, self.read_log()))
        return self

    def read_log(self):
        return read_text(self.log_path)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc:
            stop_process(self.proc, timeout, sig)
        self.proc = None

    def run(self, *args, check=True, timeout=120):
        """Runs a hostless command against this node; returns CompletedProcess."""
        p = subprocess.run(self.cli_argv(args), capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError("hostless %s failed (%d):\n%s\n%s" %
                                 (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def json(self, *args, **kw):
        return json.loads(self.run(*(list(args) + ["--json"]), **kw).stdout)


class Cluster:
    """N daemons, node 1 being everyone's bootstrap."""

    def __init__(self, binary, n, extra=(), extra_for=None, unprivileged=False):
        """extra: daemon flags for every node; extra_for: {index: flags} for some.
        unprivileged: when run as root, the daemons run as nobody (setpriv), so
        file permissions bind them as they bind a user."""
        self.dir = tempfile.mkdtemp(prefix="hostless-it-")
        self.binary = binary
        self.nodes = []
        extra_for = extra_for or {}
        prefix = []
        if unprivileged and os.geteuid() == 0:
            os.chown(self.dir, NOBODY, NOBODY)
            prefix = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                      "--"]

        def node(i, bootstrap):
            home = os.path.join(self.dir, "n%d" % i)
            if prefix:
                os.makedirs(home, mode=0o700)
                os.chown(home, NOBODY, NOBODY)
            return Node(binary, home, i, bootstrap_port=bootstrap, prefix=prefix,
                        extra=list(extra) + extra_for.get(i, [])).start()

        first = node(1, None)
        self.nodes.append(first)
        for i in range(2, n + 1):
            self.nodes.append(node(i, first.peer_port))

        self.wait_dht()

    def wait_dht(self, timeout=60):
        """Waits until the DHT has formed: everyone knows someone, and the
        bootstrap node knows everyone (up to 8)."""
        n = len(self.nodes)

        def formed():
            counts = [node.json("status")["dht_nodes"] for node in self.nodes
                      if node.proc is not None]
            # (A routing table need not hold every node of a larger DHT:
            # buckets take 8.)
            return counts and min(counts) >= 1 and (n == 1 or counts[0] >= min(n - 1, 8))

        if n > 1 and not wait_for(formed, timeout):
            raise RuntimeError("the DHT did not form within %d s" % timeout)

    def __getitem__(self, i):  # 1-based, like the "node 6"
        return self.nodes[i - 1]

    def close(self, keep=False):
        for n in self.nodes:
            n.stop()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            for n in self.nodes:
                print("---- node %d log ----\n%s" % (n.index, n.read_log()[-4000:]))
        self.close()
