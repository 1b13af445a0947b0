// The catalog: records, rollback protection, versions, atomic read-modify-
// write under concurrency, and the upgrade from schema 1.
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>
#include <vector>

#include "protocol/keys.hpp"
#include "store/catalog.hpp"

using namespace hostless;
namespace fs = std::filesystem;

namespace {

// A fresh directory, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    static int n = 0;
    path = fs::temp_directory_path() /
           ("hostless-catalog-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

InfoHash ih_of(std::uint8_t b) {
  InfoHash::Bytes bytes{};
  bytes.fill(b);
  return InfoHash(bytes);
}

std::unique_ptr<Catalog> open_catalog(const fs::path& file) {
  auto c = Catalog::open(file);
  REQUIRE(c);
  return std::move(*c);
}

}  // namespace

TEST_CASE("observe_pointer keeps the highest seq, also after reopening", "[catalog]") {
  TempDir dir;
  auto key = SecretKey::generate();
  SiteAddress address(key.public_key());
  {
    auto c = open_catalog(dir.path / "catalog.sqlite");
    auto p2 = SignedPointer::sign(key, 2, PointerValue{ih_of(2)});
    auto p1 = SignedPointer::sign(key, 1, PointerValue{ih_of(1)});
    CHECK(c->observe_pointer(p2)->seq == 2);
    CHECK(c->observe_pointer(p1)->seq == 2);  // a lower seq never replaces it
    auto forged = SignedPointer::sign(key, 9, PointerValue{ih_of(9)});
    forged.seq = 10;  // signature no longer matches
    CHECK_FALSE(c->observe_pointer(forged));
  }
  auto c = open_catalog(dir.path / "catalog.sqlite");
  auto stored = c->site(address);
  REQUIRE(stored);
  REQUIRE(*stored);
  REQUIRE((*stored)->pointer);
  CHECK((*stored)->pointer->seq == 2);
  CHECK((*stored)->role == SiteRole::kVisited);
  auto p1 = SignedPointer::sign(key, 1, PointerValue{ih_of(1)});
  CHECK(c->observe_pointer(p1)->seq == 2);
}

TEST_CASE("the highest seq outlives the site's removal (eviction, unfollow)", "[catalog]") {
  TempDir dir;
  auto key = SecretKey::generate();
  SiteAddress address(key.public_key());
  auto p1 = SignedPointer::sign(key, 1, PointerValue{ih_of(1)});
  auto p3 = SignedPointer::sign(key, 3, PointerValue{ih_of(3)});
  auto p5 = SignedPointer::sign(key, 5, PointerValue{ih_of(5)});
  {
    auto c = open_catalog(dir.path / "catalog.sqlite");
    CHECK(c->observe_pointer(p3)->seq == 3);
    REQUIRE(c->remove_site(address));
    auto gone = c->site(address);
    REQUIRE(gone);
    CHECK(!*gone);
    // A replayed older pointer after the drop: the site comes back at seq 3.
    CHECK(c->observe_pointer(p1)->seq == 3);
    REQUIRE(c->remove_site(address));
  }
  // Also after a restart; a newer one is taken as ever.
  auto c = open_catalog(dir.path / "catalog.sqlite");
  CHECK(c->observe_pointer(p1)->seq == 3);
  CHECK(c->observe_pointer(p5)->seq == 5);
  REQUIRE(c->remove_site(address));
  CHECK(c->observe_pointer(p3)->seq == 5);
  // Removing a site the catalog never had is fine.
  CHECK(c->remove_site(SiteAddress(SecretKey::generate().public_key())));
}

TEST_CASE("update_site is one transaction: concurrent increments are never lost", "[catalog]") {
  TempDir dir;
  auto c = open_catalog(dir.path / "catalog.sqlite");
  SiteAddress address(SecretKey::generate().public_key());
  constexpr int kThreads = 8;
  constexpr int kEach = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};  // Catch2's assertions are not thread-safe
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        auto r = c->update_site(address, [&](std::optional<SiteRecord>& rec) {
          if (!rec) {
            rec.emplace();
            rec->address = address;
          }
          ++rec->seq;
          return true;
        });
        if (!r) ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failed == 0);
  CHECK((*c->site(address))->seq == kThreads * kEach);

  // Returning false writes nothing.
  auto r = c->update_site(address, [](std::optional<SiteRecord>& rec) {
    rec->seq = 0;
    return false;
  });
  CHECK(r);
  CHECK((*c->site(address))->seq == kThreads * kEach);
}

