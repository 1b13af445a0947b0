// Gateway request handling, in process: route_host on the Host header, then
// serve_site with a fake SiteService (fake_site.hpp), as the gateway's
// pre-routing handler does for <address>.localhost, with no sockets.
//
// The input is a request in a loose text form, one item a line:
//   <METHOD> <TARGET>
//   <Name>: <value>            (Host, Range, If-None-Match, If-Range, Accept, ...)
// Any bytes but '\n' may appear in the target and the values.
//
// Properties: Host routing only yields the three control hosts or a canonical
// address; every site response has a known status and nosniff; a redirect
// stays on this origin; 206/416 carry a Content-Range inside the file and the
// body is exactly those bytes of it; HTML error pages escape what they echo;
// the store is only asked for reads inside the files of the version served;
// a redirect's Location carries no raw control or non-ASCII byte.
#include <httplib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fake_site.hpp"
#include "fuzz_check.hpp"
#include "gateway/http_rules.hpp"
#include "gateway/server.hpp"
#include "gateway/site_serving.hpp"
#include "protocol/address.hpp"

using namespace hostless;
using hostless::fuzz::printable;

namespace {

httplib::Request parse_input(std::string_view text) {
  httplib::Request req;
  const auto first_end = std::min(text.find('\n'), text.size());
  const std::string_view first = text.substr(0, first_end);
  const auto space = first.find(' ');
  req.method = std::string(first.substr(0, space));
  if (space != std::string_view::npos) req.target = std::string(first.substr(space + 1));
  req.path = req.target.substr(0, req.target.find('?'));
  text.remove_prefix(std::min(first_end + 1, text.size()));
  while (!text.empty()) {
    const auto end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    const auto colon = line.find(':');
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    req.headers.emplace(std::string(line.substr(0, colon)), std::string(value));
  }
  return req;
}

// Printable ASCII without spaces: what a URL in a header may carry.
bool visible_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b > 0x20 && b < 0x7f;
  });
}

std::string ascii_lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

void check_route(const std::string& host, const HostRoute& route) {
  if (route.kind == HostKind::kSite) {
    FUZZ_CHECK(route.address.size() == SiteAddress::kLength,
               "site route " + printable(route.address) + " for Host " + printable(host));
    auto parsed = SiteAddress::parse(route.address);
    FUZZ_CHECK(parsed.ok() && parsed->str() == route.address,
               "non-canonical site route " + printable(route.address));
    const std::string lower = ascii_lower(host);
    FUZZ_CHECK(lower.starts_with(route.address + ".localhost"),
               "Host " + printable(host) + " routed to " + route.address);
  }
  if (route.kind == HostKind::kControl) {
    FUZZ_CHECK(route.address.empty(), "control route with an address");
    const std::string lower = ascii_lower(host);
    FUZZ_CHECK(lower.starts_with("localhost") || lower.starts_with("127.0.0.1") ||
                   lower.starts_with("[::1]"),
               "Host " + printable(host) + " routed to the control API");
  }
}

// The same rules the gateway applies to request headers, checked directly.
void check_rules(const httplib::Request& req) {
  const std::string inm = req.get_header_value("If-None-Match");
  FUZZ_CHECK(etag_matches(inm, "\"v\"") == etag_matches(inm, "W/\"v\""),
             "weak and strong forms of one tag compare differently for " + printable(inm));
  FUZZ_CHECK(etag_matches(" * ", "\"v\""), "'*' does not match");
  const std::string escaped = html_escape(req.target);
  FUZZ_CHECK(escaped.find_first_of("<>\"'") == std::string::npos,
             "html_escape left markup in " + printable(escaped));
  FUZZ_CHECK(!mime_type(req.target).empty(), "no Content-Type for " + printable(req.target));
}

// An HTML page the gateway wrote itself: every '<' opens one of its own tags
// (what it echoes is escaped), and a link's target is a quoted attribute with
// no markup in it.
void check_own_page(const httplib::Response& res) {
  static const std::string_view kOwnTags[] = {"<!doctype html>",
                                              "<meta charset=utf-8>",
                                              "<meta http-equiv=refresh content=1>",
                                              "<meta name=viewport content='width=device-width'>",
                                              "<title>",
                                              "</title>",
                                              "<h1>",
                                              "</h1>",
                                              "<p>",
                                              "</p>",
                                              "<p id=stage>",
                                              "<code>",
                                              "</code>",
                                              "<progress></progress>",
                                              "</progress>",
                                              "<small>",
                                              "</small>",
                                              "<style>",
                                              "</style>",
                                              "</a>"};
  const std::string_view body = res.body;
  for (auto at = body.find('<'); at != std::string_view::npos; at = body.find('<', at + 1)) {
    const std::string_view rest = body.substr(at);
    if (std::any_of(std::begin(kOwnTags), std::end(kOwnTags),
                    [&](std::string_view tag) { return rest.starts_with(tag); })) {
      continue;
    }
    if (rest.starts_with("<a href=\"")) {
      const auto close = rest.find("\">");
      const std::string_view href = rest.substr(9, close - 9);
      FUZZ_CHECK(close != std::string_view::npos && href.find_first_of("<>\"") == href.npos,
                 "a link with injected markup in " + printable(res.body));
      continue;
    }
    if (rest.starts_with("<progress max=100 value=")) {
      const auto close = rest.find("></progress>");
      const std::string_view value = rest.substr(24, close - 24);
      FUZZ_CHECK(close != std::string_view::npos && !value.empty() &&
                     value.find_first_not_of("0123456789") == value.npos,
                 "a progress bar with injected markup in " + printable(res.body));
      continue;
    }
    fuzz::check_failed(__FILE__, __LINE__, "own tags only",
                       "unescaped markup in " + printable(res.body));
  }
}

