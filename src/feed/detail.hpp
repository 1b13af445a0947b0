// What the feed's files share inside feed/: not API.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "feed/post.hpp"
#include "util/encoding.hpp"
#include "util/result.hpp"

namespace hostless::feed::detail {

// Newest first: post ids sort by time.
inline bool newer(const Post& a, const Post& b) {
  return a.id > b.id;
}

// "archive/NNNN.json" (folder.cpp).
std::string page_path(int number);

// Text for HTML and XML content and attribute values, without the control
// characters XML 1.0 cannot hold at all (a profile is edited by hand).
inline std::string markup(std::string_view s) {
  return escape_markup(s, true);
}

// `ids` sorted, each once, at most kMaxDeleted: the newest (ids sort by time)
// (feed.cpp).
void keep_deleted(std::vector<std::string>& ids);

// The posts of a JSON Feed document's "items", newest first; `where` names
// the file in errors (json_feed.cpp).
Result<std::vector<Post>> items_from(const nlohmann::ordered_json& doc, const std::string& where);

// A peer's file as JSON: at most `max` bytes, valid JSON; else why not
// (lists.cpp).
Result<nlohmann::ordered_json> parse_peer_json(std::string_view text, const char* name,
                                               std::size_t max, const char* limit_says);

}  // namespace hostless::feed::detail
