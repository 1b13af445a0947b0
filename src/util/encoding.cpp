#include "util/encoding.hpp"

#include <array>
#include <cstdio>

namespace hostless {

namespace {

constexpr std::string_view kHexDigits = "0123456789abcdef";
constexpr std::string_view kZBase32Alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769";

// Value of each byte as a z-base32 digit, or -1 when the byte is not one.
constexpr std::array<std::int8_t, 256> make_zbase32_values() {
  std::array<std::int8_t, 256> values{};
  values.fill(-1);
  for (std::size_t i = 0; i < kZBase32Alphabet.size(); ++i) {
    values[static_cast<unsigned char>(kZBase32Alphabet[i])] = static_cast<std::int8_t>(i);
  }
  return values;
}
constexpr std::array<std::int8_t, 256> kZBase32Values = make_zbase32_values();

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string to_hex(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(kHexDigits[b >> 4]);
    out.push_back(kHexDigits[b & 0x0f]);
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::vector<std::uint8_t> out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int high = hex_value(text[i]);
    const int low = hex_value(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>((high << 4) | low));
  }
  return out;
}

std::string to_zbase32(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  std::uint32_t buffer = 0;  // holds fewer than 5 pending bits between bytes
  int bits = 0;
  for (std::uint8_t b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kZBase32Alphabet[(buffer >> bits) & 0x1f]);
    }
    buffer &= (1u << bits) - 1;
  }
  // The last partial group is padded with zero bits on the right.
  if (bits > 0) out.push_back(kZBase32Alphabet[(buffer << (5 - bits)) & 0x1f]);
  return out;
}

std::optional<std::vector<std::uint8_t>> from_zbase32(std::string_view text,
                                                      std::size_t byte_count) {
  if (text.size() != (byte_count * 8 + 4) / 5) return std::nullopt;
  std::vector<std::uint8_t> out;
  out.reserve(byte_count);
  std::uint32_t buffer = 0;  // holds fewer than 8 pending bits between characters
  int bits = 0;
  for (char c : text) {
    const int value = kZBase32Values[static_cast<unsigned char>(c)];
    if (value < 0) return std::nullopt;
    buffer = (buffer << 5) | static_cast<std::uint32_t>(value);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(buffer >> bits));
      buffer &= (1u << bits) - 1;
    }
  }
  // What is left is the right padding of the last character; accepting
  // non-zero padding would give one byte string several spellings.
  if (buffer != 0) return std::nullopt;
  return out;
}

std::string quote_for_message(std::string_view s, std::size_t max_shown, bool keep_non_ascii) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < max_shown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    bool printable =
        c >= 0x20 && c != 0x7f && c != '"' && c != '\\' && (keep_non_ascii || c < 0x80);
    if (printable) {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > max_shown) out += "...";
  out += '"';
  return out;
}

// Well-formed UTF-8 per Unicode Table 3-7: the narrowed second-byte ranges
// after E0, ED, F0 and F4 reject overlong forms (so "%c0%ae" can't smuggle a
// '.'), surrogates and code points above U+10FFFF.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead == 0xe0) low = 0xa0;
      if (lead == 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead == 0xf0) low = 0x90;
      if (lead == 0xf4) high = 0x8f;
    } else {
      return false;
    }
    if (s.size() - i < length) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto byte = static_cast<unsigned char>(s[i + k]);
      if (byte < low || byte > high) return false;
      low = 0x80;
      high = 0xbf;
    }
    i += length;
  }
  return true;
}

std::string format_seconds(std::chrono::milliseconds d) {
  const double s = static_cast<double>(d.count()) / 1000.0;
  char buf[32];
  if (s < 10) {
    std::snprintf(buf, sizeof buf, s < 1 ? "%.2f s" : "%.1f s", s);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f s", s);
  }
  return buf;
}

std::string percent_encode_if(std::string_view s, bool (*keep)(unsigned char)) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (keep(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string percent_encode(std::string_view s) {
  return percent_encode_if(s, [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
  });
}

std::string escape_markup(std::string_view s, bool drop_controls) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (drop_controls && static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' &&
            c != '\r') {
          break;
        }
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace hostless
