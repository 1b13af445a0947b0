// v1-only twins of hybrid versions (content/v1_twin.cpp).
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <libtorrent/create_torrent.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/torrent_info.hpp>
#include <string>

#include "content/site_torrent.hpp"
#include "content/v1_twin.hpp"
#include "site_fixtures.hpp"
#include "support/sandbox.hpp"

using namespace hostless;
using namespace hostless::test;
namespace fs = std::filesystem;

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
