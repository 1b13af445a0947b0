// The sites layer: what this node publishes, visits and mirrors, on top of the
// node (DHT + swarms) and the catalog. Implements SiteService for the gateway.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "feed/feed.hpp"
#include "node/node.hpp"
#include "protocol/keys.hpp"
#include "sites/names.hpp"
#include "sites/options.hpp"
#include "sites/service.hpp"
#include "sites/swarm.hpp"
#include "sites/web_seeds.hpp"
#include "store/catalog.hpp"

namespace hostless {

// How long after a poll a kept site is polled again, given how long ago its
// name last moved: `base` (--mirror-interval) while it moved within the last
// hour, then an eighth of that time, up to 12 x `base` (an hour at the
// default 5 min). Push brings new versions of followed feeds sooner; the
// poll is the safety net, and a feed quiet for a day needs no 288 of them.
std::chrono::milliseconds poll_interval(std::chrono::milliseconds since_change,
                                        std::chrono::milliseconds base);

// How often due polls are started: a thirtieth of `base` (--mirror-interval),
// 1 to 10 s. Each kept site is polled when its own time comes, so 500 follows
// at the default 5 min are about 17 polls every 10 s, not 500 at once (a
// burst that libtorrent's DHT upload cap, 8 KB/s by default, and other
// nodes' per-IP query limit, 5/s, would drop).
std::chrono::milliseconds poll_tick(std::chrono::milliseconds base);

// Seconds since the Unix epoch: the catalog's times.
std::int64_t now_unix();

// Kept within --follow-max-mib (and its size cap refused before download):
// followed feeds and blocklists. A mirror takes any size.
bool size_capped(SiteRole role);

// {"address","seq","info_hash","magnet","torrent_magnet"} of a pointer.
nlohmann::json pointer_json(const SignedPointer& p);

// A BitTorrent magnet of a torrent: its v1 info-hash, its name (dn) and BEP
// 9's ws= for web seeds, so other BitTorrent clients fetch from them too.
std::string torrent_magnet(const InfoHash& v1_ih, const std::string& name,
                           const std::vector<std::string>& web_seeds);

// Thread-safety: every public member may be called from any thread, also
// at once (the gateway's workers, the control API's jobs, the node thread's
// periodic tasks). A blocking member (publish, get, mirror, follow, resolve,
// torrent, wait_visit, read) blocks only its caller, at most for its timeout;
// shutdown() makes every one return soon with "shutting down". What it
// starts runs on threads of its own (start_thread), joined by the destructor,
// which must not run before the gateway has stopped.
// Inside, each mutex guards its own maps and is held briefly. The pairs ever
// held together are taken in this order: publish_mutex_, then
// waiting_publishes_mutex_, then jobs_mutex_, then a Job's mutex;
// blocklists_reload_mutex_, then blocklists_mutex_; visits_mutex_, then
// sealed_mutex_. Catalog and Node calls take their own mutex last (neither
// calls back into this class while holding it). Closures handed to the node
// (wait_torrent checks, every()) run on the node thread: they never block and
// make only fire-and-forget libtorrent calls.
class SiteManager final : public SiteService {
 public:
  SiteManager(Node& node, Catalog& catalog, SitesOptions options);
  ~SiteManager() override;

  // Re-adds what the catalog knows and starts the re-put timer.
  Status start();
  // Makes every blocked job, visit and read() return soon with an error; call
  // before stopping the gateway so its workers are not left waiting.
  void shutdown();

  Result<std::string> start_publish(const std::string& folder, const std::string& key_name,
                                    const WebSeedsChange& web_seeds = std::nullopt) override;
  Result<std::string> start_get(const std::string& address, const std::string& outdir,
                                const std::string& info_hash = "") override;
  std::optional<nlohmann::json> job(const std::string& id) override;
  Result<std::string> start_export(const std::string& address, const std::string& outdir) override;
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
  Result<std::string> name_address(const std::string& label) override;
  Result<nlohmann::json> names() override;
  Result<nlohmann::json> set_name(const std::string& name, const std::string& address,
                                  bool replace) override;
  Result<nlohmann::json> remove_name(const std::string& name) override;

