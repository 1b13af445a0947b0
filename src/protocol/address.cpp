#include "protocol/address.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <vector>

#include "util/encoding.hpp"

namespace hostless {

const char* const kAcceptedAddressForms =
    "Accepted forms:\n"
    "  <address>                                 52 z-base32 characters\n"
    "  hostless://<address>[/path]\n"
    "  http(s)://<address>.localhost[:port][/path]\n"
    "  <64 hex characters>                       the site's public key\n"
    "  magnet:?xs=urn:btpk:<64 hex characters>   BEP 46 magnet link";

namespace {

constexpr std::string_view kWhitespace = " \t\r\n\v\f";
constexpr std::size_t kHexLength = PublicKey::kSize * 2;
constexpr std::string_view kBtpkPrefix = "urn:btpk:";

// Every parse error names what was wrong, then lists what would have worked.
Error parse_error(const std::string& problem) {
  return make_error(problem + "\n" + kAcceptedAddressForms, ErrorKind::kInvalid);
}

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) { return ascii_lower(c); });
  return out;
}

bool starts_with_nocase(std::string_view text, std::string_view lowercase_prefix) {
  return text.size() >= lowercase_prefix.size() &&
         ascii_lower(text.substr(0, lowercase_prefix.size())) == lowercase_prefix;
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(kWhitespace);
  return text.substr(first, last - first + 1);
}

// User input echoed back in a message: bounded, and without control bytes
// that could garble a terminal.
std::string quote(std::string_view text) {
  constexpr std::size_t kMaxShown = 80;
  std::string out = "'";
  for (char c : text.substr(0, kMaxShown)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7f ? c : '?');
  }
  out += text.size() > kMaxShown ? "...'" : "'";
  return out;
}

// "character 7 ('l')", or "character 7 (byte 0xc3)" for a non-printable byte.
std::string describe_char_at(std::string_view text, std::size_t index) {
  const auto u = static_cast<unsigned char>(text[index]);
  std::string out = "character " + std::to_string(index + 1) + " (";
  if (u > 0x20 && u < 0x7f) {
    out += '\'';
    out += text[index];
    out += '\'';
  } else {
    constexpr std::string_view kDigits = "0123456789abcdef";
    out += "byte 0x";
    out += kDigits[u >> 4];
    out += kDigits[u & 0x0f];
  }
  return out + ")";
}

