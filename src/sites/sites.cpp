#include "sites/sites.hpp"
#include "util/log.hpp"

#include <unistd.h>

#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <thread>

#include <libtorrent/bencode.hpp>
#include <libtorrent/create_torrent.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/torrent_info.hpp>

#include "content/site_torrent.hpp"
#include "content/snapshot.hpp"
#include "util/encoding.hpp"
#include "util/files.hpp"

namespace hostless {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::int64_t now_unix() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

lt::sha1_hash to_sha1(const InfoHash& ih) {
  return lt::sha1_hash(reinterpret_cast<const char*>(ih.bytes().data()));
}

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

// What peers may send a torrent that has no metadata yet. libtorrent 2.0.8
// never takes metadata over its max_metadata_size (30 MiB) but keeps asking a
// peer that offers more for it again, without end (about 400 MB/s measured
// on loopback): a hostile peer could make a visit download junk until the
// fetch timeout. Four times the most it can use is plenty for sound peers.
constexpr std::int64_t kMetadataTrafficCap = std::int64_t(128) << 20;

// Why a torrent stopped before its metadata was known, in words for a visitor.
std::string metadata_error_text(const lt::error_code& ec) {
  if (ec == lt::errors::invalid_swarm_metadata) {
    return "libtorrent cannot read the site's metadata: it is malformed or beyond libtorrent's "
           "decoding limits (too many files, or nested too deep) (" +
           ec.message() + ")";
  }
  return ec.message();
}

}  // namespace

std::string torrent_magnet(const InfoHash& v1_ih, const std::string& name,
                           const std::vector<std::string>& web_seeds) {
  std::string magnet = "magnet:?xt=urn:btih:" + v1_ih.hex() + "&dn=" + percent_encode(name);
  for (const auto& url : web_seeds) magnet += "&ws=" + percent_encode(url);
  return magnet;
}

json pointer_json(const SignedPointer& p) {
  SiteAddress a(p.key);
  json j = {{"address", a.str()},
            {"seq", p.seq},
            {"info_hash", p.value.ih.hex()},
            {"magnet", a.magnet()},
            // A version's torrent is named after its site.
            {"torrent_magnet", torrent_magnet(p.value.ih, a.str(), p.value.web_seeds)}};
  if (!p.value.web_seeds.empty()) j["web_seeds"] = p.value.web_seeds;
  return j;
}

bool raise_unwanted_pieces(const lt::torrent_handle& h, lt::download_priority_t to) {
  auto priorities = h.get_piece_priorities();
  bool changed = false;
  for (auto& p : priorities) {
    if (p == lt::dont_download) {
      p = to;
      changed = true;
    }
  }
  if (changed) h.prioritize_pieces(priorities);
  return changed;
}

namespace {

// True for "<address>/media/...": the torrent's one top folder, then media/.
bool in_media(const lt::file_storage& files, lt::file_index_t i) {
  const fs::path path(files.file_path(i));
  auto part = path.begin();
  return part != path.end() && ++part != path.end() && *part == "media" &&
         std::next(part) != path.end();
}

}  // namespace

std::vector<bool> kept_pieces(const lt::torrent_info& ti, bool media) {
  const auto& files = ti.files();
  std::vector<bool> kept(static_cast<std::size_t>(ti.num_pieces()), media);
  if (media) return kept;
  for (auto i : files.file_range()) {
    if (files.pad_file_at(i) || files.file_size(i) == 0 || in_media(files, i)) continue;
    const int first = static_cast<int>(files.map_file(i, 0, 1).piece);
    const int last = static_cast<int>(files.map_file(i, files.file_size(i) - 1, 1).piece);
    for (int p = first; p <= last; ++p) kept[static_cast<std::size_t>(p)] = true;
  }
  return kept;
}

std::vector<lt::download_priority_t> kept_file_priorities(const lt::torrent_info& ti, bool media) {
  const auto& files = ti.files();
  std::vector<lt::download_priority_t> out(static_cast<std::size_t>(files.num_files()),
                                           lt::default_priority);
  for (auto i : files.file_range()) {
    // (libtorrent holds pad files at 0 whatever it is told.)
    if (files.pad_file_at(i) || (!media && in_media(files, i))) {
      out[static_cast<std::size_t>(static_cast<int>(i))] = lt::dont_download;
    }
  }
  return out;
}

bool want_kept_pieces(const lt::torrent_handle& h, const std::vector<bool>& kept,
                      lt::download_priority_t to, bool lower_others) {
  auto priorities = h.get_piece_priorities();
  bool raised = false;
  bool changed = false;
  for (std::size_t i = 0; i < priorities.size() && i < kept.size(); ++i) {
    auto& p = priorities[i];
    if (kept[i] && p == lt::dont_download) {
      p = to;
      raised = changed = true;
    } else if (!kept[i] && lower_others && p != lt::dont_download && p != lt::top_priority) {
      p = lt::dont_download;
      changed = true;
    }
  }
  if (changed) h.prioritize_pieces(priorities);
  return raised;
}

struct SiteManager::Job {
  std::uint64_t number = 0;  // in start order
  std::string id;
  std::string kind;
  std::mutex mutex;
  std::string state = "running";
  std::string stage = "starting";
  std::uint64_t done = 0;
  std::uint64_t total = 0;
  json result;
  std::string error;
  ErrorKind error_kind = ErrorKind::kOther;
};

SiteManager::SiteManager(Node& node, Catalog& catalog, SitesOptions options)
    : node_(node),
      catalog_(catalog),
      keys_(options.home / "keys"),
      site_names_(catalog),
      options_(std::move(options)),
      created_(std::chrono::steady_clock::now()) {}

SiteManager::~SiteManager() {
  shutdown();
  std::vector<Worker> workers;
  {
    std::lock_guard lock(jobs_mutex_);
    workers.swap(threads_);
  }
  for (auto& w : workers) w.thread.join();
}

