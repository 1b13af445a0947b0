// The narrow interface the gateway uses to reach the node's sites. Plain
// values and JSON only: nothing of libtorrent crosses it.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/result.hpp"

namespace hostless {

class SiteService {
 public:
  virtual ~SiteService() = default;

  // Long operations run as jobs; job() reports
  // {"id","kind","state":"running|done|failed","stage","done","total",
  //  "result":{...},"error":"..."}.
  virtual Result<std::string> start_publish(const std::string& folder,
                                            const std::string& key_name) = 0;
  virtual Result<std::string> start_get(const std::string& address, const std::string& outdir) = 0;
  virtual std::optional<nlohmann::json> job(const std::string& id) = 0;

  // {"address","seq","info_hash","magnet","torrent_magnet"}
  virtual Result<nlohmann::json> resolve(const std::string& address,
                                         std::chrono::milliseconds timeout) = 0;
  // The bencoded .torrent of the site's current version.
  virtual Result<std::string> torrent(const std::string& address) = 0;
  virtual nlohmann::json status() = 0;
  virtual nlohmann::json sites() = 0;
};

}  // namespace hostless