  // The blocking operations behind the jobs, usable directly.
  struct Progress {
    std::function<void(const std::string& stage, std::uint64_t done, std::uint64_t total)> fn;
  };
  Result<nlohmann::json> publish(const std::filesystem::path& folder, const std::string& key_name,
                                 const Progress& progress,
                                 const WebSeedsChange& web_seeds = std::nullopt);
  // publish() with publish_mutex_ already held.
  Result<nlohmann::json> publish_locked(const std::filesystem::path& folder,
                                        const std::string& key_name, const Progress& progress,
                                        const WebSeedsChange& web_seeds = std::nullopt);
  // The version `version` when given, else the one the name points to.
  // `web_seed`: laid out as a web seed serves it (start_export).
  Result<nlohmann::json> get(const SiteAddress& address, const std::filesystem::path& outdir,
                             const Progress& progress,
                             const std::optional<InfoHash>& version = std::nullopt,
                             bool web_seed = false);
  Result<nlohmann::json> mirror(const SiteAddress& address, const Progress& progress);
  Result<nlohmann::json> follow(const SiteAddress& address, const std::string& handle, bool media,
                                const Progress& progress);
  Result<nlohmann::json> post(const PostRequest& request, const Progress& progress);
  // A followed feed adopts at most this many new versions a minute; the
  // newest of the rest is taken when the minute is over.
  static constexpr int kFollowVersionsPerMinute = 6;

