// The local catalog (<home>/catalog.sqlite): which sites this node knows, in
// which role, their current version and the highest signed pointer seen, and
// the publisher's hash cache. Every write is one transaction, so a crash
// leaves the catalog as it was before or after it.
//
// Thread-safe: one connection guarded by a mutex (SQLite serialises writes
// anyway; the catalog is small).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "protocol/address.hpp"
#include "protocol/pointer.hpp"
#include "util/result.hpp"

struct sqlite3;

namespace hostless {

// Followed: a feed this node keeps (whole, within caps), seeds, polls for
// updates and whose name it keeps alive, under a local handle; between a
// visit (kept while there is room) and a mirror (kept whole, uncapped).
// kBlocked: a site the user blocked (`hostless block`): held nowhere, never
// visited, followed or mirrored until unblocked; the row keeps its highest
// seen pointer (rollback protection).
// kBlocklist: a blocklist this node subscribes to (kept like a mirror).
enum class SiteRole { kPublished, kMirrored, kVisited, kFollowed, kBlocked, kBlocklist };
// Kept whole (or a followed feed's kept part), polled for new versions, its
// name re-put: mirrored, followed and blocklist sites.
constexpr bool is_kept(SiteRole role) {
  return role == SiteRole::kMirrored || role == SiteRole::kFollowed || role == SiteRole::kBlocklist;
}
const char* role_name(SiteRole role);
std::optional<SiteRole> parse_role(const std::string& name);

struct SiteRecord {
  SiteAddress address;
  SiteRole role = SiteRole::kVisited;
  std::string key_name;  // published sites: the key in <home>/keys
  std::string folder;    // published sites: the source folder
  // The version this node serves (seq 0 / empty when none yet).
  std::int64_t seq = 0;
  std::optional<InfoHash> info_hash;
  // The highest validly signed pointer ever seen (rollback protection).
  std::optional<SignedPointer> pointer;
  std::int64_t last_visit = 0;  // unix seconds
  std::int64_t added = 0;
  std::string handle;  // followed feeds: the local name the user gave it ("" none)
  bool media = false;  // followed feeds: media/ is kept too (else fetched as it is read)
};

// A version (one info-hash) this node holds: a site's current one, or a
// replaced one waiting out its grace period before its data is freed.
struct VersionRecord {
  InfoHash info_hash;
  SiteAddress address;
  std::int64_t seq = 0;
  std::uint64_t bytes = 0;     // payload size of the whole version
  std::int64_t retire_at = 0;  // unix seconds when it may be freed; 0: in use
  std::int64_t added = 0;      // unix seconds when this node first held it (set on insert)
};

// One cached file hash of a published folder.
struct HashCacheEntry {
  std::string rel_path;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::uint64_t piece_size = 0;
  std::string hashes;      // serialised FileHashes (site_torrent.hpp)
  std::string store_path;  // where the snapshot copy lives
};

// A petname: the user's own name for a site (`hostless name set`).
struct NameRecord {
  std::string name;  // a handle (protocol/address.hpp: parse_handle)
  SiteAddress address;
  std::int64_t added = 0;  // unix seconds
};

class Catalog {
 public:
  static Result<std::unique_ptr<Catalog>> open(const std::filesystem::path& file);
  ~Catalog();
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  static constexpr int kSchemaVersion = 6;
  // Highest pointers kept of sites no longer in the catalog (rollback
  // protection after eviction); the longest forgotten go first.
  static constexpr int kMaxForgotten = 100000;

  Result<std::optional<SiteRecord>> site(const SiteAddress& address);
  Result<std::vector<SiteRecord>> sites();
  // The published site whose source is `folder`, if any.
  Result<std::optional<SiteRecord>> site_by_folder(const std::string& folder);
  // Removes the site; its highest pointer is remembered (observe_pointer
  // still refuses anything older if the site comes back).
  Status remove_site(const SiteAddress& address);
  // Read-modify-write in one transaction that no other catalog call can
  // interleave with: `fn` gets the record (nullopt: none) and returns true to
  // store it as changed (a nullopt it leaves is not stored). Returns the
  // record as stored afterwards.
  using SiteUpdate = std::function<bool(std::optional<SiteRecord>& record)>;
  Result<std::optional<SiteRecord>> update_site(const SiteAddress& address, const SiteUpdate& fn);
  // Sets only the last-visit time (a visit must not rewrite the version a
  // concurrent update may be switching).
  Status touch_visit(const SiteAddress& address, std::int64_t when);

  // Records `pointer` if its seq is higher than the stored one. Returns the
  // highest pointer now stored.
  Result<SignedPointer> observe_pointer(const SignedPointer& pointer);

  // Inserts a version, or updates all but its `added` time.
  Status put_version(const VersionRecord& version);
  // Marks a version to be freed at `at` (unix seconds).
  Status retire_version(const InfoHash& ih, std::int64_t at);
  Status remove_version(const InfoHash& ih);
  Result<std::vector<VersionRecord>> versions();

  // Petnames, by name.
  Result<std::vector<NameRecord>> names();
  // Adds or replaces the name.
  Status set_name(const std::string& name, const SiteAddress& address);
  // False when there was no such name.
  Result<bool> remove_name(const std::string& name);

  Result<std::vector<HashCacheEntry>> hash_cache(const std::string& folder);
  // Replaces the folder's whole cache.
  Status replace_hash_cache(const std::string& folder, const std::vector<HashCacheEntry>& entries);

 private:
  explicit Catalog(sqlite3* db) : db_(db) {}
  Status exec(const char* sql);
  // The same as the public calls, with mutex_ held by the caller.
  Result<std::optional<SiteRecord>> site_locked(const SiteAddress& address);
  Status put_site_locked(const SiteRecord& record);
  std::optional<SignedPointer> forgotten_locked(const SiteAddress& address);
  sqlite3* db_;
  std::mutex mutex_;
};

}  // namespace hostless
