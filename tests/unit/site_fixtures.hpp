// Test helpers for site folders and their torrents (test_site_torrent.cpp,
// test_hashing.cpp, test_paths.cpp, test_metadata_check.cpp, test_pieces.cpp,
// test_v1_twin.cpp): files of deterministic content, folder layouts that cross
// block, piece and file boundaries, a folder hashed as publish hashes it, and
// made-up hashes for inputs never read from disk.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <libtorrent/error_code.hpp>
#include <libtorrent/torrent_info.hpp>
#include <string>
#include <vector>

#include "content/site_torrent.hpp"

namespace hostless::test {

inline constexpr std::uint64_t kKiB = 1024;
inline constexpr std::uint64_t kMiB = 1024 * kKiB;

struct Entry {
  std::string path;
  std::uint64_t size;
};

// Deterministic, non-repeating content so that any misplaced byte changes a hash.
inline void write_file(const std::filesystem::path& path, std::uint64_t size, std::uint32_t seed) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  std::uint32_t x = seed * 2654435761u + 1;
  std::string buf;
  buf.reserve(64 * kKiB);
  for (std::uint64_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    buf.push_back(static_cast<char>(x & 0xff));
    if (buf.size() == buf.capacity()) {
      out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
      buf.clear();
    }
  }
  out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
  REQUIRE(out.good());
}

inline void write_site(const std::filesystem::path& dir, const std::vector<Entry>& entries) {
  std::uint32_t seed = 1;
  for (const auto& e : entries) write_file(dir / e.path, e.size, seed++);
}

// Relative '/'-separated paths of all regular files under `dir`.
inline std::vector<std::string> list_files(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file())
      out.push_back(std::filesystem::relative(e.path(), dir).generic_string());
  }
  return out;
}

inline std::vector<SiteFile> hash_site(const std::filesystem::path& dir, std::uint64_t piece_size) {
  const auto rel = list_files(dir);
  std::vector<std::filesystem::path> paths;
  for (const auto& r : rel) paths.push_back(dir / r);
  auto hashes = hash_files(paths, piece_size, 2, nullptr);
  REQUIRE(hashes.ok());
  std::vector<SiteFile> site;
  for (std::size_t i = 0; i < rel.size(); ++i) site.push_back({rel[i], (*hashes)[i]});
  return site;
}

inline lt::info_hash_t info_hashes(const std::vector<char>& torrent) {
  lt::error_code ec;
  lt::torrent_info ti(torrent, ec, lt::from_span);
  REQUIRE_FALSE(ec);
  return ti.info_hashes();
}

inline FileHashes fake_hashes(std::uint64_t size, std::uint64_t piece_size = 16 * kKiB) {
  FileHashes h;
  h.piece_size = piece_size;
  h.size = size;
  const std::uint64_t pieces = (size + piece_size - 1) / piece_size;
  h.v1.assign(pieces, lt::sha1_hash("01234567890123456789"));
  h.v2.assign(pieces, lt::sha256_hash("01234567890123456789012345678901"));
  if (size > 0) {
    h.v1_last_unpadded = h.v1.back();
    h.root = h.v2.back();
  }
  return h;
}

// Folders that exercise block, piece and file boundaries.
struct Layout {
  const char* what;
  std::vector<Entry> entries;
};

inline const std::vector<Layout>& layouts() {
  static const std::vector<Layout> all = {
      {"one tiny file", {{"index.html", 5}}},
      {"one file of exactly two pieces", {{"only.bin", 2 * 64 * kKiB}}},
      {"one big file with a short tail", {{"big.bin", 3 * kMiB + 7}}},
      {"an empty file among others", {{"a.txt", 100}, {"empty", 0}, {"z/b.bin", 40000}}},
      {"an empty file last", {{"a", 5000}, {"zz/empty", 0}}},
      {"block boundaries", {{"1B", 1}, {"16383", 16383}, {"16384", 16384}, {"16385", 16385}}},
      {"piece boundaries",
       {{"under", 64 * kKiB - 1},
        {"one_piece", 64 * kKiB},
        {"piece_plus_1", 64 * kKiB + 1},
        {"several", 5 * 64 * kKiB + 123}}},
      {"a 3 MiB file and small ones", {{"video.bin", 3 * kMiB}, {"x/1", 1}, {"x/2", 2}}},
      {"nested dirs, unicode and spaces",
       {{"docs/guide/intro page.html", 3000},
        {"日本語/ファイル 名.txt", 20000},
        {"café/menü.html", 70000},
        {"a-b", 10},
        {"a/b", 20},
        {"a.c/x", 30},
        {"a/z/y", 40},
        {"B", 50}}},
  };

  return all;
}

}  // namespace hostless::test
