#include "node/node.hpp"
#include "util/log.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <libtorrent/alert_types.hpp>
#include <libtorrent/bdecode.hpp>
#include <libtorrent/bencode.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/extensions.hpp>
#include <libtorrent/extensions/ut_metadata.hpp>
#include <libtorrent/extensions/ut_pex.hpp>
#include <libtorrent/ip_filter.hpp>
#include <libtorrent/peer_connection.hpp>
#include <libtorrent/peer_connection_handle.hpp>
#include <libtorrent/peer_info.hpp>
#include <libtorrent/read_resume_data.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/session_params.hpp>
#include <libtorrent/session_stats.hpp>
#include <libtorrent/settings_pack.hpp>
#include <libtorrent/write_resume_data.hpp>

#include "node/poll.hpp"
#include "node/push.hpp"
#include "util/encoding.hpp"
#include "util/files.hpp"

namespace hostless {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
// Node::announce_now's budget.
constexpr double kAnnounceBurst = 8;
constexpr double kAnnouncesPerSecond = 1;

namespace {

std::string ih_hex(const lt::sha1_hash& h) {
  return to_hex(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(h.data()), h.size()));
}

// The 20 bytes a torrent is known by here: its v1 info-hash, or its v2 one
// truncated when it has no v1 (what session::find_torrent also accepts).
lt::sha1_hash key_hash(const lt::info_hash_t& ih) {
  return ih.has_v1() ? ih.v1 : ih.get_best();
}

std::string ih_key(const lt::info_hash_t& ih) {
  return ih_hex(key_hash(ih));
}

// True if `a` is an address of one of this machine's interfaces (so no NAT
// stands between this node and the DHT nodes that saw it).
bool is_own_address(const lt::address& a) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return false;
  bool own = false;
  for (ifaddrs* i = list; i != nullptr && !own; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    if (i->ifa_addr->sa_family == AF_INET && a.is_v4()) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      own = ntohl(in->sin_addr.s_addr) == a.to_v4().to_uint();
    } else if (i->ifa_addr->sa_family == AF_INET6 && a.is_v6()) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      own = std::memcmp(in6->sin6_addr.s6_addr, a.to_v6().to_bytes().data(), 16) == 0;
    }
  }
  freeifaddrs(list);
  return own;
}

// With close_redundant_connections, libtorrent drops a connection neither end
// wants anything from. That is right between two whole copies of a site: a
// node mirroring hundreds of sites otherwise keeps an idle connection per
// site to each other seed, and at libtorrent's connections_limit (200) it
// could connect to no one (seen: a mirror stuck at 200 sites, each new one
// waiting minutes for an idle connection to time out). But a visited site
// wants only what was asked for, so between two assets of a page it is
// "finished" too, and dropping its seeds then left the next asset nowhere to
// come from. So a connection is redundant here only when both ends hold the
// whole site.
//
// It also turns Nagle's algorithm off on TCP peer connections, which
// libtorrent 2.0 leaves on: a 17-byte piece request then waited for the
// ACK of the one before (Linux delays ACKs by up to 40 ms), and each asset
// of a page being visited took 30-80 ms over loopback where uTP took 1-5.
// (Runs on libtorrent's network thread, like all plugins.)
class PeerPolicy final : public lt::torrent_plugin {
 public:
  std::shared_ptr<lt::peer_plugin> new_connection(const lt::peer_connection_handle& pc) override {
    return std::make_shared<Peer>(pc, seeding_);
  }
  void on_state(lt::torrent_status::state_t s) override {
    *seeding_ = s == lt::torrent_status::seeding;
  }

 private:
  class Peer final : public lt::peer_plugin {
   public:
    Peer(lt::peer_connection_handle pc, std::shared_ptr<bool> seeding)
        : pc_(std::move(pc)), seeding_(std::move(seeding)) {
      no_delay();  // an incoming connection is connected by now
    }
    void on_connected() override { no_delay(); }
    bool can_disconnect(const lt::error_code& ec) override {
      const bool redundant = ec == lt::errors::torrent_finished ||
                             ec == lt::errors::upload_upload_connection ||
                             ec == lt::errors::uninteresting_upload_peer;
      return !redundant || (*seeding_ && pc_.is_seed());
    }

   private:
    // UBSan's vptr check of this call would need libtorrent's type info for
    // peer_connection, which the shared library does not export.
    __attribute__((no_sanitize("vptr"))) void no_delay() {
      if (auto connection = pc_.native_handle()) {
        lt::error_code ignored;  // (uTP has no such option: a no-op)
        connection->get_socket().set_option(lt::tcp::no_delay(true), ignored);
      }
    }

    lt::peer_connection_handle pc_;
    std::shared_ptr<bool> seeding_;
  };

  std::shared_ptr<bool> seeding_ = std::make_shared<bool>(false);
};

}  // namespace

std::string format_endpoints(const std::vector<std::pair<std::string, int>>& endpoints) {
  std::string out;
  for (const auto& [host, port] : endpoints) {
    if (!out.empty()) out += ",";
    out += (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
           std::to_string(port);
  }
  return out;
}

Result<std::vector<std::pair<std::string, int>>> parse_endpoints(const std::string& text) {
  std::vector<std::pair<std::string, int>> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? text.size() + 1 : comma + 1;
    if (item.empty()) continue;
    std::size_t colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == item.size()) {
      return make_error("bad endpoint '" + item + "': expected HOST:PORT", ErrorKind::kInvalid);
    }
    std::string host = item.substr(0, colon);
    if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    int port = 0;
    for (char c : item.substr(colon + 1)) {
      if (c < '0' || c > '9' || port > 65535) {
        return make_error("bad port in '" + item + "': expected a number 1-65535");
      }
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) return make_error("bad port in '" + item + "': 1-65535");
    out.emplace_back(host, port);
  }
  if (out.empty()) return make_error("no endpoints given: expected HOST:PORT[,HOST:PORT...]");
  return out;
}

constexpr const char* kShuttingDown = "the node is shutting down";

// Every site torrent stays active: libtorrent's queueing (auto-managed
// torrents, at most a few active downloads) would otherwise pause a visit's
// torrent right after its metadata arrived, with a reader waiting on it.
void keep_active(lt::add_torrent_params& params) {
  params.flags &= ~lt::torrent_flags::auto_managed;
  params.flags &= ~lt::torrent_flags::paused;
}

