#include "feed/post.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

#include "protocol/address.hpp"
#include "util/encoding.hpp"

namespace hostless::feed {

namespace {

constexpr std::string_view kIdAlphabet = "0123456789abcdefghjkmnpqrstvwxyz";
constexpr std::size_t kTimeDigits = 13;
constexpr std::size_t kRandomDigits = 4;

bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

}  // namespace

std::string make_post_id(std::uint64_t time_us, std::uint32_t random) {
  std::string id(kTimeDigits + kRandomDigits, '0');
  for (std::size_t i = 0; i < kTimeDigits; ++i) {
    id[kTimeDigits - 1 - i] = kIdAlphabet[time_us & 31];
    time_us >>= 5;
  }
  for (std::size_t i = 0; i < kRandomDigits; ++i) {
    id[kTimeDigits + kRandomDigits - 1 - i] = kIdAlphabet[random & 31];
    random >>= 5;
  }
  return id;
}

std::optional<std::uint64_t> post_id_time(std::string_view id) {
  if (id.size() != kTimeDigits + kRandomDigits) return std::nullopt;
  std::uint64_t t = 0;
  for (std::size_t i = 0; i < id.size(); ++i) {
    auto d = kIdAlphabet.find(id[i]);
    if (d == std::string_view::npos) return std::nullopt;
    // 13 digits hold 65 bits: the first may only use the low 4.
    if (i == 0 && d > 15) return std::nullopt;
    if (i < kTimeDigits) t = (t << 5) | d;
  }
  return t;
}

std::size_t count_code_points(std::string_view utf8) {
  std::size_t n = 0;
  for (char c : utf8) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

Status check_text(std::string_view text) {
  if (!valid_utf8(text)) return make_error("the text is not valid UTF-8");
  bool blank = true;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7F) {
      return make_error("the text has a control character (only tab and newline are allowed)");
    }
    if (!std::isspace(u)) blank = false;
  }
  if (blank) return make_error("the text is empty");
  auto n = count_code_points(text);
  if (n > kMaxTextCodePoints) {
    return make_error("the text is too long: " + std::to_string(n) + " characters, at most " +
                      std::to_string(kMaxTextCodePoints));
  }
  return {};
}

std::vector<std::string> find_mentions(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!is_alnum(text[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && is_alnum(text[j])) ++j;
    if (j - i == SiteAddress::kLength) {
      auto a = SiteAddress::parse(text.substr(i, j - i));
      if (a) {
        auto s = a->str();
        if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
      }
    }
    i = j;
  }
  return out;
}

Result<std::string> parse_reply_to(std::string_view text) {
  std::string_view base = text;
  std::string fragment;
  if (auto hash = text.find('#'); hash != std::string_view::npos) {
    base = text.substr(0, hash);
    fragment = std::string(text.substr(hash + 1));
    bool ok = !fragment.empty() && fragment.size() <= 64 &&
              std::all_of(fragment.begin(), fragment.end(),
                          [](char c) { return is_alnum(c) || c == '-' || c == '_'; });
    if (!ok) {
      return make_error("--reply-to: the part after '#' must be a post id (letters and digits)");
    }
  }
  auto parsed = parse_address_and_path(base);
  if (!parsed) return make_error("--reply-to: " + parsed.error().message);
  std::string path = parsed->path;
  for (char c : path) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || c == '"' || c == '<' || c == '>') {
      return make_error("--reply-to: the URL's path has characters a URL cannot hold");
    }
  }
  if (!fragment.empty() && path == "/") path = "/feed.json";
  return "hostless://" + parsed->address.str() + path + (fragment.empty() ? "" : "#" + fragment);
}

std::string media_name(std::string_view post_id, std::string_view file_name) {
  std::string name;
  for (char c : file_name) {
    if (name.size() >= 64) break;
    name +=
        (is_alnum(c) && static_cast<unsigned char>(c) < 0x80) || c == '.' || c == '-' || c == '_'
            ? c
            : '_';
  }
  while (!name.empty() && name[0] == '.') name[0] = '_';
  if (name.empty()) name = "file";
  return std::string(post_id) + "-" + name;
}

std::string mime_type_for(std::string_view file_name) {
  static const std::pair<std::string_view, std::string_view> kTypes[] = {
      {"png", "image/png"},      {"jpg", "image/jpeg"},      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},      {"webp", "image/webp"},     {"svg", "image/svg+xml"},
      {"avif", "image/avif"},    {"mp4", "video/mp4"},       {"webm", "video/webm"},
      {"mp3", "audio/mpeg"},     {"ogg", "audio/ogg"},       {"opus", "audio/opus"},
      {"txt", "text/plain"},     {"pdf", "application/pdf"}, {"json", "application/json"},
      {"zip", "application/zip"}};
  auto dot = file_name.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  std::string ext(file_name.substr(dot + 1));
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& [e, t] : kTypes) {
    if (e == ext) return std::string(t);
  }
  return "application/octet-stream";
}

std::string format_rfc3339(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::int64_t> parse_rfc3339(std::string_view text) {
  std::string s(text);
  int y, mo, d, h, mi, sec, used = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6 ||
      used != 19) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == start) return std::nullopt;
  }
  std::int64_t offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2 || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset = (s[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<std::int64_t>(timegm(&tm)) - offset;
}

}  // namespace hostless::feed
