// The sites layer's answer to a full disk: a version that cannot be written
// stops with an error that says how much space is missing, everything else
// keeps being served, and the download goes on by itself once there is room.
#include <cerrno>
#include <set>

#include "sites/sites.hpp"
#include "util/log.hpp"

namespace hostless {
namespace fs = std::filesystem;

namespace {

// Room a version needs beyond its missing bytes before it is tried again
// (libtorrent's resume data, the catalog's journal).
constexpr std::uint64_t kSlack = 1 << 20;

std::string mib(std::uint64_t bytes) {
  return std::to_string((bytes + (1 << 19)) >> 20) + " MiB";
}

// libtorrent's mmap storage reports a write that hit a full disk as the
// SIGBUS it caught, "Bad address"; the POSIX backend as ENOSPC.
bool disk_error(const lt::torrent_status& st) {
  if (!st.errc) return false;
  const auto& category = st.errc.category();
  const bool os_error =
      category == boost::system::system_category() || category == boost::system::generic_category();
  return (os_error && (st.errc.value() == ENOSPC || st.errc.value() == EFAULT)) ||
         st.error_file >= 0 || st.error_file == lt::torrent_status::error_file_partfile;
}

std::uint64_t missing_bytes(const lt::torrent_status& st) {
  return st.has_metadata && st.total_wanted > st.total_wanted_done
             ? static_cast<std::uint64_t>(st.total_wanted - st.total_wanted_done)
             : 0;
}

}  // namespace

std::string SiteManager::torrent_error_text(const lt::torrent_status& st) const {
  if (!st.errc) return "";
  if (!disk_error(st)) return st.errc.message();
  std::error_code ec;
  const auto space = fs::space(store_dir(), ec);
  const std::uint64_t missing = missing_bytes(st);
  const bool full = st.errc.value() == ENOSPC || st.errc.value() == EFAULT ||
                    (!ec && space.available < missing + kSlack);
  if (!full) return "cannot write to the store: " + st.errc.message();
  return "the disk is full: " + store_dir().string() + " has " +
         (ec ? std::string("no") : mib(space.available)) + " free and this version needs " +
         mib(missing) + " more; free some space and the download goes on by itself";
}

bool SiteManager::waits_for_space(const InfoHash& ih) const {
  auto h = node_.find_torrent(ih);
  return h.is_valid() && disk_error(h.status({}));
}

void SiteManager::retry_disk_errors() {
  std::set<InfoHash> held;
  if (auto versions = catalog_.versions()) {
    for (const auto& v : *versions) held.insert(v.info_hash);
  }
  if (auto sites = catalog_.sites()) {
    for (const auto& s : *sites) {
      if (s.info_hash) held.insert(*s.info_hash);
      if (s.pointer) held.insert(s.pointer->value.ih);
    }
  }
  std::error_code ec;
  const auto space = fs::space(store_dir(), ec);
  if (ec) return;
  std::uint64_t promised = 0;  // room already handed to versions retried now
  for (const auto& ih : held) {
    auto h = node_.find_torrent(ih);
    if (!h.is_valid()) continue;
    const auto st = h.status({});
    if (!disk_error(st)) continue;
    const std::uint64_t missing = missing_bytes(st);
    if (space.available < promised + missing + kSlack) continue;
    promised += missing + kSlack;
    LogLine(LogLevel::kInfo) << mib(space.available) << " free in the store again: going on with "
                             << ih.hex() << " (" << st.errc.message() << ")";
    // libtorrent paused it with the error (a failed write it does not take
    // for a full disk, such as the mmap backend's EFAULT): both go.
    h.clear_error();
    h.resume();
  }
}

}  // namespace hostless
