#!/usr/bin/python3
"""A non-hostless seeder: python3-libtorrent seeds a .torrent from DATA_DIR on
127.0.0.1, joins the loopback DHT through BOOTSTRAP_PORT and announces there.
Prints "ready" once seeding, then runs until killed.

usage: lt_seed.py TORRENT DATA_DIR BOOTSTRAP_PORT
"""
import sys
import time

import libtorrent as lt


def loopback_session(boot, **extra):
    """A python3-libtorrent session on 127.0.0.1 whose DHT knows only the
    node at BOOTSTRAP_PORT `boot`; `extra` adds or overrides settings."""
    settings = {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": True, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "dht_bootstrap_nodes": "",
        "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
        "allow_multiple_connections_per_ip": True,
        "dht_announce_interval": 5,
    }
    settings.update(extra)
    ses = lt.session(settings)
    ses.add_dht_node(("127.0.0.1", boot))
    return ses


def wait_seeding(h):
    """Waits until `h` seeds, then prints "ready"; False (and prints the
    error) if it stops with one first."""
    while not h.status().is_seeding:
        if h.status().errc.value():
            print("error", h.status().errc.message(), flush=True)
            return False
        time.sleep(0.1)
    print("ready", flush=True)
    return True


def main():
    torrent, data, boot = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ses = loopback_session(boot)
    h = ses.add_torrent({"ti": lt.torrent_info(torrent), "save_path": data})
    if not wait_seeding(h):
        return 1
    while True:
        h.force_dht_announce()
        time.sleep(3)


if __name__ == "__main__":
    sys.exit(main())
