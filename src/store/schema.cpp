// Opening the catalog: the SQLite connection and its settings, the schema,
// and the migrations from each older schema version (Catalog::kSchemaVersion).
#include "store/catalog.hpp"

#include <sqlite3.h>

#include <iterator>
#include <string>

#include "store/detail/stmt.hpp"

namespace hostless {

namespace {

// Each schema version's migration from the one before, in order: run in a
// transaction that also sets the new user_version.
struct Migration {
  int to;
  const char* sql;
};
constexpr Migration kMigrations[] = {
    // Schema 1: sites and the hash cache of published folders.
    {1,
     "CREATE TABLE IF NOT EXISTS sites ("
     "  address BLOB PRIMARY KEY, role TEXT NOT NULL, key_name TEXT NOT NULL DEFAULT '',"
     "  folder TEXT NOT NULL DEFAULT '', seq INTEGER NOT NULL DEFAULT 0, info_hash BLOB,"
     "  ptr_seq INTEGER NOT NULL DEFAULT 0, ptr_value BLOB, ptr_sig BLOB,"
     "  last_visit INTEGER NOT NULL DEFAULT 0, added INTEGER NOT NULL DEFAULT 0);"
     "CREATE INDEX IF NOT EXISTS sites_folder ON sites(folder);"
     "CREATE TABLE IF NOT EXISTS hash_cache ("
     "  folder TEXT NOT NULL, rel_path TEXT NOT NULL, size INTEGER NOT NULL,"
     "  mtime_ns INTEGER NOT NULL, piece_size INTEGER NOT NULL, hashes BLOB NOT NULL,"
     "  store_path TEXT NOT NULL, PRIMARY KEY (folder, rel_path));"},
    // Schema 2: the versions a node holds, with their sizes and when a
    // replaced one may be freed.
    {2,
     "CREATE TABLE IF NOT EXISTS versions ("
     "  info_hash BLOB PRIMARY KEY, address BLOB NOT NULL, seq INTEGER NOT NULL DEFAULT 0,"
     "  bytes INTEGER NOT NULL DEFAULT 0, retire_at INTEGER NOT NULL DEFAULT 0,"
     "  added INTEGER NOT NULL DEFAULT 0);"
     "INSERT OR IGNORE INTO versions (info_hash, address, seq, added)"
     "  SELECT info_hash, address, seq, added FROM sites WHERE info_hash IS NOT NULL;"},
    // Schema 3: followed feeds' handles.
    {3, "ALTER TABLE sites ADD COLUMN handle TEXT NOT NULL DEFAULT '';"},
    // Schema 4: whether a followed feed's media/ is kept too.
    {4,
     "ALTER TABLE sites ADD COLUMN media INTEGER NOT NULL DEFAULT 0;"
     // (Follows made before kept media/ too: they go on so.)
     "UPDATE sites SET media = 1 WHERE role = 'followed';"},
    // Schema 5: the highest pointer of each site the node no longer keeps, so
    // that rollback protection outlives eviction, unfollow and unmirror.
    {5,
     "CREATE TABLE IF NOT EXISTS forgotten_pointers ("
     "  address BLOB PRIMARY KEY, ptr_seq INTEGER NOT NULL, ptr_value BLOB NOT NULL,"
     "  ptr_sig BLOB NOT NULL, forgotten INTEGER NOT NULL);"
     "CREATE INDEX IF NOT EXISTS forgotten_by_time ON forgotten_pointers(forgotten);"},
    // Schema 6: petnames (`hostless name set`), the user's own names for
    // sites, opened at <name>.localhost.
    {6,
     "CREATE TABLE IF NOT EXISTS names ("
     "  name TEXT PRIMARY KEY, address BLOB NOT NULL, added INTEGER NOT NULL);"},
};
static_assert(kMigrations[std::size(kMigrations) - 1].to == Catalog::kSchemaVersion,
              "the last migration makes the current schema");

}  // namespace

Result<std::unique_ptr<Catalog>> Catalog::open(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return make_error("cannot open catalog " + file.string() + ": " + msg);
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<Catalog> c(new Catalog(db));
  if (auto s = c->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"); !s) {
    return s.error();
  }
  int version = 0;
  {
    Stmt q(db, "PRAGMA user_version");
    if (q.ok() && q.step() == SQLITE_ROW) version = static_cast<int>(q.i64(0));
  }
  if (version > kSchemaVersion) {
    return make_error("catalog " + file.string() + " was written by a newer hostless (schema " +
                      std::to_string(version) + "); upgrade hostless");
  }
  for (const Migration& m : kMigrations) {
    if (version >= m.to) continue;
    const std::string sql = std::string("BEGIN;") + m.sql +
                            "PRAGMA user_version = " + std::to_string(m.to) + ";COMMIT;";
    auto s = c->exec(sql.c_str());
    if (!s) return s.error();
  }
  return c;
}

Catalog::~Catalog() {
  sqlite3_close(db_);
}

Status Catalog::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return make_error("catalog: " + msg);
  }
  return {};
}

}  // namespace hostless
