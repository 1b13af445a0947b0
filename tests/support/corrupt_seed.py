#!/usr/bin/python3
"""A lying seeder: python3-libtorrent seeds a .torrent from DATA_DIR, where
some bytes were altered, and claims every piece (resume data, not seed mode:
in seed mode libtorrent checks each piece before its first upload and would
catch the damage). So it sends corrupted blocks for the right info-hash.

Joins the loopback DHT through BOOTSTRAP_PORT and announces there; with
--connect HOST:PORT it also dials that peer every second (while not connected).
Prints "ready" once seeding, then one JSON line a second:
  {"uploaded": payload bytes sent, "peers": connected peers,
   "connects": connections made, "closed": [reasons peers were dropped]}
Runs until killed.

usage: corrupt_seed.py TORRENT DATA_DIR BOOTSTRAP_PORT [--connect HOST:PORT]
"""
import json
import sys
import time

import libtorrent as lt

from lt_seed import loopback_session, wait_seeding


def main():
    torrent, data, boot = sys.argv[1], sys.argv[2], int(sys.argv[3])
    connect = None
    if "--connect" in sys.argv:
        host, port = sys.argv[sys.argv.index("--connect") + 1].rsplit(":", 1)
        connect = (host, int(port))
    ses = loopback_session(boot, alert_mask=lt.alert_category.connect | lt.alert_category.status
                           | lt.alert_category.error | lt.alert_category.peer)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = data
    # "I have it all": taken as resume data, never checked against the hashes.
    atp.have_pieces = [True] * atp.ti.num_pieces()
    atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
    h = ses.add_torrent(atp)
    if not wait_seeding(h):
        return 1
    connects, closed = 0, []
    next_report = 0.0
    while True:
        for a in ses.pop_alerts():
            if isinstance(a, lt.peer_connect_alert):
                connects += 1
            elif isinstance(a, lt.peer_disconnected_alert):
                closed.append(a.error.message())
        now = time.time()
        if now >= next_report:
            next_report = now + 1
            st = h.status()
            if connect and st.num_peers == 0:
                h.connect_peer(connect)
            h.force_dht_announce()
            print(json.dumps({"uploaded": st.total_payload_upload, "peers": st.num_peers,
                              "connects": connects, "closed": closed}), flush=True)
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
