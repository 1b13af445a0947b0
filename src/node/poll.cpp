#include "node/poll.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include <libtorrent/alert_types.hpp>
#include <libtorrent/bdecode.hpp>
#include <libtorrent/bencode.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/hasher.hpp>

namespace hostless {
namespace {

using Clock = std::chrono::steady_clock;

// BEP 44 stores an item on the 8 nodes closest to its target (Kademlia's k).
constexpr int kClosest = 8;
// Walk queries in flight at once (Kademlia's alpha).
constexpr int kWalkParallel = 4;
// A walk keeps at most this many candidate nodes, the closest.
constexpr std::size_t kMaxCandidates = 256;
// Names whose storing nodes are remembered (each about 8 x 40 bytes).
constexpr std::size_t kMaxRemembered = 10000;
// Unanswered queries tracked at once (libtorrent answers each, at the latest
// with a timeout; this only bounds a lost alert).
constexpr std::size_t kMaxAsks = 20000;
// The routing table asked for a walk's first nodes is reused this long.
constexpr auto kLiveNodesFresh = std::chrono::seconds(10);
// A query unanswered this long no longer holds its poll up (libtorrent's own
// lookups branch out after a short timeout too; its RPC timeout is about
// 15 s): with 1 % loss, walks waited that long. A late answer still counts
// while the poll runs.
constexpr auto kSlowQuery = std::chrono::seconds(2);

// Tags a direct request with the id of its query: libtorrent's client_data_t
// carries a typed pointer, which here is never dereferenced.
struct AskTag;

std::string_view view(lt::span<char const> s) {
  return {s.data(), static_cast<std::size_t>(s.size())};
}

// The size of query `e` as sent: libtorrent adds a transaction id, "y", our
// node id and its version string.
std::int64_t query_size(lt::entry e) {
  e["t"] = std::string(2, '\0');
  e["y"] = "q";
  e["a"]["id"] = std::string(20, '\0');
  e["v"] = std::string(4, '\0');
  std::vector<char> out;
  lt::bencode(std::back_inserter(out), e);
  return static_cast<std::int64_t>(out.size());
}

}  // namespace

struct ItemPoller::State {
  explicit State(lt::session& s) : session(s) {}

  struct Candidate {
    lt::udp::endpoint ep;
    enum class Asked { kNo, kWaiting, kAnswered, kFailed } asked = Asked::kNo;
    Clock::time_point asked_at{};
    bool holds = false;    // answered with an item of the name
    bool current = false;  // ... at the seq polled or a valid newer one
  };
  struct Poll {
    PublicKey key;
    lt::sha1_hash target;
    std::int64_t seq = 0;
    bool walking = false;
    bool seeded = false;  // a walk's first nodes are in (from the routing table)
    Clock::time_point deadline;
    std::map<lt::sha1_hash, Candidate> candidates;  // by XOR distance to target
    int outstanding = 0;
    PointerPoll result;
    std::promise<PointerPoll> promise;
  };
  struct Ask {
    std::uint64_t poll;
    lt::sha1_hash distance;
  };

  lt::session& session;
  std::mutex mutex;
  bool cancelled = false;
  std::uint64_t next_id = 1;
  std::map<std::uint64_t, Poll> polls;
  std::map<std::uint64_t, Ask> asks;
  // The nodes that held each name at its last poll, as (distance, endpoint).
  std::map<PublicKey, std::vector<std::pair<lt::sha1_hash, lt::udp::endpoint>>> holders;
  std::set<lt::sha1_hash> node_ids;  // of this session's DHT nodes (v4, v6)
  std::map<lt::sha1_hash, std::vector<std::pair<lt::sha1_hash, lt::udp::endpoint>>> live;
  Clock::time_point live_at{};
  Clock::time_point live_asked{};

