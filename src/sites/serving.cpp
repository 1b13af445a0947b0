// The sites layer's visits: a site fetched on demand for the gateway (its
// name resolved, its metadata and first file fetched, the rest in the
// background); reads.cpp serves its bytes.
#include <algorithm>
#include <cstring>
#include <fstream>

#include <libtorrent/torrent_info.hpp>

#include "sites/sites.hpp"
#include "util/encoding.hpp"
#include "util/log.hpp"

namespace hostless {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// How long visit() reuses what the catalog said about a site.
constexpr auto kWarmFor = std::chrono::seconds(1);

// The text of the first <title> element, entities decoded, white space
// collapsed, at most 200 bytes; "" if none.
std::string html_title(const std::string& html) {
  std::string low(html.size(), ' ');
  std::transform(html.begin(), html.end(), low.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto open = low.find("<title");
  if (open == std::string::npos) return "";
  auto start = low.find('>', open);
  auto end = low.find("</title", start == std::string::npos ? open : start);
  if (start == std::string::npos || end == std::string::npos) return "";
  std::string raw = html.substr(start + 1, end - start - 1);
  static const std::pair<const char*, const char*> kEntities[] = {
      {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}};
  std::string out;
  for (std::size_t i = 0; i < raw.size() && out.size() < 200;) {
    bool replaced = false;
    for (const auto& [entity, text] : kEntities) {
      if (raw.compare(i, std::strlen(entity), entity) == 0) {
        out += text;
        i += std::strlen(entity);
        replaced = true;
        break;
      }
    }
    if (replaced) continue;
    char c = raw[i++];
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  // Valid UTF-8 only (JSON carries it): cut at the first bad byte.
  while (!out.empty() && (out.back() == ' ' || !valid_utf8(out))) out.pop_back();
  return out;
}

}  // namespace

struct SiteManager::Visit {
  std::mutex mutex;
  std::condition_variable changed;
  std::string stage = "finding the name";
  std::string error;
  ErrorKind error_kind = ErrorKind::kOther;
  int peers = 0;
  std::shared_ptr<const SiteVersion> version;
  Clock::time_point failed_at;

  VisitState state() {
    std::lock_guard lock(mutex);
    return {stage, error, peers, version, error_kind};
  }
  void set(std::string new_stage, int new_peers) {
    {
      std::lock_guard lock(mutex);
      stage = std::move(new_stage);
      peers = new_peers;
    }
    changed.notify_all();
  }
  void finish(std::shared_ptr<const SiteVersion> v, Error why) {
    {
      std::lock_guard lock(mutex);
      version = std::move(v);
      if (version) {
        stage = "ready";
      } else {
        stage = "failed";
        error = std::move(why.message);
        error_kind = why.kind;
        failed_at = Clock::now();
      }
    }
    changed.notify_all();
  }
};

namespace {

// How long a failed cold visit is shown before a new visit tries again.
constexpr auto kRetryFailedVisit = std::chrono::seconds(5);
// Cold visits under way at once (each holds a thread while it resolves and
// fetches metadata); past it a visit is refused until some end.
constexpr std::size_t kMaxColdVisits = 256;
// A visit updates the site's last-visit time at most this often.
constexpr std::chrono::seconds kLastVisitResolution{1};

std::string file_etag(const lt::file_storage& fs, lt::file_index_t i, const InfoHash& ih) {
  auto root = fs.root(i);
  if (!root.is_all_zeros()) {
    return "\"" + to_hex({reinterpret_cast<const std::uint8_t*>(root.data()), root.size()}) + "\"";
  }
  // A v1-only torrent: the info-hash pins every byte, so it and the index do too.
  return "\"" + ih.hex() + "-" + std::to_string(static_cast<int>(i)) + "\"";
}

}  // namespace

void SiteManager::start_thread(std::function<void()> fn) {
  std::lock_guard lock(jobs_mutex_);
  // Join the threads that finished, so a long-running daemon does not keep
  // one stack per visit it ever made.
  std::erase_if(threads_, [](Worker& w) {
    if (!*w.done) return false;
    w.thread.join();
    return true;
  });
  auto done = std::make_shared<std::atomic<bool>>(false);
  threads_.push_back({std::thread([fn = std::move(fn), done] {
                        // A thread's edge: an exception (libtorrent throws on
                        // a handle removed meanwhile) ends this job, never
                        // the daemon.
                        try {
                          fn();
                        } catch (const std::exception& e) {
                          LogLine(LogLevel::kError)
                              << "internal error in a background job: " << e.what();
                        }
                        *done = true;
                      }),
                      done});
}

std::shared_ptr<const SiteVersion> SiteManager::version_view(const SiteAddress& address,
                                                             std::int64_t seq, const InfoHash& ih,
                                                             const lt::torrent_handle& h) {
  {
    std::lock_guard lock(visits_mutex_);
    auto it = views_.find(ih.hex());
    if (it != views_.end() && it->second->seq == seq) return it->second;
  }
  auto ti = h.torrent_file();
  if (!ti) return nullptr;
  auto v = std::make_shared<SiteVersion>();
  v->address = address.str();
  v->seq = seq;
  v->info_hash = ih.hex();
  const auto& files = ti->files();
  const std::string root = files.name() + "/";
  for (auto i : files.file_range()) {
    if (files.pad_file_at(i)) continue;
    std::string path = files.file_path(i);
    // Multi-file torrents put every file under the torrent's name; a
    // single-file torrent's one file is served under its own name.
    if (path.compare(0, root.size(), root) == 0) path.erase(0, root.size());
    v->files[path] = ServedFile{static_cast<int>(i), static_cast<std::uint64_t>(files.file_size(i)),
                                file_etag(files, i, ih)};
  }
  std::vector<std::string> paths;
  for (auto i : files.file_range()) paths.push_back(files.file_path(i));
  std::lock_guard lock(visits_mutex_);
  views_[ih.hex()] = v;
  disk_paths_[ih.hex()] = std::move(paths);
  return v;
}

bool SiteManager::knows(const std::string& address_text) {
  auto address = SiteAddress::parse(address_text);
  if (!address) return false;
  {
    std::lock_guard lock(visits_mutex_);
    // Not visits_: a visit under way or failed has not opened the site.
    if (warm_.count(address->str()) != 0) return true;
  }
  auto record = catalog_.site(*address);
  return record && *record;
}

VisitState SiteManager::visit(const std::string& address_text, const std::string& first_path) {
  auto address = SiteAddress::parse(address_text);
  if (!address) return {"failed", address.error().message, 0, nullptr, ErrorKind::kInvalid};
  const std::string key = address->str();
  // A recent failed visit is the answer unless the site got served since (a
  // mirror's fetch that went on once the disk had room, say).
  std::optional<VisitState> failed;
  {
    std::lock_guard lock(visits_mutex_);
    auto it = visits_.find(key);
    if (it != visits_.end()) {
      auto st = it->second->state();
      if (st.stage == "failed" && Clock::now() - it->second->failed_at <= kRetryFailedVisit) {
        failed = st;
      } else if (st.stage != "failed" && !st.ready()) {
        return st;
      } else {
        visits_.erase(it);
      }
    }
  }

  // Named by a subscribed blocklist: refused, unless followed, mirrored or
  // published here.
  if (auto l = listed(key)) {
    auto record = catalog_.site(*address);
    const bool chosen = record && *record &&
                        (is_kept((*record)->role) || (*record)->role == SiteRole::kPublished) &&
                        (*record)->role != SiteRole::kBlocklist;
    if (!chosen) {
      return {"failed",
              "the blocklist " + l->list + " you subscribe to lists this site" +
                  (l->reason.empty() ? "" : " (\"" + l->reason + "\")") +
                  "; to open it anyway follow or mirror it, or `hostless blocklist unsubscribe " +
                  l->list + "`",
              0, nullptr, ErrorKind::kRefused};
    }
  }

  // Known: serve the version we hold; look the name up again behind it.
  // (What the catalog says is reused for up to kWarmFor: a busy site is not
  // one catalog query and libtorrent round trip per request.)
  std::optional<Warm> warm;
  {
    std::lock_guard lock(visits_mutex_);
    auto it = warm_.find(key);
    if (it != warm_.end() && Clock::now() - it->second.at < kWarmFor) warm = it->second;
  }
  if (!warm) {
    auto record = catalog_.site(*address);
    if (record && *record && (*record)->role == SiteRole::kBlocked) {
      return {"failed", "you blocked this site; `hostless unblock " + key + "` to open it again", 0,
              nullptr, ErrorKind::kRefused};
    }
    if (record && *record && (*record)->info_hash) {
      const SiteRecord& r = **record;
      auto h = node_.find_torrent(*r.info_hash);
      if (h.is_valid()) {
        if (auto v = version_view(*address, r.seq, *r.info_hash, h)) {
          warm = Warm{r, v, Clock::now()};
          std::lock_guard lock(visits_mutex_);
          auto& slot = warm_[key];
          // Never back to an older version a slower thread read.
          if (slot.record.seq <= r.seq) slot = *warm;
        }
      }
    }
  }
  if (warm) {
    const SiteRecord& r = warm->record;
    bool due = false;
    bool touch = false;
    const auto now_s = now_unix();
    {
      std::lock_guard lock(visits_mutex_);
      auto [it, fresh] = refreshed_.try_emplace(key, Clock::now());
      due = fresh || Clock::now() - it->second > options_.refresh_interval;
      if (due) it->second = Clock::now();
      auto w = warm_.find(key);
      if (r.role == SiteRole::kVisited && w != warm_.end() &&
          now_s - w->second.record.last_visit >= kLastVisitResolution.count()) {
        w->second.record.last_visit = now_s;
        touch = true;
      }
    }
    // What the visit cache evicts by.
    if (touch) (void)catalog_.touch_visit(*address, now_s);
    if (due && r.role != SiteRole::kPublished) {
      SiteRecord copy = r;
      start_thread([this, copy] { refresh(copy); });
    }
    return {"ready", "", 0, warm->view};
  }
  if (failed) return *failed;

  // Cold: fetch in the background; callers poll or wait.
  std::shared_ptr<Visit> v;
  {
    std::lock_guard lock(visits_mutex_);
    if (visits_.size() >= kMaxColdVisits && visits_.count(key) == 0) {
      // Ended visits are forgotten first (a failed one's message has been
      // shown long enough, a ready one is served from warm_).
      const auto now = Clock::now();
      std::erase_if(visits_, [now](const auto& entry) {
        auto st = entry.second->state();
        return st.ready() ||
               (st.stage == "failed" && now - entry.second->failed_at > kRetryFailedVisit);
      });
      if (visits_.size() >= kMaxColdVisits) {
        return {"failed",
                "too many sites are being opened at once (" + std::to_string(kMaxColdVisits) +
                    "); try again when some have opened",
                0, nullptr, ErrorKind::kUnavailable};
      }
    }
    auto [it, fresh] = visits_.try_emplace(key, std::make_shared<Visit>());
    v = it->second;
    if (!fresh) return v->state();
  }
  SiteAddress a = *address;
  start_thread([this, a, first_path, v] { run_visit(a, first_path, v); });
  return v->state();
}

VisitState SiteManager::wait_visit(const std::string& address, const std::string& first_path,
                                   std::chrono::milliseconds timeout) {
  auto st = visit(address, first_path);
  if (st.ready() || st.stage == "failed") return st;
  std::shared_ptr<Visit> v;
  {
    std::lock_guard lock(visits_mutex_);
    auto it = visits_.find(SiteAddress::parse(address)->str());
    if (it == visits_.end()) return visit(address, first_path);
    v = it->second;
  }
  std::unique_lock lock(v->mutex);
  const auto ended = [&] { return v->version || v->stage == "failed"; };
  if (!v->changed.wait_for(lock, timeout, ended) && v->stage == "finding the name") {
    // The visit's lookup has the same timeout and ends a moment later with
    // the reason (how long, how many lookups, whether the DHT is joined):
    // worth a short wait rather than a vaguer "still finding the name".
    v->changed.wait_for(lock, kLookupGrace, ended);
  }
  return {v->stage, v->error, v->peers, v->version, v->error_kind};
}

void SiteManager::run_visit(const SiteAddress& address, const std::string& first_path,
                            const std::shared_ptr<Visit>& visit) {
  // A visitor is waiting: the first valid answer and what follows it within
  // 150 ms. (A newer version found later arrives with the next refresh.)
  auto ptr = resolve_pointer(address, options_.resolve_timeout, std::chrono::milliseconds(150));
  if (!ptr) return visit->finish(nullptr, ptr.error());
  const InfoHash ih = ptr->value.ih;
  visit->set("finding peers", 0);

  auto added = add_version(address, ih);
  if (!added) return visit->finish(nullptr, added.error());
  lt::torrent_handle h = *added;
  auto got = accept_metadata(
      address, h, ih, await_metadata(address, ih, h, [visit](const lt::torrent_status& st) {
        visit->set(st.num_peers == 0 ? "finding peers" : "fetching metadata", st.num_peers);
      }));
  if (!got && refused(ih)) return visit->finish(nullptr, got.error());
  if (!got) {
    retire_version(ih);  // freed later unless some site uses it
    // A torrent that stopped with an error got metadata it cannot use.
    const bool failed = static_cast<bool>(status_of(h).errc);
    if (failed) return visit->finish(nullptr, got.error());
    return visit->finish(nullptr,
                         make_error("no peer sent the site's files: " + got.error().message,
                                    ErrorKind::kUnavailable));
  }
  if (const auto st = status_of(h); st.errc) {
    // Stopped, by a full disk say (a mirror's fetch of the same version): no
    // piece comes until that is fixed, so the visitor hears why now.
    int retries = 0;
    if (!recover_hybrid_error(st, retries)) {
      return visit->finish(nullptr, make_error(torrent_error_text(st), ErrorKind::kIo));
    }
  }
  auto view = version_view(address, ptr->seq, ih, h);
  want_first(address, ih, h, view ? view->find(first_path) : nullptr);
  start_version(h, ih);

  record_visit(address, *ptr);
  {
    std::lock_guard lock(visits_mutex_);
    refreshed_[address.str()] = Clock::now();
  }
  visit->finish(view, Error{});
}

void SiteManager::want_first(const SiteAddress& address, const InfoHash& ih,
                             const lt::torrent_handle& h, const ServedFile* first) {
  // The file asked for comes first; the rest follows in the background once
  // read() got its first bytes (requests queued at a slow peer would otherwise
  // sit ahead of the page). Piece priorities, not file priorities: libtorrent
  // keeps pieces of a priority-0 file in a side "part file", where no reader
  // would find them. Some piece always stays wanted: a torrent that wants
  // nothing counts as finished and drops its connections to seeds.
  // In order, like a stream: what a reader needs next is what arrives next.
  h.set_flags(lt::torrent_flags::sequential_download);
  auto ti = h.torrent_file();
  if (ti && first && first->size > 0) {
    std::vector<lt::download_priority_t> priorities(static_cast<std::size_t>(ti->num_pieces()),
                                                    lt::dont_download);
    auto begin = ti->map_file(lt::file_index_t(first->index), 0, 1);
    auto end = ti->map_file(lt::file_index_t(first->index),
                            static_cast<std::int64_t>(std::min(first->size, kReadAhead)) - 1, 1);
    for (int p = static_cast<int>(begin.piece); p <= static_cast<int>(end.piece); ++p) {
      priorities[static_cast<std::size_t>(p)] = lt::top_priority;
    }
    h.prioritize_pieces(priorities);
    int ms = 0;
    for (int p = static_cast<int>(begin.piece); p <= static_cast<int>(end.piece); ++p, ms += 100) {
      h.set_piece_deadline(lt::piece_index_t(p), ms);
    }
  } else {
    start_background(address, ih.hex(), h);
  }
}

void SiteManager::refresh(const SiteRecord& record) {
  if (stopping_) return;
  auto ptr = resolve_pointer(record.address, options_.resolve_timeout);
  if (!ptr || ptr->seq <= record.seq || (record.info_hash && ptr->value.ih == *record.info_hash)) {
    return;
  }
  std::uint64_t bytes = 0;
  if (auto versions = catalog_.versions()) {
    for (const auto& v : *versions) {
      if (record.info_hash && v.info_hash == *record.info_hash) bytes = v.bytes;
    }
  }
  // A visited site over the per-site cap is not fetched whole: the new
  // version is served at once, on demand like a first visit.
  if (record.role == SiteRole::kVisited && bytes > options_.visit_site_bytes) {
    adopt_on_demand(record.address, *ptr);
  } else {
    adopt_version(record.address, *ptr);
  }
}

void SiteManager::adopt_on_demand(const SiteAddress& address, const SignedPointer& ptr) {
  const InfoHash& ih = ptr.value.ih;
  auto added = add_version(address, ih);
  if (!added) return;
  lt::torrent_handle h = *added;
  if (!accept_metadata(address, h, ih, await_metadata(address, ih, h, {}))) {
    if (!refused(ih)) retire_version(ih);  // freed later unless some site uses it
    return;
  }
  auto view = version_view(address, ptr.seq, ih, h);
  want_first(address, ih, h, view ? view->find("index.html") : nullptr);
  start_version(h, ih);
  switch_version(address, ptr, [&](std::optional<SiteRecord>& r) {
    return r && r->role == SiteRole::kVisited && r->seq < ptr.seq;
  });
}

void SiteManager::start_background(const SiteAddress& address, const std::string& ih_hex,
                                   const lt::torrent_handle& h) {
  {
    std::lock_guard lock(visits_mutex_);
    if (!background_.insert(ih_hex).second) return;
  }
  // A visited site over the per-site cap is only fetched as it is read, and
  // so is the media/ of a feed followed without it.
  auto record = catalog_.site(address);
  auto ti = h.torrent_file();
  bool visited = !record || !*record || (*record)->role == SiteRole::kVisited;
  if (visited && ti && static_cast<std::uint64_t>(ti->total_size()) > options_.visit_site_bytes) {
    return;
  }
  if (record && *record && (*record)->role == SiteRole::kFollowed && !(*record)->media) return;
  raise_unwanted_pieces(h, lt::low_priority);
}

std::string SiteManager::site_title(const InfoHash& ih, const lt::torrent_handle& h) {
  {
    std::lock_guard lock(visits_mutex_);
    if (auto it = titles_.find(ih.hex()); it != titles_.end()) return it->second;
  }
  auto ti = h.torrent_file();
  if (!ti) return "";
  const auto& files = ti->files();
  for (auto i : files.file_range()) {
    if (files.file_path(i) != (fs::path(files.name()) / "index.html").string()) continue;
    auto progress = h.file_progress(lt::torrent_handle::piece_granularity);
    if (progress[static_cast<std::size_t>(static_cast<int>(i))] != files.file_size(i)) return "";
    if (!node_.flush_writes(h, kFlushTimeout)) return "";  // had, and on disk
    std::string head(65536, '\0');  // the title is near the top; never read it all
    std::ifstream in(version_dir(ih) / files.file_path(i), std::ios::binary);
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(in.gcount()));
    std::string title = html_title(head);
    std::lock_guard lock(visits_mutex_);
    titles_[ih.hex()] = title;
    return title;
  }
  return "";
}

}  // namespace hostless
