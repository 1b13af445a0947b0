#include "gateway/http_rules.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "util/encoding.hpp"

namespace hostless {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) { return to_lower(x) == to_lower(y); });
}

// RFC 9110 OWS: spaces and tabs only.
std::string_view trim_ows(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

Result<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    const int high = i + 1 < s.size() ? hex_value(s[i + 1]) : -1;
    const int low = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
    if (high < 0 || low < 0) {
      return make_error("bad percent-escape " + quote_for_message(s.substr(i, 3), 3, false));
    }
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

// Decimal digits only (no sign, no spaces); nullopt if empty or over uint64.
std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

// Appends the opaque-tags of an If-None-Match list (quotes kept, W/ dropped:
// weak comparison ignores it); false if the list is malformed.
bool parse_etag_list(std::string_view s, std::vector<std::string_view>& tags) {
  std::size_t i = 0;
  const auto skip_ows = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  };
  while (true) {
    // RFC 9110 §5.6.1: recipients accept empty list elements.
    while (skip_ows(), i < s.size() && s[i] == ',') ++i;
    if (i == s.size()) return true;
    if (s.substr(i, 2) == "W/") i += 2;
    if (i == s.size() || s[i] != '"') return false;
    const auto close = s.find('"', i + 1);
    if (close == std::string_view::npos) return false;
    const auto tag = s.substr(i, close + 1 - i);
    // etagc excludes spaces and control bytes.
    if (std::ranges::any_of(tag, [](char c) {
          const auto b = static_cast<unsigned char>(c);
          return b <= 0x20 || b == 0x7f;
        })) {
      return false;
    }
    tags.push_back(tag);
    i = close + 1;
    skip_ows();
    if (i < s.size() && s[i] != ',') return false;
  }
}

constexpr std::string_view kOctetStream = "application/octet-stream";

constexpr std::pair<std::string_view, std::string_view> kMimeTypes[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"txt", "text/plain; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"vtt", "text/vtt; charset=utf-8"},
    // JSON and XML types define no charset parameter: JSON is UTF-8 by
    // definition and XML declares its own encoding.
    {"json", "application/json"},
    {"map", "application/json"},
    {"webmanifest", "application/manifest+json"},
    {"xml", "application/xml"},
    {"rss", "application/rss+xml"},
    {"atom", "application/atom+xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/x-icon"},
    {"bmp", "image/bmp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"ogv", "video/ogg"},
    {"ogg", "audio/ogg"},
    {"mp3", "audio/mpeg"},
    {"m4a", "audio/mp4"},
    {"wav", "audio/wav"},
    {"flac", "audio/flac"},
    // Browsers compile wasm by streaming only when served with this type.
    {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    // A .gz file is served as itself, not with Content-Encoding: gzip.
    {"gz", "application/gzip"},
    {"tar", "application/x-tar"},
    {"xhtml", "application/xhtml+xml"},
    {"jsonld", "application/ld+json"},
};

}  // namespace

Result<SitePath> normalise_path(std::string_view target) {
  target = target.substr(0, target.find_first_of("?#"));
  if (target.empty() || target.front() != '/') return make_error("the path must start with '/'");

  auto decoded = percent_decode(target);
  if (!decoded) return decoded.error();
  const std::string& raw = *decoded;
  if (std::ranges::any_of(raw, [](char c) {
        const auto b = static_cast<unsigned char>(c);
        return b < 0x20 || b == 0x7f;
      })) {
    return make_error("the path contains a control character");
  }
  if (raw.find('\\') != std::string::npos) return make_error("the path contains a backslash");
  if (!valid_utf8(raw)) return make_error("the path is not valid UTF-8");
  if (raw.size() > kMaxRequestPathBytes) {
    return make_error("the path is longer than " + std::to_string(kMaxRequestPathBytes) + " bytes");
  }

  std::vector<std::string_view> segments;
  std::size_t seen = 0;
  std::string_view last;
  std::string_view rest(raw);
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    const auto segment = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (segment.empty()) continue;
    // Counted before "." and ".." are resolved, so "/./././..." is bounded too.
    if (++seen > kMaxPathSegments) {
      return make_error("the path has more than " + std::to_string(kMaxPathSegments) + " segments");
    }
    last = segment;
    if (segment == ".") continue;
    if (segment == "..") {
      // Rejected, not clamped: a request that tries to climb out is broken or
      // hostile, and serving some other file would hide that.
      if (segments.empty()) return make_error("the path goes above the site's root");
      segments.pop_back();
      continue;
    }
    segments.push_back(segment);
  }

  SitePath result;
  for (const auto segment : segments) {
    if (!result.path.empty()) result.path.push_back('/');
    result.path.append(segment);
  }
  result.trailing_slash = raw.back() == '/' || last == "." || last == ".." || result.path.empty();
  return result;
}