void SiteManager::shutdown() {
  stopping_ = true;
  node_.on_pushed_pointer(nullptr);
  node_.cancel_waits();  // threads blocked on lookups and downloads return now
}

fs::path SiteManager::version_dir(const InfoHash& ih) const {
  return store_dir() / ih.hex();
}

fs::path SiteManager::torrent_path(const InfoHash& ih) const {
  return options_.home / "torrents" / (ih.hex() + ".torrent");
}

std::string SiteManager::url_for(const SiteAddress& address) const {
  std::string url = options_.gateway_base;
  auto pos = url.find("{address}");
  if (pos != std::string::npos) url.replace(pos, 9, address.str());
  return url;
}

Status SiteManager::start() {
  std::error_code ec;
  fs::create_directories(store_dir(), ec);
  fs::create_directories(options_.home / "torrents", ec);
  // Leftovers of a publish that was interrupted: never a served version.
  for (const auto& e : fs::directory_iterator(store_dir(), ec)) {
    if (e.path().filename().string().rfind(".staging-", 0) == 0) fs::remove_all(e.path(), ec);
  }
  auto sites = catalog_.sites();
  if (!sites) return sites.error();
  for (const auto& s : *sites) {
    if (!s.info_hash) continue;
    if (node_.find_torrent(*s.info_hash).is_valid()) continue;  // restored from resume data
    auto bytes = read_file(torrent_path(*s.info_hash));
    if (!bytes) continue;
    lt::add_torrent_params atp;
    lt::error_code lec;
    atp.ti =
        std::make_shared<lt::torrent_info>(bytes->data(), static_cast<int>(bytes->size()), lec);
    if (lec) continue;
    atp.save_path = version_dir(*s.info_hash).string();
    if (s.role == SiteRole::kFollowed && !s.media) {
      // (Restored from resume data, a version keeps its file priorities.)
      atp.file_priorities = kept_file_priorities(*atp.ti, false);
    }
    (void)node_.add_torrent(std::move(atp));
  }
  seed_twins();
  // Sizes a catalog upgraded from schema 1 does not know yet, and served
  // versions without a record at all (a crash between a switch and its
  // record: they are separate transactions).
  if (auto versions = catalog_.versions()) {
    std::set<InfoHash> known;
    for (const auto& v : *versions) {
      known.insert(v.info_hash);
      if (v.bytes == 0 && v.retire_at == 0) hold_version(v.address, v.seq, v.info_hash);
    }
    for (const auto& s : *sites) {
      if (s.info_hash && !known.count(*s.info_hash)) hold_version(s.address, s.seq, *s.info_hash);
    }
  }
  // Versions no site uses any more are freed when the grace period the
  // catalog recorded for them ends; others found in the store (left by an
  // older hostless or a crash) after a grace period from now.
  std::map<InfoHash, std::int64_t> retire_at;
  if (auto versions = catalog_.versions()) {
    for (const auto& v : *versions) retire_at[v.info_hash] = v.retire_at;
  }
  for (const auto& e : fs::directory_iterator(store_dir(), ec)) {
    auto ih = InfoHash::from_hex(e.path().filename().string());
    if (!ih) continue;
    bool used = false;
    for (const auto& s : *sites) used = used || (s.info_hash && *s.info_hash == *ih);
    if (used) continue;
    auto at = retire_at.find(*ih);
    if (at == retire_at.end() || at->second == 0) {
      retire_version(*ih);
    } else {
      std::lock_guard lock(mirrors_mutex_);
      retired_[*ih] = std::chrono::steady_clock::now() +
                      std::chrono::seconds(std::max<std::int64_t>(0, at->second - now_unix()));
    }
  }
  node_.every(options_.republish_interval, [this] { republish_all(); });
  node_.every(std::chrono::seconds(1), [this] {
    // A round the catalog failed is tried again a minute later, not after a
    // whole republish interval.
    if (const auto at = republish_again_at_.load(); at != 0 && now_unix() >= at) republish_all();
    retry_failed_puts();
  });
  node_.every(options_.mirror_interval, [this] { follow_mirrors(); });
  node_.every(kSeekFastEvery, [this] {
    if (!seeking_.exchange(true)) {
      start_thread([this] {
        seek_peers_from_behind_nat();
        seeking_ = false;
      });
    }
  });
  node_.every(std::chrono::seconds(5), [this] {
    collect_versions();
    if (!evicting_.exchange(true)) {
      start_thread([this] {
        enforce_visit_cache();
        seal_whole_versions();
        retry_disk_errors();
        evicting_ = false;
      });
    }
  });
  // A restarted publisher puts its pointers again as soon as it can.
  republish_all();
  resume_mirrors();
  reload_blocklists();
  // Pushes: published and followed versions keep their push peers; a pushed
  // pointer is checked and adopted off the node thread.
  if (auto all = catalog_.sites()) {
    for (const auto& s : *all) {
      const bool pushes = s.role == SiteRole::kPublished || s.role == SiteRole::kFollowed;
      if (pushes && s.info_hash) node_.keep_push_peers(*s.info_hash);
    }
  }
  node_.on_pushed_pointer([this](const PushedPointer& p) {
    if (!stopping_) start_thread([this, p] { accept_push(p); });
  });
  return {};
}