// Pulls the body out of a content provider the way cpp-httplib does and
// checks it is bytes [first, first + length) of the file.
void check_streamed_body(httplib::Response& res, std::uint64_t first, const std::string& path) {
  const std::size_t length = res.content_length_;
  std::size_t offset = 0;
  bool ok = true;
  httplib::DataSink sink;
  sink.write = [&](const char* data, std::size_t n) {
    FUZZ_CHECK(offset + n <= length, "the body of " + path + " overruns its Content-Length");
    for (std::size_t i = 0; i < n; ++i) {
      const auto want = static_cast<char>((first + offset + i) % 251);
      if (data[i] != want) {
        fuzz::check_failed(__FILE__, __LINE__, "body bytes",
                           path + ": wrong byte at " + std::to_string(first + offset + i));
      }
    }
    offset += n;
    return true;
  };
  sink.is_writable = [] { return true; };
  sink.done = [] {};
  while (ok && offset < length) {
    const std::size_t before = offset;
    ok = res.content_provider_(offset, length - offset, sink);
    FUZZ_CHECK(!ok || offset > before, "a content provider that makes no progress on " + path);
  }
  FUZZ_CHECK(!ok ? path == "broken.bin" : offset == length,
             path + ": body ended at " + std::to_string(offset) + " of " + std::to_string(length));
}

// "bytes <first>-<last>/<size>"
bool parse_content_range(const std::string& value, std::uint64_t& first, std::uint64_t& last,
                         std::uint64_t& size) {
  unsigned long long a = 0, b = 0, n = 0;
  char tail = 0;
  if (std::sscanf(value.c_str(), "bytes %llu-%llu/%llu%c", &a, &b, &n, &tail) != 3) return false;
  first = a;
  last = b;
  size = n;
  return true;
}

void check_site_response(fuzz::FakeSiteService& service, const httplib::Request& req,
                         httplib::Response& res) {
  const std::string what =
      printable(req.method) + " " + printable(req.target) + " -> " + std::to_string(res.status);
  const std::string location = res.get_header_value("Location");
  static const int kStatuses[] = {200, 206, 301, 304, 400, 403, 404, 405, 416, 503, 504};
  FUZZ_CHECK(
      std::find(std::begin(kStatuses), std::end(kStatuses), res.status) != std::end(kStatuses),
      "unexpected status: " + what);
  FUZZ_CHECK(res.get_header_value("X-Content-Type-Options") == "nosniff", "no nosniff: " + what);

  if (res.status == 301) {
    FUZZ_CHECK(location.size() >= 2 && location[0] == '/' && location[1] != '/' &&
                   location[1] != '\\' && visible_ascii(location),
               "redirect off this origin or malformed: " + printable(location) + " for " + what);
    auto to = normalise_path(location);
    FUZZ_CHECK(to.ok() && to->trailing_slash, "redirect to a bad path " + printable(location));
  }
  if (res.status == 405) FUZZ_CHECK(res.has_header("Allow"), "405 without Allow");
  if (res.status == 304 || res.status == 416) {
    FUZZ_CHECK(!res.content_provider_ && res.body.empty(), "a body with " + what);
  }
  if (res.status == 416) {
    FUZZ_CHECK(res.get_header_value("Content-Range").starts_with("bytes */"),
               "416 with Content-Range " + printable(res.get_header_value("Content-Range")));
  }

  if (!res.content_provider_) {
    if (res.get_header_value("Content-Type").starts_with("text/html")) check_own_page(res);
    return;
  }
  // A file of a ready site: find which one from its ETag.
  const std::string etag = res.get_header_value("ETag");
  std::string path;
  const ServedFile* file = service.file_by_etag(etag, path);
  FUZZ_CHECK(file != nullptr, "a streamed body with ETag " + printable(etag) + ": " + what);
  std::uint64_t first = 0;
  if (res.status == 206) {
    std::uint64_t last = 0;
    std::uint64_t size = 0;
    const std::string range = res.get_header_value("Content-Range");
    FUZZ_CHECK(parse_content_range(range, first, last, size),
               "206 with Content-Range " + printable(range));
    FUZZ_CHECK(first <= last && last < size && size == file->size,
               "Content-Range " + range + " outside " + path);
    FUZZ_CHECK(res.content_length_ == last - first + 1, "206 length differs from its range");
  } else {
    FUZZ_CHECK(res.content_length_ == file->size, "whole " + path + " with the wrong length");
  }
  check_streamed_body(res, first, path);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::FakeSiteService service;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  httplib::Request req = parse_input(text);
  check_rules(req);

  const std::string host = req.get_header_value("Host");
  const HostRoute route = route_host(host);
  check_route(host, route);
  if (route.kind != HostKind::kSite) return 0;

  httplib::Response res;
  serve_site(service, SiteServingOptions{std::chrono::milliseconds(1)}, route.address, req, res);
  FUZZ_CHECK(req.ranges.empty(), "serve_site left cpp-httplib's ranges in place");
  check_site_response(service, req, res);
  return 0;
}
