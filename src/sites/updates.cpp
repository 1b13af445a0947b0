// Kept sites follow their updates: pushed pointers from peers, and polls of
// the DHT at a pace set by how recently the name moved.
#include "sites/sites.hpp"

#include <random>
#include <thread>

#include "util/log.hpp"

namespace hostless {
namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

json SiteManager::following() {
  json out = json::array();
  for (auto& s : sites()) {
    if (s.value("role", "") == role_name(SiteRole::kFollowed)) out.push_back(std::move(s));
  }
  return out;
}

void SiteManager::keep_followed_version(const SiteAddress& address, const InfoHash& ih) {
  if (add_version(address, ih)) node_.keep_push_peers(ih);
}

void SiteManager::accept_push(const PushedPointer& pushed) {
  if (std::getenv("HOSTLESS_DEBUG_PUSH")) {
    LogLine(LogLevel::kDebug) << "[push] " << std::time(nullptr) << " got seq "
                              << pushed.pointer.seq << " from " << pushed.from_host << ":"
                              << pushed.from_port << ", metadata " << pushed.info.size()
                              << " bytes";
  }
  if (stopping_) return;
  const SignedPointer& ptr = pushed.pointer;
  const SiteAddress address(ptr.key);
  auto record = catalog_.site(address);
  if (!record || !*record) return;  // not a site this node holds
  const SiteRecord r = **record;
  const bool kept = is_kept(r.role);
  if (kept) {
    std::lock_guard lock(mirrors_mutex_);
    // A poll, an adoption or an unfollow of this site is running; the next
    // poll takes it.
    if (!polling_.insert(address.str()).second) return;
  }
  const auto done = [&] {
    if (!kept) return;
    std::lock_guard lock(mirrors_mutex_);
    polling_.erase(address.str());
  };
  if (r.role == SiteRole::kPublished) {
    // Another device with this key published: its seq is remembered, so this
    // node's next version is signed above it (publish_locked).
    (void)catalog_.observe_pointer(ptr);
    return;
  }
  // Rollback protection, as for a DHT answer: a pointer below the highest
  // seen moves nothing.
  auto highest = catalog_.observe_pointer(ptr);
  if (!highest || highest->seq > ptr.seq || ptr.seq <= r.seq) return done();
  // Passed on, once per peer, with the metadata it came with.
  if (r.info_hash) node_.push_pointer(*r.info_hash, ptr, pushed.info);
  // A visited site takes it at its next visit's refresh (the catalog holds it).
  if (!kept) return;
  if (size_capped(r.role) && !follow_rate_allows(address)) return done();
  // The peer that pushed it most likely holds the new version, or soon will,
  // and so will the other peers of the version held (the site's other
  // followers, fetching it too): ask them first, before the DHT has heard of
  // the version, so followers swarm instead of all waiting on the author.
  if (auto h = add_version(address, ptr.value.ih)) {
    if (r.role == SiteRole::kFollowed) node_.keep_push_peers(ptr.value.ih);
    // Metadata that came with the push (its SHA-1 is the info-hash, and
    // libtorrent checks that again): no peer need be asked for it. It is
    // checked as any metadata is, once the fetch has it (accept_metadata).
    if (!pushed.info.empty()) {
      try {
        h->set_metadata(lt::span<char const>(pushed.info.data(),
                                             static_cast<std::ptrdiff_t>(pushed.info.size())));
      } catch (const lt::system_error&) {
        // Removed meanwhile: the fetch below says so.
      }
    }
    auto peers =
        r.info_hash ? node_.push_peers(*r.info_hash) : std::vector<std::pair<std::string, int>>{};
    peers.insert(peers.begin(), {pushed.from_host, pushed.from_port});
    for (const auto& [host, port] : peers) {
      lt::error_code ec;
      const auto ip = lt::make_address(host, ec);
      if (!ec && port > 0 && port < 65536) {
        h->connect_peer(lt::tcp::endpoint(ip, static_cast<std::uint16_t>(port)));
      }
    }
  }
  if (adopt_version(address, ptr)) {
    note_change(address);
    node_.push_pointer(ptr.value.ih, ptr);
    std::lock_guard lock(retry_mutex_);
    unannounced_[ptr.key] = ptr;  // hold the new name at once
  }
  done();
}

bool SiteManager::follow_rate_allows(const SiteAddress& address) {
  const auto now = Clock::now();
  std::lock_guard lock(mirrors_mutex_);
  auto& times = follow_adoptions_[address.str()];
  std::erase_if(times, [&](auto t) { return now - t >= std::chrono::minutes(1); });
  if (times.size() >= static_cast<std::size_t>(kFollowVersionsPerMinute)) {
    auto& logged = rate_logged_[address.str()];
    if (now - logged >= std::chrono::minutes(1)) {
      logged = now;
      LogLine(LogLevel::kWarning)
          << address.str() << " published more than " << kFollowVersionsPerMinute
          << " versions within a minute; a followed feed takes no more, and the newest "
             "at its next poll after the minute";
    }
    return false;
  }
  times.push_back(now);
  return true;
}

std::chrono::milliseconds poll_interval(std::chrono::milliseconds since_change,
                                        std::chrono::milliseconds base) {
  if (since_change < std::chrono::hours(1)) return base;
  return std::clamp(since_change / 8, base, base * 12);
}

std::chrono::milliseconds poll_tick(std::chrono::milliseconds base) {
  return std::clamp(base / 30, std::chrono::milliseconds(1000), std::chrono::milliseconds(10000));
}

void SiteManager::note_change(const SiteAddress& address) {
  std::lock_guard lock(mirrors_mutex_);
  PollPlan& plan = poll_plans_[address.str()];
  plan.changed = Clock::now();
  plan.due = plan.changed + options_.mirror_interval;
}

void SiteManager::follow_mirrors() {
  auto sites = catalog_.sites();
  if (!sites) return;
  const auto now = Clock::now();
  const std::chrono::milliseconds interval = options_.mirror_interval;
  std::random_device rd;
  std::uniform_int_distribution<std::int64_t> spread(0,
                                                     std::max<std::int64_t>(interval.count(), 1));
  std::set<std::string> kept;
  for (const auto& s : *sites) {
    if (!is_kept(s.role)) continue;
    kept.insert(s.address.str());
    {
      std::lock_guard lock(mirrors_mutex_);
      auto [p, fresh] = poll_plans_.try_emplace(s.address.str());
      if (fresh) p->second.due = now + std::chrono::milliseconds(spread(rd));
      if (now < p->second.due) continue;                       // not due yet
      if (polling_.size() >= kPollsAtOnce) continue;           // due: at a later tick
      if (!polling_.insert(s.address.str()).second) continue;  // still running
    }
    SiteAddress a = s.address;
    start_thread([this, a] {
      poll_mirror(a);
      std::lock_guard lock(mirrors_mutex_);
      polling_.erase(a.str());
    });
  }
  std::lock_guard lock(mirrors_mutex_);
  std::erase_if(poll_plans_, [&](const auto& p) { return !kept.count(p.first); });
  std::erase_if(rate_logged_, [&](const auto& p) { return !kept.count(p.first); });
}

void SiteManager::resume_mirrors() {
  auto sites = catalog_.sites();
  if (!sites) return;
  for (const auto& s : *sites) {
    // A mirror whose catalog pointer names a version it does not serve yet:
    // its fetch was cut short (a crash, a stop).
    const bool kept = is_kept(s.role);
    if (!kept || !s.pointer || s.pointer->seq <= s.seq) continue;
    if (s.info_hash && *s.info_hash == s.pointer->value.ih) continue;
    {
      std::lock_guard lock(mirrors_mutex_);
      if (!polling_.insert(s.address.str()).second) continue;
    }
    LogLine(LogLevel::kInfo) << "resuming the mirror of " << s.address.str() << " (version "
                             << s.pointer->seq << ")";
    SiteAddress a = s.address;
    SignedPointer ptr = *s.pointer;
    start_thread([this, a, ptr] {
      adopt_version(a, ptr);
      std::lock_guard lock(mirrors_mutex_);
      polling_.erase(a.str());
    });
  }
}

void SiteManager::poll_mirror(const SiteAddress& address) {
  if (stopping_) return;
  auto record = catalog_.site(address);
  if (!record || !*record) return;
  const SiteRecord r = **record;
  if (!is_kept(r.role)) return;
  // Nodes that hold the name are asked directly with the seq known here
  // (node/poll.hpp): 2 short answers when nothing changed, instead of a full
  // lookup's dozens of whole items; a walk once an hour counts the copies.
  const std::int64_t known = r.pointer ? std::max(r.seq, r.pointer->seq) : r.seq;
  bool walk = false;
  {
    std::lock_guard lock(mirrors_mutex_);
    const PollPlan& plan = poll_plans_[address.str()];
    walk = plan.walked == Clock::time_point{} ||
           Clock::now() - plan.walked >= kWalkEvery * options_.republish_interval;
  }
  const PointerPoll poll =
      node_.poll_pointer(address.key(), known, options_.resolve_timeout, walk).get();
  std::optional<SignedPointer> ptr = r.pointer;  // a fetch cut short is taken up again
  if (poll.answered > 0) ++(poll.walked ? polls_walked_ : polls_direct_);
  if (poll.newer) ++polls_newer_;
  poll_bytes_ += poll.bytes;
  if (poll.newer) {
    // Rollback protection as for any DHT answer: the highest seen wins.
    if (auto kept = catalog_.observe_pointer(*poll.newer)) ptr = *kept;
  } else if (poll.answered == 0) {
    // No node answered (a DHT still forming): libtorrent's own lookup.
    ++polls_lookup_;
    if (auto found = resolve_pointer(address, options_.resolve_timeout)) ptr = *found;
  }
  const auto now = Clock::now();
  {
    std::lock_guard lock(mirrors_mutex_);
    PollPlan& plan = poll_plans_[address.str()];
    if (poll.newer) plan.changed = now;
    if (poll.walked && poll.answered > 0) {
      plan.walked = now;
      plan.well_held = poll.copies >= kEnoughCopies && !poll.newer ? now : Clock::time_point{};
    }
    plan.due = now + poll_interval(
                         std::chrono::duration_cast<std::chrono::milliseconds>(now - plan.changed),
                         options_.mirror_interval);
  }
  if (poll.closest >= kEnoughCopies / 2 && poll.current * 2 < poll.closest && r.pointer &&
      !poll.newer) {
    // Most of the closest nodes lack the current seq (they joined since, or
    // dropped it): put it again now, not at the next republish round. (A
    // walk's count; a direct poll asks too few nodes to tell.)
    std::lock_guard lock(retry_mutex_);
    auto& q = unannounced_[address.key()];
    if (q.seq <= r.pointer->seq) q = *r.pointer;
  }
  if (!ptr || ptr->seq <= r.seq) return;
  if (r.info_hash && ptr->value.ih == *r.info_hash) return;
  if (size_capped(r.role) && !follow_rate_allows(address)) return;
  if (!adopt_version(address, *ptr)) return;
  std::lock_guard lock(retry_mutex_);
  unannounced_[ptr->key] = *ptr;  // hold the new name at once
}

}  // namespace hostless
