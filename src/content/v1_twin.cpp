#include "content/v1_twin.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>

#include <libtorrent/create_torrent.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/hasher.hpp>
#include <libtorrent/torrent_info.hpp>

#include "content/site_torrent.hpp"

namespace hostless {

namespace {

constexpr std::size_t kBlock = 16 * 1024;  // BEP 52's merkle leaf
constexpr std::size_t kReadSize = 64 * kBlock;

// The v1 pieces of the twin, hashed across file boundaries as bytes arrive.
class PieceHasher {
 public:
  explicit PieceHasher(std::uint64_t piece_size) : piece_size_(piece_size) {}

  void update(const char* data, std::size_t len) {
    while (len > 0) {
      const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(len, piece_size_ - fill_));
      sha1_.update(data, static_cast<int>(take));
      fill_ += take;
      data += take;
      len -= take;
      if (fill_ == piece_size_) finish();
    }
  }

  std::vector<lt::sha1_hash> done() {
    if (fill_ > 0) finish();
    return std::move(pieces_);
  }

 private:
  void finish() {
    pieces_.push_back(sha1_.final());
    sha1_.reset();
    fill_ = 0;
  }

  std::uint64_t piece_size_;
  std::uint64_t fill_ = 0;
  lt::hasher sha1_;
  std::vector<lt::sha1_hash> pieces_;
};

// Feeds one file's bytes to `pieces`; checks its size and v2 root.
Status hash_one(const std::filesystem::path& path, std::uint64_t size, const lt::sha256_hash& root,
                PieceHasher& pieces, std::vector<char>& buffer) {
  const auto cannot = [&](const std::string& why) {
    return make_error("cannot make the v1 twin: " + path.string() + ": " + why);
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return cannot(std::system_category().message(errno));
  std::vector<lt::sha256_hash> leaves;
  leaves.reserve(static_cast<std::size_t>((size + kBlock - 1) / kBlock));
  std::uint64_t total = 0;
  Status status;
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = cannot(std::system_category().message(errno));
      break;
    }
    if (n == 0) break;
    const auto got = static_cast<std::size_t>(n);
    total += got;
    if (total > size) break;
    pieces.update(buffer.data(), got);
    // (A read ends on a block boundary except at the end of the file.)
    for (std::size_t pos = 0; pos < got; pos += kBlock) {
      const auto len = static_cast<int>(std::min(kBlock, got - pos));
      leaves.push_back(lt::hasher256(buffer.data() + pos, len).final());
    }
    if (got % kBlock != 0 && total != size) {
      status = cannot("a short read");
      break;
    }
  }
  ::close(fd);
  if (!status) return status;
  if (total != size) return cannot("its size is not the version's");
  if (file_root(std::move(leaves)) != root) return cannot("its bytes are not the version's");
  return {};
}

}  // namespace

Result<std::vector<char>> build_v1_twin(const lt::torrent_info& hybrid,
                                        const std::filesystem::path& save_path) {
  const lt::file_storage& files = hybrid.files();
  const auto piece_size = static_cast<std::uint64_t>(files.piece_length());
  lt::file_storage twin;
  std::vector<lt::file_index_t> kept;
  for (const lt::file_index_t i : files.file_range()) {
    if (files.pad_file_at(i)) continue;
    lt::error_code ec;
    twin.add_file(ec, files.file_path(i), files.file_size(i));
    if (ec) return make_error("cannot make the v1 twin: " + ec.message());
    kept.push_back(i);
  }
  twin.set_name(files.name());

  PieceHasher pieces(piece_size);
  std::vector<char> buffer(kReadSize);
  for (const lt::file_index_t i : kept) {
    if (files.file_size(i) == 0) continue;
    if (Status s =
            hash_one(save_path / files.file_path(i), static_cast<std::uint64_t>(files.file_size(i)),
                     files.root(i), pieces, buffer);
        !s) {
      return s.error();
    }
  }
  const std::vector<lt::sha1_hash> hashes = pieces.done();

  lt::create_torrent ct(twin, static_cast<int>(piece_size), lt::create_torrent::v1_only);
  ct.set_creation_date(0);
  if (ct.num_pieces() != static_cast<int>(hashes.size())) {
    return make_error("cannot make the v1 twin: libtorrent laid out " +
                      std::to_string(ct.num_pieces()) + " pieces, not " +
                      std::to_string(hashes.size()));
  }
  for (std::size_t p = 0; p < hashes.size(); ++p) {
    ct.set_hash(lt::piece_index_t(static_cast<int>(p)), hashes[p]);
  }
  return ct.generate_buf();
}

}  // namespace hostless
