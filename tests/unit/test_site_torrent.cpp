// Site torrents: our per-file hashing and build_site_torrent must give the very
// torrent libtorrent's own set_piece_hashes gives for the same folder.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <libtorrent/create_torrent.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/torrent_info.hpp>
#include <string>
#include <utility>
#include <vector>

#include "content/site_torrent.hpp"
#include "site_fixtures.hpp"
#include "support/sandbox.hpp"

using namespace hostless;
using namespace hostless::test;
namespace fs = std::filesystem;

namespace {

// The torrent libtorrent builds on its own: add_files over the folder, then
// set_piece_hashes reading the files through its disk I/O.
std::vector<char> reference_torrent(const fs::path& parent, const std::string& name,
                                    std::uint64_t piece_size) {
  lt::file_storage files;
  lt::add_files(files, (parent / name).string(), lt::create_torrent::no_attributes);
  lt::create_torrent ct(files, static_cast<int>(piece_size));
  ct.set_creation_date(0);
  lt::error_code ec;
  lt::set_piece_hashes(ct, parent.string(), ec);
  REQUIRE_FALSE(ec);
  return ct.generate_buf();
}

bool contains(const std::vector<char>& haystack, const std::string& needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

}  // namespace

TEST_CASE("site torrent equals libtorrent's own for the same folder", "[site_torrent]") {
  for (const auto& layout : layouts()) {
    for (const std::uint64_t piece_size : {16 * kKiB, 64 * kKiB}) {
      DYNAMIC_SECTION(layout.what << ", piece size " << piece_size) {
        test::Sandbox box;
        const std::string name = "my site";
        write_site(box / name, layout.entries);

        auto ours = build_site_torrent(name, hash_site(box / name, piece_size));
        INFO((ours.ok() ? std::string() : ours.error().message));
        REQUIRE(ours.ok());
        const auto theirs = reference_torrent(box.path(), name, piece_size);

        const auto ih = info_hashes(*ours);
        CHECK(ih.has_v1());
        CHECK(ih.has_v2());
        CHECK(ih == info_hashes(theirs));
        CHECK(*ours == theirs);  // piece layers included

        lt::error_code ec;
        lt::torrent_info ti(*ours, ec, lt::from_span);
        REQUIRE_FALSE(ec);
        CHECK(ti.name() == name);
        CHECK(ti.piece_length() == static_cast<int>(piece_size));
        // Even a one-file site is a folder named after the site.
        CHECK(ti.files().file_path(lt::file_index_t(0)).rfind(name + "/", 0) == 0);
      }
    }
  }
}

TEST_CASE("site torrent is deterministic", "[site_torrent]") {
  test::Sandbox box;
  write_site(box / "site", {{"index.html", 1000}, {"css/site.css", 20000}, {"img/a.png", 90000}});
  const auto site = hash_site(box / "site", 16 * kKiB);

  auto first = build_site_torrent("site", site);
  REQUIRE(first.ok());

  SECTION("building twice gives the same bytes") {
    auto second = build_site_torrent("site", site);
    REQUIRE(second.ok());
    CHECK(*first == *second);
  }
  SECTION("input order does not matter") {
    auto reversed = site;
    std::reverse(reversed.begin(), reversed.end());
    auto second = build_site_torrent("site", reversed);
    REQUIRE(second.ok());
    CHECK(*first == *second);
  }
  SECTION("new mtimes change nothing") {
    for (const auto& f : site) {
      fs::last_write_time(box / "site" / f.path,
                          fs::file_time_type::clock::now() - std::chrono::hours(24 * 400));
    }
    auto second = build_site_torrent("site", hash_site(box / "site", 16 * kKiB));
    REQUIRE(second.ok());
    CHECK(*first == *second);
  }
  SECTION("no date, creator, mtimes or trackers") {
    CHECK_FALSE(contains(*first, "13:creation date"));
    CHECK_FALSE(contains(*first, "10:created by"));
    CHECK_FALSE(contains(*first, "5:mtime"));
    CHECK_FALSE(contains(*first, "8:announce"));
    CHECK_FALSE(contains(*first, "4:attr1:x"));
  }
  SECTION("another name gives another torrent") {
    auto other = build_site_torrent("site2", site);
    REQUIRE(other.ok());
    CHECK(info_hashes(*first) != info_hashes(*other));
  }
}

TEST_CASE("cached hashes of unchanged files give the torrent of a full re-hash", "[site_torrent]") {
  test::Sandbox box;
  const auto dir = box / "site";
  write_site(dir, {{"index.html", 1000}, {"about.html", 70000}, {"big.bin", 2 * kMiB + 3}});
  auto cached = hash_site(dir, 64 * kKiB);
  auto before = build_site_torrent("site", cached);
  REQUIRE(before.ok());

  write_file(dir / "about.html", 71234, 99);
  for (auto& f : cached) {
    if (f.path != "about.html") continue;
    std::uint64_t hashed = 0;
    auto h = hash_file(dir / f.path, 64 * kKiB, [&](std::uint64_t n) { hashed += n; });
    REQUIRE(h.ok());
    CHECK(hashed == 71234);
    f.hashes = *h;
  }
  auto incremental = build_site_torrent("site", cached);
  auto full = build_site_torrent("site", hash_site(dir, 64 * kKiB));
  REQUIRE(incremental.ok());
  REQUIRE(full.ok());
  CHECK(*incremental == *full);
  CHECK(info_hashes(*incremental) != info_hashes(*before));
}

TEST_CASE("build_site_torrent rejects bad input", "[site_torrent]") {
  const auto one = [](std::string path) {
    return std::vector<SiteFile>{{std::move(path), fake_hashes(10)}};
  };

  SECTION("bad paths") {
    const std::vector<std::string> bad = {"",
                                          "/etc/passwd",
                                          "a//b",
                                          "a/",
                                          "./a",
                                          "a/./b",
                                          "../x",
                                          "a/..",
                                          "..",
                                          "a\\b",
                                          std::string("a\0b", 3),
                                          "\xff.html",
                                          "\xc0\xaf",
                                          "\xed\xa0\x80"};
    for (const auto& path : bad) {
      CAPTURE(path);
      auto r = build_site_torrent("site", one(path));
      REQUIRE_FALSE(r.ok());
      CHECK_THAT(r.error().message, Catch::Contains("invalid file path"));
    }
  }
  SECTION("bad names") {
    for (const std::string name : {"", "a/b", "..", ".", "a\\b"}) {
      CAPTURE(name);
      CHECK_FALSE(build_site_torrent(name, one("index.html")).ok());
    }
  }
  SECTION("no files") {
    auto r = build_site_torrent("site", {});
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("at least one file"));
  }
  SECTION("only empty files") {
    auto r = build_site_torrent("site", {{"a", fake_hashes(0)}, {"b", fake_hashes(0)}});
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("non-empty"));
  }
  SECTION("duplicate paths") {
    auto r = build_site_torrent("site", {{"a/b", fake_hashes(1)}, {"a/b", fake_hashes(2)}});
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("twice"));
  }
  SECTION("a file that is also a directory") {
    auto r = build_site_torrent("site", {{"a", fake_hashes(1)}, {"a/b", fake_hashes(2)}});
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("also a directory"));
  }
  SECTION("paths that differ only in ASCII case") {
    // libtorrent would load these as "Index.1.html" and "A.1".
    auto files = build_site_torrent(
        "site", {{"index.html", fake_hashes(1)}, {"Index.html", fake_hashes(2)}});
    REQUIRE_FALSE(files.ok());
    CHECK_THAT(files.error().message, Catch::Contains("letter case"));
    auto dir = build_site_torrent("site", {{"A", fake_hashes(1)}, {"a/b", fake_hashes(2)}});
    REQUIRE_FALSE(dir.ok());
    CHECK_THAT(dir.error().message, Catch::Contains("letter case"));
    // Directories differing in case load unchanged (a folding disk merges
    // them, and their files still differ).
    CHECK(build_site_torrent("site", {{"x/A/b", fake_hashes(1)}, {"x/a/c", fake_hashes(2)}}).ok());
  }
  SECTION("paths one file on a disk that folds Unicode case or forms") {
    const std::vector<std::pair<std::string, std::string>> pairs = {
        {"\xc3\x89", "\xc3\xa9"},         // É, é
        {"caf\xc3\xa9", "cafe\xcc\x81"},  // é precomposed (NFC), e + U+0301 (NFD)
        {"stra\xc3\x9f"
         "e",
         "STRASSE"},                      // ß folds to ss
        {"\xef\xbd\x81.html", "a.html"},  // fullwidth a (NFKC)
        {"a\xe2\x80\x8b"
         "b",
         "ab"},                    // a zero-width space is ignorable
        {"\xce\xa3", "\xcf\x83"},  // Σ, σ
    };
    for (const auto& [a, b] : pairs) {
      auto r = build_site_torrent("site", {{a, fake_hashes(1)}, {b, fake_hashes(2)}});
      REQUIRE_FALSE(r.ok());
      CHECK_THAT(r.error().message, Catch::Contains("Unicode form"));
    }
    auto dir = build_site_torrent(
        "site", {{"\xc3\x89t\xc3\xa9", fake_hashes(1)}, {"\xc3\xa9t\xc3\xa9/x", fake_hashes(2)}});
    REQUIRE_FALSE(dir.ok());
    CHECK_THAT(dir.error().message, Catch::Contains("directory"));
    // Different names stay different.
    CHECK(build_site_torrent("site", {{"\xc3\xa9", fake_hashes(1)}, {"e", fake_hashes(2)}}).ok());
  }
  SECTION("mixed piece sizes") {
    auto r = build_site_torrent(
        "site", {{"a", fake_hashes(100, 16 * kKiB)}, {"b", fake_hashes(100, 32 * kKiB)}});
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("piece size"));
  }
  SECTION("hashes that do not fit the size") {
    auto h = fake_hashes(100 * kKiB);
    h.v2.pop_back();
    REQUIRE_FALSE(build_site_torrent("site", {{"a", h}}).ok());
    h = fake_hashes(100 * kKiB);
    h.v1[2] = lt::sha1_hash();
    REQUIRE_FALSE(build_site_torrent("site", {{"a", h}}).ok());
  }
}

