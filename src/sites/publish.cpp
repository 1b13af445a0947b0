// `hostless publish`: a folder becomes a new version of its site (snapshot,
// hybrid torrent, signed pointer).
#include "sites/sites.hpp"

#include <cstdio>
#include <random>

#include <libtorrent/torrent_info.hpp>

#include "content/site_torrent.hpp"
#include "content/snapshot.hpp"
#include "util/encoding.hpp"
#include "util/files.hpp"
#include "util/log.hpp"

namespace hostless {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string random_suffix() {
  std::random_device rd;
  std::uniform_int_distribution<unsigned> d(0, 0xffffff);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06x", d(rd));
  return buf;
}

// A key name from a folder name: the safe characters of its basename.
std::string key_name_for(const fs::path& folder) {
  std::string base = folder.filename().string();
  std::string out;
  for (char c : base) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    out.push_back(ok ? c : '-');
  }
  while (!out.empty() && out.front() == '-') out.erase(out.begin());
  if (out.size() > 48) out.resize(48);
  return out.empty() ? "site" : out;
}

}  // namespace

Result<json> SiteManager::publish(const fs::path& folder_in, const std::string& key_name_in,
                                  const Progress& progress, const WebSeedsChange& web_seeds) {
  std::lock_guard publish_lock(publish_mutex_);
  return publish_locked(folder_in, key_name_in, progress, web_seeds);
}