struct Node::Impl {
  NodeOptions options;
  std::unique_ptr<lt::session> session;
  std::unique_ptr<PushExtension> push;
  std::unique_ptr<ItemPoller> poller;  // Node::poll_pointer (node/poll.hpp)
  std::thread thread;

  std::mutex mutex;  // guards everything below
  std::condition_variable wake;
  bool alerts_pending = false;
  bool stopping = false;
  bool cancelled = false;  // cancel_waits(): every wait fails at once
  std::deque<std::function<void()>> tasks;
  std::function<void(const PushedPointer&)> on_pushed;  // on_pushed_pointer()

  struct GetLookup {
    std::optional<SignedPointer> best;
    Clock::time_point started;
    Clock::time_point deadline;
    std::chrono::milliseconds settle{0};  // 0: wait for the authoritative answer
    // While nothing is found, another lookup starts at `retry_at`: soon after
    // one ends empty, kMaxRetry after the last one started even if that one
    // has not ended (one unresponsive node among the closest keeps a lookup
    // open for libtorrent's 15 s RPC timeout: a publisher behind a NAT is
    // one to itself), and at once when an empty routing table fills.
    Clock::time_point retry_at;
    std::chrono::milliseconds backoff{kFirstRetry};
    int lookups = 1;
    bool retry = true;       // false: an empty authoritative answer ends it
    int nodes_at_start = 0;  // routing table size when the last lookup began
    std::vector<std::promise<Result<SignedPointer>>> waiters;
  };
  // A lookup that found nothing on a DHT still forming (a node just started,
  // or a name published a moment ago) is retried after 0.5 s, then 1, 2 and
  // every 4 s: an answer that appears within the timeout is found, and a
  // missing name costs at most one lookup per 4 s (a few dozen packets).
  static constexpr std::chrono::milliseconds kFirstRetry{500};
  static constexpr std::chrono::milliseconds kMaxRetry{4000};
  std::map<PublicKey, GetLookup> gets;

  struct PutRequest {
    SignedPointer pointer;
    Clock::time_point deadline;
    std::vector<std::promise<Result<int>>> waiters;
    // The highest seq the put's lookup found in the DHT (0: none), written
    // on libtorrent's thread by the put callback.
    std::shared_ptr<std::atomic<std::int64_t>> found_seq =
        std::make_shared<std::atomic<std::int64_t>>(0);
  };
  // Keyed by (key, seq): concurrent puts of different versions are separate
  // requests, each completed by its own dht_put_alert.
  std::map<std::pair<PublicKey, std::int64_t>, PutRequest> puts;

  struct TorrentWait {
    lt::torrent_handle handle;
    TorrentCheck check;
    Clock::time_point deadline;
    // When `check` last saw a status. libtorrent's state updates name only
    // torrents that changed: one stopped by an error or stalled without
    // peers sends none, so such a wait is looked at every kStaleWait.
    Clock::time_point checked;
    std::promise<Status> promise;
  };
  static constexpr std::chrono::seconds kStaleWait{1};
  // How often torrent states (what torrent waits look at), DHT stats and the
  // session's counters are asked of libtorrent.
  static constexpr std::chrono::milliseconds kUpdateInterval{250};
  Clock::time_point next_updates;  // node thread only
  std::vector<std::unique_ptr<TorrentWait>> torrent_waits;

  struct Periodic {
    std::chrono::milliseconds interval;
    Clock::time_point next;
    std::function<void()> fn;
  };
  std::vector<Periodic> periodics;

  // Resume-data bookkeeping, touched only on the node thread.
  int outstanding_resume = 0;
  std::condition_variable resume_done;

  std::uint64_t piece_events = 0;  // guarded by mutex
  std::condition_variable piece_done;

  std::atomic<int> dht_nodes{0};
  // Payload bytes since the daemon started, from libtorrent's session
  // counters: a torrent's own counters start again whenever it is paused
  // and resumed (as when a disk or hybrid-hash error is cleared).
  std::atomic<std::int64_t> received{0}, sent{0}, received_failed{0}, received_twice{0};
  std::atomic<std::int64_t> dht_in{0}, dht_out{0};
  bool debug_log = std::getenv("HOSTLESS_DEBUG_DHT") != nullptr;
  std::atomic<int> listen_port{0};
  Reachability reach;  // guarded by mutex
  // Node::announce_now's budget (guarded by announce_mutex).
  std::mutex announce_mutex;
  double announce_tokens = kAnnounceBurst;
  Clock::time_point announce_refilled = Clock::now();
  // DHT items refused by get lookups, by key, seq and signature: each is
  // logged once, not once per lookup. Node thread only.
  std::set<std::string> refused_items;

  fs::path resume_dir() const { return options.home / "resume"; }
  fs::path session_file() const { return options.home / "session.dat"; }

  void post(std::function<void()> fn) {
    {
      std::lock_guard lock(mutex);
      tasks.push_back(std::move(fn));
    }
    wake.notify_all();
  }

  void run();
  void handle_alert(lt::alert* a);
  // Logs (once per item) why a DHT item for `key` is not a pointer we accept.
  void refuse_item(const PublicKey& key, const lt::dht_mutable_item_alert& m,
                   const std::string& why);
  void check_deadlines();
  // Starts a DHT lookup of `key`'s item (empty salt); the answers come as
  // dht_mutable_item_alerts. Never blocks.
  void get_item(const PublicKey& key) {
    std::array<char, 32> k;
    std::memcpy(k.data(), key.bytes().data(), k.size());
    session->dht_get_item(k, std::string());
  }
  // Ends a lookup: its waiters get the best item, or an error saying how long
  // and how often it looked. Called with `mutex` held.
  void finish_get(std::map<PublicKey, GetLookup>::iterator it);
  void save_dht_state();
  void request_resume_data(bool all);
};

