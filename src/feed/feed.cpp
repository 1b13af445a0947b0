#include "feed/feed.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "protocol/address.hpp"
#include "util/encoding.hpp"
#include "util/files.hpp"

namespace hostless::feed {
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

constexpr const char* kJsonFeedVersion = "https://jsonfeed.org/version/1.1";
constexpr int kFormatVersion = 1;

bool newer(const Post& a, const Post& b) {
  return a.id > b.id;
}

std::string page_path(int number) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "archive/%04d.json", number);
  return buf;
}

// Text for HTML and XML content and attribute values, without the control
// characters XML 1.0 cannot hold at all (a profile is edited by hand).
std::string markup(std::string_view s) {
  return escape_markup(s, true);
}

// The first line of the text, at most 80 code points: an Atom entry's title.
std::string title_of(std::string_view text) {
  auto nl = text.find('\n');
  std::string_view line = text.substr(0, nl);
  std::string out;
  std::size_t points = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    bool lead = (static_cast<unsigned char>(line[i]) & 0xC0) != 0x80;
    if (lead && ++points > 80) {
      out += "\xE2\x80\xA6";  // …
      return out;
    }
    out += line[i];
  }
  if (nl != std::string_view::npos) out += "\xE2\x80\xA6";
  return out;
}

json item_json(const Post& p) {
  json j;
  j["id"] = p.id;
  j["content_text"] = p.text;
  j["date_published"] = format_rfc3339(p.published);
  if (!p.attachments.empty()) {
    json a = json::array();
    for (const auto& at : p.attachments) {
      a.push_back({{"url", at.url}, {"mime_type", at.mime_type}, {"size_in_bytes", at.size}});
    }
    j["attachments"] = a;
  }
  json ext = json::object();
  if (!p.reply_to.empty()) ext["reply_to"] = p.reply_to;
  if (!p.mentions.empty()) ext["mentions"] = p.mentions;
  if (!ext.empty()) j["_hostless"] = ext;
  return j;
}

json items_json(const std::vector<Post>& posts) {
  json items = json::array();
  for (const auto& p : posts) items.push_back(item_json(p));
  return items;
}

Result<Post> item_from_json(const json& j, const std::string& where) {
  auto bad = [&](const std::string& what) { return make_error(where + ": " + what); };
  if (!j.is_object()) return bad("an item is not an object");
  Post p;
  if (!j.contains("id") || !j["id"].is_string() || !post_id_time(j["id"].get<std::string>())) {
    return bad("an item has no valid \"id\" (17 base32 characters)");
  }
  p.id = j["id"];
  if (!j.contains("content_text") || !j["content_text"].is_string()) {
    return bad("item " + p.id + " has no \"content_text\"");
  }
  p.text = j["content_text"];
  auto date = j.contains("date_published") && j["date_published"].is_string()
                  ? parse_rfc3339(j["date_published"].get<std::string>())
                  : std::nullopt;
  if (!date) return bad("item " + p.id + " has no RFC 3339 \"date_published\"");
  p.published = *date;
  if (j.contains("attachments")) {
    if (!j["attachments"].is_array()) return bad("item " + p.id + ": \"attachments\" not a list");
    for (const auto& a : j["attachments"]) {
      if (!a.is_object() || !a.contains("url") || !a["url"].is_string()) {
        return bad("item " + p.id + " has an attachment without a \"url\"");
      }
      Attachment at;
      at.url = a["url"];
      at.mime_type = a.value("mime_type", "application/octet-stream");
      if (a.contains("size_in_bytes") && a["size_in_bytes"].is_number_unsigned()) {
        at.size = a["size_in_bytes"];
      }
      p.attachments.push_back(at);
    }
  }
  if (j.contains("_hostless") && j["_hostless"].is_object()) {
    const auto& ext = j["_hostless"];
    if (ext.contains("reply_to") && ext["reply_to"].is_string()) p.reply_to = ext["reply_to"];
    if (ext.contains("mentions") && ext["mentions"].is_array()) {
      for (const auto& m : ext["mentions"]) {
        if (m.is_string()) p.mentions.push_back(m);
      }
    }
  }
  return p;
}

Result<json> read_json(const fs::path& p) {
  auto text = read_file(p);
  if (!text) return make_error("cannot read " + p.string());
  try {
    return json::parse(*text);
  } catch (const json::exception& e) {
    return make_error(p.string() + " is not valid JSON: " + e.what());
  }
}

