"""A BitTorrent peer that only serves metadata: the handshake, the extension
handshake (BEP 10) and ut_metadata (BEP 9) over plain TCP on 127.0.0.1, for
info dictionaries no real client will load (libtorrent refuses a v2 file tree
more than 100 levels deep even when told to load anything) or that are too
big to load cheaply (a million files). Any bytes can be served: a peer checks
only that their SHA-1 is the info-hash it asked for.

    peer = MetadataPeer({info_hash_hex: info_bytes, ...})
    ... peer.port ...; peer.requests[info_hash_hex] counts pieces asked for
    peer.close()
"""
import hashlib
import socket
import struct
import threading

from fake_dht import bdecode, bencode

BLOCK = 16 * 1024
UT_METADATA_ID = 3  # the id we ask peers to use for ut_metadata messages to us


class MetadataPeer:
    def __init__(self, infos):
        self.infos = {bytes.fromhex(ih): info for ih, info in infos.items()}
        for ih, info in self.infos.items():
            assert hashlib.sha1(info).digest() == ih, "info-hash does not match its bytes"
        self.requests = {}
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self):
        self._stop = True
        self._thread.join(5)
        self.sock.close()

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.settimeout(30)
            self._session(conn)
        except (OSError, ValueError, KeyError, struct.error):
            pass  # the visitor hung up, or spoke something else (an encrypted handshake)
        finally:
            conn.close()

    @staticmethod
    def _read(conn, n):
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise OSError("closed")
            buf += chunk
        return buf

    @staticmethod
    def _message(msg_id, payload):
        return struct.pack(">IB", len(payload) + 1, msg_id) + payload

    def _session(self, conn):
        hs = self._read(conn, 68)
        if hs[:20] != b"\x13BitTorrent protocol":
            return
        ih = hs[28:48]
        info = self.infos.get(ih)
        if info is None:
            return
        reserved = bytearray(8)
        reserved[5] |= 0x10  # BEP 10 extension protocol
        conn.sendall(b"\x13BitTorrent protocol" + bytes(reserved) + ih + b"-HLTEST-" +
                     b"0" * 12)
        conn.sendall(self._message(20, b"\x00" + bencode(
            {"m": {"ut_metadata": UT_METADATA_ID}, "metadata_size": len(info)})))
        their_id = None
        while not self._stop:
            (length,) = struct.unpack(">I", self._read(conn, 4))
            if length == 0:
                continue  # keep-alive
            body = self._read(conn, length)
            if body[0] != 20:
                continue  # bitfield, interested, ...: nothing to answer
            if body[1] == 0:
                their_id = bdecode(body[2:]).get(b"m", {}).get(b"ut_metadata")
                continue
            if body[1] != UT_METADATA_ID or their_id is None:
                continue
            req = bdecode(body[2:])
            if req.get(b"msg_type") != 0:
                continue
            piece = req[b"piece"]
            with self.lock:
                key = ih.hex()
                self.requests[key] = self.requests.get(key, 0) + 1
            head = bencode({"msg_type": 1, "piece": piece, "total_size": len(info)})
            conn.sendall(self._message(20, bytes([their_id]) + head +
                                       info[piece * BLOCK:(piece + 1) * BLOCK]))