 private:
  // Mirror and follow: keeps the site's current version in `role`
  // (kMirrored or kFollowed, with `handle`; a follow without `media` keeps
  // all but its media/), follows its updates and keeps its name alive.
  Result<nlohmann::json> keep(const SiteAddress& address, SiteRole role, const std::string& handle,
                              bool media, const Progress& progress);
  // Unmirror and unfollow: forgets a site kept in `role`, frees its data.
  Result<nlohmann::json> unkeep(const SiteAddress& address, SiteRole role);
  // Runs `change` (a catalog change that lets go of the site) with no poll
  // or pushed adoption of it running, then forgets what memory holds of it
  // and frees `held`, its version, unless another site uses it.
  Status let_go(const SiteAddress& address, const std::function<Status()>& change,
                const std::optional<InfoHash>& held);
  // Merges into the feed folder `dir` the version `other` (a publish's
  // "other_device": its info_hash and seq): feed::merge_folder.
  Result<feed::Merged> merge_other_device(const SiteAddress& address,
                                          const std::filesystem::path& dir,
                                          const nlohmann::json& other, const Progress& progress);
  // Blocklists (sites/blocklists.cpp): the list that names a site, and why.
  struct Listing {
    std::string list;  // the blocklist's address
    std::string reason;
  };
  std::optional<Listing> listed(const std::string& address);
  // The entries of version `ih` of the blocklist `address`.
  Result<std::vector<feed::Listed>> read_blocklist(const SiteAddress& address, const InfoHash& ih);
  // Reads every subscribed list's held version again; frees visited copies
  // of what they name. Blocks (let_go): not on the node thread.
  void reload_blocklists();
  // True when a followed feed may adopt another version now (counts it).
  bool follow_rate_allows(const SiteAddress& address);
  // A pointer a peer pushed (node.hpp): for a site this node holds, checked
  // against the highest seen, passed on to this node's peers of the site,
  // and for a followed or mirrored site adopted at once, fetched first from
  // the peer that pushed it. Blocks: runs on its own thread.
  void accept_push(const PushedPointer& pushed);
  // Before a followed feed's version is fetched: adds it and keeps its push
  // peers (so the connections survive the download's end).
  void keep_followed_version(const SiteAddress& address, const InfoHash& ih);
  struct Job;
  struct Visit;
  // Cold visits: resolve, add the torrent, wait for its metadata.
  void run_visit(const SiteAddress& address, const std::string& first_path,
                 const std::shared_ptr<Visit>& visit);
  // Warm visits: look the name up again; fetch a newer version whole, then
  // make it the served one.
  void refresh(const SiteRecord& record);
  // Wants only the start of `first` (top priority, deadlines, in order); the
  // rest of the version follows in the background after the first read
  // (start_background). No file: the background fetch starts now.
  void want_first(const SiteAddress& address, const InfoHash& ih, const lt::torrent_handle& h,
                  const ServedFile* first);
  // A newer version of a visited site over the per-site cap: served at once,
  // fetched as it is read.
  void adopt_on_demand(const SiteAddress& address, const SignedPointer& ptr);
  // The stored file `index` of a version known whole, if it is.
  std::optional<std::filesystem::path> complete_file(const std::string& ih_hex, int index);
  // Remembers (asking libtorrent at most once a second) when a version is whole.
  void note_if_complete(const std::string& ih_hex, const lt::torrent_handle& h);
  static Result<std::string> read_stored(const std::filesystem::path& path, std::uint64_t from,
                                         std::uint64_t to);
  // The <title> of a version's top index.html once it is held ("" if none).
  std::string site_title(const InfoHash& ih, const lt::torrent_handle& h);
  // The served view of a version whose metadata is known (cached by info-hash).
  std::shared_ptr<const SiteVersion> version_view(const SiteAddress& address, std::int64_t seq,
                                                  const InfoHash& ih, const lt::torrent_handle& h);
  void start_thread(std::function<void()> fn);
  // After the first on-demand read of a visited version: fetch the rest of it
  // at low priority.
  void start_background(const SiteAddress& address, const std::string& ih_hex,
                        const lt::torrent_handle& h);
  // The site's pointer: the DHT's answer (the highest valid one that arrived
  // within `settle` of the first) unless the catalog holds a higher one.
  // 500 ms is 5 round trips at 100 ms: the nodes of the lookup's last hops,
  // which hold the newest item, have answered by then; what has not is most
  // likely a node that never will (behind a NAT), whose silence the lookup
  // would otherwise wait out (2 s before; publish's lookup settles alike).
  Result<SignedPointer> resolve_pointer(
      const SiteAddress& address, std::chrono::milliseconds timeout,
      std::chrono::milliseconds settle = std::chrono::milliseconds(500));
  // The highest pointer of the site this node has seen, if any.
  std::optional<SignedPointer> known_pointer(const SiteAddress& address);
  // The version's torrent, added by its info-hash if this node lacks it; a
  // new one downloads nothing until start_version.
  Result<lt::torrent_handle> add_version(const SiteAddress& address, const InfoHash& ih);
  // Once `h`'s metadata is known: puts every file of it that this node holds
  // whole in another version (same BEP 52 root) in place, by hard link, has
  // libtorrent check them, then lets it download the rest. Returns the bytes
  // reused. Does nothing for a torrent that was started already. Blocks.
  std::uint64_t start_version(const lt::torrent_handle& h, const InfoHash& ih);
  // Waits (--fetch-timeout) until `h` (version `ih` of `address`) has its
  // metadata, asking the DHT again while it has no peer, and the site's web
  // seeds for it when no peer gave it within kWebSeedGrace; `on_wait` (node
  // thread: must not block) sees each status meanwhile.
  Status await_metadata(const SiteAddress& address, const InfoHash& ih, const lt::torrent_handle& h,
                        std::function<void(const lt::torrent_status&)> on_wait);
  // The web seeds of version `ih` of `address` (its highest pointer's, if
  // that names `ih`).
  std::vector<std::string> web_seeds_of(const SiteAddress& address, const InfoHash& ih);
  // Takes what await_metadata(h) returned (`waited`), before anything of the
  // version is used: refuses metadata libtorrent could not read and metadata
  // check_site_metadata refuses; passes other failures (no peer, timeout)
  // through. A refused version is removed with what libtorrent created for it
  // (so `h` is no longer valid), logged once, and refused at once by
  // add_version from then on (this run), so nothing fetches it again.
  Status accept_metadata(const SiteAddress& address, const lt::torrent_handle& h,
                         const InfoHash& ih, Status waited);
  // True if accept_metadata refused this version (this run).
  bool refused(const InfoHash& ih);
  // Fetches version `ih` whole, or with `media` false all but its media/
  // (a feed followed without its media: those files are fetched as they are
  // read). Refuses one whose wanted files are larger than `max_bytes` (0: no
  // limit) before downloading any of it.
  Result<lt::torrent_handle> fetch_version(const SiteAddress& address, const InfoHash& ih,
                                           const Progress& progress, std::uint64_t max_bytes = 0,
                                           bool media = true);
  // Fetches `ptr`'s version whole, then makes it the site's served version
  // (unless the site is published, gone, or already there) and retires the
  // old one. True if it switched.
  bool adopt_version(const SiteAddress& address, const SignedPointer& ptr);
  // In one catalog transaction: lets `admit` create or adjust the site's
  // record (false: leave it as it is), then records `ptr` as the highest
  // pointer and makes its version the served one unless that would go back
  // or the site is published. Records the new version and retires the old.
  // Returns the record as stored; nullopt if not admitted or not stored.
  std::optional<SiteRecord> switch_version(
      const SiteAddress& address, const SignedPointer& ptr,
      const std::function<bool(std::optional<SiteRecord>&)>& admit);
  // Records that this node holds version `ih` of `address` in use.
  void hold_version(const SiteAddress& address, std::int64_t seq, const InfoHash& ih);
  // Records in the catalog that this node holds the version `pointer` names
  // (a get or a visit): a visited site moves to it, never backwards.
  void record_visit(const SiteAddress& address, const SignedPointer& pointer);
  void republish_all();
  // Kept sites: start a poll of each that is due (node thread, every
  // poll_tick). One with no plan yet (after a start) is given a time spread
  // over the next interval.
  void follow_mirrors();
  // At start: goes on with every mirror fetch a stop or crash cut short.
  void resume_mirrors();
  void poll_mirror(const SiteAddress& address);
  // Frees versions whose grace period is over and that no site uses.
  void collect_versions();
  // A torrent's error in words for `sites` and failed jobs; a full disk says
  // how much space is missing (disk_full.cpp). "" when there is none.
  std::string torrent_error_text(const lt::torrent_status& st) const;
  // Starts again every version stopped by a full disk once the store has
  // room for what it still misses.
  void retry_disk_errors();
  // True if this version's download stopped on a full disk.
  bool waits_for_space(const InfoHash& ih) const;
  // Deletes a version's torrent and data unless a catalog record uses it.
  void free_version(const InfoHash& ih);
  void retire_version(const InfoHash& ih);  // frees it after the grace period
  // Evicts least recently visited sites while visited sites exceed the cache.
  void enforce_visit_cache();
  // Puts again pointers whose last put reached no node (a publisher that has
  // not joined the DHT yet): every kPutRetry, and at once when the routing
  // table fills. Runs on the node thread, every second.
  void retry_failed_puts();
  // Publish's put: waits until kJoinWait after the daemon started for the DHT
  // to have nodes, then puts (again, with pauses, while no node takes it)
  // for up to kPublishWait. A put still running then is left to finish, and
  // a name not stored to retry_failed_puts. Blocks.
  struct NamePut {
    Result<int> put;  // how many DHT nodes took it, or why none did
    bool storing;     // still running after kPublishWait: retry_failed_puts ends it
  };
  NamePut store_name(const SignedPointer& pointer);
  // Puts a new pointer again 1, 3, 7, 15 and 31 minutes from now (see
  // retry_failed_puts), then only every republish interval.
  void put_early_again(const SignedPointer& pointer);
  // Records a put's outcome for `sites` (names_), and queues a failed one.
  void note_name_put(const SignedPointer& pointer, const Result<int>& put);
  // How long publish looks the name up (while it hashes) for a newer seq
  // signed elsewhere.
  static constexpr std::chrono::seconds kPublishLookup{3};
  // (10 s: posts in a row stay fast, and a post made on another device in
  // between is missed only within those seconds, unless pushed.)
  static constexpr std::chrono::seconds kPublishLookupSkip{10};
  static constexpr std::chrono::seconds kJoinWait{5};
  static constexpr std::chrono::seconds kLookupGrace{2};
  static constexpr std::chrono::seconds kPublishWait{5};
  static constexpr std::chrono::seconds kPutTimeout{30};
  static constexpr std::chrono::seconds kPutRetry{5};
  std::string run_job(const std::string& kind,
                      std::function<Result<nlohmann::json>(const Progress&)> fn);
  std::filesystem::path store_dir() const { return options_.home / "store"; }
  std::filesystem::path version_dir(const InfoHash& ih) const;
  // Whole versions' files are made read-only (0444) once: their bytes never
  // change, and a file hard-linked into several versions (reuse, publish)
  // must not be written through any of them. Runs every few seconds.
  void seal_whole_versions();
  // Before libtorrent gets a file's priority raised from 0 (it opens such a
  // file for writing, even a whole one): writable again (0644).
  void unseal_file(const InfoHash& ih, const std::string& path_in_version);
  std::filesystem::path torrent_path(const InfoHash& ih) const;
  // Version `ih`'s v1 twin (sites/torrents.cpp): made once, kept beside its
  // .torrent, seeded (upload only) from the version's files until the
  // version is freed.
  std::filesystem::path twin_path(const InfoHash& ih) const;
  Result<std::string> v1_twin(const InfoHash& ih);
  // At start: drops the twins of versions freed meanwhile; the others are
  // restored with every torrent from resume data.
  void seed_twins();
  void drop_twin(const InfoHash& ih);
  std::string url_for(const SiteAddress& address) const;

