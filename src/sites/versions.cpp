// A site's versions on this node: adopting a new one whole before switching,
// holding the old one for a grace time, sealing stored files read-only, and
// freeing versions nobody uses any more (within the visit cache's size).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "sites/sites.hpp"
#include "util/log.hpp"

namespace hostless {
namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

bool SiteManager::adopt_version(const SiteAddress& address, const SignedPointer& ptr) {
  // Fetch the new version whole, then switch: until then the old version is
  // the one served and seeded, so no visitor gets a page of one version with
  // assets of another.
  auto record = catalog_.site(address);
  const bool followed = record && *record && (*record)->role == SiteRole::kFollowed;
  const bool media = !followed || (*record)->media;
  const bool is_capped = record && *record && size_capped((*record)->role);
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
  (void)catalog_.retire_version(ih, now_unix() + options_.version_grace.count());
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
