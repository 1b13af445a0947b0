// A site's address: the z-base32 spelling of its ed25519 public key.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace hostless {

// The 32-byte ed25519 public key that is a site's identity. A value type.
class PublicKey {
 public:
  static constexpr std::size_t kSize = 32;
  using Bytes = std::array<std::uint8_t, kSize>;

  PublicKey() = default;
  explicit PublicKey(const Bytes& bytes) : bytes_(bytes) {}

  const Bytes& bytes() const { return bytes_; }
  std::string hex() const;

  auto operator<=>(const PublicKey&) const = default;

 private:
  Bytes bytes_{};
};

// A parsed site address plus the path that came with it, if any.
class SiteAddress {
 public:
  static constexpr std::size_t kLength = 52;

  SiteAddress() = default;
  explicit SiteAddress(const PublicKey& key) : key_(key) {}

  // Parses every accepted form, leniently about case and surrounding
  // whitespace:
  //   <52 z-base32 chars>                      bare address
  //   hostless://<addr>[/path]
  //   http(s)://<addr>.localhost[:port][/path]
  //   <64 hex chars>                           the public key in hex
  //   magnet:?xs=urn:btpk:<64 hex>             BEP 46 (no salt)
  // Anything else fails with a message that names the accepted forms.
  static Result<SiteAddress> parse(std::string_view text);

  const PublicKey& key() const { return key_; }
  // The canonical 52-character lowercase z-base32 form.
  std::string str() const;
  // BEP 46 magnet: magnet:?xs=urn:btpk:<hex key>
  std::string magnet() const;

  auto operator<=>(const SiteAddress&) const = default;

 private:
  PublicKey key_;
};

// Like SiteAddress::parse, also returning the path part ("/" when absent) of
// URL forms, for callers that open a page.
struct AddressAndPath {
  SiteAddress address;
  std::string path;
};
Result<AddressAndPath> parse_address_and_path(std::string_view text);

// The text every parse error ends with: the list of accepted forms.
extern const char* const kAcceptedAddressForms;

// A handle: the local name a user gives a site (a followed feed's "@alice").
// Lower-case ASCII letters, digits, '-' and '_', starting with a letter, at
// most kMaxHandle characters, so it can never be read as an address (52
// characters). A leading '@' is dropped and letters are lower-cased; "" stays
// "" (no handle).
constexpr std::size_t kMaxHandle = 32;
Result<std::string> parse_handle(std::string_view text);

// A DNS name that may name a site (sites/names.hpp): two or more labels of
// lower-case ASCII letters, digits and inner '-', at most 253 characters.
bool is_dns_name(std::string_view name);

// A site's name as typed (a petname or handle, "@alice" too, or a DNS name;
// any case, a DNS name's trailing dot allowed) in the form names are kept
// and looked up; nullopt when `text` can be neither.
std::optional<std::string> parse_site_name(std::string_view text);

}  // namespace hostless
