#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gateway/http_rules.hpp"

using hostless::ByteRange;
using hostless::check_head;
using hostless::ErrorKind;
using hostless::etag_matches;
using hostless::fetch_origin;
using hostless::FetchOrigin;
using hostless::HeadCheck;
using hostless::HeadLimits;
using hostless::HeadResult;
using hostless::html_escape;
using hostless::http_status;
using hostless::kind_name;
using hostless::kMaxPathSegments;
using hostless::kMaxRequestPathBytes;
using hostless::mime_type;
using hostless::normalise_path;
using hostless::parse_kind;
using hostless::parse_range;
using hostless::RangeKind;

namespace {

std::string repeat(const std::string& text, std::size_t times) {
  std::string out;
  for (std::size_t i = 0; i < times; ++i) out += text;
  return out;
}

struct GoodPath {
  std::string target;
  std::string path;
  bool trailing_slash;
};

const std::vector<GoodPath>& good_paths() {
  static const std::vector<GoodPath> paths = {
      {"/", "", true},
      {"/?x=1", "", true},
      {"/#top", "", true},
      {"/index.html", "index.html", false},
      {"/a/b%20c.html?x=1#f", "a/b c.html", false},
      {"/a?b/../../..", "a", false},
      {"/a#../..", "a", false},
      {"/a%3Fb", "a?b", false},
      {"/a%23b", "a#b", false},
      {"/docs/", "docs", true},
      {"/docs", "docs", false},
      {"//a//b//", "a/b", true},
      {"/./a/./b", "a/b", false},
      {"/a/.", "a", true},
      {"/a/b/..", "a", true},
      {"/a/..", "", true},
      {"/a/../b/", "b", true},
      {"/a/%2e%2e/b", "b", false},
      {"/a/%2E%2E/b", "b", false},
      {"/a/.%2e/b", "b", false},
      {"/a%2fb", "a/b", false},
      {"/a%2F", "a", true},
      {"/...", "...", false},
      {"/..a/b..", "..a/b..", false},
      {"/caf%C3%A9.html", "caf\xC3\xA9.html", false},
      {"/caf\xC3\xA9.html", "caf\xC3\xA9.html", false},
      {"/%F0%9F%98%80.png", "\xF0\x9F\x98\x80.png", false},
      {"/a+b.html", "a+b.html", false},
      {"/a%2Bb", "a+b", false},
      {"/a;b=c,d", "a;b=c,d", false},
      {"/%25zz", "%zz", false},
      {"/%252e%252e/x", "%2e%2e/x", false},
      {"/" + std::string(kMaxRequestPathBytes - 1, 'a'), std::string(kMaxRequestPathBytes - 1, 'a'),
       false},
      {repeat("/a", kMaxPathSegments), repeat("/a", kMaxPathSegments).substr(1), false},
  };
  return paths;
}

struct BadPath {
  std::string target;
  std::string fragment;  // part of the error message that says what was wrong
};

const std::vector<BadPath>& bad_paths() {
  static const std::vector<BadPath> paths = {
      {"", "start with '/'"},
      {"a/b", "start with '/'"},
      {"*", "start with '/'"},
      {"?/a", "start with '/'"},
      {"http://example.com/a", "start with '/'"},
      {"/..", "above the site's root"},
      {"/../", "above the site's root"},
      {"/../etc/passwd", "above the site's root"},
      {"/a/../..", "above the site's root"},
      {"/a/b/../../../c", "above the site's root"},
      {"/%2e%2e/", "above the site's root"},
      {"/%2E%2E%2Fetc", "above the site's root"},
      {"/..%2f", "above the site's root"},
      {"/a/..%2f..%2fetc", "above the site's root"},
      {"/%00", "control character"},
      {"/a%00.html", "control character"},
      {std::string("/a\0b", 4), "control character"},
      {"/a%0d%0aSet-Cookie:x=1", "control character"},
      {"/a%1f", "control character"},
      {"/a%7f", "control character"},
      {"/a\tb", "control character"},
      {"/a%5c..%5cb", "backslash"},
      {"/a%5Cb", "backslash"},
      {"/a\\b", "backslash"},
      {"/..\\..\\win.ini", "backslash"},
      {"/%zz", "bad percent-escape"},
      {"/%4", "bad percent-escape"},
      {"/%", "bad percent-escape"},
      {"/a%4g", "bad percent-escape"},
      {"/%%41", "bad percent-escape"},
      {"/%c0%ae", "not valid UTF-8"},
      {"/%c0%ae%c0%ae/etc", "not valid UTF-8"},
      {"/%c1%bf", "not valid UTF-8"},
      {"/%e0%80%ae", "not valid UTF-8"},
      {"/%f0%80%80%ae", "not valid UTF-8"},
      {"/%ed%a0%80", "not valid UTF-8"},
      {"/%f4%90%80%80", "not valid UTF-8"},
      {"/%f5%80%80%80", "not valid UTF-8"},
      {"/%ff", "not valid UTF-8"},
      {"/%80", "not valid UTF-8"},
      {"/caf%C3", "not valid UTF-8"},
      {"/caf%E9.html", "not valid UTF-8"},
      {"/" + std::string(kMaxRequestPathBytes, 'a'), "longer than 4096 bytes"},
      {"/" + std::string(20 * 1024, 'a'), "longer than 4096 bytes"},
      {"/" + repeat("%61", kMaxRequestPathBytes), "longer than 4096 bytes"},
      {repeat("/a", kMaxPathSegments + 1), "more than 256 segments"},
      {repeat("/a", 300), "more than 256 segments"},
      {repeat("/.", 300), "more than 256 segments"},
  };
  return paths;
}

struct RangeCase {
  std::string header;
  std::uint64_t size;
  RangeKind kind;
  ByteRange range;  // checked only when kind is kSatisfiable
};

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

const std::vector<RangeCase>& range_cases() {
  static const std::vector<RangeCase> cases = {
      {"bytes=0-0", 10, RangeKind::kSatisfiable, {0, 0}},
      {"bytes=0-", 10, RangeKind::kSatisfiable, {0, 9}},
      {"bytes=2-5", 10, RangeKind::kSatisfiable, {2, 5}},
      {"bytes=5-100", 10, RangeKind::kSatisfiable, {5, 9}},
      {"bytes=9-9", 10, RangeKind::kSatisfiable, {9, 9}},
      {"bytes=9-", 10, RangeKind::kSatisfiable, {9, 9}},
      {"bytes=-1", 10, RangeKind::kSatisfiable, {9, 9}},
      {"bytes=-3", 10, RangeKind::kSatisfiable, {7, 9}},
      {"bytes=-10", 10, RangeKind::kSatisfiable, {0, 9}},
      {"bytes=-100", 10, RangeKind::kSatisfiable, {0, 9}},
      {"BYTES=0-1", 10, RangeKind::kSatisfiable, {0, 1}},
      {" bytes = 1 - 2 ", 10, RangeKind::kSatisfiable, {1, 2}},
      {"bytes=\t3-\t4", 10, RangeKind::kSatisfiable, {3, 4}},
      {"bytes= -2", 10, RangeKind::kSatisfiable, {8, 9}},
      {"bytes=10-", 10, RangeKind::kUnsatisfiable, {}},
      {"bytes=10-20", 10, RangeKind::kUnsatisfiable, {}},
      {"bytes=-0", 10, RangeKind::kUnsatisfiable, {}},
      // Size 0: every well-formed range is unsatisfiable, a malformed one ignored.
      {"bytes=0-0", 0, RangeKind::kUnsatisfiable, {}},
      {"bytes=0-", 0, RangeKind::kUnsatisfiable, {}},
      {"bytes=-1", 0, RangeKind::kUnsatisfiable, {}},
      {"bytes=-0", 0, RangeKind::kUnsatisfiable, {}},
      {"bytes=x", 0, RangeKind::kNone, {}},
      {"", 0, RangeKind::kNone, {}},
      // Size 1.
      {"bytes=0-0", 1, RangeKind::kSatisfiable, {0, 0}},
      {"bytes=0-", 1, RangeKind::kSatisfiable, {0, 0}},
      {"bytes=0-5", 1, RangeKind::kSatisfiable, {0, 0}},
      {"bytes=-1", 1, RangeKind::kSatisfiable, {0, 0}},
      {"bytes=-5", 1, RangeKind::kSatisfiable, {0, 0}},
      {"bytes=1-", 1, RangeKind::kUnsatisfiable, {}},
      {"bytes=1-1", 1, RangeKind::kUnsatisfiable, {}},
      // Ignored: the whole resource is served with 200.
      {"", 10, RangeKind::kNone, {}},
      {"bytes=5-2", 10, RangeKind::kNone, {}},
      {"bytes=1-2,4-5", 10, RangeKind::kNone, {}},
      {"bytes=1-2, 4-5", 10, RangeKind::kNone, {}},
      {"bytes=0-1,", 10, RangeKind::kNone, {}},
      {"items=0-1", 10, RangeKind::kNone, {}},
      {"bytes 0-1", 10, RangeKind::kNone, {}},
      {"bytes=", 10, RangeKind::kNone, {}},
      {"bytes=-", 10, RangeKind::kNone, {}},
      {"bytes=1", 10, RangeKind::kNone, {}},
      {"bytes=a-b", 10, RangeKind::kNone, {}},
      {"bytes=1-2-3", 10, RangeKind::kNone, {}},
      {"bytes=--1", 10, RangeKind::kNone, {}},
      {"bytes=+1-2", 10, RangeKind::kNone, {}},
      {"bytes=0x1-2", 10, RangeKind::kNone, {}},
      {"bytes=1 2-3", 10, RangeKind::kNone, {}},
      {"bytes==0-1", 10, RangeKind::kNone, {}},
      // Huge numbers: uint64 max is a number like any other, one more overflows.
      {"bytes=18446744073709551615-", 10, RangeKind::kUnsatisfiable, {}},
      {"bytes=0-18446744073709551615", 10, RangeKind::kSatisfiable, {0, 9}},
      {"bytes=-18446744073709551615", 10, RangeKind::kSatisfiable, {0, 9}},
      {"bytes=18446744073709551616-", 10, RangeKind::kNone, {}},
      {"bytes=0-18446744073709551616", 10, RangeKind::kNone, {}},
      {"bytes=-18446744073709551616", 10, RangeKind::kNone, {}},
      {"bytes=0-99999999999999999999999999", 10, RangeKind::kNone, {}},
      {"bytes=-1", kMax, RangeKind::kSatisfiable, {kMax - 1, kMax - 1}},
      {"bytes=0-", kMax, RangeKind::kSatisfiable, {0, kMax - 1}},
      {"bytes=1099511627776-",
       1099511627777,
       RangeKind::kSatisfiable,
       {1099511627776, 1099511627776}},
  };
  return cases;
}

struct MimeCase {
  std::string path;
  std::string type;
};

const std::vector<MimeCase>& mime_cases() {
  static const std::vector<MimeCase> cases = {
      {"index.html", "text/html; charset=utf-8"},
      {"a/b/INDEX.HTML", "text/html; charset=utf-8"},
      {"old.HtM", "text/html; charset=utf-8"},
      {"style.css", "text/css; charset=utf-8"},
      {"app.js", "text/javascript; charset=utf-8"},
      {"mod.mjs", "text/javascript; charset=utf-8"},
      {"notes.txt", "text/plain; charset=utf-8"},
      {"README.md", "text/markdown; charset=utf-8"},
      {"data.csv", "text/csv; charset=utf-8"},
      {"subs.vtt", "text/vtt; charset=utf-8"},
      {"data.json", "application/json"},
      {"app.js.map", "application/json"},
      {"site.webmanifest", "application/manifest+json"},
      {"feed.xml", "application/xml"},
      {"feed.rss", "application/rss+xml"},
      {"feed.atom", "application/atom+xml"},
      {"logo.svg", "image/svg+xml"},
      {"a.png", "image/png"},
      {"a.jpg", "image/jpeg"},
      {"a.JPG", "image/jpeg"},
      {"a.jpeg", "image/jpeg"},
      {"a.gif", "image/gif"},
      {"a.webp", "image/webp"},
      {"a.avif", "image/avif"},
      {"favicon.ico", "image/x-icon"},
      {"a.bmp", "image/bmp"},
      {"f.woff", "font/woff"},
      {"f.woff2", "font/woff2"},
      {"f.ttf", "font/ttf"},
      {"f.otf", "font/otf"},
      {"v.mp4", "video/mp4"},
      {"v.webm", "video/webm"},
      {"v.ogv", "video/ogg"},
      {"a.ogg", "audio/ogg"},
      {"a.mp3", "audio/mpeg"},
      {"a.m4a", "audio/mp4"},
      {"a.wav", "audio/wav"},
      {"a.flac", "audio/flac"},
      {"m.wasm", "application/wasm"},
      {"doc.pdf", "application/pdf"},
      {"x.zip", "application/zip"},
      {"x.tar.gz", "application/gzip"},
      {"x.tar", "application/x-tar"},
      {"README", "application/octet-stream"},
      {"dir.d/README", "application/octet-stream"},
      {"file.", "application/octet-stream"},
      {"", "application/octet-stream"},
      {"setup.exe", "application/octet-stream"},
      {"page.html.bak", "application/octet-stream"},
      {".htaccess", "application/octet-stream"},
  };
  return cases;
}

struct EtagCase {
  std::string if_none_match;
  bool matches;  // against "\"abc\""
};

const std::vector<EtagCase>& etag_cases() {
  static const std::vector<EtagCase> cases = {
      {"\"abc\"", true},
      {"W/\"abc\"", true},
      {"*", true},
      {" * ", true},
      {"\"xyz\", \"abc\"", true},
      {"\"xyz\",\"abc\"", true},
      {"\"xyz\" ,\t W/\"abc\"", true},
      {", \"abc\",", true},
      {"\"xyz\"", false},
      {"\"xyz\", W/\"xyz\"", false},
      {"", false},
      {"abc", false},
      {"\"abc", false},
      {"\"ab\"", false},
      {"\"abcd\"", false},
      {"\"ABC\"", false},
      // Malformed headers match nothing, even when a good tag is in them.
      {"w/\"abc\"", false},
      {"\"abc\" \"xyz\"", false},
      {"\"xyz\" \"abc\"", false},
      {"*, \"abc\"", false},
      {"\"xyz\", garbage, \"abc\"", false},
      {"\"a bc\", \"abc\"", false},
  };
  return cases;
}

}  // namespace

