// Pointer records as they arrive from the DHT: a BEP 44 mutable item (public
// key, seq, signature, bencoded value), decoded and checked the way the node
// does it (PointerValue::decode, then SignedPointer::verify over the canonical
// re-encoding).
//
// The input is <32-byte key><8-byte little-endian seq><64-byte signature>
// <value...>; a shorter input is zero-padded, so short inputs fuzz the value
// decoder alone. Properties: a decoded value is exactly the 29-byte canonical
// encoding of its info-hash; every error says what was wrong; a signature that
// verifies stops verifying when a bit of it, the seq, the salt or the key
// changes; a value signed with libsodium here always verifies. The whole input
// is also decoded as a pushed item (decode_item): it is refused with a reason,
// or it is a canonical item whose signature verifies.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "protocol/keys.hpp"
#include "protocol/pointer.hpp"
#include "util/encoding.hpp"

using namespace hostless;
using hostless::fuzz::printable;

namespace {

constexpr std::size_t kKeyOffset = 0;
constexpr std::size_t kSeqOffset = kKeyOffset + PublicKey::kSize;
constexpr std::size_t kSigOffset = kSeqOffset + 8;
constexpr std::size_t kValueOffset = kSigOffset + 64;

// The key the seed corpus was signed with: seed bytes 0, 1, 2, ..., 31.
const SecretKey& test_key() {
  static const SecretKey key = [] {
    std::uint8_t seed[SecretKey::kSeedSize];
    for (std::size_t i = 0; i < sizeof seed; ++i) seed[i] = static_cast<std::uint8_t>(i);
    return SecretKey::from_seed(seed);
  }();
  return key;
}

void check_decoded(const PointerValue& value, std::string_view bencoded) {
  FUZZ_CHECK(bencoded.size() == 29, "accepted a " + std::to_string(bencoded.size()) +
                                        "-byte value " + printable(bencoded));
  FUZZ_CHECK(value.encode() == bencoded, "accepted a non-canonical value " + printable(bencoded));
  FUZZ_CHECK(std::memcmp(value.ih.bytes().data(), bencoded.data() + 8, InfoHash::kSize) == 0,
             "decoded the wrong info-hash from " + printable(bencoded));
  auto again = PointerValue::decode(value.encode());
  FUZZ_CHECK(again.ok() && again->ih == value.ih, "encode() does not decode to itself");
}

// A pointer whose signature verifies: any change to what was signed breaks it.
void check_tamper_evident(const SignedPointer& pointer, std::uint8_t flip) {
  SignedPointer changed = pointer;
  changed.signature[flip % changed.signature.size()] ^= static_cast<std::uint8_t>(1u << (flip % 8));
  FUZZ_CHECK(!changed.verify(), "a signature with a flipped bit still verifies");

  changed = pointer;
  changed.seq =
      pointer.seq == std::numeric_limits<std::int64_t>::max() ? pointer.seq - 1 : pointer.seq + 1;
  FUZZ_CHECK(!changed.verify(), "the signature verifies under another seq");

  const std::string value = pointer.value.encode();
  FUZZ_CHECK(!bep44_verify(pointer.key, pointer.signature, "salt", pointer.seq, value),
             "the signature verifies with a salt it was not made with");

  changed = pointer;
  changed.key = test_key().public_key() == pointer.key ? PublicKey{} : test_key().public_key();
  FUZZ_CHECK(!changed.verify(), "the signature verifies under another key");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::uint8_t header[kValueOffset] = {};
  std::memcpy(header, data, std::min(size, kValueOffset));
  const std::string_view value =
      size > kValueOffset ? std::string_view(reinterpret_cast<const char*>(data) + kValueOffset,
                                             size - kValueOffset)
                          : std::string_view();

  // The signing buffer is exactly BEP 44's.
  std::int64_t seq = 0;
  std::memcpy(&seq, header + kSeqOffset, sizeof seq);
  FUZZ_CHECK(bep44_signing_buffer("", seq, value) ==
                 "3:seqi" + std::to_string(seq) + "e1:v" + std::string(value),
             "wrong BEP 44 signing buffer");

  // The whole input as a pushed item (decode_item): refused with a reason,
  // or exactly the canonical encoding of a pointer whose signature verifies.
  const std::string_view whole(reinterpret_cast<const char*>(data), size);
  if (auto item = decode_item(whole)) {
    FUZZ_CHECK(encode_item(*item) == whole && item->verify(),
               "decode_item took a non-canonical or unsigned item " + printable(whole));
  } else {
    FUZZ_CHECK(item.error().message.starts_with("invalid pushed item: ") &&
                   item.error().message.size() > 21,
               "unhelpful error " + printable(item.error().message));
  }

  // A hex info-hash as typed by a user.
  if (auto ih = InfoHash::from_hex(value)) {
    auto again = InfoHash::from_hex(ih->hex());
    FUZZ_CHECK(again.ok() && *again == *ih, "InfoHash hex round trip of " + printable(value));
  }

  auto decoded = PointerValue::decode(value);
  if (!decoded) {
    const std::string& message = decoded.error().message;
    FUZZ_CHECK(message.starts_with("invalid pointer value: ") && message.size() > 23,
               "unhelpful error " + printable(message));
    return 0;
  }
  check_decoded(*decoded, value);

  // The item as received: verified over the canonical re-encoding (node.cpp).
  SignedPointer received;
  PublicKey::Bytes key_bytes{};
  std::memcpy(key_bytes.data(), header + kKeyOffset, key_bytes.size());
  received.key = PublicKey(key_bytes);
  received.seq = seq;
  received.value = *decoded;
  std::memcpy(received.signature.data(), header + kSigOffset, received.signature.size());
  if (received.verify()) check_tamper_evident(received, header[kSigOffset]);

  // What we sign ourselves always verifies.
  const SignedPointer ours = SignedPointer::sign(test_key(), seq, *decoded);
  FUZZ_CHECK(ours.verify(), "our own signature does not verify");
  FUZZ_CHECK(bep44_verify(ours.key, ours.signature, "", seq, value),
             "our signature does not verify over the received bytes");
  check_tamper_evident(ours, static_cast<std::uint8_t>(value[8]));
  return 0;
}
