// What a SiteManager is made with (its constructor, sites/sites.hpp): its
// home, timeouts, intervals and disk budgets; the daemon sets them from its
// flags (cli/daemon_cmd.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

namespace hostless {

struct SitesOptions {
  std::filesystem::path home;
  // Web seeds on this machine or the local network are used (a LAN, tests);
  // else ignored: a site's pointer must not make its visitors' nodes send
  // requests to their own routers and services.
  bool local_web_seeds = false;
  std::string gateway_base = "http://{address}.localhost:8420/";  // {address} replaced
  std::chrono::milliseconds resolve_timeout{30000};
  std::chrono::milliseconds fetch_timeout{600000};
  // How often published pointers are put again (BEP 44 items expire).
  std::chrono::seconds republish_interval{1800};
  unsigned hash_threads = 0;  // 0: one per core
  // A visited site's name is looked up again on a visit at most this often.
  std::chrono::seconds refresh_interval{60};
  // How often a mirror looks for a newer version of each mirrored site.
  std::chrono::seconds mirror_interval{300};
  // How long a replaced version stays seeded before its data is freed.
  std::chrono::seconds version_grace{600};
  // Visited sites (not published, not mirrored) share this much disk; the
  // least recently visited go first. A visited site larger than the per-site
  // cap is only fetched on demand, not in the background.
  std::uint64_t visit_cache_bytes = std::uint64_t(1) << 30;
  std::uint64_t visit_site_bytes = std::uint64_t(256) << 20;
  // A followed feed's version larger than this is refused (a hostile or
  // mistaken feed cannot fill the disk); mirrors take any size.
  std::uint64_t follow_max_bytes = std::uint64_t(64) << 20;
};

}  // namespace hostless
