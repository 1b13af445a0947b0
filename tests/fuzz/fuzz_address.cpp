// Site addresses from untrusted text: SiteAddress::parse and
// parse_address_and_path over every accepted form, plus the hex and z-base32
// codecs underneath. Properties: both parsers agree; a parsed address prints
// as 52 z-base32 characters and every canonical spelling of it (bare, hex,
// magnet, hostless://, http://<addr>.localhost) parses back to the same key;
// a URL's path starts with '/' and carries no query or fragment; every error
// ends with the list of accepted forms.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "protocol/address.hpp"
#include "util/encoding.hpp"

using hostless::fuzz::printable;

namespace {

constexpr std::string_view kZBase32Alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769";

void check_same_key(const hostless::SiteAddress& address, const std::string& spelling) {
  auto again = hostless::SiteAddress::parse(spelling);
  FUZZ_CHECK(again.ok(), spelling + " of a parsed address does not parse");
  FUZZ_CHECK(again->key() == address.key(), spelling + " parses to another key");
}

void check_address(const hostless::SiteAddress& address) {
  const std::string text = address.str();
  FUZZ_CHECK(text.size() == hostless::SiteAddress::kLength, "str() is " + printable(text));
  FUZZ_CHECK(text.find_first_not_of(kZBase32Alphabet) == std::string::npos,
             "str() has a non-z-base32 character: " + printable(text));
  check_same_key(address, text);
  check_same_key(address, address.key().hex());
  check_same_key(address, address.magnet());
  check_same_key(address, "hostless://" + text + "/x");
  check_same_key(address, "http://" + text + ".localhost:8420/");
}

void check_codecs(std::string_view text) {
  if (auto bytes = hostless::from_hex(text)) {
    const std::string hex = hostless::to_hex(*bytes);
    FUZZ_CHECK(hex.size() == text.size(), "hex round trip changed the length");
    for (std::size_t i = 0; i < hex.size(); ++i) {
      const char c = text[i];
      const char lower = (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
      FUZZ_CHECK(hex[i] == lower, "hex round trip of " + printable(text) + " gave " + hex);
    }
  }
  // Every text length belongs to at most one byte count; try the one that fits.
  const std::size_t byte_count = text.size() * 5 / 8;
  if (auto bytes = hostless::from_zbase32(text, byte_count)) {
    FUZZ_CHECK(bytes->size() == byte_count, "from_zbase32 returned the wrong number of bytes");
    FUZZ_CHECK(hostless::to_zbase32(*bytes) == text,
               "z-base32 round trip of " + printable(text) + " is not the identity");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto with_path = hostless::parse_address_and_path(text);
  auto bare = hostless::SiteAddress::parse(text);
  FUZZ_CHECK(with_path.ok() == bare.ok(), "the two parsers disagree on " + printable(text));

  if (with_path) {
    FUZZ_CHECK(with_path->address == *bare, "the two parsers give different keys");
    const std::string& path = with_path->path;
    FUZZ_CHECK(!path.empty() && path.front() == '/', "path " + printable(path));
    FUZZ_CHECK(path.find_first_of("?#") == std::string::npos,
               "path keeps a query or fragment: " + printable(path));
    check_address(with_path->address);
  } else {
    const std::string& message = with_path.error().message;
    FUZZ_CHECK(message.ends_with(hostless::kAcceptedAddressForms),
               "error without the accepted forms: " + printable(message));
    FUZZ_CHECK(message == bare.error().message, "the two parsers give different errors");
    // The message is shown on a terminal: no control bytes but its own newlines.
    for (char c : message) {
      const auto b = static_cast<unsigned char>(c);
      FUZZ_CHECK((b >= 0x20 && b != 0x7f) || c == '\n',
                 "control byte in error " + printable(message));
    }
  }

  check_codecs(text);
  return 0;
}