RangeRequest parse_range(std::string_view header, std::uint64_t size) {
  const RangeRequest none;
  const auto equals = header.find('=');
  if (equals == std::string_view::npos) return none;
  if (!iequals(trim_ows(header.substr(0, equals)), "bytes")) return none;
  const auto spec = trim_ows(header.substr(equals + 1));
  if (spec.find(',') != std::string_view::npos) return none;
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return none;
  const auto first_text = trim_ows(spec.substr(0, dash));
  const auto last_text = trim_ows(spec.substr(dash + 1));

  const RangeRequest unsatisfiable{RangeKind::kUnsatisfiable, {}};
  if (first_text.empty()) {
    const auto suffix = parse_u64(last_text);
    if (!suffix) return none;
    if (*suffix == 0 || size == 0) return unsatisfiable;
    return {RangeKind::kSatisfiable, {size - std::min(*suffix, size), size - 1}};
  }
  const auto first = parse_u64(first_text);
  if (!first) return none;
  std::uint64_t last = std::numeric_limits<std::uint64_t>::max();
  if (!last_text.empty()) {
    const auto parsed = parse_u64(last_text);
    if (!parsed || *parsed < *first) return none;
    last = *parsed;
  }
  if (*first >= size) return unsatisfiable;
  return {RangeKind::kSatisfiable, {*first, std::min(last, size - 1)}};
}

std::string_view mime_type(std::string_view path) {
  const auto name = path.substr(path.find_last_of('/') + 1);
  const auto dot = name.find_last_of('.');
  if (dot == std::string_view::npos) return kOctetStream;
  const auto extension = name.substr(dot + 1);
  for (const auto& [known, type] : kMimeTypes) {
    if (iequals(extension, known)) return type;
  }
  return kOctetStream;
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  const auto value = trim_ows(if_none_match);
  if (value == "*") return true;
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  std::vector<std::string_view> tags;
  if (!parse_etag_list(value, tags)) return false;
  return std::ranges::find(tags, etag) != tags.end();
}

std::string html_escape(std::string_view text) {
  return escape_markup(text);
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), to_lower);
  return out;
}

FetchOrigin fetch_origin(std::string_view site, std::string_view mode, std::string_view dest,
                         std::string_view /*user*/) {
  if (site.empty() || site == "none" || site == "same-origin") return FetchOrigin::kOwn;
  if (mode == "navigate" && dest == "document") return FetchOrigin::kNavigation;
  return FetchOrigin::kEmbedded;
}

