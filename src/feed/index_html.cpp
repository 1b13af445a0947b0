// index.html: the feed's page for a browser, its newest posts and links to
// the archive pages.
#include <string>

#include "feed/detail.hpp"
#include "feed/feed.hpp"

namespace hostless::feed {
using detail::markup;
using detail::page_path;

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

}  // namespace hostless::feed