  void add_candidate(Poll& p, const lt::sha1_hash& id, const lt::udp::endpoint& ep) {
    if (ep.port() == 0 || ep.address().is_unspecified()) return;
    const lt::sha1_hash d = id ^ p.target;
    p.candidates.try_emplace(d, Candidate{ep});
    while (p.candidates.size() > kMaxCandidates) p.candidates.erase(std::prev(p.candidates.end()));
  }

  void seed(Poll& p) {
    for (const auto& [nid, nodes] : live) {
      for (const auto& [id, ep] : nodes) add_candidate(p, id, ep);
    }
    p.seeded = true;
  }

  void start_walk(std::uint64_t id, Poll& p) {
    p.walking = true;
    p.result.walked = true;
    p.seeded = false;
    p.candidates.clear();
    if (node_ids.empty()) return finish(id);  // no DHT (yet): nothing to walk
    if (Clock::now() - live_at < kLiveNodesFresh) {
      seed(p);
      return step(id, p);
    }
    if (Clock::now() - live_asked > std::chrono::seconds(2)) {
      live_asked = Clock::now();
      for (const auto& nid : node_ids) session.dht_live_nodes(nid);
    }
    // seeded and stepped when the routing table arrives (on_alert)
  }

  void ask(std::uint64_t id, Poll& p, const lt::sha1_hash& distance, Candidate& c) {
    lt::entry e;
    e["q"] = "get";
    lt::entry& a = e["a"];
    a["target"] = p.target.to_string();
    a["seq"] = p.seq;
    // Remembered nodes are asked for the item only: BEP 32's "want" names
    // the node lists wanted, and none are (about 210 bytes less per answer).
    if (!p.walking) a["want"] = lt::entry::list_type{};
    p.result.bytes += query_size(e);
    if (asks.size() >= kMaxAsks) asks.clear();
    const std::uint64_t ask_id = next_id++;
    asks[ask_id] = {id, distance};
    session.dht_direct_request(c.ep, e, lt::client_data_t(reinterpret_cast<AskTag*>(ask_id)));
    c.asked = Candidate::Asked::kWaiting;
    c.asked_at = Clock::now();
    ++p.outstanding;
    ++p.result.asked;
  }

  // Sends the next queries: a walk asks the closest nodes not asked yet (at
  // most kWalkParallel at a time) until the kClosest closest that answer have
  // all been asked; a direct poll asks the closest remembered nodes until
  // kAskDirect have answered (the next one for each that fails).
  // A slow query counts as failed for what to ask next and when to end.
  void step(std::uint64_t id, Poll& p) {
    if (p.walking && !p.seeded) return;
    const auto now = Clock::now();
    const auto slow = [&](const Candidate& c) {
      return c.asked == Candidate::Asked::kWaiting && now - c.asked_at >= kSlowQuery;
    };
    int waiting = 0;
    int answered = 0;
    for (const auto& [d, c] : p.candidates) {
      if (c.asked == Candidate::Asked::kWaiting && !slow(c)) ++waiting;
      if (c.asked == Candidate::Asked::kAnswered) ++answered;
    }
    if (!p.walking && answered >= ItemPoller::kAskDirect) return finish(id);
    const int parallel = p.walking ? kWalkParallel : ItemPoller::kAskDirect - answered;
    int considered = 0;
    for (auto& [d, c] : p.candidates) {
      if (c.asked == Candidate::Asked::kFailed || slow(c)) continue;
      if (considered++ >= kClosest) break;
      if (c.asked == Candidate::Asked::kNo && waiting < parallel) {
        ask(id, p, d, c);
        ++waiting;
      }
    }
    if (waiting == 0) finish(id);
  }