void Node::Impl::run() {
  auto next_save = Clock::now() + options.save_interval;
  auto next_rebootstrap = Clock::now() + std::chrono::seconds(5);
  next_updates = Clock::now();
  while (true) {
    std::deque<std::function<void()>> todo;
    {
      std::unique_lock lock(mutex);
      auto wait =
          std::clamp(std::chrono::ceil<std::chrono::milliseconds>(next_updates - Clock::now()),
                     std::chrono::milliseconds(1), kUpdateInterval);
      for (const auto& [key, g] : gets) {  // wake for the next lookup deadline or retry too
        auto next = g.best ? g.deadline : std::min(g.deadline, g.retry_at);
        auto left = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now());
        wait = std::clamp(left, std::chrono::milliseconds(1), wait);
      }
      wake.wait_for(lock, wait, [&] { return alerts_pending || !tasks.empty() || stopping; });
      if (stopping && tasks.empty()) break;
      alerts_pending = false;
      todo.swap(tasks);
    }
    for (auto& t : todo) t();
    std::vector<lt::alert*> alerts;
    session->pop_alerts(&alerts);
    for (lt::alert* a : alerts) {
      try {
        handle_alert(a);
      } catch (const std::exception& e) {
        LogLine(LogLevel::kError) << "error handling " << a->what() << ": " << e.what();
      }
    }
    check_deadlines();
    auto now = Clock::now();
    for (auto& p : periodics) {
      if (now >= p.next) {
        p.next = now + p.interval;
        try {
          p.fn();
        } catch (const std::exception& e) {
          LogLine(LogLevel::kError) << "periodic task failed: " << e.what();
        }
      }
    }
    if (now >= next_rebootstrap) {
      // A node that lost every contact (its bootstrap node restarted, say)
      // starts over from the configured nodes.
      next_rebootstrap = now + std::chrono::seconds(5);
      if (dht_nodes == 0) {
        for (const auto& ep : options.bootstrap) session->add_dht_node(ep);
      }
    }
    if (now >= next_save) {
      next_save = now + options.save_interval;
      request_resume_data(false);
      save_dht_state();
    }
    // Asked for on a clock, not on every pass: each answer is an alert that
    // wakes this loop, so asking on every pass kept the node and libtorrent's
    // thread busy answering each other (70% of a core per idle daemon).
    if (now >= next_updates) {
      next_updates = now + kUpdateInterval;
      session->post_torrent_updates();
      session->post_dht_stats();
      session->post_session_stats();
    }
  }
}

void Node::Impl::refuse_item(const PublicKey& key, const lt::dht_mutable_item_alert& m,
                             const std::string& why) {
  // A lookup sees the same item again on every refresh and from every node
  // holding it; one line per item is enough (and bounded: a flood of distinct
  // items can't grow this set without limit).
  std::string id(reinterpret_cast<const char*>(key.bytes().data()), key.bytes().size());
  id += std::to_string(m.seq) + ":";
  id.append(m.signature.data(), m.signature.size());
  if (refused_items.size() >= 10000) refused_items.clear();
  if (!refused_items.insert(std::move(id)).second) return;
  LogLine(LogLevel::kWarning) << "refusing a DHT item for " << SiteAddress(key).str() << " (seq "
                              << m.seq << "): " << why;
}

