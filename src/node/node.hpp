// The node: owns the libtorrent session (DHT + swarms) and the one thread that
// pumps its alerts. Everything else talks to it through thread-safe calls
// that return futures; nothing blocks inside libtorrent callbacks.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/torrent_handle.hpp>
#include <libtorrent/torrent_status.hpp>

#include "node/poll.hpp"
#include "node/push.hpp"
#include "protocol/pointer.hpp"
#include "util/result.hpp"

namespace hostless {

struct NodeOptions {
  std::filesystem::path home;
  // libtorrent listen_interfaces, e.g. "0.0.0.0:6881,[::]:6881".
  std::string listen = "0.0.0.0:6881,[::]:6881";
  // --lan: no public bootstrap nodes, DHT rules relaxed for many nodes on one
  // IP, no UPnP/NAT-PMP.
  bool lan = false;
  std::vector<std::pair<std::string, int>> bootstrap;
  bool local_discovery = true;
  // Lifetime of items this node stores for others; 0 = libtorrent's default.
  int dht_item_lifetime_s = 0;
  // Upload cap in bytes/s for all peers, local ones included; 0 = none.
  int upload_limit = 0;
  // How often resume data and the DHT state are saved while running.
  std::chrono::seconds save_interval{300};
};

// Whether peers on the internet can open connections to this node, as far
// as it can tell: it has seen an incoming connection, or a router mapped its
// port (UPnP / NAT-PMP). Neither means "not known": a node with a public IP
// that nobody has contacted yet looks the same as one behind a NAT.
struct Reachability {
  int incoming_connections = 0;    // since start
  std::int64_t last_incoming = 0;  // unix time, 0 = never
  std::string port_mapping;        // e.g. "UPnP: external port 6881/TCP"; "" = none
  std::string mapping_error;       // the last port-mapping failure, if any
  std::string external_address;    // as the DHT sees it; "" = not known yet
  // The address the DHT sees is not one of this machine's (a NAT between);
  // unknown until the DHT has said.
  std::optional<bool> behind_nat;
  bool reachable() const { return incoming_connections > 0 || !port_mapping.empty(); }
};

struct NodeStats {
  int dht_nodes = 0;
  int listen_port = 0;
  int torrents = 0;
  std::int64_t total_download = 0;  // payload bytes since start
  std::int64_t total_upload = 0;
  // Of total_download: bytes of pieces that failed the hash check (corrupt
  // peers), and bytes received twice (end game, piece deadlines).
  std::int64_t total_failed = 0;
  std::int64_t total_redundant = 0;
  // Piece requests this node, seeding, turned down so that it sends pieces
  // nobody has first (node/fresh_pieces.hpp).
  std::int64_t requests_declined = 0;
  // DHT traffic since start (libtorrent's dht.dht_bytes_in / _out): lookups,
  // puts, polls, answers to others and routing-table upkeep.
  std::int64_t dht_bytes_in = 0;
  std::int64_t dht_bytes_out = 0;
};

// Thread-safe. Construct with Node::start; destroying it saves resume data and
// the DHT state, then stops the session.
class Node {
 public:
  static Result<std::unique_ptr<Node>> start(NodeOptions options);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Looks up the BEP 44 item of `key` (empty salt). Resolves with the
  // highest-seq item whose signature and BEP 46 value are valid once the
  // lookup is authoritative, or `settle` after the first valid item arrived
  // (when non-zero: a lookup otherwise waits for every unresponsive node to
  // time out, about 15 s), or with the best seen at `timeout`; with an error
  // when nothing valid was found by then.
  // With `retry_empty` false, a lookup that ends with nothing found is the
  // answer (else it is run again until the timeout: see node.cpp).
  std::future<Result<SignedPointer>> get_pointer(
      const PublicKey& key, std::chrono::milliseconds timeout,
      std::chrono::milliseconds settle = std::chrono::milliseconds(0), bool retry_empty = true);

  // Polls the DHT nodes that hold `key`'s item for one above `seq`
  // (node/poll.hpp): a few of the nodes that held it at the last poll, asked
  // directly and answering with their seq alone when nothing changed; or,
  // with `walk`, when they are not known or most are gone, the nodes a walk
  // toward the key finds (which also counts the copies of the name). Never
  // fails: answered == 0 means no node answered within `timeout`.
  std::future<PointerPoll> poll_pointer(const PublicKey& key, std::int64_t seq,
                                        std::chrono::milliseconds timeout, bool walk = false);

  // Stores `pointer` (already signed) in the DHT. Resolves with the number of
  // nodes that accepted it; an error when none did within `timeout`.
  std::future<Result<int>> put_pointer(const SignedPointer& pointer,
                                       std::chrono::milliseconds timeout);

