// SiteManager's frame: start-up (restoring what the catalog holds), jobs,
// visits recorded, and the status and site lists the dashboard shows.
#include "sites/sites.hpp"

#include <ctime>

#include "util/files.hpp"
#include "util/log.hpp"

namespace hostless {
namespace fs = std::filesystem;
using json = nlohmann::json;

std::int64_t now_unix() {
  return static_cast<std::int64_t>(std::time(nullptr));
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
  node_.every(poll_tick(options_.mirror_interval), [this] { follow_mirrors(); });
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
              {"requests_declined", s.requests_declined},
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
