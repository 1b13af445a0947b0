// The content of a site version: a deterministic hybrid (BitTorrent v1 + v2)
// torrent of a folder snapshot, built from per-file hashes so that a caller
// can cache FileHashes and re-hash only the files that changed.
//
// Layout (what libtorrent 2.0.8 produces for a hybrid torrent, and what
// build_site_torrent relies on): files sorted path component by path
// component (the order of BEP 52's "file tree"), each non-empty file followed
// by a pad file up to the next piece boundary unless the torrent has a single
// file. So every v1 piece lies within one file, and a file's hashes do not
// depend on its neighbours; only the last piece's v1 hash depends on whether
// a pad file follows (see FileHashes::v1_last_unpadded).
//
// This header also brings in its parts: per-file hashes (hashing.hpp), the
// rules for site paths (paths.hpp) and the check of another node's metadata
// (metadata_check.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <libtorrent/fwd.hpp>

#include "content/hashing.hpp"
#include "content/metadata_check.hpp"
#include "content/paths.hpp"
#include "protocol/pointer.hpp"
#include "util/result.hpp"

namespace hostless {

// Deterministic piece size for a site of `total_bytes`: the smallest power of
// two >= kMinPieceSize giving at most 2048 pieces, capped at kMaxPieceSize.
// Sites up to 32 MiB get 16 KiB pieces (small pieces suit on-demand serving).
std::uint64_t choose_piece_size(std::uint64_t total_bytes);

// The piece size for a site of files of these sizes: choose_piece_size of
// their total, halved (down to kMinPieceSize) while the zero padding after
// each file's last piece, which every v1 piece hash covers, is more than a
// quarter of the data, unless that would make more than kMaxPaddedPieces
// pieces. (1 GiB of 2309 files at 512 KiB pieces hashed 1.76 GiB with SHA-1.)
std::uint64_t choose_piece_size(const std::vector<std::uint64_t>& file_sizes);

// choose_piece_size never halves the piece size past this many pieces.
constexpr std::uint64_t kMaxPaddedPieces = 32768;

struct SiteFile {
  std::string path;  // relative, '/'-separated UTF-8, e.g. "css/site.css"
  FileHashes hashes;
};

// Builds the bencoded .torrent of a site: always multi-file (a directory
// named `name` holding the files, even for a one-file site), hybrid v1+v2,
// with no creation date, creator, mtimes, file attributes or trackers, so the
// same name and files give the same bytes and info-hashes whatever order the
// files come in. All hashes must share one piece size.
// Rejects: no files, only empty files, more than kMaxSiteFiles files, an
// invalid name, duplicate paths, a path that is also a directory of another
// path, paths that are absolute or have empty, "." or ".." or hidden (".x")
// components, backslashes, NUL or invalid UTF-8, paths deeper or longer than
// the limits of paths.hpp, and a path equal to another file or directory
// path but for letter case or Unicode form (check_site_paths).
Result<std::vector<char>> build_site_torrent(const std::string& name, std::vector<SiteFile> files);

// The torrent's v1 info-hash (a hybrid's or a v1 torrent's), as the pointer
// names versions.
InfoHash v1_info_hash(const lt::torrent_info& ti);

}  // namespace hostless
