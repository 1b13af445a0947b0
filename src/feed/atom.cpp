// feed.xml: the newest posts as an Atom feed (RFC 4287), for feed readers.
#include <string>

#include "feed/detail.hpp"
#include "feed/feed.hpp"

namespace hostless::feed {
using detail::markup;

namespace {

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

}  // namespace

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

}  // namespace hostless::feed
