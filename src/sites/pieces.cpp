// Which pieces of a version this node keeps and fetches: the whole site, or
// all but media/ for a followed feed.
#include "sites/swarm.hpp"

namespace hostless {
namespace fs = std::filesystem;

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

}  // namespace hostless
