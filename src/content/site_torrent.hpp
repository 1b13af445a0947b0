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
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <libtorrent/fwd.hpp>
#include <libtorrent/sha1_hash.hpp>

#include "protocol/pointer.hpp"
#include "util/result.hpp"

namespace hostless {

// One file's hashes at one piece size. A value type, cheap to keep in a cache
// keyed by whatever identifies unchanged content (path, size, mtime, inode).
struct FileHashes {
  std::uint64_t piece_size = 0;
  std::uint64_t size = 0;
  // SHA-1 of each piece of the file; the last piece is zero-padded to
  // piece_size, as the pad file that follows it in a multi-file torrent is.
  std::vector<lt::sha1_hash> v1;
  // SHA-1 of the last piece without padding: the v1 hash a torrent needs when
  // no pad file follows this file (a torrent's only file). Equals v1.back()
  // when size is a multiple of piece_size; zero for empty files.
  lt::sha1_hash v1_last_unpadded;
  // BEP 52 piece layer: one hash per piece, the merkle root of the piece's
  // piece_size / 16 KiB block hashes, leaves past the end of the file being
  // zero hashes. A file smaller than one piece has a single entry: the root
  // over its block hashes padded with zero hashes to the next power of two
  // only. This is exactly what create_torrent::set_hash2 expects.
  std::vector<lt::sha256_hash> v2;
  // The file's v2 merkle root ("pieces root"), independent of piece_size.
  // Zero for empty files.
  lt::sha256_hash root;
};

// BEP 52's "pieces root" of a file from the SHA-256 of each of its 16 KiB
// blocks (the last may be shorter): the merkle root over them, padded with
// zero hashes to a power of two. Zero when there are none (an empty file).
lt::sha256_hash file_root(std::vector<lt::sha256_hash> leaves);

// Smallest piece size accepted by v2 torrents: one 16 KiB merkle leaf.
constexpr std::uint64_t kMinPieceSize = 16 * 1024;
// Largest piece size choose_piece_size picks and hash_file accepts.
constexpr std::uint64_t kMaxPieceSize = 16 * 1024 * 1024;

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

// Hashes one regular file (symlinks followed) in the calling thread.
// `piece_size` must be a power of two in [kMinPieceSize, kMaxPieceSize].
// `progress(bytes)` (may be empty) is called with the number of file bytes
// just hashed, about once per MiB. Fails if the file cannot be read or
// changes size while being hashed.
Result<FileHashes> hash_file(const std::filesystem::path& file, std::uint64_t piece_size,
                             const std::function<void(std::uint64_t)>& progress);

// Hashes several files on `threads` worker threads (0: one per core). Large
// files are split into piece ranges so even one big file uses every thread.
// Results are in input order. `progress` (may be empty) is called from the
// worker threads but never concurrently. On failure, the first error found
// is returned and the remaining work is abandoned.
Result<std::vector<FileHashes>> hash_files(const std::vector<std::filesystem::path>& files,
                                           std::uint64_t piece_size, unsigned threads,
                                           const std::function<void(std::uint64_t)>& progress);

// Which file a path named when it was looked at: device and inode.
struct FileId {
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  bool operator==(const FileId&) const = default;
};

// hash_files that also copies files[i] to copies[i] (created or truncated,
// mode 0644) as it reads them, so every byte is read once and the copying is
// spread over the threads too. `copies` is empty (hash only) or one per file.
// `expected` is empty, or one FileId per file: then each file is opened with
// O_NOFOLLOW and must still be that device and inode, so a symbolic link or
// another file put in its place since (say, since a folder was scanned) is
// an error, and nothing of what it points to is read.
Result<std::vector<FileHashes>> copy_and_hash_files(
    const std::vector<std::filesystem::path>& files,
    const std::vector<std::filesystem::path>& copies, std::uint64_t piece_size, unsigned threads,
    const std::function<void(std::uint64_t)>& progress, const std::vector<FileId>& expected = {});

struct SiteFile {
  std::string path;  // relative, '/'-separated UTF-8, e.g. "css/site.css"
  FileHashes hashes;
};

// What a site may hold. The same rules apply to what this node publishes and
// to a version another node's metadata describes, so a version is accepted
// exactly when hostless could have published it.
constexpr std::size_t kMaxSiteFiles = 100000;
// Path components of one file below the site's folder ("a/b/c.html": 3).
constexpr std::size_t kMaxPathDepth = 64;
// Bytes of one file's path below the site's folder, and of one component
// (libtorrent cuts longer components to 240 bytes when it loads a torrent).
constexpr std::size_t kMaxPathBytes = 1024;
constexpr std::size_t kMaxComponentBytes = 240;

// Builds the bencoded .torrent of a site: always multi-file (a directory
// named `name` holding the files, even for a one-file site), hybrid v1+v2,
// with no creation date, creator, mtimes, file attributes or trackers, so the
// same name and files give the same bytes and info-hashes whatever order the
// files come in. All hashes must share one piece size.
// Rejects: no files, only empty files, more than kMaxSiteFiles files, an
// invalid name, duplicate paths, a path that is also a directory of another
// path, paths that are absolute or have empty, "." or ".." or hidden (".x")
// components, backslashes, NUL or invalid UTF-8, paths deeper or longer than
// the limits above, and a path equal to another file or directory path but
// for ASCII letter case (libtorrent renames such a file when it loads the
// torrent).
Result<std::vector<char>> build_site_torrent(const std::string& name, std::vector<SiteFile> files);

// The torrent's v1 info-hash (a hybrid's or a v1 torrent's), as the pointer
// names versions.
InfoHash v1_info_hash(const lt::torrent_info& ti);

// Checks the metadata of a site version from another node before anything of
// it is used: the info dictionary as its info-hash covers it (libtorrent has
// already rewritten unsafe paths in ti.files(), so the raw one is what tells
// a hostile torrent from a sound one). Refuses what build_site_torrent would
// refuse to build, with the same limits, and symbolic links (hostless sites
// have none), and anything libtorrent would store under another path than
// the metadata names. Costs one more decode of the info dictionary (bounded:
// libtorrent decoded it within its own limits first). The error says what is
// wrong, for the visitor and the log.
Status check_site_metadata(const lt::torrent_info& ti);

}  // namespace hostless