void SiteManager::republish_all() {
  auto sites = catalog_.sites();
  {
    std::lock_guard lock(catalog_error_mutex_);
    if (!sites) {
      // Said once per failure, and in `status`, since until it is fixed no
      // name this node keeps alive is put again and each fades from the DHT.
      if (catalog_error_ != sites.error().message) {
        LogLine(LogLevel::kError)
            << "cannot read the catalog to put the names it keeps alive again ("
            << sites.error().message << "); trying again every minute";
      }
      catalog_error_ = sites.error().message;
      republish_again_at_ = now_unix() + kCatalogRetry.count();
      return;
    }
    if (!catalog_error_.empty()) {
      LogLine(LogLevel::kInfo) << "the catalog reads again; putting the names it keeps alive";
    }
    catalog_error_.clear();
    republish_again_at_ = 0;
  }
  // Kept sites whose last poll, within this round, found their name on
  // enough nodes are not put again (BEP 44).
  std::set<std::string> well_held;
  {
    const auto since = std::chrono::steady_clock::now() - kWalkEvery * options_.republish_interval;
    std::lock_guard lock(mirrors_mutex_);
    for (const auto& [address, plan] : poll_plans_) {
      if (plan.well_held > since) well_held.insert(address);
    }
  }
  // Queue every pointer we keep alive; retry_failed_puts puts them and keeps
  // trying every few seconds until a DHT node accepts each one.
  std::lock_guard lock(retry_mutex_);
  for (const auto& s : *sites) {
    if (s.role == SiteRole::kVisited || s.role == SiteRole::kBlocked || !s.pointer ||
        well_held.count(s.address.str())) {
      continue;
    }
    unannounced_[s.pointer->key] = *s.pointer;
  }
}

void SiteManager::retry_failed_puts() {
  std::lock_guard lock(retry_mutex_);
  const auto now = std::chrono::steady_clock::now();
  for (auto it = retrying_.begin(); it != retrying_.end();) {
    if (it->second.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ++it;
      continue;
    }
    auto r = it->second.get();
    const std::int64_t seq = retry_seq_[it->first];
    // Done only if no newer version was queued while this put was running.
    auto queued = unannounced_.find(it->first);
    if (r && queued != unannounced_.end() && queued->second.seq <= seq) {
      unannounced_.erase(queued);
    }
    NameState& n = names_[it->first];
    if (r && seq >= n.stored_seq) {
      n = NameState{seq, *r, now_unix(), ""};
    } else if (!r) {
      n.error = r.error().message;
    }
    it = retrying_.erase(it);
  }
  // A new pointer is put again 1, 3, 7, 15 and 31 minutes after publish
  // (gaps doubling from a minute) before the republish interval takes
  // over: on the simulated internet a name put once was found by fresh
  // nodes for the first minutes, then by fewer and fewer (new nodes joined
  // nearer its key, and lookups no longer reached the nodes holding it);
  // re-put every 60 s, every lookup found it.
  for (auto it = early_puts_.begin(); it != early_puts_.end();) {
    auto& [key, e] = *it;
    if (now < e.at) {
      ++it;
      continue;
    }
    auto& q = unannounced_[key];
    if (q.seq <= e.pointer.seq) q = e.pointer;
    next_put_.erase(key);
    if (e.step >= kEarlyPuts) {
      it = early_puts_.erase(it);
      continue;
    }
    e.at = now + std::chrono::minutes(1 << e.step);
    ++e.step;
    ++it;
  }
  // Nothing to put to while the routing table is empty; the first round
  // after it fills puts at once (this runs every second).
  if (node_.dht_nodes() == 0) return;
  for (const auto& [key, pointer] : unannounced_) {
    if (retrying_.count(key)) continue;
    auto& next = next_put_[key];
    if (now < next) continue;
    next = now + kPutRetry;
    retry_seq_[key] = pointer.seq;
    retrying_[key] = node_.put_pointer(pointer, kPutTimeout);
  }
}

std::string SiteManager::run_job(const std::string& kind,
                                 std::function<Result<json>(const Progress&)> fn) {
  auto job = std::make_shared<Job>();
  job->number = next_job_++;
  job->id = kind + "-" + std::to_string(job->number);
  job->kind = kind;
  {
    std::lock_guard lock(jobs_mutex_);
    // Bounded: past kJobsKept, the oldest ended jobs are forgotten (a client
    // asking for one then gets "no such job"); running ones always stay.
    if (jobs_.size() >= kJobsKept) {
      std::vector<std::shared_ptr<Job>> ended;
      for (const auto& [id, j] : jobs_) {
        std::lock_guard job_lock(j->mutex);
        if (j->state != "running") ended.push_back(j);
      }
      std::sort(ended.begin(), ended.end(),
                [](const auto& a, const auto& b) { return a->number < b->number; });
      for (const auto& j : ended) {
        if (jobs_.size() < kJobsKept) break;
        jobs_.erase(j->id);
      }
    }
    jobs_[job->id] = job;
  }
  Progress progress{[job](const std::string& stage, std::uint64_t done, std::uint64_t total) {
    std::lock_guard lock(job->mutex);
    job->stage = stage;
    job->done = done;
    job->total = total;
  }};
  start_thread([job, fn = std::move(fn), progress] {
    Result<json> r = make_error("internal error");
    try {
      r = fn(progress);
    } catch (const std::exception& e) {
      r = make_error(std::string("internal error: ") + e.what());
    }
    std::lock_guard lock(job->mutex);
    if (r) {
      job->state = "done";
      job->result = *r;
    } else {
      job->state = "failed";
      job->error = r.error().message;
      job->error_kind = r.error().kind;
    }
  });
  return job->id;
}

std::optional<json> SiteManager::job(const std::string& id) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(jobs_mutex_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return std::nullopt;
    job = it->second;
  }
  std::lock_guard lock(job->mutex);
  json j = {{"id", job->id},       {"kind", job->kind}, {"state", job->state},
            {"stage", job->stage}, {"done", job->done}, {"total", job->total}};
  if (job->state == "done") j["result"] = job->result;
  if (job->state == "failed") {
    j["error"] = job->error;
    if (*kind_name(job->error_kind) != '\0') j["error_kind"] = kind_name(job->error_kind);
  }
  return j;
}

