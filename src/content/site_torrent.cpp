// Hybrid torrents of site snapshots: per-file v1/v2 hashing (SHA-1 over
// zero-padded pieces, SHA-256 merkle trees over 16 KiB blocks) on worker
// threads, and a deterministic create_torrent wrapper that takes cached
// hashes instead of reading the files again.
#include "content/site_torrent.hpp"

#include "util/encoding.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <libtorrent/bdecode.hpp>
#include <libtorrent/create_torrent.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/hasher.hpp>
#include <libtorrent/torrent_info.hpp>

namespace hostless {

namespace {

// BEP 52's merkle leaf size.
constexpr std::uint64_t kBlockSize = 16 * 1024;
// Read size: big enough to amortise syscalls, small enough to stay in L2
// while both hashes run over it.
constexpr std::size_t kReadSize = 1024 * 1024;
// A big file is split into jobs of about this many bytes (whole pieces) so
// that several threads can hash it.
constexpr std::uint64_t kJobBytes = 16 * 1024 * 1024;
// choose_piece_size aims at no more pieces than this.
constexpr std::uint64_t kTargetPieces = 2048;

bool valid_piece_size(std::uint64_t piece_size) {
  return piece_size >= kMinPieceSize && piece_size <= kMaxPieceSize &&
         (piece_size & (piece_size - 1)) == 0;
}

std::uint64_t next_pow2(std::uint64_t n) {
  std::uint64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

lt::sha256_hash hash_pair(const lt::sha256_hash& left, const lt::sha256_hash& right) {
  lt::hasher256 h;
  h.update(left);
  h.update(right);
  return h.final();
}

// Root of a complete binary tree over `width` leaves (a power of two) whose
// first nodes.size() leaves are given and the rest equal `pad`. `nodes` is
// used as scratch space.
lt::sha256_hash merkle_root(std::vector<lt::sha256_hash> nodes, std::uint64_t width,
                            lt::sha256_hash pad) {
  while (width > 1) {
    std::size_t out = 0;
    for (std::size_t i = 0; i < nodes.size(); i += 2) {
      nodes[out++] = hash_pair(nodes[i], i + 1 < nodes.size() ? nodes[i + 1] : pad);
    }
    nodes.resize(out);
    pad = hash_pair(pad, pad);
    width /= 2;
  }
  return nodes.front();
}

// Root of a subtree of `leaves` zero leaves: what a piece entirely past the
// end of a file contributes to the file's tree.
lt::sha256_hash zero_subtree_root(std::uint64_t leaves) {
  lt::sha256_hash h;
  for (std::uint64_t n = 1; n < leaves; n *= 2) h = hash_pair(h, h);
  return h;
}

std::string errno_text(int err) {
  return std::system_category().message(err);
}

// A printable rendering of a path for error messages: UTF-8 kept when the
// part shown is valid UTF-8 (messages travel as JSON), else escaped.
std::string shown(std::string_view s) {
  constexpr std::size_t kShown = 200;
  return quote_for_message(s, kShown, valid_utf8(s.substr(0, kShown)));
}

// ---------------------------------------------------------------------------
// Hashing

// One unit of work: pieces [first_piece, end_piece) of one file.
struct Job {
  std::size_t file = 0;
  std::uint64_t first_piece = 0;
  std::uint64_t end_piece = 0;
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// Shared state of one hash_files call. Jobs write disjoint elements of
// results_ (and disjoint ranges of the copies), so only the error slot and
// the progress callback need the mutex.
class HashRun {
 public:
  // `copies` is empty, or names where each file is copied to as it is read.
  // `expected` is empty or one FileId per file (see copy_and_hash_files).
  HashRun(const std::vector<std::filesystem::path>& files,
          const std::vector<std::filesystem::path>& copies, std::uint64_t piece_size,
          const std::function<void(std::uint64_t)>& progress, const std::vector<FileId>& expected)
      : files_(files),
        copies_(copies),
        piece_size_(piece_size),
        progress_(progress),
        expected_(expected) {}

  // Stats every file, sizes the results and splits the work into jobs.
  Status plan() {
    results_.resize(files_.size());
    const std::uint64_t pieces_per_job = std::max<std::uint64_t>(1, kJobBytes / piece_size_);
    for (std::size_t i = 0; i < files_.size(); ++i) {
      std::uint64_t size = 0;
      {
        Fd fd(-1);
        auto opened = open_source(i, fd);
        if (!opened) return opened.error();
        size = *opened;
      }
      if (!copies_.empty()) {
        // Created at full size here, so that jobs only write their ranges
        // (and an empty file, which has no job, exists too).
        Fd out(::open(copies_[i].c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (out.get() < 0 || ::fchmod(out.get(), 0644) != 0 ||
            ::ftruncate(out.get(), static_cast<off_t>(size)) != 0) {
          return make_error("cannot write " + shown(copies_[i].string()) + ": " +
                            errno_text(errno));
        }
      }
      FileHashes& r = results_[i];
      r.piece_size = piece_size_;
      r.size = size;
      const std::uint64_t pieces = (size + piece_size_ - 1) / piece_size_;
      r.v1.resize(pieces);
      r.v2.resize(pieces);
      for (std::uint64_t p = 0; p < pieces; p += pieces_per_job) {
        jobs_.push_back(Job{i, p, std::min(pieces, p + pieces_per_job)});
      }
    }
    return {};
  }

  std::size_t job_count() const { return jobs_.size(); }

  // Runs jobs until none are left or one has failed. Never throws.
  void work() {
    std::vector<char> buffer;
    try {
      buffer.resize(kReadSize);
    } catch (const std::exception& e) {
      fail(make_error(std::string("cannot allocate a read buffer: ") + e.what()));
      return;
    }
    while (!failed_.load(std::memory_order_relaxed)) {
      const std::size_t j = next_job_.fetch_add(1);
      if (j >= jobs_.size()) return;
      Status s = make_error("unknown failure while hashing");
      try {
        s = run(jobs_[j], buffer);
      } catch (const std::exception& e) {
        s = make_error("while hashing " + shown(files_[jobs_[j].file].string()) + ": " + e.what());
      }
      if (!s) fail(s.error());
    }
  }

  Result<std::vector<FileHashes>> finish() {
    if (failed_) return *error_;
    const lt::sha256_hash pad = zero_subtree_root(piece_size_ / kBlockSize);
    for (FileHashes& r : results_) {
      if (!r.v2.empty()) r.root = merkle_root(r.v2, next_pow2(r.v2.size()), pad);
    }
    return std::move(results_);
  }

 private:
  void fail(Error e) {
    std::lock_guard lock(mutex_);
    if (!error_) error_ = std::move(e);
    failed_ = true;
  }

  void report(std::uint64_t bytes) {
    if (!progress_) return;
    std::lock_guard lock(mutex_);
    progress_(bytes);
  }

  // Opens files_[i] for reading into `fd` and returns its size; with an
  // expected FileId, without following a symbolic link and only if it is
  // still that file.
  Result<std::uint64_t> open_source(std::size_t i, Fd& fd) {
    const std::filesystem::path& path = files_[i];
    const bool checked = !expected_.empty();
    // O_NONBLOCK: opening a pipe put in a file's place must not wait for a writer.
    fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | (checked ? O_NOFOLLOW : 0)));
    const int err = errno;
    auto replaced = [&] {
      return make_error(shown(path.string()) +
                        " was replaced (by a symbolic link or another file) while it was being "
                        "published, so it was not read; publish again");
    };
    if (fd.get() < 0) {
      if (checked && err == ELOOP) return replaced();
      return make_error("cannot open " + shown(path.string()) + ": " + errno_text(err));
    }
    struct ::stat st {};
    if (::fstat(fd.get(), &st) != 0) {
      return make_error("cannot read " + shown(path.string()) + ": " + errno_text(errno));
    }
    if (checked && !(FileId{static_cast<std::uint64_t>(st.st_dev),
                            static_cast<std::uint64_t>(st.st_ino)} == expected_[i])) {
      return replaced();
    }
    if (!S_ISREG(st.st_mode)) {
      return make_error("cannot hash " + shown(path.string()) + ": not a regular file");
    }
    return static_cast<std::uint64_t>(st.st_size);
  }

  Status run(const Job& job, std::vector<char>& buffer) {
    const std::filesystem::path& path = files_[job.file];
    FileHashes& out = results_[job.file];
    auto changed = [&] {
      return make_error(shown(path.string()) + " changed while it was being hashed");
    };

    Fd fd(-1);
    if (auto opened = open_source(job.file, fd); !opened) return opened.error();
    std::optional<Fd> copy;
    if (!copies_.empty()) {
      copy.emplace(::open(copies_[job.file].c_str(), O_WRONLY | O_CLOEXEC));
      if (copy->get() < 0) {
        return make_error("cannot write " + shown(copies_[job.file].string()) + ": " +
                          errno_text(errno));
      }
    }
    const std::uint64_t begin = job.first_piece * piece_size_;
    const std::uint64_t end = std::min(out.size, job.end_piece * piece_size_);
    ::posix_fadvise(fd.get(), static_cast<off_t>(begin), static_cast<off_t>(end - begin),
                    POSIX_FADV_SEQUENTIAL);

    const std::uint64_t leaves_per_piece = piece_size_ / kBlockSize;
    std::vector<lt::sha256_hash> leaves;
    leaves.reserve(leaves_per_piece);
    lt::hasher sha1;
    std::uint64_t piece = job.first_piece;
    std::uint64_t in_piece = 0;

    for (std::uint64_t offset = begin; offset < end;) {
      if (failed_.load(std::memory_order_relaxed)) return {};
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kReadSize, end - offset));
      std::size_t got = 0;
      while (got < want) {
        const ssize_t n =
            ::pread(fd.get(), buffer.data() + got, want - got, static_cast<off_t>(offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          return make_error("cannot read " + shown(path.string()) + ": " + errno_text(errno));
        }
        if (n == 0) return changed();
        got += static_cast<std::size_t>(n);
      }
      if (copy) {
        if (Status s = write_at(copy->get(), buffer.data(), want, offset); !s) {
          return make_error("cannot write " + shown(copies_[job.file].string()) + ": " +
                            s.error().message);
        }
      }

      for (std::size_t pos = 0; pos < want; pos += kBlockSize) {
        const auto len = static_cast<int>(std::min<std::uint64_t>(kBlockSize, want - pos));
        const char* block = buffer.data() + pos;
        sha1.update(block, len);
        leaves.push_back(lt::hasher256(block, len).final());
        in_piece += static_cast<std::uint64_t>(len);
        if (in_piece == piece_size_ || offset + pos + static_cast<std::uint64_t>(len) == out.size) {
          finish_piece(out, piece, in_piece, sha1, leaves);
          sha1.reset();
          leaves.clear();
          in_piece = 0;
          ++piece;
        }
      }
      offset += want;
      report(want);
    }

    struct ::stat st {};
    if (::fstat(fd.get(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) != out.size) {
      return changed();
    }
    return {};
  }

  static Status write_at(int fd, const char* data, std::size_t size, std::uint64_t offset) {
    for (std::size_t done = 0; done < size;) {
      const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return make_error(errno_text(errno));
      done += static_cast<std::size_t>(n);
    }
    return {};
  }

  void finish_piece(FileHashes& out, std::uint64_t piece, std::uint64_t bytes, lt::hasher& sha1,
                    const std::vector<lt::sha256_hash>& leaves) const {
    const bool last = piece + 1 == out.v1.size();
    if (bytes < piece_size_) {
      // Only a file's last piece is short; a pad file of zeros follows it in
      // multi-file torrents, and nothing does in single-file ones.
      lt::hasher unpadded = sha1;
      out.v1_last_unpadded = unpadded.final();
      static constexpr std::array<char, kBlockSize> kZeros{};
      for (std::uint64_t left = piece_size_ - bytes; left > 0;) {
        const auto n = static_cast<int>(std::min<std::uint64_t>(left, kZeros.size()));
        sha1.update(kZeros.data(), n);
        left -= static_cast<std::uint64_t>(n);
      }
      out.v1[piece] = sha1.final();
    } else {
      out.v1[piece] = sha1.final();
      if (last) out.v1_last_unpadded = out.v1[piece];
    }
    // BEP 52: a file no bigger than one piece has a tree just big enough for
    // its blocks; otherwise every piece spans piece_size / 16 KiB leaves.
    const std::uint64_t width =
        out.size < piece_size_ ? next_pow2(leaves.size()) : piece_size_ / kBlockSize;
    out.v2[piece] = merkle_root(leaves, width, lt::sha256_hash());
  }

  const std::vector<std::filesystem::path>& files_;
  const std::vector<std::filesystem::path>& copies_;
  const std::uint64_t piece_size_;
  const std::function<void(std::uint64_t)>& progress_;
  const std::vector<FileId>& expected_;
  std::vector<FileHashes> results_;
  std::vector<Job> jobs_;
  std::atomic<std::size_t> next_job_{0};
  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::optional<Error> error_;
};

// ---------------------------------------------------------------------------
// Paths

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      parts.push_back(path.substr(start));
      return parts;
    }
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

// Why `part` cannot be one component of a path in a site, or nullopt if it can.
std::optional<std::string> component_problem(std::string_view part) {
  if (part.empty()) return "it has an empty component";
  if (part == "." || part == "..") return "it has a \".\" or \"..\" component";
  // Dotfiles are never published (snapshot), and a ".git/config" written by
  // `get` could run commands the next time someone uses git there.
  if (part.front() == '.') {
    return "it has a hidden component " + shown(part) + " (sites have no dotfiles)";
  }
  if (part.size() > kMaxComponentBytes) {
    return "a component is longer than " + std::to_string(kMaxComponentBytes) + " bytes";
  }
  return std::nullopt;
}

// Why `path` cannot name a file in a site, or nullopt if it can.
std::optional<std::string> path_problem(std::string_view path) {
  if (path.empty()) return "it is empty";
  if (path.front() == '/') return "it is absolute";
  if (path.find('\\') != std::string_view::npos) return "it contains a backslash";
  if (path.find('\0') != std::string_view::npos) return "it contains a NUL byte";
  if (!valid_utf8(path)) return "it is not valid UTF-8";
  if (path.size() > kMaxPathBytes) {
    return "it is longer than " + std::to_string(kMaxPathBytes) + " bytes";
  }
  const auto parts = split_path(path);
  if (parts.size() > kMaxPathDepth) {
    return "it is more than " + std::to_string(kMaxPathDepth) + " levels deep";
  }
  for (const std::string_view part : parts) {
    if (auto problem = component_problem(part)) return problem;
  }
  return std::nullopt;
}

// What a disk that ignores letter case and Unicode forms may take for the
// same name: ICU's NFKC_Casefold (compatibility forms, case and ignorable
// characters folded), a superset of what APFS, ext4's casefold and NTFS
// fold, and of libtorrent's own ASCII-case rename. `s` is valid UTF-8.
std::string folded_name(std::string_view s) {
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* fold = icu::Normalizer2::getNFKCCasefoldInstance(err);
  icu::UnicodeString out;
  if (U_SUCCESS(err)) {
    out = fold->normalize(icu::UnicodeString::fromUTF8(
                              icu::StringPiece(s.data(), static_cast<std::int32_t>(s.size()))),
                          err);
  }
  if (U_FAILURE(err)) {
    // Never expected (ICU's data is built in); ASCII case is still folded.
    std::string ascii(s);
    for (char& c : ascii) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return ascii;
  }
  std::string utf8;
  out.toUTF8String(utf8);
  return utf8;
}

// The canonical file order: path component by path component, bytewise,
// which is the order of BEP 52's "file tree" dictionaries and of libtorrent's
// file_storage::canonicalize().
bool canonical_less_path(std::string_view a, std::string_view b) {
  const auto pa = split_path(a);
  const auto pb = split_path(b);
  return std::lexicographical_compare(pa.begin(), pa.end(), pb.begin(), pb.end());
}

bool canonical_less(const SiteFile& a, const SiteFile& b) {
  return canonical_less_path(a.path, b.path);
}

Error too_many_files(std::size_t count) {
  return make_error("a site can have at most " + std::to_string(kMaxSiteFiles) +
                    " files; this one has " + std::to_string(count));
}

// The rules for a site's list of file paths (relative, '/'-separated): what
// build_site_torrent builds and check_site_metadata accepts.
Status check_paths(std::vector<std::string_view> paths) {
  if (paths.size() > kMaxSiteFiles) {
    return too_many_files(paths.size());
  }
  for (const std::string_view p : paths) {
    if (auto problem = path_problem(p)) {
      return make_error("invalid file path " + shown(p) + ": " + *problem);
    }
  }
  std::sort(paths.begin(), paths.end(), canonical_less_path);
  std::set<std::string_view> dirs;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (i > 0 && paths[i] == paths[i - 1]) {
      return make_error("file path " + shown(paths[i]) + " appears twice");
    }
    const std::string_view p = paths[i];
    for (std::size_t slash = p.find('/'); slash != std::string_view::npos;
         slash = p.find('/', slash + 1)) {
      dirs.insert(p.substr(0, slash));
    }
  }
  for (const std::string_view p : paths) {
    if (dirs.count(p) != 0) {
      return make_error("file path " + shown(p) + " is also a directory of other files");
    }
  }
  // libtorrent renames a file on load (to "name.1.ext") when its path equals
  // another file's or directory's path ignoring ASCII case, so such a file
  // could not be found under its own name. And on a disk that folds case or
  // Unicode forms the two would be one file: with a file hard-linked from
  // another site (reuse), a stranger's pair of names could write into that
  // site's file. So names equal once folded are refused.
  std::set<std::string> folded_dirs;
  for (const std::string_view d : dirs) folded_dirs.insert(folded_name(d));
  std::unordered_map<std::string, std::string_view> folded_files;
  for (const std::string_view p : paths) {
    std::string folded = folded_name(p);
    if (folded_dirs.count(folded) != 0) {
      return make_error("file path " + shown(p) +
                        " differs only in letter case or Unicode form from a directory of "
                        "other files; rename one");
    }
    const auto [it, inserted] = folded_files.emplace(std::move(folded), p);
    if (!inserted) {
      return make_error("file paths " + shown(it->second) + " and " + shown(p) +
                        " differ only in letter case or Unicode form; rename one");
    }
  }
  return {};
}

Status check_hashes(const SiteFile& f, std::uint64_t piece_size) {
  const FileHashes& h = f.hashes;
  const std::string where = "hashes of " + shown(f.path);
  if (h.piece_size != piece_size) {
    return make_error(where + " were computed with piece size " + std::to_string(h.piece_size) +
                      ", others with " + std::to_string(piece_size) + "; re-hash the site");
  }
  const std::uint64_t pieces = (h.size + piece_size - 1) / piece_size;
  const bool zero_found =
      std::any_of(h.v1.begin(), h.v1.end(), [](const auto& x) { return x.is_all_zeros(); }) ||
      std::any_of(h.v2.begin(), h.v2.end(), [](const auto& x) { return x.is_all_zeros(); });
  if (h.v1.size() != pieces || h.v2.size() != pieces || zero_found ||
      (h.size > 0 && (h.root.is_all_zeros() || h.v1_last_unpadded.is_all_zeros()))) {
    return make_error(where + " are incomplete for a file of " + std::to_string(h.size) + " bytes");
  }
  return {};
}

Result<std::vector<char>> build(const std::string& name, std::vector<SiteFile> files) {
  if (auto problem = path_problem(name); problem || name.find('/') != std::string::npos) {
    return make_error("invalid site name " + shown(name) + ": " +
                      problem.value_or("it contains a slash"));
  }
  if (files.empty()) return make_error("a site needs at least one file");
  {
    std::vector<std::string_view> paths;
    paths.reserve(files.size());
    for (const SiteFile& f : files) paths.push_back(f.path);
    if (Status s = check_paths(std::move(paths)); !s) return s.error();
  }
  std::sort(files.begin(), files.end(), canonical_less);

  const std::uint64_t piece_size = files.front().hashes.piece_size;
  if (!valid_piece_size(piece_size)) {
    return make_error("invalid piece size " + std::to_string(piece_size) +
                      ": must be a power of two from 16 KiB to 16 MiB");
  }
  std::uint64_t total = 0;
  for (const SiteFile& f : files) {
    if (Status s = check_hashes(f, piece_size); !s) return s.error();
    total += f.hashes.size;
  }
  if (total == 0) return make_error("a site needs at least one non-empty file");

  // Every file lives under the directory `name`, so even a one-file site is a
  // multi-file torrent; no flags or mtimes, so nothing depends on the disk.
  lt::file_storage fs;
  std::unordered_map<std::string, const SiteFile*> by_path;
  for (const SiteFile& f : files) {
    std::string full = name + "/" + f.path;
    lt::error_code ec;
    fs.add_file(ec, full, static_cast<std::int64_t>(f.hashes.size));
    if (ec) return make_error("cannot add " + shown(f.path) + " to the torrent: " + ec.message());
    by_path.emplace(std::move(full), &f);
  }
  fs.set_name(name);

  lt::create_torrent ct(fs, static_cast<int>(piece_size));
  ct.set_creation_date(0);
  const lt::file_storage& layout = ct.files();
  if (layout.piece_length() != static_cast<int>(piece_size)) {
    return make_error("libtorrent chose piece size " + std::to_string(layout.piece_length()) +
                      " instead of " + std::to_string(piece_size));
  }
  for (const lt::file_index_t i : layout.file_range()) {
    if (layout.pad_file_at(i)) continue;
    const auto it = by_path.find(layout.file_path(i));
    if (it == by_path.end()) {
      return make_error("libtorrent renamed a file to " + shown(layout.file_path(i)));
    }
    const FileHashes& h = it->second->hashes;
    const auto offset = static_cast<std::uint64_t>(layout.file_offset(i));
    if (offset % piece_size != 0) {
      return make_error("libtorrent did not align " + shown(it->second->path) +
                        " to a piece boundary");
    }
    // The last piece is zero-padded unless no pad file follows the file.
    const bool ends_torrent = offset + h.size == static_cast<std::uint64_t>(layout.total_size());
    const int first_piece = static_cast<int>(offset / piece_size);
    for (std::size_t k = 0; k < h.v1.size(); ++k) {
      const bool last = k + 1 == h.v1.size();
      const lt::sha1_hash& v1 = last && ends_torrent ? h.v1_last_unpadded : h.v1[k];
      ct.set_hash(lt::piece_index_t(first_piece + static_cast<int>(k)), v1);
      ct.set_hash2(i, lt::piece_index_t::diff_type(static_cast<int>(k)), h.v2[k]);
    }
  }
  std::vector<char> torrent = ct.generate_buf();

  // libtorrent silently drops the v2 part if a v2 hash is missing; check the
  // result is hybrid and that it agrees with our file roots.
  lt::error_code ec;
  const lt::torrent_info ti(torrent, ec, lt::from_span);
  if (ec) return make_error("libtorrent cannot load the torrent it built: " + ec.message());
  if (!ti.info_hashes().has_v1() || !ti.info_hashes().has_v2()) {
    return make_error("libtorrent built a torrent that is not hybrid v1+v2");
  }
  for (const lt::file_index_t i : ti.files().file_range()) {
    if (ti.files().pad_file_at(i) || ti.files().file_size(i) == 0) continue;
    const auto it = by_path.find(ti.files().file_path(i));
    if (it == by_path.end() || ti.files().root(i) != it->second->hashes.root) {
      return make_error("the v2 root of " + shown(ti.files().file_path(i)) +
                        " does not match its hashes");
    }
  }
  return torrent;
}

// ---------------------------------------------------------------------------
// A stranger's metadata

// Decode limits for the second look at an info dictionary: libtorrent decoded
// it first within its own (lower) limits, so these never cut a torrent it
// accepted, and still bound the work if its settings change.
constexpr int kDecodeDepth = 1000;
constexpr int kDecodeTokens = 10000000;

// The files an info dictionary names, as its bytes say (before libtorrent
// sanitises anything): '/'-joined paths below the site's folder. Counts all of
// them but keeps at most kMaxSiteFiles + 1.
struct MetadataFiles {
  std::vector<std::string> paths;
  std::size_t count = 0;

