#include "fake_site.hpp"

#include <algorithm>

#include "fuzz_check.hpp"

namespace hostless::fuzz {
namespace {

std::shared_ptr<const SiteVersion> make_version(
    const std::string& address,
    std::initializer_list<std::pair<std::string, std::uint64_t>> files) {
  auto version = std::make_shared<SiteVersion>();
  version->address = address;
  version->seq = 7;
  version->info_hash = std::string(40, 'a');
  int index = 0;
  for (const auto& [path, size] : files) {
    version->files[path] =
        ServedFile{index, size, "\"" + address.substr(0, 1) + "-" + std::to_string(index) + "\""};
    ++index;
  }
  return version;
}

Error no(const std::string& what) {
  return make_error("not in the fuzz build: " + what);
}

}  // namespace

FakeSiteService::FakeSiteService()
    : ready_(make_version(kReadySite,
                          {
                              {"index.html", 120},
                              {"404.html", 50},
                              {"about.html", 700},
                              {"docs/index.html", 300},
                              {"docs/a b.txt", 10},
                              {"docs/guide/intro.md", 2000},
                              {"img/logo.png", 5000},
                              {"empty.txt", 0},
                              {"caf\xc3\xa9.css", 33},
                              {"big.bin", 3 * kMaxRead + 17},
                              {"slow.html", 4000},
                              {"broken.bin", 100000},
                          })),
      bare_(make_version(kBareSite, {{"index.html", 10}, {"docs/index.html", 20}})) {}

Result<std::string> FakeSiteService::start_publish(const std::string&, const std::string&,
                                                   const WebSeedsChange&) {
  return no("publish");
}
Result<std::string> FakeSiteService::start_get(const std::string&, const std::string&,
                                               const std::string&) {
  return no("get");
}
std::optional<nlohmann::json> FakeSiteService::job(const std::string& id) {
  if (id == "job-1") return nlohmann::json{{"id", id}, {"kind", "publish"}, {"state", "done"}};
  return std::nullopt;
}
Result<std::string> FakeSiteService::start_mirror(const std::string&) {
  return no("mirror");
}
Result<nlohmann::json> FakeSiteService::unmirror(const std::string&) {
  return no("unmirror");
}
Result<std::string> FakeSiteService::start_follow(const std::string&, const std::string&, bool) {
  return no("follow");
}
Result<std::string> FakeSiteService::start_post(const PostRequest&) {
  return no("post");
}
Result<std::string> FakeSiteService::start_subscribe(const std::string&) {
  return no("subscribe");
}
Result<nlohmann::json> FakeSiteService::unsubscribe(const std::string&) {
  return no("unsubscribe");
}
nlohmann::json FakeSiteService::blocklists() {
  return nlohmann::json::array();
}
Result<nlohmann::json> FakeSiteService::unfollow(const std::string&) {
  return no("unfollow");
}
Result<nlohmann::json> FakeSiteService::block(const std::string&) {
  return no("block");
}
Result<nlohmann::json> FakeSiteService::unblock(const std::string&) {
  return no("unblock");
}
nlohmann::json FakeSiteService::network() {
  return nlohmann::json::object();
}
nlohmann::json FakeSiteService::following() {
  return nlohmann::json::array();
}
nlohmann::json FakeSiteService::timeline(std::size_t) {
  return {{"posts", nlohmann::json::array()}, {"feeds", nlohmann::json::array()}};
}
Result<nlohmann::json> FakeSiteService::resolve(const std::string& address,
                                                std::chrono::milliseconds) {
  if (address != kReadySite) return no("resolve");
  return nlohmann::json{{"address", address}, {"seq", ready_->seq}};
}
Result<TorrentExport> FakeSiteService::torrent(const std::string&, TorrentForm) {
  return no("torrent");
}
nlohmann::json FakeSiteService::status() {
  return {{"dht_nodes", 0}, {"sites", 2}};
}
nlohmann::json FakeSiteService::sites() {
  return nlohmann::json::array({{{"address", kReadySite}}, {{"address", kBareSite}}});
}

VisitState FakeSiteService::visit(const std::string& address, const std::string& first_path) {
  FUZZ_CHECK(address.size() == 52, "visit of a malformed address " + printable(address));
  FUZZ_CHECK(first_path.empty() || first_path.front() != '/',
             "visit with an unnormalised path " + printable(first_path));
  VisitState state;
  if (address == kReadySite || address == kBareSite) {
    state.stage = "ready";
    state.version = address == kReadySite ? ready_ : bare_;
  } else if (address == kFailedSite) {
    state.stage = "failed";
    state.error = "no valid pointer found for this address <in the \"DHT\">";
  } else {
    state.stage = "finding the name";
  }
  return state;
}

bool FakeSiteService::knows(const std::string& address) {
  return address == kReadySite || address == kBareSite;
}

VisitState FakeSiteService::wait_visit(const std::string& address, const std::string& first_path,
                                       std::chrono::milliseconds) {
  return visit(address, first_path);
}

const std::string& FakeSiteService::path_of(const SiteVersion& version,
                                            const ServedFile& file) const {
  FUZZ_CHECK(&version == ready_.get() || &version == bare_.get(), "read of an unknown version");
  for (const auto& [path, f] : version.files) {
    if (f.index == file.index && f.size == file.size && f.etag == file.etag) return path;
  }
  check_failed(__FILE__, __LINE__, "path_of", "a file that is not in its version");
}

Result<std::string> FakeSiteService::read(const SiteVersion& version, const ServedFile& file,
                                          std::uint64_t offset, std::size_t max_bytes,
                                          std::chrono::milliseconds) {
  const std::string& path = path_of(version, file);
  FUZZ_CHECK(offset < file.size, "read of " + path + " at " + std::to_string(offset) +
                                     ", past its end " + std::to_string(file.size));
  FUZZ_CHECK(max_bytes > 0, "read of 0 bytes");
  if (path == "broken.bin" && offset > 0) return make_error("the swarm went away");
  const auto n =
      static_cast<std::size_t>(std::min<std::uint64_t>({max_bytes, file.size - offset, kMaxRead}));
  // Recognisable bytes: each is its offset in the file, mod 251.
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>((offset + i) % 251);
  return out;
}

std::uint64_t FakeSiteService::bytes_have(const SiteVersion& version, const ServedFile& file) {
  return path_of(version, file) == "slow.html" ? file.size / 2 : file.size;
}

const ServedFile* FakeSiteService::file_by_etag(const std::string& etag, std::string& path) const {
  for (const auto& version : {ready_, bare_}) {
    for (const auto& [p, f] : version->files) {
      if (f.etag == etag) {
        path = p;
        return &f;
      }
    }
  }
  return nullptr;
}

}  // namespace hostless::fuzz
