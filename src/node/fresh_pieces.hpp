// Fresh pieces first: a seed's rule for sending each piece once while its
// visitors can pass it on (issue 18, item 3; docs/architecture.md, "libtorrent
// settings").
//
// A publisher on a home line has one uplink, and every byte it sends twice is
// a byte of the site it did not send at all. Left alone, libtorrent's seed
// serves whatever its unchoked visitors ask for, and they all ask for the
// pieces rarest in their own view, which at the start are the same ones:
// seen on the simulated internet, 16 visitors made the publisher upload 1.7
// times the site. Here a seed turns a request down (BEP 6 reject, with a
// suggest of a piece nobody has) when the piece is already on its way to, or
// held by, another connected peer, as long as pieces that no connected peer
// has remain. Each peer is turned down at most once per piece, so one that
// can get the piece nowhere else (it is not connected to the holder; a
// gateway visit waiting on it) gets it on asking again, a round trip later.
// Unlike BEP 16 super-seeding, the seed's bitfield stays whole and a lone
// visitor is never turned down. (Tried: turning a request down whenever the
// asker lacks a piece with fewer copies, twice per piece: the same upload,
// 1.25 F for 16 visitors, and slower, 24-37 s against 25 s.)
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include <libtorrent/extensions.hpp>

namespace hostless {

// The bookkeeping of one torrent that this node seeds; no libtorrent type, so
// the rule is unit-tested alone. Not thread-safe (libtorrent's network thread
// owns it).
class FreshPieces {
 public:
  using Peer = std::uint64_t;  // any id unique among the connected peers, not 0

  explicit FreshPieces(int pieces);

  int pieces() const { return static_cast<int>(holders_.size()); }
  // Pieces no connected peer has and none is being sent: the ones worth the
  // seed's upload first.
  int fresh() const { return fresh_; }

  // What a peer said it has (bitfield, have, have-all).
  void has(Peer peer, int piece);
  void has_all(Peer peer);
  // The peer disconnected: what it had or was being sent no longer counts,
  // unless it had every piece. A visitor that completes is disconnected as
  // redundant (seed to seed) and goes on serving the others, so until the
  // last peer leaves no piece counts as fresh again.
  void gone(Peer peer);
  // The seed will not send the peer `piece` (or anything, -1) after all: it
  // rejected the request itself, or choked the peer, which drops its queue.
  void not_sending(Peer peer, int piece = -1);

  struct Decision {
    bool serve = true;
    int suggest = -1;  // when turned down: a fresh piece to ask for instead, or -1
  };
  // A request for a block of `piece`: serve it, or turn it down.
  Decision request(Peer peer, int piece);

 private:
  struct PeerState {
    std::vector<bool> has;
    std::vector<bool> declined;
    int count = 0;  // pieces it has
    bool seed = false;
  };
  PeerState& state(Peer peer);
  bool is_fresh(int piece) const;
  void recount();
  // Runs `change` on `piece`'s bookkeeping, keeping fresh_ counted.
  template <class F>
  void update(int piece, F&& change);
  int next_fresh();

  std::vector<int> holders_;   // connected peers that have the piece
  std::vector<Peer> sending_;  // the peer the piece is being sent to; 0 if none
  int seeds_ = 0;              // connected peers that have every piece
  bool seed_left_ = false;     // one that had every piece left; see gone()
  int fresh_ = 0;
  int cursor_ = 0;  // where the search for a piece to suggest starts
  std::map<Peer, PeerState> peers_;
};

// The libtorrent torrent plugin that applies FreshPieces while the torrent is
// seeding, to peers that speak BEP 6 (fast extension); it counts the requests
// it turns down in `declined`. For lt::session::add_extension.
std::shared_ptr<lt::torrent_plugin> fresh_pieces_plugin(
    std::shared_ptr<std::atomic<std::int64_t>> declined);

}  // namespace hostless