  void add(std::string path) {
    if (++count <= kMaxSiteFiles + 1) paths.push_back(std::move(path));
  }
};

std::string_view std_view(lt::string_view s) {
  return {s.data(), s.size()};
}

Error symlink_error(std::string_view path) {
  return make_error("file " + shown(path) + " is a symbolic link (sites have none)");
}

// BEP 47 attributes of a file that holds data (pad files are skipped before):
// hostless sites' files have none. libtorrent acts on them when it creates the
// files, before the metadata is checked: "l" makes a link, "x" an executable.
Status attr_problem(std::string_view attr, std::string_view path) {
  if (attr.find('l') != std::string_view::npos) return symlink_error(path);
  if (attr.empty()) return {};
  const bool known = attr.find_first_not_of("xh") == std::string_view::npos;
  return make_error("file " + shown(path) + " has the attributes " + shown(attr) + " (" +
                    (known ? "executable or hidden" : "unknown") +
                    "; hostless sites' files have none)");
}

// One path given as a list of components (v1 "path" / "path.utf-8").
Result<std::string> joined_path(const lt::bdecode_node& list) {
  std::string path;
  for (int i = 0; i < list.list_size(); ++i) {
    const lt::bdecode_node part = list.list_at(i);
    if (part.type() != lt::bdecode_node::string_t) {
      return make_error("a file path holds something other than strings");
    }
    const std::string_view name = std_view(part.string_value());
    if (i > 0) path += '/';
    path += name;
    // Joined, it would read as two components.
    if (name.find('/') != std::string_view::npos) {
      return make_error("invalid file path " + shown(path) + ": a component contains a slash");
    }
    if (path.size() > kMaxPathBytes) {
      return make_error("invalid file path " + shown(path) + ": it is longer than " +
                        std::to_string(kMaxPathBytes) + " bytes");
    }
  }
  return path;
}

// v1: the "files" list (multi-file torrents). Pad files (BEP 47) hold no
// data and are never written, so their paths don't matter.
Status v1_files(const lt::bdecode_node& list, MetadataFiles& out) {
  for (int i = 0; i < list.list_size(); ++i) {
    const lt::bdecode_node f = list.list_at(i);
    if (f.type() != lt::bdecode_node::dict_t) return make_error("a file entry is malformed");
    const std::string_view attr = std_view(f.dict_find_string_value("attr"));
    if (attr.find('p') != std::string_view::npos) continue;
    // libtorrent reads "path.utf-8" when present, else "path": both must be sound.
    std::optional<std::string> chosen;
    for (const char* key : {"path", "path.utf-8"}) {
      const lt::bdecode_node p = f.dict_find_list(key);
      if (!p) continue;
      auto path = joined_path(p);
      if (!path) return path.error();
      if (auto problem = path_problem(*path)) {
        return make_error("invalid file path " + shown(*path) + ": " + *problem);
      }
      chosen = std::move(*path);
    }
    if (!chosen) return make_error("a file entry has no path");
    if (Status s = attr_problem(attr, *chosen); !s) return s;
    out.add(std::move(*chosen));
  }
  return {};
}

// v2: the nested "file tree" dictionaries; a file is a dictionary under the
// key "". Walked without recursion, at most kMaxPathDepth levels.
Status v2_files(const lt::bdecode_node& tree, MetadataFiles& out) {
  struct Dir {
    lt::bdecode_node node;
    std::string path;
    std::size_t depth;
  };
  std::vector<Dir> todo{{tree, std::string(), 0}};
  while (!todo.empty()) {
    Dir dir = std::move(todo.back());
    todo.pop_back();
    for (int i = 0; i < dir.node.dict_size(); ++i) {
      const auto [lt_key, child] = dir.node.dict_at(i);
      const std::string_view key = std_view(lt_key);
      if (child.type() != lt::bdecode_node::dict_t) return make_error("the file tree is malformed");
      if (key.empty()) {
        if (dir.depth == 0) return make_error("the file tree is malformed");
        const std::string_view attr = std_view(child.dict_find_string_value("attr"));
        if (Status s = attr_problem(attr, dir.path); !s) return s;
        out.add(dir.path);
        continue;
      }
      std::string path = dir.depth == 0 ? std::string(key) : dir.path + "/" + std::string(key);
      if (key.find('/') != std::string_view::npos) {
        return make_error("invalid file path " + shown(path) + ": a component contains a slash");
      }
      if (dir.depth + 1 > kMaxPathDepth || path.size() > kMaxPathBytes) {
        return make_error("invalid file path " + shown(path) + ": it is more than " +
                          std::to_string(kMaxPathDepth) + " levels deep or longer than " +
                          std::to_string(kMaxPathBytes) + " bytes");
      }
      todo.push_back({child, std::move(path), dir.depth + 1});
    }
  }
  return {};
}

Status check_metadata(const lt::torrent_info& ti) {
  const auto section = ti.info_section();
  lt::error_code ec;
  int pos = 0;
  const lt::bdecode_node info = lt::bdecode(section, ec, &pos, kDecodeDepth, kDecodeTokens);
  if (ec) return make_error("its info dictionary cannot be decoded: " + ec.message());
  if (info.type() != lt::bdecode_node::dict_t) {
    return make_error("its info section is not a dictionary");
  }

  // libtorrent names the folder after "name.utf-8" when present, else "name".
  std::string name;
  for (const char* key : {"name", "name.utf-8"}) {
    const lt::bdecode_node n = info.dict_find(key);
    if (!n) continue;
    if (n.type() != lt::bdecode_node::string_t) return make_error("its name is not a string");
    name = std::string(std_view(n.string_value()));
    if (auto problem = path_problem(name); problem || name.find('/') != std::string::npos) {
      return make_error("invalid site name " + shown(name) + ": " +
                        problem.value_or("it contains a slash"));
    }
  }
  if (name.empty()) return make_error("it has no name");

  // A hybrid torrent lists its files twice (v1 list, v2 tree); libtorrent
  // stores what the v2 tree says and checks that the lists agree. Both must
  // be sound.
  const lt::bdecode_node list = info.dict_find_list("files");
  const lt::bdecode_node tree = info.dict_find_dict("file tree");
  MetadataFiles v1;
  MetadataFiles v2;
  if (list) {
    if (Status s = v1_files(list, v1); !s) return s;
  } else if (!tree) {
    // A single-file torrent: its file is the name itself, its attributes the info's.
    if (Status s = attr_problem(std_view(info.dict_find_string_value("attr")), name); !s) {
      return s;
    }
    v1.add(name);
  }
  if (tree) {
    if (Status s = v2_files(tree, v2); !s) return s;
  }
  std::vector<const MetadataFiles*> lists;
  if (list || !tree) lists.push_back(&v1);
  if (tree) lists.push_back(&v2);
  for (const MetadataFiles* files : lists) {
    if (files->count > kMaxSiteFiles) return too_many_files(files->count);
    if (files->count == 0) return make_error("it lists no files");
    if (Status s = check_paths({files->paths.begin(), files->paths.end()}); !s) return s;
  }

  // libtorrent must store every file exactly where the metadata says: any
  // path it rewrote (rules of other platforms, say) would be served and
  // written under a name the site never had.
  const MetadataFiles& named = ti.v2() && tree ? v2 : v1;
  std::set<std::string_view> expected;
  std::vector<std::string> full;
  full.reserve(named.paths.size());
  for (const std::string& p : named.paths) full.push_back(name + "/" + p);
  expected.insert(full.begin(), full.end());
  const lt::file_storage& fs = ti.files();
  std::size_t stored = 0;
  for (const lt::file_index_t i : fs.file_range()) {
    if (fs.pad_file_at(i)) continue;
    ++stored;
    const std::string path = fs.file_path(i);
    // A one-file torrent's file is its name, not name/name.
    const bool single = named.paths.size() == 1 && path == named.paths.front();
    if (expected.count(path) == 0 && !single) {
      return make_error("libtorrent would store a file as " + shown(path) +
                        ", which its metadata does not name");
    }
  }
  if (stored != named.paths.size()) {
    return make_error("libtorrent sees " + std::to_string(stored) +
                      " files where its metadata names " + std::to_string(named.paths.size()));
  }
  return {};
}

}  // namespace

lt::sha256_hash file_root(std::vector<lt::sha256_hash> leaves) {
  if (leaves.empty()) return {};
  const std::uint64_t width = next_pow2(leaves.size());
  return merkle_root(std::move(leaves), width, lt::sha256_hash());
}

std::uint64_t choose_piece_size(std::uint64_t total_bytes) {
  std::uint64_t piece = kMinPieceSize;
  const auto pieces = [&] { return total_bytes / piece + (total_bytes % piece != 0 ? 1 : 0); };
  while (piece < kMaxPieceSize && pieces() > kTargetPieces) piece *= 2;
  return piece;
}

std::uint64_t choose_piece_size(const std::vector<std::uint64_t>& file_sizes) {
  std::uint64_t total = 0;
  for (const std::uint64_t size : file_sizes) total += size;
  std::uint64_t piece = choose_piece_size(total);
  // Pieces and zero padding at a given piece size (each file starts a piece).
  const auto layout = [&](std::uint64_t p) {
    std::uint64_t pieces = 0, padding = 0;
    for (const std::uint64_t size : file_sizes) {
      const std::uint64_t n = size / p + (size % p != 0 ? 1 : 0);
      pieces += n;
      padding += n * p - size;
    }
    return std::pair{pieces, padding};
  };
  for (auto now = layout(piece); piece > kMinPieceSize && now.second > total / 4;) {
    const auto halved = layout(piece / 2);
    if (halved.first > kMaxPaddedPieces) break;
    piece /= 2;
    now = halved;
  }
  return piece;
}

Result<std::vector<FileHashes>> hash_files(const std::vector<std::filesystem::path>& files,
                                           std::uint64_t piece_size, unsigned threads,
                                           const std::function<void(std::uint64_t)>& progress) {
  return copy_and_hash_files(files, {}, piece_size, threads, progress);
}

Result<std::vector<FileHashes>> copy_and_hash_files(
    const std::vector<std::filesystem::path>& files,
    const std::vector<std::filesystem::path>& copies, std::uint64_t piece_size, unsigned threads,
    const std::function<void(std::uint64_t)>& progress, const std::vector<FileId>& expected) {
  if (!copies.empty() && copies.size() != files.size()) {
    return make_error("copy_and_hash_files: one copy per file, or none");
  }
  if (!expected.empty() && expected.size() != files.size()) {
    return make_error("copy_and_hash_files: one expected file id per file, or none");
  }
  if (!valid_piece_size(piece_size)) {
    return make_error("invalid piece size " + std::to_string(piece_size) +
                      ": must be a power of two from 16 KiB to 16 MiB");
  }
  try {
    HashRun run(files, copies, piece_size, progress, expected);
    if (Status s = run.plan(); !s) return s.error();

    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    const std::size_t helpers =
        std::min<std::size_t>(threads, std::max<std::size_t>(1, run.job_count())) - 1;
    {
      std::vector<std::jthread> pool;
      pool.reserve(helpers);
      for (std::size_t t = 0; t < helpers; ++t) pool.emplace_back([&run] { run.work(); });
      run.work();
    }
    return run.finish();
  } catch (const std::exception& e) {
    return make_error(std::string("hashing failed: ") + e.what());
  }
}

Result<FileHashes> hash_file(const std::filesystem::path& file, std::uint64_t piece_size,
                             const std::function<void(std::uint64_t)>& progress) {
  auto r = hash_files({file}, piece_size, 1, progress);
  if (!r) return r.error();
  return std::move(r->front());
}

Result<std::vector<char>> build_site_torrent(const std::string& name, std::vector<SiteFile> files) {
  try {
    return build(name, std::move(files));
  } catch (const std::exception& e) {
    return make_error(std::string("cannot build the site torrent: ") + e.what());
  }
}

InfoHash v1_info_hash(const lt::torrent_info& ti) {
  InfoHash::Bytes b;
  std::memcpy(b.data(), ti.info_hashes().v1.data(), b.size());
  return InfoHash(b);
}

Status check_site_metadata(const lt::torrent_info& ti) {
  try {
    return check_metadata(ti);
  } catch (const std::exception& e) {
    return make_error(std::string("cannot check the site's metadata: ") + e.what());
  }
}

}  // namespace hostless