Result<std::vector<Post>> items_from(const json& doc, const std::string& where) {
  if (!doc.contains("items") || !doc["items"].is_array()) {
    return make_error(where + " has no \"items\" list");
  }
  std::vector<Post> out;
  for (const auto& j : doc["items"]) {
    auto p = item_from_json(j, where);
    if (!p) return p.error();
    out.push_back(std::move(*p));
  }
  std::sort(out.begin(), out.end(), newer);
  return out;
}

}  // namespace

void Feed::add(Post post) {
  recent.push_back(std::move(post));
  std::sort(recent.begin(), recent.end(), newer);
  while (recent.size() > kRecentPosts) {
    if (pages.empty() || pages.back().frozen) {
      ArchivePage page;
      page.number = pages.empty() ? 1 : pages.back().number + 1;
      pages.push_back(page);
    }
    auto& page = pages.back();
    // Every archived post is newer than the pages' posts: it goes first.
    page.posts.insert(page.posts.begin(), std::move(recent.back()));
    recent.pop_back();
    if (page.posts.size() >= kPageSize) page.frozen = true;
  }
}

namespace {

// `ids` sorted, each once, at most kMaxDeleted: the newest (ids sort by time).
void keep_deleted(std::vector<std::string>& ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (ids.size() > kMaxDeleted) {
    ids.erase(ids.begin(), ids.end() - static_cast<std::ptrdiff_t>(kMaxDeleted));
  }
}

}  // namespace

Merged Feed::merge(const Feed& other) {
  Merged m;
  std::vector<std::string> gone = deleted;
  gone.insert(gone.end(), other.deleted.begin(), other.deleted.end());
  keep_deleted(gone);
  const auto is_gone = [&](const std::string& id) {
    return std::binary_search(gone.begin(), gone.end(), id);
  };
  const auto take_from = [&](const std::vector<Post>& posts) {
    for (const auto& p : posts) {
      if (!is_gone(p.id) && !contains(p.id) &&
          std::none_of(m.taken.begin(), m.taken.end(),
                       [&](const Post& t) { return t.id == p.id; })) {
        m.taken.push_back(p);
      }
    }
  };
  take_from(other.recent);
  for (const auto& page : other.pages) take_from(page.posts);
  std::vector<Post> all = m.taken;
  const auto keep_from = [&](const std::vector<Post>& posts) {
    for (const auto& p : posts) (is_gone(p.id) ? m.dropped : all).push_back(p);
  };
  keep_from(recent);
  for (const auto& page : pages) keep_from(page.posts);
  m.new_deletions = gone != deleted;
  deleted = std::move(gone);
  if (m.taken.empty() && m.dropped.empty()) return m;
  std::sort(all.begin(), all.end(), newer);
  recent.clear();
  pages.clear();
  for (auto it = all.rbegin(); it != all.rend(); ++it) add(std::move(*it));
  std::sort(m.taken.begin(), m.taken.end(), newer);
  std::sort(m.dropped.begin(), m.dropped.end(), newer);
  return m;
}

Result<Post> Feed::remove(std::string_view id) {
  auto take = [&](std::vector<Post>& posts) -> std::optional<Post> {
    auto it = std::find_if(posts.begin(), posts.end(), [&](const Post& p) { return p.id == id; });
    if (it == posts.end()) return std::nullopt;
    Post p = std::move(*it);
    posts.erase(it);
    deleted.push_back(p.id);
    keep_deleted(deleted);
    return p;
  };
  if (auto p = take(recent)) return *p;
  for (auto& page : pages) {
    if (auto p = take(page.posts)) return *p;
  }
  return make_error("no post with the id " + quote_for_message(id, 40, false) +
                    " in this feed (see the ids in feed.json or archive/)");
}

std::string Feed::newest_id() const {
  if (!recent.empty()) return recent.front().id;
  for (auto it = pages.rbegin(); it != pages.rend(); ++it) {
    if (!it->posts.empty()) return it->posts.front().id;
  }
  return "";
}

bool Feed::contains(std::string_view id) const {
  auto has = [&](const std::vector<Post>& v) {
    return std::any_of(v.begin(), v.end(), [&](const Post& p) { return p.id == id; });
  };
  return has(recent) || std::any_of(pages.begin(), pages.end(),
                                    [&](const ArchivePage& pg) { return has(pg.posts); });
}

