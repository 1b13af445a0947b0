// Fetching a version: add its torrent, await and check its metadata (from
// peers or a web seed), then download what this node keeps.
#include "sites/sites.hpp"

#include <libtorrent/bencode.hpp>
#include <libtorrent/create_torrent.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/torrent_info.hpp>

#include "content/site_torrent.hpp"
#include "util/files.hpp"
#include "util/log.hpp"

namespace hostless {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

lt::sha1_hash to_sha1(const InfoHash& ih) {
  return lt::sha1_hash(reinterpret_cast<const char*>(ih.bytes().data()));
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
  // Whoever called reads the files next (an export, a feed's JSON): the
  // last pieces may still be on their way to disk.
  if (!node_.flush_writes(h, kFlushTimeout)) {
    return make_error("the download finished, but its last writes did not reach the disk within " +
                          std::to_string(kFlushTimeout.count() / 1000) + " s",
                      stopping_ ? ErrorKind::kShuttingDown : ErrorKind::kIo);
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

}  // namespace hostless