void Node::Impl::handle_alert(lt::alert* a) {
  if (poller && poller->on_alert(a)) return;
  if (debug_log && (lt::alert_cast<lt::peer_disconnected_alert>(a) ||
                    lt::alert_cast<lt::peer_connect_alert>(a) ||
                    lt::alert_cast<lt::metadata_received_alert>(a))) {
    LogLine(LogLevel::kDebug) << "[peer] " << a->message();
  }
  if (debug_log && (a->category() & (lt::alert_category::dht_log | lt::alert_category::dht)) &&
      !lt::alert_cast<lt::dht_pkt_alert>(a)) {
    LogLine(LogLevel::kDebug) << "[dht] " << a->message();
  }
  // A torrent that got its metadata or all it wanted, or changed state, is
  // one a torrent wait may be waiting on: its status is asked for now, not at
  // the next tick (up to 250 ms more for each stage of a cold visit). These
  // come from the swarm, not from asking, so they cannot make the loop spin.
  if (lt::alert_cast<lt::metadata_received_alert>(a) ||
      lt::alert_cast<lt::torrent_finished_alert>(a) || lt::alert_cast<lt::state_changed_alert>(a)) {
    next_updates = Clock::now();
  }
  if (auto* m = lt::alert_cast<lt::dht_mutable_item_alert>(a)) {
    PublicKey::Bytes kb;
    std::memcpy(kb.data(), m->key.data(), kb.size());
    PublicKey key(kb);
    std::lock_guard lock(mutex);
    auto it = gets.find(key);
    if (it == gets.end()) return;
    if (m->salt.empty() && m->item.type() != lt::entry::undefined_t) {
      std::string value;
      lt::bencode(std::back_inserter(value), m->item);
      auto pv = PointerValue::decode(value);
      if (!pv) {
        refuse_item(key, *m, pv.error().message);
      } else {
        SignedPointer sp;
        sp.key = key;
        sp.seq = m->seq;
        sp.value = *pv;
        std::memcpy(sp.signature.data(), m->signature.data(), sp.signature.size());
        // libtorrent verified the signature over the bytes it received;
        // verify again over our canonical re-encoding so what we keep is
        // exactly what we can re-put and check later.
        const bool valid = sp.verify();
        if (!valid) {
          refuse_item(key, *m,
                      "its signature does not cover the canonical encoding of its value "
                      "(non-canonical bencoding)");
        }
        if (valid && (!it->second.best || sp.seq > it->second.best->seq)) {
          if (!it->second.best && it->second.settle.count() > 0) {
            // An answer is in hand: take what else arrives within the settle
            // time rather than waiting for unresponsive nodes to time out.
            it->second.deadline = std::min(it->second.deadline, Clock::now() + it->second.settle);
          }
          it->second.best = sp;
        }
      }
    }
    if (m->authoritative) {
      if (!it->second.best && it->second.retry && Clock::now() < it->second.deadline) {
        // Nothing found yet: look again after a pause instead of giving up
        // with most of the caller's time left.
        GetLookup& g = it->second;
        g.retry_at = std::min(g.retry_at, Clock::now() + g.backoff);
        g.backoff = std::min(g.backoff * 2, kMaxRetry);
        return;
      }
      finish_get(it);
    }
    return;
  }
  if (auto* p = lt::alert_cast<lt::dht_put_alert>(a)) {
    PublicKey::Bytes kb;
    std::memcpy(kb.data(), p->public_key.data(), kb.size());
    std::lock_guard lock(mutex);
    auto it = puts.find({PublicKey(kb), p->seq});
    if (it == puts.end()) return;
    const std::int64_t found = it->second.found_seq->load();
    for (auto& w : it->second.waiters) {
      if (p->num_success > 0) {
        w.set_value(p->num_success);
      } else if (found > p->seq) {
        w.set_value(make_error(
            "the DHT holds seq " + std::to_string(found) + " of this name, newer than seq " +
                std::to_string(p->seq) +
                " signed here, and nodes keep the highest seq (was it published from another "
                "device with the same key?)",
            ErrorKind::kRefused));
      } else {
        w.set_value(
            make_error("no DHT node accepted the pointer (is the node connected to "
                       "the DHT? check `hostless status`)",
                       ErrorKind::kUnavailable));
      }
    }
    puts.erase(it);
    return;
  }
  // A peer that sends data failing the hash check: libtorrent drops the
  // piece and bans a peer that was its only source (or that keeps failing).
  // Said once per event, so a corrupt or malicious swarm shows in the log.
  if (auto* f = lt::alert_cast<lt::hash_failed_alert>(a)) {
    LogLine(LogLevel::kWarning) << f->torrent_name() << ": piece "
                                << static_cast<int>(f->piece_index)
                                << " failed its hash check; it is downloaded again";
    return;
  }
  if (auto* r = lt::alert_cast<lt::dht_get_peers_reply_alert>(a)) {
    // Only announce_now() asks: each peer found is a tracker's word.
    // (find_torrent waits for libtorrent's thread: safe here, outside the
    // node mutex its alert notification takes.)
    lt::torrent_handle h = session->find_torrent(r->info_hash);
    if (!h.is_valid()) return;
    for (const auto& ep : r->peers()) h.connect_peer(ep, lt::peer_info::tracker);
    return;
  }
  if (auto* b = lt::alert_cast<lt::peer_ban_alert>(a)) {
    LogLine(LogLevel::kWarning) << b->torrent_name() << ": banned peer " << b->endpoint
                                << " (it sent data that failed the hash check)";
    return;
  }
  if (lt::alert_cast<lt::piece_finished_alert>(a)) {
    {
      std::lock_guard lock(mutex);
      ++piece_events;
    }
    piece_done.notify_all();
    return;
  }
  if (auto* s = lt::alert_cast<lt::session_stats_alert>(a)) {
    static const int kReceived = lt::find_metric_idx("net.recv_payload_bytes");
    static const int kSent = lt::find_metric_idx("net.sent_payload_bytes");
    static const int kFailed = lt::find_metric_idx("net.recv_failed_bytes");
    static const int kTwice = lt::find_metric_idx("net.recv_redundant_bytes");
    static const int kDhtIn = lt::find_metric_idx("dht.dht_bytes_in");
    static const int kDhtOut = lt::find_metric_idx("dht.dht_bytes_out");
    const auto c = s->counters();
    const auto at = [&](int i) { return i >= 0 ? c[i] : std::int64_t(0); };
    received = at(kReceived);
    sent = at(kSent);
    received_failed = at(kFailed);
    received_twice = at(kTwice);
    dht_in = at(kDhtIn);
    dht_out = at(kDhtOut);
    return;
  }
  if (auto* s = lt::alert_cast<lt::dht_stats_alert>(a)) {
    int n = 0;
    for (const auto& b : s->routing_table) n += b.num_nodes;
    dht_nodes = n;
    return;
  }
  if (lt::alert_cast<lt::incoming_connection_alert>(a)) {
    std::lock_guard lock(mutex);
    ++reach.incoming_connections;
    reach.last_incoming = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    return;
  }
  if (auto* m = lt::alert_cast<lt::portmap_alert>(a)) {
    std::lock_guard lock(mutex);
    reach.port_mapping =
        std::string(m->map_transport == lt::portmap_transport::upnp ? "UPnP" : "NAT-PMP") +
        ": external port " + std::to_string(m->external_port) +
        (m->map_protocol == lt::portmap_protocol::tcp ? "/TCP" : "/UDP");
    reach.mapping_error.clear();
    return;
  }
  if (auto* m = lt::alert_cast<lt::portmap_error_alert>(a)) {
    std::lock_guard lock(mutex);
    reach.mapping_error =
        std::string(m->map_transport == lt::portmap_transport::upnp ? "UPnP" : "NAT-PMP") + ": " +
        m->error.message();
    return;
  }
  if (auto* e = lt::alert_cast<lt::external_ip_alert>(a)) {
    std::lock_guard lock(mutex);
    reach.external_address = e->external_address.to_string();
    reach.behind_nat = !is_own_address(e->external_address);
    return;
  }
  if (auto* l = lt::alert_cast<lt::listen_succeeded_alert>(a)) {
    if (l->socket_type == lt::socket_type_t::tcp) listen_port = l->port;
    return;
  }
  if (auto* r = lt::alert_cast<lt::save_resume_data_alert>(a)) {
    auto buf = lt::write_resume_data_buf(r->params);
    std::error_code ec;
    fs::create_directories(resume_dir(), ec);
    write_file_atomic(resume_dir() / (ih_key(r->params.info_hashes) + ".resume"),
                      std::string_view(buf.data(), buf.size()));
    std::lock_guard lock(mutex);
    --outstanding_resume;
    resume_done.notify_all();
    return;
  }
  if (lt::alert_cast<lt::save_resume_data_failed_alert>(a)) {
    std::lock_guard lock(mutex);
    --outstanding_resume;
    resume_done.notify_all();
    return;
  }
  if (auto* u = lt::alert_cast<lt::state_update_alert>(a)) {
    std::lock_guard lock(mutex);
    for (auto& w : torrent_waits) {
      if (!w) continue;
      for (const auto& st : u->status) {
        if (st.handle != w->handle) continue;
        w->checked = Clock::now();
        if (auto r = w->check(st)) {
          w->promise.set_value(*r);
          w.reset();
        }
        break;
      }
    }
    std::erase(torrent_waits, nullptr);
    return;
  }
}

