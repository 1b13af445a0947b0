// Site torrents: our per-file hashing and build_site_torrent must give the very
// torrent libtorrent's own set_piece_hashes gives for the same folder.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <libtorrent/bencode.hpp>
#include <libtorrent/create_torrent.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/torrent_info.hpp>
#include <string>
#include <utility>
#include <vector>

#include "content/site_torrent.hpp"
#include "content/v1_twin.hpp"
#include "sites/sites.hpp"
#include "support/sandbox.hpp"

using namespace hostless;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * kKiB;

struct Entry {
  std::string path;
  std::uint64_t size;
};

// Deterministic, non-repeating content so that any misplaced byte changes a hash.
void write_file(const fs::path& path, std::uint64_t size, std::uint32_t seed) {
  fs::create_directories(path.parent_path());
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

void write_site(const fs::path& dir, const std::vector<Entry>& entries) {
  std::uint32_t seed = 1;
  for (const auto& e : entries) write_file(dir / e.path, e.size, seed++);
}

// Relative '/'-separated paths of all regular files under `dir`.
std::vector<std::string> list_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).generic_string());
  }
  return out;
}

std::vector<SiteFile> hash_site(const fs::path& dir, std::uint64_t piece_size) {
  const auto rel = list_files(dir);
  std::vector<fs::path> paths;
  for (const auto& r : rel) paths.push_back(dir / r);
  auto hashes = hash_files(paths, piece_size, 2, nullptr);
  REQUIRE(hashes.ok());
  std::vector<SiteFile> site;
  for (std::size_t i = 0; i < rel.size(); ++i) site.push_back({rel[i], (*hashes)[i]});
  return site;
}

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

lt::info_hash_t info_hashes(const std::vector<char>& torrent) {
  lt::error_code ec;
  lt::torrent_info ti(torrent, ec, lt::from_span);
  REQUIRE_FALSE(ec);
  return ti.info_hashes();
}

