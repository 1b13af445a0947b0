// Checks of another node's metadata (content/metadata_check.cpp): what
// hostless and other tools publish passes, hostile metadata is refused with a
// reason.
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <libtorrent/bencode.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/torrent_info.hpp>
#include <string>
#include <utility>
#include <vector>

#include "content/metadata_check.hpp"
#include "content/site_torrent.hpp"
#include "site_fixtures.hpp"
#include "support/sandbox.hpp"

using namespace hostless;
using namespace hostless::test;

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
