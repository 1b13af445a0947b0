#include "sites/names.hpp"

#include <algorithm>

namespace hostless {

using nlohmann::json;

namespace {

constexpr std::string_view kTxtPrefix = "hostless=";

}  // namespace

SiteNames::SiteNames(Catalog& catalog, TxtLookup lookup, Clock now)
    : catalog_(catalog), txt_(std::move(lookup)), now_(std::move(now)) {}

Result<std::vector<SiteNames::Named>> SiteNames::named(const std::string& name) {
  auto names = catalog_.names();
  if (!names) return make_error(names.error().message, ErrorKind::kIo);
  auto sites = catalog_.sites();
  if (!sites) return make_error(sites.error().message, ErrorKind::kIo);
  std::vector<Named> out;
  for (const auto& n : *names) {
    if (n.name == name) out.push_back({n.address, false});
  }
  for (const auto& s : *sites) {
    if (s.role == SiteRole::kFollowed && s.handle == name) out.push_back({s.address, true});
  }
  return out;
}

Status SiteNames::conflict(const std::string& name, const std::vector<Named>& entries,
                           const SiteAddress& address, bool petnames) {
  for (const auto& e : entries) {
    if (e.address == address || (!e.handle && !petnames)) continue;
    return make_error("\"" + name + "\" already names " + e.address.str() +
                          (e.handle ? " (the handle of a feed you follow: `hostless unfollow " +
                                          name + "` frees it)"
                                    : " (a petname: `hostless name rm " + name + "` frees it)"),
                      ErrorKind::kInvalid);
  }
  return {};
}

Result<SiteAddress> SiteNames::lookup(const std::string& label) {
  if (is_dns_name(label)) return lookup_dns(label);
  auto name = parse_handle(label);
  if (!name || name->empty() || *name != label) {
    return make_error("\"" + label +
                          "\" is neither a site address, a name (letters, digits, '-' or '_') "
                          "nor a DNS name",
                      ErrorKind::kInvalid);
  }
  auto entries = named(label);
  if (!entries) return entries.error();
  if (!entries->empty()) return entries->front().address;
  return make_error("no site is named \"" + label +
                        "\" on this node; name one with `hostless name set " + label +
                        " <address>` (see `hostless name list`)",
                    ErrorKind::kNotFound);
}

Result<SiteAddress> SiteNames::lookup_dns(const std::string& domain) {
  const auto now = now_();
  {
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(domain); it != cache_.end() && it->second.expires > now) {
      return it->second.answer;
    }
  }
  const std::string record = "_hostless." + domain;
  auto answer = txt_(record);
  const auto missing = [&](const std::string& why) {
    return make_error("the DNS name " + domain + " names no hostless site: " + why +
                          "; its owner can add a TXT record " + record +
                          " holding \"hostless=<address>\"",
                      ErrorKind::kNotFound);
  };
  Result<SiteAddress> result = make_error("");
  std::chrono::seconds ttl = kNegativeTtl;
  if (!answer) {
    if (answer.error().kind != ErrorKind::kNotFound) return answer.error();  // not cached
    result = missing("it has no TXT record " + record);
  } else {
    std::optional<SiteAddress> found;
    bool ambiguous = false;
    for (const auto& text : answer->records) {
      if (text.compare(0, kTxtPrefix.size(), kTxtPrefix) != 0) continue;
      auto addr = SiteAddress::parse(std::string_view(text).substr(kTxtPrefix.size()));
      if (!addr) continue;
      if (found && *found != *addr) ambiguous = true;
      found = *addr;
    }
    if (ambiguous) {
      result = make_error("the DNS name " + domain + " names more than one hostless site (" +
                              record + " has two hostless= records); its owner must keep one",
                          ErrorKind::kInvalid);
    } else if (!found) {
      result = missing(record + " holds no hostless=<address> record");
    } else {
      result = *found;
      ttl = std::min(answer->ttl, kMaxTtl);
    }
  }
  std::lock_guard lock(mutex_);
  if (cache_.size() >= kMaxCached) {
    std::erase_if(cache_, [&](const auto& e) { return e.second.expires <= now; });
    if (cache_.size() >= kMaxCached) cache_.clear();
  }
  cache_.insert_or_assign(domain, Cached{result, now + ttl});
  return result;
}

Status SiteNames::check_free(const std::string& name, const SiteAddress& address) {
  auto entries = named(name);
  if (!entries) return entries.error();
  return conflict(name, *entries, address, true);
}

Result<json> SiteNames::set(const std::string& name, const std::string& address, bool replace) {
  auto n = parse_handle(name);
  if (!n) return make_error(n.error().message, ErrorKind::kInvalid);
  if (n->empty()) return make_error("a name cannot be empty", ErrorKind::kInvalid);
  auto addr = SiteAddress::parse(address);
  if (!addr) return make_error(addr.error().message, ErrorKind::kInvalid);
  auto entries = named(*n);
  if (!entries) return entries.error();
  std::optional<SiteAddress> before;
  for (const auto& e : *entries) {
    if (!e.handle) before = e.address;
  }
  json out = {{"name", *n}, {"address", addr->str()}};
  if (before && *before == *addr) return out;
  // A petname of another site moves only when asked; a handle never does.
  if (before && !replace) {
    return make_error("\"" + *n + "\" already names " + before->str() + "; add --force to name " +
                          addr->str() + " instead",
                      ErrorKind::kInvalid);
  }
  if (auto free = conflict(*n, *entries, *addr, !before); !free) return free.error();
  if (auto s = catalog_.set_name(*n, *addr); !s)
    return make_error(s.error().message, ErrorKind::kIo);
  if (before) out["replaced"] = before->str();
  return out;
}

Result<json> SiteNames::remove(const std::string& name) {
  auto n = parse_handle(name);
  if (!n) return make_error(n.error().message, ErrorKind::kInvalid);
  auto entries = named(*n);
  if (!entries) return entries.error();
  const auto petname =
      std::find_if(entries->begin(), entries->end(), [](const Named& e) { return !e.handle; });
  if (petname == entries->end()) {
    if (!entries->empty()) {
      return make_error("\"" + *n +
                            "\" is the handle of a feed you follow, not a petname: "
                            "`hostless unfollow " +
                            *n + "` or `hostless follow " + entries->front().address.str() +
                            " --as <other>` frees it",
                        ErrorKind::kInvalid);
    }
    return make_error("no petname \"" + *n + "\" (see `hostless name list`)", ErrorKind::kNotFound);
  }
  if (auto r = catalog_.remove_name(*n); !r) return make_error(r.error().message, ErrorKind::kIo);
  return json{{"name", *n}, {"address", petname->address.str()}};
}

Result<json> SiteNames::list() {
  auto names = catalog_.names();
  if (!names) return names.error();
  auto sites = catalog_.sites();
  if (!sites) return sites.error();
  json out = json::array();
  for (const auto& n : *names) {
    out.push_back(
        {{"name", n.name}, {"address", n.address.str()}, {"kind", "petname"}, {"added", n.added}});
  }
  for (const auto& s : *sites) {
    if (s.role == SiteRole::kFollowed && !s.handle.empty()) {
      out.push_back({{"name", s.handle}, {"address", s.address.str()}, {"kind", "handle"}});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const json& a, const json& b) { return a["name"] < b["name"]; });
  return out;
}

}  // namespace hostless
