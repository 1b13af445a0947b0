// Range headers: parse_range against a fuzz-chosen resource size.
//
// The input is "<size>\n<header>" (a first line that is not a decimal number
// gives size = its length). Two checks per input:
//  - the raw header as sent: a satisfiable answer lies inside the resource
//    (first <= last < size), whatever the bytes;
//  - a header built from the same bytes in one of RFC 9110's forms, with
//    random unit case and spaces/tabs where they are tolerated, whose right
//    answer is known: parse_range must give exactly that answer.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "gateway/http_rules.hpp"

using hostless::ByteRange;
using hostless::RangeKind;
using hostless::RangeRequest;
using hostless::fuzz::printable;

namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

std::optional<std::uint64_t> decimal(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (kMax - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::string describe(const RangeRequest& r) {
  switch (r.kind) {
    case RangeKind::kNone:
      return "none";
    case RangeKind::kUnsatisfiable:
      return "unsatisfiable";
    case RangeKind::kSatisfiable:
      return std::to_string(r.range.first) + "-" + std::to_string(r.range.last);
  }
  return "?";
}

void check_inside(const RangeRequest& r, std::uint64_t size, std::string_view header) {
  if (r.kind != RangeKind::kSatisfiable) return;
  FUZZ_CHECK(size > 0 && r.range.first <= r.range.last && r.range.last < size,
             printable(header) + " against size " + std::to_string(size) + " gave " + describe(r));
}

// Spaces and tabs, where RFC 9110 OWS may stand.
std::string ows(FuzzedDataProvider& in) {
  std::string out;
  const auto n = in.ConsumeIntegralInRange<int>(0, 2);
  for (int i = 0; i < n; ++i) out += in.ConsumeBool() ? ' ' : '\t';
  return out;
}

// A number: small, near the size, or anywhere in uint64; sometimes with
// leading zeros, which the grammar (1*DIGIT) allows.
std::uint64_t pick_number(FuzzedDataProvider& in, std::uint64_t size) {
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0:
      return in.ConsumeIntegralInRange<std::uint64_t>(0, 64);
    case 1: {
      const auto delta = in.ConsumeIntegralInRange<std::uint64_t>(0, 4);
      return in.ConsumeBool() ? size - std::min(size, delta) : size + std::min(kMax - size, delta);
    }
    case 2:
      return kMax - in.ConsumeIntegralInRange<std::uint64_t>(0, 4);
    default:
      return in.ConsumeIntegral<std::uint64_t>();
  }
}

std::string spell(FuzzedDataProvider& in, std::uint64_t n) {
  return std::string(in.ConsumeIntegralInRange<std::size_t>(0, 2), '0') + std::to_string(n);
}

void check_known_form(FuzzedDataProvider& in, std::uint64_t size) {
  std::string unit = "bytes";
  for (char& c : unit) {
    if (in.ConsumeBool()) c = static_cast<char>(c - 'a' + 'A');
  }
  const bool other_unit = in.ConsumeIntegralInRange<int>(0, 15) == 0;
  if (other_unit) unit = "items";
  const std::uint64_t a = pick_number(in, size);
  const std::uint64_t b = pick_number(in, size);
  const int form = in.ConsumeIntegralInRange<int>(0, 4);

  std::string spec;
  RangeRequest want;  // kNone
  const RangeRequest unsatisfiable{RangeKind::kUnsatisfiable, {}};
  switch (form) {
    case 0:  // a-b
      spec = spell(in, a) + ows(in) + "-" + ows(in) + spell(in, b);
      if (b < a) {
        want = {};
      } else if (a >= size) {
        want = unsatisfiable;
      } else {
        want = {RangeKind::kSatisfiable, ByteRange{a, std::min(b, size - 1)}};
      }
      break;
    case 1:  // a-
      spec = spell(in, a) + ows(in) + "-";
      want =
          a >= size ? unsatisfiable : RangeRequest{RangeKind::kSatisfiable, ByteRange{a, size - 1}};
      break;
    case 2:  // -n: the last n bytes
      spec = "-" + ows(in) + spell(in, a);
      want = (a == 0 || size == 0) ? unsatisfiable
                                   : RangeRequest{RangeKind::kSatisfiable,
                                                  ByteRange{size - std::min(a, size), size - 1}};
      break;
    case 3:  // several ranges: answered whole
      spec = spell(in, a) + "-" + spell(in, b) + "," + ows(in) + "0-0";
      want = {};
      break;
    default:  // a number past uint64: a syntax error, answered whole
      spec = "18446744073709551616" + std::string(a % 3, '0') + "-" +
             (in.ConsumeBool() ? std::to_string(b) : "");
      want = {};
      break;
  }
  if (other_unit) want = {};
  const std::string header = ows(in) + unit + ows(in) + "=" + ows(in) + spec + ows(in);
  const RangeRequest got = hostless::parse_range(header, size);
  check_inside(got, size, header);
  const bool same = got.kind == want.kind &&
                    (got.kind != RangeKind::kSatisfiable ||
                     (got.range.first == want.range.first && got.range.last == want.range.last));
  FUZZ_CHECK(same, printable(header) + " against size " + std::to_string(size) + " gave " +
                       describe(got) + ", expected " + describe(want));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto newline = text.find('\n');
  const std::string_view first_line = text.substr(0, newline);
  const std::string_view header =
      newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
  const std::uint64_t resource_size = decimal(first_line).value_or(first_line.size());

  check_inside(hostless::parse_range(header, resource_size), resource_size, header);

  FuzzedDataProvider in(data, size);
  check_known_form(in, resource_size);
  return 0;
}
