#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "util/encoding.hpp"

using hostless::from_hex;
using hostless::from_zbase32;
using hostless::to_hex;
using hostless::to_zbase32;

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes_of(const std::string& text) {
  return Bytes(text.begin(), text.end());
}

// Byte strings with their z-base32 spellings. "hello", the foo/foobar series
// and the two 24-bit strings from the z-base32 specification are published
// vectors (the spec's are bit-length encodings that happen to be byte
// aligned); each was also checked against an independent big-integer encoder.
struct ZBase32Vector {
  Bytes bytes;
  std::string text;
};

const std::vector<ZBase32Vector>& zbase32_vectors() {
  static const std::vector<ZBase32Vector> vectors = {
      {Bytes{}, ""},
      {bytes_of("f"), "ca"},
      {bytes_of("fo"), "c3zo"},
      {bytes_of("foo"), "c3zs6"},
      {bytes_of("foobar"), "c3zs6aubqe"},
      {bytes_of("hello"), "pb1sa5dx"},
      {bytes_of("hello world!"), "pb1sa5dxrb5s6huccooo"},
      {{0xf0}, "6y"},
      {{0xf0, 0xbf, 0xc7}, "6n9hq"},
      {{0xd4, 0x7a, 0x04}, "4t7ye"},
      {Bytes(31, 0x00), std::string(50, 'y')},
  };
  return vectors;
}

}  // namespace

TEST_CASE("to_hex writes lowercase hex, two digits a byte", "[encoding]") {
  const auto [bytes, text] = GENERATE(table<Bytes, std::string>({
      {Bytes{}, ""},
      {{0x00}, "00"},
      {{0x0f, 0xf0}, "0ff0"},
      {{0xde, 0xad, 0xbe, 0xef}, "deadbeef"},
  }));
  CHECK(to_hex(bytes) == text);
}

TEST_CASE("from_hex decodes either case", "[encoding]") {
  const auto [text, bytes] = GENERATE(table<std::string, Bytes>({
      {"", Bytes{}},
      {"00", {0x00}},
      {"deadbeef", {0xde, 0xad, 0xbe, 0xef}},
      {"DEADBEEF", {0xde, 0xad, 0xbe, 0xef}},
      {"DeAdBeEf", {0xde, 0xad, 0xbe, 0xef}},
  }));
  const auto decoded = from_hex(text);
  REQUIRE(decoded);
  CHECK(*decoded == bytes);
}

TEST_CASE("from_hex rejects odd lengths and non-hex characters", "[encoding]") {
  const std::string text = GENERATE("0", "abc", "0g", "g0", " 00", "00 ", "0x00", "+1");
  CAPTURE(text);
  CHECK_FALSE(from_hex(text));
}

TEST_CASE("to_zbase32 matches the published vectors", "[encoding]") {
  const auto& vector = GENERATE(from_range(zbase32_vectors()));
  CAPTURE(vector.text);
  CHECK(to_zbase32(vector.bytes) == vector.text);
}

TEST_CASE("from_zbase32 decodes the published vectors", "[encoding]") {
  const auto& vector = GENERATE(from_range(zbase32_vectors()));
  CAPTURE(vector.text);
  const auto decoded = from_zbase32(vector.text, vector.bytes.size());
  REQUIRE(decoded);
  CHECK(*decoded == vector.bytes);
}

TEST_CASE("to_zbase32 of 32 zero bytes is 52 'y'", "[encoding]") {
  CHECK(to_zbase32(Bytes(32, 0x00)) == std::string(52, 'y'));
}

TEST_CASE("to_zbase32 of 32 bytes is 52 characters", "[encoding]") {
  CHECK(to_zbase32(Bytes(32, 0xff)).size() == 52);
}

TEST_CASE("from_zbase32 round-trips random bytes of every length", "[encoding]") {
  const std::size_t size = GENERATE(range<std::size_t>(0, 41));
  std::mt19937 rng(static_cast<std::uint32_t>(size) + 1);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int trial = 0; trial < 20; ++trial) {
    Bytes bytes(size);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(byte(rng));
    const std::string text = to_zbase32(bytes);
    CAPTURE(size, text);
    CHECK(text.size() == (size * 8 + 4) / 5);
    const auto decoded = from_zbase32(text, size);
    REQUIRE(decoded);
    CHECK(*decoded == bytes);
  }
}

TEST_CASE("from_zbase32 rejects a length that does not match the byte count", "[encoding]") {
  const auto [text, byte_count] = GENERATE(table<std::string, std::size_t>({
      {"", 1},
      {"y", 1},
      {"yyy", 1},
      {"yy", 0},
      {std::string(51, 'y'), 32},
      {std::string(53, 'y'), 32},
  }));
  CAPTURE(text, byte_count);
  CHECK_FALSE(from_zbase32(text, byte_count));
}

TEST_CASE("from_zbase32 rejects characters outside the lowercase alphabet", "[encoding]") {
  // 0, l, v and 2 are left out of the alphabet; upper case is the caller's
  // job to fold; '=' is RFC 4648 padding, which z-base32 never writes.
  const char bad = GENERATE('0', 'l', 'v', '2', 'Y', 'O', ' ', '=', '\0', '\xc3');
  std::string text = "c3zs6aubqe";  // "foobar"
  text[3] = bad;
  CAPTURE(text);
  CHECK_FALSE(from_zbase32(text, 6));
}

TEST_CASE("from_zbase32 rejects non-zero trailing bits", "[encoding]") {
  // 0xf0 is "6y"; "6b" carries the same byte plus a stray 1 in the padding.
  CHECK_FALSE(from_zbase32("6b", 1));
  // 32 bytes use 1 bit of the last character: only 'y' (0) and 'o' (16) fit.
  CHECK_FALSE(from_zbase32(std::string(51, 'y') + "b", 32));
  CHECK_FALSE(from_zbase32(std::string(51, 'y') + "9", 32));
}

TEST_CASE("from_zbase32 reads the one meaningful bit of a 52nd character", "[encoding]") {
  Bytes expected(32, 0x00);
  expected.back() = 0x01;
  const auto decoded = from_zbase32(std::string(51, 'y') + "o", 32);
  REQUIRE(decoded);
  CHECK(*decoded == expected);
}

TEST_CASE("format_seconds reads like a person would say it", "[encoding]") {
  using std::chrono::milliseconds;
  CHECK(hostless::format_seconds(milliseconds(30)) == "0.03 s");
  CHECK(hostless::format_seconds(milliseconds(4210)) == "4.2 s");
  CHECK(hostless::format_seconds(milliseconds(30400)) == "30 s");
}
