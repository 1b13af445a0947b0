// The deterministic hybrid torrent of a site snapshot: its piece size, and a
// create_torrent wrapper that takes cached hashes (hashing.cpp) instead of
// reading the files again.
#include "content/site_torrent.hpp"

#include "content/detail/shared.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <unordered_map>
#include <utility>

#include <libtorrent/create_torrent.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/torrent_info.hpp>

namespace hostless {

namespace {

// choose_piece_size aims at no more pieces than this.
constexpr std::uint64_t kTargetPieces = 2048;

bool canonical_less(const SiteFile& a, const SiteFile& b) {
  return canonical_less_path(a.path, b.path);
}

Status check_hashes(const SiteFile& f, std::uint64_t piece_size) {
  const FileHashes& h = f.hashes;
  const std::string where = "hashes of " + shown(f.path);
  if (h.piece_size != piece_size) {
    return make_error(where + " were computed with piece size " + std::to_string(h.piece_size) +
                      ", others with " + std::to_string(piece_size) + "; re-hash the site");
  }
  const std::uint64_t pieces = (h.size + piece_size - 1) / piece_size;
  const bool zero_found =
      std::any_of(h.v1.begin(), h.v1.end(), [](const auto& x) { return x.is_all_zeros(); }) ||
      std::any_of(h.v2.begin(), h.v2.end(), [](const auto& x) { return x.is_all_zeros(); });
  if (h.v1.size() != pieces || h.v2.size() != pieces || zero_found ||
      (h.size > 0 && (h.root.is_all_zeros() || h.v1_last_unpadded.is_all_zeros()))) {
    return make_error(where + " are incomplete for a file of " + std::to_string(h.size) + " bytes");
  }
  return {};
}

Result<std::vector<char>> build(const std::string& name, std::vector<SiteFile> files) {
  if (auto problem = path_problem(name); problem || name.find('/') != std::string::npos) {
    return make_error("invalid site name " + shown(name) + ": " +
                      problem.value_or("it contains a slash"));
  }
  if (files.empty()) return make_error("a site needs at least one file");
  {
    std::vector<std::string_view> paths;
    paths.reserve(files.size());
    for (const SiteFile& f : files) paths.push_back(f.path);
    if (Status s = check_site_paths(std::move(paths)); !s) return s.error();
  }
  std::sort(files.begin(), files.end(), canonical_less);

  const std::uint64_t piece_size = files.front().hashes.piece_size;
  if (!valid_piece_size(piece_size)) {
    return make_error("invalid piece size " + std::to_string(piece_size) +
                      ": must be a power of two from 16 KiB to 16 MiB");
  }
  std::uint64_t total = 0;
  for (const SiteFile& f : files) {
    if (Status s = check_hashes(f, piece_size); !s) return s.error();
    total += f.hashes.size;
  }
  if (total == 0) return make_error("a site needs at least one non-empty file");

  // Every file lives under the directory `name`, so even a one-file site is a
  // multi-file torrent; no flags or mtimes, so nothing depends on the disk.
  lt::file_storage fs;
  std::unordered_map<std::string, const SiteFile*> by_path;
  for (const SiteFile& f : files) {
    std::string full = name + "/" + f.path;
    lt::error_code ec;
    fs.add_file(ec, full, static_cast<std::int64_t>(f.hashes.size));
    if (ec) return make_error("cannot add " + shown(f.path) + " to the torrent: " + ec.message());
    by_path.emplace(std::move(full), &f);
  }
  fs.set_name(name);

  lt::create_torrent ct(fs, static_cast<int>(piece_size));
  ct.set_creation_date(0);
  const lt::file_storage& layout = ct.files();
  if (layout.piece_length() != static_cast<int>(piece_size)) {
    return make_error("libtorrent chose piece size " + std::to_string(layout.piece_length()) +
                      " instead of " + std::to_string(piece_size));
  }
  for (const lt::file_index_t i : layout.file_range()) {
    if (layout.pad_file_at(i)) continue;
    const auto it = by_path.find(layout.file_path(i));
    if (it == by_path.end()) {
      return make_error("libtorrent renamed a file to " + shown(layout.file_path(i)));
    }
    const FileHashes& h = it->second->hashes;
    const auto offset = static_cast<std::uint64_t>(layout.file_offset(i));
    if (offset % piece_size != 0) {
      return make_error("libtorrent did not align " + shown(it->second->path) +
                        " to a piece boundary");
    }
    // The last piece is zero-padded unless no pad file follows the file.
    const bool ends_torrent = offset + h.size == static_cast<std::uint64_t>(layout.total_size());
    const int first_piece = static_cast<int>(offset / piece_size);
    for (std::size_t k = 0; k < h.v1.size(); ++k) {
      const bool last = k + 1 == h.v1.size();
      const lt::sha1_hash& v1 = last && ends_torrent ? h.v1_last_unpadded : h.v1[k];
      ct.set_hash(lt::piece_index_t(first_piece + static_cast<int>(k)), v1);
      ct.set_hash2(i, lt::piece_index_t::diff_type(static_cast<int>(k)), h.v2[k]);
    }
  }
  std::vector<char> torrent = ct.generate_buf();

  // libtorrent silently drops the v2 part if a v2 hash is missing; check the
  // result is hybrid and that it agrees with our file roots.
  lt::error_code ec;
  const lt::torrent_info ti(torrent, ec, lt::from_span);
  if (ec) return make_error("libtorrent cannot load the torrent it built: " + ec.message());
  if (!ti.info_hashes().has_v1() || !ti.info_hashes().has_v2()) {
    return make_error("libtorrent built a torrent that is not hybrid v1+v2");
  }
  for (const lt::file_index_t i : ti.files().file_range()) {
    if (ti.files().pad_file_at(i) || ti.files().file_size(i) == 0) continue;
    const auto it = by_path.find(ti.files().file_path(i));
    if (it == by_path.end() || ti.files().root(i) != it->second->hashes.root) {
      return make_error("the v2 root of " + shown(ti.files().file_path(i)) +
                        " does not match its hashes");
    }
  }
  return torrent;
}

}  // namespace

std::uint64_t choose_piece_size(std::uint64_t total_bytes) {
  std::uint64_t piece = kMinPieceSize;
  const auto pieces = [&] { return total_bytes / piece + (total_bytes % piece != 0 ? 1 : 0); };
  while (piece < kMaxPieceSize && pieces() > kTargetPieces) piece *= 2;
  return piece;
}

std::uint64_t choose_piece_size(const std::vector<std::uint64_t>& file_sizes) {
  std::uint64_t total = 0;
  for (const std::uint64_t size : file_sizes) total += size;
  std::uint64_t piece = choose_piece_size(total);
  // Pieces and zero padding at a given piece size (each file starts a piece).
  const auto layout = [&](std::uint64_t p) {
    std::uint64_t pieces = 0, padding = 0;
    for (const std::uint64_t size : file_sizes) {
      const std::uint64_t n = size / p + (size % p != 0 ? 1 : 0);
      pieces += n;
      padding += n * p - size;
    }
    return std::pair{pieces, padding};
  };
  for (auto now = layout(piece); piece > kMinPieceSize && now.second > total / 4;) {
    const auto halved = layout(piece / 2);
    if (halved.first > kMaxPaddedPieces) break;
    piece /= 2;
    now = halved;
  }
  return piece;
}

Result<std::vector<char>> build_site_torrent(const std::string& name, std::vector<SiteFile> files) {
  try {
    return build(name, std::move(files));
  } catch (const std::exception& e) {
    return make_error(std::string("cannot build the site torrent: ") + e.what());
  }
}

InfoHash v1_info_hash(const lt::torrent_info& ti) {
  InfoHash::Bytes b;
  std::memcpy(b.data(), ti.info_hashes().v1.data(), b.size());
  return InfoHash(b);
}

}  // namespace hostless
