// The lists a feed site may carry: following.json (the feeds its author
// follows) and blocklist.json (sites to block), written and read from peers.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "feed/detail.hpp"
#include "feed/feed.hpp"
#include "protocol/address.hpp"
#include "util/files.hpp"

namespace hostless::feed {
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using detail::parse_peer_json;

namespace detail {

Result<json> parse_peer_json(std::string_view text, const char* name, std::size_t max,
                             const char* limit_says) {
  if (text.size() > max) {
    return make_error(std::string(name) + " is " + std::to_string(text.size() >> 10) +
                      " KiB, more than the " + std::to_string(max >> 10) + " KiB " + limit_says);
  }
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return make_error(std::string(name) + " is not valid JSON");
  return doc;
}

}  // namespace detail

std::string render_following(std::vector<Followed> list) {
  std::sort(list.begin(), list.end(),
            [](const Followed& a, const Followed& b) { return a.address < b.address; });
  list.erase(
      std::unique(list.begin(), list.end(),
                  [](const Followed& a, const Followed& b) { return a.address == b.address; }),
      list.end());
  std::string out = "[";
  for (std::size_t i = 0; i < list.size(); ++i) {
    json e = {{"address", list[i].address}, {"petname", list[i].petname}};
    out += (i ? ",\n " : "\n ") + e.dump();
  }
  return out + (list.empty() ? "]\n" : "\n]\n");
}

Status save_following(const fs::path& dir, const std::vector<Followed>& list) {
  const std::string text = render_following(list);
  const fs::path p = dir / "following.json";
  if (auto old = read_file(p); old && *old == text) return {};
  if (!write_file_atomic(p, text)) return make_error("cannot write " + p.string());
  return {};
}

Result<std::vector<Followed>> parse_following(std::string_view text) {
  auto parsed = parse_peer_json(text, "following.json", kMaxFollowingBytes, "read");
  if (!parsed) return parsed.error();
  const json doc = std::move(*parsed);
  if (!doc.is_array()) return make_error("following.json is not a JSON array");
  if (doc.size() > kMaxFollowing) {
    return make_error("following.json lists " + std::to_string(doc.size()) +
                      " feeds, more than the " + std::to_string(kMaxFollowing) + " read");
  }
  std::vector<Followed> out;
  for (const auto& e : doc) {
    if (!e.is_object() || !e.contains("address") || !e["address"].is_string()) continue;
    auto a = SiteAddress::parse(e["address"].get<std::string>());
    if (!a || a->str() != e["address"].get<std::string>()) continue;
    Followed f{a->str(), ""};
    if (e.contains("petname") && e["petname"].is_string()) {
      if (auto h = parse_handle(e["petname"].get<std::string>());
          h && *h == e["petname"].get<std::string>()) {
        f.petname = *h;
      }
    }
    out.push_back(std::move(f));
  }
  return out;
}

Result<std::vector<Listed>> parse_blocklist(std::string_view text) {
  auto parsed = parse_peer_json(text, "blocklist.json", kMaxBlocklistBytes, "read");
  if (!parsed) return parsed.error();
  const json doc = std::move(*parsed);
  if (!doc.is_object() || doc.value("hostless_blocklist", json()) != 1 ||
      !doc.contains("blocked") || !doc["blocked"].is_array()) {
    return make_error(
        "blocklist.json is not a hostless blocklist (an object with \"hostless_blocklist\": 1 "
        "and a \"blocked\" list)");
  }
  const json& blocked = doc["blocked"];
  if (blocked.size() > kMaxBlocklistEntries) {
    return make_error("blocklist.json lists " + std::to_string(blocked.size()) +
                      " sites, more than the " + std::to_string(kMaxBlocklistEntries) + " read");
  }
  std::vector<Listed> out;
  for (const auto& e : blocked) {
    if (!e.is_object() || !e.contains("address") || !e["address"].is_string()) continue;
    auto a = SiteAddress::parse(e["address"].get<std::string>());
    if (!a || a->str() != e["address"].get<std::string>()) continue;
    Listed l{a->str(), ""};
    if (e.contains("reason") && e["reason"].is_string()) {
      const std::string reason = e["reason"].get<std::string>();
      if (check_text(reason) && count_code_points(reason) <= kMaxReasonCodePoints) {
        l.reason = reason;
      }
    }
    out.push_back(std::move(l));
  }
  return out;
}

std::string render_blocklist(std::vector<Listed> list) {
  std::sort(list.begin(), list.end(),
            [](const Listed& a, const Listed& b) { return a.address < b.address; });
  std::string out = "{\"hostless_blocklist\": 1, \"blocked\": [";
  for (std::size_t i = 0; i < list.size(); ++i) {
    out += i ? ",\n  " : "\n  ";
    out += json{{"address", list[i].address}, {"reason", list[i].reason}}.dump();
  }
  out += list.empty() ? "]}\n" : "\n]}\n";
  return out;
}

}  // namespace hostless::feed
