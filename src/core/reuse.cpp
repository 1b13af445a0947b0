// The sites layer's reuse half: a new version starts from every file this node
// already holds whole, found by its BEP 52 file root, so an update downloads
// only what changed (also for renamed or moved files, and across sites).
#include <libtorrent/torrent_info.hpp>

#include <iostream>
#include <map>
#include <thread>

#include "core/sites.hpp"

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

std::uint64_t SiteManager::start_version(const lt::torrent_handle& h, const InfoHash& ih) {
  std::lock_guard lock(reuse_mutex_);  // one version at a time; they may share files
  if (!(h.flags() & lt::torrent_flags::upload_mode)) return 0;  // started already
  auto ti = h.torrent_file();
  if (!ti) return 0;  // no metadata yet: stays in upload mode
  const auto& files = ti->files();
  const fs::path dir = version_dir(ih);

  // The roots this version needs.
  std::map<lt::sha256_hash, fs::path> wanted;  // root -> held copy (empty: none yet)
  if (ti->v2()) {
    for (auto i : files.file_range()) {
      if (files.pad_file_at(i) || files.file_size(i) == 0) continue;
      wanted.emplace(files.root(i), fs::path());
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
      auto it = wanted.find(ofiles.root(i));
      if (it == wanted.end() || !it->second.empty()) continue;
      if (progress[static_cast<std::size_t>(static_cast<int>(i))] != ofiles.file_size(i)) continue;
      it->second = version_dir(old) / ofiles.file_path(i);
      --missing;
    }
  }

  // Put them in place. Versions are never written once complete, so a hard
  // link shares the bytes (and the disk space); a copy where links fail.
  std::uint64_t reused = 0;
  int pieces = 0;
  for (auto i : files.file_range()) {
    if (files.pad_file_at(i) || files.file_size(i) == 0 || !ti->v2()) continue;
    const auto& src = wanted[files.root(i)];
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
    reused += static_cast<std::uint64_t>(files.file_size(i));
    pieces += pieces_of(files, i, ti->piece_length());
  }

  if (pieces > 0) {
    // libtorrent learns what is on disk by checking it: the reused files'
    // pieces pass, the rest stays to download.
    h.force_recheck();
    const auto start = Clock::now();
    const auto limit = std::chrono::seconds(10) + std::chrono::seconds(reused >> 26);
    bool saw_checking = false;
    while (!stopping_ && Clock::now() - start < limit) {
      auto st = h.status({});
      bool checking = st.state == lt::torrent_status::checking_files ||
                      st.state == lt::torrent_status::checking_resume_data;
      saw_checking = saw_checking || checking;
      if (!checking && (saw_checking || st.num_pieces >= pieces)) break;
      if (!checking && Clock::now() - start > std::chrono::seconds(2)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  h.unset_flags(lt::torrent_flags::upload_mode);
  if (reused > 0) {
    std::cerr << "hostless: version " << ih.hex() << " starts from " << reused
              << " bytes this node already held\n";
  }
  return reused;
}

}  // namespace hostless
