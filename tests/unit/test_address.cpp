#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "protocol/address.hpp"

using hostless::kAcceptedAddressForms;
using hostless::parse_address_and_path;
using hostless::PublicKey;
using hostless::SiteAddress;

namespace {

// The key 00 01 02 ... 1f, spelled every way an address can be written. The
// z-base32 spelling was checked against an independent big-integer encoder.
const std::string kAddr = "yyyoryarywdyqnyjbefoadeqbhebnrounoktcfaadrpbs8y7daxo";
const std::string kAddrUpper = "YYYORYARYWDYQNYJBEFOADEQBHEBNROUNOKTCFAADRPBS8Y7DAXO";
const std::string kHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string kHexUpper = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";

SiteAddress expected_address() {
  PublicKey::Bytes bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i);
  return SiteAddress(PublicKey(bytes));
}

std::string with_char_at(std::string text, std::size_t index, char c) {
  text[index] = c;
  return text;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct GoodInput {
  std::string text;
  std::string path;  // what parse_address_and_path returns as the path
};

const std::vector<GoodInput>& good_inputs() {
  static const std::vector<GoodInput> inputs = {
      {kAddr, "/"},
      {kAddrUpper, "/"},
      {"  " + kAddr + "\n", "/"},
      {"\t" + kAddr + " \r\n", "/"},
      {"hostless://" + kAddr, "/"},
      {"hostless://" + kAddr + "/", "/"},
      {"hostless://" + kAddr + "/docs/Intro.html", "/docs/Intro.html"},
      {"HOSTLESS://" + kAddrUpper + "/a", "/a"},
      {"hostless://" + kAddr + "?ref=x", "/"},
      {"http://" + kAddr + ".localhost:8420/a/b", "/a/b"},
      {"http://" + kAddr + ".localhost:8420/a/b?q=1#top", "/a/b"},
      {"http://" + kAddrUpper + ".LOCALHOST/", "/"},
      {"http://" + kAddr + ".localhost", "/"},
      {"http://" + kAddr + ".localhost:8420", "/"},
      {"https://" + kAddr + ".localhost/x.html", "/x.html"},
      {" http://" + kAddr + ".localhost/ \n", "/"},
      {kHex, "/"},
      {kHexUpper, "/"},
      {"magnet:?xs=urn:btpk:" + kHex, "/"},
      {"magnet:?xs=urn:btpk:" + kHexUpper, "/"},
      {"magnet:?dn=My%20Site&xs=urn:btpk:" + kHex, "/"},
      {"magnet:?xs=urn:btpk:" + kHex + "&dn=My%20Site", "/"},
      {"magnet:?xs=urn%3Abtpk%3A" + kHex, "/"},
      {"magnet:?xs=urn:btpk:" + kHex + "&s=", "/"},
      {"MAGNET:?XS=URN:BTPK:" + kHexUpper, "/"},
  };
  return inputs;
}

struct BadInput {
  std::string text;
  std::string fragment;  // part of the error message that says what was wrong
};

const std::vector<BadInput>& bad_inputs() {
  static const std::vector<BadInput> inputs = {
      {"", "empty"},
      {" \n\t", "empty"},
      {kAddr.substr(1), "51 characters"},
      {kAddr + "y", "53 characters"},
      {with_char_at(kAddr, 9, 'l'), "character 10 ('l')"},
      {with_char_at(kAddr, 9, 'v'), "character 10 ('v')"},
      {with_char_at(kAddr, 9, '0'), "character 10 ('0')"},
      {with_char_at(kAddr, 9, '2'), "character 10 ('2')"},
      {with_char_at(kAddr, 9, '-'), "character 10 ('-')"},
      {with_char_at(kAddr, 9, ' '), "character 10 (byte 0x20)"},
      {with_char_at(kAddr, 51, 'b'), "always 'y' or 'o'"},
      {"magnet:?xs=urn:btpk:" + kHex + "&s=blog", "salted BEP 46 names are not supported"},
      {"magnet:?s=blog&xs=urn:btpk:" + kHex, "salted BEP 46 names are not supported"},
      {"magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=x",
       "torrent magnet link (xt=urn:btih:, a v1 info-hash)"},
      {"magnet:?dn=x", "no xs=urn:btpk:"},
      {"magnet:", "no parameters"},
      {"magnet:?xs=urn:btpk:" + kHex.substr(1), "63 characters"},
      {"magnet:?xs=urn:btpk:" + with_char_at(kHex, 0, 'g'), "character 1 ('g') is not a hex digit"},
      {"magnet:?xs=urn:btpk:" + kHex + "&xs=urn:btpk:" + std::string(64, '0'),
       "more than one site"},
      {"http://other.example/", "expected <address>.localhost"},
      {"http://" + kAddr + ".example.com/", "expected <address>.localhost"},
      {"http://localhost:8420/", "the gateway itself"},
      {"http://www." + kAddr + ".localhost/", "more than one name"},
      {"http://" + kAddr + ".localhost:http/", "bad port"},
      {"http://" + kAddr + ".localhost:65536/", "bad port"},
      {"http://abc.localhost/", "3 characters"},
      {"hostless://", "no address"},
      {"hostless:///index.html", "no address"},
      {"hostless://" + kAddr + ":8420/", "no port"},
      {"ftp://" + kAddr + "/", "scheme 'ftp'"},
      {kHex.substr(1), "63 characters"},
      {with_char_at(kHex, 63, 'g'), "character 64 ('g') is not a hex digit"},
      {"not an address", "14 characters"},
  };
  return inputs;
}

}  // namespace

