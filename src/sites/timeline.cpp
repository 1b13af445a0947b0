// The sites layer's timeline: the newest posts of the followed feeds and of
// this node's own, read from the versions this node holds (docs/microblog.md, "Timeline").
#include <algorithm>
#include <ctime>
#include <set>

#include "feed/feed.hpp"
#include "sites/sites.hpp"
#include "util/files.hpp"

namespace hostless {
namespace fs = std::filesystem;
using json = nlohmann::json;

json SiteManager::timeline(std::size_t limit) {
  json posts = json::array();
  json feeds = json::array();
  auto sites = catalog_.sites();
  if (!sites) return {{"posts", posts}, {"feeds", feeds}, {"error", sites.error().message}};
  std::map<InfoHash, std::int64_t> held_since;
  if (auto all = catalog_.versions()) {
    for (const auto& v : *all) held_since[v.info_hash] = v.added;
  }
  std::map<std::string, std::string> handles;  // address -> handle
  std::set<std::string> published;
  for (const auto& s : *sites) {
    if (s.role == SiteRole::kFollowed && !s.handle.empty()) handles[s.address.str()] = s.handle;
    if (s.role == SiteRole::kPublished) published.insert(s.address.str());
  }
  const auto now = now_unix();
  for (const auto& s : *sites) {
    // The followed feeds, and this node's own: a published site that is a
    // feed (its version has a feed.json).
    const bool own = s.role == SiteRole::kPublished;
    if (s.role != SiteRole::kFollowed && !own) continue;
    const std::string address = s.address.str();
    std::error_code ec;
    if (own &&
        (!s.info_hash || !fs::exists(version_dir(*s.info_hash) / address / "feed.json", ec))) {
      continue;
    }
    json f = {{"address", address}, {"seq", s.seq}};
    if (own) f["own"] = true;
    if (!s.handle.empty()) f["handle"] = s.handle;
    if (!s.info_hash) {
      f["error"] = "no version held yet";
      feeds.push_back(std::move(f));
      continue;
    }
    // A version is the site's only once it is whole (adopt_version), and its
    // torrent's one top folder is named after the address.
    const fs::path file = version_dir(*s.info_hash) / address / "feed.json";
    auto text = read_file_capped(file, feed::kMaxFeedJsonBytes);
    auto parsed = text ? feed::parse_recent_posts(*text)
                       : Result<std::vector<feed::Post>>(
                             make_error("no readable feed.json of at most " +
                                        std::to_string(feed::kMaxFeedJsonBytes >> 10) + " KiB"));
    if (!parsed) {
      f["error"] = parsed.error().message;
      feeds.push_back(std::move(f));
      continue;
    }
    f["posts"] = parsed->size();
    feeds.push_back(std::move(f));
    const std::int64_t fetched = held_since.count(*s.info_hash) ? held_since[*s.info_hash] : now;
    for (const auto& p : *parsed) {
      // A post dated in the future is shown at the time this node got it.
      const std::int64_t shown = p.published > now ? fetched : p.published;
      json j = {{"feed", address},
                {"id", p.id},
                {"url", "hostless://" + address + "/feed.json#" + p.id},
                {"time", shown},
                {"published", p.published},
                {"text", p.text}};
      if (!s.handle.empty()) j["handle"] = s.handle;
      if (own) j["own"] = true;
      if (!p.reply_to.empty()) {
        j["reply_to"] = p.reply_to;
        // Threads: a reply to a followed feed names it by its handle, one to
        // this node's own feeds says so.
        const std::string prefix = "hostless://";
        if (p.reply_to.rfind(prefix, 0) == 0) {
          const std::string target = p.reply_to.substr(prefix.size(), SiteAddress::kLength);
          if (auto h = handles.find(target); h != handles.end()) j["reply_to_handle"] = h->second;
          if (published.count(target)) j["reply_to_own"] = true;
        }
      }
      if (!p.mentions.empty()) j["mentions"] = p.mentions;
      json attachments = json::array();
      for (const auto& a : p.attachments) {
        attachments.push_back({{"url", url_for(s.address) + a.url},  // a.url: "media/<name>"
                               {"mime_type", a.mime_type},
                               {"size", a.size}});
      }
      if (!attachments.empty()) j["attachments"] = std::move(attachments);
      posts.push_back(std::move(j));
    }
  }
  std::sort(posts.begin(), posts.end(), [](const json& a, const json& b) {
    if (a["time"] != b["time"])
      return a["time"].get<std::int64_t>() > b["time"].get<std::int64_t>();
    return a["id"].get<std::string>() > b["id"].get<std::string>();
  });
  if (posts.size() > limit)
    posts.erase(posts.begin() + static_cast<std::ptrdiff_t>(limit), posts.end());
  return {{"posts", posts}, {"feeds", feeds}};
}

json SiteManager::network() {
  json feeds = json::array();
  json errors = json::array();
  auto sites = catalog_.sites();
  if (!sites) return {{"feeds", feeds}, {"errors", errors}, {"error", sites.error().message}};
  // Followed, blocked or published here, or named by a blocklist: not suggested.
  std::set<std::string> own;
  for (const auto& s : *sites) {
    if (s.role != SiteRole::kVisited) own.insert(s.address.str());
  }
  {
    std::lock_guard lock(blocklists_mutex_);
    for (const auto& [address, listing] : listed_) own.insert(address);
  }
  struct Seen {
    std::vector<std::string> by;
    std::set<std::string> petnames;
  };
  std::map<std::string, Seen> seen;
  for (const auto& s : *sites) {
    if (s.role != SiteRole::kFollowed || !s.info_hash) continue;
    const std::string address = s.address.str();
    const std::string who = s.handle.empty() ? address : s.handle;
    // Held whole like feed.json (no fetch): read from the version's files.
    auto text = read_file_capped(version_dir(*s.info_hash) / address / "following.json",
                                 feed::kMaxFollowingBytes);
    if (!text) continue;  // none (an older feed), or too large
    auto list = feed::parse_following(*text);
    if (!list) {
      json e = {{"address", address}, {"error", list.error().message}};
      if (!s.handle.empty()) e["handle"] = s.handle;
      errors.push_back(std::move(e));
      continue;
    }
    for (const auto& f : *list) {
      if (own.count(f.address)) continue;
      Seen& x = seen[f.address];
      x.by.push_back(who);
      if (!f.petname.empty()) x.petnames.insert(f.petname);
    }
  }
  for (auto& [address, x] : seen) {
    feeds.push_back({{"address", address}, {"followed_by", x.by}, {"petnames", x.petnames}});
  }
  std::stable_sort(feeds.begin(), feeds.end(), [](const json& a, const json& b) {
    return a["followed_by"].size() > b["followed_by"].size();
  });
  return {{"feeds", feeds}, {"errors", errors}};
}

}  // namespace hostless
