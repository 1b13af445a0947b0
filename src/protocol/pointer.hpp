// BEP 44 mutable items and the BEP 46 pointer value {"ih": <20-byte info-hash>}.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/address.hpp"
#include "util/result.hpp"

namespace hostless {

class SecretKey;

// The 20-byte v1 info-hash a BEP 46 pointer names.
class InfoHash {
 public:
  static constexpr std::size_t kSize = 20;
  using Bytes = std::array<std::uint8_t, kSize>;

  InfoHash() = default;
  explicit InfoHash(const Bytes& bytes) : bytes_(bytes) {}
  static Result<InfoHash> from_hex(std::string_view hex);

  const Bytes& bytes() const { return bytes_; }
  std::string hex() const;
  auto operator<=>(const InfoHash&) const = default;

 private:
  Bytes bytes_{};
};

// BEP 44's limit on the bencoded value, in bytes.
constexpr std::size_t kMaxItemValueSize = 1000;

using Signature = std::array<std::uint8_t, 64>;

// The exact buffer BEP 44 signs:
//   [4:salt<len>:<salt>]3:seqi<seq>e1:v<bencoded value>
// The salt part is present only when salt is non-empty.
std::string bep44_signing_buffer(std::string_view salt, std::int64_t seq,
                                 std::string_view bencoded_value);

// Signs with libsodium (ed25519, detached).
Signature bep44_sign(const SecretKey& key, std::string_view salt, std::int64_t seq,
                     std::string_view bencoded_value);
// Verifies with libsodium.
bool bep44_verify(const PublicKey& key, const Signature& sig, std::string_view salt,
                  std::int64_t seq, std::string_view bencoded_value);

// The BEP 46 pointer value, {"ih": <20-byte info-hash>}, and hostless's
// optional web seeds, "ws": [URL, ...] (BEP 19 folders serving the version's
// files; docs/protocol.md): BEP 46 readers look only at "ih". Decoding is
// strict: exactly "ih" then optionally a non-empty "ws" of valid URLs
// (check_web_seed), at most kMaxItemValueSize bytes, canonical bencoding (so
// one value has one signature).
struct PointerValue {
  PointerValue() = default;
  explicit PointerValue(const InfoHash& ih_, std::vector<std::string> web_seeds_ = {})
      : ih(ih_), web_seeds(std::move(web_seeds_)) {}
  InfoHash ih;
  std::vector<std::string> web_seeds;

  std::string encode() const;  // d2:ih20:<20 bytes>[2:wsl<url>...e]e
  static Result<PointerValue> decode(std::string_view bencoded);
  bool operator==(const PointerValue&) const = default;
};

constexpr std::size_t kMaxWebSeeds = 8;
constexpr std::size_t kMaxWebSeedLength = 200;
// A web seed URL hostless accepts: http:// or https://, a host, printable
// ASCII without spaces, ending in '/', at most kMaxWebSeedLength characters.
Status check_web_seed(std::string_view url);

// A signed pointer as stored in the DHT and in the catalog.
struct SignedPointer {
  PublicKey key;
  std::int64_t seq = 0;
  PointerValue value;
  Signature signature{};

  static SignedPointer sign(const SecretKey& key, std::int64_t seq, const PointerValue& value);
  bool verify() const;
};

// The whole signed item as one bencoded dictionary with the fields of a BEP 44
// get response, {"k": 32 bytes, "seq": n, "sig": 64 bytes, "v": value}: what
// a pointer push carries (docs/microblog.md). About 180 bytes.
std::string encode_item(const SignedPointer& pointer);
// Strict, as a DHT answer is checked: exactly those keys in canonical
// bencoding, a valid BEP 46 value, seq >= 0, and a signature that verifies.
constexpr std::size_t kMaxItemSize = 1200;
Result<SignedPointer> decode_item(std::string_view bencoded);

}  // namespace hostless
