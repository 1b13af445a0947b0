// The sites layer's keeping: mirrors, followed feeds and blocklists (whole
// copies that follow updates and keep the name alive; updates.cpp), taken on
// and let go, and petnames.
#include <thread>

#include "sites/sites.hpp"
#include "util/log.hpp"

namespace hostless {
namespace fs = std::filesystem;
using json = nlohmann::json;

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
}  // namespace

bool size_capped(SiteRole role) {
  return role == SiteRole::kFollowed || role == SiteRole::kBlocklist;
}

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
      r->added = now_unix();
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
                         size_capped(role) ? options_.follow_max_bytes : 0, !follow || media);
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
            r->added = now_unix();
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

}  // namespace hostless