std::string render_json_feed(const Feed& feed) {
  json j;
  j["version"] = kJsonFeedVersion;
  j["title"] = feed.profile.name;
  if (!feed.profile.bio.empty()) j["description"] = feed.profile.bio;
  if (!feed.address.empty()) {
    j["home_page_url"] = "hostless://" + feed.address + "/";
    j["feed_url"] = "hostless://" + feed.address + "/feed.json";
  }
  j["authors"] = json::array({{{"name", feed.profile.name}}});
  json ext;
  ext["version"] = kFormatVersion;
  if (!feed.address.empty()) ext["address"] = feed.address;
  ext["archive_pages"] = feed.pages.size();
  if (!feed.deleted.empty()) ext["deleted"] = feed.deleted;
  j["_hostless"] = ext;
  j["items"] = items_json(feed.recent);
  return j.dump(2) + "\n";
}

std::string render_archive_page(const ArchivePage& page) {
  // Nothing here may depend on the profile or the address: a frozen page's
  // bytes must stay the same.
  json j;
  j["version"] = kJsonFeedVersion;
  j["title"] = "archive page " + std::to_string(page.number);
  j["_hostless"] = {{"version", kFormatVersion}, {"page", page.number}, {"frozen", page.frozen}};
  j["items"] = items_json(page.posts);
  return j.dump(2) + "\n";
}

std::string render_atom(const Feed& feed) {
  const std::string base = feed.address.empty() ? "" : "hostless://" + feed.address + "/";
  const std::string feed_id = base.empty() ? "urn:hostless:unpublished-feed" : base;
  std::string updated = format_rfc3339(feed.recent.empty() ? 0 : feed.recent.front().published);
  std::string x;
  x += "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";
  x += "<feed xmlns=\"http://www.w3.org/2005/Atom\" "
       "xmlns:thr=\"http://purl.org/syndication/thread/1.0\">\n";
  x += "  <id>" + markup(feed_id) + "</id>\n";
  x += "  <title>" + markup(feed.profile.name) + "</title>\n";
  if (!feed.profile.bio.empty()) x += "  <subtitle>" + markup(feed.profile.bio) + "</subtitle>\n";
  x += "  <updated>" + updated + "</updated>\n";
  x += "  <author><name>" + markup(feed.profile.name) + "</name></author>\n";
  x += "  <link rel=\"self\" type=\"application/atom+xml\" href=\"feed.xml\"/>\n";
  x += "  <link rel=\"alternate\" type=\"text/html\" href=\"./\"/>\n";
  x += "  <generator>hostless</generator>\n";
  for (const auto& p : feed.recent) {
    std::string entry_id = base.empty() ? "urn:hostless:post:" + p.id : base + "feed.json#" + p.id;
    std::string when = format_rfc3339(p.published);
    x += "  <entry>\n";
    x += "    <id>" + markup(entry_id) + "</id>\n";
    x += "    <title>" + markup(title_of(p.text)) + "</title>\n";
    x += "    <published>" + when + "</published>\n";
    x += "    <updated>" + when + "</updated>\n";
    x += "    <content type=\"text\">" + markup(p.text) + "</content>\n";
    for (const auto& a : p.attachments) {
      x += "    <link rel=\"enclosure\" href=\"" + markup(a.url) + "\" type=\"" +
           markup(a.mime_type) + "\" length=\"" + std::to_string(a.size) + "\"/>\n";
    }
    if (!p.reply_to.empty()) {
      x += "    <thr:in-reply-to ref=\"" + markup(p.reply_to) + "\"/>\n";
    }
    x += "  </entry>\n";
  }
  x += "</feed>\n";
  return x;
}

