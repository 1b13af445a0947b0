// `hostless torrent`: a site version as a .torrent, or its v1 twin
// (content/v1_twin.hpp), which this node seeds while it holds the version.
#include <libtorrent/bdecode.hpp>
#include <libtorrent/torrent_info.hpp>

#include "content/site_torrent.hpp"
#include "content/v1_twin.hpp"
#include "sites/sites.hpp"
#include "util/encoding.hpp"
#include "util/files.hpp"
#include "util/log.hpp"

namespace hostless {
namespace fs = std::filesystem;

namespace {

// `torrent` with BEP 19's url-list (outside the info dictionary, so the
// info-hash stays): appended as the last key, which keeps the keys sorted
// unless one sorts after "url-list" (then unchanged: our torrents have none).
std::string with_url_list(const std::string& torrent, const std::vector<std::string>& urls) {
  if (urls.empty() || torrent.empty() || torrent.back() != 'e') return torrent;
  lt::error_code ec;
  const lt::bdecode_node top = lt::bdecode(torrent, ec);
  if (ec || top.type() != lt::bdecode_node::dict_t) return torrent;
  for (int i = 0; i < top.dict_size(); ++i) {
    if (top.dict_at(i).first >= "url-list") return torrent;
  }
  std::string out = torrent.substr(0, torrent.size() - 1) + "8:url-listl";
  for (const auto& url : urls) out += std::to_string(url.size()) + ":" + url;
  return out + "ee";
}

Result<std::shared_ptr<lt::torrent_info>> parse_torrent(const std::string& bytes) {
  lt::error_code ec;
  auto ti = std::make_shared<lt::torrent_info>(bytes.data(), static_cast<int>(bytes.size()), ec);
  if (ec) return make_error(ec.message());
  return ti;
}

// The v1 info-hash of a kept twin, if the file is there and whole.
std::optional<InfoHash> twin_info_hash(const fs::path& file) {
  const auto bytes = read_file(file);
  if (!bytes) return std::nullopt;
  auto ti = parse_torrent(*bytes);
  if (!ti) return std::nullopt;
  return v1_info_hash(**ti);
}

}  // namespace

Result<TorrentExport> SiteManager::torrent(const std::string& address, TorrentForm form) {
  auto addr = SiteAddress::parse(address);
  if (!addr) return addr.error();
  // The version this node holds as the site's current one (kept up to date
  // for the sites it publishes, mirrors or follows), else the DHT's.
  std::optional<SignedPointer> ptr = known_pointer(*addr);
  if (!ptr || !fs::exists(torrent_path(ptr->value.ih))) {
    auto resolved = resolve_pointer(*addr, options_.resolve_timeout);
    if (!resolved) return resolved.error();
    ptr = std::move(*resolved);
  }
  const InfoHash& ih = ptr->value.ih;
  auto bytes = read_file(torrent_path(ih));
  if (!bytes) {
    auto h = fetch_version(*addr, ih, Progress{});
    if (!h) return h.error();
    bytes = read_file(torrent_path(ih));
    if (!bytes) return make_error("could not export the torrent of " + addr->str());
  }
  if (form == TorrentForm::kV1) {
    auto twin = v1_twin(ih);
    if (!twin) return twin.error();
    bytes = std::move(*twin);
  }
  auto ti = parse_torrent(*bytes);
  if (!ti) return make_error("cannot read the exported torrent: " + ti.error().message);
  TorrentExport out;
  out.bytes = with_url_list(*bytes, ptr->value.web_seeds);
  out.info_hash = v1_info_hash(**ti).hex();
  out.magnet = torrent_magnet(v1_info_hash(**ti), (*ti)->name(), ptr->value.web_seeds);
  return out;
}

fs::path SiteManager::twin_path(const InfoHash& ih) const {
  return options_.home / "torrents" / (ih.hex() + ".v1.torrent");
}

Result<std::string> SiteManager::v1_twin(const InfoHash& ih) {
  std::lock_guard lock(twins_mutex_);
  const lt::torrent_handle h = node_.find_torrent(ih);
  const lt::torrent_status st = status_of(h);
  if (!st.handle.is_valid()) return make_error("this node no longer holds version " + ih.hex());
  if (!st.is_seeding) {
    return make_error(
        "this node holds only part of the site's current version (a visit keeps what was read, "
        "a follow no media), and a v1 twin is seeded from the whole: mirror the site first "
        "(hostless mirror ADDR)",
        ErrorKind::kUnavailable);
  }
  std::string bytes;
  if (auto kept = read_file(twin_path(ih))) {
    bytes = std::move(*kept);
  } else {
    auto ti = h.torrent_file();
    if (!ti) return make_error("version " + ih.hex() + " has no metadata");
    auto built = build_v1_twin(*ti, version_dir(ih));
    if (!built) return built.error();
    bytes.assign(built->begin(), built->end());
    if (!write_file_atomic(twin_path(ih), bytes)) {
      return make_error("cannot write " + twin_path(ih).string(), ErrorKind::kIo);
    }
  }
  auto ti = parse_torrent(bytes);
  if (!ti) return make_error("cannot read " + twin_path(ih).string() + ": " + ti.error().message);
  if (!node_.find_torrent(v1_info_hash(**ti)).is_valid()) {
    lt::add_torrent_params atp;
    atp.ti = std::move(*ti);
    atp.save_path = version_dir(ih).string();
    // Its files are the version's, whole and checked as the twin was made:
    // seed mode trusts them, yet checks each piece the first time a peer asks
    // for it. Upload only: it never writes into the version's files.
    atp.flags |= lt::torrent_flags::seed_mode | lt::torrent_flags::upload_mode;
    if (auto added = node_.add_torrent(std::move(atp)); !added) return added.error();
  }
  return bytes;
}

void SiteManager::seed_twins() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(options_.home / "torrents", ec)) {
    const std::string file = e.path().filename().string();
    constexpr std::string_view kSuffix = ".v1.torrent";
    if (file.size() <= kSuffix.size() || !file.ends_with(kSuffix)) continue;
    auto ih = InfoHash::from_hex(file.substr(0, file.size() - kSuffix.size()));
    if (!ih) continue;
    if (!fs::exists(version_dir(*ih), ec)) {
      drop_twin(*ih);  // the version was freed meanwhile
      continue;
    }
    // Restored from resume data with the other torrents, flags and all; kept
    // from writing even if they were lost.
    if (auto twin = twin_info_hash(e.path())) {
      if (auto h = node_.find_torrent(*twin); h.is_valid()) {
        h.set_flags(lt::torrent_flags::upload_mode);
      }
    }
  }
}

void SiteManager::drop_twin(const InfoHash& ih) {
  if (auto twin = twin_info_hash(twin_path(ih))) {
    node_.remove_torrent(node_.find_torrent(*twin), false);
  } else if (!fs::exists(twin_path(ih))) {
    return;
  }
  std::error_code fec;
  fs::remove(twin_path(ih), fec);
}

}  // namespace hostless
