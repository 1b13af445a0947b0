#!/usr/bin/python3
"""A peer that serves hostile metadata: python3-libtorrent loads hand-made info
dictionaries (paths with "..", absolute paths, links, a million files, ...)
and seeds them on 127.0.0.1, with the DHT off (the test tells its own DHT node
where this peer is).

libtorrent sanitises the paths it stores but keeps the info dictionary's
bytes as they are (their SHA-1 is the info-hash) and serves exactly those over
ut_metadata. Every file is renamed to a flat "f/<index>" here, so this peer
can hold any torrent's data whatever its paths say.

For each DIR/NAME.info (the bencoded info dictionary) it seeds; DIR/NAME.data,
when present, is the content of the torrent's files one after the other
(pad files excluded), written out before seeding. Prints "port N", then one
"torrent NAME INFOHASH FILES" line per torrent once it is checked, then
"ready"; runs until killed.

usage: hostile_seed.py DIR
"""
import hashlib
import os
import sys
import time

import libtorrent as lt

# Well above libtorrent's defaults, so this peer can load what a visitor's
# libtorrent will refuse (a million files, deep nesting).
LIMITS = {"max_buffer_size": 1 << 30, "max_pieces": 1 << 24,
          "max_decode_depth": 1 << 20, "max_decode_tokens": 1 << 30}


def main():
    spec = sys.argv[1]
    ses = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
    })
    deadline = time.time() + 30
    while ses.listen_port() == 0 and time.time() < deadline:
        time.sleep(0.05)
    print("port", ses.listen_port(), flush=True)
    handles = {}
    for entry in sorted(os.listdir(spec)):
        if not entry.endswith(".info"):
            continue
        name = entry[:-len(".info")]
        with open(os.path.join(spec, entry), "rb") as f:
            info = f.read()
        ti = lt.torrent_info(b"d4:info" + info + b"e", LIMITS)
        if bytes(ti.info_section()) != info or str(ti.info_hash()) != hashlib.sha1(info).hexdigest():
            print("error", name, "libtorrent changed the info dictionary", flush=True)
            return 1
        files = ti.files()
        store = os.path.join(spec, name + ".store")
        data_path = os.path.join(spec, name + ".data")
        data = open(data_path, "rb").read() if os.path.exists(data_path) else None
        offset = 0
        for i in range(files.num_files()):
            if files.file_flags(i) & lt.file_storage.flag_pad_file:
                continue
            ti.rename_file(i, "f/%d" % i)
            size = files.file_size(i)
            if data is not None and size > 0:  # (libtorrent makes empty files and links itself)
                os.makedirs(os.path.join(store, "f"), exist_ok=True)
                with open(os.path.join(store, "f", str(i)), "wb") as out:
                    out.write(data[offset:offset + size])
                offset += size
        # With its data written just now it needs no check (seed mode: a
        # piece is verified when first read).
        flags = lt.torrent_flags.seed_mode if data is not None else 0
        handles[name] = (ses.add_torrent({"ti": ti, "save_path": store, "flags": flags}),
                         str(ti.info_hash()))
    for name, (h, ih) in handles.items():
        deadline = time.time() + 300
        while h.status().state in (lt.torrent_status.checking_files,
                                   lt.torrent_status.checking_resume_data):
            if time.time() > deadline:
                print("error", name, "still checking its files after 300 s", flush=True)
                return 1
            time.sleep(0.1)
        if h.status().errc.value():
            print("error", name, h.status().errc.message(), flush=True)
            return 1
        print("torrent", name, ih, h.torrent_file().num_files(), flush=True)
    print("ready", flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
