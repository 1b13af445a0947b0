#!/usr/bin/python3
"""The Debian package (docs/packaging.md) and the man page.

test_package: scripts/package packs the build the test was given; lintian
finds no error in the .deb; dpkg installs it into a fresh root (`dpkg
--root`: the files land where they belong, nothing runs chrooted), and the
installed binary, with the host's libraries, starts a site from the installed
templates, runs a daemon on 127.0.0.1, publishes the site and serves it
through its gateway; then dpkg removes it and leaves no file behind.

test_man_page: docs/hostless.1 names every command and subcommand `hostless
--help` lists, every global and daemon option, and renders without warnings.

usage: test_package.py HOSTLESS_BINARY TEST_NAME
"""
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, HERE)
from harness import Node  # noqa: E402
from test_network import fetch  # noqa: E402

BIN = None
SOURCE = os.path.normpath(os.path.join(HERE, "..", ".."))
MAN_SOURCE = os.path.join(SOURCE, "docs", "hostless.1")

# What the package must install (paths below the root).
PACKAGED = [
    "usr/bin/hostless",
    "usr/share/hostless/site-templates/minimal/index.html",
    "usr/share/bash-completion/completions/hostless",
    "usr/share/man/man1/hostless.1.gz",
    "usr/lib/systemd/user/hostless.service",
    "usr/share/doc/hostless/copyright",
    "usr/share/doc/hostless/changelog.gz",
]

COMPLETION_SCRIPT = """
source /usr/share/bash-completion/bash_completion
source "$1"
COMP_WORDS=(hostless new --template ""); COMP_CWORD=3; COMP_LINE="hostless new --template "
COMP_POINT=${#COMP_LINE}; COMPREPLY=(); _hostless; echo "${COMPREPLY[*]}"
"""


def run(argv, **kw):
    """Runs argv; returns its CompletedProcess, or raises with its output."""
    p = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       timeout=kw.pop("timeout", 120), **kw)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (" ".join(argv), p.returncode,
                                                         p.stdout, p.stderr))
    return p


def dpkg_root(root):
    """An empty dpkg database under root, as dpkg --root needs one."""
    admin = os.path.join(root, "var", "lib", "dpkg")
    for d in ["info", "updates", "triggers"]:
        os.makedirs(os.path.join(admin, d))
    for f in ["status", "available"]:
        open(os.path.join(admin, f), "w").close()
    flags = ["--root=" + root, "--log=/dev/null"]
    if os.geteuid() != 0:
        flags.append("--force-not-root")
    return flags


def check_unit(root, work):
    """The user unit runs the installed binary in the foreground; systemd
    accepts it (a copy pointing at the binary in root)."""
    with open(os.path.join(root, "usr/lib/systemd/user/hostless.service")) as f:
        unit = f.read()
    assert re.search(r"^ExecStart=/usr/bin/hostless daemon$", unit, re.M), unit
    assert re.search(r"^WantedBy=default.target$", unit, re.M), unit
    if shutil.which("systemd-analyze") is None:
        print("no systemd-analyze: the unit's syntax is not checked")
        return
    copy = os.path.join(work, "hostless.service")
    with open(copy, "w") as f:
        f.write(unit.replace("ExecStart=/usr/bin/", "ExecStart=%s/usr/bin/" % root))
    runtime = os.path.join(work, "runtime")
    os.makedirs(runtime, mode=0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=runtime,
               MANPATH=os.path.join(root, "usr", "share", "man"))
    p = run(["systemd-analyze", "verify", "--user", copy], env=env)
    assert p.stderr.strip() == "", p.stderr  # unknown keys are only warned about


