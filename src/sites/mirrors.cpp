// The sites layer's keeping half: mirrors and followed feeds (whole copies
// that follow updates and keep the name alive), and freeing versions nobody
// uses any more.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <thread>

#include "sites/sites.hpp"
#include "util/log.hpp"

namespace hostless {
namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// How a kept site's role reads: "mirrored", "followed", "subscribed to".
std::string kept_as(SiteRole role) {
  return role == SiteRole::kBlocklist ? "subscribed to as a blocklist" : role_name(role);
}
// The command that ends a kept role.
const char* undo_command(SiteRole role) {
  return role == SiteRole::kFollowed    ? "unfollow"
         : role == SiteRole::kBlocklist ? "blocklist unsubscribe"
                                        : "unmirror";
}
// What the answer of ending it says: {"unfollowed": true} and so on.
const char* undone(SiteRole role) {
  return role == SiteRole::kFollowed    ? "unfollowed"
         : role == SiteRole::kBlocklist ? "unsubscribed"
                                        : "unmirrored";
}
// What keeping in the role is called.
const char* keep_verb(SiteRole role) {
  return role == SiteRole::kFollowed    ? "follow"
         : role == SiteRole::kBlocklist ? "subscribe to"
                                        : "mirror";
}
// Kept within --follow-max-mib (and its size cap refused before download):
// followed feeds and blocklists. A mirror takes any size.
bool capped(SiteRole role) {
  return role == SiteRole::kFollowed || role == SiteRole::kBlocklist;
}

}  // namespace

Result<std::string> SiteManager::start_mirror(const std::string& address) {
  auto addr = SiteAddress::parse(address);
  if (!addr) return addr.error();
  SiteAddress a = *addr;
  return run_job("mirror", [this, a](const Progress& progress) { return mirror(a, progress); });
}

Result<json> SiteManager::mirror(const SiteAddress& address, const Progress& progress) {
  return keep(address, SiteRole::kMirrored, "", true, progress);
}

Result<std::string> SiteManager::start_follow(const std::string& address, const std::string& handle,
                                              bool media) {
  auto addr = SiteAddress::parse(address);
  if (!addr) return addr.error();
  auto h = parse_handle(handle);
  if (!h) return h.error();
  SiteAddress a = *addr;
  return run_job("follow", [this, a, h = *h, media](const Progress& progress) {
    return follow(a, h, media, progress);
  });
}

Result<json> SiteManager::follow(const SiteAddress& address, const std::string& handle, bool media,
                                 const Progress& progress) {
  if (!handle.empty()) {
    if (auto free = site_names_.check_free(handle, address); !free) {
      return make_error(free.error().message + "; choose another with --as", ErrorKind::kInvalid);
    }
  }
  return keep(address, SiteRole::kFollowed, handle, media, progress);
}

Result<std::string> SiteManager::name_address(const std::string& label) {
  auto address = site_names_.lookup(label);
  if (!address) return address.error();
  return address->str();
}

Result<json> SiteManager::names() {
  return site_names_.list();
}

Result<json> SiteManager::set_name(const std::string& name, const std::string& address,
                                   bool replace) {
  return site_names_.set(name, address, replace);
}

Result<json> SiteManager::remove_name(const std::string& name) {
  return site_names_.remove(name);
}

