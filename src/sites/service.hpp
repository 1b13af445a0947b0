// The narrow interface the gateway uses to reach the node's sites. Plain
// values and JSON only: nothing of libtorrent crosses it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace hostless {

// A publish's web seeds: the new list, or nullopt to keep the site's own.
using WebSeedsChange = std::optional<std::vector<std::string>>;

// One file of a site version, as the gateway serves it.
struct ServedFile {
  int index = 0;  // opaque: the node's handle for read()
  std::uint64_t size = 0;
  std::string etag;  // strong and quoted: from the file's content hash
};

// One immutable version of a site: its file list, by path relative to the
// site's root ("index.html", "img/a.png"). URL paths are looked up here, never
// joined onto a filesystem path.
struct SiteVersion {
  std::string address;
  std::int64_t seq = 0;
  std::string info_hash;
  std::map<std::string, ServedFile> files;

  const ServedFile* find(const std::string& path) const;
  // True when some file lives under `path` + "/".
  bool is_directory(const std::string& path) const;
};

// Where a visit of a site stands.
struct VisitState {
  // "finding the name", "finding peers", "fetching metadata", "ready", "failed"
  std::string stage;
  std::string error;  // when failed: why, in words for the visitor
  int peers = 0;
  std::shared_ptr<const SiteVersion> version;  // set once ready
  ErrorKind error_kind = ErrorKind::kOther;    // when failed: what kind of failure
  bool ready() const { return version != nullptr; }
};

// A post to a feed this node publishes (docs/microblog.md, "Publishing"): the
// feed is named by its folder (the command line) or by its address (a feed
// this node published, whose folder the catalog knows: the dashboard).
struct PostRequest {
  std::string folder;               // absolute; or
  std::string address;              // a feed this node publishes
  std::string key_name;             // with `folder`: publish with this key ("" as publish chooses)
  std::string text;                 // the post, or
  std::string delete_id;            // the id of the post to remove
  std::string reply_to;             // "" or a reply target (feed::parse_reply_to)
  std::vector<std::string> attach;  // absolute paths of files to attach
};

// Thread-safety: implementations are called by the gateway from many worker
// threads at once, and must allow it. wait_visit and read may block their
// caller up to the timeout they are given; every other member returns in
// about the time a catalog read takes (long work runs as a job).
// What `torrent` exports.
enum class TorrentForm { kHybrid, kV1 };
struct TorrentExport {
  std::string bytes;      // the bencoded .torrent
  std::string info_hash;  // its v1 info-hash, hex
  std::string magnet;     // magnet:?xt=urn:btih:...&dn=<name>[&ws=...]
};

class SiteService {
 public:
  virtual ~SiteService() = default;

  // Long operations run as jobs; job() reports
  // {"id","kind","state":"running|done|failed","stage","done","total",
  //  "result":{...},"error":"..."}.
  // `web_seeds`: the site's web seeds from this version on (BEP 19 folder
  // URLs, docs/protocol.md; empty: none); nullopt: the ones it had.
  virtual Result<std::string> start_publish(const std::string& folder, const std::string& key_name,
                                            const WebSeedsChange& web_seeds = std::nullopt) = 0;
  // `info_hash` (hex, optional): that version of the site, not the one its
  // name points to (fetched, not recorded as the site's).
  virtual Result<std::string> start_get(const std::string& address, const std::string& outdir,
                                        const std::string& info_hash = "") = 0;
  virtual std::optional<nlohmann::json> job(const std::string& id) = 0;
  // The site's current version laid out as a web seed serves it (BEP 19:
  // <outdir>/<torrent name>/<path>, and <outdir>/<info-hash>.torrent for the
  // metadata; docs/protocol.md). Into a new or empty folder, or one an
  // earlier export of the same site wrote (replaced). The job's result is
  // get's, with "name" (the torrent's).
  virtual Result<std::string> start_export(const std::string& /*address*/,
                                           const std::string& /*outdir*/) {
    return make_error("this node cannot export sites", ErrorKind::kInvalid);
  }
  // Mirroring: fetch the whole current version, seed it, follow updates and
  // re-put the signed pointer, so the site outlives its publisher.
  virtual Result<std::string> start_mirror(const std::string& address) = 0;
  // Stops following; frees what no other site still uses.
  virtual Result<nlohmann::json> unmirror(const std::string& address) = 0;
  // Following a feed (docs/microblog.md): like a mirror, within per-feed
  // caps, under a local handle ("" for none; lower-case letters, digits, '-'
  // and '_', at most 32, unique among follows).
  // `media`: keep the feed's media/ too (else its files are fetched as they
  // are read). Following a feed already followed changes its handle (when
  // given) and `media`.
  virtual Result<std::string> start_follow(const std::string& address, const std::string& handle,
                                           bool media) = 0;
  // By address or handle; frees what no other site still uses.
  virtual Result<nlohmann::json> unfollow(const std::string& address_or_handle) = 0;
  // Blocking (docs/microblog.md, "Blocking"): the site's data is freed, and
  // it is not visited, followed or mirrored (nor its name re-put) until
  // unblocked; a follow or mirror of it ends. Not for a site this node
  // publishes.
  virtual Result<nlohmann::json> block(const std::string& address) = 0;
  virtual Result<nlohmann::json> unblock(const std::string& address) = 0;
  // Adds (or removes) a post and publishes the feed, as `hostless post`
  // does: the feed's files name its address, its following.json lists this
  // node's follows, and posts another device published under the same key
  // are merged in (docs/microblog.md). The job's result is {"id",
  // "deleted", "publish": what publish returns, "merged"?: posts taken}.
  virtual Result<std::string> start_post(const PostRequest& request) = 0;
  // Blocklists (docs/microblog.md, "Blocklists"): a site with a
  // blocklist.json, kept like a mirror within the follow caps; what it lists
  // is not visited, seeded or suggested by this node unless followed or
  // mirrored here. The job's result: {"address", "seq", "entries", ...}.
  virtual Result<std::string> start_subscribe(const std::string& address) = 0;
  virtual Result<nlohmann::json> unsubscribe(const std::string& address) = 0;
  // [{"address", "seq", "entries" | "error"}]
  virtual nlohmann::json blocklists() = 0;
  // The followed feeds: sites() entries of role "followed".
  virtual nlohmann::json following() = 0;
  // The newest posts of the followed feeds and of the feeds this node
  // publishes ("own": true), newest first, at most `limit`:
  // {"posts": [...], "feeds": [{"address", "handle"?, "own"?, "posts" | "error"}]}
  // (docs/microblog.md, "Timeline").
  virtual nlohmann::json timeline(std::size_t limit) = 0;
  // The feeds the followed feeds follow (their following.json) that this
  // node neither follows, blocks nor publishes, most followed first:
  // {"feeds": [{"address", "followed_by": [handle or address], "petnames":
  // [...]}], "errors": [{"address", "handle"?, "error"}]}
  // (docs/microblog.md, "Network").
  virtual nlohmann::json network() = 0;

