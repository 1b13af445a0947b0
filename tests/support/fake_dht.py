"""A DHT node the test controls, for hostile-input tests: raw KRPC over UDP on
127.0.0.1 that answers BEP 44 `get` queries with whatever items the test hands
it (bad signatures, other keys, oversized or malformed values: things a real
libtorrent node verifies before storing, so only a hand-made node can serve
them), and BEP 5 `get_peers` from what peers announced to it. It is the whole
DHT of the nodes that bootstrap to it.

Also: a bencoder that can splice pre-encoded bytes (Raw) so values can be
non-canonical on purpose, a decoder, BEP 44 signing with libsodium (through
ctypes: hostless itself links libsodium, so nothing else to install) and the
z-base32 site address of a key.
"""
import ctypes
import ctypes.util
import hashlib
import os
import socket
import struct
import threading


class Raw(bytes):
    """Bytes that bencode() copies verbatim (already bencoded)."""


def bencode(x):
    if isinstance(x, Raw):
        return bytes(x)
    if isinstance(x, bool):
        raise TypeError("bool")
    if isinstance(x, int):
        return b"i%de" % x
    if isinstance(x, str):
        x = x.encode()
    if isinstance(x, (bytes, bytearray)):
        return b"%d:%s" % (len(x), bytes(x))
    if isinstance(x, list):
        return b"l" + b"".join(bencode(i) for i in x) + b"e"
    if isinstance(x, dict):
        items = sorted(((k.encode() if isinstance(k, str) else k), v) for k, v in x.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(type(x))


def bdecode(data):
    """Decodes one bencoded value (dict keys and strings as bytes)."""
    value, end = _decode(data, 0)
    if end != len(data):
        raise ValueError("trailing bytes")
    return value


def _decode(d, i):
    c = d[i:i + 1]
    if c == b"i":
        end = d.index(b"e", i)
        return int(d[i + 1:end]), end + 1
    if c == b"l":
        out, i = [], i + 1
        while d[i:i + 1] != b"e":
            v, i = _decode(d, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        out, i = {}, i + 1
        while d[i:i + 1] != b"e":
            k, i = _decode(d, i)
            out[k], i = _decode(d, i)
        return out, i + 1
    if c.isdigit():
        colon = d.index(b":", i)
        n = int(d[i:colon])
        return d[colon + 1:colon + 1 + n], colon + 1 + n
    raise ValueError("bad bencoding at %d" % i)


# --- ed25519 (libsodium) ---------------------------------------------------

_sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
if _sodium.sodium_init() < 0:
    raise RuntimeError("libsodium did not initialise")


class Key:
    """An ed25519 key in libsodium's form; `seed` is what hostless key files hold."""

    def __init__(self, seed=None):
        self.seed = seed or os.urandom(32)
        pk = ctypes.create_string_buffer(32)
        sk = ctypes.create_string_buffer(64)
        _sodium.crypto_sign_seed_keypair(pk, sk, self.seed)
        self.public = pk.raw
        self._secret = sk.raw

    def sign(self, message):
        sig = ctypes.create_string_buffer(64)
        _sodium.crypto_sign_detached(sig, None, message, ctypes.c_ulonglong(len(message)),
                                     self._secret)
        return sig.raw

    def sign_item(self, seq, value, salt=b""):
        """The BEP 44 signature of a mutable item; `value` is bencoded bytes."""
        buf = b""
        if salt:
            buf += b"4:salt%d:%s" % (len(salt), salt)
        buf += b"3:seqi%de1:v" % seq + value
        return self.sign(buf)

    def address(self):
        return zbase32(self.public)

    def write_key_file(self, path):
        """A file `hostless keys import` reads."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("hostless-key-v1\n%s\n" % self.seed.hex())
        return path


def zbase32(data):
    alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769"
    bits = "".join("{:08b}".format(b) for b in data)
    bits += "0" * (-len(bits) % 5)
    return "".join(alphabet[int(bits[i:i + 5], 2)] for i in range(0, len(bits), 5))


def pointer_value(info_hash_hex):
    """The BEP 46 value {"ih": <20 bytes>}, bencoded."""
    return bencode({"ih": bytes.fromhex(info_hash_hex)})


def item(key, seq, value, sig=None, as_key=None):
    """A mutable item as FakeDht serves it: signed by `key` unless `sig` is
    given; `as_key` claims another public key ("k") than the signer's."""
    return {"k": (as_key or key).public, "seq": seq, "v": value,
            "sig": sig if sig is not None else key.sign_item(seq, value)}


# --- the node ----------------------------------------------------------------

def compact(ip, port):
    return socket.inet_aton(ip) + struct.pack(">H", port)


class FakeDht:
    """Answers KRPC on 127.0.0.1:port from a thread until close().

    items: {target (20 bytes): item dict or None} -- what `get` returns;
    peers: {info-hash (20 bytes): set of (ip, port)} -- filled by announce_peer;
    served: {target: number of get replies that carried an item}.
    """

    def __init__(self, port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.id = os.urandom(20)
        self.lock = threading.Lock()
        self.items = {}
        self.peers = {}
        self.served = {}
        self.queries = {}
        self.puts = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def target(public_key, salt=b""):
        return hashlib.sha1(public_key + salt).digest()

    def serve(self, public_key, it):
        """From now on `get` for this key's target answers with `it` (None: nothing)."""
        with self.lock:
            self.items[self.target(public_key)] = it

    def served_count(self, public_key):
        with self.lock:
            return self.served.get(self.target(public_key), 0)

    def add_peer(self, info_hash_hex, port, ip="127.0.0.1"):
        with self.lock:
            self.peers.setdefault(bytes.fromhex(info_hash_hex), set()).add((ip, port))

    def close(self):
        self._stop = True
        self._thread.join(5)
        self.sock.close()

    def _run(self):
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                reply = self._handle(bdecode(data), addr)
            except Exception:  # a packet we don't understand: ignore it, like a node would
                continue
            if reply is not None:
                try:
                    self.sock.sendto(reply, addr)
                except OSError:
                    pass

    def _handle(self, msg, addr):
        if msg.get(b"y") != b"q":
            return None
        t, q, a = msg[b"t"], msg[b"q"], msg.get(b"a", {})
        with self.lock:
            self.queries[q] = self.queries.get(q, 0) + 1
        r = {"id": self.id}
        if q in (b"ping", b"find_node"):
            if q == b"find_node":
                r["nodes"] = b""
        elif q == b"get_peers":
            r["token"] = b"tok"
            with self.lock:
                peers = sorted(self.peers.get(a[b"info_hash"], ()))
            if peers:
                r["values"] = [compact(ip, port) for ip, port in peers]
            else:
                r["nodes"] = b""
        elif q == b"announce_peer":
            port = addr[1] if a.get(b"implied_port") else a[b"port"]
            with self.lock:
                self.peers.setdefault(a[b"info_hash"], set()).add((addr[0], port))
        elif q == b"get":
            r["token"] = b"tok"
            r["nodes"] = b""
            with self.lock:
                it = self.items.get(a[b"target"])
                if it is not None:
                    self.served[a[b"target"]] = self.served.get(a[b"target"], 0) + 1
            if it is not None:
                r.update({"k": it["k"], "seq": it["seq"], "sig": it["sig"], "v": Raw(it["v"])})
        elif q == b"put":
            with self.lock:
                self.puts.append(a)
        else:
            return bencode({"t": t, "y": "e", "e": [204, "Method Unknown"]})
        return bencode({"t": t, "y": "r", "r": r})
