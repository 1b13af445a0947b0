#!/usr/bin/python3
"""An independent BEP 46 reader: python3-libtorrent resolves a hostless site's
pointer on a loopback DHT and prints JSON {seq, info_hash}.

usage: bep46_resolve.py PUBKEY_HEX BOOTSTRAP_PORT [TIMEOUT_S]
"""
import json
import re
import sys
import time

import libtorrent as lt


def main():
    key_hex, boot_port = sys.argv[1], int(sys.argv[2])
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 20.0
    ses = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": True,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "dht_bootstrap_nodes": "127.0.0.1:%d" % boot_port,
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "alert_mask": lt.alert.category_t.dht_notification | lt.alert.category_t.status_notification,
    })
    ses.add_dht_node(("127.0.0.1", boot_port))
    key = bytes.fromhex(key_hex)
    deadline = time.time() + timeout
    best = None
    # Wait until the DHT has a node or two, then look up; repeat until an
    # authoritative answer arrives.
    next_lookup = time.time() + 1.0
    while time.time() < deadline:
        if time.time() >= next_lookup:
            ses.dht_get_mutable_item(key, b"")
            next_lookup = time.time() + 3.0
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            if isinstance(a, lt.dht_mutable_item_alert) and a.key == key and a.salt in ("", b""):
                # Debian's binding cannot convert the item (a bytes-keyed
                # dict) to Python, so read it from the alert's text, where
                # libtorrent prints binary strings as hex.
                m = re.search(r"'ih': '([0-9a-f]{40})'", a.message())
                if m and (best is None or a.seq > best[0]):
                    best = (a.seq, m.group(1))
                if a.authoritative and best is not None:
                    print(json.dumps({"seq": best[0], "info_hash": best[1]}))
                    return 0
    if best is not None:
        print(json.dumps({"seq": best[0], "info_hash": best[1]}))
        return 0
    print("not found", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
