// The sites layer's helpers over libtorrent torrents (sites/fetch.cpp,
// sites/pieces.cpp): statuses, peer searches, kept pieces. The only sites
// header besides sites.hpp that names libtorrent types.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "node/node.hpp"

namespace hostless {

// For torrent-wait checks: libtorrent 2.0 sometimes stops a hybrid torrent
// that several peers feed with "v1 and v2 hashes do not describe the same
// data" (libtorrent issue 6394) though its data is sound. Clears that error so
// the download goes on (at most 5 times per wait, counted in `retries`); true
// if it did. Does not block.
bool recover_hybrid_error(const lt::torrent_status& st, int& retries);

// What announce_if_alone keeps between two looks at one torrent.
struct PeerSearch {
  std::chrono::steady_clock::time_point last_announce = std::chrono::steady_clock::now();
  // The version's web seeds (BEP 19), given to libtorrent once it has had no
  // peer for kWebSeedGrace: a web seed is for when the swarm is empty.
  std::vector<std::string> web_seeds;
  std::chrono::steady_clock::time_point alone_since{};
  bool web_seeds_added = false;
};
constexpr std::chrono::seconds kWebSeedGrace{3};
// How long a read of fresh pieces waits for them to reach the disk
// (Node::flush_writes): a fence waits for the disk jobs already queued.
constexpr std::chrono::milliseconds kFlushTimeout{30000};

// For torrent-wait checks and reads: with no peer, announces the torrent in
// the DHT again (every 3 s at most, Node::announce_now) rather than waiting
// for the next announce round, and has libtorrent try each peer found as a
// tracker's word, so that one it gave up on after 3 failed connections is
// tried once more (node.hpp). Not by forgetting the peers (clear_peers): that
// unbans a corrupt peer, loses what libtorrent learned of each (that it takes
// TCP but not uTP), and leaves the piece picker pointing at the freed entries
// (libtorrent 2.0 does not tell it), so a later hash failure can blame the
// wrong peer: seen, an honest publisher that finished a corrupt peer's piece
// banned as the piece's only source.
// Does not block.
void announce_if_alone(Node& node, const lt::torrent_status& st, PeerSearch& search);

// h.status(flags), or an empty status (no metadata, no error, no peers) when
// `h` names no torrent: one removed meanwhile, which libtorrent reports by
// throwing. Blocks on libtorrent: never call on the node thread.
lt::torrent_status status_of(const lt::torrent_handle& h,
                             lt::status_flags_t flags = lt::status_flags_t{});

// Gives every piece of `h` that is not wanted (priority 0) priority `to`;
// true if there was one. Blocks on libtorrent: never call on the node thread.
bool raise_unwanted_pieces(const lt::torrent_handle& h, lt::download_priority_t to);

// The pieces a node keeps of a version: every one, or with `media` false
// those of every file outside the site's media/ folder (docs/microblog.md,
// "Following": a feed followed without its media). A piece shared by a
// media file and another file is kept.
std::vector<bool> kept_pieces(const lt::torrent_info& ti, bool media);
// The file priorities that keep those pieces: 0 for media/'s files when not
// `media`, else the default.
std::vector<lt::download_priority_t> kept_file_priorities(const lt::torrent_info& ti, bool media);
// Gives the kept pieces (`kept`) that are not wanted (priority 0) priority
// `to`, and when `lower_others`, the others priority 0 (but one a read asked
// for, at top priority). True if a kept one was raised.
// Blocks on libtorrent: never call on the node thread.
bool want_kept_pieces(const lt::torrent_handle& h, const std::vector<bool>& kept,
                      lt::download_priority_t to, bool lower_others);

}  // namespace hostless