TEST_CASE("normalise_path decodes and resolves a good target", "[http_rules]") {
  const auto& input = GENERATE(from_range(good_paths()));
  CAPTURE(input.target);
  const auto result = normalise_path(input.target);
  INFO((result ? std::string() : result.error().message));
  REQUIRE(result);
  CHECK(result->path == input.path);
  CHECK(result->trailing_slash == input.trailing_slash);
}

TEST_CASE("normalise_path rejects a bad target with a reason", "[http_rules]") {
  const auto& input = GENERATE(from_range(bad_paths()));
  CAPTURE(input.target);
  const auto result = normalise_path(input.target);
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message, Catch::Contains(input.fragment));
}

TEST_CASE("normalise_path is idempotent on its own output", "[http_rules]") {
  const auto& input = GENERATE(from_range(good_paths()));
  CAPTURE(input.target);
  // '%', '?' and '#' in a decoded path would be read as escapes, query or fragment.
  if (input.path.find_first_of("%?#") != std::string::npos) return;
  const auto again =
      normalise_path("/" + input.path + (input.trailing_slash && !input.path.empty() ? "/" : ""));
  REQUIRE(again);
  CHECK(again->path == input.path);
  CHECK(again->trailing_slash == input.trailing_slash);
}

TEST_CASE("parse_range classifies a Range header", "[http_rules]") {
  const auto& input = GENERATE(from_range(range_cases()));
  CAPTURE(input.header, input.size);
  const auto request = parse_range(input.header, input.size);
  REQUIRE(static_cast<int>(request.kind) == static_cast<int>(input.kind));
  if (input.kind == RangeKind::kSatisfiable) {
    CHECK(request.range.first == input.range.first);
    CHECK(request.range.last == input.range.last);
    CHECK(request.range.first <= request.range.last);
    CHECK(request.range.last < input.size);
  }
}