bool contains(const std::vector<char>& haystack, const std::string& needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

FileHashes fake_hashes(std::uint64_t size, std::uint64_t piece_size = 16 * kKiB) {
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

}  // namespace

// Folders that exercise block, piece and file boundaries.
struct Layout {
  const char* what;
  std::vector<Entry> entries;
};

const std::vector<Layout>& layouts() {
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

TEST_CASE("build_site_torrent enforces the site limits", "[site_torrent]") {
  const auto one = [](std::string path) {
    return std::vector<SiteFile>{{std::move(path), fake_hashes(10)}};
  };
  struct Case {
    std::string path;
    std::string fragment;  // empty: accepted
  };
  std::string deep64;
  std::string deep65;
  for (std::size_t i = 0; i < kMaxPathDepth; ++i) deep64 += "d/";
  deep65 = deep64 + "d/f";
  deep64 += "f";
  deep64.erase(0, 2);  // exactly kMaxPathDepth components
  const std::vector<Case> cases = {
      {".hidden", "hidden component"},
      {"a/.git/config", "hidden component \".git\""},
      {"a/..b", "hidden component"},
      {"a.b/c.d", ""},
      {std::string(kMaxComponentBytes, 'a'), ""},
      {std::string(kMaxComponentBytes + 1, 'a'), "longer than 240 bytes"},
      {deep64, ""},
      {deep65, "more than 64 levels deep"},
      {std::string(200, 'a') + "/" + std::string(200, 'b') + "/" + std::string(200, 'c') + "/" +
           std::string(200, 'd') + "/" + std::string(200, 'e') + "/" + std::string(200, 'f'),
       "longer than 1024 bytes"},
      {"CON", ""},
      {"aux/com1.html", ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.path);
    auto r = build_site_torrent("site", one(c.path));
    if (c.fragment.empty()) {
      CHECK(r.ok());
    } else {
      REQUIRE_FALSE(r.ok());
      CHECK_THAT(r.error().message, Catch::Contains("invalid file path"));
      CHECK_THAT(r.error().message, Catch::Contains(c.fragment));
    }
  }
  SECTION("too many files") {
    std::vector<SiteFile> files;
    for (std::size_t i = 0; i <= kMaxSiteFiles; ++i) {
      files.push_back({"f" + std::to_string(i), fake_hashes(0)});
    }
    auto r = build_site_torrent("site", std::move(files));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("at most 100000 files; this one has 100001"));
  }
}

namespace {

// Hand-made metadata, as a stranger's peer would send it.
lt::entry meta_file(const std::vector<std::string>& path, std::int64_t length = 1) {
  lt::entry e;
  e["length"] = length;
  lt::entry::list_type p;
  for (const auto& c : path) p.emplace_back(c);
  e["path"] = std::move(p);
  return e;
}

lt::entry v1_meta(const std::string& name, const std::vector<lt::entry>& files) {
  lt::entry info;
  info["name"] = name;
  info["piece length"] = 16384;
  std::int64_t total = 0;
  for (const auto& f : files) total += f["length"].integer();
  info["pieces"] = std::string(static_cast<std::size_t>((total + 16383) / 16384) * 20, 'x');
  info["files"] = lt::entry::list_type(files.begin(), files.end());
  return info;
}

// A v2-only info dictionary from {path components, attr} pairs of 1-byte files.
lt::entry v2_meta(const std::string& name,
                  const std::vector<std::pair<std::vector<std::string>, std::string>>& files) {
  lt::entry info;
  info["name"] = name;
  info["piece length"] = 16384;
  info["meta version"] = 2;
  lt::entry& tree = info["file tree"];
  tree = lt::entry::dictionary_type();
  for (const auto& [path, attr] : files) {
    lt::entry* node = &tree;
    for (const auto& c : path) node = &(*node)[c];
    lt::entry& leaf = (*node)[""];
    leaf["length"] = 1;
    leaf["pieces root"] = std::string(32, 'r');
    if (!attr.empty()) leaf["attr"] = attr;
  }
  return info;
}

Status check_meta(const lt::entry& info) {
  lt::entry t;
  t["info"] = info;
  std::vector<char> buf;
  lt::bencode(std::back_inserter(buf), t);
  lt::error_code ec;
  const lt::torrent_info ti(buf, ec, lt::from_span);
  REQUIRE_FALSE(ec);
  return check_site_metadata(ti);
}

}  // namespace

TEST_CASE("check_site_metadata accepts what hostless publishes", "[site_torrent]") {
  test::Sandbox box;
  write_site(box / "site", {{"index.html", 1000},
                            {"css/site.css", 40 * kKiB},
                            {"img/a.png", 100 * kKiB},
                            {"empty.txt", 0}});
  auto torrent = build_site_torrent("site", hash_site(box / "site", 16 * kKiB));
  REQUIRE(torrent.ok());
  lt::error_code ec;
  const lt::torrent_info ti(*torrent, ec, lt::from_span);
  REQUIRE_FALSE(ec);
  REQUIRE(ti.files().num_files() > 4);  // pad files (".pad/...") included
  CHECK(check_site_metadata(ti).ok());

  // Other tools' torrents too, as long as their paths are sound.
  CHECK(check_meta(v1_meta("site", {meta_file({"index.html"}), meta_file({"CON"}),
                                    meta_file({"aux", "com1.html"})}))
            .ok());
  {
    Status v2 = check_meta(v2_meta("site", {{{"index.html"}, ""}, {{"a", "b.css"}, ""}}));
    INFO((v2 ? std::string() : v2.error().message));
    CHECK(v2.ok());
  }
  // As deep as a site may be, in a v2 file tree.
  CHECK(check_meta(v2_meta("site", {{std::vector<std::string>(kMaxPathDepth, "d"), ""}})).ok());
  lt::entry single;
  single["name"] = "video.webm";
  single["piece length"] = 16384;
  single["length"] = 5;
  single["pieces"] = std::string(20, 'x');
  CHECK(check_meta(single).ok());
}

TEST_CASE("check_site_metadata refuses hostile metadata", "[site_torrent]") {
  const lt::entry index = meta_file({"index.html"});
  lt::entry link = meta_file({"escape"}, 0);
  link["attr"] = "l";
  link["symlink path"] = lt::entry::list_type{lt::entry(".."), lt::entry(".."), lt::entry("x")};
  const auto with_attr = [](lt::entry file, const std::string& attr) {
    file["attr"] = attr;
    return file;
  };
  lt::entry single_x;
  single_x["name"] = "run.sh";
  single_x["piece length"] = 16384;
  single_x["length"] = 5;
  single_x["pieces"] = std::string(20, 'x');
  single_x["attr"] = "x";
  lt::entry utf8_path = meta_file({"index.html"});
  utf8_path["path.utf-8"] = lt::entry::list_type{lt::entry(".."), lt::entry("evil")};
  lt::entry utf8_name = v1_meta("site", {index});
  utf8_name["name.utf-8"] = "..";
  lt::entry deep_v2 = v2_meta("site", {{std::vector<std::string>(kMaxPathDepth + 1, "d"), ""}});
  lt::entry too_many = v1_meta("site", {});
  {
    lt::entry::list_type files;
    for (std::size_t i = 0; i <= kMaxSiteFiles; ++i) {
      files.push_back(meta_file({"f" + std::to_string(i)}, 0));
    }
    files.push_back(index);
    too_many["files"] = std::move(files);
    too_many["pieces"] = std::string(20, 'x');
  }
  struct Case {
    std::string name;
    lt::entry info;
    std::string fragment;
  };
  const std::vector<Case> cases = {
      {"dot-dot", v1_meta("site", {meta_file({"..", "..", "evil"}), index}),
       "has a \".\" or \"..\" component"},
      {"absolute", v1_meta("site", {meta_file({"", "etc", "passwd"}), index}), "it is absolute"},
      {"slash in a component", v1_meta("site", {meta_file({"../../evil"}), index}),
       "a component contains a slash"},
      {"backslash", v1_meta("site", {meta_file({"..\\evil"}), index}), "backslash"},
      {"NUL", v1_meta("site", {meta_file({std::string("a\0b", 3)}), index}), "NUL byte"},
      {"invalid UTF-8", v1_meta("site", {meta_file({"\xff.html"}), index}), "not valid UTF-8"},
      {"hidden", v1_meta("site", {meta_file({".git", "config"}), index}), "hidden component"},
      {".hostless", v1_meta("site", {meta_file({".hostless"}), index}), "hidden component"},
      {"long component", v1_meta("site", {meta_file({std::string(241, 'a')}), index}),
       "longer than 240 bytes"},
      {"deep v1 path", v1_meta("site", {meta_file(std::vector<std::string>(10000, "d")), index}),
       "longer than 1024 bytes"},
      {"65 levels", v1_meta("site", {meta_file(std::vector<std::string>(65, "d")), index}),
       "more than 64 levels deep"},
      {"deep v2 tree", deep_v2, "more than 64 levels deep"},
      {"symlink (v1)", v1_meta("site", {link, index}), "symbolic link"},
      {"symlink (v2)", v2_meta("site", {{{"escape"}, "l"}, {{"index.html"}, ""}}), "symbolic link"},
      {"hidden (v2)", v2_meta("site", {{{".git", "config"}, ""}}), "hidden component"},
      {"executable (v1)", v1_meta("site", {with_attr(meta_file({"run.sh"}), "x"), index}),
       "file \"run.sh\" has the attributes \"x\" (executable or hidden"},
      {"hidden attribute (v1)", v1_meta("site", {with_attr(index, "h")}), "attributes \"h\""},
      {"unknown attribute (v1)", v1_meta("site", {with_attr(index, "q")}), "(unknown;"},
      {"executable (v2)", v2_meta("site", {{{"run.sh"}, "x"}, {{"index.html"}, ""}}),
       "attributes \"x\""},
      {"executable (single file)", single_x, "attributes \"x\""},
      {"letter case", v1_meta("site", {meta_file({"Index.html"}), index}),
       "differ only in letter case"},
      {"letter case of a folder", v1_meta("site", {meta_file({"A"}), meta_file({"a", "b"})}),
       "differs only in letter case or Unicode form from a directory"},
      {"duplicate", v1_meta("site", {index, index}), "appears twice"},
      {"file and folder", v1_meta("site", {meta_file({"a"}), meta_file({"a", "b"})}),
       "also a directory"},
      {"hostile path.utf-8", v1_meta("site", {utf8_path}), "\"..\" component"},
      {"dot-dot name", v1_meta("..", {index}), "invalid site name"},
      {"hostile name.utf-8", utf8_name, "invalid site name"},
      {"hidden name", v1_meta(".site", {index}), "invalid site name"},
      {"too many files", too_many, "at most 100000 files; this one has 100002"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    Status s = check_meta(c.info);
    REQUIRE_FALSE(s.ok());
    CHECK_THAT(s.error().message, Catch::Contains(c.fragment));
  }
}

TEST_CASE("a feed followed without its media keeps every piece but media/'s", "[site_torrent]") {
  test::Sandbox box;
  write_site(box / "feed", {{"feed.json", 3000},
                            {"index.html", 40 * kKiB},
                            {"media/cat.jpg", 100 * kKiB},
                            {"media/dog.png", 5 * kKiB},
                            {"mediaeval.txt", 10},
                            {"x/media/not-top.txt", 20}});
  auto bytes = build_site_torrent("feed", hash_site(box / "feed", 16 * kKiB));
  REQUIRE(bytes.ok());
  lt::error_code ec;
  lt::torrent_info ti(*bytes, ec, lt::from_span);
  REQUIRE_FALSE(ec);
  const auto all = kept_pieces(ti, true);
  REQUIRE(all.size() == static_cast<std::size_t>(ti.num_pieces()));
  CHECK(std::count(all.begin(), all.end(), true) == ti.num_pieces());

  const auto kept = kept_pieces(ti, false);
  REQUIRE(kept.size() == all.size());
  const auto& files = ti.files();
  int media_pieces = 0;
  for (auto i : files.file_range()) {
    if (files.pad_file_at(i) || files.file_size(i) == 0) continue;
    const std::string path = files.file_path(i, "");
    const bool media = path.rfind("feed/media/", 0) == 0;
    const int first = static_cast<int>(files.map_file(i, 0, 1).piece);
    const int last = static_cast<int>(files.map_file(i, files.file_size(i) - 1, 1).piece);
    for (int p = first; p <= last; ++p) {
      INFO(path << " piece " << p);
      CHECK(kept[static_cast<std::size_t>(p)] == !media);
      media_pieces += media;
    }
  }
  CHECK(media_pieces == 7 + 1);  // 100 KiB in 16 KiB pieces, and 5 KiB
}

// The v1 twin must be the torrent libtorrent itself makes of the same files in
// the same order, v1 only (set_piece_hashes reading them through its disk
// I/O), and describe only the version's bytes.
TEST_CASE("v1 twin equals libtorrent's own v1 torrent of the version's files", "[v1_twin]") {
  for (const auto& layout : layouts()) {
    DYNAMIC_SECTION(layout.what) {
      test::Sandbox box;
      const std::string name = "my site";
      write_site(box / name, layout.entries);
      auto hybrid = build_site_torrent(name, hash_site(box / name, 16 * kKiB));
      REQUIRE(hybrid.ok());
      lt::error_code ec;
      const lt::torrent_info ti(*hybrid, ec, lt::from_span);
      REQUIRE_FALSE(ec);

      auto twin = build_v1_twin(ti, box.path());
      INFO((twin.ok() ? std::string() : twin.error().message));
      REQUIRE(twin.ok());
      lt::file_storage files;
      for (const lt::file_index_t i : ti.files().file_range()) {
        if (!ti.files().pad_file_at(i))
          files.add_file(ti.files().file_path(i), ti.files().file_size(i));
      }
      lt::create_torrent ct(files, 16 * static_cast<int>(kKiB), lt::create_torrent::v1_only);
      ct.set_creation_date(0);
      lt::set_piece_hashes(ct, box.path().string(), ec);
      REQUIRE_FALSE(ec);
      CHECK(*twin == ct.generate_buf());
      const auto ih = info_hashes(*twin);
      CHECK(ih.has_v1());
      CHECK_FALSE(ih.has_v2());
      CHECK(ih.v1 != ti.info_hashes().v1);
    }
  }

  test::Sandbox box;
  write_site(box / "s", {{"a.bin", 40000}, {"b.txt", 100}});
  auto hybrid = build_site_torrent("s", hash_site(box / "s", 16 * kKiB));
  REQUIRE(hybrid.ok());
  lt::error_code ec;
  const lt::torrent_info ti(*hybrid, ec, lt::from_span);
  REQUIRE_FALSE(ec);
  const auto refused = [&](const std::string& why) {
    auto twin = build_v1_twin(ti, box.path());
    REQUIRE_FALSE(twin.ok());
    CHECK_THAT(twin.error().message, Catch::Contains(why));
  };
  SECTION("a changed byte") {
    std::fstream f(box / "s/a.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20000);
    f.put('x');
    f.close();
    refused("its bytes are not the version's");
  }
  SECTION("a longer file") {
    std::ofstream(box / "s/b.txt", std::ios::app) << "more";
    refused("its size is not the version's");
  }
  SECTION("a missing file") {
    fs::remove(box / "s/b.txt");
    refused("No such file");
  }
  SECTION("a symbolic link in its place") {
    fs::rename(box / "s/b.txt", box / "elsewhere");
    fs::create_symlink(box / "elsewhere", box / "s/b.txt");
    refused("s/b.txt");
  }
}