Result<std::string> SiteManager::start_publish(const std::string& folder,
                                               const std::string& key_name,
                                               const WebSeedsChange& web_seeds_in) {
  fs::path p(folder);
  if (!p.is_absolute()) {
    return make_error("publish needs an absolute folder path", ErrorKind::kInvalid);
  }
  auto web_seeds = checked_web_seeds(web_seeds_in);
  if (!web_seeds) return web_seeds.error();
  std::string waiting_key = p.lexically_normal().string() + "\n" + key_name;
  if (*web_seeds) {
    waiting_key += "\nweb seeds:";
    for (const auto& url : **web_seeds) waiting_key += "\n" + url;
  }
  std::lock_guard waiting_lock(waiting_publishes_mutex_);
  if (auto it = waiting_publishes_.find(waiting_key); it != waiting_publishes_.end()) {
    return it->second;
  }
  auto own_id = std::make_shared<std::string>();
  auto id = run_job("publish", [this, p, key_name, waiting_key, own_id,
                                web_seeds = *web_seeds](const Progress& progress) {
    std::lock_guard publish_lock(publish_mutex_);
    {
      // From here on the folder is read: a later publish needs a job of its own.
      std::lock_guard lock(waiting_publishes_mutex_);
      auto it = waiting_publishes_.find(waiting_key);
      if (it != waiting_publishes_.end() && it->second == *own_id) waiting_publishes_.erase(it);
    }
    return publish_locked(p, key_name, progress, web_seeds);
  });
  *own_id = id;
  waiting_publishes_[waiting_key] = id;
  return id;
}

Result<std::string> SiteManager::start_get(const std::string& address, const std::string& outdir,
                                           const std::string& info_hash) {
  auto addr = SiteAddress::parse(address);
  if (!addr) return addr.error();
  fs::path out(outdir);
  if (!out.is_absolute()) {
    return make_error("get needs an absolute output path", ErrorKind::kInvalid);
  }
  std::optional<InfoHash> version;
  if (!info_hash.empty()) {
    auto ih = InfoHash::from_hex(info_hash);
    if (!ih) return make_error("info_hash: " + ih.error().message, ErrorKind::kInvalid);
    version = *ih;
  }
  SiteAddress a = *addr;
  return run_job("get", [this, a, out, version](const Progress& progress) {
    return get(a, out, progress, version);
  });
}

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

SiteManager::NamePut SiteManager::store_name(const SignedPointer& pointer) {
  using Clock = std::chrono::steady_clock;
  using std::chrono::milliseconds;
  const auto started = Clock::now();
  // A daemon that has just started needs a second or two to join the DHT: a
  // put before that reaches no one. So within kJoinWait of its start, wait
  // for the routing table first (later, an empty one means the node is
  // offline, and the put is left to the retries); then put again, with a
  // growing pause, while no node accepts it.
  const auto join_by = created_ + kJoinWait;
  // A put is sent only once the lookup before it ends, and that waits out
  // every node that does not answer. Behind a NAT without hairpinning, one
  // of them is this node's own public address: 15 s (seen on the network
  // simulator). So publish waits kPublishWait, then leaves the put running
  // and `sites` tells when it is stored.
  const auto give_up = started + kPublishWait;
  auto pause = milliseconds(500);
  int attempts = 0;
  NamePut out{make_error("no attempt"), false};
  while (!stopping_) {
    const auto now = Clock::now();
    if (node_.dht_nodes() > 0) {
      ++attempts;
      auto put = node_.put_pointer(pointer, kPutTimeout);
      if (put.wait_until(give_up) != std::future_status::ready) {
        std::lock_guard lock(retry_mutex_);
        auto& q = unannounced_[pointer.key];
        if (q.seq <= pointer.seq) q = pointer;
        if (!retrying_.count(pointer.key)) {
          retry_seq_[pointer.key] = pointer.seq;
          retrying_[pointer.key] = std::move(put);
        }
        out.storing = true;
        return out;
      }
      out.put = put.get();
      if (out.put) break;
    } else if (now >= join_by) {
      break;
    }
    if (Clock::now() + pause >= give_up) break;
    for (auto until = Clock::now() + pause; Clock::now() < until && !stopping_;) {
      std::this_thread::sleep_for(milliseconds(50));
      if (attempts == 0 && node_.dht_nodes() > 0) break;  // joined: put at once
    }
    pause = std::min(pause * 2, milliseconds(4000));
  }
  const auto waited =
      format_seconds(std::chrono::duration_cast<milliseconds>(Clock::now() - started));
  if (!out.put && attempts == 0) {
    out.put = make_error("this node has not joined the DHT: it knew no other node after " + waited +
                         "; check its network, or give it a node to start from with --bootstrap");
  } else if (!out.put) {
    out.put = make_error(out.put.error().message + " (" + std::to_string(attempts) +
                         (attempts == 1 ? " attempt in " : " attempts in ") + waited + ")");
  }
  note_name_put(pointer, out.put);
  return out;
}

void SiteManager::put_early_again(const SignedPointer& pointer) {
  std::lock_guard lock(retry_mutex_);
  early_puts_[pointer.key] = {pointer, std::chrono::steady_clock::now() + std::chrono::minutes(1),
                              1};
}

void SiteManager::note_name_put(const SignedPointer& pointer, const Result<int>& put) {
  std::lock_guard lock(retry_mutex_);
  NameState& n = names_[pointer.key];
  if (put) {
    if (pointer.seq >= n.stored_seq) n = NameState{pointer.seq, *put, now_unix(), ""};
    if (auto q = unannounced_.find(pointer.key);
        q != unannounced_.end() && q->second.seq <= pointer.seq && !retrying_.count(pointer.key)) {
      unannounced_.erase(q);
    }
  } else {
    n.error = put.error().message;
    // Kept until a node takes it: retry_failed_puts tries again.
    auto& q = unannounced_[pointer.key];
    if (q.seq <= pointer.seq) q = pointer;
  }
}

