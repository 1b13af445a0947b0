// The HTTP rules the gateway applies to untrusted requests: path normalisation,
// Range, Content-Type, If-None-Match and HTML escaping. Pure functions with no
// HTTP-library dependency, so every rule is unit-tested on its own; safe to call
// from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "gateway/errors.hpp"  // http_status, which these rules' tests check too
#include "util/result.hpp"

namespace hostless {

// A request target's path, percent-decoded and normalised, for lookup in a
// site's file list (never joined onto a filesystem path).
struct SitePath {
  std::string path;             // "" for the root, else "a/b c.html": no leading or trailing slash
  bool trailing_slash = false;  // the target ended with "/" (or is the root)
};

// Limits on a decoded path; beyond them normalise_path fails rather than spend
// work on a request no site file can match.
inline constexpr std::size_t kMaxRequestPathBytes = 4096;
inline constexpr std::size_t kMaxPathSegments = 256;

// target: the raw request target as sent, e.g. "/a/b%20c.html?x=1#f" (query and
// fragment dropped). Decodes %XX once ('+' stays '+': no form decoding), then
// splits on '/', drops empty and "." segments, and ".." pops a segment. As in
// RFC 3986, a target whose last segment is "." or ".." names a directory, so
// trailing_slash is set. Fails, with a short reason the server sends as a 400:
// a target not starting with '/'; a bad escape ("%zz", "%4"); after decoding,
// a control byte (< 0x20 or 0x7f, NUL included), a backslash, or invalid UTF-8
// (overlong forms and surrogates included); more than kMaxRequestPathBytes decoded
// bytes or more than kMaxPathSegments non-empty segments; a ".." above the root.
// Decoding before splitting makes "%2e%2e" and "%2f" act as ".." and '/'.
Result<SitePath> normalise_path(std::string_view target);

// One "Range" header against a resource of `size` bytes (RFC 9110 §14).
struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};
enum class RangeKind { kNone, kSatisfiable, kUnsatisfiable };
struct RangeRequest {
  RangeKind kind = RangeKind::kNone;
  ByteRange range;  // meaningful only when kind == kSatisfiable
};

// kNone (serve the whole 200 response): an empty header, a unit other than
// "bytes" (case-insensitive), a syntax error, first > last, a number that
// overflows uint64, or several ranges (RFC 9110 lets us answer those whole).
// Forms: "bytes=a-b" (b clamped to size-1), "bytes=a-", "bytes=-n" (the last n
// bytes; n > size means the whole resource); spaces and tabs around '=', '-'
// and the value are tolerated. kUnsatisfiable (416): a >= size, n == 0, or
// size == 0 with any well-formed range.
RangeRequest parse_range(std::string_view header, std::uint64_t size);

// The Content-Type for a file name by its extension, case-insensitive; text/*
// types carry "; charset=utf-8". Unknown or no extension:
// "application/octet-stream" (served with nosniff, so never run as script).
std::string_view mime_type(std::string_view path);

// True if an If-None-Match header value matches `etag` (a quoted tag such as
// "\"abc\""): "*", or any tag of the comma-separated list under weak comparison
// (RFC 9110 §13.1.2: W/"abc" matches "abc"). A malformed header matches
// nothing, so the client gets the full response rather than a wrong 304.
bool etag_matches(std::string_view if_none_match, std::string_view etag);

// `text` with & < > " ' replaced by character references, safe in HTML text
// and in quoted attribute values.
std::string html_escape(std::string_view text);

// `text` with A-Z lowered: Host, Origin and media type values compare
// case-insensitively.
std::string ascii_lower(std::string_view text);

// Who asked a browser for a resource, from its Fetch Metadata headers
// (Sec-Fetch-Site, -Mode, -Dest, -User; https://w3c.github.io/webappsec-fetch-metadata/).
// Every <address>.localhost is a site of its own to a browser (checked in
// Chromium: a.localhost -> b.localhost is "cross-site", and so is
// localhost -> a.localhost), so these headers cannot tell another hostless
// site from any website.
enum class FetchOrigin {
  kOwn,         // no such headers (curl, an old browser), typed or bookmarked
                // ("none"), or the site's own page ("same-origin")
  kNavigation,  // another site's page opens it as the top-level page (a click,
                // a script or a redirect: Sec-Fetch-User can be had with one
                // click on the other page, so it proves nothing)
  kEmbedded,    // another site's page loads it: image, script, frame, fetch
};
FetchOrigin fetch_origin(std::string_view site, std::string_view mode, std::string_view dest,
                         std::string_view user);

// Limits on a request head (request line and header fields), enforced before
// cpp-httplib parses it, so a client can neither make the gateway buffer an
// unbounded head nor get a 400 where RFC 9110/6585 name the problem.
struct HeadLimits {
  std::size_t request_line = 8192;  // longer: 414 URI Too Long
  std::size_t field_line = 8192;    // one header field longer: 431
  std::size_t fields = 100;         // more header fields: 431
  std::size_t head = 32768;         // request line + fields + blank line longer: 431
};

enum class HeadCheck {
  kIncomplete,      // no blank line yet, and within every limit
  kComplete,        // a whole head within the limits; see head_size
  kUriTooLong,      // 414
  kFieldsTooLarge,  // 431
};

struct HeadResult {
  HeadCheck check = HeadCheck::kIncomplete;
  std::size_t head_size = 0;  // for kComplete: bytes up to and including the blank line
};

// Checks the bytes received so far on a connection for one request head.
// Lines end in "\n" with an optional "\r" before it, as cpp-httplib reads
// them. A request line or field line still without its "\n" already counts
// against its limit, so a head is refused as soon as it can only be too big.
HeadResult check_head(std::string_view received, const HeadLimits& limits);

// A whole request as the gateway reads it before a worker serves it: the head
// (check_head), then a body framed by Content-Length alone (RFC 9112 §6).
struct RequestCheck {
  enum class Kind { kIncomplete, kComplete, kRefused } kind = Kind::kIncomplete;
  std::size_t size = 0;  // kComplete: head and body bytes
  int status = 0;        // kRefused: 400, 411, 413, 414 or 431
  std::string reason;    // kRefused: for the client
  // The head is complete, its body is not, and the client waits for a
  // "100 Continue" before sending it.
  bool expect_continue = false;
};

// `max_body(host)` is the largest body accepted for a request whose Host
// field is `host` (0: none). Refused: any Transfer-Encoding (411: chunked
// bodies are not read at all, so their size cannot be bounded before they
// arrive); a POST, PUT or PATCH without Content-Length (411); a Content-Length
// that is not decimal digits or that repeats with another value (400); a body
// over max_body(host) (413); and the head limits (414, 431).
RequestCheck check_request(std::string_view received, const HeadLimits& limits,
                           const std::function<std::size_t(std::string_view host)>& max_body);

// The longest a control API call may ask a name lookup to wait
// (`GET /api/v1/resolve?timeout_ms=`): each waiting call holds a worker.
inline constexpr std::int64_t kMaxResolveTimeoutMs = 120000;

// A `timeout_ms` query value: decimal digits only, from 0 to
// kMaxResolveTimeoutMs. Fails (the server sends a 400) on anything else,
// negative numbers, signs, spaces and trailing text included, with a reason
// that gives the range.
Result<std::int64_t> parse_timeout_ms(std::string_view value);

}  // namespace hostless
