// Per-file hashes of a site's files for its hybrid torrent (site_torrent.hpp),
// computed once and kept (the hash cache) so that a publish re-hashes only
// the files that changed: v1 piece hashes, the BEP 52 piece layer and the
// file's merkle root, at one piece size.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

#include <libtorrent/sha1_hash.hpp>

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

}  // namespace hostless
