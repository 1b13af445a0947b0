// Publishing a folder: scan it, snapshot it into the node's store (so editing
// the folder afterwards does not change what is seeded), hash only what
// changed since the last publish, and build the version's torrent.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "content/site_torrent.hpp"
#include "protocol/pointer.hpp"
#include "store/catalog.hpp"
#include "util/result.hpp"

namespace hostless {

struct ScannedFile {
  std::string rel_path;  // '/'-separated
  // The file itself: for a symbolic link inside the folder, what it points
  // to, so that the file is later opened without following any link.
  std::filesystem::path source;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  FileId id;  // of `source` when scanned; publishing reads only this file
};

// Lists the files of `dir` in canonical order, skipping dotfiles and
// dot-directories. Fails clearly on: a missing or non-directory `dir`, an
// empty folder, an unreadable file, a symlink that points outside `dir` or
// at a directory, special files.
Result<std::vector<ScannedFile>> scan_folder(const std::filesystem::path& dir);

// (De)serialises FileHashes for the hash cache.
std::string serialize_hashes(const FileHashes& h);
std::optional<FileHashes> deserialize_hashes(std::string_view data);

struct Snapshot {
  std::filesystem::path staging;      // holds <name>/<files>
  std::vector<char> torrent;          // bencoded .torrent
  InfoHash info_hash;                 // v1
  std::vector<HashCacheEntry> cache;  // store_path relative to the version dir
  std::uint64_t total_bytes = 0;
  std::uint64_t hashed_bytes = 0;  // what was actually hashed this time
  std::size_t file_count = 0;
};

// progress(stage, done, total): stage is "copying" (linking unchanged files
// in, done/total of all bytes) or "hashing" (copying and hashing the rest,
// done/total of those bytes).
using SnapshotProgress =
    std::function<void(const std::string& stage, std::uint64_t done, std::uint64_t total)>;

// Copies `files` into `staging`/<name>/, reusing (hard-linking) unchanged
// files from `cache` (entries whose size and mtime match, with store paths
// relative to `store_root`), copies and hashes the rest in one pass on
// `threads` threads and builds the torrent. A file that changes while it is
// copied is an error, and so is a file whose path no longer names the file
// the scan saw (a symbolic link or another file put in its place): it is
// opened with O_NOFOLLOW and its device and inode compared, so nothing of a
// link's target is read.
Result<Snapshot> make_snapshot(const std::vector<ScannedFile>& files, const std::string& name,
                               const std::filesystem::path& staging,
                               const std::filesystem::path& store_root,
                               const std::vector<HashCacheEntry>& cache, unsigned threads,
                               const SnapshotProgress& progress);

}  // namespace hostless