std::string render_index_html(const Feed& feed) {
  const auto& name = feed.profile.name;
  std::string h;
  h += "<!doctype html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<meta name=\"description\" content=\"A microblog feed: write with `hostless post`\">\n";
  h += "<meta name=\"generator\" content=\"hostless\">\n";
  h += "<title>" + markup(name) + "</title>\n";
  h += "<link rel=\"alternate\" type=\"application/atom+xml\" href=\"feed.xml\">\n";
  h += "<link rel=\"alternate\" type=\"application/feed+json\" href=\"feed.json\">\n";
  h += "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:2em auto;padding:0 "
       "1em}article{border-top:1px solid #ddd;padding:.75em 0}.text{white-space:pre-wrap;"
       "overflow-wrap:anywhere}.meta{color:#666;font-size:.85em}img{max-width:100%}</style>\n";
  h += "</head>\n<body>\n<header>\n";
  h += "<h1>" + markup(name) + "</h1>\n";
  if (!feed.profile.bio.empty()) h += "<p>" + markup(feed.profile.bio) + "</p>\n";
  if (!feed.address.empty()) h += "<p class=\"meta\">" + markup(feed.address) + "</p>\n";
  h += "<p class=\"meta\">Subscribe: <a href=\"feed.xml\">Atom</a> · "
       "<a href=\"feed.json\">JSON Feed</a></p>\n</header>\n<main>\n";
  if (feed.recent.empty()) h += "<p>No posts yet.</p>\n";
  for (const auto& p : feed.recent) {
    std::string when = format_rfc3339(p.published);
    h += "<article id=\"" + markup(p.id) + "\">\n";
    h += "<p class=\"meta\"><time datetime=\"" + when + "\">" + when + "</time>";
    if (!p.reply_to.empty()) h += " · in reply to <code>" + markup(p.reply_to) + "</code>";
    h += "</p>\n";
    h += "<div class=\"text\">" + markup(p.text) + "</div>\n";
    for (const auto& a : p.attachments) {
      if (a.mime_type.rfind("image/", 0) == 0 && a.mime_type != "image/svg+xml") {
        h += "<p><a href=\"" + markup(a.url) + "\"><img src=\"" + markup(a.url) +
             "\" alt=\"attached image\"></a></p>\n";
      } else {
        h += "<p><a href=\"" + markup(a.url) + "\">" + markup(a.url) + "</a></p>\n";
      }
    }
    h += "</article>\n";
  }
  h += "</main>\n";
  if (!feed.pages.empty()) {
    h += "<footer>\n<p class=\"meta\">Older posts:";
    for (auto it = feed.pages.rbegin(); it != feed.pages.rend(); ++it) {
      auto path = page_path(it->number);
      h += " <a href=\"" + path + "\">" + path + "</a>";
    }
    h += "</p>\n</footer>\n";
  }
  h += "</body>\n</html>\n";
  return h;
}

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

namespace {

// A peer's file as JSON: at most `max` bytes, valid JSON; else why not.
Result<json> parse_peer_json(std::string_view text, const char* name, std::size_t max,
                             const char* limit_says) {
  if (text.size() > max) {
    return make_error(std::string(name) + " is " + std::to_string(text.size() >> 10) +
                      " KiB, more than the " + std::to_string(max >> 10) + " KiB " + limit_says);
  }
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return make_error(std::string(name) + " is not valid JSON");
  return doc;
}

}  // namespace

