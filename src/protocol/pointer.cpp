// BEP 44 signing buffers and signatures (libsodium) and the strict BEP 46
// pointer value codec.
#include "protocol/pointer.hpp"

#include <sodium.h>

#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "protocol/keys.hpp"
#include "util/encoding.hpp"

namespace hostless {

namespace {

const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// A short, printable rendering of untrusted bytes for error messages.
std::string quoted(std::string_view s) {
  return quote_for_message(s, 32, false);
}

Error pointer_error(const std::string& what) {
  return make_error("invalid pointer value: " + what);
}

// A cursor over the bencoded input; every read checks bounds.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool at_end() const { return pos_ >= in_.size(); }
  char peek() const { return in_[pos_]; }
  void skip() { ++pos_; }
  std::size_t remaining() const { return in_.size() - pos_; }

  // Reads a canonical bencoded byte string "<len>:<bytes>", where the cursor
  // is on the first digit of <len>.
  Result<std::string_view> read_string(const char* what) {
    const std::size_t start = pos_;
    std::size_t len = 0;
    while (!at_end() && peek() >= '0' && peek() <= '9') {
      len = len * 10 + static_cast<std::size_t>(peek() - '0');
      skip();
      // Anything longer than the input is truncated; stop before overflow.
      if (len > in_.size()) return pointer_error(std::string(what) + " is truncated");
    }
    const std::size_t digits = pos_ - start;
    if (digits == 0) {
      return pointer_error(std::string("malformed length of ") + what);
    }
    if (digits > 1 && in_[start] == '0') {
      return pointer_error(std::string("non-canonical bencoding: leading zero in length of ") +
                           what);
    }
    if (at_end()) return pointer_error(std::string(what) + " is truncated");
    if (peek() != ':') return pointer_error(std::string("malformed length of ") + what);
    skip();
    if (len > remaining()) return pointer_error(std::string(what) + " is truncated");
    std::string_view s = in_.substr(pos_, len);
    pos_ += len;
    return s;
  }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

// What a bencoded value starting with `c` is, for error messages.
std::string bencode_type_name(char c) {
  switch (c) {
    case 'd':
      return "a dictionary";
    case 'l':
      return "a list";
    case 'i':
      return "an integer";
    default:
      if (c >= '0' && c <= '9') return "a string";
      return "the unexpected byte " + quoted(std::string_view(&c, 1));
  }
}

}  // namespace

// --- InfoHash ---------------------------------------------------------------

Result<InfoHash> InfoHash::from_hex(std::string_view hex) {
  if (hex.size() != kSize * 2) {
    return make_error("an info-hash must be " + std::to_string(kSize * 2) +
                      " hex characters, got " + std::to_string(hex.size()));
  }
  auto decoded = hostless::from_hex(hex);
  if (!decoded || decoded->size() != kSize) {
    return make_error("an info-hash must be " + std::to_string(kSize * 2) +
                      " hex characters; found a non-hex character in " + quoted(hex));
  }
  Bytes bytes{};
  std::memcpy(bytes.data(), decoded->data(), kSize);
  return InfoHash(bytes);
}

std::string InfoHash::hex() const {
  return to_hex(bytes_);
}

// --- BEP 44 -----------------------------------------------------------------

std::string bep44_signing_buffer(std::string_view salt, std::int64_t seq,
                                 std::string_view bencoded_value) {
  std::string buf;
  buf.reserve(salt.size() + bencoded_value.size() + 48);
  if (!salt.empty()) {
    buf += "4:salt";
    buf += std::to_string(salt.size());
    buf += ':';
    buf += salt;
  }
  buf += "3:seqi";
  buf += std::to_string(seq);
  buf += "e1:v";
  buf += bencoded_value;
  return buf;
}

Signature bep44_sign(const SecretKey& key, std::string_view salt, std::int64_t seq,
                     std::string_view bencoded_value) {
  ensure_sodium();
  const std::string buf = bep44_signing_buffer(salt, seq, bencoded_value);
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, bytes_of(buf), buf.size(), key.data());
  return sig;
}

bool bep44_verify(const PublicKey& key, const Signature& sig, std::string_view salt,
                  std::int64_t seq, std::string_view bencoded_value) {
  ensure_sodium();
  const std::string buf = bep44_signing_buffer(salt, seq, bencoded_value);
  return crypto_sign_verify_detached(sig.data(), bytes_of(buf), buf.size(), key.bytes().data()) ==
         0;
}

