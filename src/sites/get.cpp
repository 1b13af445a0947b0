// `hostless get ADDR DIR`: a site's version written into a folder of the
// user's, resumable (docs/cli.md). The download itself goes to the store
// like any fetch (so it resumes from the pieces verified before an
// interruption); the folder is then filled from the store's verified copy.
#include <sys/stat.h>

#include <fstream>
#include <set>

#include "sites/sites.hpp"
#include "util/files.hpp"

namespace hostless {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// In a folder a get is filling, until it is done: which site it is. A site
// cannot hold it (site files never start with a dot). An export keeps its
// own marker for good: the folder is the export's, to replace.
constexpr const char* kGetMarker = ".hostless-get";
constexpr const char* kExportMarker = ".hostless-export";

// The address a marker names, "" when `dir` has none (or a broken one).
std::string marked_address(const fs::path& dir, const char* marker) {
  auto text = read_file_capped(dir / marker, 4096);
  if (!text) return "";
  auto j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("address") || !j["address"].is_string()) return "";
  return j["address"].get<std::string>();
}

// True when `a` and `b` hold the same bytes.
bool same_bytes(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  const auto size = fs::file_size(a, ec);
  if (ec || !fs::is_regular_file(b, ec) || fs::file_size(b, ec) != size || ec) return false;
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  std::vector<char> ba(1 << 16), bb(1 << 16);
  while (fa && fb) {
    fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
    fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
    if (fa.gcount() != fb.gcount() ||
        std::memcmp(ba.data(), bb.data(), static_cast<std::size_t>(fa.gcount())) != 0) {
      return false;
    }
  }
  return fa.eof() && fb.eof();
}

std::optional<ino_t> inode_of(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return std::nullopt;
  return st.st_ino;
}

}  // namespace

Result<std::string> SiteManager::start_export(const std::string& address,
                                              const std::string& outdir) {
  auto addr = SiteAddress::parse(address);
  if (!addr) return addr.error();
  fs::path out(outdir);
  if (!out.is_absolute()) {
    return make_error("export needs an absolute output path", ErrorKind::kInvalid);
  }
  return run_job("export", [this, a = *addr, out](const Progress& progress) {
    return get(a, out, progress, std::nullopt, true);
  });
}

