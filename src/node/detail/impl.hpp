// Node's insides, shared by node/*.cpp and by nothing outside node/: the
// state behind the Node facade (one libtorrent session, its alert loop and
// what waits on it) and small helpers over libtorrent's types.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <libtorrent/alert_types.hpp>
#include <libtorrent/session.hpp>

#include "node/node.hpp"
#include "node/poll.hpp"
#include "node/push.hpp"
#include "util/encoding.hpp"

namespace hostless {

using Clock = std::chrono::steady_clock;
// Node::announce_now's budget.
inline constexpr double kAnnounceBurst = 8;
inline constexpr double kAnnouncesPerSecond = 1;
inline constexpr const char* kShuttingDown = "the node is shutting down";

inline std::string ih_hex(const lt::sha1_hash& h) {
  return to_hex(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(h.data()), h.size()));
}

// The 20 bytes a torrent is known by here: its v1 info-hash, or its v2 one
// truncated when it has no v1 (what session::find_torrent also accepts).
inline lt::sha1_hash key_hash(const lt::info_hash_t& ih) {
  return ih.has_v1() ? ih.v1 : ih.get_best();
}

inline std::string ih_key(const lt::info_hash_t& ih) {
  return ih_hex(key_hash(ih));
}

// Every site torrent stays active: libtorrent's queueing (auto-managed
// torrents, at most a few active downloads) would otherwise pause a visit's
// torrent right after its metadata arrived, with a reader waiting on it.
void keep_active(lt::add_torrent_params& params);

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

  // Node::flush_writes's fences, guarded by mutex. Each gets a ticket,
  // queued under its torrent; a cache_flushed_alert completes the torrent's
  // oldest (fences of one torrent complete in order). libtorrent also fences
  // a torrent when it finishes: an alert of such a fence while one of ours
  // waits completes ours, which is sound, since that fence came after every
  // piece of the download passed; with none of ours waiting it is ignored.
  std::uint64_t last_flush = 0;
  std::map<lt::torrent_handle, std::deque<std::uint64_t>> flushes;
  std::set<std::uint64_t> flushed, flush_abandoned;
  std::condition_variable flush_done;

  std::atomic<int> dht_nodes{0};
  // Payload bytes since the daemon started, from libtorrent's session
  // counters: a torrent's own counters start again whenever it is paused
  // and resumed (as when a disk or hybrid-hash error is cleared).
  std::atomic<std::int64_t> received{0}, sent{0}, received_failed{0}, received_twice{0};
  // Written by the fresh-pieces plugins on libtorrent's network thread.
  std::shared_ptr<std::atomic<std::int64_t>> requests_declined =
      std::make_shared<std::atomic<std::int64_t>>(0);
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

  std::filesystem::path resume_dir() const { return options.home / "resume"; }
  std::filesystem::path session_file() const { return options.home / "session.dat"; }

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

}  // namespace hostless
