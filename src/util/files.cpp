#include "util/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iterator>

namespace hostless {
namespace fs = std::filesystem;

std::optional<std::string> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::optional<std::string> read_file_capped(const fs::path& p, std::size_t max) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  if (ec || size > max) return std::nullopt;
  std::ifstream in(p, std::ios::binary);
  std::string s(size, '\0');
  if (!in.read(s.data(), static_cast<std::streamsize>(size))) return std::nullopt;
  return s;
}

bool write_file_atomic(const fs::path& p, std::string_view data, unsigned mode) {
  fs::path tmp = p;
  tmp += ".tmp";
  std::error_code ec;
  fs::remove(tmp, ec);  // created afresh, so with `mode`
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return false;
  bool ok = true;  // (the umask applies, so never more than `mode`)
  for (std::size_t done = 0; ok && done < data.size();) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ::close(fd) == 0 && ok;
  if (ok) fs::rename(tmp, p, ec);
  if (!ok || ec) fs::remove(tmp, ec);
  return ok && !ec;
}

}  // namespace hostless