  // resolve_pointer: the routing table empty this long after start means a
  // lookup is unlikely to succeed (a joining node fills its table within
  // seconds); one of a known site then waits kAloneLookup at most.
  static constexpr std::chrono::seconds kAloneAfter{15};
  static constexpr std::chrono::seconds kAloneLookup{3};
  // How far ahead of a reader pieces get deadlines.
  static constexpr std::uint64_t kReadAhead = 4 << 20;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  Node& node_;
  Catalog& catalog_;
  KeyStore keys_;
  SiteNames site_names_;
  SitesOptions options_;
  const std::chrono::steady_clock::time_point created_;
  std::mutex blocklists_reload_mutex_;  // held by reload_blocklists (taken first)
  std::mutex blocklists_mutex_;
  std::map<std::string, Listing> listed_;           // listed address -> the first list naming it
  nlohmann::json lists_ = nlohmann::json::array();  // blocklists(): each list's state
  std::mutex publish_mutex_;  // one publish at a time: they share the hash threads
  // Publish jobs still waiting for publish_mutex_, by folder and key name:
  // a publish of the same folder started meanwhile joins the waiting job
  // (which reads the folder only when its turn comes), so posts made while
  // another publish runs share one version.
  std::mutex waiting_publishes_mutex_;
  std::map<std::string, std::string> waiting_publishes_;