Result<json> SiteManager::keep(const SiteAddress& address, SiteRole role, const std::string& handle,
                               bool media, const Progress& progress) {
  const bool follow = role == SiteRole::kFollowed;
  // Why this node will not keep the site in `role`, given its record's role.
  const auto conflict = [&](SiteRole current) -> std::optional<Error> {
    if (current == SiteRole::kPublished) {
      return make_error("this node publishes " + address.str() +
                        "; it already seeds it and keeps its name alive");
    }
    if (current == SiteRole::kBlocked) {
      return make_error("you blocked " + address.str() + "; `hostless unblock` it first",
                        ErrorKind::kRefused);
    }
    if (current != role && is_kept(current)) {
      return make_error(address.str() + " is " + kept_as(current) + " by this node; `hostless " +
                        undo_command(current) + "` it first to " + std::string(keep_verb(role)) +
                        " it instead");
    }
    return std::nullopt;
  };
  auto existing = catalog_.site(address);
  if (!existing) return existing.error();
  if (*existing) {
    if (auto why = conflict((*existing)->role)) return *why;
  }
  if (progress.fn) progress.fn("finding the name", 0, 0);
  auto ptr = resolve_pointer(address, options_.resolve_timeout);
  if (!ptr) return ptr.error();
  // The site is recorded before its fetch: a daemon stopped or killed
  // meanwhile goes on with it when it starts again (resume_mirrors), from the
  // pieces already verified on disk. Until the fetch is done the site serves
  // what it served before (nothing, for a new one).
  std::optional<Error> refused;
  // Takes any other site in `role` (added if new); refuses on a conflict.
  const auto admit = [&](std::optional<SiteRecord>& r) {
    if (r && r->role != role) refused = conflict(r->role);
    if (refused) return false;
    if (!r) {
      r.emplace();
      r->address = address;
      r->added = static_cast<std::int64_t>(std::time(nullptr));
    }
    r->role = role;
    if (follow && !handle.empty()) r->handle = handle;
    r->media = follow && media;
    return true;
  };
  bool was_kept = false;
  auto intent = catalog_.update_site(address, [&](std::optional<SiteRecord>& r) {
    was_kept = r && r->role == role;
    if (!admit(r)) return false;
    if (!r->pointer || r->pointer->seq < ptr->seq) r->pointer = *ptr;
    return true;
  });
  if (refused) return *refused;
  if (!intent) return intent.error();
  auto h = fetch_version(address, ptr->value.ih, progress,
                         capped(role) ? options_.follow_max_bytes : 0, !follow || media);
  if (!h) {
    // A failed mirror or follow is none (a stopping daemon's is resumed
    // instead). One stopped by a full disk stays: it goes on when there is
    // room.
    if (!was_kept && !stopping_ && !waits_for_space(ptr->value.ih)) {
      (void)catalog_.update_site(address, [&](std::optional<SiteRecord>& r) {
        if (!r || r->role != role) return false;
        r->role = SiteRole::kVisited;
        r->handle.clear();
        return true;
      });
    }
    return h.error();
  }

  auto stored = switch_version(address, *ptr, admit);
  if (refused) return *refused;
  if (!stored) {
    return make_error("cannot record " + address.str() + " as " + kept_as(role) +
                      " in the catalog");
  }
  const SiteRecord& record = *stored;
  {
    // Hold the name from now on, not only at the next re-put round.
    std::lock_guard lock(retry_mutex_);
    if (record.pointer) unannounced_[record.pointer->key] = *record.pointer;
  }
  json j = {{"address", address.str()},
            {"seq", record.seq},
            {"info_hash", record.info_hash->hex()},
            {"url", url_for(address)}};
  if (!record.handle.empty()) j["handle"] = record.handle;
  if (follow) j["media"] = record.media;
  if (auto st = h->status({}); st.has_metadata) j["bytes"] = st.total_wanted;
  return j;
}

Result<json> SiteManager::unmirror(const std::string& address) {
  auto addr = SiteAddress::parse(address);
  if (!addr) return addr.error();
  return unkeep(*addr, SiteRole::kMirrored);
}

Result<json> SiteManager::unfollow(const std::string& address_or_handle) {
  auto sites = catalog_.sites();
  if (!sites) return sites.error();
  for (const auto& s : *sites) {
    if (s.role == SiteRole::kFollowed && s.handle == address_or_handle) {
      return unkeep(s.address, SiteRole::kFollowed);
    }
  }
  auto addr = SiteAddress::parse(address_or_handle);
  if (!addr) {
    return make_error("\"" + address_or_handle +
                          "\" is neither a followed feed's handle nor a site address (see "
                          "`hostless following`)",
                      ErrorKind::kNotFound);
  }
  return unkeep(*addr, SiteRole::kFollowed);
}

Result<json> SiteManager::unkeep(const SiteAddress& address, SiteRole role) {
  auto existing = catalog_.site(address);
  if (!existing) return existing.error();
  if (!*existing || (*existing)->role != role) {
    return make_error(address.str() + " is not " + kept_as(role) +
                      " by this node (see `hostless sites`)");
  }
  auto ih = (*existing)->info_hash;
  if (auto s = let_go(
          address, [&]() -> Status { return catalog_.remove_site(address); }, ih);
      !s) {
    return s.error();
  }
  return json{{"address", address.str()}, {undone(role), true}};
}