TEST_CASE("versions: recorded, retired, removed", "[catalog]") {
  TempDir dir;
  auto c = open_catalog(dir.path / "catalog.sqlite");
  SiteAddress address(SecretKey::generate().public_key());
  REQUIRE(c->put_version({ih_of(1), address, 1, 1000, 0}));
  REQUIRE(c->put_version({ih_of(2), address, 2, 2000, 0}));
  REQUIRE(c->retire_version(ih_of(1), 12345));
  auto v = c->versions();
  REQUIRE(v);
  REQUIRE(v->size() == 2);
  for (const auto& x : *v) {
    CHECK(x.address == address);
    if (x.info_hash == ih_of(1)) {
      CHECK(x.retire_at == 12345);
      CHECK(x.bytes == 1000);
    } else {
      CHECK(x.retire_at == 0);
      CHECK(x.seq == 2);
    }
  }
  // Updating keeps when it was first held.
  REQUIRE(c->put_version({ih_of(2), address, 2, 2000, 0, 777}));
  REQUIRE(c->put_version({ih_of(2), address, 2, 2500, 0, 0}));
  auto updated = c->versions();
  REQUIRE(updated);
  for (const auto& x : *updated) {
    if (x.info_hash == ih_of(2)) {
      CHECK(x.bytes == 2500);
      CHECK(x.added > 777);  // set by the first put (now), kept by the second
    }
  }
  REQUIRE(c->remove_version(ih_of(1)));
  CHECK(c->versions()->size() == 1);
}

TEST_CASE("a followed site keeps its role, handle and media choice", "[catalog]") {
  TempDir dir;
  auto c = open_catalog(dir.path / "catalog.sqlite");
  SiteRecord r;
  r.address = SiteAddress(SecretKey::generate().public_key());
  r.role = SiteRole::kFollowed;
  r.handle = "alice";
  r.media = true;
  REQUIRE(c->update_site(r.address, [&](std::optional<SiteRecord>& stored) {
    stored = r;
    return true;
  }));
  auto back = c->site(r.address);
  REQUIRE(back);
  REQUIRE(*back);
  CHECK((*back)->role == SiteRole::kFollowed);
  CHECK((*back)->handle == "alice");
  CHECK((*back)->media);
  CHECK(std::string(role_name(SiteRole::kFollowed)) == "followed");
  CHECK(parse_role("followed") == SiteRole::kFollowed);
}

TEST_CASE("a schema 1 catalog is upgraded in place", "[catalog]") {
  TempDir dir;
  auto file = dir.path / "catalog.sqlite";
  SiteAddress address(SecretKey::generate().public_key());
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    REQUIRE(
        sqlite3_exec(db,
                     "CREATE TABLE sites (address BLOB PRIMARY KEY, role TEXT NOT NULL,"
                     " key_name TEXT NOT NULL DEFAULT '', folder TEXT NOT NULL DEFAULT '',"
                     " seq INTEGER NOT NULL DEFAULT 0, info_hash BLOB,"
                     " ptr_seq INTEGER NOT NULL DEFAULT 0, ptr_value BLOB, ptr_sig BLOB,"
                     " last_visit INTEGER NOT NULL DEFAULT 0, added INTEGER NOT NULL DEFAULT 0);"
                     "CREATE TABLE hash_cache (folder TEXT NOT NULL, rel_path TEXT NOT NULL,"
                     " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
                     " piece_size INTEGER NOT NULL, hashes BLOB NOT NULL,"
                     " store_path TEXT NOT NULL, PRIMARY KEY (folder, rel_path));"
                     "PRAGMA user_version = 1;",
                     nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db,
                               "INSERT INTO sites (address, role, seq, info_hash) "
                               "VALUES (?, 'mirrored', 3, ?)",
                               -1, &st, nullptr) == SQLITE_OK);
    const auto& k = address.key().bytes();
    sqlite3_bind_blob(st, 1, k.data(), static_cast<int>(k.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, ih_of(7).bytes().data(), InfoHash::kSize, SQLITE_TRANSIENT);
    REQUIRE(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  auto c = open_catalog(file);
  auto site = c->site(address);
  REQUIRE(site);
  REQUIRE(*site);
  CHECK((*site)->role == SiteRole::kMirrored);
  CHECK((*site)->seq == 3);
  CHECK((*site)->handle.empty());  // schema 3's column, added with its default
  CHECK(!(*site)->media);          // schema 4's
  auto v = c->versions();
  REQUIRE(v);
  REQUIRE(v->size() == 1);
  CHECK((*v)[0].info_hash == ih_of(7));
  CHECK((*v)[0].seq == 3);
}

TEST_CASE("a catalog from a newer hostless is refused", "[catalog]") {
  TempDir dir;
  auto file = dir.path / "catalog.sqlite";
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "PRAGMA user_version = 99;", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  auto c = Catalog::open(file);
  REQUIRE_FALSE(c);
  CHECK(c.error().message.find("newer hostless") != std::string::npos);
}
