#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "protocol/keys.hpp"
#include "support/sandbox.hpp"

using namespace hostless;
using hostless::test::Sandbox;

namespace {
unsigned mode_of(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}
}  // namespace

TEST_CASE("a seed always derives the same key", "[keys]") {
  std::uint8_t seed[32] = {};
  seed[0] = 7;
  auto a = SecretKey::from_seed(seed);
  auto b = SecretKey::from_seed(seed);
  CHECK(a.public_key() == b.public_key());
  CHECK(SecretKey::generate().public_key() != a.public_key());
}

TEST_CASE("a moved-from secret key is wiped", "[keys]") {
  auto a = SecretKey::generate();
  auto b = std::move(a);
  for (std::size_t i = 0; i < SecretKey::kSize; ++i) CHECK(a.data()[i] == 0);  // NOLINT
  CHECK(b.public_key() != PublicKey());
}

TEST_CASE("key files are created with mode 0600 in a 0700 directory", "[keys]") {
  Sandbox box;
  KeyStore store(box / "keys");
  auto addr = store.create("site");
  REQUIRE(addr);
  CHECK(mode_of(box / "keys/site.key") == 0600);
  CHECK(mode_of(box / "keys") == 0700);
  auto loaded = store.load("site");
  REQUIRE(loaded);
  CHECK(SiteAddress(loaded->public_key()) == *addr);
}

TEST_CASE("a key file readable by others is refused with the fix", "[keys]") {
  Sandbox box;
  KeyStore store(box / "keys");
  REQUIRE(store.create("site"));
  for (unsigned mode : {0640u, 0604u, 0644u}) {
    ::chmod((box / "keys/site.key").c_str(), mode);
    auto loaded = store.load("site");
    REQUIRE_FALSE(loaded);
    CHECK_THAT(loaded.error().message, Catch::Contains("too open"));
    CHECK_THAT(loaded.error().message, Catch::Contains("chmod 600"));
  }
  ::chmod((box / "keys/site.key").c_str(), 0600);
  CHECK(store.load("site"));
}

TEST_CASE("creating a key that exists fails and keeps the old one", "[keys]") {
  Sandbox box;
  KeyStore store(box / "keys");
  auto first = store.create("site");
  REQUIRE(first);
  auto second = store.create("site");
  REQUIRE_FALSE(second);
  CHECK_THAT(second.error().message, Catch::Contains("already exists"));
  CHECK(SiteAddress(store.load("site")->public_key()) == *first);
}

TEST_CASE("export then import into another home gives the same address", "[keys]") {
  Sandbox a, b;
  KeyStore from(a / "keys");
  KeyStore to(b / "keys");
  auto addr = from.create("blog");
  REQUIRE(addr);
  REQUIRE(from.export_key("blog", a / "backup.key"));
  CHECK(mode_of(a / "backup.key") == 0600);
  auto imported = to.import_key(a / "backup.key", "restored");
  REQUIRE(imported);
  CHECK(*imported == *addr);
  auto list = to.list();
  REQUIRE(list);
  REQUIRE(list->size() == 1);
  CHECK(list->at(0).name == "restored");
  CHECK(list->at(0).address == *addr);
}

TEST_CASE("export never overwrites an existing file", "[keys]") {
  Sandbox box;
  KeyStore store(box / "keys");
  REQUIRE(store.create("site"));
  std::ofstream(box / "out.key") << "precious";
  auto s = store.export_key("site", box / "out.key");
  REQUIRE_FALSE(s);
  std::ifstream in(box / "out.key");
  std::string content;
  in >> content;
  CHECK(content == "precious");
}

TEST_CASE("import refuses to replace a different key of the same name", "[keys]") {
  Sandbox box;
  KeyStore store(box / "keys");
  REQUIRE(store.create("site"));
  KeyStore other(box / "other");
  REQUIRE(other.create("x"));
  auto r = store.import_key(box / "other/x.key", "site");
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("--name"));
}

TEST_CASE("damaged and foreign key files are rejected", "[keys]") {
  Sandbox box;
  auto write = [&](const std::string& name, const std::string& text) {
    auto p = box / name;
    std::ofstream(p) << text;
    ::chmod(p.c_str(), 0600);
    return p;
  };
  auto r1 = read_key_file(write("a", "hello\n"));
  REQUIRE_FALSE(r1);
  CHECK_THAT(r1.error().message, Catch::Contains("not a hostless key file"));
  auto r2 = read_key_file(write("b", "hostless-key-v1\nabcd\n"));
  REQUIRE_FALSE(r2);
  CHECK_THAT(r2.error().message, Catch::Contains("damaged"));
  auto r3 = read_key_file(box / "missing");
  REQUIRE_FALSE(r3);
}

TEST_CASE("key names are restricted to safe file names", "[keys]") {
  CHECK(valid_key_name("blog"));
  CHECK(valid_key_name("my-site_2.v1"));
  CHECK_FALSE(valid_key_name(""));
  CHECK_FALSE(valid_key_name(".hidden"));
  CHECK_FALSE(valid_key_name("../x"));
  CHECK_FALSE(valid_key_name("a/b"));
  CHECK_FALSE(valid_key_name(std::string(65, 'a')));
}