Result<json> SiteManager::get(const SiteAddress& address, const fs::path& outdir,
                              const Progress& progress, const std::optional<InfoHash>& version,
                              bool web_seed) {
  std::error_code ec;
  // A folder an interrupted get of this site left (its marker says so) is
  // filled on; any other non-empty folder is the user's, never written to.
  const char* marker = web_seed ? kExportMarker : kGetMarker;
  const bool resuming = fs::exists(outdir, ec) && !fs::is_empty(outdir, ec);
  if (resuming) {
    const std::string marked = marked_address(outdir, marker);
    if (marked.empty()) {
      return make_error(outdir.string() + " is not empty; give a new or empty folder" +
                            (web_seed ? " (or one an export of the same site wrote)"
                                      : " (a folder an interrupted `hostless get` of the same "
                                        "site left is resumed)"),
                        ErrorKind::kInvalid);
    }
    if (marked != address.str()) {
      return make_error(outdir.string() + " holds " +
                            (web_seed ? "an export" : "an interrupted `hostless get`") +
                            " of another site (" + marked + "); give a new or empty folder",
                        ErrorKind::kInvalid);
    }
  }
  const bool existed = fs::exists(outdir, ec);
  fs::create_directories(outdir, ec);
  if (ec) {
    return make_error("cannot create " + outdir.string() + ": " + ec.message(), ErrorKind::kIo);
  }
  if (!write_file_atomic(outdir / marker, json{{"address", address.str()}}.dump() + "\n", 0644)) {
    return make_error("cannot write in " + outdir.string(), ErrorKind::kIo);
  }
  // A get that fails before it wrote a file (no such site, refused metadata,
  // a timeout) leaves the folder as it found it: nothing there to resume
  // (the store keeps what was downloaded). A crash leaves the marker.
  struct Untouched {
    fs::path dir, marker;
    bool existed, armed = true;
    ~Untouched() {
      if (!armed) return;
      std::error_code ec;
      fs::remove(marker, ec);
      if (!existed) fs::remove(dir, ec);  // only if empty
    }
  } untouched{outdir, outdir / marker, existed || resuming};
  if (resuming) untouched.armed = false;

  Result<SignedPointer> ptr = make_error("no pointer: a version asked for by its info-hash");
  if (!version) {
    if (progress.fn) progress.fn("finding the name", 0, 0);
    ptr = resolve_pointer(address, options_.resolve_timeout);
    if (!ptr) return ptr.error();
  }
  const InfoHash ih = version ? *version : ptr->value.ih;
  auto h = fetch_version(address, ih, progress);
  if (!h) return h.error();

  auto ti = h->torrent_file();
  if (!ti) return make_error("the torrent has no metadata");
  const auto& files = ti->files();
  std::uint64_t bytes = 0;
  int count = 0, kept = 0;
  std::set<fs::path> wanted;
  std::set<ino_t> written;  // files this get wrote
  fs::path vdir = version_dir(ih);
  // A web seed serves <url><torrent name>/<path> (BEP 19).
  const fs::path root = web_seed ? outdir / files.name() : outdir;
  if (progress.fn) progress.fn("writing files", 0, static_cast<std::uint64_t>(files.num_files()));
  for (auto i : files.file_range()) {
    if (files.pad_file_at(i)) continue;
    fs::path rel = fs::path(files.file_path(i)).lexically_relative(files.name());
    // A single-file torrent's one file is its name.
    if (rel == ".") rel = fs::path(files.file_path(i)).filename();
    fs::path src = vdir / files.file_path(i);
    fs::path dst = (root / rel).lexically_normal();
    // Paths come from a stranger's metadata: never write outside outdir.
    auto r = dst.lexically_relative(outdir.lexically_normal());
    if (r.empty() || *r.begin() == "..") return make_error("refusing unsafe path in metadata");
    wanted.insert(dst);
    // Never over another file of the site: on a disk that folds letter case
    // or Unicode forms, two names the metadata keeps apart can be one file.
    if (auto ino = inode_of(dst); ino && written.count(*ino)) {
      return make_error("cannot write " + dst.string() + ": another file of the site is there");
    }
    bytes += files.file_size(i);
    ++count;
    // Resuming: what an earlier attempt wrote and the store's verified copy
    // has too stays; anything else there is replaced.
    if (resuming && same_bytes(src, dst)) {
      ++kept;
      if (auto ino = inode_of(dst)) written.insert(*ino);
      continue;
    }
    if (resuming && fs::exists(fs::symlink_status(dst, ec))) fs::remove_all(dst, ec);
    fs::create_directories(dst.parent_path(), ec);
    untouched.armed = false;
    fs::copy_file(src, dst, fs::copy_options::none, ec);
    // The store's copy is read-only (sealed); the user's own is theirs to edit.
    if (!ec) fs::permissions(dst, fs::perms::owner_write, fs::perm_options::add, ec);
    if (ec) return make_error("cannot write " + dst.string() + ": " + ec.message(), ErrorKind::kIo);
    if (auto ino = inode_of(dst)) written.insert(*ino);
    if (progress.fn) progress.fn("writing files", static_cast<std::uint64_t>(count), 0);
  }

  json j;
  if (ptr) {
    record_visit(address, *ptr);
    j = pointer_json(*ptr);
  } else {
    // An older version (`post` merging another device's posts): fetched,
    // not recorded as the site's.
    j = {{"address", address.str()}, {"info_hash", ih.hex()}};
    retire_version(ih);
  }
  const std::string torrent_file = ih.hex() + ".torrent";
  if (web_seed) {
    // The metadata, for visitors no peer gives it to (checked against the
    // info-hash before use).
    auto torrent = read_file(torrent_path(ih));
    if (!torrent || !write_file_atomic(outdir / torrent_file, *torrent, 0644)) {
      return make_error("cannot write " + (outdir / torrent_file).string(), ErrorKind::kIo);
    }
    j["name"] = files.name();
  }
  if (resuming) {
    // Files of the folder that are not the site's (another version's, if it
    // changed meanwhile): an export's go (the folder is the export's), a
    // get's are left, and named.
    json extra = json::array();
    std::vector<fs::path> stale;
    for (auto it = fs::recursive_directory_iterator(outdir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const fs::path p = it->path().lexically_normal();
      if (it->is_directory(ec) || wanted.count(p) || p == (outdir / marker).lexically_normal() ||
          p == (outdir / torrent_file).lexically_normal()) {
        continue;
      }
      if (web_seed) {
        stale.push_back(p);
      } else {
        extra.push_back(it->path().lexically_relative(outdir).string());
      }
    }
    for (const auto& p : stale) fs::remove(p, ec);
    j["resumed"] = true;
    j["kept"] = kept;
    if (!extra.empty()) j["not_in_site"] = extra;
  }
  if (!web_seed) fs::remove(outdir / kGetMarker, ec);
  j["files"] = count;
  j["bytes"] = bytes;
  j["outdir"] = outdir.string();
  return j;
}

}  // namespace hostless