Result<SignedPointer> SiteManager::resolve_pointer(const SiteAddress& address,
                                                   std::chrono::milliseconds timeout,
                                                   std::chrono::milliseconds settle) {
  // A node whose DHT is still empty well after it started is offline or
  // alone: a lookup could only time out, so a pointer it knows is the answer
  // (`torrent`, `get` and `resolve` of its own sites waited 30 s for nothing).
  if (node_.dht_nodes() == 0 && std::chrono::steady_clock::now() - started_ > kAloneAfter) {
    if (auto known = known_pointer(address)) return *known;
  }
  auto found = node_.get_pointer(address.key(), timeout, settle).get();
  if (found) {
    // Rollback protection: never go below the highest seq seen.
    auto kept = catalog_.observe_pointer(*found);
    if (kept && kept->seq > found->seq) {
      bool first = false;
      {
        std::lock_guard lock(refused_mutex_);
        if (refused_pointers_.size() >= 10000) refused_pointers_.clear();
        first = refused_pointers_.emplace(found->key, found->seq).second;
      }
      if (first) {
        LogLine(LogLevel::kWarning)
            << "refusing seq " << found->seq << " of " << address.str()
            << ": this node has seen seq " << kept->seq
            << " (an older pointer, stale or replayed, never moves a site back)";
      }
    }
    return kept;
  }
  if (auto known = known_pointer(address)) return *known;
  return make_error(address.str() + ": " + found.error().message +
                        ". The site is unknown, or no node holding its name is reachable",
                    found.error().kind);
}

std::optional<SignedPointer> SiteManager::known_pointer(const SiteAddress& address) {
  auto known = catalog_.site(address);
  if (known && *known && (*known)->pointer) return *(*known)->pointer;
  return std::nullopt;
}

Result<json> SiteManager::resolve(const std::string& address, std::chrono::milliseconds timeout) {
  auto addr = SiteAddress::parse(address);
  if (!addr) return addr.error();
  auto p = resolve_pointer(*addr, timeout);
  if (!p) return p.error();
  return pointer_json(*p);
}

bool recover_hybrid_error(const lt::torrent_status& st, int& retries) {
  if (st.errc != lt::errors::torrent_inconsistent_hashes || retries >= 5) return false;
  ++retries;
  LogLine(LogLevel::kWarning) << st.name << ": libtorrent reported inconsistent v1/v2 hashes; "
                              << "clearing the error and downloading on (" << retries << "/5)";
  // libtorrent pauses a torrent with the error it sets; site torrents are
  // never paused otherwise (not auto-managed), so both go.
  lt::torrent_handle h = st.handle;
  h.clear_error();
  h.resume();
  return true;
}

lt::torrent_status status_of(const lt::torrent_handle& h, lt::status_flags_t flags) {
  try {
    if (h.is_valid()) return h.status(flags);
  } catch (const lt::system_error&) {
    // Removed between is_valid() and status(): the same as removed before.
  }
  return {};
}

void announce_if_alone(Node& node, const lt::torrent_status& st, PeerSearch& search) {
  const auto now = std::chrono::steady_clock::now();
  if (st.num_peers > 0) {
    search.alone_since = {};
    return;
  }
  if (search.alone_since == std::chrono::steady_clock::time_point{}) search.alone_since = now;
  if (!search.web_seeds_added && !search.web_seeds.empty() && st.has_metadata &&
      now - search.alone_since >= kWebSeedGrace) {
    search.web_seeds_added = true;
    for (const auto& url : search.web_seeds) st.handle.add_url_seed(url);
  }
  if (now - search.last_announce <= std::chrono::seconds(3)) return;
  search.last_announce = now;
  node.announce_now(st.handle, st.is_seeding);
}

Result<lt::torrent_handle> SiteManager::add_version(const SiteAddress& address,
                                                    const InfoHash& ih) {
  {
    std::lock_guard lock(refused_mutex_);
    if (auto it = refused_versions_.find(ih); it != refused_versions_.end()) {
      return make_error("refusing version " + ih.hex() + " of " + address.str() +
                        " (unsafe metadata): " + it->second);
    }
  }
  lt::torrent_handle h = node_.find_torrent(ih);
  if (h.is_valid()) return h;
  lt::add_torrent_params atp;
  atp.info_hashes.v1 = to_sha1(ih);
  atp.save_path = version_dir(ih).string();
  atp.name = address.str();
  // No piece request until its metadata is known and held files are in
  // place (start_version), so nothing this node holds is downloaded again.
  atp.flags |= lt::torrent_flags::upload_mode;
  return node_.add_torrent(std::move(atp));
}