void Node::Impl::finish_get(std::map<PublicKey, GetLookup>::iterator it) {
  GetLookup& g = it->second;
  for (auto& w : g.waiters) {
    if (g.best) {
      w.set_value(*g.best);
      continue;
    }
    const auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - g.started);
    std::string why = "no pointer found in the DHT after " + format_seconds(waited) + " (" +
                      std::to_string(g.lookups) + (g.lookups == 1 ? " lookup" : " lookups");
    if (dht_nodes == 0) {
      why +=
          "; this node has not joined the DHT yet: it knows no other node. Check its "
          "network, or give it a node to start from with --bootstrap HOST:PORT)";
    } else {
      why += " over " + std::to_string(dht_nodes) + " known DHT nodes)";
    }
    w.set_value(make_error(why, dht_nodes == 0 ? ErrorKind::kUnavailable : ErrorKind::kNotFound));
  }
  gets.erase(it);
}

void Node::Impl::check_deadlines() {
  if (poller) poller->check_deadlines();
  auto now = Clock::now();
  std::unique_lock lock(mutex);
  std::vector<PublicKey> again;
  for (auto it = gets.begin(); it != gets.end();) {
    GetLookup& g = it->second;
    if (now >= g.deadline) {
      finish_get(it++);
      continue;
    }
    // Nothing yet: look again when due (see GetLookup::retry_at), or at once
    // when the routing table that was empty at the last look has nodes now.
    if (!g.best && g.retry && (now >= g.retry_at || (g.nodes_at_start == 0 && dht_nodes > 0))) {
      g.retry_at = now + kMaxRetry;
      ++g.lookups;
      g.nodes_at_start = dht_nodes;
      again.push_back(it->first);
    }
    ++it;
  }
  for (auto it = puts.begin(); it != puts.end();) {
    if (now < it->second.deadline) {
      ++it;
      continue;
    }
    for (auto& w : it->second.waiters) {
      w.set_value(make_error("storing the pointer in the DHT timed out", ErrorKind::kUnavailable));
    }
    it = puts.erase(it);
  }
  // Waits to look at now: out of the list while they are looked at, since
  // status() waits for libtorrent's thread, which takes `mutex` to post an
  // alert (holding it here would deadlock).
  std::vector<std::unique_ptr<TorrentWait>> look;
  for (auto& w : torrent_waits) {
    if (w && !w->handle.is_valid()) {
      // Removed meanwhile (a refused or freed version): no update will come.
      w->promise.set_value(make_error("the torrent was removed"));
      w.reset();
      continue;
    }
    // One that sent no update lately, or one last look before giving up.
    if (w && (now >= w->deadline || now - w->checked >= kStaleWait)) look.push_back(std::move(w));
  }
  std::erase(torrent_waits, nullptr);
  lock.unlock();
  for (const auto& key : again) get_item(key);
  for (auto& w : look) {
    std::optional<Status> r;
    try {
      r = w->check(w->handle.status());
    } catch (const std::exception&) {
      r = make_error("the torrent was removed");  // between is_valid() and status()
    }
    w->checked = now;
    if (!r && now >= w->deadline) r = make_error("timed out", ErrorKind::kUnavailable);
    if (r) {
      w->promise.set_value(*r);
      w.reset();
    }
  }
  lock.lock();
  for (auto& w : look) {
    if (!w) continue;
    if (cancelled) {
      w->promise.set_value(make_error(kShuttingDown, ErrorKind::kShuttingDown));
    } else {
      torrent_waits.push_back(std::move(w));
    }
  }
}

void Node::Impl::save_dht_state() {
  lt::session_params params = session->session_state(lt::session::save_dht_state);
  auto buf = lt::write_session_params_buf(params, lt::session::save_dht_state);
  write_file_atomic(session_file(), std::string_view(buf.data(), buf.size()));
}