  std::mutex jobs_mutex_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Worker> threads_;  // guarded by jobs_mutex_
  std::atomic<bool> stopping_{false};
  std::mutex retry_mutex_;
  std::map<PublicKey, SignedPointer> unannounced_;
  std::map<PublicKey, std::future<Result<int>>> retrying_;
  std::map<PublicKey, std::int64_t> retry_seq_;  // the seq each running put carries
  std::map<PublicKey, std::chrono::steady_clock::time_point> next_put_;  // retry not before
  // What this daemon last knows of each name it keeps alive in the DHT.
  struct NameState {
    std::int64_t stored_seq = 0;  // the highest seq a DHT node took
    int nodes = 0;                // how many took it
    std::int64_t stored_at = 0;   // unix time
    std::string error;            // why the latest put failed, "" = it did not
  };
  std::map<PublicKey, NameState> names_;  // guarded by retry_mutex_
  // When this daemon last published each of its sites (guarded by retry_mutex_).
  std::map<PublicKey, std::chrono::steady_clock::time_point> last_published_;
  struct EarlyPut {
    SignedPointer pointer;
    std::chrono::steady_clock::time_point at;  // the next re-put
    int step;                                  // the re-put due at `at` (1-based)
  };
  std::map<PublicKey, EarlyPut> early_puts_;  // guarded by retry_mutex_
  static constexpr int kEarlyPuts = 5;
  std::atomic<std::uint64_t> next_job_{1};
  static constexpr std::size_t kJobsKept = 1000;
  // The last failure to read the catalog for a republish round ("" none), and
  // when to try that round again (unix seconds, 0: not due).
  std::mutex catalog_error_mutex_;
  std::string catalog_error_;
  std::atomic<std::int64_t> republish_again_at_{0};
  static constexpr std::chrono::seconds kCatalogRetry{60};

  std::mutex twins_mutex_;  // one twin made at a time (taken alone)
  std::mutex visits_mutex_;
  std::map<std::string, std::shared_ptr<Visit>> visits_;             // by address, while cold
  std::map<std::string, std::shared_ptr<const SiteVersion>> views_;  // by info-hash hex
  std::map<std::string, std::chrono::steady_clock::time_point> refreshed_;  // by address
  std::set<std::string> background_;           // info-hashes whose background fetch started
  std::map<std::string, std::string> titles_;  // by info-hash hex
  // Versions known whole (read from disk without asking libtorrent), their
  // files' paths in the store by file index, and when completeness was last
  // asked; all by info-hash hex.
  std::set<std::string> complete_;
  std::mutex sealed_mutex_;
  std::set<InfoHash> sealed_;  // versions seal_whole_versions made read-only
  std::map<std::string, std::vector<std::string>> disk_paths_;
  std::map<std::string, std::chrono::steady_clock::time_point> completion_checked_;
  struct Warm {
    SiteRecord record;
    std::shared_ptr<const SiteVersion> view;
    std::chrono::steady_clock::time_point at;
  };
  std::map<std::string, Warm> warm_;  // by address: what visit() last read

