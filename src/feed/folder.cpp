// A feed folder on disk: reading it (load), writing every rendered file
// that changed (save), and turning a template copy into a feed (initialize).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "feed/detail.hpp"
#include "feed/feed.hpp"
#include "protocol/address.hpp"
#include "util/files.hpp"

namespace hostless::feed {
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using detail::items_from;
using detail::keep_deleted;
using detail::page_path;

namespace detail {

std::string page_path(int number) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "archive/%04d.json", number);
  return buf;
}

}  // namespace detail

namespace {

Result<json> read_json(const fs::path& p) {
  auto text = read_file(p);
  if (!text) return make_error("cannot read " + p.string());
  try {
    return json::parse(*text);
  } catch (const json::exception& e) {
    return make_error(p.string() + " is not valid JSON: " + e.what());
  }
}

}  // namespace

std::map<std::string, std::string> render(const Feed& feed) {
  std::map<std::string, std::string> files;
  files["index.html"] = render_index_html(feed);
  files["feed.json"] = render_json_feed(feed);
  files["feed.xml"] = render_atom(feed);
  json profile;
  profile["name"] = feed.profile.name;
  profile["bio"] = feed.profile.bio;
  files["profile.json"] = profile.dump(2) + "\n";
  for (const auto& page : feed.pages) files[page_path(page.number)] = render_archive_page(page);
  return files;
}

Result<Feed> load(const fs::path& dir) {
  std::error_code ec;
  const auto not_feed = [&](const std::string& why) {
    return make_error(dir.string() + " is not a feed folder (" + why +
                      "); make one with `hostless new DIR --template feed`");
  };
  if (!fs::is_directory(dir, ec)) return not_feed("no such folder");
  if (!fs::is_regular_file(dir / "profile.json", ec)) return not_feed("no profile.json");
  if (!fs::is_regular_file(dir / "feed.json", ec)) return not_feed("no feed.json");
  auto doc = read_json(dir / "feed.json");
  if (!doc) return doc.error();
  if (!doc->is_object() || !doc->contains("_hostless") || !(*doc)["_hostless"].is_object()) {
    return not_feed("feed.json has no \"_hostless\" object");
  }
  Feed feed;
  const auto& ext = (*doc)["_hostless"];
  if (ext.contains("address") && ext["address"].is_string()) {
    auto a = SiteAddress::parse(ext["address"].get<std::string>());
    if (!a) return make_error("feed.json: \"_hostless.address\": " + a.error().message);
    feed.address = a->str();
  }
  auto recent = items_from(*doc, "feed.json");
  if (!recent) return recent.error();
  feed.recent = std::move(*recent);
  if (ext.contains("deleted") && ext["deleted"].is_array()) {
    for (const auto& id : ext["deleted"]) {
      if (!id.is_string() || !post_id_time(id.get<std::string>())) {
        return make_error("feed.json: \"_hostless.deleted\" holds something that is not a post id");
      }
      feed.deleted.push_back(id.get<std::string>());
    }
    keep_deleted(feed.deleted);
  }

  auto profile = read_json(dir / "profile.json");
  if (!profile) return profile.error();
  if (!profile->is_object()) return make_error("profile.json is not a JSON object");
  if (profile->contains("name") && (*profile)["name"].is_string()) {
    feed.profile.name = (*profile)["name"];
  }
  if (profile->contains("bio") && (*profile)["bio"].is_string())
    feed.profile.bio = (*profile)["bio"];

  std::size_t pages = 0;
  if (ext.contains("archive_pages") && ext["archive_pages"].is_number_unsigned()) {
    pages = ext["archive_pages"];
  }
  if (pages > 100000) return make_error("feed.json: \"_hostless.archive_pages\" is too large");
  for (std::size_t n = 1; n <= pages; ++n) {
    auto path = page_path(static_cast<int>(n));
    auto page_doc = read_json(dir / path);
    if (!page_doc) return page_doc.error();
    ArchivePage page;
    page.number = static_cast<int>(n);
    if (page_doc->is_object() && page_doc->contains("_hostless") &&
        (*page_doc)["_hostless"].is_object()) {
      page.frozen = (*page_doc)["_hostless"].value("frozen", false);
    }
    auto posts = items_from(*page_doc, path);
    if (!posts) return posts.error();
    page.posts = std::move(*posts);
    feed.pages.push_back(std::move(page));
  }
  return feed;
}

Status save(const fs::path& dir, const Feed& feed) {
  std::error_code ec;
  fs::create_directories(dir / "media", ec);
  if (!feed.pages.empty()) fs::create_directories(dir / "archive", ec);
  if (ec) return make_error("cannot create folders in " + dir.string() + ": " + ec.message());
  for (const auto& [path, bytes] : render(feed)) {
    auto old = read_file(dir / path);
    if (old && *old == bytes) continue;
    if (!write_file_atomic(dir / path, bytes)) {
      return make_error("cannot write " + (dir / path).string());
    }
  }
  return {};
}

Status initialize(const fs::path& dir, const std::string& name) {
  Feed feed;
  auto profile = read_json(dir / "profile.json");
  if (profile && profile->is_object()) {
    feed.profile.name = profile->value("name", "");
    feed.profile.bio = profile->value("bio", "");
  }
  if (feed.profile.name.empty()) feed.profile.name = name;
  std::error_code ec;
  if (!fs::exists(dir / "following.json", ec)) {
    if (!write_file_atomic(dir / "following.json", "[]\n")) {
      return make_error("cannot write " + (dir / "following.json").string());
    }
  }
  return save(dir, feed);
}

}  // namespace hostless::feed