Status SiteManager::let_go(const SiteAddress& address, const std::function<Status()>& change,
                           const std::optional<InfoHash>& held) {
  // No poll or pushed adoption of the site may run meanwhile: its lookup
  // would record the site again (Catalog::observe_pointer adds a visited
  // row), and it would be back in `sites` (seen under ASan with a 1 s
  // --mirror-interval). Claimed as polling_ until done; a running one is
  // waited for (up to 30 s).
  for (int i = 0; i < 300; ++i) {
    {
      std::lock_guard lock(mirrors_mutex_);
      if (polling_.insert(address.str()).second) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const auto release = [&] {
    std::lock_guard lock(mirrors_mutex_);
    polling_.erase(address.str());
  };
  if (auto s = change(); !s) {
    release();
    return s;
  }
  {
    std::lock_guard lock(retry_mutex_);
    unannounced_.erase(address.key());
  }
  {
    std::lock_guard lock(mirrors_mutex_);
    follow_adoptions_.erase(address.str());
  }
  {
    // What visit() remembered of the site, also a failed visit.
    std::lock_guard lock(visits_mutex_);
    warm_.erase(address.str());
    visits_.erase(address.str());
  }
  if (held) free_version(*held);
  release();
  return {};
}

Result<json> SiteManager::block(const std::string& address_text) {
  auto addr = SiteAddress::parse(address_text);
  if (!addr) return addr.error();
  const SiteAddress address = *addr;
  auto existing = catalog_.site(address);
  if (!existing) return existing.error();
  if (*existing && (*existing)->role == SiteRole::kPublished) {
    return make_error("this node publishes " + address.str() +
                      "; a site of your own cannot be blocked");
  }
  std::optional<InfoHash> held = *existing ? (*existing)->info_hash : std::nullopt;
  bool published = false;
  auto s = let_go(
      address,
      [&]() -> Status {
        auto stored = catalog_.update_site(address, [&](std::optional<SiteRecord>& r) {
          if (r && r->role == SiteRole::kPublished) {
            published = true;  // published meanwhile
            return false;
          }
          if (!r) {
            r.emplace();
            r->address = address;
            r->added = static_cast<std::int64_t>(std::time(nullptr));
          }
          if (r->info_hash) held = r->info_hash;
          r->role = SiteRole::kBlocked;
          r->handle.clear();
          r->info_hash.reset();
          r->seq = 0;
          return true;
        });
        if (published) return make_error("this node publishes " + address.str());
        if (!stored) return stored.error();
        return {};
      },
      held);
  if (!s) return s.error();
  // A blocked blocklist blocks nothing any more.
  if (*existing && (*existing)->role == SiteRole::kBlocklist) reload_blocklists();
  return json{{"address", address.str()}, {"blocked", true}};
}

Result<json> SiteManager::unblock(const std::string& address_text) {
  auto addr = SiteAddress::parse(address_text);
  if (!addr) return addr.error();
  auto existing = catalog_.site(*addr);
  if (!existing) return existing.error();
  if (!*existing || (*existing)->role != SiteRole::kBlocked) {
    return make_error(addr->str() + " is not blocked (see `hostless sites`)");
  }
  if (auto s = catalog_.remove_site(*addr); !s) return s.error();
  {
    std::lock_guard lock(visits_mutex_);
    visits_.erase(addr->str());  // the refused visit: the next one opens it
  }
  return json{{"address", addr->str()}, {"unblocked", true}};
}

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
                              << pushed.from_port;
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
  if (r.info_hash) node_.push_pointer(*r.info_hash, ptr);  // passed on, once per peer
  // A visited site takes it at its next visit's refresh (the catalog holds it).
  if (!kept) return;
  if (capped(r.role) && !follow_rate_allows(address)) return done();
  // The peer that pushed it most likely holds the new version, or soon will,
  // and so will the other peers of the version held (the site's other
  // followers, fetching it too): ask them first, before the DHT has heard of
  // the version, so followers swarm instead of all waiting on the author.
  if (auto h = add_version(address, ptr.value.ih)) {
    if (r.role == SiteRole::kFollowed) node_.keep_push_peers(ptr.value.ih);
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
  std::set<std::string> kept;
  for (const auto& s : *sites) {
    if (!is_kept(s.role)) continue;
    kept.insert(s.address.str());
    {
      std::lock_guard lock(mirrors_mutex_);
      // Not due yet (half an interval of slack: this runs once per interval).
      if (auto p = poll_plans_.find(s.address.str());
          p != poll_plans_.end() && now + options_.mirror_interval / 2 < p->second.due) {
        continue;
      }
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
  // (node/poll.hpp): 4 short answers when nothing changed, instead of a full
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
    // dropped it): put it again now, not at the next republish round.
    std::lock_guard lock(retry_mutex_);
    auto& q = unannounced_[address.key()];
    if (q.seq <= r.pointer->seq) q = *r.pointer;
  }
  if (!ptr || ptr->seq <= r.seq) return;
  if (r.info_hash && ptr->value.ih == *r.info_hash) return;
  if (capped(r.role) && !follow_rate_allows(address)) return;
  if (!adopt_version(address, *ptr)) return;
  std::lock_guard lock(retry_mutex_);
  unannounced_[ptr->key] = *ptr;  // hold the new name at once
}

bool SiteManager::adopt_version(const SiteAddress& address, const SignedPointer& ptr) {
  // Fetch the new version whole, then switch: until then the old version is
  // the one served and seeded, so no visitor gets a page of one version with
  // assets of another.
  auto record = catalog_.site(address);
  const bool followed = record && *record && (*record)->role == SiteRole::kFollowed;
  const bool media = !followed || (*record)->media;
  const bool is_capped = record && *record && capped((*record)->role);
  if (is_capped) {
    std::lock_guard lock(refused_mutex_);
    if (over_cap_.count(ptr.value.ih)) return false;  // said once, when refused
  }
  if (followed) keep_followed_version(address, ptr.value.ih);
  auto h = fetch_version(address, ptr.value.ih, Progress{},
                         is_capped ? options_.follow_max_bytes : 0, media);
  if (!h) {
    if (is_capped) {
      LogLine(LogLevel::kWarning) << "not taking version " << ptr.seq << " of the "
                                  << ((*record)->role == SiteRole::kBlocklist ? "blocklist "
                                                                              : "followed feed ")
                                  << address.str() << ": " << h.error().message;
    }
    return false;
  }
  auto stored = switch_version(address, ptr, [&](std::optional<SiteRecord>& r) {
    // Not if unmirrored, evicted or moved on meanwhile.
    return r && r->role != SiteRole::kPublished && r->seq < ptr.seq;
  });
  const bool adopted = stored && stored->info_hash == ptr.value.ih;
  if (adopted && stored->role == SiteRole::kBlocklist) reload_blocklists();
  return adopted;
}

std::optional<SiteRecord> SiteManager::switch_version(
    const SiteAddress& address, const SignedPointer& ptr,
    const std::function<bool(std::optional<SiteRecord>&)>& admit) {
  std::optional<InfoHash> previous;
  bool switched = false;
  auto stored = catalog_.update_site(address, [&](std::optional<SiteRecord>& r) {
    if (!admit(r) || !r) return false;
    previous = r->info_hash;
    if (!r->pointer || r->pointer->seq < ptr.seq) r->pointer = ptr;
    // Never backwards: a lower seq than the served one leaves it served.
    if (r->role != SiteRole::kPublished && (!r->info_hash || r->seq <= ptr.seq)) {
      r->seq = ptr.seq;
      r->info_hash = ptr.value.ih;
      switched = true;
    }
    return true;
  });
  if (switched) {
    hold_version(address, ptr.seq, ptr.value.ih);
    if (previous && *previous != ptr.value.ih) retire_version(*previous);
  } else if (!stored || !*stored || (*stored)->info_hash != ptr.value.ih) {
    retire_version(ptr.value.ih);  // fetched for nothing (freed only if no site uses it)
  }
  if (!stored || !*stored) return std::nullopt;
  return *stored;
}

void SiteManager::hold_version(const SiteAddress& address, std::int64_t seq, const InfoHash& ih) {
  std::uint64_t bytes = 0;
  if (auto h = node_.find_torrent(ih); h.is_valid()) {
    if (auto ti = h.torrent_file()) {
      const auto& files = ti->files();
      for (auto i : files.file_range()) {
        if (!files.pad_file_at(i)) bytes += static_cast<std::uint64_t>(files.file_size(i));
      }
    }
  }
  (void)catalog_.put_version({ih, address, seq, bytes, 0});
  // The catalog names a new version: what visit() remembered of the site is
  // stale (it would serve the old version for up to kWarmFor after `publish`
  // returned), and a read of the catalog from before the switch must not be
  // remembered after it.
  std::lock_guard lock(visits_mutex_);
  auto& slot = warm_[address.str()];
  slot.at = {};
  slot.record.seq = std::max(slot.record.seq, seq);
}

void SiteManager::retire_version(const InfoHash& ih) {
  (void)catalog_.retire_version(
      ih, static_cast<std::int64_t>(std::time(nullptr)) + options_.version_grace.count());
  std::lock_guard lock(mirrors_mutex_);
  retired_[ih] = Clock::now() + options_.version_grace;
}

void SiteManager::collect_versions() {
  std::vector<InfoHash> due;
  {
    std::lock_guard lock(mirrors_mutex_);
    for (auto it = retired_.begin(); it != retired_.end();) {
      if (Clock::now() < it->second) {
        ++it;
        continue;
      }
      due.push_back(it->first);
      it = retired_.erase(it);
    }
  }
  if (due.empty()) return;
  start_thread([this, due] {
    for (const auto& ih : due) free_version(ih);
  });
}

namespace {

// Sets a stored file's mode without following a link (the store holds none,
// as metadata with links is refused; a link put there is left alone).
void set_mode(const fs::path& path, mode_t mode) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fchmod(fd, mode);
  ::close(fd);
}

}  // namespace

void SiteManager::seal_whole_versions() {
  for (const auto& [ih, st] : node_.statuses()) {
    if (!st.is_seeding) continue;
    {
      std::lock_guard lock(sealed_mutex_);
      if (sealed_.count(ih) != 0) continue;
    }
    auto ti = st.handle.torrent_file();
    if (!ti) continue;
    const auto& files = ti->files();
    const fs::path dir = version_dir(ih);
    for (auto i : files.file_range()) {
      if (!files.pad_file_at(i)) set_mode(dir / files.file_path(i), 0444);
    }
    std::lock_guard lock(sealed_mutex_);
    sealed_.insert(ih);
  }
}

void SiteManager::unseal_file(const InfoHash& ih, const std::string& path_in_version) {
  {
    std::lock_guard lock(sealed_mutex_);
    sealed_.erase(ih);  // sealed again once whole
  }
  set_mode(version_dir(ih) / path_in_version, 0644);
}

void SiteManager::free_version(const InfoHash& ih) {
  auto sites = catalog_.sites();
  if (!sites) return;
  for (const auto& s : *sites) {
    if (s.info_hash && *s.info_hash == ih) return;  // still some site's version
  }
  {
    // Nothing serves it from here on.
    std::lock_guard lock(visits_mutex_);
    views_.erase(ih.hex());
    background_.erase(ih.hex());
    complete_.erase(ih.hex());
    disk_paths_.erase(ih.hex());
    {
      std::lock_guard sealed_lock(sealed_mutex_);
      sealed_.erase(ih);
    }
    completion_checked_.erase(ih.hex());
    titles_.erase(ih.hex());
    std::erase_if(warm_, [&](const auto& w) { return w.second.record.info_hash == ih; });
  }
  drop_twin(ih);
  node_.remove_torrent(node_.find_torrent(ih), true);
  (void)catalog_.remove_version(ih);
  std::error_code ec;
  // libtorrent deletes the files too, at the same time: a file it removed
  // between our listing and our unlink stops remove_all, so try again.
  for (int i = 0; i < 50 && fs::exists(version_dir(ih), ec); ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    fs::remove_all(version_dir(ih), ec);
  }
  fs::remove(torrent_path(ih), ec);
}

void SiteManager::enforce_visit_cache() {
  auto sites = catalog_.sites();
  if (!sites) return;
  struct Held {
    SiteRecord record;
    std::uint64_t bytes;
  };
  std::vector<Held> visited;
  std::uint64_t total = 0;
  for (const auto& s : *sites) {
    if (s.role != SiteRole::kVisited || !s.info_hash) continue;
    auto h = node_.find_torrent(*s.info_hash);
    std::uint64_t bytes = h.is_valid() ? static_cast<std::uint64_t>(h.status({}).total_done) : 0;
    visited.push_back({s, bytes});
    total += bytes;
  }
  if (total <= options_.visit_cache_bytes) return;
  std::sort(visited.begin(), visited.end(), [](const Held& a, const Held& b) {
    return std::tie(a.record.last_visit, a.record.added) <
           std::tie(b.record.last_visit, b.record.added);
  });
  // The most recently visited site stays, whatever its size: it is likely
  // on someone's screen.
  for (std::size_t i = 0; i + 1 < visited.size() && total > options_.visit_cache_bytes; ++i) {
    const auto& v = visited[i];
    if (!catalog_.remove_site(v.record.address)) continue;
    free_version(*v.record.info_hash);
    total -= v.bytes;
    LogLine(LogLevel::kWarning) << "visit cache full: evicted " << v.record.address.str() << " ("
                                << v.bytes << " bytes)";
  }
}

}  // namespace hostless
