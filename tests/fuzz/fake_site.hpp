// A SiteService for the gateway fuzz targets: a few fixed sites held in
// memory, so request handling runs without a node, a network or a disk. Every
// call checks that the gateway asks only for what exists (reads inside the
// file, files of the version it was given). Thread-safe: it never changes
// after construction.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "sites/service.hpp"

namespace hostless::fuzz {

// The sites, by address (any other address is a site whose name is never
// found):
//  kReadySite   ready; a 404.html, directories, an empty file, a file read
//               in several chunks, "slow.html" half downloaded and
//               "broken.bin" whose reads fail
//  kBareSite    ready; index.html and docs/index.html only, no 404.html
//  kFailedSite  the visit fails
inline constexpr const char* kReadySite = "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy";
inline constexpr const char* kBareSite = "999999999999999999999999999999999999999999999999999o";
inline constexpr const char* kFailedSite = "nretnretnretnretnretnretnretnretnretnretnretnretnreo";

// Largest answer of one read(): smaller than the gateway's chunk, so large
// files are streamed in several calls.
inline constexpr std::size_t kMaxRead = 64 * 1024;

class FakeSiteService : public SiteService {
 public:
  FakeSiteService();

  Result<std::string> start_publish(const std::string& folder, const std::string& key_name,
                                    const WebSeedsChange& web_seeds) override;
  Result<std::string> start_get(const std::string& address, const std::string& outdir,
                                const std::string& info_hash = "") override;
  std::optional<nlohmann::json> job(const std::string& id) override;
  Result<std::string> start_mirror(const std::string& address) override;
  Result<nlohmann::json> unmirror(const std::string& address) override;
  Result<std::string> start_follow(const std::string& address, const std::string& handle,
                                   bool media) override;
  Result<std::string> start_post(const PostRequest& request) override;
  Result<std::string> start_subscribe(const std::string& address) override;
  Result<nlohmann::json> unsubscribe(const std::string& address) override;
  nlohmann::json blocklists() override;
  Result<nlohmann::json> unfollow(const std::string& address_or_handle) override;
  nlohmann::json following() override;
  nlohmann::json network() override;
  Result<nlohmann::json> block(const std::string& address) override;
  Result<nlohmann::json> unblock(const std::string& address) override;
  nlohmann::json timeline(std::size_t limit) override;
  Result<nlohmann::json> resolve(const std::string& address,
                                 std::chrono::milliseconds timeout) override;
  Result<TorrentExport> torrent(const std::string& address, TorrentForm form) override;
  nlohmann::json status() override;
  nlohmann::json sites() override;
  VisitState visit(const std::string& address, const std::string& first_path) override;
  bool knows(const std::string& address) override;
  VisitState wait_visit(const std::string& address, const std::string& first_path,
                        std::chrono::milliseconds timeout) override;
  Result<std::string> read(const SiteVersion& version, const ServedFile& file, std::uint64_t offset,
                           std::size_t max_bytes, std::chrono::milliseconds timeout) override;
  std::uint64_t bytes_have(const SiteVersion& version, const ServedFile& file) override;

  // The file of either ready site with this ETag (ETags are unique across
  // them), and its path; nullptr if none.
  const ServedFile* file_by_etag(const std::string& etag, std::string& path) const;

 private:
  const std::string& path_of(const SiteVersion& version, const ServedFile& file) const;
  std::shared_ptr<const SiteVersion> ready_;
  std::shared_ptr<const SiteVersion> bare_;
};

}  // namespace hostless::fuzz