void Node::Impl::request_resume_data(bool all) {
  for (const auto& h : session->get_torrents()) {
    if (!h.is_valid()) continue;
    lt::torrent_status st = h.status({});
    if (!st.has_metadata) continue;
    if (!all && !h.need_save_resume_data()) continue;
    {
      std::lock_guard lock(mutex);
      ++outstanding_resume;
    }
    h.save_resume_data(lt::torrent_handle::save_info_dict);
  }
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Node>> Node::start(NodeOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  const NodeOptions& o = impl->options;

  lt::session_params params;
  if (auto buf = read_file(impl->session_file())) {
    try {
      params = lt::read_session_params(*buf, lt::session::save_dht_state);
    } catch (const std::exception&) {
      params = lt::session_params();  // a damaged state file only costs a re-bootstrap
    }
  }
  lt::settings_pack& s = params.settings;
  s.set_str(lt::settings_pack::user_agent, "hostless/0.1.0");
  s.set_str(lt::settings_pack::peer_fingerprint, "-HL0010-");
  s.set_str(lt::settings_pack::listen_interfaces, o.listen);
  // A port in use is an error the user must see, not a silent random port.
  s.set_bool(lt::settings_pack::listen_system_port_fallback, false);
  s.set_int(lt::settings_pack::max_retry_port_bind, 0);
  s.set_bool(lt::settings_pack::enable_dht, true);
  s.set_bool(lt::settings_pack::enable_lsd, o.local_discovery);
  s.set_bool(lt::settings_pack::enable_upnp, !o.lan);
  s.set_bool(lt::settings_pack::enable_natpmp, !o.lan);
  s.set_int(lt::settings_pack::alert_mask,
            lt::alert_category::error | lt::alert_category::status | lt::alert_category::storage |
                lt::alert_category::dht | lt::alert_category::dht_operation |
                lt::alert_category::port_mapping | lt::alert_category::piece_progress |
                lt::alert_category::peer |
                (impl->debug_log ? lt::alert_category::connect : lt::alert_category_t{}));
  s.set_int(lt::settings_pack::alert_queue_size, 10000);
  // Outgoing connections over TCP: libtorrent's uTP spends a system call and
  // its congestion control on every 1.4 KB packet, and on this machine moved
  // 256 MiB in 26 s where TCP took 2.7 s (two plain sessions over loopback).
  // Incoming uTP is still accepted, for peers that offer nothing else. The
  // simulated internet agrees (200 nodes, ~100 ms RTT, 20/2 Mbit/s home
  // lines; docs/benchmarks.md "internet"): with outgoing uTP, 16 visitors of
  // a publisher took 341 s instead of 31 (uTP's delay-based congestion
  // control yields to the queue of each visitor's uplink, so visitors barely
  // serve each other) and a whole page 1.54 s instead of 1.17; it won only
  // for one visitor over a lossy path (1.37x the bound against 2.27x), and no
  // hole punching (BEP 55) came of it behind a plain NAT.
  s.set_bool(lt::settings_pack::enable_outgoing_utp, false);
  // Deeper send and disk-write queues than libtorrent's defaults (500 KiB and
  // 1 MiB), as in its high-performance seed preset: a fast peer is not left
  // waiting between two refills (256 MiB over loopback: 2.8 s, now 2.1 s).
  s.set_int(lt::settings_pack::send_buffer_watermark, 4 << 20);
  s.set_int(lt::settings_pack::send_buffer_low_watermark, 1 << 20);
  s.set_int(lt::settings_pack::max_queued_disk_bytes, 8 << 20);
  // Seed-to-seed connections are closed; PeerPolicy (added below) keeps
  // those of a visited site that holds only part of it.
  s.set_bool(lt::settings_pack::close_redundant_connections, true);
  // A visitor whose only peer dropped it (seen right after a visit's metadata
  // arrives) must reconnect while a reader waits, not a minute later.
  s.set_int(lt::settings_pack::min_reconnect_time, 2);
  std::string bootstrap = format_endpoints(o.bootstrap);
  if (o.lan) {
    // Explicit nodes only, added with add_dht_node below: libtorrent never puts
    // a "router" (dht_bootstrap_nodes) into its routing table, which on a
    // small network leaves nodes that know nobody but the router.
    s.set_str(lt::settings_pack::dht_bootstrap_nodes, "");
    s.set_bool(lt::settings_pack::dht_restrict_routing_ips, false);
    s.set_bool(lt::settings_pack::dht_restrict_search_ips, false);
    s.set_bool(lt::settings_pack::dht_ignore_dark_internet, false);
    s.set_bool(lt::settings_pack::dht_prefer_verified_node_ids, false);
    s.set_bool(lt::settings_pack::allow_multiple_connections_per_ip, true);
    // Peers on a LAN or one machine: no need to wait between DHT announces.
    s.set_int(lt::settings_pack::min_announce_interval, 5);
    s.set_int(lt::settings_pack::dht_announce_interval, 5);
    // Every node shares one IP here: libtorrent's per-IP query limit (5/s, then
    // a 5-minute block) would soon make nodes ignore each other, which shows
    // as puts no node accepts and lookups that find nothing.
    s.set_int(lt::settings_pack::dht_block_ratelimit, 1000000);
    s.set_int(lt::settings_pack::dht_block_timeout, 0);
    // libtorrent caps DHT traffic at 8 KB/s and drops what is over: with
    // every torrent announced every 5 s (above), a node holding a few dozen
    // sites spent it all on announces, and its puts and lookups were lost
    // (seen: mirrors of the 18th site on found no name).
    s.set_int(lt::settings_pack::dht_upload_rate_limit, 4 << 20);
    // A LAN's DHT is a handful of nodes, so each stores what the public DHT
    // would spread over thousands. At libtorrent's defaults (700 items, 2000
    // torrents per node), a LAN with more sites than that would have each
    // new put evict another site's pointer.
    s.set_int(lt::settings_pack::dht_max_dht_items, 100000);
    s.set_int(lt::settings_pack::dht_max_torrents, 100000);
    // No smart_ban plugin: it pins a block that failed the hash check on the
    // first peer it finds with the sender's IP address, and with several
    // peers on one IP (allowed above) that can be an honest one, banned once
    // the piece passes (seen: the publisher banned after a corrupt peer on
    // 127.0.0.1). libtorrent itself still bans a peer that was a failed
    // piece's only source or keeps failing (peer_ban_alert).
    params.extensions.clear();
  } else if (!bootstrap.empty()) {
    std::string defaults = s.get_str(lt::settings_pack::dht_bootstrap_nodes);
    s.set_str(lt::settings_pack::dht_bootstrap_nodes, bootstrap + "," + defaults);
  }
  if (o.dht_item_lifetime_s > 0) {
    s.set_int(lt::settings_pack::dht_item_lifetime, o.dht_item_lifetime_s);
  }
  if (o.upload_limit > 0) s.set_int(lt::settings_pack::upload_rate_limit, o.upload_limit);

  try {
    impl->session = std::make_unique<lt::session>(std::move(params));
    if (o.lan) {
      impl->session->add_extension(&lt::create_ut_metadata_plugin);
      impl->session->add_extension(&lt::create_ut_pex_plugin);
    }
    impl->session->add_extension([](const lt::torrent_handle&, lt::client_data_t) {
      return std::make_shared<PeerPolicy>();
    });
    // Pushed pointers go from libtorrent's thread to the node thread's tasks.
    Impl* raw = impl.get();
    impl->push = std::make_unique<PushExtension>([raw](PushedPointer p) {
      raw->post([raw, p = std::move(p)] {
        std::function<void(const PushedPointer&)> fn;
        {
          std::lock_guard lock(raw->mutex);
          fn = raw->on_pushed;
        }
        if (fn) fn(p);
      });
    });
    impl->push->attach(*impl->session);
    impl->poller = std::make_unique<ItemPoller>(*impl->session);
  } catch (const std::exception& e) {
    return make_error(std::string("cannot start the BitTorrent session: ") + e.what());
  }
  for (const auto& ep : o.bootstrap) impl->session->add_dht_node(ep);
  if (o.upload_limit > 0) {
    // libtorrent exempts local peers from the session's rate limits (they go
    // in the local peer class only); a limit the user sets covers everyone.
    lt::ip_filter everyone;
    const auto global = std::uint32_t(1)
                        << static_cast<std::uint32_t>(lt::session::global_peer_class_id);
    everyone.add_rule(lt::make_address("0.0.0.0"), lt::make_address("255.255.255.255"), global);
    everyone.add_rule(lt::make_address("::"),
                      lt::make_address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), global);
    impl->session->set_peer_class_filter(everyone);
  }

  // Wait for the listen sockets: a port in use must be an error at start-up,
  // not a silent node that nobody can reach.
  auto deadline = Clock::now() + std::chrono::seconds(10);
  std::string listen_error;
  bool listening = false;
  while (!listening && listen_error.empty() && Clock::now() < deadline) {
    impl->session->wait_for_alert(std::chrono::milliseconds(200));
    std::vector<lt::alert*> alerts;
    impl->session->pop_alerts(&alerts);
    for (lt::alert* a : alerts) {
      if (auto* l = lt::alert_cast<lt::listen_succeeded_alert>(a)) {
        if (l->socket_type == lt::socket_type_t::tcp) {
          impl->listen_port = l->port;
          listening = true;
        }
      } else if (auto* f = lt::alert_cast<lt::listen_failed_alert>(a)) {
        if (f->socket_type == lt::socket_type_t::tcp && listen_error.empty()) {
          listen_error = "cannot listen for peers on " + f->address.to_string() + ":" +
                         std::to_string(f->port) + ": " + f->error.message() +
                         "; pick another port with --listen HOST:PORT";
        }
      }
    }
  }
  if (!listening) {
    if (listen_error.empty()) listen_error = "the BitTorrent session did not start listening";
    return make_error(listen_error);
  }

  // Re-add every torrent saved by an earlier run, from its resume data, so
  // complete data is not re-checked.
  std::error_code ec;
  if (fs::is_directory(impl->resume_dir(), ec)) {
    for (const auto& e : fs::directory_iterator(impl->resume_dir(), ec)) {
      if (e.path().extension() != ".resume") continue;
      auto buf = read_file(e.path());
      if (!buf) continue;
      lt::error_code lec;
      lt::add_torrent_params atp = lt::read_resume_data(*buf, lec);
      if (lec) {
        LogLine(LogLevel::kWarning)
            << "ignoring damaged resume file " << e.path() << ": " << lec.message();
        continue;
      }
      keep_active(atp);
      // A version saved before its start (sites' start_version) would never
      // download; it starts again without reusing held files.
      atp.flags &= ~lt::torrent_flags::upload_mode;
      impl->session->add_torrent(std::move(atp), lec);
      if (lec) {
        LogLine(LogLevel::kError) << "cannot restore " << e.path() << ": " << lec.message();
      }
    }
  }

  Impl* raw = impl.get();
  impl->session->set_alert_notify([raw] {
    // Called from libtorrent's thread: only flag and wake, never block.
    {
      std::lock_guard lock(raw->mutex);
      raw->alerts_pending = true;
    }
    raw->wake.notify_all();
  });
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Node::~Node() {
  save_state();
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  impl_->thread.join();
  impl_->session->set_alert_notify([] {});
  cancel_waits();
  impl_->session.reset();
}

void Node::save_state() {
  std::promise<void> requested;
  impl_->post([this, &requested] {
    impl_->request_resume_data(false);
    impl_->save_dht_state();
    requested.set_value();
  });
  requested.get_future().wait();
  std::unique_lock lock(impl_->mutex);
  impl_->resume_done.wait_for(lock, std::chrono::seconds(10),
                              [&] { return impl_->outstanding_resume <= 0; });
}

std::future<Result<SignedPointer>> Node::get_pointer(const PublicKey& key,
                                                     std::chrono::milliseconds timeout,
                                                     std::chrono::milliseconds settle,
                                                     bool retry_empty) {
  std::promise<Result<SignedPointer>> promise;
  auto future = promise.get_future();
  bool start = false;
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->cancelled) {
      promise.set_value(make_error(kShuttingDown, ErrorKind::kShuttingDown));
      return future;
    }
    auto [it, inserted] = impl_->gets.try_emplace(key);
    auto deadline = Clock::now() + timeout;
    if (inserted) {
      it->second.started = Clock::now();
      it->second.deadline = deadline;
      it->second.settle = settle;
      it->second.nodes_at_start = impl_->dht_nodes;
      it->second.retry_at = it->second.started + Impl::kMaxRetry;
      it->second.retry = retry_empty;
      start = true;
    } else {
      it->second.retry = it->second.retry || retry_empty;
      it->second.deadline = std::max(it->second.deadline, deadline);
      if (settle.count() > 0 && (it->second.settle.count() == 0 || settle < it->second.settle)) {
        it->second.settle = settle;
      }
      if (it->second.best && settle.count() > 0) {
        it->second.deadline = std::min(it->second.deadline, Clock::now() + settle);
      }
    }
    it->second.waiters.push_back(std::move(promise));
  }
  if (start) impl_->get_item(key);
  return future;
}

