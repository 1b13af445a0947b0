// Web seeds (BEP 19; docs/protocol.md, "Web seeds"): plain HTTP folders that
// serve a site's files, named in its signed pointer. A visitor uses them when
// no peer has what it needs: the metadata (<url><info-hash>.torrent, checked
// against the info-hash before use) and pieces (libtorrent's web seed
// support, every piece checked against the torrent's hashes). The HTTP
// server is trusted for nothing.
#include "sites/web_seeds.hpp"

#include <arpa/inet.h>
#include <httplib.h>

#include <libtorrent/bdecode.hpp>
#include <libtorrent/hasher.hpp>

#include "sites/sites.hpp"
#include "util/log.hpp"

namespace hostless {

Result<WebSeedsChange> checked_web_seeds(const WebSeedsChange& change) {
  if (!change) return change;
  std::vector<std::string> out;
  for (std::string url : *change) {
    if (!url.empty() && url.back() != '/') url += '/';  // always a folder: sites are multi-file
    if (auto ok = check_web_seed(url); !ok) return ok.error();
    if (std::find(out.begin(), out.end(), url) == out.end()) out.push_back(url);
  }
  if (out.size() > kMaxWebSeeds) {
    return make_error("at most " + std::to_string(kMaxWebSeeds) + " web seeds",
                      ErrorKind::kInvalid);
  }
  const auto size = PointerValue(InfoHash{}, out).encode().size();
  if (size > kMaxItemValueSize) {
    return make_error("the web seeds make the signed pointer " + std::to_string(size) +
                          " bytes, over BEP 44's " + std::to_string(kMaxItemValueSize) +
                          "; use fewer or shorter URLs",
                      ErrorKind::kInvalid);
  }
  return WebSeedsChange(std::move(out));
}

namespace {

// One GET of `url`, at most `max` bytes.
Result<std::string> http_get(const std::string& url, std::size_t max,
                             std::chrono::milliseconds timeout) {
  const std::size_t host_start = url.find("://") + 3;
  const std::size_t path_start = url.find('/', host_start);
  const std::string origin = url.substr(0, path_start);
  const std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
  httplib::Client client(origin);
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout).count();
  client.set_connection_timeout(std::max<long>(1, secs), 0);
  client.set_read_timeout(std::max<long>(1, secs), 0);
  client.set_follow_location(false);
  std::string body;
  bool too_big = false;
  auto res = client.Get(path, [&](const char* data, std::size_t n) {
    if (body.size() + n > max) {
      too_big = true;
      return false;
    }
    body.append(data, n);
    return true;
  });
  if (too_big) return make_error(url + " is larger than " + std::to_string(max >> 20) + " MiB");
  if (!res)
    return make_error(url + ": " + httplib::to_string(res.error()), ErrorKind::kUnavailable);
  if (res->status != 200) {
    return make_error(url + " answered " + std::to_string(res->status), ErrorKind::kNotFound);
  }
  return body;
}

// The info dictionary of a .torrent, if its SHA-1 is `ih`.
Result<std::string> info_of(const std::string& torrent, const InfoHash& ih) {
  lt::error_code ec;
  lt::bdecode_node root = lt::bdecode(torrent, ec);
  if (ec || root.type() != lt::bdecode_node::dict_t) return make_error("not a .torrent file");
  lt::bdecode_node info = root.dict_find_dict("info");
  if (!info) return make_error("a .torrent file without an info dictionary");
  const auto section = info.data_section();
  const lt::sha1_hash got = lt::hasher(section).final();
  if (std::memcmp(got.data(), ih.bytes().data(), InfoHash::kSize) != 0) {
    return make_error("its info dictionary is not the version's (another info-hash)",
                      ErrorKind::kRefused);
  }
  return std::string(section.data(), section.size());
}

}  // namespace

Result<std::string> fetch_metadata_from_web_seeds(const std::vector<std::string>& urls,
                                                  const InfoHash& ih, std::size_t max,
                                                  std::chrono::milliseconds timeout) {
  std::string errors;
  for (const auto& base : urls) {
    const std::string url = base + ih.hex() + ".torrent";
    auto body = http_get(url, max, timeout);
    Result<std::string> info = body ? info_of(*body, ih) : Result<std::string>(body.error());
    if (info) return info;
    errors += (errors.empty() ? "" : "; ") + url + ": " + info.error().message;
  }
  return make_error("no web seed gave the metadata (" + errors + ")", ErrorKind::kUnavailable);
}

bool local_web_seed(std::string_view url) {
  std::size_t start = url.find("://");
  if (start == std::string_view::npos) return true;
  start += 3;
  std::string_view host = url.substr(start, url.find_first_of("/?#", start) - start);
  if (auto at = host.rfind('@'); at != std::string_view::npos) host.remove_prefix(at + 1);
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  std::string h(host);
  for (auto& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (h == "localhost" || (h.size() > 10 && h.compare(h.size() - 10, 10, ".localhost") == 0)) {
    return true;
  }
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    const std::uint32_t a = ntohl(v4.s_addr);
    return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 || (a >> 16) == 0xa9fe ||
           (a >> 20) == 0xac1 || (a >> 16) == 0xc0a8 || (a >> 22) == (100u << 2 | 1);
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    const auto* b = v6.s6_addr;
    static const std::uint8_t loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return std::memcmp(b, loopback, 16) == 0 || (b[0] & 0xfe) == 0xfc ||
           (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || IN6_IS_ADDR_UNSPECIFIED(&v6) ||
           IN6_IS_ADDR_V4MAPPED(&v6);
  }
  return false;
}

std::vector<std::string> SiteManager::web_seeds_of(const SiteAddress& address, const InfoHash& ih) {
  auto record = catalog_.site(address);
  if (!record || !*record || !(*record)->pointer) return {};
  const SignedPointer& p = *(*record)->pointer;
  if (p.value.ih != ih) return {};
  std::vector<std::string> out;
  for (const auto& url : p.value.web_seeds) {
    if (options_.local_web_seeds || !local_web_seed(url)) out.push_back(url);
  }
  return out;
}

}  // namespace hostless
