// Pointer push (docs/microblog.md, "Push"): a BEP 10 extension message,
// "hostless_pointer", that carries one whole signed BEP 44 item (encode_item)
// between the peers of a site's version, so a new version reaches the nodes
// holding the old one in one round trip instead of at their next DHT lookup.
// Node-internal: Node's push_pointer / keep_push_peers / on_pushed_pointer
// are the interface.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <libtorrent/session.hpp>

#include "protocol/pointer.hpp"

namespace hostless {

// A pointer a peer pushed, already checked like a DHT answer (decode_item):
// the version it arrived over, and where to reach the sender (its listen
// port when it said one). `info`: the new version's info dictionary (its
// metadata), when the sender sent it just before: its SHA-1 is the
// pointer's info-hash (checked), so no peer need be asked for it.
struct PushedPointer {
  SignedPointer pointer;
  InfoHash via;
  std::string from_host;
  int from_port = 0;
  std::string info;
};

class PushExtension {
 public:
  // `deliver` runs on libtorrent's network thread: it must not block.
  explicit PushExtension(std::function<void(PushedPointer)> deliver);
  ~PushExtension();
  PushExtension(const PushExtension&) = delete;
  PushExtension& operator=(const PushExtension&) = delete;

  // Registers the extension with `session` (before any torrent is added).
  void attach(lt::session& session);
  // Sends `pointer` to every peer of version `ih` that speaks the extension
  // and has not sent or been sent this seq or a higher one; remembered, so a
  // peer that connects later gets it after its handshake. Does not block.
  // `info`: the new version's info dictionary (bencoded), sent first to
  // peers that speak kInfoName, or empty.
  void push(const InfoHash& ih, const SignedPointer& pointer, std::string info);
  // Keeps this version's connections to peers that speak the extension open
  // also when both ends hold all of it (libtorrent closes those as
  // redundant) and when idle: pushes travel over them. Does not block.
  void keep(const InfoHash& ih);
  // Where to reach the peers of version `ih` that speak the extension (host,
  // listen port): a new version's first peers. Blocks briefly on libtorrent's
  // thread: never call it there.
  std::vector<std::pair<std::string, int>> peers(const InfoHash& ih);

  // The extension's name in the BEP 10 handshake's "m" dictionary.
  static constexpr const char* kName = "hostless_pointer";
  // The second one: the info dictionary of the version a pointer that
  // follows names (docs/microblog.md, "Push").
  static constexpr const char* kInfoName = "hostless_info";
  // Larger info dictionaries are not sent (a feed's is about 2 KB): the
  // receiver asks peers for them (BEP 9) as before.
  static constexpr std::size_t kMaxInfoSize = 32 * 1024;

  struct Hub;  // the plugins' shared state (push.cpp)

 private:
  std::shared_ptr<Hub> hub_;
  lt::session* session_ = nullptr;
};

}  // namespace hostless
