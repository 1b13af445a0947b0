// Byte-string encodings used in addresses and records: hex and z-base32.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hostless {

// Lowercase hex of `bytes`.
std::string to_hex(std::span<const std::uint8_t> bytes);
// Decodes hex (either case); nullopt on odd length or a non-hex character.
std::optional<std::vector<std::uint8_t>> from_hex(std::string_view text);

// z-base32 (alphabet "ybndrfg8ejkmcpqxot1uwisza345h769", as Tahoe-LAFS, pkarr),
// most significant bit first, no padding. 32 bytes encode to 52 characters.
std::string to_zbase32(std::span<const std::uint8_t> bytes);
// Decodes lowercase z-base32 of exactly `byte_count` bytes; nullopt on a bad
// character, a wrong length, or non-zero trailing bits (so every byte string
// has exactly one accepted spelling).
std::optional<std::vector<std::uint8_t>> from_zbase32(std::string_view text,
                                                      std::size_t byte_count);

// Untrusted bytes made safe to print in an error message: in double quotes,
// at most `max_shown` bytes then "...", control bytes, '"', '\\' and DEL as
// \xNN; bytes >= 0x80 kept when `keep_non_ascii` (UTF-8 names), else escaped.
std::string quote_for_message(std::string_view s, std::size_t max_shown, bool keep_non_ascii);

// Well-formed UTF-8 (Unicode Table 3-7): no overlong forms, surrogates or
// code points past U+10FFFF.
bool valid_utf8(std::string_view s);

// Percent-encodes all but RFC 3986's unreserved characters (a query value).
std::string percent_encode(std::string_view s);
// Percent-encodes ("%0D", upper-case hex) every byte `keep` refuses.
std::string percent_encode_if(std::string_view s, bool (*keep)(unsigned char));

// `s` with & < > " ' replaced by character references: safe in HTML and XML
// text and in quoted attribute values. With `drop_controls`, also without
// the control characters XML 1.0 cannot hold (all below 0x20 but tab, LF
// and CR).
std::string escape_markup(std::string_view s, bool drop_controls = false);

// A duration for a message, as people read it: "0.03 s", "4.2 s", "31 s".
std::string format_seconds(std::chrono::milliseconds d);

}  // namespace hostless
