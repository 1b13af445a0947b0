#include "node/push.hpp"

#include <boost/asio/post.hpp>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include <libtorrent/bdecode.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/extensions.hpp>
#include <libtorrent/hasher.hpp>
#include <libtorrent/peer_connection_handle.hpp>
#include <libtorrent/torrent_handle.hpp>

#include "node/detail/wire.hpp"

namespace hostless {

namespace {

// Our id for the message in our handshake's "m" (BEP 10: any 1-255 unused by
// our other extensions; libtorrent's own use 1-8).
constexpr int kLocalId = 47;
constexpr int kInfoLocalId = 48;
// Info dictionaries kept per peer until the pointer naming them arrives.
constexpr std::size_t kMaxPendingInfos = 2;
// A peer may push this many items a second; the rest are dropped unread (each
// costs a signature check).
constexpr int kMaxPushesPerSecond = 10;
// Highest seq known per key (Hub::known, PushPeer::seqs_) is forgotten past
// this many keys: a peer can sign items under keys of its own making.
constexpr std::size_t kMaxKnownKeys = 10000;

InfoHash info_hash_of(const lt::torrent_handle& th) {
  const lt::info_hash_t ih = th.info_hashes();  // lock-free: safe on any thread
  const lt::sha1_hash h = ih.has_v1() ? ih.v1 : ih.get_best();
  InfoHash::Bytes b{};
  std::memcpy(b.data(), h.data(), b.size());
  return InfoHash(b);
}

}  // namespace

class PushPeer;

// Everything below runs on libtorrent's network thread only (plugins are
// called there, and PushExtension posts its calls there), so nothing locks.
struct PushExtension::Hub {
  std::function<void(PushedPointer)> deliver;
  // Versions whose connections to push peers stay open.
  std::set<InfoHash> keep;
  struct Item {
    PublicKey key;
    std::int64_t seq = 0;
    std::string bytes;  // encode_item
    std::string info;   // the version's info dictionary, or empty
  };
  // The newest pointer pushed over each version, for peers that connect later.
  std::map<InfoHash, Item> latest;
  std::map<InfoHash, std::vector<std::weak_ptr<PushPeer>>> peers;
  // The highest seq of each key this node pushed or was pushed: a pointer is
  // delivered once, however many peers send it.
  std::map<PublicKey, std::int64_t> known;

  void note_known(const PublicKey& key, std::int64_t seq) {
    if (known.size() >= kMaxKnownKeys && !known.count(key)) known.clear();
    auto& k = known[key];
    k = std::max(k, seq);
  }
};

class PushPeer final : public lt::peer_plugin {
 public:
  PushPeer(lt::peer_connection_handle pc, InfoHash ih, std::shared_ptr<PushExtension::Hub> hub)
      : pc_(std::move(pc)), ih_(ih), hub_(std::move(hub)) {}

  lt::string_view type() const override { return PushExtension::kName; }

  void add_handshake(lt::entry& h) override {
    h["m"][PushExtension::kName] = kLocalId;
    h["m"][PushExtension::kInfoName] = kInfoLocalId;
  }

  bool on_extension_handshake(const lt::bdecode_node& h) override {
    if (h.type() != lt::bdecode_node::dict_t) return true;
    const lt::bdecode_node m = h.dict_find_dict("m");
    const std::int64_t id = m ? m.dict_find_int_value(PushExtension::kName, 0) : 0;
    remote_id_ = id > 0 && id < 256 ? static_cast<int>(id) : 0;
    const std::int64_t info_id = m ? m.dict_find_int_value(PushExtension::kInfoName, 0) : 0;
    remote_info_id_ = info_id > 0 && info_id < 256 ? static_cast<int>(info_id) : 0;
    const std::int64_t port = h.dict_find_int_value("p", 0);
    listen_port_ = port > 0 && port < 65536 ? static_cast<int>(port) : 0;
    if (auto it = hub_->latest.find(ih_); it != hub_->latest.end()) send(it->second);
    return true;
  }

  bool on_extended(int length, int msg, lt::span<const char> body) override {
    if (msg == kInfoLocalId) {
      if (length < 0 || static_cast<std::size_t>(length) > PushExtension::kMaxInfoSize ||
          body.size() < length) {
        return true;
      }
      if (++received_this_second_ > kMaxPushesPerSecond) return true;
      // Kept under the SHA-1 of its bytes, which a v1 or hybrid torrent's
      // info-hash is: only a pointer naming that hash takes it.
      const lt::sha1_hash h = lt::hasher(body).final();
      InfoHash::Bytes b{};
      std::memcpy(b.data(), h.data(), b.size());
      if (infos_.size() >= kMaxPendingInfos) infos_.clear();
      infos_[InfoHash(b)] = std::string(body.data(), static_cast<std::size_t>(body.size()));
      return true;
    }
    if (msg != kLocalId) return false;
    // Called again as each fragment arrives; act on the whole message only.
    if (length < 0 || static_cast<std::size_t>(length) > kMaxItemSize || body.size() < length) {
      return true;
    }
    if (++received_this_second_ > kMaxPushesPerSecond) return true;
    auto p = decode_item(std::string_view(body.data(), static_cast<std::size_t>(body.size())));
    if (!p) return true;  // checked like a DHT answer, and dropped like one
    if (seqs_.size() >= kMaxKnownKeys && !seqs_.count(p->key)) seqs_.clear();
    auto& seen = seqs_[p->key];
    seen = std::max(seen, p->seq);  // never sent back to this peer
    if (auto k = hub_->known.find(p->key); k != hub_->known.end() && k->second >= p->seq) {
      return true;
    }
    hub_->note_known(p->key, p->seq);
    PushedPointer out{*p, ih_, "", 0, ""};
    std::tie(out.from_host, out.from_port) = endpoint();
    if (auto info = infos_.find(p->value.ih); info != infos_.end()) {
      out.info = std::move(info->second);
      infos_.erase(info);
    }
    if (hub_->deliver) hub_->deliver(std::move(out));
    return true;
  }

