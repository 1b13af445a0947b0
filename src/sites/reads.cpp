// The sites layer's reads: verified bytes of a version's file for the
// gateway, from the store when the file is whole, else from the swarm with
// piece deadlines ahead of the reader.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <libtorrent/torrent_info.hpp>

#include "sites/sites.hpp"
#include "util/log.hpp"

namespace hostless {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

Result<std::string> SiteManager::read(const SiteVersion& version, const ServedFile& file,
                                      std::uint64_t offset, std::size_t max_bytes,
                                      std::chrono::milliseconds timeout) {
  if (offset >= file.size) return std::string();
  // A complete version is read from disk at once: no libtorrent round trip.
  if (auto path = complete_file(version.info_hash, file.index)) {
    return read_stored(*path, offset, std::min<std::uint64_t>(file.size, offset + max_bytes));
  }
  auto ih = InfoHash::from_hex(version.info_hash);
  if (!ih) return ih.error();
  auto h = node_.find_torrent(*ih);
  if (!h.is_valid()) {
    return make_error("this version of the site is no longer held", ErrorKind::kNotFound);
  }
  auto ti = h.torrent_file();
  if (!ti) return make_error("the site's metadata is missing");
  const auto& files = ti->files();
  const lt::file_index_t index(file.index);
  const std::uint64_t piece_len = static_cast<std::uint64_t>(ti->piece_length());
  const std::uint64_t base = static_cast<std::uint64_t>(files.file_offset(index));
  const auto piece_of = [&](std::uint64_t off) {
    return lt::piece_index_t(static_cast<int>((base + off) / piece_len));
  };

  const lt::piece_index_t first = piece_of(offset);
  if (!h.have_piece(first)) {
    // A file of priority 0 (in the media/ of a feed followed without it) is
    // fetched when read: whole, into its own file (libtorrent writes a file
    // it does not want to its part file, which is not served). Asked only
    // here, before any of it is fetched: a warm read costs no extra call.
    if (h.file_priority(index) == lt::dont_download) {
      h.file_priority(index, lt::default_priority);
    }
    // Ask for this piece now and the next few soon after; a seek (Range)
    // moves the deadlines with it.
    const lt::piece_index_t last = piece_of(std::min(file.size, offset + kReadAhead) - 1);
    const auto ask = [&] {
      int ms = 0;
      for (auto p = first; p <= last; ++p, ms += 100) {
        if (h.have_piece(p)) continue;
        h.piece_priority(p, lt::top_priority);
        h.set_piece_deadline(p, ms);
      }
    };
    const auto deadline = Clock::now() + timeout;
    auto next_check = Clock::now();  // the first pass asks at once
    PeerSearch search;
    if (auto address = SiteAddress::parse(version.address)) {
      search.web_seeds = web_seeds_of(*address, *ih);
    }
    int retries = 0;
    while (!h.have_piece(first)) {
      if (Clock::now() >= next_check) {
        // Ask (again: a concurrent priority change can drop a deadline). And
        // with every peer lost (they restart or go away), look them up again.
        next_check = Clock::now() + std::chrono::seconds(3);
        ask();
        auto st = h.status({});
        if (st.errc && !recover_hybrid_error(st, retries)) {
          // Stopped (a full disk, say): waiting would not bring the piece.
          return make_error(torrent_error_text(st));
        }
        announce_if_alone(node_, st, search);
      }
      auto seen = node_.piece_events();
      if (h.have_piece(first)) break;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0 || stopping_) {
        auto st = h.status({});
        LogLine(LogLevel::kWarning)
            << "read of " << version.address << " piece " << static_cast<int>(first)
            << " timed out: priority "
            << static_cast<int>(static_cast<std::uint8_t>(h.piece_priority(first))) << ", peers "
            << st.num_peers << ", seeds " << st.num_seeds << ", state "
            << static_cast<int>(st.state) << ", download " << st.download_payload_rate << " B/s";
        return make_error("no peer sent this part of the file within " +
                              std::to_string(timeout.count() / 1000) + " s",
                          stopping_ ? ErrorKind::kShuttingDown : ErrorKind::kUnavailable);
      }
      node_.wait_piece_event(seen, std::min(left, std::chrono::milliseconds(250)));
    }
  }
  if (auto a = SiteAddress::parse(version.address)) start_background(*a, version.info_hash, h);

  // Everything from `offset` to the end of the verified run that starts there.
  std::uint64_t end = std::min<std::uint64_t>(file.size, offset + max_bytes);
  for (lt::piece_index_t p(static_cast<int>(first) + 1); p <= piece_of(end - 1); ++p) {
    if (!h.have_piece(p)) {
      end = static_cast<std::uint64_t>(static_cast<int>(p)) * piece_len - base;
      break;
    }
  }
  note_if_complete(version.info_hash, h);
  // Pieces had may still be on their way to disk (Node::flush_writes).
  if (!node_.flush_writes(h, kFlushTimeout)) {
    return make_error("the file's bytes did not reach the disk in time",
                      stopping_ ? ErrorKind::kShuttingDown : ErrorKind::kUnavailable);
  }
  return read_stored(version_dir(*ih) / files.file_path(index), offset, end);
}

Result<std::string> SiteManager::read_stored(const fs::path& path, std::uint64_t from,
                                             std::uint64_t to) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return make_error("cannot open the stored file: " + std::string(strerror(errno)),
                      ErrorKind::kIo);
  }
  std::string out(to - from, '\0');
  std::size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(from + got));
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (got != out.size()) {
    return make_error("the stored file is shorter than its metadata says", ErrorKind::kIo);
  }
  return out;
}

std::optional<fs::path> SiteManager::complete_file(const std::string& ih_hex, int index) {
  std::lock_guard lock(visits_mutex_);
  if (!complete_.count(ih_hex)) return std::nullopt;
  auto paths = disk_paths_.find(ih_hex);
  auto ih = InfoHash::from_hex(ih_hex);
  if (paths == disk_paths_.end() || !ih || index < 0 ||
      static_cast<std::size_t>(index) >= paths->second.size()) {
    return std::nullopt;
  }
  return version_dir(*ih) / paths->second[static_cast<std::size_t>(index)];
}

void SiteManager::note_if_complete(const std::string& ih_hex, const lt::torrent_handle& h) {
  {
    std::lock_guard lock(visits_mutex_);
    if (complete_.count(ih_hex)) return;
    auto [it, fresh] = completion_checked_.try_emplace(ih_hex, Clock::now());
    if (!fresh && Clock::now() - it->second < std::chrono::seconds(1)) return;
    it->second = Clock::now();
  }
  if (!h.status({}).is_seeding) return;  // (a version, once whole, stays whole)
  // Read from disk from now on, without a look at libtorrent: once all of
  // it is there.
  if (!node_.flush_writes(h, kFlushTimeout)) return;
  std::lock_guard lock(visits_mutex_);
  complete_.insert(ih_hex);
}

std::uint64_t SiteManager::bytes_have(const SiteVersion& version, const ServedFile& file) {
  if (complete_file(version.info_hash, file.index)) return file.size;
  auto ih = InfoHash::from_hex(version.info_hash);
  if (!ih) return 0;
  auto h = node_.find_torrent(*ih);
  if (!h.is_valid()) return 0;
  auto progress = h.file_progress(lt::torrent_handle::piece_granularity);
  if (file.index < 0 || static_cast<std::size_t>(file.index) >= progress.size()) return 0;
  return static_cast<std::uint64_t>(progress[static_cast<std::size_t>(file.index)]);
}

}  // namespace hostless
