// The rules for a site's paths and its number of files (content/paths.cpp),
// as build_site_torrent applies them.
#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "content/paths.hpp"
#include "content/site_torrent.hpp"
#include "site_fixtures.hpp"

using namespace hostless;
using namespace hostless::test;

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
