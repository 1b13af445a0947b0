// Names people can say (docs/gateway.md, "Names"): besides its address, a
// site opens at <label>.localhost when the label is
//   - a petname, the user's own name for it (`hostless name set blog ADDR`),
//   - a followed feed's handle (`hostless follow ADDR --as alice`), or
//   - a DNS name whose TXT record _hostless.<name> holds hostless=<address>
//     (as DNSLink does for IPFS), cached for its TTL.
// Petnames and handles share one namespace: a name names one site.
//
// Thread-safe: the gateway's workers look names up concurrently.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "protocol/address.hpp"
#include "store/catalog.hpp"
#include "util/dns.hpp"
#include "util/result.hpp"

namespace hostless {

class SiteNames {
 public:
  using TxtLookup = std::function<Result<TxtAnswer>(const std::string& name)>;
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  // A missing DNS record is asked again after this long.
  static constexpr std::chrono::seconds kNegativeTtl{60};
  // However long a record's TTL, it is asked again within a day.
  static constexpr std::chrono::seconds kMaxTtl{86400};
  static constexpr std::size_t kMaxCached = 1000;

  explicit SiteNames(Catalog& catalog, TxtLookup lookup = query_txt,
                     Clock now = std::chrono::steady_clock::now);

  // The site `label` (lower case) names. kNotFound with what to do when it
  // names none; kUnavailable when DNS did not answer; kInvalid for a label
  // that can be no name.
  Result<SiteAddress> lookup(const std::string& label);

  // Fails unless `name` is free for `address`: no petname or handle of
  // another site.
  Status check_free(const std::string& name, const SiteAddress& address);

  // `hostless name set|rm|list`. set: {"name","address","replaced"?};
  // `replace` lets a petname of another site move to this one.
  Result<nlohmann::json> set(const std::string& name, const std::string& address, bool replace);
  // {"name","address"}
  Result<nlohmann::json> remove(const std::string& name);
  // [{"name","address","kind":"petname"|"handle","added"?}], by name.
  Result<nlohmann::json> list();

 private:
  // What `name` names: its petname first, then a followed feed's handle
  // (two entries only in a catalog from before names were one namespace).
  struct Named {
    SiteAddress address;
    bool handle = false;
  };
  Result<std::vector<Named>> named(const std::string& name);
  // The error for the first of `entries` that names another site than
  // `address` (petnames skipped unless `petnames`), or none.
  static Status conflict(const std::string& name, const std::vector<Named>& entries,
                         const SiteAddress& address, bool petnames);
  Result<SiteAddress> lookup_dns(const std::string& domain);
  Catalog& catalog_;
  TxtLookup txt_;
  Clock now_;
  struct Cached {
    Result<SiteAddress> answer;
    std::chrono::steady_clock::time_point expires;
  };
  std::mutex mutex_;
  std::map<std::string, Cached> cache_;  // by DNS name; guarded by mutex_
};

}  // namespace hostless