  std::mutex reuse_mutex_;
  std::set<InfoHash> starting_;  // versions in start_version (guarded by reuse_mutex_)
  std::mutex mirrors_mutex_;
  std::set<std::string> polling_;  // addresses with a poll running
  // At most this many polls run at once; the others wait for the next tick.
  static constexpr std::size_t kPollsAtOnce = 32;
  // Kept sites' polls (guarded by mirrors_mutex_), by address: when the next
  // is due, when the name last moved, when a poll last walked the DHT (at
  // least every kWalkEvery republish intervals, to count the name's copies), and when
  // a walk last found the current seq on kEnoughCopies nodes (the republish
  // round skips those: BEP 44 re-puts only a name found on fewer).
  struct PollPlan {
    std::chrono::steady_clock::time_point due{};
    std::chrono::steady_clock::time_point changed = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point walked{};
    std::chrono::steady_clock::time_point well_held{};
  };
  static constexpr int kEnoughCopies = 8;
  // A kept site's poll walks (and counts copies) at least once per this many
  // republish intervals (an hour at the default 30 min); a walk that found
  // kEnoughCopies spares its name the re-puts of that long.
  static constexpr int kWalkEvery = 2;
  // Kept sites' polls since start, for `status`: answered by the remembered
  // nodes, by a walk, by libtorrent's lookup (no node answered the poll),
  // and those that found a newer version.
  std::atomic<std::int64_t> polls_direct_{0}, polls_walked_{0}, polls_lookup_{0}, polls_newer_{0};
  std::atomic<std::int64_t> poll_bytes_{0};  // the DHT bytes of those polls (not lookups)
  std::map<std::string, PollPlan> poll_plans_;
  // A kept site's name moved (a poll or a push brought a new version).
  void note_change(const SiteAddress& address);
  // Followed feeds: when each adopted its recent versions (the last minute's).
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> follow_adoptions_;
  // When each feed last logged that it went over the rate (once a minute).
  std::map<std::string, std::chrono::steady_clock::time_point> rate_logged_;
  std::atomic<bool> evicting_{false};
  // Behind a NAT that maps no port, no peer can open a connection to this
  // node: a visitor's connection to a publisher there fails, and so does a
  // mirror's. So an unreachable node connects out instead (sites/reach.cpp):
  // every kSeekEvery it announces kSeeksPerRound of the versions it serves
  // again, its published sites first and the rest in turn, and libtorrent
  // connects to the peers that announced since (a visitor, a new mirror, a
  // follower fetching a new version); a site published within kSeekFastFor,
  // every kSeekFastEvery. Runs every kSeekFastEvery, not on the node thread.
  void seek_peers_from_behind_nat();
  static constexpr std::chrono::seconds kSeekEvery{15};
  static constexpr std::chrono::seconds kSeekFastEvery{5};
  static constexpr std::chrono::minutes kSeekFastFor{2};
  static constexpr std::size_t kSeeksPerRound = 2;
  std::atomic<bool> seeking_{false};
  // Ticks so far, and where the next round goes on in the published and the
  // other sites (one round runs at a time).
  std::uint64_t seek_ticks_ = 0;
  std::array<std::size_t, 2> seek_cursors_{};
  std::map<InfoHash, std::chrono::steady_clock::time_point> retired_;  // freed at that time
  // What this node refuses, each logged once: versions whose metadata is
  // unsafe (why, by info-hash), and pointers older than one already seen.
  std::mutex refused_mutex_;
  std::map<InfoHash, std::string> refused_versions_;
  // Followed feeds' versions above --follow-max-mib (guarded by
  // refused_mutex_): not fetched again at every poll.
  std::set<InfoHash> over_cap_;
  std::set<std::pair<PublicKey, std::int64_t>> refused_pointers_;
};

}  // namespace hostless
