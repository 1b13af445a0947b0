// Direct polls of a name's storing nodes (docs/microblog.md, "Polling"): a
// followed or mirrored site is checked for a new version by asking the few
// DHT nodes that last held its item, with BEP 44's "seq" (a node whose item
// is not newer answers with its seq alone), instead of a full lookup every
// interval. The storing nodes are found by a walk of the DHT toward the
// item's target (the same get queries as libtorrent's lookup, sent as direct
// requests so their answers and senders are ours to see), and walked again
// when fewer than half of them answer. Node-internal: Node::poll_pointer is
// the interface.
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <optional>

#include <libtorrent/alert.hpp>
#include <libtorrent/session.hpp>

#include "protocol/pointer.hpp"

namespace hostless {

// What a poll of one name found.
struct PointerPoll {
  // The highest validly signed item above the seq asked about, if a node
  // holds one.
  std::optional<SignedPointer> newer;
  int asked = 0;     // queries sent (walk and direct)
  int answered = 0;  // of those, answered
  // Nodes that answered holding the seq asked about or a newer one (BEP 44:
  // a name found on 8 such nodes needs no re-put).
  int copies = 0;
  // Of the (up to 8) closest nodes that answered: how many, and how many of
  // them hold the seq asked about or a newer one.
  int closest = 0;
  int current = 0;
  bool walked = false;  // the nodes were found by a walk, not remembered
  // DHT bytes the poll's queries and their answers took (bencoded messages,
  // as libtorrent's dht_bytes counters count them).
  std::int64_t bytes = 0;
};

class ItemPoller {
 public:
  explicit ItemPoller(lt::session& session);
  ~ItemPoller();
  ItemPoller(const ItemPoller&) = delete;
  ItemPoller& operator=(const ItemPoller&) = delete;

  // Starts a poll of `key`'s item, sending `seq`: the nodes that held it at
  // the last poll, closest first, until kAskDirect have answered; with
  // `walk`, none known, or most of those asked silent, a walk. The future
  // resolves when the nodes asked have answered or at `timeout` with what
  // came. It never fails: a poll nothing answered (no DHT yet) has
  // answered == 0. Does not block.
  std::future<PointerPoll> poll(const PublicKey& key, std::int64_t seq,
                                std::chrono::milliseconds timeout, bool walk);
  // One node holding the newest seq is enough to learn of it, and the
  // publisher put it on the 8 closest: 2 of those (the next asked for each
  // that fails) make a missed version unlikely at a quarter of the bytes of
  // asking all 8; the hourly walk asks all of them, and push comes first.
  static constexpr int kAskDirect = 2;
  // Takes the alerts it needs (direct responses, live nodes, DHT stats);
  // true when `a` was one only it needs. Called on the node thread.
  bool on_alert(const lt::alert* a);
  // Ends polls past their deadline. Called on the node thread.
  void check_deadlines();
  // Resolves every pending poll with what it has (shutting down).
  void cancel();

  struct State;  // poll.cpp

 private:
  std::unique_ptr<State> state_;
};

}  // namespace hostless