  bool speaks_push() const { return remote_id_ != 0; }

  // Where the peer listens: the address it connected from and the port it
  // said in its handshake (or the one we connected to).
  std::pair<std::string, int> endpoint() const {
    const lt::tcp::endpoint remote = pc_.remote();
    const int port = pc_.is_outgoing() || listen_port_ == 0 ? remote.port() : listen_port_;
    return {remote.address().to_string(), port};
  }

  bool can_disconnect(const lt::error_code& ec) override {
    if (remote_id_ == 0 || !hub_->keep.count(ih_)) return true;
    const bool idle =
        ec == lt::errors::torrent_finished || ec == lt::errors::upload_upload_connection ||
        ec == lt::errors::uninteresting_upload_peer || ec == lt::errors::timed_out_inactivity;
    return !idle;
  }

  void tick() override { received_this_second_ = 0; }

  // Sends `item` unless this peer has it (it sent it, or was sent it).
  void send(const PushExtension::Hub::Item& item) {
    if (remote_id_ == 0) return;
    auto& seen = seqs_[item.key];
    if (seen >= item.seq) return;
    seen = item.seq;
    std::string msg;
    // The metadata first, so that it is there when the pointer arrives.
    if (remote_info_id_ != 0 && !item.info.empty()) append_message(msg, remote_info_id_, item.info);
    append_message(msg, remote_id_, item.bytes);
    wire::append_flush_padding(msg);  // or it may wait for the next message
    pc_.send_buffer(msg.data(), static_cast<int>(msg.size()));
  }

 private:
  lt::peer_connection_handle pc_;
  InfoHash ih_;
  std::shared_ptr<PushExtension::Hub> hub_;
  // A BEP 10 extended message: length, 20, the peer's id for it, body.
  static void append_message(std::string& msg, int id, const std::string& body) {
    wire::append_u32(msg, static_cast<std::uint32_t>(2 + body.size()));
    msg += static_cast<char>(20);
    msg += static_cast<char>(id);
    msg += body;
  }

  int remote_id_ = 0;       // the peer's id for the message; 0: it does not speak it
  int remote_info_id_ = 0;  // the same for kInfoName
  int listen_port_ = 0;
  int received_this_second_ = 0;
  std::map<PublicKey, std::int64_t> seqs_;  // highest seq this peer has, by key
  std::map<InfoHash, std::string> infos_;   // info dictionaries it sent, by SHA-1
};

namespace {

class PushTorrent final : public lt::torrent_plugin {
 public:
  PushTorrent(InfoHash ih, std::shared_ptr<PushExtension::Hub> hub)
      : ih_(ih), hub_(std::move(hub)) {}
  ~PushTorrent() override {
    hub_->keep.erase(ih_);
    hub_->latest.erase(ih_);
    hub_->peers.erase(ih_);
  }
  std::shared_ptr<lt::peer_plugin> new_connection(const lt::peer_connection_handle& pc) override {
    auto peer = std::make_shared<PushPeer>(pc, ih_, hub_);
    auto& list = hub_->peers[ih_];
    std::erase_if(list, [](const auto& w) { return w.expired(); });
    list.push_back(peer);
    return peer;
  }

 private:
  InfoHash ih_;
  std::shared_ptr<PushExtension::Hub> hub_;
};

}  // namespace

PushExtension::PushExtension(std::function<void(PushedPointer)> deliver)
    : hub_(std::make_shared<Hub>()) {
  hub_->deliver = std::move(deliver);
}

PushExtension::~PushExtension() = default;

void PushExtension::attach(lt::session& session) {
  session_ = &session;
  session.add_extension([hub = hub_](const lt::torrent_handle& th, lt::client_data_t) {
    return std::make_shared<PushTorrent>(info_hash_of(th), hub);
  });
}

void PushExtension::push(const InfoHash& ih, const SignedPointer& pointer, std::string info) {
  if (!session_) return;
  if (info.size() > kMaxInfoSize) info.clear();
  Hub::Item item{pointer.key, pointer.seq, encode_item(pointer), std::move(info)};
  boost::asio::post(session_->get_context(), [hub = hub_, ih, item = std::move(item)] {
    hub->note_known(item.key, item.seq);
    auto& latest = hub->latest[ih];
    if (latest.bytes.empty() || latest.key != item.key || latest.seq < item.seq) latest = item;
    auto it = hub->peers.find(ih);
    if (it == hub->peers.end()) return;
    for (const auto& w : it->second) {
      if (auto peer = w.lock()) peer->send(item);
    }
  });
}

std::vector<std::pair<std::string, int>> PushExtension::peers(const InfoHash& ih) {
  if (!session_) return {};
  auto found = std::make_shared<std::promise<std::vector<std::pair<std::string, int>>>>();
  auto future = found->get_future();
  boost::asio::post(session_->get_context(), [hub = hub_, ih, found] {
    std::vector<std::pair<std::string, int>> out;
    if (auto it = hub->peers.find(ih); it != hub->peers.end()) {
      for (const auto& w : it->second) {
        if (auto peer = w.lock(); peer && peer->speaks_push()) out.push_back(peer->endpoint());
      }
    }
    found->set_value(std::move(out));
  });
  if (future.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return {};
  return future.get();
}

void PushExtension::keep(const InfoHash& ih) {
  if (!session_) return;
  boost::asio::post(session_->get_context(), [hub = hub_, ih] { hub->keep.insert(ih); });
}

}  // namespace hostless
