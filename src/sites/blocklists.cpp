// The sites layer's blocklists (docs/microblog.md, "Blocklists"): sites
// whose blocklist.json names sites to block, kept like a mirror; what they
// list is neither visited, seeded nor suggested here, unless this node
// follows or mirrors it (the user's own choice wins).

#include "feed/feed.hpp"
#include "sites/sites.hpp"
#include "util/files.hpp"
#include "util/log.hpp"

namespace hostless {
namespace fs = std::filesystem;
using json = nlohmann::json;

Result<std::string> SiteManager::start_subscribe(const std::string& address) {
  auto addr = SiteAddress::parse(address);
  if (!addr) return addr.error();
  SiteAddress a = *addr;
  return run_job("subscribe", [this, a](const Progress& progress) -> Result<json> {
    auto kept = keep(a, SiteRole::kBlocklist, "", true, progress);
    if (!kept) return kept.error();
    // Only a blocklist is kept as one.
    auto record = catalog_.site(a);
    std::optional<InfoHash> ih = record && *record ? (*record)->info_hash : std::nullopt;
    auto list = ih ? read_blocklist(a, *ih) : make_error("no version held");
    if (!list) {
      (void)unkeep(a, SiteRole::kBlocklist);
      return make_error(a.str() + " is not a blocklist: " + list.error().message);
    }
    reload_blocklists();
    (*kept)["entries"] = list->size();
    return kept;
  });
}

Result<json> SiteManager::unsubscribe(const std::string& address) {
  auto addr = SiteAddress::parse(address);
  if (!addr) return addr.error();
  auto r = unkeep(*addr, SiteRole::kBlocklist);
  if (r) reload_blocklists();
  return r;
}

json SiteManager::blocklists() {
  std::lock_guard lock(blocklists_mutex_);
  return lists_;
}

Result<std::vector<feed::Listed>> SiteManager::read_blocklist(const SiteAddress& address,
                                                              const InfoHash& ih) {
  // Held whole like a mirror: read from the version's files.
  auto text = read_file_capped(version_dir(ih) / address.str() / "blocklist.json",
                               feed::kMaxBlocklistBytes);
  if (!text) {
    return make_error("it has no readable blocklist.json of at most " +
                      std::to_string(feed::kMaxBlocklistBytes >> 10) + " KiB");
  }
  return feed::parse_blocklist(*text);
}

std::optional<SiteManager::Listing> SiteManager::listed(const std::string& address) {
  std::lock_guard lock(blocklists_mutex_);
  if (auto it = listed_.find(address); it != listed_.end()) return it->second;
  return std::nullopt;
}

void SiteManager::reload_blocklists() {
  // One at a time, so an older read never replaces a newer one.
  std::lock_guard reload_lock(blocklists_reload_mutex_);
  auto sites = catalog_.sites();
  if (!sites) return;
  std::map<std::string, Listing> listed;
  json lists = json::array();
  for (const auto& s : *sites) {
    if (s.role != SiteRole::kBlocklist) continue;
    json l = {{"address", s.address.str()}, {"seq", s.seq}};
    auto list = s.info_hash ? read_blocklist(s.address, *s.info_hash)
                            : Result<std::vector<feed::Listed>>(make_error("no version held yet"));
    if (!list) {
      l["error"] = list.error().message;
    } else {
      l["entries"] = list->size();
      for (const auto& e : *list) listed.try_emplace(e.address, Listing{s.address.str(), e.reason});
    }
    lists.push_back(std::move(l));
  }
  {
    std::lock_guard lock(blocklists_mutex_);
    listed_ = listed;
    lists_ = std::move(lists);
  }
  // What a list names stops being seeded: visited copies are freed (a
  // published, followed or mirrored site stays: the user chose it).
  for (const auto& s : *sites) {
    if (s.role != SiteRole::kVisited || !listed.count(s.address.str())) continue;
    auto dropped = let_go(
        s.address,
        [&]() -> Status {
          // Not if followed or mirrored meanwhile: the user's choice.
          auto now = catalog_.site(s.address);
          if (!now || !*now || (*now)->role != SiteRole::kVisited) {
            return make_error("no longer a visited site");
          }
          return catalog_.remove_site(s.address);
        },
        s.info_hash);
    if (dropped) {
      LogLine(LogLevel::kWarning) << "dropped " << s.address.str() << ": listed by the blocklist "
                                  << listed[s.address.str()].list;
    }
  }
}

}  // namespace hostless