  // Adds a torrent (synchronously, on the calling thread; libtorrent's
  // session calls are thread-safe). Its resume data is then saved by the node.
  Result<lt::torrent_handle> add_torrent(lt::add_torrent_params params);
  // Removes a torrent and its resume data; `delete_files` also deletes data.
  void remove_torrent(const lt::torrent_handle& handle, bool delete_files);
  lt::torrent_handle find_torrent(const InfoHash& ih) const;

  // Pointer push (node/push.hpp, docs/microblog.md): sends `pointer` to the
  // peers of version `ih` that speak the extension and lack it, and to those
  // that connect later, each preceded by the new version's info dictionary
  // (`info`; when empty, this node's copy of it, if any). Asks libtorrent
  // for that copy when `info` is empty (a short wait): never call it on
  // libtorrent's thread.
  void push_pointer(const InfoHash& ih, const SignedPointer& pointer, std::string info = {});
  // Keeps version `ih`'s connections to push peers open, also between two
  // whole copies and when idle, so pushes reach them. Does not block.
  void keep_push_peers(const InfoHash& ih);
  // The peers of version `ih` that speak the push extension, as (host, listen
  // port): where a newer version is likely to be first. Blocks briefly.
  std::vector<std::pair<std::string, int>> push_peers(const InfoHash& ih);
  // `fn` runs on the node thread (it must not block) with each valid pointer
  // a peer pushed whose seq is above any this node pushed or was pushed.
  void on_pushed_pointer(std::function<void(const PushedPointer&)> fn);
  // Announces `handle` in the DHT now, and gives each peer the lookup finds
  // to libtorrent as a tracker's word (fire-and-forget). Only that lowers
  // libtorrent's count of a peer's failed connections: after 3 it never tries
  // the peer again, also once it is back (a publisher's laptop that was
  // closed), and the peers its own DHT announces find do not count. Not
  // force_dht_announce(): libtorrent runs those one every 4 s at most, from
  // one queue that keeps duplicates, so a torrent waiting for a peer, asking
  // every 3 s, kept a new torrent's first announce waiting 15 s behind its
  // own (seen on the simulated internet). At most 8 at once and one a second
  // after that (node.cpp): over it, dropped. `seed`: this node holds the
  // whole version (its lookup then skips other seeds).
  void announce_now(const lt::torrent_handle& handle, bool seed);

  // Resolves when `check(status)` returns a value (checked on every status
  // update of `handle`, about 4 times a second), or with a timeout error.
  // `check` runs on the node thread: it must not block, and must not make
  // libtorrent calls that wait for an answer (status(), get_*()): only
  // fire-and-forget ones such as force_dht_announce().
  using TorrentCheck = std::function<std::optional<Status>(const lt::torrent_status&)>;
  std::future<Status> wait_torrent(const lt::torrent_handle& handle, TorrentCheck check,
                                   std::chrono::milliseconds timeout);

  // Waits until every piece `handle` has passed is on disk (false after
  // `timeout`, or when the node stops). libtorrent marks a piece had once
  // its hash passed, which may be before its last blocks left its write
  // buffer: a file read at once can be missing or hold zeros where the
  // piece goes (a `get` saw "No such file" for a file of a finished
  // download). This asks for a fence (flush_cache: it waits for every disk
  // job of the torrent queued before it, and closes its files) and waits
  // for its cache_flushed_alert.
  bool flush_writes(const lt::torrent_handle& handle, std::chrono::milliseconds timeout);

  // A counter that moves whenever a piece of any torrent passes its hash
  // check; wait_piece_event() sleeps until it moves past `seen` or `timeout`.
  std::uint64_t piece_events() const;
  void wait_piece_event(std::uint64_t seen, std::chrono::milliseconds timeout);

  // Runs `fn` on the node thread every `interval` (first run after one
  // interval). `fn` must not block.
  void every(std::chrono::milliseconds interval, std::function<void()> fn);

  // Fails every pending and future get, put and torrent wait with "shutting
  // down", so threads blocked on them return before the node is destroyed.
  void cancel_waits();

  NodeStats stats() const;
  // The routing table's size (cheap: no call into libtorrent). 0 while the
  // node is joining the DHT or has lost every contact.
  int dht_nodes() const;
  Reachability reachability() const;
  // The status of every torrent, by info-hash (v1, or v2 truncated when there
  // is no v1), in one call to libtorrent rather than one per torrent.
  std::map<InfoHash, lt::torrent_status> statuses() const;
  const NodeOptions& options() const;
  // Saves resume data of every torrent that needs it and the DHT state;
  // returns when written.
  void save_state();

 private:
  struct Impl;
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Parses "HOST:PORT[,HOST:PORT...]" ("[v6]:port" too).
Result<std::vector<std::pair<std::string, int>>> parse_endpoints(const std::string& text);
// The inverse: "HOST:PORT,..." with IPv6 hosts bracketed, as libtorrent's
// listen_interfaces and dht_bootstrap_nodes want it.
std::string format_endpoints(const std::vector<std::pair<std::string, int>>& endpoints);

}  // namespace hostless
