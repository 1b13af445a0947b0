"""Drives a real qbittorrent-nox (Debian) through its Web API, on 127.0.0.1 only.

DHT, LSD, PeX, UPnP and trackers are off, so the only peers it ever talks to
are the ones a test hands it with add_peers().
"""
import json
import os
import subprocess
import urllib.parse
import urllib.request
import uuid

from harness import free_port, stop_process, wait_for

CONFIG = """[LegalNotice]
Accepted=true

[BitTorrent]
Session\\AddTrackersEnabled=false
Session\\AnonymousModeEnabled=false
Session\\DHTEnabled=false
Session\\LSDEnabled=false
Session\\PeXEnabled=false
Session\\Port={peer_port}
Session\\InterfaceAddress=127.0.0.1

[Preferences]
Connection\\UPnP=false
General\\Locale=en
WebUI\\Address=127.0.0.1
WebUI\\LocalHostAuth=false
WebUI\\Port={web_port}
WebUI\\CSRFProtection=false
WebUI\\HostHeaderValidation=false
"""


class QBittorrent:
    def __init__(self, profile):
        self.profile = profile
        self.web_port = free_port()
        self.peer_port = free_port()
        conf_dir = os.path.join(profile, "qBittorrent", "config")
        os.makedirs(conf_dir, exist_ok=True)
        with open(os.path.join(conf_dir, "qBittorrent.conf"), "w") as f:
            f.write(CONFIG.format(peer_port=self.peer_port, web_port=self.web_port))
        self.log = open(os.path.join(profile, "qbittorrent.log"), "ab")
        self.proc = subprocess.Popen(
            ["qbittorrent-nox", "--profile=" + profile,
             "--webui-port=%d" % self.web_port],
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        if not wait_for(lambda: self.proc.poll() is not None or self._up(), 30):
            raise RuntimeError("qbittorrent-nox did not start")
        if self.proc.poll() is not None:
            raise RuntimeError("qbittorrent-nox exited with %d" % self.proc.returncode)

    def _url(self, path):
        return "http://127.0.0.1:%d/api/v2/%s" % (self.web_port, path)

    def _up(self):
        try:
            return self.get("app/version") is not None
        except OSError:
            return False

    def get(self, path, **params):
        url = self._url(path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read().decode()

    def post(self, path, **fields):
        data = urllib.parse.urlencode(fields).encode()
        with urllib.request.urlopen(self._url(path), data=data, timeout=10) as r:
            return r.read().decode()

    def add_torrent(self, torrent_path, save_path):
        """Adds a .torrent file (multipart upload, as the web UI does)."""
        boundary = uuid.uuid4().hex
        with open(torrent_path, "rb") as f:
            blob = f.read()
        parts = [
            b"--" + boundary.encode(),
            b'Content-Disposition: form-data; name="torrents"; filename="site.torrent"',
            b"Content-Type: application/x-bittorrent", b"", blob,
            b"--" + boundary.encode(),
            b'Content-Disposition: form-data; name="savepath"', b"", save_path.encode(),
            b"--" + boundary.encode() + b"--", b""]
        req = urllib.request.Request(
            self._url("torrents/add"), data=b"\r\n".join(parts),
            headers={"Content-Type": "multipart/form-data; boundary=" + boundary})
        with urllib.request.urlopen(req, timeout=10) as r:
            reply = r.read().decode()
        if reply.strip() != "Ok.":
            raise RuntimeError("qBittorrent refused the torrent: " + reply)

    def torrents(self):
        return json.loads(self.get("torrents/info"))

    def add_peers(self, torrent_hash, peers):
        self.post("torrents/addPeers", hashes=torrent_hash, peers="|".join(peers))

    def close(self):
        stop_process(self.proc, 20)
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