Status SiteManager::await_metadata(const SiteAddress& address, const InfoHash& ih,
                                   const lt::torrent_handle& h,
                                   std::function<void(const lt::torrent_status&)> on_wait) {
  const auto wait = [&](std::chrono::milliseconds timeout) {
    return node_
        .wait_torrent(
            h,
            [this, on_wait,
             search = PeerSearch{}](const lt::torrent_status& st) mutable -> std::optional<Status> {
              // Metadata in hand is what was awaited, also if the torrent
              // stopped after it came (a full disk): callers look at that.
              if (st.has_metadata) return Status();
              if (st.errc) {
                return Status(make_error(metadata_error_text(st.errc), ErrorKind::kRefused));
              }
              if (st.total_download > kMetadataTrafficCap) {
                st.handle.pause();  // (fire and forget: stops the traffic now)
                return Status(make_error(
                    "peers sent " + std::to_string(st.total_download >> 20) +
                    " MiB but no metadata libtorrent can use (it takes at most 30 MiB)"));
              }
              announce_if_alone(node_, st, search);
              if (on_wait) on_wait(st);
              return std::nullopt;
            },
            timeout)
        .get();
  };
  const auto seeds = web_seeds_of(address, ih);
  if (seeds.empty()) return wait(options_.fetch_timeout);
  const auto grace = std::min<std::chrono::milliseconds>(kWebSeedGrace, options_.fetch_timeout);
  const auto start = std::chrono::steady_clock::now();
  Status first = wait(grace);
  const lt::torrent_status st = status_of(h);
  if (first || st.has_metadata || st.errc || stopping_) return first;
  // No peer gave the metadata: the web seeds' copy, if it is this version's.
  auto info =
      fetch_metadata_from_web_seeds(seeds, ih, std::size_t(30) << 20, std::chrono::seconds(10));
  if (info) {
    try {
      h.set_metadata(lt::span<char const>(info->data(), static_cast<std::ptrdiff_t>(info->size())));
    } catch (const lt::system_error&) {
      // The torrent was removed meanwhile: the wait below says so.
    }
  } else {
    LogLine(LogLevel::kWarning) << address.str() << ": " << info.error().message;
  }
  const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return wait(std::max(std::chrono::milliseconds(1), options_.fetch_timeout - spent));
}

