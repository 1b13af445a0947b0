// Per-file hashes for hybrid site torrents: SHA-1 over zero-padded pieces
// (v1) and SHA-256 merkle trees over 16 KiB blocks (v2), on worker threads,
// copying each file as it is read when asked to.
#include "content/hashing.hpp"

#include "content/detail/shared.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include <libtorrent/hasher.hpp>

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

}  // namespace

bool valid_piece_size(std::uint64_t piece_size) {
  return piece_size >= kMinPieceSize && piece_size <= kMaxPieceSize &&
         (piece_size & (piece_size - 1)) == 0;
}

lt::sha256_hash file_root(std::vector<lt::sha256_hash> leaves) {
  if (leaves.empty()) return {};
  const std::uint64_t width = next_pow2(leaves.size());
  return merkle_root(std::move(leaves), width, lt::sha256_hash());
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

}  // namespace hostless
