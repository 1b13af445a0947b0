// feed.json and the archive pages: JSON Feed 1.1 (https://jsonfeed.org/) with
// a "_hostless" extension, written and read.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "feed/detail.hpp"
#include "feed/feed.hpp"

namespace hostless::feed {
using json = nlohmann::ordered_json;
using detail::items_from;
using detail::newer;
using detail::parse_peer_json;

namespace {

constexpr const char* kJsonFeedVersion = "https://jsonfeed.org/version/1.1";
constexpr int kFormatVersion = 1;

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

}  // namespace

namespace detail {

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

}  // namespace detail

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

}  // namespace hostless::feed
