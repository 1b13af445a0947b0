// Site keys: ed25519 keypairs (libsodium) and their files under <home>/keys/.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "protocol/address.hpp"
#include "util/result.hpp"

namespace hostless {

// Initialises libsodium once (thread-safe); aborts if it cannot, since keys
// need its random source. Every libsodium user calls it first.
void ensure_sodium();

// An ed25519 secret key in libsodium's form (32-byte seed || public key).
// Move-only; wipes its memory (sodium_memzero) when destroyed.
class SecretKey {
 public:
  static constexpr std::size_t kSize = 64;
  static constexpr std::size_t kSeedSize = 32;

  // A new random key.
  static SecretKey generate();
  // The key derived from a 32-byte seed.
  static SecretKey from_seed(const std::uint8_t (&seed)[kSeedSize]);
  static SecretKey from_seed(const std::uint8_t* seed);

  SecretKey(SecretKey&& other) noexcept;
  SecretKey& operator=(SecretKey&& other) noexcept;
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;
  ~SecretKey();

  PublicKey public_key() const;
  const std::uint8_t* data() const { return bytes_.data(); }
  const std::uint8_t* seed() const { return bytes_.data(); }

 private:
  SecretKey() = default;
  void wipe();
  std::array<std::uint8_t, kSize> bytes_{};
};

// The key files of one home: <home>/keys/<name>.key, each mode 0600.
// File format (text): "hostless-key-v1\n<64 hex seed>\n". Not thread-safe.
class KeyStore {
 public:
  explicit KeyStore(std::filesystem::path dir) : dir_(std::move(dir)) {}

  struct Entry {
    std::string name;
    SiteAddress address;
  };

  // Creates a new key named `name`; fails if it exists or the name is bad.
  Result<SiteAddress> create(const std::string& name);
  Result<SecretKey> load(const std::string& name) const;
  bool exists(const std::string& name) const;
  Result<std::vector<Entry>> list() const;
  // Writes the key to `file` (mode 0600, never overwrites).
  Status export_key(const std::string& name, const std::filesystem::path& file) const;
  // Reads a key file and stores it as `name`; refuses to overwrite a key with
  // a different secret. Returns its address.
  Result<SiteAddress> import_key(const std::filesystem::path& file, const std::string& name);
  // Stores an existing key under `name`.
  Result<SiteAddress> store(const std::string& name, const SecretKey& key);

  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path path_for(const std::string& name) const;
  std::filesystem::path dir_;
};

// Reads a key file, refusing one that group or others can read (like ssh).
Result<SecretKey> read_key_file(const std::filesystem::path& file);
// Writes a key file with mode 0600 atomically; fails if it exists.
Status write_key_file(const std::filesystem::path& file, const SecretKey& key);
// Key names: 1-64 of [A-Za-z0-9._-], not starting with '.'.
bool valid_key_name(const std::string& name);

}  // namespace hostless
