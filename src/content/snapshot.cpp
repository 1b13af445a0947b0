#include "content/snapshot.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>

#include <libtorrent/torrent_info.hpp>

namespace hostless {
namespace fs = std::filesystem;

namespace {

bool is_hidden(const fs::path& p) {
  auto name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

std::int64_t mtime_ns_of(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

bool inside(const fs::path& root, const fs::path& p) {
  auto r = root.lexically_normal();
  auto q = p.lexically_normal();
  auto [a, b] = std::mismatch(r.begin(), r.end(), q.begin(), q.end());
  return a == r.end() || (std::next(a) == r.end() && a->empty());
}

}  // namespace

Result<std::vector<ScannedFile>> scan_folder(const fs::path& dir_in) {
  std::error_code ec;
  if (!fs::exists(dir_in, ec)) {
    return make_error(dir_in.string() + " does not exist; give the folder that holds the site");
  }
  if (!fs::is_directory(dir_in, ec)) {
    return make_error(dir_in.string() + " is not a folder; give the folder that holds the site");
  }
  fs::path dir = fs::canonical(dir_in, ec);
  if (ec) return make_error("cannot open " + dir_in.string() + ": " + ec.message());

  std::vector<ScannedFile> out;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
  if (ec) return make_error("cannot read " + dir.string() + ": " + ec.message());
  // A failed increment ends the iteration, so its error is checked before the end test:
  // otherwise an unreadable sub-folder would silently cut the site short.
  std::error_code step_ec;
  fs::path last = dir;
  for (;; it.increment(step_ec)) {
    if (step_ec) {
      fs::path where = fs::is_directory(last, ec) ? last : last.parent_path();
      return make_error("cannot read " + where.string() + ": " + step_ec.message() +
                        "; fix its permissions (chmod a+rx) or move it out of the folder");
    }
    if (it == fs::recursive_directory_iterator()) break;
    const fs::path& p = it->path();
    last = p;
    if (is_hidden(p)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) it.disable_recursion_pending();
      continue;
    }
    std::string rel = p.lexically_relative(dir).generic_string();
    fs::path source = p;
    if (it->is_symlink(ec)) {
      fs::path target = fs::canonical(p, ec);
      if (ec) return make_error("broken symlink " + rel + ": " + ec.message());
      if (!inside(dir, target)) {
        return make_error("symlink " + rel + " points outside " + dir.string() + " (to " +
                          target.string() +
                          "); hostless publishes only what is inside the folder: replace the "
                          "link with a copy of the file");
      }
      if (fs::is_directory(target, ec)) {
        return make_error("symlink " + rel +
                          " points to a folder; linked folders are not published: replace "
                          "the link with the folder itself");
      }
      source = target;
    } else if (it->is_directory(ec)) {
      continue;
    }
    struct stat st {};
    if (::lstat(source.c_str(), &st) != 0) {
      return make_error("cannot read " + rel + ": " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
      return make_error(rel +
                        " is not a regular file (device, pipe or socket); remove it from "
                        "the folder");
    }
    if (::access(source.c_str(), R_OK) != 0) {
      return make_error("cannot read " + rel +
                        ": permission denied; fix its permissions (chmod "
                        "a+r) or move it out of the folder");
    }
    out.push_back(
        {rel, source, static_cast<std::uint64_t>(st.st_size), mtime_ns_of(st),
         FileId{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)}});
  }
  if (out.empty()) {
    return make_error(dir.string() +
                      " has no files to publish (dotfiles are skipped); add an "
                      "index.html");
  }
  std::sort(out.begin(), out.end(),
            [](const ScannedFile& a, const ScannedFile& b) { return a.rel_path < b.rel_path; });
  return out;
}

std::string serialize_hashes(const FileHashes& h) {
  std::string out;
  auto put64 = [&](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  put64(h.piece_size);
  put64(h.size);
  put64(h.v1.size());
  put64(h.v2.size());
  for (const auto& x : h.v1) out.append(x.data(), x.size());
  out.append(h.v1_last_unpadded.data(), h.v1_last_unpadded.size());
  for (const auto& x : h.v2) out.append(x.data(), x.size());
  out.append(h.root.data(), h.root.size());
  return out;
}

std::optional<FileHashes> deserialize_hashes(std::string_view data) {
  std::size_t pos = 0;
  auto get64 = [&](std::uint64_t& v) {
    if (data.size() - pos < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) {
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(data[pos + i])) << (8 * i);
    }
    pos += 8;
    return true;
  };
  FileHashes h;
  std::uint64_t n1 = 0, n2 = 0;
  if (!get64(h.piece_size) || !get64(h.size) || !get64(n1) || !get64(n2)) return std::nullopt;
  if (n1 > (1u << 24) || n2 > (1u << 24)) return std::nullopt;
  if (data.size() - pos != n1 * 20 + 20 + n2 * 32 + 32) return std::nullopt;
  for (std::uint64_t i = 0; i < n1; ++i, pos += 20) h.v1.emplace_back(data.substr(pos, 20));
  h.v1_last_unpadded = lt::sha1_hash(data.substr(pos, 20));
  pos += 20;
  for (std::uint64_t i = 0; i < n2; ++i, pos += 32) h.v2.emplace_back(data.substr(pos, 32));
  h.root = lt::sha256_hash(data.substr(pos, 32));
  return h;
}

Result<Snapshot> make_snapshot(const std::vector<ScannedFile>& files, const std::string& name,
                               const fs::path& staging, const fs::path& store_root,
                               const std::vector<HashCacheEntry>& cache, unsigned threads,
                               const SnapshotProgress& progress) {
  Snapshot snap;
  snap.staging = staging;
  snap.file_count = files.size();
  std::vector<std::uint64_t> sizes;
  for (const auto& f : files) {
    sizes.push_back(f.size);
    snap.total_bytes += f.size;
  }
  const std::uint64_t piece_size = choose_piece_size(sizes);

  std::map<std::string, const HashCacheEntry*> by_path;
  for (const auto& e : cache) by_path[e.rel_path] = &e;

  std::error_code ec;
  fs::path root = staging / name;
  fs::create_directories(root, ec);
  if (ec) return make_error("cannot create " + root.string() + ": " + ec.message());

  std::vector<SiteFile> site_files(files.size());
  std::vector<std::size_t> to_hash;
  std::uint64_t linked = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto& f = files[i];
    site_files[i].path = f.rel_path;
    fs::path dest = root / fs::path(f.rel_path);
    fs::create_directories(dest.parent_path(), ec);
    if (ec) return make_error("cannot create " + dest.parent_path().string() + ": " + ec.message());

    auto hit = by_path.find(f.rel_path);
    if (hit != by_path.end() && hit->second->size == f.size &&
        hit->second->mtime_ns == f.mtime_ns && hit->second->piece_size == piece_size) {
      auto hashes = deserialize_hashes(hit->second->hashes);
      fs::path old = store_root / hit->second->store_path;
      std::error_code lec;
      if (hashes && fs::file_size(old, lec) == f.size && !lec) {
        fs::create_hard_link(old, dest, lec);
        if (!lec) {
          site_files[i].hashes = std::move(*hashes);
          linked += f.size;
          if (progress) progress("copying", linked, snap.total_bytes);
          continue;
        }
      }
    }
    to_hash.push_back(i);
  }

