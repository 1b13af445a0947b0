#!/usr/bin/env python3
"""Fails (exit 1, one line per offence) when a file under src/ includes a
hostless header of a layer above its own, another layer's detail/ header, or
libtorrent from a layer that must not see it. Run by meson on every build (a
stamp target), so a layer that reaches upward does not build.

usage: check_layers.py SRC_DIR STAMP_FILE
"""
import os
import re
import sys

# Lowest first: each folder may include itself and the folders before it.
LAYERS = ["util", "protocol", "store", "content", "feed", "node", "sites", "gateway", "cli"]
# The only layers that may include libtorrent: the gateway never links it.
LIBTORRENT = {"content", "node", "sites"}

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^">]+)[">]', re.M)


def offences(src):
    for layer in LAYERS:
        rank = LAYERS.index(layer)
        top = os.path.join(src, layer)
        for dirpath, _, names in os.walk(top):
            for name in sorted(names):
                if not name.endswith((".cpp", ".hpp")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, src)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                for target in INCLUDE.findall(text):
                    head = target.split("/")[0]
                    if head in LAYERS and LAYERS.index(head) > rank:
                        yield "%s includes %s: %s/ may include only %s" % (
                            rel, target, layer, ", ".join(LAYERS[:rank + 1]))
                    if "/detail/" in target and head in LAYERS and head != layer:
                        yield "%s includes %s: a folder's detail/ is its own" % (rel, target)
                    if head == "libtorrent" and layer not in LIBTORRENT:
                        yield "%s includes %s: only %s may include libtorrent" % (
                            rel, target, ", ".join(sorted(LIBTORRENT)))


def main():
    src, stamp = sys.argv[1], sys.argv[2]
    found = list(offences(src))
    for line in found:
        print("layer check: " + line, file=sys.stderr)
    if found:
        return 1
    with open(stamp, "w") as f:
        f.write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