def test_package():
    work = tempfile.mkdtemp(prefix="hostless-package-")
    node = None
    try:
        # The binary must find its templates beside itself, nowhere else.
        os.environ.pop("HOSTLESS_TEMPLATES", None)
        env = dict(os.environ, BUILD=os.path.dirname(BIN), OUT=os.path.join(work, "out"))
        out = run([os.path.join(SOURCE, "scripts", "package"), "--no-build"], env=env,
                  timeout=150).stdout.split()
        deb = out[-1]
        version = run([BIN, "--version"]).stdout.split()[-1]
        arch = run(["dpkg", "--print-architecture"]).stdout.strip()
        assert deb == os.path.join(work, "out", "hostless_%s_%s.deb" % (version, arch)), out
        assert os.listdir(os.path.join(work, "out")) == [os.path.basename(deb)]  # no staging left

        lint = subprocess.run(["lintian", "--fail-on", "error", deb], capture_output=True,
                              text=True, timeout=120)
        print("lintian:\n" + lint.stdout)
        assert lint.returncode == 0, (lint.stdout, lint.stderr)
        # Its dependencies are met here (what `apt install ./hostless_*.deb` checks).
        run(["apt-get", "--simulate", "install", deb])

        root = os.path.join(work, "root")
        dpkg = ["dpkg"] + dpkg_root(root)
        run(dpkg + ["--force-depends", "--install", deb])
        assert "Status: install ok installed" in run(dpkg + ["--status", "hostless"]).stdout
        listed = run(dpkg + ["--listfiles", "hostless"]).stdout.split("\n")
        for rel in PACKAGED:
            assert "/" + rel in listed, (rel, listed)
            assert os.path.isfile(os.path.join(root, rel)), rel

        exe = os.path.join(root, "usr", "bin", "hostless")
        assert run([exe, "--version"]).stdout.strip() == "hostless " + version
        sections = run(["readelf", "-S", "-W", exe]).stdout
        assert ".debug_info" not in sections and ".symtab" not in sections, "not stripped"
        with gzip.open(os.path.join(root, "usr/share/man/man1/hostless.1.gz"), "rt") as f:
            assert f.read() == open(MAN_SOURCE).read()
        check_unit(root, work)
        p = run(["bash", "-c", COMPLETION_SCRIPT, "bash",
                 os.path.join(root, "usr/share/bash-completion/completions/hostless")],
                env=dict(os.environ, PATH=os.path.dirname(exe) + ":" + os.environ["PATH"]))
        assert p.stdout.split() == ["blog", "docs", "feed", "minimal"], (p.stdout, p.stderr)

        # A site from the installed templates: a file only they hold (the
        # build's binary would also find the source tree's) proves the binary
        # looks beside itself.
        marker = os.path.join(root, "usr/share/hostless/site-templates/minimal/packaged.txt")
        with open(marker, "w") as f:
            f.write("from the package\n")
        site = os.path.join(work, "site")
        run([exe, "new", site])
        os.remove(marker)  # not the package's: dpkg would leave it behind
        assert os.path.isfile(os.path.join(site, "packaged.txt")), os.listdir(site)
        with open(os.path.join(site, "index.html"), "rb") as f:
            index = f.read()

        node = Node(exe, os.path.join(work, "home"), 1).start()
        address = node.run("publish", site).stdout.split()[0]
        status, headers, body = fetch(node, address, "/")
        assert status == 200 and body == index, (status, headers, body[:200])
        status, _, body = fetch(node, address, "/packaged.txt")
        assert status == 200 and body == b"from the package\n", (status, body)
        node.stop()
        node = None

        run(dpkg + ["--remove", "hostless"])
        left = [os.path.join(d, f) for d, _, files in os.walk(os.path.join(root, "usr"))
                for f in files]
        assert left == [], left
    finally:
        if node:
            print("---- daemon log ----\n" + node.read_log()[-4000:])
            node.stop()
        shutil.rmtree(work, ignore_errors=True)


def subcommands(argv):
    """The subcommands `argv --help` lists."""
    text = run(argv + ["--help"]).stdout
    if "\nSubcommands:\n" not in text:
        return []
    block = text.split("\nSubcommands:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in block.split("\n") if line.startswith("  ")]


def long_options(argv):
    """The --options `argv --help` lists (but --help)."""
    text = run(argv + ["--help"]).stdout
    found = re.findall(r"^\s+(?:-\w,)?--([a-z0-9-]+)", text, re.M)
    return sorted(set(found) - {"help"})


def test_man_page():
    with open(MAN_SOURCE) as f:
        man = f.read()
    missing = []
    commands = subcommands([BIN])
    assert "daemon" in commands and "publish" in commands, commands
    for cmd in commands:
        # Each command has an entry: a line `.B cmd ...`.
        if not re.search(r"^\.B %s(\s|$)" % re.escape(cmd), man, re.M):
            missing.append(cmd)
        for sub in subcommands([BIN, cmd]):
            if not re.search(r"\.B %s %s(\s|\\|$)" % (re.escape(cmd), re.escape(sub)), man):
                missing.append(cmd + " " + sub)
    for opt in long_options([BIN]) + long_options([BIN, "daemon"]):
        if "\\-\\-" + opt.replace("-", "\\-") not in man:
            missing.append("--" + opt)
    assert missing == [], "docs/hostless.1 lacks: " + ", ".join(missing)

    # Renders without warnings, as lintian checks it.
    env = dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80")
    p = run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", MAN_SOURCE], env=env)
    assert p.stderr == "", p.stderr
    print("man page: %d commands, all named" % len(commands))


TESTS = {"test_package": test_package, "test_man_page": test_man_page}

if __name__ == "__main__":
    BIN = os.path.abspath(sys.argv[1])
    TESTS[sys.argv[2]]()
    print("ok: " + sys.argv[2])