TEST_CASE("choose_piece_size", "[site_torrent]") {
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> table = {
      {0, 16 * kKiB},
      {1, 16 * kKiB},
      {1 * kMiB, 16 * kKiB},
      {32 * kMiB, 16 * kKiB},
      {32 * kMiB + 1, 32 * kKiB},
      {256 * kMiB, 128 * kKiB},
      {1024 * kMiB, 512 * kKiB},
      {1024 * kMiB + 1, 1 * kMiB},
      {32 * 1024 * kMiB, 16 * kMiB},
      {1024 * 1024 * kMiB, 16 * kMiB},
      {UINT64_MAX, 16 * kMiB},
  };
  for (const auto& [total, piece] : table) {
    CAPTURE(total);
    CHECK(choose_piece_size(total) == piece);
  }
}

TEST_CASE("choose_piece_size keeps the zero padding of many small files down", "[site_torrent]") {
  // One big file: the total decides, no padding to speak of.
  CHECK(choose_piece_size(std::vector<std::uint64_t>{1024 * kMiB}) == 512 * kKiB);
  CHECK(choose_piece_size(std::vector<std::uint64_t>{}) == 16 * kKiB);
  // 512 MiB in 8 files, then 2000 files of 100 KiB: 512 KiB pieces would
  // pad each small file with 412 KiB of zeros (0.8 GiB); 128 KiB pieces pad
  // 28 KiB each (55 MiB, under a quarter of the data).
  std::vector<std::uint64_t> sizes(8, 64 * kMiB);
  sizes.insert(sizes.end(), 2000, 100 * kKiB);
  CHECK(choose_piece_size(sizes) == 128 * kKiB);
  // Never more pieces than kMaxPaddedPieces for it: 40000 files of 1 KiB and
  // one of 1 GiB stay at the size the total gives.
  std::vector<std::uint64_t> many(40000, 1 * kKiB);
  many.push_back(1024 * kMiB);
  CHECK(choose_piece_size(many) == choose_piece_size(1024 * kMiB + 40000 * kKiB));
}
