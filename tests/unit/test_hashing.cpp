// Per-file hashing (content/hashing.cpp): v1 and v2 hashes of a file, many
// files over several threads, and copying while hashing.
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "content/hashing.hpp"
#include "site_fixtures.hpp"
#include "support/sandbox.hpp"

using namespace hostless;
using namespace hostless::test;
namespace fs = std::filesystem;

TEST_CASE("v2 file roots do not depend on the piece size", "[site_torrent]") {
  test::Sandbox box;
  for (const std::uint64_t size : {std::uint64_t{1}, std::uint64_t{16385}, 3 * kMiB + 5}) {
    write_file(box / "f", size, 7);
    auto small = hash_file(box / "f", 16 * kKiB, nullptr);
    auto medium = hash_file(box / "f", 64 * kKiB, nullptr);
    auto large = hash_file(box / "f", 4 * kMiB, nullptr);
    REQUIRE(small.ok());
    REQUIRE(medium.ok());
    REQUIRE(large.ok());
    CHECK(small->root == medium->root);
    CHECK(small->root == large->root);
    CHECK_FALSE(small->root.is_all_zeros());
  }
}

TEST_CASE("hash_files splits work across threads and keeps input order", "[site_torrent]") {
  test::Sandbox box;
  std::vector<fs::path> paths;
  std::uint64_t total = 0;
  const std::vector<std::uint64_t> sizes = {40 * kMiB + 17, 0, 1, 5 * kMiB, 16 * kKiB};
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    paths.push_back(box / ("f" + std::to_string(i)));
    write_file(paths.back(), sizes[i], static_cast<std::uint32_t>(i + 3));
    total += sizes[i];
  }
  std::uint64_t progressed = 0;  // calls are never concurrent
  auto two = hash_files(paths, 64 * kKiB, 2, [&](std::uint64_t n) { progressed += n; });
  REQUIRE(two.ok());
  CHECK(progressed == total);
  for (std::size_t i = 0; i < paths.size(); ++i) {
    auto one = hash_file(paths[i], 64 * kKiB, nullptr);
    REQUIRE(one.ok());
    const FileHashes& a = (*two)[i];
    CHECK(a.size == sizes[i]);
    CHECK(a.v1 == one->v1);
    CHECK(a.v2 == one->v2);
    CHECK(a.root == one->root);
    CHECK(a.v1_last_unpadded == one->v1_last_unpadded);
  }
  CHECK((*two)[1].root.is_all_zeros());
  CHECK((*two)[1].v1.empty());
}

TEST_CASE("copy_and_hash_files copies every byte and hashes as hash_files does", "[site_torrent]") {
  test::Sandbox box;
  std::vector<fs::path> sources, copies;
  const std::vector<std::uint64_t> sizes = {40 * kMiB + 17, 0, 1, 5 * kMiB, 16 * kKiB};
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    sources.push_back(box / ("f" + std::to_string(i)));
    copies.push_back(box / ("copy" + std::to_string(i)));
    write_file(sources.back(), sizes[i], static_cast<std::uint32_t>(i + 7));
  }
  write_file(copies[3], 9 * kMiB, 1);  // an existing file is replaced, not kept past the end
  auto copied = copy_and_hash_files(sources, copies, 64 * kKiB, 2, nullptr);
  REQUIRE(copied.ok());
  auto hashed = hash_files(sources, 64 * kKiB, 2, nullptr);
  REQUIRE(hashed.ok());
  auto read_all = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    CHECK(fs::file_size(copies[i]) == sizes[i]);
    CHECK(read_all(copies[i]) == read_all(sources[i]));
    CHECK((fs::status(copies[i]).permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
           fs::perms::others_read));
    CHECK((*copied)[i].v1 == (*hashed)[i].v1);
    CHECK((*copied)[i].v2 == (*hashed)[i].v2);
    CHECK((*copied)[i].root == (*hashed)[i].root);
  }

  CHECK_FALSE(copy_and_hash_files(sources, {copies[0]}, 64 * kKiB, 2, nullptr).ok());
  auto unwritable =
      copy_and_hash_files({sources[2]}, {box / "no-such-dir" / "x"}, 64 * kKiB, 2, nullptr);
  REQUIRE_FALSE(unwritable.ok());
  CHECK_THAT(unwritable.error().message, Catch::Contains("cannot write"));
}

TEST_CASE("hashing reports unreadable input", "[site_torrent]") {
  test::Sandbox box;
  write_file(box / "ok", 10, 1);
  fs::create_directories(box / "dir");

  auto missing = hash_files({box / "ok", box / "missing"}, 16 * kKiB, 2, nullptr);
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message, Catch::Contains("missing"));

  auto dir = hash_file(box / "dir", 16 * kKiB, nullptr);
  REQUIRE_FALSE(dir.ok());
  CHECK_THAT(dir.error().message, Catch::Contains("not a regular file"));

  for (const std::uint64_t bad : {std::uint64_t{0}, 8 * kKiB, 48 * kKiB, 32 * kMiB}) {
    CHECK_FALSE(hash_file(box / "ok", bad, nullptr).ok());
  }
}