Result<json> SiteManager::publish_locked(const fs::path& folder_in, const std::string& key_name_in,
                                         const Progress& progress,
                                         const WebSeedsChange& web_seeds) {
  auto scanned = scan_folder(folder_in);
  if (!scanned) return scanned.error();
  std::error_code ec;
  fs::path folder = fs::canonical(folder_in, ec);
  if (ec) return make_error("cannot open " + folder_in.string() + ": " + ec.message());

  // Which site is this folder? An explicit key, else the one it was published
  // with before, else a new key named after the folder.
  auto by_folder = catalog_.site_by_folder(folder.string());
  if (!by_folder) return by_folder.error();
  std::string key_name = key_name_in;
  if (key_name.empty() && *by_folder) key_name = (*by_folder)->key_name;
  if (key_name.empty()) {
    std::string base = key_name_for(folder);
    key_name = base;
    for (int i = 2; keys_.exists(key_name); ++i) key_name = base + "-" + std::to_string(i);
  }
  if (!keys_.exists(key_name)) {
    auto created = keys_.create(key_name);
    if (!created) return created.error();
  }
  auto key = keys_.load(key_name);
  if (!key) return key.error();
  SiteAddress address(key->public_key());
  // One identity on several devices: another device may have published
  // under this key since this node last looked. Asked while the folder is
  // hashed, so that this version is signed above any seq the DHT holds (a
  // lower or equal one is refused by the nodes, or hides the other's). Not
  // within kPublishLookupSkip of this node's last publish of the site (posts
  // in a row would each wait for it; pushes from another device still count:
  // accept_push).
  std::future<Result<SignedPointer>> in_dht;
  bool look = true;
  {
    std::lock_guard lock(retry_mutex_);
    auto last = last_published_.find(address.key());
    look = last == last_published_.end() ||
           std::chrono::steady_clock::now() - last->second > kPublishLookupSkip;
  }
  if (look) {
    // A daemon that is still joining the DHT (its routing table empty, or
    // the last run's, not confirmed yet) first gives it the time store_name
    // gives a put, then waits for the whole lookup, not for 0.5 s after a
    // first answer, and looks again when one ends empty. (Seen: a restarted
    // node's lookup reached only the node its own restart had just given
    // the stale seq, and signed the seq another device had already used.)
    const bool joining =
        node_.dht_nodes() == 0 || std::chrono::steady_clock::now() - created_ < 2 * kJoinWait;
    if (joining) std::this_thread::sleep_until(created_ + kJoinWait);
    in_dht =
        node_.get_pointer(address.key(), kPublishLookup,
                          joining ? std::chrono::milliseconds(0) : std::chrono::milliseconds(500),
                          /*retry_empty=*/joining);
  }

  auto existing = catalog_.site(address);
  if (!existing) return existing.error();
  SiteRecord record;
  if (*existing) {
    record = **existing;
  } else {
    record.address = address;
    record.added = now_unix();
  }
  std::vector<HashCacheEntry> cache;
  fs::path store_root;
  if (record.role == SiteRole::kPublished && record.folder == folder.string() && record.info_hash) {
    auto c = catalog_.hash_cache(folder.string());
    if (!c) return c.error();
    cache = std::move(*c);
    store_root = version_dir(*record.info_hash);
  }

  fs::path staging =
      store_dir() / (".staging-" + std::to_string(::getpid()) + "-" + random_suffix());
  auto snap =
      make_snapshot(*scanned, address.str(), staging, store_root, cache, options_.hash_threads,
                    [&](const std::string& stage, std::uint64_t d, std::uint64_t t) {
                      if (progress.fn) progress.fn(stage, d, t);
                    });
  if (!snap) {
    fs::remove_all(staging, ec);
    return snap.error();
  }
  json result = {{"address", address.str()},          {"key", key_name},
                 {"url", url_for(address)},           {"magnet", address.magnet()},
                 {"files", snap->file_count},         {"bytes", snap->total_bytes},
                 {"hashed_bytes", snap->hashed_bytes}};

  // (The same files with other web seeds are a new pointer to the same version.)
  const bool same_seeds =
      !web_seeds || (record.pointer && record.pointer->value.web_seeds == *web_seeds);
  if (record.info_hash && *record.info_hash == snap->info_hash &&
      record.role == SiteRole::kPublished && same_seeds) {
    fs::remove_all(staging, ec);
    result["unchanged"] = true;
    result["seq"] = record.seq;
    result["info_hash"] = snap->info_hash.hex();
    return result;
  }

  fs::path vdir = version_dir(snap->info_hash);
  if (fs::exists(vdir, ec)) {
    fs::remove_all(staging, ec);  // the same content was published before
  } else {
    fs::rename(staging, vdir, ec);
    if (ec) {
      fs::remove_all(staging, ec);
      return make_error("cannot move the snapshot into the store: " + ec.message(), ErrorKind::kIo);
    }
  }
  std::string torrent_bytes(snap->torrent.begin(), snap->torrent.end());
  if (!write_file_atomic(torrent_path(snap->info_hash), torrent_bytes)) {
    return make_error("cannot write " + torrent_path(snap->info_hash).string());
  }

  if (!node_.find_torrent(snap->info_hash).is_valid()) {
    lt::add_torrent_params atp;
    lt::error_code lec;
    atp.ti = std::make_shared<lt::torrent_info>(snap->torrent.data(),
                                                static_cast<int>(snap->torrent.size()), lec);
    if (lec) return make_error("cannot load the new torrent: " + lec.message());
    atp.save_path = vdir.string();
    // We just hashed every byte: say so as resume data instead of re-checking.
    // (seed_mode would also skip the check, but in libtorrent 2.0.8 a v2 torrent
    // in seed mode never serves its merkle hashes, so multi-piece files stall.)
    atp.have_pieces.resize(atp.ti->num_pieces(), true);
    auto h = node_.add_torrent(std::move(atp));
    if (!h) return h.error();
  }

  // Taken into the catalog's highest pointer, which the seq below is above.
  std::optional<SignedPointer> elsewhere;
  if (in_dht.valid()) {
    if (auto found = in_dht.get(); found && (!record.pointer || found->seq > record.pointer->seq)) {
      (void)catalog_.observe_pointer(*found);
      if (found->value.ih != snap->info_hash) elsewhere = *found;
    }
  }
  // Or known from before: pushed to this node (accept_push keeps it in the
  // catalog), or, on a node that never published the site, any version it
  // knows of (a copy of a feed taken with `get` to post from here too).
  const bool published_here = record.role == SiteRole::kPublished;
  if (!elsewhere && record.pointer && record.pointer->value.ih != snap->info_hash &&
      (!published_here || record.pointer->seq > record.seq)) {
    elsewhere = *record.pointer;
  }
  {
    std::lock_guard lock(retry_mutex_);
    last_published_[address.key()] = std::chrono::steady_clock::now();
  }
  // The record as it is now (a lookup may have raised its pointer meanwhile).
  std::optional<InfoHash> previous;
  SignedPointer pointer;
  auto stored = catalog_.update_site(address, [&](std::optional<SiteRecord>& r) {
    if (!r) r = record;
    previous = r->info_hash;
    std::int64_t seq = std::max(r->seq, r->pointer ? r->pointer->seq : 0) + 1;
    // The site's web seeds go on from version to version unless changed.
    std::vector<std::string> seeds = web_seeds    ? *web_seeds
                                     : r->pointer ? r->pointer->value.web_seeds
                                                  : std::vector<std::string>{};
    pointer = SignedPointer::sign(*key, seq, PointerValue(snap->info_hash, std::move(seeds)));
    r->role = SiteRole::kPublished;
    r->key_name = key_name;
    r->folder = folder.string();
    r->seq = seq;
    r->info_hash = snap->info_hash;
    r->pointer = pointer;
    return true;
  });
  if (!stored) return stored.error();
  const std::int64_t seq = pointer.seq;
  hold_version(address, seq, snap->info_hash);
  if (auto s = catalog_.replace_hash_cache(folder.string(), snap->cache); !s) return s.error();
  if (previous && *previous != snap->info_hash) retire_version(*previous);
  // Followers connected over the version they hold learn of this one now, not
  // at their next lookup; the new version's connections are kept for the next.
  node_.keep_push_peers(snap->info_hash);
  if (previous && *previous != snap->info_hash) node_.push_pointer(*previous, pointer);
  node_.push_pointer(snap->info_hash, pointer);

  if (progress.fn) progress.fn("announcing", 0, 0);
  auto [put, storing] = store_name(pointer);
  put_early_again(pointer);
  result["seq"] = seq;
  result["info_hash"] = snap->info_hash.hex();
  result["unchanged"] = false;
  const json named = pointer_json(pointer);
  result["torrent_magnet"] = named["torrent_magnet"];
  if (named.contains("web_seeds")) result["web_seeds"] = named["web_seeds"];
  if (elsewhere) {
    result["other_device"] = {
        {"seq", elsewhere->seq},
        {"info_hash", elsewhere->value.ih.hex()},
        {"message", "the DHT held version " + std::to_string(elsewhere->seq) +
                        " of this site, which this node did not publish (another device with "
                        "this key?); this version, " +
                        std::to_string(seq) +
                        ", replaces it: what was published there and not here is no longer "
                        "served"}};
  }
  if (storing) {
    result["dht_storing"] = true;
    result["note"] =
        "the name is still being stored in the DHT (some nodes are slow to answer); `hostless "
        "sites` shows when it is stored";
  } else if (put) {
    result["dht_stored"] = *put;
  } else {
    result["dht_stored"] = 0;
    result["warning"] = "published locally, but the name is not in the DHT yet (" +
                        put.error().message +
                        "); it is stored as soon as a DHT node takes it, and `hostless sites` "
                        "shows when";
  }
  // (On a LAN, --lan, there is no NAT between the nodes to warn about.)
  if (const Reachability reach = node_.reachability(); !node_.options().lan && !reach.reachable()) {
    result["reachability"] =
        "this node has not been reached from outside yet (no incoming connection, no UPnP or "
        "NAT-PMP port mapping" +
        (reach.mapping_error.empty() ? std::string() : ": " + reach.mapping_error) +
        "): if it is behind a NAT, visitors get the site only once it connects out to them "
        "(it looks for them every " +
        std::to_string(kSeekEvery.count()) +
        " s), or from a reachable mirror; a port forwarded on the router (or UPnP) makes it "
        "reachable";
  }
  return result;
}

}  // namespace hostless