Status SiteManager::accept_metadata(const SiteAddress& address, const lt::torrent_handle& h,
                                    const InfoHash& ih, Status waited) {
  std::string problem;
  const lt::torrent_status st = status_of(h);
  if (!waited && st.errc == lt::errors::invalid_swarm_metadata) {
    // Metadata that matches the info-hash but that libtorrent cannot parse
    // (over its decode limits) will never be any better.
    problem = waited.error().message;
  } else if (!waited && !st.has_metadata) {
    return waited;
  } else {
    // (Also when the torrent stopped with an error right after its metadata
    // arrived: libtorrent may trip over a path before we see it.)
    std::shared_ptr<const lt::torrent_info> ti;
    try {
      ti = h.torrent_file();
    } catch (const lt::system_error&) {
      return make_error("this version of the site was removed meanwhile");
    }
    if (!ti) return waited ? Status(make_error("the site's metadata is missing")) : waited;
    Status ok = check_site_metadata(*ti);
    if (ok) return waited;
    problem = ok.error().message;
  }
  bool first = false;
  {
    std::lock_guard lock(refused_mutex_);
    if (refused_versions_.size() >= 1000) refused_versions_.clear();
    first = refused_versions_.emplace(ih, problem).second;
  }
  const std::string why =
      "refusing version " + ih.hex() + " of " + address.str() + " (unsafe metadata): " + problem;
  if (first) LogLine(LogLevel::kWarning) << why;
  // Nothing of it was downloaded (it is still in upload mode), but libtorrent
  // created its empty files and links when the metadata arrived, inside its
  // folder in the store: they go with it. Not through libtorrent's
  // delete_files, which gathers the full path of every parent folder of every
  // file: quadratic in the depth (116 MB for one path 10,000 folders deep).
  // Once libtorrent has let go of the torrent (its handle goes invalid once
  // the torrent is destructed), none of its disk jobs can create them again:
  // refused right as its metadata arrived, a link was made after the folder
  // was already removed.
  node_.remove_torrent(h, false);
  for (int i = 0; i < 100 && h.is_valid(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::error_code ec;
  for (int i = 0; i < 20 && fs::exists(version_dir(ih), ec); ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    fs::remove_all(version_dir(ih), ec);
  }
  return make_error(why, ErrorKind::kRefused);
}

bool SiteManager::refused(const InfoHash& ih) {
  std::lock_guard lock(refused_mutex_);
  return refused_versions_.count(ih) != 0;
}

Result<lt::torrent_handle> SiteManager::fetch_version(const SiteAddress& address,
                                                      const InfoHash& ih, const Progress& progress,
                                                      std::uint64_t max_bytes, bool media) {
  {
    // A version being fetched is in use, also one retired before (an earlier
    // fetch that failed, or a partial download found in the store after a
    // crash): freeing it would delete what this fetch resumes from.
    std::lock_guard lock(mirrors_mutex_);
    retired_.erase(ih);
  }
  auto added = add_version(address, ih);
  if (!added) return added.error();
  lt::torrent_handle h = *added;
  if (progress.fn) progress.fn("finding peers", 0, 0);
  // Waits until the torrent has all it wants.
  const auto wait_whole = [&] {
    return node_
        .wait_torrent(
            h,
            [this, progress, search = PeerSearch{.web_seeds = web_seeds_of(address, ih)},
             retries = 0](const lt::torrent_status& st) mutable -> std::optional<Status> {
              if (recover_hybrid_error(st, retries)) return std::nullopt;
              if (st.errc) return Status(make_error(torrent_error_text(st)));
              if (st.is_seeding || st.is_finished) return Status();
              announce_if_alone(node_, st, search);
              if (progress.fn) {
                progress.fn("downloading", static_cast<std::uint64_t>(st.total_wanted_done),
                            static_cast<std::uint64_t>(st.total_wanted));
              }
              return std::nullopt;
            },
            options_.fetch_timeout)
        .get();
  };
  Status done = accept_metadata(
      address, h, ih, await_metadata(address, ih, h, [progress](const lt::torrent_status&) {
        if (progress.fn) progress.fn("fetching metadata", 0, 0);
      }));
  if (!done && refused(ih)) return done.error();
  if (!done) {
    // Stopped (an error, or paused by await_metadata): not a matter of time.
    const lt::torrent_status st = status_of(h);
    if (st.errc || (st.flags & lt::torrent_flags::paused)) {
      retire_version(ih);  // freed later unless some site uses it
      return make_error("cannot fetch the site's metadata: " + done.error().message);
    }
  }
  std::vector<bool> kept;
  std::uint64_t kept_bytes = 0;
  if (done) {
    if (auto ti = h.torrent_file()) {
      kept = kept_pieces(*ti, media);
      for (std::size_t i = 0; i < kept.size(); ++i) {
        if (kept[i])
          kept_bytes +=
              static_cast<std::uint64_t>(ti->piece_size(lt::piece_index_t(static_cast<int>(i))));
      }
    }
  }
  if (done && max_bytes > 0) {
    if (kept_bytes > max_bytes) {
      retire_version(ih);  // nothing of it was downloaded: start_version was not called
      {
        std::lock_guard lock(refused_mutex_);
        if (over_cap_.size() >= 1000) over_cap_.clear();
        over_cap_.insert(ih);
      }
      return make_error("version " + ih.hex() + " is " + std::to_string(kept_bytes >> 20) + " MiB" +
                            (media ? "" : " without its media") + ", above the " +
                            std::to_string(max_bytes >> 20) +
                            " MiB a followed feed or blocklist may take (the daemon's "
                            "--follow-max-mib); `hostless mirror` keeps a site of any size",
                        ErrorKind::kRefused);
    }
  }
  if (done) {
    // What is not kept (media/ of a feed followed without it) is not asked
    // for, from before the torrent leaves upload mode: as file priorities,
    // which libtorrent keeps (in resume data too) and applies again after a
    // check, and which a whole fetch gives back. Its disk thread applies
    // them: waited for (up to 5 s), since a check that start_version starts
    // meanwhile gave every piece back its old priority (seen: a follow
    // without media fetched media/ whole).
    // (Pad files aside: a torrent never given file priorities reports them
    // at the default, and a whole fetch of it has nothing to change.)
    if (auto ti = h.torrent_file()) {
      const auto& files = ti->files();
      const auto wanted = kept_file_priorities(*ti, media);
      const auto applied = [&] {
        const auto now = h.get_file_priorities();
        for (auto i : files.file_range()) {
          const auto k = static_cast<std::size_t>(static_cast<int>(i));
          if (!files.pad_file_at(i) && (k >= now.size() || now[k] != wanted[k])) return false;
        }
        return true;
      };
      if (!applied()) {
        const auto now = h.get_file_priorities();
        for (auto i : files.file_range()) {
          const auto k = static_cast<std::size_t>(static_cast<int>(i));
          if (!files.pad_file_at(i) && k < now.size() && now[k] == lt::dont_download &&
              wanted[k] != lt::dont_download) {
            unseal_file(ih, files.file_path(i));
          }
        }
        h.prioritize_files(wanted);
        for (int i = 0; i < 500 && !applied(); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
    }
    if (!media) want_kept_pieces(h, kept, lt::default_priority, true);
    start_version(h, ih);
    // A visited version holds back what no one asked for (piece priority 0),
    // and a torrent that got all it wants counts as finished: fetching it
    // means wanting every kept piece, also if a visit lowered them
    // meanwhile; so done means every kept piece held, since a visit can
    // lower and raise priorities between two looks. (On this thread: the
    // wait's check runs on the node thread, which must not block.)
    const auto holds_kept = [&] {
      const auto st = status_of(h, lt::torrent_handle::query_pieces);  // one call, not one a piece
      for (std::size_t i = 0; i < kept.size(); ++i) {
        const lt::piece_index_t p(static_cast<int>(i));
        if (kept[i] && (p >= st.pieces.end_index() || !st.pieces[p])) return false;
      }
      return true;
    };
    // (What is not kept is lowered again each round: start_version's
    // recheck, when it links held files in, may give every piece back its
    // default priority.)
    while (done) {
      const bool raised = want_kept_pieces(h, kept, lt::default_priority, !media);
      if (!raised && holds_kept()) break;
      done = wait_whole();
    }
  }
  if (!done) {
    retire_version(ih);  // freed later unless some site uses it
    // (Gone if it was freed meanwhile.)
    const lt::torrent_status st = status_of(h);
    if (st.errc) return make_error("the download stopped: " + done.error().message);
    std::string why =
        !st.has_metadata ? "no peer sent the site's metadata" : "the download did not finish";
    return make_error(
        why + " within " +
        std::to_string(
            std::chrono::duration_cast<std::chrono::seconds>(options_.fetch_timeout).count()) +
        " s (" + done.error().message + "); peers: " + std::to_string(st.num_peers));
  }
  // Keep the .torrent (with v2 piece layers, now complete) for `torrent` and
  // for restarts.
  if (auto ti = h.torrent_file_with_hashes()) {
    std::string bytes;
    try {
      lt::create_torrent ct(*ti);
      lt::bencode(std::back_inserter(bytes), ct.generate());
      write_file_atomic(torrent_path(ih), bytes);
    } catch (const std::exception&) {
      // Only the export suffers; the data is complete and seeded.
    }
  }
  return h;
}

void SiteManager::record_visit(const SiteAddress& address, const SignedPointer& pointer) {
  switch_version(address, pointer, [&](std::optional<SiteRecord>& r) {
    if (!r) {
      r.emplace();
      r->address = address;
      r->role = SiteRole::kVisited;
      r->added = now_unix();
    }
    r->last_visit = now_unix();
    return true;
  });
}

json SiteManager::status() {
  auto s = node_.stats();
  const Reachability r = node_.reachability();
  json reach = {{"reachable", r.reachable()}, {"incoming_connections", r.incoming_connections}};
  if (r.last_incoming) reach["last_incoming"] = r.last_incoming;
  if (!r.port_mapping.empty()) reach["port_mapping"] = r.port_mapping;
  if (!r.mapping_error.empty()) reach["mapping_error"] = r.mapping_error;
  if (!r.external_address.empty()) reach["external_address"] = r.external_address;
  if (r.behind_nat) reach["behind_nat"] = *r.behind_nat;
  reach["summary"] =
      r.reachable()
          ? (r.port_mapping.empty() ? "reachable (peers have connected to it)"
                                    : "reachable (" + r.port_mapping + ")")
          : std::string(r.behind_nat == true ? "behind a NAT that maps no port"
                                             : "not known to be reachable") +
                ": no incoming connection yet and no port mapping; it connects out to the "
                "peers of its sites instead (it announces them every " +
                std::to_string(kSeekEvery.count()) +
                " s), so they are fetched from it, but more slowly than from a reachable node";
  json out = {{"pid", ::getpid()},
              {"dht", s.dht_nodes == 0 ? "joining (knows no DHT node yet)" : "joined"},
              {"reachability", reach},
              {"dht_nodes", s.dht_nodes},
              {"listen_port", s.listen_port},
              {"torrents", s.torrents},
              {"downloaded", s.total_download},
              {"uploaded", s.total_upload},
              {"failed_bytes", s.total_failed},
              {"redundant_bytes", s.total_redundant},
              {"dht_bytes_in", s.dht_bytes_in},
              {"dht_bytes_out", s.dht_bytes_out},
              {"polls",
               {{"direct", polls_direct_.load()},
                {"walked", polls_walked_.load()},
                {"lookup", polls_lookup_.load()},
                {"found_newer", polls_newer_.load()},
                {"bytes", poll_bytes_.load()}}}};
  std::lock_guard lock(catalog_error_mutex_);
  if (!catalog_error_.empty()) out["catalog_error"] = catalog_error_;
  return out;
}

json SiteManager::sites() {
  json arr = json::array();
  auto sites = catalog_.sites();
  if (!sites) return arr;
  std::map<InfoHash, VersionRecord> versions;
  if (auto all = catalog_.versions()) {
    for (const auto& v : *all) versions[v.info_hash] = v;
  }
  const auto statuses = node_.statuses();
  std::map<PublicKey, NameState> names;
  std::set<PublicKey> pending;
  {
    std::lock_guard lock(retry_mutex_);
    names = names_;
    for (const auto& [key, p] : unannounced_) pending.insert(key);
  }
  std::map<SiteAddress, json> petnames;
  if (auto all = catalog_.names()) {
    for (const auto& n : *all) petnames[n.address].push_back(n.name);
  }
  for (const auto& s : *sites) {
    json j = {{"address", s.address.str()},
              {"role", role_name(s.role)},
              {"seq", s.seq},
              {"last_visit", s.last_visit},
              {"url", url_for(s.address)}};
    if (auto p = petnames.find(s.address); p != petnames.end()) j["petnames"] = p->second;
    if (s.info_hash) j["info_hash"] = s.info_hash->hex();
    if (s.role != SiteRole::kVisited) {
      // Whether the DHT holds this site's name, as far as this daemon's puts
      // since it started tell.
      json name = {{"state", "not stored yet"}};
      if (auto n = names.find(s.address.key()); n != names.end()) {
        if (n->second.stored_seq > 0) {
          name = {{"state", "stored"},
                  {"seq", n->second.stored_seq},
                  {"nodes", n->second.nodes},
                  {"at", n->second.stored_at}};
        }
        if (!n->second.error.empty()) name["error"] = n->second.error;
      }
      if (pending.count(s.address.key())) name["retrying"] = true;
      j["name"] = name;
    }
    if (!s.handle.empty()) j["handle"] = s.handle;
    if (s.role == SiteRole::kFollowed) j["media"] = s.media;
    if (auto l = listed(s.address.str())) {
      j["listed_by"] = l->list;
      if (!l->reason.empty()) j["listed_reason"] = l->reason;
    }
    if (!s.key_name.empty()) j["key"] = s.key_name;
    if (!s.folder.empty()) j["folder"] = s.folder;
    // A feed this node publishes: the dashboard can post to it.
    std::error_code feed_ec;
    if (s.role == SiteRole::kPublished && s.info_hash &&
        fs::exists(version_dir(*s.info_hash) / s.address.str() / "feed.json", feed_ec)) {
      j["feed"] = true;
    }
    j["magnet"] = s.address.magnet();
    if (s.info_hash) {
      if (auto v = versions.find(*s.info_hash); v != versions.end()) {
        j["size"] = v->second.bytes;
        j["version_added"] = v->second.added;
      }
      if (auto it = statuses.find(*s.info_hash); it != statuses.end()) {
        const lt::torrent_status& st = it->second;
        j["on_disk"] = st.total_done;  // verified bytes held (a visit may hold part)
        // A feed followed without its media: the bytes it keeps.
        if (s.role == SiteRole::kFollowed && !s.media && st.has_metadata) {
          j["wanted"] = st.total_wanted;
        }
        j["peers"] = st.num_peers;
        j["seeds"] = st.num_seeds;
        j["leechers"] = st.num_peers - st.num_seeds;
        j["download_rate"] = st.download_payload_rate;  // bytes/s
        j["upload_rate"] = st.upload_payload_rate;
        if (st.errc) j["error"] = torrent_error_text(st);
        if (auto title = site_title(*s.info_hash, st.handle); !title.empty()) j["title"] = title;
      }
    }
    // A newer version on its way (a mirror's first fetch or an update).
    if (s.pointer && (!s.info_hash || *s.info_hash != s.pointer->value.ih)) {
      if (auto it = statuses.find(s.pointer->value.ih); it != statuses.end()) {
        const lt::torrent_status& st = it->second;
        json f = {{"seq", s.pointer->seq},
                  {"info_hash", s.pointer->value.ih.hex()},
                  {"on_disk", st.total_done}};
        if (st.has_metadata) f["size"] = st.total_wanted;
        if (st.errc) f["error"] = torrent_error_text(st);
        j["fetching"] = f;
      }
    }
    arr.push_back(j);
  }
  return arr;
}

}  // namespace hostless