std::future<PointerPoll> Node::poll_pointer(const PublicKey& key, std::int64_t seq,
                                            std::chrono::milliseconds timeout, bool walk) {
  return impl_->poller->poll(key, seq, timeout, walk);
}

std::future<Result<int>> Node::put_pointer(const SignedPointer& pointer,
                                           std::chrono::milliseconds timeout) {
  std::promise<Result<int>> promise;
  auto future = promise.get_future();
  std::shared_ptr<std::atomic<std::int64_t>> found_seq;
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->cancelled) {
      promise.set_value(make_error(kShuttingDown, ErrorKind::kShuttingDown));
      return future;
    }
    auto& req = impl_->puts[{pointer.key, pointer.seq}];
    req.pointer = pointer;
    req.deadline = Clock::now() + timeout;
    req.waiters.push_back(std::move(promise));
    found_seq = req.found_seq;
  }
  std::array<char, 32> k;
  std::memcpy(k.data(), pointer.key.bytes().data(), k.size());
  std::string value = pointer.value.encode();
  SignedPointer sp = pointer;
  // Runs on libtorrent's DHT thread with the highest item the lookup found.
  // Whatever this leaves in place is what libtorrent puts, so it always puts
  // our own signed item (libtorrent cannot sign with libsodium keys): left
  // alone, a newer item found would be re-put in our name, whatever its value
  // (a forged-names test saw a validly signed but invalid seq 15 spread this
  // way). Nodes holding a newer seq refuse ours (BEP 44), so nothing newer is
  // overwritten; the put then fails and says what the DHT holds.
  impl_->session->dht_put_item(
      k,
      [sp, value, found_seq](lt::entry& v, std::array<char, 64>& sig, std::int64_t& seq,
                             std::string const&) {
        if (v.type() != lt::entry::undefined_t) found_seq->store(seq);
        v = lt::bdecode(value);
        std::memcpy(sig.data(), sp.signature.data(), sig.size());
        seq = sp.seq;
      },
      std::string());
  return future;
}

