// The path normaliser: normalise_path over untrusted request targets.
// Properties of every accepted path: no leading or trailing '/', no empty,
// "." or ".." segment, no control byte or backslash, valid UTF-8, at most
// kMaxRequestPathBytes bytes and kMaxPathSegments segments; the root always has
// trailing_slash. It is a fixed point: the path, percent-encoded again as the
// gateway does in redirects, normalises to itself. A query or fragment never
// changes the answer.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "gateway/http_rules.hpp"
#include "gateway/site_serving.hpp"
#include "util/encoding.hpp"

using hostless::fuzz::printable;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view target(reinterpret_cast<const char*>(data), size);
  auto result = hostless::normalise_path(target);
  if (!result) {
    FUZZ_CHECK(!result.error().message.empty(), "an empty error for " + printable(target));
    return 0;
  }
  const std::string& path = result->path;
  const std::string context = printable(target) + " -> " + printable(path);

  FUZZ_CHECK(path.size() <= hostless::kMaxRequestPathBytes, context);
  FUZZ_CHECK(path.empty() || (path.front() != '/' && path.back() != '/'), context);
  FUZZ_CHECK(!path.empty() || result->trailing_slash,
             "the root without trailing_slash: " + context);
  for (char c : path) {
    const auto b = static_cast<unsigned char>(c);
    FUZZ_CHECK(b >= 0x20 && b != 0x7f && c != '\\', "forbidden byte in " + context);
  }
  FUZZ_CHECK(hostless::valid_utf8(path), "invalid UTF-8 in " + context);

  std::size_t segments = 0;
  std::string_view rest(path);
  while (!path.empty()) {
    const auto slash = rest.find('/');
    const auto segment = rest.substr(0, slash);
    FUZZ_CHECK(!segment.empty() && segment != "." && segment != "..",
               "segment " + printable(segment) + " in " + context);
    ++segments;
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  FUZZ_CHECK(segments <= hostless::kMaxPathSegments, context);

  // A fixed point, as a redirect's Location is normalised again by the browser's next request.
  const std::string again_target = hostless::encode_url_path("/" + path);
  auto again = hostless::normalise_path(again_target);
  FUZZ_CHECK(again.ok(), "re-encoded path rejected: " + context + " -> " + printable(again_target));
  FUZZ_CHECK(again->path == path,
             "not a fixed point: " + context + " -> " + printable(again->path));

  // Whatever follows '?' or '#' is not part of the path.
  auto with_query = hostless::normalise_path(std::string(target) + "?a=/../..%zz#/..");
  if (target.find_first_of("?#") == std::string_view::npos) {
    FUZZ_CHECK(with_query.ok() && with_query->path == path &&
                   with_query->trailing_slash == result->trailing_slash,
               "a query changed the answer for " + context);
  }
  return 0;
}