bool is_hex_digit(char c) {
  c = ascii_lower(c);
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// The z-base32 alphabet is exactly the lowercase letters and digits except
// 0, l, v and 2; saying it that way tells the user what to look for.
bool is_zbase32_char(char c) {
  c = ascii_lower(c);
  const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  return alnum && c != '0' && c != 'l' && c != 'v' && c != '2';
}

PublicKey key_from_bytes(const std::vector<std::uint8_t>& bytes) {
  PublicKey::Bytes array{};
  std::copy_n(bytes.begin(), array.size(), array.begin());
  return PublicKey(array);
}

// `what` names the text in messages, e.g. "the key after xs=urn:btpk:".
Result<PublicKey> key_from_hex(std::string_view text, const std::string& what) {
  if (text.size() != kHexLength) {
    return parse_error(what + " is " + std::to_string(text.size()) +
                       " characters long; a public key is " + std::to_string(kHexLength) +
                       " hex characters");
  }
  const auto bad = std::find_if_not(text.begin(), text.end(), is_hex_digit);
  if (bad != text.end()) {
    return parse_error(what + " is not hex: " +
                       describe_char_at(text, static_cast<std::size_t>(bad - text.begin())) +
                       " is not a hex digit");
  }
  return key_from_bytes(*from_hex(text));
}

// `what` names the text in messages; `length_hint` completes "a site address
// is 52 z-base32 characters" where other lengths are also accepted.
Result<PublicKey> key_from_zbase32(std::string_view text, const std::string& what,
                                   std::string_view length_hint = "") {
  if (text.size() != SiteAddress::kLength) {
    return parse_error(
        what + " is " + std::to_string(text.size()) + " characters long; a site address is " +
        std::to_string(SiteAddress::kLength) + " z-base32 characters" + std::string(length_hint));
  }
  const auto bad = std::find_if_not(text.begin(), text.end(), is_zbase32_char);
  if (bad != text.end()) {
    return parse_error(what + " has a character z-base32 does not use: " +
                       describe_char_at(text, static_cast<std::size_t>(bad - text.begin())) +
                       " (addresses use a-z and 1-9, never 0, l, v or 2)");
  }
  const auto bytes = from_zbase32(ascii_lower(text), PublicKey::kSize);
  if (!bytes) {
    // Length and characters are fine, so only the padding bits of the last
    // character can be wrong: 256 bits leave it just one meaningful bit.
    return parse_error(what + " cannot end in " + quote(text.substr(text.size() - 1)) +
                       ": the last character of an address is always 'y' or 'o' (a typo?)");
  }
  return key_from_bytes(*bytes);
}

Result<PublicKey> key_from_bare(std::string_view token) {
  if (token.size() == kHexLength) return key_from_hex(token, "the 64-character public key");
  return key_from_zbase32(token, "the address", ", or 64 hex characters for a public key");
}

// Decodes %XX escapes, which some tools write for the colons in urn:btpk:;
// a malformed escape is kept as it is.
std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && is_hex_digit(text[i + 1]) &&
        is_hex_digit(text[i + 2])) {
      out.push_back(static_cast<char>((*from_hex(text.substr(i + 1, 2)))[0]));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

Result<PublicKey> key_from_magnet(std::string_view text) {
  const auto query_start = text.find('?');
  if (query_start == std::string_view::npos) {
    return parse_error(
        "the magnet link has no parameters; a site's magnet link is magnet:?xs=urn:btpk:<64 hex>");
  }
  std::vector<std::string> site_keys;
  bool salted = false;
  std::optional<std::string> torrent_hash_kind;
  std::string_view rest = text.substr(query_start + 1);
  while (!rest.empty()) {
    const auto end = std::min(rest.find('&'), rest.size());
    const std::string_view param = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));

    const auto eq = param.find('=');
    // Magnet parameters may be numbered (xt.1, xt.2): the name is before the dot.
    std::string name = ascii_lower(param.substr(0, std::min(eq, param.find('.'))));
    const std::string value =
        eq == std::string_view::npos ? "" : percent_decode(param.substr(eq + 1));
    if (name == "xs" && starts_with_nocase(value, kBtpkPrefix)) {
      site_keys.push_back(ascii_lower(value.substr(kBtpkPrefix.size())));
    } else if (name == "s" && !value.empty()) {
      salted = true;
    } else if (name == "xt" && starts_with_nocase(value, "urn:btih:")) {
      torrent_hash_kind = "xt=urn:btih:, a v1 info-hash";
    } else if (name == "xt" && starts_with_nocase(value, "urn:btmh:")) {
      torrent_hash_kind = "xt=urn:btmh:, a v2 info-hash";
    }
  }
  if (salted) {
    return parse_error(
        "salted BEP 46 names are not supported: a site is named by its public key alone (remove "
        "s=)");
  }
  if (site_keys.empty()) {
    if (torrent_hash_kind) {
      return parse_error(
          "this is a torrent magnet link (" + *torrent_hash_kind +
          "), not a site address; a site's BEP 46 magnet link has xs=urn:btpk:<64 hex>");
    }
    return parse_error(
        "the magnet link has no xs=urn:btpk:<64 hex> parameter, so it names no site");
  }
  if (std::any_of(site_keys.begin(), site_keys.end(),
                  [&](const std::string& k) { return k != site_keys.front(); })) {
    return parse_error(
        "the magnet link names more than one site (several different xs=urn:btpk: keys)");
  }
  return key_from_hex(site_keys.front(), "the key after xs=urn:btpk:");
}

