// One microblog post and the rules for its parts: ids sortable by time, the
// text limit, mentions, reply targets, attachment names (docs/microblog.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace hostless::feed {

// Text limit in Unicode code points (not bytes, not graphemes).
constexpr std::size_t kMaxTextCodePoints = 1000;
// Attachments a post may carry.
constexpr std::size_t kMaxAttachments = 4;

struct Attachment {
  std::string url;        // relative to the feed's root: "media/<name>"
  std::string mime_type;  // from the file name's extension
  std::uint64_t size = 0;

  bool operator==(const Attachment&) const = default;
};

struct Post {
  std::string id;                     // make_post_id: sorts as the posts' times
  std::int64_t published = 0;         // Unix seconds, UTC
  std::string text;                   // plain text, checked by check_text
  std::string reply_to;               // "" or a canonical reply target (parse_reply_to)
  std::vector<std::string> mentions;  // canonical addresses found in the text
  std::vector<Attachment> attachments;

  bool operator==(const Post&) const = default;
};

// A post id: 13 characters that are the microseconds since the Unix epoch as
// a 64-bit number in base32 (alphabet "0123456789abcdefghjkmnpqrstvwxyz",
// most significant digit first, zero-padded), then 4 characters of the same
// alphabet for the low 20 bits of `random`. 17 characters; ids of different
// times compare as strings in time order.
std::string make_post_id(std::uint64_t time_us, std::uint32_t random);
// The microseconds since the epoch in a post id; nullopt when `id` is not 17
// characters of the alphabet.
std::optional<std::uint64_t> post_id_time(std::string_view id);

// Checks a post's text: well-formed UTF-8, not blank, at most
// kMaxTextCodePoints code points, no control characters but tab and newline.
Status check_text(std::string_view text);
// Number of code points of well-formed UTF-8.
std::size_t count_code_points(std::string_view utf8);

// The site addresses written in `text` (bare, hostless://, <addr>.localhost
// URLs: any run of 52 letters and digits that is an address), canonical,
// first appearance first, each once.
std::vector<std::string> find_mentions(std::string_view text);

// A reply target as given on the command line: any site address form (the
// feed itself), or a URL naming one post, "hostless://<addr>/feed.json#<id>".
// Returns "hostless://<canonical addr><path>[#<id>]".
Result<std::string> parse_reply_to(std::string_view text);

// A name for an attached file inside media/: "<post id>-<name>", where name
// keeps ASCII letters, digits, '.', '-', '_' of the file's own name (others
// become '_', at most 64 characters, no leading dot).
std::string media_name(std::string_view post_id, std::string_view file_name);
// The media type for a file name's extension (a short list; else
// application/octet-stream).
std::string mime_type_for(std::string_view file_name);

// "2026-12-04T06:52:07Z" (RFC 3339, UTC, whole seconds).
std::string format_rfc3339(std::int64_t unix_seconds);
// Reads format_rfc3339's form back; also accepts fractional seconds and a
// numeric offset (RFC 3339). nullopt otherwise.
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

}  // namespace hostless::feed