  void answer(Poll& p, Candidate& c, const lt::bdecode_node& message) {
    const lt::bdecode_node r = message.type() == lt::bdecode_node::dict_t
                                   ? message.dict_find_dict("r")
                                   : lt::bdecode_node();
    if (!r) {
      c.asked = Candidate::Asked::kFailed;  // timed out, or an error reply
      return;
    }
    c.asked = Candidate::Asked::kAnswered;
    ++p.result.answered;
    if (p.walking) {
      // Compact node infos: 20-byte id, then IPv4 + port (26 bytes) or IPv6 +
      // port (38 bytes).
      const auto add_nodes = [&](const char* field, std::size_t ip_size) {
        const auto nodes = r.dict_find_string_value(field);
        const std::size_t entry = 20 + ip_size + 2;
        for (std::size_t i = 0; i + entry <= nodes.size(); i += entry) {
          lt::sha1_hash nid(nodes.data() + i);
          const auto* b = reinterpret_cast<const unsigned char*>(nodes.data() + i + 20);
          lt::address ip;
          if (ip_size == 4) {
            ip = lt::address_v4(lt::address_v4::bytes_type{b[0], b[1], b[2], b[3]});
          } else {
            lt::address_v6::bytes_type bytes;
            std::memcpy(bytes.data(), b, 16);
            ip = lt::address_v6(bytes);
          }
          const auto port = static_cast<std::uint16_t>((b[ip_size] << 8) | b[ip_size + 1]);
          add_candidate(p, nid, lt::udp::endpoint(ip, port));
        }
      };
      add_nodes("nodes", 4);
      add_nodes("nodes6", 16);
    }
    const lt::bdecode_node seq = r.dict_find_int("seq");
    if (!seq) return;  // holds nothing of the name
    c.holds = true;
    const std::int64_t held = seq.int_value();
    if (held == p.seq) {
      c.current = true;
      return;
    }
    if (held < p.seq) return;
    // Newer: valid only as a whole item, checked as a DHT answer is.
    const lt::bdecode_node v = r.dict_find("v");
    const auto sig = r.dict_find_string_value("sig");
    const auto k = r.dict_find_string_value("k");
    if (!v || sig.size() != 64 || k.size() != 32 ||
        std::memcmp(k.data(), p.key.bytes().data(), 32) != 0) {
      return;
    }
    auto value = PointerValue::decode(view(v.data_section()));
    if (!value) return;
    SignedPointer sp;
    sp.key = p.key;
    sp.seq = held;
    sp.value = *value;
    std::memcpy(sp.signature.data(), sig.data(), sp.signature.size());
    if (!sp.verify()) return;
    c.current = true;
    if (!p.result.newer || sp.seq > p.result.newer->seq) p.result.newer = sp;
  }

