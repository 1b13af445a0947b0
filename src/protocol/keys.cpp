#include "protocol/keys.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/encoding.hpp"

namespace hostless {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kKeyFileMagic = "hostless-key-v1";

}  // namespace

void ensure_sodium() {
  // sodium_init is idempotent and thread-safe; it returns 1 when already
  // done. Without it there is no random source for keys: nothing can go on.
  static const int init_result = sodium_init();
  if (init_result < 0) std::abort();
}

SecretKey SecretKey::generate() {
  ensure_sodium();
  std::uint8_t seed[kSeedSize];
  randombytes_buf(seed, sizeof seed);
  SecretKey key = from_seed(seed);
  sodium_memzero(seed, sizeof seed);
  return key;
}

SecretKey SecretKey::from_seed(const std::uint8_t (&seed)[kSeedSize]) {
  return from_seed(static_cast<const std::uint8_t*>(seed));
}

SecretKey SecretKey::from_seed(const std::uint8_t* seed) {
  ensure_sodium();
  SecretKey key;
  std::uint8_t pk[crypto_sign_PUBLICKEYBYTES];
  crypto_sign_seed_keypair(pk, key.bytes_.data(), seed);
  return key;
}

SecretKey::SecretKey(SecretKey&& other) noexcept : bytes_(other.bytes_) {
  other.wipe();
}

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
  if (this != &other) {
    bytes_ = other.bytes_;
    other.wipe();
  }
  return *this;
}

SecretKey::~SecretKey() {
  wipe();
}

void SecretKey::wipe() {
  sodium_memzero(bytes_.data(), bytes_.size());
}

PublicKey SecretKey::public_key() const {
  PublicKey::Bytes pk;
  std::copy(bytes_.begin() + kSeedSize, bytes_.end(), pk.begin());
  return PublicKey(pk);
}

bool valid_key_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name[0] == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

Result<SecretKey> read_key_file(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    return make_error("cannot read key file " + file.string() + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return make_error("key file " + file.string() + " is not a file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return make_error("permissions " + std::string(mode) + " for key file " + file.string() +
                      " are too open: other users could read the site's secret key; fix "
                      "with `chmod 600 " +
                      file.string() + "`");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error("cannot open key file " + file.string());
  std::string magic, hex;
  std::getline(in, magic);
  std::getline(in, hex);
  if (magic != kKeyFileMagic) {
    return make_error(file.string() + " is not a hostless key file (first line must be '" +
                      std::string(kKeyFileMagic) + "')");
  }
  auto seed = from_hex(hex);
  if (!seed || seed->size() != SecretKey::kSeedSize) {
    if (seed) sodium_memzero(seed->data(), seed->size());
    return make_error("key file " + file.string() + " is damaged: expected 64 hex digits");
  }
  SecretKey key = SecretKey::from_seed(seed->data());
  sodium_memzero(seed->data(), seed->size());
  sodium_memzero(hex.data(), hex.size());
  return key;
}

Status write_key_file(const fs::path& file, const SecretKey& key) {
  std::string text = std::string(kKeyFileMagic) + "\n" +
                     to_hex(std::span<const std::uint8_t>(key.seed(), SecretKey::kSeedSize)) + "\n";
  // Write to a temporary file created 0600, then link it into place so that
  // the key appears whole or not at all, and an existing file is never
  // replaced.
  fs::path tmp = file;
  tmp += ".tmp" + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    sodium_memzero(text.data(), text.size());
    return make_error("cannot create " + tmp.string() + ": " + std::strerror(errno));
  }
  ::fchmod(fd, 0600);  // in case of an unusual umask
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  sodium_memzero(text.data(), text.size());
  if (!ok) {
    ::unlink(tmp.c_str());
    return make_error("cannot write key file " + file.string() + ": " + std::strerror(errno));
  }
  if (::link(tmp.c_str(), file.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    if (err == EEXIST) return make_error(file.string() + " already exists; not overwriting it");
    return make_error("cannot create key file " + file.string() + ": " + std::strerror(err));
  }
  ::unlink(tmp.c_str());
  return {};
}

fs::path KeyStore::path_for(const std::string& name) const {
  return dir_ / (name + ".key");
}

bool KeyStore::exists(const std::string& name) const {
  std::error_code ec;
  return valid_key_name(name) && fs::exists(path_for(name), ec);
}

static Status ensure_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error("cannot create " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  return {};
}

static Error bad_name(const std::string& name) {
  return make_error("invalid key name '" + name +
                    "': use 1-64 letters, digits, '.', '_' or '-', not starting with '.'");
}

Result<SiteAddress> KeyStore::store(const std::string& name, const SecretKey& key) {
  if (!valid_key_name(name)) return bad_name(name);
  if (auto s = ensure_dir(dir_); !s) return s.error();
  if (auto s = write_key_file(path_for(name), key); !s) {
    if (exists(name)) {
      return make_error("a key named '" + name + "' already exists; choose another name");
    }
    return s.error();
  }
  return SiteAddress(key.public_key());
}

Result<SiteAddress> KeyStore::create(const std::string& name) {
  return store(name, SecretKey::generate());
}

Result<SecretKey> KeyStore::load(const std::string& name) const {
  if (!valid_key_name(name)) return bad_name(name);
  if (!exists(name)) {
    return make_error("no key named '" + name + "' in " + dir_.string() +
                      "; `hostless keys list` shows the keys");
  }
  return read_key_file(path_for(name));
}

Result<std::vector<KeyStore::Entry>> KeyStore::list() const {
  std::vector<Entry> out;
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    if (e.path().extension() != ".key") continue;
    std::string name = e.path().stem().string();
    if (!valid_key_name(name)) continue;
    auto key = read_key_file(e.path());
    if (!key) return key.error();
    out.push_back({name, SiteAddress(key->public_key())});
  }
  if (ec) return make_error("cannot list " + dir_.string() + ": " + ec.message());
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return out;
}

Status KeyStore::export_key(const std::string& name, const fs::path& file) const {
  auto key = load(name);
  if (!key) return key.error();
  return write_key_file(file, *key);
}

Result<SiteAddress> KeyStore::import_key(const fs::path& file, const std::string& name) {
  auto key = read_key_file(file);
  if (!key) return key.error();
  if (exists(name)) {
    auto existing = load(name);
    if (existing && existing->public_key() == key->public_key()) {
      return SiteAddress(key->public_key());  // already imported: idempotent
    }
    return make_error("a different key named '" + name +
                      "' already exists; import under another name with --name");
  }
  return store(name, *key);
}

}  // namespace hostless