TEST_CASE("every accepted form parses to the same address", "[address]") {
  const auto& input = GENERATE(from_range(good_inputs()));
  CAPTURE(input.text);
  const auto parsed = SiteAddress::parse(input.text);
  INFO((parsed ? std::string() : parsed.error().message));
  REQUIRE(parsed);
  CHECK(*parsed == expected_address());
}

TEST_CASE("parse_address_and_path returns the URL path without query, or /", "[address]") {
  const auto& input = GENERATE(from_range(good_inputs()));
  CAPTURE(input.text);
  const auto parsed = parse_address_and_path(input.text);
  REQUIRE(parsed);
  CHECK(parsed->address == expected_address());
  CHECK(parsed->path == input.path);
}

TEST_CASE("a bad input fails with a message saying what was wrong", "[address]") {
  const auto& input = GENERATE(from_range(bad_inputs()));
  CAPTURE(input.text);
  const auto parsed = SiteAddress::parse(input.text);
  REQUIRE_FALSE(parsed);
  CHECK_THAT(parsed.error().message, Catch::Contains(input.fragment));
}

TEST_CASE("every parse error ends with the accepted forms", "[address]") {
  const auto& input = GENERATE(from_range(bad_inputs()));
  CAPTURE(input.text);
  const auto parsed = parse_address_and_path(input.text);
  REQUIRE_FALSE(parsed);
  CHECK(ends_with(parsed.error().message, std::string("\n") + kAcceptedAddressForms));
}

TEST_CASE("the accepted forms list all five forms", "[address]") {
  const std::string forms = kAcceptedAddressForms;
  const std::string form = GENERATE("52 z-base32 characters", "hostless://<address>[/path]",
                                    "http(s)://<address>.localhost[:port][/path]",
                                    "<64 hex characters>", "magnet:?xs=urn:btpk:");
  CHECK_THAT(forms, Catch::Contains(form));
}

TEST_CASE("str() is the canonical lowercase z-base32 form", "[address]") {
  const auto parsed = SiteAddress::parse(" " + kAddrUpper + "\n");
  REQUIRE(parsed);
  CHECK(parsed->str() == kAddr);
}

TEST_CASE("magnet() is the BEP 46 form with lowercase hex", "[address]") {
  CHECK(expected_address().magnet() == "magnet:?xs=urn:btpk:" + kHex);
}

TEST_CASE("PublicKey::hex() is 64 lowercase hex characters", "[address]") {
  CHECK(expected_address().key().hex() == kHex);
}

TEST_CASE("the zero key's address is 52 'y'", "[address]") {
  CHECK(SiteAddress().str() == std::string(SiteAddress::kLength, 'y'));
}

TEST_CASE("printed forms of random keys parse back to the same address", "[address]") {
  std::mt19937 rng(20240601);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int trial = 0; trial < 100; ++trial) {
    PublicKey::Bytes bytes{};
    for (auto& b : bytes) b = static_cast<std::uint8_t>(byte(rng));
    const SiteAddress address{PublicKey(bytes)};
    const std::string str = address.str();
    CAPTURE(str);
    REQUIRE(str.size() == SiteAddress::kLength);
    for (const std::string& text :
         {str, address.magnet(), address.key().hex(), "hostless://" + str + "/",
          "http://" + str + ".localhost:8420/"}) {
      const auto parsed = SiteAddress::parse(text);
      REQUIRE(parsed);
      CHECK(*parsed == address);
    }
  }
}

TEST_CASE("different keys give different addresses", "[address]") {
  PublicKey::Bytes other{};
  other.back() = 0x01;
  CHECK(SiteAddress(PublicKey(other)).str() != SiteAddress().str());
  CHECK(SiteAddress(PublicKey(other)) != SiteAddress());
}

namespace hostless {

TEST_CASE("handles: lower-cased, '@' dropped, never an address", "[address]") {
  CHECK(*parse_handle("@Alice") == "alice");
  CHECK(*parse_handle("bob_2-x") == "bob_2-x");
  CHECK(parse_handle("")->empty());
  CHECK(parse_handle(std::string(kMaxHandle, 'a')));
  const auto refused = [](const std::string& text, const std::string& why) {
    auto h = parse_handle(text);
    REQUIRE(!h);
    CHECK(h.error().message.find(why) != std::string::npos);
  };
  refused(std::string(kMaxHandle + 1, 'a'), "too long");
  refused("9lives", "must start with a letter");
  refused("-x", "must start with a letter");
  refused("a b", "may not contain ' '");
  refused("al.ice", "may not contain '.'");
  CHECK(parse_handle("@")->empty());  // nothing after the '@': no handle
}
}  // namespace hostless