Result<lt::torrent_handle> Node::add_torrent(lt::add_torrent_params params) {
  lt::error_code ec;
  keep_active(params);
  lt::torrent_handle h = impl_->session->add_torrent(std::move(params), ec);
  if (ec) return make_error("cannot add torrent: " + ec.message());
  // Tell the DHT at once rather than at the next announce round, so a new
  // version or visitor is findable right away.
  announce_now(h, false);
  // Save resume data right away so a crash after adding still restores it.
  impl_->post([this, h] {
    if (h.is_valid() && h.status({}).has_metadata) {
      {
        std::lock_guard lock(impl_->mutex);
        ++impl_->outstanding_resume;
      }
      h.save_resume_data(lt::torrent_handle::save_info_dict);
    }
  });
  return h;
}

void Node::remove_torrent(const lt::torrent_handle& handle, bool delete_files) {
  if (!handle.is_valid()) return;
  std::string key = ih_key(handle.info_hashes());
  std::error_code ec;
  fs::remove(impl_->resume_dir() / (key + ".resume"), ec);
  impl_->session->remove_torrent(handle,
                                 delete_files ? lt::session::delete_files : lt::remove_flags_t{});
}

void Node::announce_now(const lt::torrent_handle& handle, bool seed) {
  if (!handle.is_valid()) return;
  {
    // A budget of kAnnounceBurst at once, then kAnnouncesPerSecond: each is
    // a lookup of some 20-40 queries, libtorrent drops the DHT traffic over
    // its upload cap (8 KB/s by default), and each DHT node blocks one that
    // sends it more than 5 queries a second for 5 minutes, which on a small
    // network is every node (seen: a node following 8 feeds at a time, each
    // announced every 3 s, lost its whole routing table). Over budget the
    // announce is dropped: callers ask again (every 3 s while alone, every
    // seek), and libtorrent announces each new torrent once by itself.
    std::lock_guard lock(impl_->announce_mutex);
    const auto now = Clock::now();
    const double refill = std::chrono::duration<double>(now - impl_->announce_refilled).count();
    impl_->announce_refilled = now;
    impl_->announce_tokens =
        std::min(kAnnounceBurst, impl_->announce_tokens + refill * kAnnouncesPerSecond);
    if (impl_->announce_tokens < 1) return;
    impl_->announce_tokens -= 1;
  }
  // Port 0 and implied_port, as libtorrent's own announces: the DHT node
  // records the port the query came from.
  lt::dht::announce_flags_t flags = lt::dht::announce::implied_port;
  if (seed) flags |= lt::dht::announce::seed;
  impl_->session->dht_announce(key_hash(handle.info_hashes()), 0, flags);
}

void Node::push_pointer(const InfoHash& ih, const SignedPointer& pointer) {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->cancelled || impl_->stopping) return;
  }
  impl_->push->push(ih, pointer);
}

void Node::keep_push_peers(const InfoHash& ih) {
  impl_->push->keep(ih);
}

std::vector<std::pair<std::string, int>> Node::push_peers(const InfoHash& ih) {
  return impl_->push->peers(ih);
}

void Node::on_pushed_pointer(std::function<void(const PushedPointer&)> fn) {
  std::lock_guard lock(impl_->mutex);
  impl_->on_pushed = std::move(fn);
}

lt::torrent_handle Node::find_torrent(const InfoHash& ih) const {
  lt::sha1_hash h(reinterpret_cast<const char*>(ih.bytes().data()));
  return impl_->session->find_torrent(h);
}

std::future<Status> Node::wait_torrent(const lt::torrent_handle& handle, TorrentCheck check,
                                       std::chrono::milliseconds timeout) {
  auto w = std::make_unique<Impl::TorrentWait>();
  w->handle = handle;
  w->check = std::move(check);
  w->deadline = Clock::now() + timeout;
  auto future = w->promise.get_future();
  std::lock_guard lock(impl_->mutex);
  if (impl_->cancelled) {
    w->promise.set_value(make_error(kShuttingDown, ErrorKind::kShuttingDown));
  } else {
    impl_->torrent_waits.push_back(std::move(w));
  }
  return future;
}

void Node::cancel_waits() {
  if (impl_->poller) impl_->poller->cancel();
  std::lock_guard lock(impl_->mutex);
  impl_->cancelled = true;
  for (auto& [k, g] : impl_->gets) {
    for (auto& w : g.waiters) w.set_value(make_error(kShuttingDown, ErrorKind::kShuttingDown));
  }
  impl_->gets.clear();
  for (auto& [k, p] : impl_->puts) {
    for (auto& w : p.waiters) w.set_value(make_error(kShuttingDown, ErrorKind::kShuttingDown));
  }
  impl_->puts.clear();
  for (auto& w : impl_->torrent_waits) {
    if (w) w->promise.set_value(make_error(kShuttingDown, ErrorKind::kShuttingDown));
  }
  impl_->torrent_waits.clear();
}

std::uint64_t Node::piece_events() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->piece_events;
}

void Node::wait_piece_event(std::uint64_t seen, std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  impl_->piece_done.wait_for(lock, timeout,
                             [&] { return impl_->piece_events != seen || impl_->stopping; });
}

void Node::every(std::chrono::milliseconds interval, std::function<void()> fn) {
  impl_->post([this, interval, fn = std::move(fn)]() mutable {
    impl_->periodics.push_back({interval, Clock::now() + interval, std::move(fn)});
  });
}

int Node::dht_nodes() const {
  return impl_->dht_nodes;
}

Reachability Node::reachability() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->reach;
}

NodeStats Node::stats() const {
  NodeStats s;
  s.dht_nodes = impl_->dht_nodes;
  s.listen_port = impl_->listen_port;
  s.torrents = static_cast<int>(impl_->session->get_torrents().size());
  s.total_download = impl_->received;
  s.total_upload = impl_->sent;
  s.total_failed = impl_->received_failed;
  s.total_redundant = impl_->received_twice;
  s.dht_bytes_in = impl_->dht_in;
  s.dht_bytes_out = impl_->dht_out;
  return s;
}

std::map<InfoHash, lt::torrent_status> Node::statuses() const {
  auto all = impl_->session->get_torrent_status([](const lt::torrent_status&) { return true; });
  std::map<InfoHash, lt::torrent_status> by_hash;
  for (auto& st : all) {
    const lt::sha1_hash h = key_hash(st.info_hashes);
    InfoHash::Bytes bytes;
    std::memcpy(bytes.data(), h.data(), bytes.size());
    by_hash.emplace(InfoHash(bytes), std::move(st));
  }
  return by_hash;
}

const NodeOptions& Node::options() const {
  return impl_->options;
}

}  // namespace hostless
