"""Helpers for fault tests (tests/integration/test_faults.py): crashing and
restarting daemons, the control API without the CLI, and catalog checks."""
import hashlib
import http.client
import json
import os
import signal
import sqlite3

from harness import wait_for


def long_run():
    """True for `scripts/test --long` (HOSTLESS_TEST_LONG=1): full figures."""
    return os.environ.get("HOSTLESS_TEST_LONG", "0") == "1"


def kill9(node):
    """SIGKILLs node's daemon: no shutdown code runs (no resume data, no
    daemon.json removal)."""
    node.proc.send_signal(signal.SIGKILL)
    node.proc.wait()
    node.proc = None
    node.log.close()


def start_after_crash(node, timeout=60):
    """Starts node again on the same home. A killed daemon leaves its
    daemon.json behind, which Node.start takes as "up": wait until the file
    names the new process and the API answers."""
    node.start()
    path = os.path.join(node.home, "daemon.json")

    def up():
        try:
            with open(path) as f:
                if json.load(f).get("pid") != node.proc.pid:
                    return False
        except (OSError, ValueError):
            return False
        return node.run("status", "--json", check=False).returncode == 0

    if not wait_for(up, timeout):
        raise RuntimeError("node %d did not come back:\n%s" % (node.index, node.read_log()[-3000:]))
    return node


def check_catalog(home, orphans=True):
    """Opens <home>/catalog.sqlite as a restarted daemon would (after a crash
    too: SQLite rolls its WAL forward) and returns a list of broken rules, with
    the sites and versions rows for the report:
    - the file passes PRAGMA integrity_check, schema version 6;
    - every site row has a valid role and a pointer at least as new as the
      version it serves; a published site has its key and folder;
    - a served version (sites.info_hash) has its folder in the store;
    - with `orphans`: a version row still in use (retire_at 0) is some site's
      served version. (A crash between a switch and the retiring of the old
      version may leave one, which the next start retires: check it on a
      running daemon's catalog, not on a crashed one.)"""
    problems = []
    db = sqlite3.connect(os.path.join(home, "catalog.sqlite"), timeout=30)
    try:
        integrity = db.execute("PRAGMA integrity_check").fetchall()
        if integrity != [("ok",)]:
            problems.append("integrity_check: %s" % integrity)
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version != 6:
            problems.append("schema version %d" % version)
        sites = db.execute("SELECT hex(address), role, key_name, folder, seq, hex(info_hash), "
                           "ptr_seq FROM sites").fetchall()
        versions = db.execute("SELECT hex(info_hash), hex(address), seq, bytes, retire_at "
                              "FROM versions").fetchall()
    finally:
        db.close()
    served = set()
    for addr, role, key, folder, seq, ih, ptr_seq in sites:
        if role not in ("published", "mirrored", "followed", "visited"):
            problems.append("site %s: role %r" % (addr, role))
        if ptr_seq < seq:
            problems.append("site %s: pointer seq %d below served seq %d" % (addr, ptr_seq, seq))
        if role == "published" and (not key or not folder or not ih):
            problems.append("published site %s without key, folder or version" % addr)
        if ih:
            served.add(ih.lower())
            if not os.path.isdir(os.path.join(home, "store", ih.lower())):
                problems.append("site %s serves %s, which is not in the store" % (addr, ih))
    for ih, addr, seq, size, retire_at in versions:
        if orphans and retire_at == 0 and ih.lower() not in served:
            problems.append("orphan version %s (seq %d, nobody serves it)" % (ih, seq))
    return problems, sites, versions


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def fetch(node, address, path, headers=None, timeout=180):
    """GET path from node's gateway as <address>.localhost; returns (status,
    body)."""
    c = http.client.HTTPConnection("127.0.0.1", node.gateway_port, timeout=timeout)
    h = {"Host": "%s.localhost:%d" % (address, node.gateway_port)}
    h.update(headers or {})
    c.request("GET", path, headers=h)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def tree_files(root):
    """{relative path: bytes} of every file under root."""
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = f.read()
    return out