  void finish(std::uint64_t id) {
    auto it = polls.find(id);
    if (it == polls.end()) return;
    Poll& p = it->second;
    std::vector<std::pair<lt::sha1_hash, lt::udp::endpoint>> holding;
    int closest = 0;
    int current = 0;
    for (const auto& [d, c] : p.candidates) {
      // Remembered nodes a direct poll did not need stay remembered.
      const bool spare = !p.walking && c.asked == Candidate::Asked::kNo;
      if (spare && holding.size() < static_cast<std::size_t>(kClosest)) {
        holding.emplace_back(d, c.ep);
      }
      if (c.asked != Candidate::Asked::kAnswered) continue;
      if (c.current) ++p.result.copies;
      if (closest < kClosest) {
        ++closest;
        if (c.current) ++current;
      }
      if (c.holds && holding.size() < static_cast<std::size_t>(kClosest)) {
        holding.emplace_back(d, c.ep);
      }
    }
    // A direct poll that most of its nodes left unanswered (they went away,
    // or dropped the item) walks the DHT for the nodes that hold it now.
    const bool too_few = !p.walking && p.result.answered * 2 < p.result.asked;
    if (too_few && !cancelled && Clock::now() < p.deadline) return start_walk(id, p);
    p.result.closest = closest;
    p.result.current = current;
    if (holding.empty()) {
      holders.erase(p.key);
    } else {
      if (holders.size() >= kMaxRemembered && !holders.count(p.key)) holders.clear();
      holders[p.key] = std::move(holding);
    }
    p.promise.set_value(p.result);
    polls.erase(it);
  }
};

ItemPoller::ItemPoller(lt::session& session) : state_(std::make_unique<State>(session)) {}

ItemPoller::~ItemPoller() {
  cancel();
}

std::future<PointerPoll> ItemPoller::poll(const PublicKey& key, std::int64_t seq,
                                          std::chrono::milliseconds timeout, bool walk) {
  State& s = *state_;
  std::lock_guard lock(s.mutex);
  const std::uint64_t id = s.next_id++;
  State::Poll& p = s.polls[id];
  auto future = p.promise.get_future();
  if (s.cancelled) {
    s.finish(id);
    return future;
  }
  p.key = key;
  p.target = lt::hasher(reinterpret_cast<const char*>(key.bytes().data()),
                        static_cast<int>(key.bytes().size()))
                 .final();
  p.seq = std::max<std::int64_t>(seq, 0);
  p.deadline = Clock::now() + timeout;
  auto known = s.holders.find(key);
  if (walk || known == s.holders.end()) {
    s.start_walk(id, p);
    return future;
  }
  for (const auto& [d, ep] : known->second) p.candidates.try_emplace(d, State::Candidate{ep});
  s.step(id, p);
  return future;
}

bool ItemPoller::on_alert(const lt::alert* a) {
  State& s = *state_;
  if (const auto* st = lt::alert_cast<lt::dht_stats_alert>(a)) {
    std::lock_guard lock(s.mutex);
    if (!st->nid.is_all_zeros()) s.node_ids.insert(st->nid);
    return false;  // the node counts the routing table from it too
  }
  if (const auto* ln = lt::alert_cast<lt::dht_live_nodes_alert>(a)) {
    std::lock_guard lock(s.mutex);
    s.live[ln->node_id] = ln->nodes();
    s.live_at = Clock::now();
    std::vector<std::uint64_t> ready;
    for (auto& [id, p] : s.polls) {
      if (p.walking && !p.seeded) ready.push_back(id);
    }
    for (auto id : ready) {
      auto it = s.polls.find(id);
      if (it == s.polls.end()) continue;
      s.seed(it->second);
      s.step(id, it->second);
    }
    return true;
  }
  const auto* r = lt::alert_cast<lt::dht_direct_response_alert>(a);
  if (!r) return false;
  auto* tag = r->userdata.get<AskTag>();
  if (!tag) return false;  // not a poll's
  std::lock_guard lock(s.mutex);
  auto ask = s.asks.find(reinterpret_cast<std::uintptr_t>(tag));
  if (ask == s.asks.end()) return true;
  const State::Ask which = ask->second;
  s.asks.erase(ask);
  auto it = s.polls.find(which.poll);
  if (it == s.polls.end()) return true;  // ended meanwhile
  State::Poll& p = it->second;
  auto c = p.candidates.find(which.distance);
  if (c == p.candidates.end() || c->second.asked != State::Candidate::Asked::kWaiting) return true;
  --p.outstanding;
  const lt::bdecode_node response = r->response();
  if (response) p.result.bytes += static_cast<std::int64_t>(response.data_section().size());
  s.answer(p, c->second, response);
  s.step(which.poll, p);
  return true;
}

void ItemPoller::check_deadlines() {
  State& s = *state_;
  std::lock_guard lock(s.mutex);
  const auto now = Clock::now();
  std::vector<std::uint64_t> due;
  std::vector<std::uint64_t> running;
  for (const auto& [id, p] : s.polls) (now >= p.deadline ? due : running).push_back(id);
  for (auto id : due) s.finish(id);
  // Queries that turned slow since the last answer: ask others, or end.
  for (auto id : running) {
    if (auto it = s.polls.find(id); it != s.polls.end() && it->second.outstanding > 0) {
      s.step(id, it->second);
    }
  }
}

void ItemPoller::cancel() {
  State& s = *state_;
  std::lock_guard lock(s.mutex);
  s.cancelled = true;
  while (!s.polls.empty()) s.finish(s.polls.begin()->first);
}

}  // namespace hostless