// Parses what follows "scheme://". `scheme` is lowercase.
Result<AddressAndPath> parse_url(std::string_view scheme, std::string_view rest) {
  const auto authority_end = std::min(rest.find_first_of("/?#"), rest.size());
  const std::string_view authority = rest.substr(0, authority_end);
  std::string_view path = rest.substr(authority_end);
  path = path.substr(0, std::min(path.find_first_of("?#"), path.size()));
  std::string path_or_root = path.empty() ? "/" : std::string(path);

  if (scheme == "hostless") {
    if (authority.empty()) return parse_error("the URL has no address after hostless://");
    if (authority.find(':') != std::string_view::npos) {
      return parse_error("hostless:// URLs take no port: " + quote(authority));
    }
    auto key = key_from_zbase32(authority, "the address after hostless://");
    if (!key) return key.error();
    return AddressAndPath{SiteAddress(*key), std::move(path_or_root)};
  }

  // http(s): the site is the first label of <address>.localhost[:port].
  std::string_view host = authority;
  const auto colon = authority.rfind(':');
  if (colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    const std::string_view port = authority.substr(colon + 1);
    // An empty port means the default one, as in browsers.
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (!port.empty() && (ec != std::errc() || end != port.data() + port.size() || value > 65535)) {
      return parse_error("the URL has a bad port: " + quote(port));
    }
  }
  const std::string lower_host = ascii_lower(host);
  constexpr std::string_view kSuffix = ".localhost";
  if (lower_host == "localhost" || lower_host == "127.0.0.1" || lower_host == "[::1]") {
    return parse_error("the URL names the gateway itself (" + quote(host) +
                       "), not a site; a site lives at http://<address>.localhost[:port]/");
  }
  if (!lower_host.ends_with(kSuffix)) {
    return parse_error("the URL's host " + quote(host) +
                       " is not a local gateway host; expected <address>.localhost");
  }
  const std::string_view label = host.substr(0, host.size() - kSuffix.size());
  if (label.find('.') != std::string_view::npos) {
    return parse_error("the URL's host " + quote(host) +
                       " has more than one name before .localhost; expected <address>.localhost");
  }
  auto key = key_from_zbase32(label, "the address before .localhost");
  if (!key) return key.error();
  return AddressAndPath{SiteAddress(*key), std::move(path_or_root)};
}

}  // namespace

std::string PublicKey::hex() const {
  return to_hex(bytes_);
}

std::string SiteAddress::str() const {
  return to_zbase32(key_.bytes());
}

std::string SiteAddress::magnet() const {
  return "magnet:?xs=" + std::string(kBtpkPrefix) + key_.hex();
}

Result<SiteAddress> SiteAddress::parse(std::string_view text) {
  auto parsed = parse_address_and_path(text);
  if (!parsed) return parsed.error();
  return parsed->address;
}

Result<AddressAndPath> parse_address_and_path(std::string_view text) {
  const std::string_view input = trim(text);
  if (input.empty()) return parse_error("the address is empty");

  if (starts_with_nocase(input, "magnet:")) {
    auto key = key_from_magnet(input);
    if (!key) return key.error();
    return AddressAndPath{SiteAddress(*key), "/"};
  }

  const auto scheme_end = input.find("://");
  if (scheme_end != std::string_view::npos) {
    const std::string scheme = ascii_lower(input.substr(0, scheme_end));
    if (scheme != "hostless" && scheme != "http" && scheme != "https") {
      return parse_error("URLs with the scheme " + quote(input.substr(0, scheme_end)) +
                         " are not site addresses; use hostless://, http:// or https://");
    }
    return parse_url(scheme, input.substr(scheme_end + 3));
  }

  auto key = key_from_bare(input);
  if (!key) return key.error();
  return AddressAndPath{SiteAddress(*key), "/"};
}

Result<std::string> parse_handle(std::string_view text) {
  if (!text.empty() && text.front() == '@') text.remove_prefix(1);
  std::string h;
  for (char c : text) h += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  if (h.empty()) return h;
  const auto bad = [&](const std::string& why) {
    return make_error("invalid handle \"" + std::string(text) + "\": " + why + " (a handle is 1-" +
                      std::to_string(kMaxHandle) +
                      " letters, digits, '-' or '_', starting with a letter, e.g. alice)");
  };
  if (h.size() > kMaxHandle) return bad("too long");
  if (h.front() < 'a' || h.front() > 'z') return bad("it must start with a letter");
  for (char c : h) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return bad("it may not contain '" + std::string(1, c) + "'");
  }
  return h;
}

bool is_dns_name(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.find('.') == std::string_view::npos) return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find('.', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view label = name.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    start = end + 1;
  }
  return true;
}

std::optional<std::string> parse_site_name(std::string_view text) {
  std::string name = ascii_lower(text);
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (is_dns_name(name)) return name;
  auto handle = parse_handle(name);
  if (handle && !handle->empty()) return *handle;
  return std::nullopt;
}

}  // namespace hostless
