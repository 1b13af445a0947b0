// An unreachable node connects out to its peers (sites.hpp, kSeekEvery).
#include "sites/sites.hpp"

namespace hostless {

void SiteManager::seek_peers_from_behind_nat() {
  // (A node with a public address that nobody has contacted yet looks the
  // same; its announces are as cheap, and the first visitor ends them.)
  if (node_.options().lan || node_.reachability().reachable()) return;
  const auto now = std::chrono::steady_clock::now();
  const bool full_round = ++seek_ticks_ % (kSeekEvery / kSeekFastEvery) == 0;
  std::set<PublicKey> fresh;  // published within kSeekFastFor
  {
    std::lock_guard lock(retry_mutex_);
    for (const auto& [key, at] : last_published_) {
      if (now - at < kSeekFastFor) fresh.insert(key);
    }
  }
  if (!full_round && fresh.empty()) return;
  auto sites = catalog_.sites();
  if (!sites) return;
  std::vector<InfoHash> round, published, kept;
  for (const auto& s : *sites) {
    if (!s.info_hash) continue;
    if (s.role == SiteRole::kPublished && fresh.count(s.address.key())) {
      // A site just published: its first visitors are likely now (the
      // link was just shared), so it is announced at every tick.
      round.push_back(*s.info_hash);
    } else if (!full_round) {
      continue;
    } else if (s.role == SiteRole::kPublished) {
      published.push_back(*s.info_hash);
    } else if (s.role != SiteRole::kVisited && s.role != SiteRole::kBlocked) {
      kept.push_back(*s.info_hash);
    }
  }
  // Then published sites, then mirrors, follows and lists, each list in
  // turn once it no longer fits a round: a node that keeps hundreds of feeds
  // sends no more DHT traffic than one that keeps two.
  auto take_in_turn = [&](const std::vector<InfoHash>& from, std::size_t& cursor) {
    for (std::size_t i = 0; i < from.size() && round.size() < kSeeksPerRound; ++i) {
      round.push_back(from[cursor++ % from.size()]);
    }
  };
  take_in_turn(published, seek_cursors_[0]);
  take_in_turn(kept, seek_cursors_[1]);
  for (const auto& ih : round) {
    node_.announce_now(node_.find_torrent(ih), true);
  }
}

}  // namespace hostless