// --- PointerValue -----------------------------------------------------------

std::string PointerValue::encode() const {
  std::string out = "d2:ih20:";
  out.append(reinterpret_cast<const char*>(ih.bytes().data()), InfoHash::kSize);
  if (!web_seeds.empty()) {
    out += "2:wsl";
    for (const auto& url : web_seeds) out += std::to_string(url.size()) + ":" + url;
    out += 'e';
  }
  out += 'e';
  return out;
}

Status check_web_seed(std::string_view url) {
  const auto bad = [&](const std::string& why) {
    return make_error("web seed " + quoted(url) + ": " + why +
                          " (a web seed is an http:// or https:// URL of a folder, at most " +
                          std::to_string(kMaxWebSeedLength) + " characters)",
                      ErrorKind::kInvalid);
  };
  if (url.size() > kMaxWebSeedLength) return bad("too long");
  const bool http = url.rfind("http://", 0) == 0, https = url.rfind("https://", 0) == 0;
  if (!http && !https) return bad("not an http:// or https:// URL");
  const std::size_t host_start = http ? 7 : 8;
  if (url.size() == host_start || url[host_start] == '/') return bad("no host");
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7f) return bad("it holds a space, a control or a non-ASCII byte");
  }
  if (url.back() != '/')
    return bad("it must end in '/' (BEP 19: a folder for a multi-file torrent)");
  return {};
}

Result<PointerValue> PointerValue::decode(std::string_view bencoded) {
  if (bencoded.empty()) return pointer_error("empty");
  if (bencoded.size() > kMaxItemValueSize) {
    return pointer_error("oversized (" + std::to_string(bencoded.size()) +
                         " bytes; BEP 44 allows at most " + std::to_string(kMaxItemValueSize) +
                         ")");
  }
  Reader r(bencoded);
  if (r.peek() != 'd') {
    return pointer_error("expected a bencoded dictionary, found " + bencode_type_name(r.peek()));
  }
  r.skip();

  // Keys in order: "ih", then optionally "ws" (a list of web seed URLs).
  std::optional<InfoHash> ih;
  PointerValue value;
  bool have_ws = false;
  while (true) {
    if (r.at_end()) return pointer_error("truncated dictionary (missing 'e')");
    if (r.peek() == 'e') {
      r.skip();
      break;
    }
    if (r.peek() < '0' || r.peek() > '9') {
      return pointer_error("dictionary key must be a string, found " + bencode_type_name(r.peek()));
    }
    auto key = r.read_string("dictionary key");
    if (!key) return key.error();
    if (*key == "ws") {
      if (!ih || have_ws) return pointer_error("\"ws\" out of order or repeated");
      have_ws = true;
      if (r.at_end() || r.peek() != 'l') return pointer_error("\"ws\" must be a list");
      r.skip();
      while (true) {
        if (r.at_end()) return pointer_error("truncated \"ws\" list");
        if (r.peek() == 'e') {
          r.skip();
          break;
        }
        if (r.peek() < '0' || r.peek() > '9') {
          return pointer_error("\"ws\" must hold strings, found " + bencode_type_name(r.peek()));
        }
        auto url = r.read_string("a web seed");
        if (!url) return url.error();
        if (auto ok = check_web_seed(*url); !ok) return pointer_error(ok.error().message);
        if (value.web_seeds.size() >= kMaxWebSeeds) return pointer_error("too many web seeds");
        value.web_seeds.emplace_back(*url);
      }
      if (value.web_seeds.empty()) return pointer_error("empty \"ws\" list");
      continue;
    }
    if (*key != "ih") {
      return pointer_error("unexpected key " + quoted(*key) + " (only \"ih\" and \"ws\")");
    }
    if (ih) return pointer_error("duplicate key \"ih\"");
    if (r.at_end()) return pointer_error("missing value for key \"ih\"");
    if (r.peek() < '0' || r.peek() > '9') {
      return pointer_error("\"ih\" must be a 20-byte string, found " + bencode_type_name(r.peek()));
    }
    auto v = r.read_string("\"ih\"");
    if (!v) return v.error();
    if (v->size() != InfoHash::kSize) {
      return pointer_error("\"ih\" must be a 20-byte string, got " + std::to_string(v->size()) +
                           " bytes");
    }
    InfoHash::Bytes bytes{};
    std::memcpy(bytes.data(), v->data(), InfoHash::kSize);
    ih = InfoHash(bytes);
  }
  if (!r.at_end()) {
    return pointer_error(std::to_string(r.remaining()) + " trailing byte(s) after the dictionary");
  }
  if (!ih) return pointer_error("missing key \"ih\"");
  value.ih = *ih;
  // Only known keys in order and canonical lengths were read, so the input
  // is exactly our encoding; keep the invariant explicit.
  if (value.encode() != bencoded) return pointer_error("non-canonical bencoding");
  return value;
}

