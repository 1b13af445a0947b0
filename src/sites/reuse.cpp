// The sites layer's reuse half: a new version starts from every file this node
// already holds whole, found by its BEP 52 file root, so an update downloads
// only what changed (also for renamed or moved files, and across sites).
#include <libtorrent/torrent_info.hpp>

#include <atomic>
#include <map>
#include <thread>

#include "sites/sites.hpp"
#include "util/log.hpp"

namespace hostless {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Pieces of file `i`: in a v2 or hybrid torrent every file starts on a piece
// boundary, so its pieces are its own.
int pieces_of(const lt::file_storage& files, lt::file_index_t i, int piece_length) {
  return static_cast<int>((files.file_size(i) + piece_length - 1) / piece_length);
}

}  // namespace

namespace {

bool checking(const lt::torrent_status& st) {
  return st.state == lt::torrent_status::checking_files ||
         st.state == lt::torrent_status::checking_resume_data;
}

// Waits until libtorrent has finished checking `h`, at most `limit`: the
// check it may be running (`queued` false: the state says so at once), or
// one force_recheck() just queued (it may show only after a moment; it is
// over at once if `expect_pieces` pieces are held).
void wait_checked(const lt::torrent_handle& h, std::chrono::steady_clock::duration limit,
                  bool queued, int expect_pieces, const std::atomic<bool>& stopping) {
  const auto start = Clock::now();
  bool saw = !queued;
  while (!stopping && Clock::now() - start < limit) {
    auto st = h.status({});
    bool now = checking(st);
    saw = saw || now;
    if (!now && expect_pieces > 0 && st.num_pieces >= expect_pieces) return;
    // A queued check that never showed (too quick to see) is over after a moment.
    if (!now && (saw || Clock::now() - start > std::chrono::seconds(1))) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// True if every piece of file `i` passed its check.
bool holds_file(const lt::torrent_handle& h, const lt::torrent_info& ti, lt::file_index_t i) {
  const int first = static_cast<int>(ti.map_file(i, 0, 1).piece);
  const int count = pieces_of(ti.files(), i, ti.piece_length());
  for (int p = first; p < first + count; ++p) {
    if (!h.have_piece(lt::piece_index_t(p))) return false;
  }
  return true;
}

}  // namespace

std::uint64_t SiteManager::start_version(const lt::torrent_handle& h, const InfoHash& ih) {
  // One caller per version; others go on at once (the torrent leaves upload
  // mode when this one is done).
  {
    std::lock_guard lock(reuse_mutex_);
    if (!starting_.insert(ih).second) return 0;
  }
  struct Done {
    SiteManager* self;
    InfoHash ih;
    ~Done() {
      std::lock_guard lock(self->reuse_mutex_);
      self->starting_.erase(ih);
    }
  } done{this, ih};
  if (!(h.flags() & lt::torrent_flags::upload_mode)) return 0;  // started already
  auto ti = h.torrent_file();
  if (!ti) return 0;  // no metadata yet: stays in upload mode
  const auto& files = ti->files();
  const fs::path dir = version_dir(ih);
  // libtorrent checks what is on disk when the metadata arrives; files linked
  // in during that check could be missed.
  wait_checked(h, std::chrono::seconds(30), false, 0, stopping_);

  // What this version needs, by content: a BEP 52 root and the size (the
  // root alone leaves the length of the last block open).
  using Content = std::pair<lt::sha256_hash, std::int64_t>;
  std::map<Content, fs::path> wanted;  // -> a held copy (empty: none yet)
  if (ti->v2()) {
    for (auto i : files.file_range()) {
      if (files.pad_file_at(i) || files.file_size(i) == 0) continue;
      wanted.emplace(Content{files.root(i), files.file_size(i)}, fs::path());
    }
  }

  // Files held whole by the versions this node keeps (served ones, and
  // replaced ones still in their grace period).
  std::vector<InfoHash> held;
  if (auto sites = catalog_.sites()) {
    for (const auto& s : *sites) {
      if (s.info_hash) held.push_back(*s.info_hash);
    }
  }
  {
    std::lock_guard mlock(mirrors_mutex_);
    for (const auto& [old, when] : retired_) held.push_back(old);
  }
  std::size_t missing = wanted.size();
  for (const auto& old : held) {
    if (missing == 0) break;
    if (old == ih) continue;
    auto oh = node_.find_torrent(old);
    if (!oh.is_valid()) continue;
    auto oti = oh.torrent_file();
    if (!oti || !oti->v2()) continue;
    const auto& ofiles = oti->files();
    auto progress = oh.file_progress(lt::torrent_handle::piece_granularity);
    for (auto i : ofiles.file_range()) {
      if (ofiles.pad_file_at(i) || ofiles.file_size(i) == 0) continue;
      auto it = wanted.find(Content{ofiles.root(i), ofiles.file_size(i)});
      if (it == wanted.end() || !it->second.empty()) continue;
      if (progress[static_cast<std::size_t>(static_cast<int>(i))] != ofiles.file_size(i)) continue;
      it->second = version_dir(old) / ofiles.file_path(i);
      --missing;
    }
  }

  // Put them in place. Versions are never written once complete, so a hard
  // link shares the bytes (and the disk space); a copy where links fail.
  std::vector<std::pair<lt::file_index_t, fs::path>> linked;
  std::uint64_t reused = 0;
  for (auto i : files.file_range()) {
    if (files.pad_file_at(i) || files.file_size(i) == 0 || !ti->v2()) continue;
    const auto& src = wanted[Content{files.root(i), files.file_size(i)}];
    if (src.empty()) continue;
    fs::path dst = (dir / files.file_path(i)).lexically_normal();
    auto rel = dst.lexically_relative(dir.lexically_normal());
    if (rel.empty() || *rel.begin() == "..") continue;  // never outside the store
    std::error_code ec;
    fs::create_directories(dst.parent_path(), ec);
    fs::remove(dst, ec);
    fs::create_hard_link(src, dst, ec);
    if (ec) {
      ec.clear();
      fs::copy_file(src, dst, fs::copy_options::overwrite_existing, ec);
    }
    if (ec) continue;
    linked.emplace_back(i, dst);
    reused += static_cast<std::uint64_t>(files.file_size(i));
  }

  if (!linked.empty()) {
    // libtorrent learns what is on disk by checking it: the reused files'
    // pieces pass, the rest stays to download.
    const auto limit = std::chrono::seconds(10) + std::chrono::seconds(reused >> 26);
    int pieces = 0;
    for (const auto& [i, path] : linked) pieces += pieces_of(files, i, ti->piece_length());
    h.force_recheck();
    wait_checked(h, limit, true, pieces, stopping_);
    // A linked file shares its bytes with a served version: it must never be
    // downloaded into. One that did not pass whole (a check that missed it)
    // is unlinked and checked again, so it is downloaded into a file of its own.
    bool unlinked = false;
    for (const auto& [i, path] : linked) {
      if (holds_file(h, *ti, i)) continue;
      // Closes libtorrent's handles to the shared files.
      if (!unlinked) node_.flush_writes(h, kFlushTimeout);
      std::error_code ec;
      fs::remove(path, ec);
      reused -= static_cast<std::uint64_t>(files.file_size(i));
      unlinked = true;
    }
    if (unlinked) {
      h.force_recheck();
      wait_checked(h, limit, true, 0, stopping_);
    }
  }
  h.unset_flags(lt::torrent_flags::upload_mode);
  if (reused > 0) {
    LogLine(LogLevel::kInfo) << "version " << ih.hex() << " starts from " << reused
                             << " bytes this node already held";
  }
  return reused;
}

}  // namespace hostless