Result<std::vector<Post>> parse_recent_posts(std::string_view feed_json) {
  auto parsed =
      parse_peer_json(feed_json, "feed.json", kMaxFeedJsonBytes, "a feed's newest posts take");
  if (!parsed) return parsed.error();
  json doc = std::move(*parsed);
  if (!doc.is_object() || !doc.contains("_hostless") || !doc["_hostless"].is_object()) {
    return make_error("feed.json has no \"_hostless\" object: not a hostless feed");
  }
  auto posts = items_from(doc, "feed.json");
  if (!posts) return posts.error();
  // A stranger's file: held to the rules `hostless post` writes by.
  for (auto& p : *posts) {
    const auto bad = [&](const std::string& what) {
      return make_error("feed.json: post " + p.id + ": " + what);
    };
    if (auto t = check_text(p.text); !t) return bad(t.error().message);
    if (!p.reply_to.empty()) {
      auto r = parse_reply_to(p.reply_to);
      if (!r || *r != p.reply_to) return bad("\"reply_to\" is not a hostless:// post or feed URL");
    }
    if (p.attachments.size() > kMaxAttachments) return bad("too many attachments");
    for (const auto& a : p.attachments) {
      const std::string name = a.url.rfind("media/", 0) == 0 ? a.url.substr(6) : "";
      if (name.empty() ||
          name != media_name(p.id, name.substr(std::min(name.size(), p.id.size() + 1)))) {
        return bad("an attachment is not a file in media/ named as `hostless post` names them");
      }
    }
    p.mentions = find_mentions(p.text);  // what the text says, not what the file claims
  }
  return posts;
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

std::string render_following(std::vector<Followed> list) {
  std::sort(list.begin(), list.end(),
            [](const Followed& a, const Followed& b) { return a.address < b.address; });
  list.erase(
      std::unique(list.begin(), list.end(),
                  [](const Followed& a, const Followed& b) { return a.address == b.address; }),
      list.end());
  std::string out = "[";
  for (std::size_t i = 0; i < list.size(); ++i) {
    json e = {{"address", list[i].address}, {"petname", list[i].petname}};
    out += (i ? ",\n " : "\n ") + e.dump();
  }
  return out + (list.empty() ? "]\n" : "\n]\n");
}

Status save_following(const fs::path& dir, const std::vector<Followed>& list) {
  const std::string text = render_following(list);
  const fs::path p = dir / "following.json";
  if (auto old = read_file(p); old && *old == text) return {};
  if (!write_file_atomic(p, text)) return make_error("cannot write " + p.string());
  return {};
}

Result<std::vector<Followed>> parse_following(std::string_view text) {
  auto parsed = parse_peer_json(text, "following.json", kMaxFollowingBytes, "read");
  if (!parsed) return parsed.error();
  const json doc = std::move(*parsed);
  if (!doc.is_array()) return make_error("following.json is not a JSON array");
  if (doc.size() > kMaxFollowing) {
    return make_error("following.json lists " + std::to_string(doc.size()) +
                      " feeds, more than the " + std::to_string(kMaxFollowing) + " read");
  }
  std::vector<Followed> out;
  for (const auto& e : doc) {
    if (!e.is_object() || !e.contains("address") || !e["address"].is_string()) continue;
    auto a = SiteAddress::parse(e["address"].get<std::string>());
    if (!a || a->str() != e["address"].get<std::string>()) continue;
    Followed f{a->str(), ""};
    if (e.contains("petname") && e["petname"].is_string()) {
      if (auto h = parse_handle(e["petname"].get<std::string>());
          h && *h == e["petname"].get<std::string>()) {
        f.petname = *h;
      }
    }
    out.push_back(std::move(f));
  }
  return out;
}

Result<std::vector<Listed>> parse_blocklist(std::string_view text) {
  auto parsed = parse_peer_json(text, "blocklist.json", kMaxBlocklistBytes, "read");
  if (!parsed) return parsed.error();
  const json doc = std::move(*parsed);
  if (!doc.is_object() || doc.value("hostless_blocklist", json()) != 1 ||
      !doc.contains("blocked") || !doc["blocked"].is_array()) {
    return make_error(
        "blocklist.json is not a hostless blocklist (an object with \"hostless_blocklist\": 1 "
        "and a \"blocked\" list)");
  }
  const json& blocked = doc["blocked"];
  if (blocked.size() > kMaxBlocklistEntries) {
    return make_error("blocklist.json lists " + std::to_string(blocked.size()) +
                      " sites, more than the " + std::to_string(kMaxBlocklistEntries) + " read");
  }
  std::vector<Listed> out;
  for (const auto& e : blocked) {
    if (!e.is_object() || !e.contains("address") || !e["address"].is_string()) continue;
    auto a = SiteAddress::parse(e["address"].get<std::string>());
    if (!a || a->str() != e["address"].get<std::string>()) continue;
    Listed l{a->str(), ""};
    if (e.contains("reason") && e["reason"].is_string()) {
      const std::string reason = e["reason"].get<std::string>();
      if (check_text(reason) && count_code_points(reason) <= kMaxReasonCodePoints) {
        l.reason = reason;
      }
    }
    out.push_back(std::move(l));
  }
  return out;
}

std::string render_blocklist(std::vector<Listed> list) {
  std::sort(list.begin(), list.end(),
            [](const Listed& a, const Listed& b) { return a.address < b.address; });
  std::string out = "{\"hostless_blocklist\": 1, \"blocked\": [";
  for (std::size_t i = 0; i < list.size(); ++i) {
    out += i ? ",\n  " : "\n  ";
    out += json{{"address", list[i].address}, {"reason", list[i].reason}}.dump();
  }
  out += list.empty() ? "]}\n" : "\n]}\n";
  return out;
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