  // {"address","seq","info_hash","magnet","torrent_magnet"}
  virtual Result<nlohmann::json> resolve(const std::string& address,
                                         std::chrono::milliseconds timeout) = 0;
  // The site's current version as a .torrent (fetched whole first if this
  // node does not hold it), or its v1 twin (kV1: content/v1_twin.hpp), which
  // this node then seeds from the version's files for as long as it holds
  // the version. Either carries the version's web seeds (url-list).
  virtual Result<TorrentExport> torrent(const std::string& address, TorrentForm form) = 0;
  virtual nlohmann::json status() = 0;
  virtual nlohmann::json sites() = 0;

  // Serving. visit() never blocks for long: a site never seen starts being
  // fetched (name, then metadata) in the background; a known one is ready at
  // once with its last complete version (and its name is refreshed behind).
  // `first_path` names the file the visitor asked for: on a cold visit it is
  // fetched first and the rest of the site only after it.
  virtual VisitState visit(const std::string& address, const std::string& first_path) = 0;
  // True if the user has this site on this node: in the catalog (a visit
  // that got the site's metadata, a mirror, a publish, a get); a visit still
  // under way or one that failed does not count. The gateway asks before
  // another site's page may send the user there without a click on its
  // "Open this site?" page (drive-by seeding). A service that keeps no sites
  // knows none.
  virtual bool knows(const std::string& /*address*/) { return false; }
  // visit(), then waits up to `timeout` for the version to be ready (a
  // little longer while the name is still being looked up: the lookup ends
  // with its reason just after the same timeout).
  virtual VisitState wait_visit(const std::string& address, const std::string& first_path,
                                std::chrono::milliseconds timeout) = 0;
  // Up to `max_bytes` verified bytes of `file` from `offset` (< file.size),
  // waiting up to `timeout` for the first of them: asks the swarm for those
  // pieces first. Never returns bytes that have not passed their hash check.
  virtual Result<std::string> read(const SiteVersion& version, const ServedFile& file,
                                   std::uint64_t offset, std::size_t max_bytes,
                                   std::chrono::milliseconds timeout) = 0;
  // How many bytes of `file` are verified and on disk.
  virtual std::uint64_t bytes_have(const SiteVersion& version, const ServedFile& file) = 0;

  // Names (sites/names.hpp): the address `label` (a petname, a followed
  // feed's handle or a DNS name) names; may wait for DNS (a few seconds).
  // A service that keeps no names knows none.
  virtual Result<std::string> name_address(const std::string& label) {
    return make_error("no site is named \"" + label + "\"", ErrorKind::kNotFound);
  }
  // [{"name","address","kind":"petname"|"handle","added"?}]
  virtual Result<nlohmann::json> names() { return nlohmann::json::array(); }
  // {"name","address","replaced"?}: `replace` moves a petname of another site.
  virtual Result<nlohmann::json> set_name(const std::string& /*name*/,
                                          const std::string& /*address*/, bool /*replace*/) {
    return make_error("this node keeps no names", ErrorKind::kInvalid);
  }
  // {"name","address"}
  virtual Result<nlohmann::json> remove_name(const std::string& /*name*/) {
    return make_error("this node keeps no names", ErrorKind::kInvalid);
  }
};

}  // namespace hostless