// --- SignedPointer ----------------------------------------------------------

SignedPointer SignedPointer::sign(const SecretKey& key, std::int64_t seq,
                                  const PointerValue& value) {
  SignedPointer p;
  p.key = key.public_key();
  p.seq = seq;
  p.value = value;
  p.signature = bep44_sign(key, {}, seq, value.encode());
  return p;
}

bool SignedPointer::verify() const {
  return bep44_verify(key, signature, {}, seq, value.encode());
}

// --- Whole items ------------------------------------------------------------

std::string encode_item(const SignedPointer& pointer) {
  std::string out = "d1:k32:";
  out.append(reinterpret_cast<const char*>(pointer.key.bytes().data()), PublicKey::kSize);
  out += "3:seqi" + std::to_string(pointer.seq) + "e3:sig64:";
  out.append(reinterpret_cast<const char*>(pointer.signature.data()), pointer.signature.size());
  out += "1:v" + pointer.value.encode() + "e";
  return out;
}

Result<SignedPointer> decode_item(std::string_view bencoded) {
  const auto bad = [](const std::string& why) { return make_error("invalid pushed item: " + why); };
  if (bencoded.size() > kMaxItemSize) {
    return bad("oversized (" + std::to_string(bencoded.size()) + " bytes)");
  }
  if (bencoded.size() < 2 || bencoded.front() != 'd' || bencoded.back() != 'e') {
    return bad("not a bencoded dictionary");
  }
  Reader r(bencoded.substr(1, bencoded.size() - 2));
  // Each key in canonical (sorted) order, then its value.
  const auto key = [&](std::string_view want) -> Status {
    if (r.at_end() || r.peek() < '0' || r.peek() > '9') return bad("missing key " + quoted(want));
    auto k = r.read_string("a key");
    if (!k) return bad(k.error().message);
    if (*k != want) return bad("expected key " + quoted(want) + ", found " + quoted(*k));
    return {};
  };
  const auto bytes = [&](std::string_view name, std::size_t size) -> Result<std::string_view> {
    if (auto s = key(name); !s) return s.error();
    if (r.at_end() || r.peek() < '0' || r.peek() > '9') return bad(quoted(name) + " not a string");
    auto v = r.read_string(name.data());
    if (!v) return bad(v.error().message);
    if (v->size() != size) return bad(quoted(name) + " must be " + std::to_string(size) + " bytes");
    return *v;
  };
  SignedPointer p;
  auto k = bytes("k", PublicKey::kSize);
  if (!k) return k.error();
  PublicKey::Bytes kb{};
  std::memcpy(kb.data(), k->data(), kb.size());
  p.key = PublicKey(kb);
  if (auto s = key("seq"); !s) return s.error();
  if (r.at_end() || r.peek() != 'i') return bad("\"seq\" not an integer");
  r.skip();
  std::int64_t seq = 0;
  int digits = 0;
  while (!r.at_end() && r.peek() >= '0' && r.peek() <= '9' && digits < 18) {
    seq = seq * 10 + (r.peek() - '0');
    r.skip();
    ++digits;
  }
  if (digits == 0 || r.at_end() || r.peek() != 'e') return bad("\"seq\" malformed");
  r.skip();
  p.seq = seq;
  auto sig = bytes("sig", p.signature.size());
  if (!sig) return sig.error();
  std::memcpy(p.signature.data(), sig->data(), p.signature.size());
  if (auto s = key("v"); !s) return s.error();
  const std::size_t value_start = bencoded.size() - 1 - r.remaining();
  auto value = PointerValue::decode(bencoded.substr(value_start, r.remaining()));
  if (!value) return bad(value.error().message);
  p.value = *value;
  // Only canonical spellings of each field were read (sorted keys, no
  // leading zeros), so the input is exactly our encoding; keep it explicit.
  if (encode_item(p) != bencoded) return bad("non-canonical bencoding");
  if (!p.verify()) return bad("its signature does not verify");
  return p;
}

}  // namespace hostless
