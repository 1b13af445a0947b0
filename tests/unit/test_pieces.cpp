// Which pieces a kept version keeps (sites/pieces.cpp): a feed followed without
// its media keeps all but the pieces of its top-level media/ folder.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <libtorrent/error_code.hpp>
#include <libtorrent/torrent_info.hpp>
#include <string>

#include "content/site_torrent.hpp"
#include "site_fixtures.hpp"
#include "sites/swarm.hpp"
#include "support/sandbox.hpp"

using namespace hostless;
using namespace hostless::test;

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