TEST_CASE("mime_type picks the Content-Type by extension", "[http_rules]") {
  const auto& input = GENERATE(from_range(mime_cases()));
  CAPTURE(input.path);
  CHECK(mime_type(input.path) == input.type);
}

TEST_CASE("every text type carries charset=utf-8", "[http_rules]") {
  const auto& input = GENERATE(from_range(mime_cases()));
  const std::string type(mime_type(input.path));
  CAPTURE(input.path, type);
  CHECK((type.starts_with("text/") == type.ends_with("; charset=utf-8")));
}

TEST_CASE("etag_matches applies If-None-Match weak comparison", "[http_rules]") {
  const auto& input = GENERATE(from_range(etag_cases()));
  CAPTURE(input.if_none_match);
  CHECK(etag_matches(input.if_none_match, "\"abc\"") == input.matches);
}

TEST_CASE("html_escape replaces the five special characters", "[http_rules]") {
  using Case = std::pair<std::string, std::string>;
  const auto& [text, escaped] = GENERATE(values<Case>({
      {"", ""},
      {"plain text", "plain text"},
      {"caf\xC3\xA9", "caf\xC3\xA9"},
      {"a & b", "a &amp; b"},
      {"&amp;", "&amp;amp;"},
      {"<script>alert('x')</script>", "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"},
      {"\" onmouseover=\"x", "&quot; onmouseover=&quot;x"},
  }));
  CAPTURE(text);
  CHECK(html_escape(text) == escaped);
}