HeadResult check_head(std::string_view received, const HeadLimits& limits) {
  std::size_t pos = 0;
  std::size_t fields = 0;
  for (bool first = true;; first = false) {
    std::size_t end = received.find('\n', pos);
    std::size_t line = (end == std::string_view::npos ? received.size() : end) - pos;
    if (end != std::string_view::npos && line > 0 && received[end - 1] == '\r') --line;
    if (first && line > limits.request_line) return {HeadCheck::kUriTooLong, 0};
    if (!first && line > limits.field_line) return {HeadCheck::kFieldsTooLarge, 0};
    std::size_t consumed = end == std::string_view::npos ? received.size() : end + 1;
    if (consumed > limits.head) {
      return {first ? HeadCheck::kUriTooLong : HeadCheck::kFieldsTooLarge, 0};
    }
    if (end == std::string_view::npos) return {HeadCheck::kIncomplete, 0};
    if (!first && line == 0) return {HeadCheck::kComplete, consumed};
    if (!first && ++fields > limits.fields) return {HeadCheck::kFieldsTooLarge, 0};
    pos = consumed;
  }
}

RequestCheck check_request(std::string_view received, const HeadLimits& limits,
                           const std::function<std::size_t(std::string_view host)>& max_body) {
  using Kind = RequestCheck::Kind;
  const HeadResult head = check_head(received, limits);
  switch (head.check) {
    case HeadCheck::kIncomplete:
      return {};
    case HeadCheck::kUriTooLong:
      return {Kind::kRefused, 0, 414, "the request target is too long"};
    case HeadCheck::kFieldsTooLarge:
      return {Kind::kRefused, 0, 431, "the request header fields are too large or too many"};
    case HeadCheck::kComplete:
      break;
  }
  std::string_view lines = received.substr(0, head.head_size);
  std::size_t eol = lines.find('\n');
  std::string_view request_line = lines.substr(0, eol);
  std::string_view method = request_line.substr(0, request_line.find(' '));
  std::string_view host;
  std::optional<std::string_view> length_text;
  bool chunked = false;
  bool expect = false;
  for (std::size_t pos = eol + 1; pos < lines.size();) {
    std::size_t end = lines.find('\n', pos);
    std::string_view line = lines.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = trim_ows(line.substr(0, colon));
    std::string_view value = trim_ows(line.substr(colon + 1));
    if (iequals(name, "Transfer-Encoding")) {
      chunked = true;
    } else if (iequals(name, "Content-Length")) {
      if (length_text && *length_text != value) {
        return {Kind::kRefused, 0, 400, "the request has two different Content-Length fields"};
      }
      length_text = value;
    } else if (iequals(name, "Host")) {
      host = value;
    } else if (iequals(name, "Expect")) {
      expect = iequals(value, "100-continue");
    }
  }
  if (chunked) {
    return {Kind::kRefused, 0, 411,
            "request bodies need a Content-Length; Transfer-Encoding is not accepted"};
  }
  std::uint64_t length = 0;
  if (length_text) {
    auto parsed = parse_u64(*length_text);
    if (!parsed) return {Kind::kRefused, 0, 400, "the Content-Length is not a number"};
    length = *parsed;
  } else if (method == "POST" || method == "PUT" || method == "PATCH") {
    return {Kind::kRefused, 0, 411, "a request with a body needs a Content-Length"};
  }
  const std::size_t limit = max_body(host);
  if (length > limit) {
    return {Kind::kRefused, 0, 413,
            limit == 0 ? std::string("this host takes no request body")
                       : "the request body is larger than " + std::to_string(limit) + " bytes"};
  }
  const std::size_t size = head.head_size + static_cast<std::size_t>(length);
  if (received.size() >= size) return {Kind::kComplete, size, 0, ""};
  RequestCheck waiting;
  waiting.expect_continue = expect;
  return waiting;
}

Result<std::int64_t> parse_timeout_ms(std::string_view value) {
  auto refuse = [&] {
    return make_error("timeout_ms must be a whole number of milliseconds from 0 to " +
                      std::to_string(kMaxResolveTimeoutMs) + " (2 minutes)");
  };
  // Seven digits already exceed the limit; more is refused before it can overflow.
  if (value.empty() || value.size() > 7) return refuse();
  std::int64_t ms = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return refuse();
    ms = ms * 10 + (c - '0');
  }
  if (ms > kMaxResolveTimeoutMs) return refuse();
  return ms;
}

}  // namespace hostless