  // The rest is copied and hashed in one pass, on every thread.
  std::vector<fs::path> sources, copies;
  std::vector<FileId> ids;
  std::uint64_t hash_total = 0;
  for (auto i : to_hash) {
    sources.push_back(files[i].source);
    ids.push_back(files[i].id);
    copies.push_back(root / fs::path(files[i].rel_path));
    hash_total += files[i].size;
  }
  snap.hashed_bytes = hash_total;
  if (!sources.empty()) {
    std::uint64_t hashed = 0;
    auto hashes = copy_and_hash_files(
        sources, copies, piece_size, threads,
        [&](std::uint64_t n) {
          hashed += n;
          if (progress) progress("hashing", hashed, hash_total);
        },
        ids);
    if (!hashes) return hashes.error();
    // What was read must be what the scan saw: a file saved meanwhile may be
    // a mix of its old and new bytes.
    for (std::size_t k = 0; k < to_hash.size(); ++k) {
      const ScannedFile& f = files[to_hash[k]];
      struct stat after {};
      if (::lstat(f.source.c_str(), &after) != 0) {
        return make_error(f.rel_path + " disappeared while publishing; try again");
      }
      if (!(FileId{static_cast<std::uint64_t>(after.st_dev),
                   static_cast<std::uint64_t>(after.st_ino)} == f.id)) {
        return make_error(f.rel_path +
                          " was replaced (by a symbolic link or another file) while it was being "
                          "published; publish again");
      }
      if (static_cast<std::uint64_t>(after.st_size) != f.size || mtime_ns_of(after) != f.mtime_ns) {
        return make_error(f.rel_path +
                          " changed while it was being published; publish again once it is saved");
      }
      site_files[to_hash[k]].hashes = std::move((*hashes)[k]);
    }
  }

  for (std::size_t i = 0; i < files.size(); ++i) {
    snap.cache.push_back({files[i].rel_path, files[i].size, files[i].mtime_ns, piece_size,
                          serialize_hashes(site_files[i].hashes),
                          (fs::path(name) / fs::path(files[i].rel_path)).generic_string()});
  }
  auto torrent = build_site_torrent(name, std::move(site_files));
  if (!torrent) return torrent.error();
  snap.torrent = std::move(*torrent);
  lt::error_code lec;
  lt::torrent_info ti(snap.torrent.data(), static_cast<int>(snap.torrent.size()), lec);
  if (lec) return make_error("built an unreadable torrent: " + lec.message());
  snap.info_hash = v1_info_hash(ti);
  return snap;
}

}  // namespace hostless