TEST_CASE("check_head finds a whole head and refuses oversized ones early", "[http_rules]") {
  HeadLimits limits;
  limits.request_line = 20;
  limits.field_line = 16;
  limits.fields = 2;
  limits.head = 60;
  struct Case {
    std::string received;
    HeadCheck check;
    std::size_t head_size = 0;
  };
  const auto& input = GENERATE(values<Case>({
      {"", HeadCheck::kIncomplete},
      {"GET / HTTP/1.1\r\n", HeadCheck::kIncomplete},
      {"GET / HTTP/1.1\r\nHost: a\r\n", HeadCheck::kIncomplete},
      {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", HeadCheck::kComplete, 27},
      {"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody", HeadCheck::kComplete, 27},
      {"GET / HTTP/1.1\nHost: a\n\nGET /", HeadCheck::kComplete, 24},
      {"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", HeadCheck::kComplete, 30},
      // The request line is judged before its end arrives.
      {"GET /aaaaaaaaaaaaaaaaaaaa", HeadCheck::kUriTooLong},
      {"GET /aaaaaaaaaaaaaa HTTP/1.1\r\n", HeadCheck::kUriTooLong},
      {"GET / HTTP/1.1\r\nX: 0123456789abcdef", HeadCheck::kFieldsTooLarge},
      {"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n", HeadCheck::kFieldsTooLarge},
      // Past the whole head's limit before the third field line ends.
      {"GET / HTTP/1.1\r\nA: 0123456789abc\r\nB: 0123456789abc\r\nC: 0123456789",
       HeadCheck::kFieldsTooLarge},
  }));
  CAPTURE(input.received);
  HeadResult r = check_head(input.received, limits);
  CHECK(r.check == input.check);
  CHECK(r.head_size == input.head_size);
}

TEST_CASE("check_request frames bodies by Content-Length alone, within a limit per Host",
          "[http_rules]") {
  using Kind = hostless::RequestCheck::Kind;
  // "api" takes bodies of up to 10 bytes, any other Host none.
  auto max_body = [](std::string_view host) { return host == "api" ? std::size_t{10} : 0; };
  struct Case {
    std::string received;
    Kind kind;
    int status = 0;
    std::size_t size = 0;
  };
  const auto& input = GENERATE(values<Case>({
      {"GET / HTTP/1.1\r\nHost: api\r\n", Kind::kIncomplete},
      {"GET / HTTP/1.1\r\nHost: site\r\n\r\n", Kind::kComplete, 0, 30},
      {"GET / HTTP/1.1\r\nHost: site\r\nContent-Length: 0\r\n\r\n", Kind::kComplete, 0, 49},
      {"POST / HTTP/1.1\r\nHost: api\r\nContent-Length: 2\r\n\r\n{", Kind::kIncomplete},
      {"POST / HTTP/1.1\r\nHost: api\r\nContent-Length: 2\r\n\r\n{}", Kind::kComplete, 0, 51},
      {"POST / HTTP/1.1\r\nHost: api\r\ncontent-length:  2 \r\n\r\n{}GET", Kind::kComplete, 0, 53},
      {"POST / HTTP/1.1\r\nHost: api\r\nContent-Length: 11\r\n\r\n", Kind::kRefused, 413},
      {"GET / HTTP/1.1\r\nHost: site\r\nContent-Length: 1\r\n\r\nx", Kind::kRefused, 413},
      {"POST / HTTP/1.1\r\nHost: api\r\n\r\n", Kind::kRefused, 411},
      {"POST / HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: chunked\r\n\r\n", Kind::kRefused, 411},
      {"GET / HTTP/1.1\r\nHost: api\r\ntransfer-encoding: identity\r\n\r\n", Kind::kRefused, 411},
      {"POST / HTTP/1.1\r\nHost: api\r\nContent-Length: -1\r\n\r\n", Kind::kRefused, 400},
      {"POST / HTTP/1.1\r\nHost: api\r\nContent-Length: 99999999999999999999999\r\n\r\n",
       Kind::kRefused, 400},
      {"POST / HTTP/1.1\r\nHost: api\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
       Kind::kRefused, 400},
      {"GET /" + std::string(9000, 'a'), Kind::kRefused, 414},
  }));
  CAPTURE(input.received);
  auto r = hostless::check_request(input.received, HeadLimits{}, max_body);
  CHECK(r.kind == input.kind);
  CHECK(r.status == input.status);
  CHECK(r.size == input.size);
}

TEST_CASE("check_request asks for 100 Continue only while the body is missing", "[http_rules]") {
  auto max_body = [](std::string_view) { return std::size_t{10}; };
  std::string head = "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
  CHECK(hostless::check_request(head, HeadLimits{}, max_body).expect_continue);
  CHECK_FALSE(hostless::check_request(head + "{}", HeadLimits{}, max_body).expect_continue);
}

TEST_CASE("fetch_origin tells the user's requests from another site's", "[http_rules]") {
  struct Case {
    const char* site;
    const char* mode;
    const char* dest;
    const char* user;
    FetchOrigin origin;
  };
  const auto& c = GENERATE(values<Case>({
      {"", "", "", "", FetchOrigin::kOwn},  // curl, or a browser without Fetch Metadata
      {"none", "navigate", "document", "?1", FetchOrigin::kOwn},  // typed or bookmarked
      {"same-origin", "no-cors", "image", "", FetchOrigin::kOwn},
      {"same-origin", "navigate", "iframe", "", FetchOrigin::kOwn},
      {"cross-site", "navigate", "document", "?1", FetchOrigin::kNavigation},
      {"same-site", "navigate", "document", "?1", FetchOrigin::kNavigation},
      {"cross-site", "navigate", "document", "", FetchOrigin::kNavigation},  // a redirect
      {"cross-site", "navigate", "iframe", "?1", FetchOrigin::kEmbedded},
      {"cross-site", "no-cors", "image", "", FetchOrigin::kEmbedded},
      {"same-site", "no-cors", "script", "", FetchOrigin::kEmbedded},
      {"cross-site", "cors", "empty", "", FetchOrigin::kEmbedded},
  }));
  CAPTURE(c.site, c.mode, c.dest, c.user);
  CHECK(fetch_origin(c.site, c.mode, c.dest, c.user) == c.origin);
}

TEST_CASE("parse_timeout_ms takes 0 to 2 minutes of milliseconds, nothing else", "[http_rules]") {
  const struct {
    const char* value;
    std::int64_t want;  // -1: refused
  } cases[] = {
      {"0", 0},
      {"5", 5},
      {"30000", 30000},
      {"120000", 120000},
      {"0120000", 120000},
      {"120001", -1},
      {"999999999", -1},
      {"9223372036854775808", -1},
      {"-1", -1},
      {"+5", -1},
      {" 5", -1},
      {"5 ", -1},
      {"5abc", -1},
      {"", -1},
      {"1e3", -1},
      {"0x10", -1},
  };
  for (const auto& c : cases) {
    CAPTURE(c.value);
    const auto got = hostless::parse_timeout_ms(c.value);
    if (c.want < 0) {
      REQUIRE_FALSE(got.ok());
      CHECK_THAT(got.error().message, Catch::Contains("from 0 to 120000"));
    } else {
      REQUIRE(got.ok());
      CHECK(*got == c.want);
    }
  }
}

TEST_CASE("http_status: one status per kind of failure, the route's own when unclassified",
          "[http_rules]") {
  CHECK(http_status(ErrorKind::kInvalid, 500) == 400);
  CHECK(http_status(ErrorKind::kNotFound, 500) == 404);
  CHECK(http_status(ErrorKind::kRefused, 500) == 403);
  CHECK(http_status(ErrorKind::kUnavailable, 500) == 504);
  CHECK(http_status(ErrorKind::kShuttingDown, 500) == 503);
  CHECK(http_status(ErrorKind::kIo, 400) == 500);
  CHECK(http_status(ErrorKind::kOther, 418) == 418);
  // Kinds travel through the API by name.
  for (auto kind : {ErrorKind::kInvalid, ErrorKind::kNotFound, ErrorKind::kRefused,
                    ErrorKind::kUnavailable, ErrorKind::kShuttingDown, ErrorKind::kIo}) {
    CHECK(parse_kind(kind_name(kind)) == kind);
  }
  CHECK(std::string(kind_name(ErrorKind::kOther)).empty());
  CHECK(parse_kind("no such kind") == ErrorKind::kOther);
}
