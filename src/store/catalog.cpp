// The catalog's queries: sites and their highest pointers (kept after a site
// is removed), versions held, the hash cache and petnames. The schema they
// use is in schema.cpp.
#include "store/catalog.hpp"

#include <sqlite3.h>

#include <cstring>
#include <ctime>

#include "store/detail/stmt.hpp"

namespace hostless {

const char* role_name(SiteRole role) {
  switch (role) {
    case SiteRole::kPublished:
      return "published";
    case SiteRole::kMirrored:
      return "mirrored";
    case SiteRole::kVisited:
      return "visited";
    case SiteRole::kFollowed:
      return "followed";
    case SiteRole::kBlocked:
      return "blocked";
    case SiteRole::kBlocklist:
      return "blocklist";
  }
  return "visited";
}

std::optional<SiteRole> parse_role(const std::string& name) {
  if (name == "published") return SiteRole::kPublished;
  if (name == "mirrored") return SiteRole::kMirrored;
  if (name == "visited") return SiteRole::kVisited;
  if (name == "followed") return SiteRole::kFollowed;
  if (name == "blocked") return SiteRole::kBlocked;
  if (name == "blocklist") return SiteRole::kBlocklist;
  return std::nullopt;
}

namespace {

Error db_error(sqlite3* db, const std::string& what) {
  return make_error("catalog: " + what + ": " + sqlite3_errmsg(db));
}

constexpr const char* kSiteColumns =
    "address, role, key_name, folder, seq, info_hash, ptr_seq, ptr_value, ptr_sig, "
    "last_visit, added, handle, media";

SiteRecord read_site(const Stmt& s) {
  SiteRecord r;
  auto key = s.text(0);
  PublicKey::Bytes kb{};
  std::memcpy(kb.data(), key.data(), std::min(key.size(), kb.size()));
  r.address = SiteAddress(PublicKey(kb));
  r.role = parse_role(s.text(1)).value_or(SiteRole::kVisited);
  r.key_name = s.text(2);
  r.folder = s.text(3);
  r.seq = s.i64(4);
  if (!s.is_null(5)) {
    auto ih = s.text(5);
    InfoHash::Bytes b{};
    std::memcpy(b.data(), ih.data(), std::min(ih.size(), b.size()));
    r.info_hash = InfoHash(b);
  }
  if (!s.is_null(7)) {
    auto v = PointerValue::decode(s.text(7));
    auto sig = s.text(8);
    if (v && sig.size() == 64) {
      SignedPointer p;
      p.key = r.address.key();
      p.seq = s.i64(6);
      p.value = *v;
      std::memcpy(p.signature.data(), sig.data(), 64);
      if (p.verify()) r.pointer = p;
    }
  }
  r.last_visit = s.i64(9);
  r.added = s.i64(10);
  r.handle = s.text(11);
  r.media = s.i64(12) != 0;
  return r;
}

}  // namespace

Result<std::optional<SiteRecord>> Catalog::site(const SiteAddress& address) {
  std::lock_guard lock(mutex_);
  return site_locked(address);
}

Result<std::optional<SiteRecord>> Catalog::site_locked(const SiteAddress& address) {
  Stmt s(db_, (std::string("SELECT ") + kSiteColumns + " FROM sites WHERE address = ?").c_str());
  if (!s.ok()) return db_error(db_, "query");
  const auto& k = address.key().bytes();
  s.bind_blob(1, k.data(), k.size());
  int rc = s.step();
  if (rc == SQLITE_ROW) return std::optional<SiteRecord>(read_site(s));
  if (rc == SQLITE_DONE) return std::optional<SiteRecord>();
  return db_error(db_, "query");
}

Result<std::vector<SiteRecord>> Catalog::sites() {
  std::lock_guard lock(mutex_);
  Stmt s(db_, (std::string("SELECT ") + kSiteColumns + " FROM sites ORDER BY added").c_str());
  if (!s.ok()) return db_error(db_, "query");
  std::vector<SiteRecord> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(read_site(s));
  if (rc != SQLITE_DONE) return db_error(db_, "query");
  return out;
}

Result<std::optional<SiteRecord>> Catalog::site_by_folder(const std::string& folder) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, (std::string("SELECT ") + kSiteColumns +
               " FROM sites WHERE folder = ? AND role = 'published'")
                  .c_str());
  if (!s.ok()) return db_error(db_, "query");
  s.bind(1, folder);
  int rc = s.step();
  if (rc == SQLITE_ROW) return std::optional<SiteRecord>(read_site(s));
  if (rc == SQLITE_DONE) return std::optional<SiteRecord>();
  return db_error(db_, "query");
}

Status Catalog::put_site_locked(const SiteRecord& r) {
  Stmt s(db_,
         "INSERT OR REPLACE INTO sites (address, role, key_name, folder, seq, info_hash, "
         "ptr_seq, ptr_value, ptr_sig, last_visit, added, handle, media) "
         "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!s.ok()) return db_error(db_, "prepare");
  const auto& k = r.address.key().bytes();
  s.bind_blob(1, k.data(), k.size());
  s.bind(2, std::string(role_name(r.role)));
  s.bind(3, r.key_name);
  s.bind(4, r.folder);
  s.bind(5, r.seq);
  if (r.info_hash) {
    s.bind_blob(6, r.info_hash->bytes().data(), InfoHash::kSize);
  } else {
    s.bind_null(6);
  }
  if (r.pointer) {
    auto v = r.pointer->value.encode();
    s.bind(7, r.pointer->seq);
    s.bind_blob(8, v.data(), v.size());
    s.bind_blob(9, r.pointer->signature.data(), r.pointer->signature.size());
  } else {
    s.bind(7, std::int64_t{0}).bind_null(8).bind_null(9);
  }
  s.bind(10, r.last_visit);
  s.bind(11, r.added ? r.added : static_cast<std::int64_t>(std::time(nullptr)));
  s.bind(12, r.handle);
  s.bind(13, std::int64_t{r.media ? 1 : 0});
  if (s.step() != SQLITE_DONE) return db_error(db_, "write site");
  return {};
}

Status Catalog::touch_visit(const SiteAddress& address, std::int64_t when) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "UPDATE sites SET last_visit = ? WHERE address = ?");
  s.bind(1, when);
  const auto& k = address.key().bytes();
  s.bind_blob(2, k.data(), k.size());
  if (s.step() != SQLITE_DONE) return db_error(db_, "update last visit");
  return {};
}

Status Catalog::remove_site(const SiteAddress& address) {
  std::lock_guard lock(mutex_);
  const auto& k = address.key().bytes();
  if (auto s = exec("BEGIN IMMEDIATE"); !s) return s;
  // The site goes; its highest seq stays (the WHERE is needed by SQLite's
  // upsert after a SELECT).
  Stmt keep(db_,
            "INSERT INTO forgotten_pointers (address, ptr_seq, ptr_value, ptr_sig, forgotten) "
            "SELECT address, ptr_seq, ptr_value, ptr_sig, ? FROM sites "
            "WHERE address = ? AND ptr_value IS NOT NULL AND ptr_sig IS NOT NULL "
            "ON CONFLICT(address) DO UPDATE SET ptr_seq = excluded.ptr_seq, "
            "ptr_value = excluded.ptr_value, ptr_sig = excluded.ptr_sig, "
            "forgotten = excluded.forgotten WHERE excluded.ptr_seq > forgotten_pointers.ptr_seq");
  keep.bind(1, static_cast<std::int64_t>(std::time(nullptr)));
  keep.bind_blob(2, k.data(), k.size());
  Stmt del(db_, "DELETE FROM sites WHERE address = ?");
  del.bind_blob(1, k.data(), k.size());
  // Bounded: the oldest go first (about 200 bytes each).
  Stmt trim(db_,
            "DELETE FROM forgotten_pointers WHERE address IN (SELECT address FROM "
            "forgotten_pointers ORDER BY forgotten DESC LIMIT -1 OFFSET ?)");
  trim.bind(1, std::int64_t{kMaxForgotten});
  if (!keep.ok() || keep.step() != SQLITE_DONE || !del.ok() || del.step() != SQLITE_DONE ||
      !trim.ok() || trim.step() != SQLITE_DONE) {
    auto e = db_error(db_, "delete site");
    (void)exec("ROLLBACK");
    return e;
  }
  return exec("COMMIT");
}

std::optional<SignedPointer> Catalog::forgotten_locked(const SiteAddress& address) {
  Stmt s(db_, "SELECT ptr_seq, ptr_value, ptr_sig FROM forgotten_pointers WHERE address = ?");
  const auto& k = address.key().bytes();
  s.bind_blob(1, k.data(), k.size());
  if (!s.ok() || s.step() != SQLITE_ROW) return std::nullopt;
  auto v = PointerValue::decode(s.text(1));
  auto sig = s.text(2);
  if (!v || sig.size() != 64) return std::nullopt;
  SignedPointer p;
  p.key = address.key();
  p.seq = s.i64(0);
  p.value = *v;
  std::memcpy(p.signature.data(), sig.data(), 64);
  if (!p.verify()) return std::nullopt;
  return p;
}

Result<std::optional<SiteRecord>> Catalog::update_site(const SiteAddress& address,
                                                       const SiteUpdate& fn) {
  std::lock_guard lock(mutex_);
  if (auto s = exec("BEGIN IMMEDIATE"); !s) return s.error();
  auto record = site_locked(address);
  if (!record) {
    (void)exec("ROLLBACK");
    return record.error();
  }
  bool changed = false;
  try {
    changed = fn(*record);
  } catch (...) {
    (void)exec("ROLLBACK");  // a thrown update leaves no transaction open
    throw;
  }
  if (changed && *record) {
    if (auto s = put_site_locked(**record); !s) {
      (void)exec("ROLLBACK");
      return s.error();
    }
  }
  if (auto s = exec("COMMIT"); !s) return s.error();
  return *record;
}

Result<SignedPointer> Catalog::observe_pointer(const SignedPointer& pointer) {
  if (!pointer.verify()) return make_error("refusing a pointer with a bad signature");
  auto stored = update_site(SiteAddress(pointer.key), [&](std::optional<SiteRecord>& r) {
    if (r && r->pointer && r->pointer->seq >= pointer.seq) return false;
    if (!r) {
      r.emplace();
      r->address = SiteAddress(pointer.key);
      r->role = SiteRole::kVisited;
      // Held once and dropped since: never below what was seen then.
      if (auto before = forgotten_locked(r->address); before && before->seq >= pointer.seq) {
        r->pointer = *before;
        return true;
      }
    }
    r->pointer = pointer;
    return true;
  });
  if (!stored) return stored.error();
  return *(*stored)->pointer;
}

Status Catalog::put_version(const VersionRecord& v) {
  std::lock_guard lock(mutex_);
  Stmt s(db_,
         "INSERT INTO versions (info_hash, address, seq, bytes, retire_at, added) "
         "VALUES (?,?,?,?,?,?) ON CONFLICT(info_hash) DO UPDATE SET address = excluded.address, "
         "seq = excluded.seq, bytes = excluded.bytes, retire_at = excluded.retire_at");
  if (!s.ok()) return db_error(db_, "prepare");
  s.bind_blob(1, v.info_hash.bytes().data(), InfoHash::kSize);
  const auto& k = v.address.key().bytes();
  s.bind_blob(2, k.data(), k.size());
  s.bind(3, v.seq).bind(4, static_cast<std::int64_t>(v.bytes)).bind(5, v.retire_at);
  s.bind(6, v.added ? v.added : static_cast<std::int64_t>(std::time(nullptr)));
  if (s.step() != SQLITE_DONE) return db_error(db_, "write version");
  return {};
}

Status Catalog::retire_version(const InfoHash& ih, std::int64_t at) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "UPDATE versions SET retire_at = ? WHERE info_hash = ?");
  s.bind(1, at).bind_blob(2, ih.bytes().data(), InfoHash::kSize);
  if (s.step() != SQLITE_DONE) return db_error(db_, "retire version");
  return {};
}

Status Catalog::remove_version(const InfoHash& ih) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "DELETE FROM versions WHERE info_hash = ?");
  s.bind_blob(1, ih.bytes().data(), InfoHash::kSize);
  if (s.step() != SQLITE_DONE) return db_error(db_, "delete version");
  return {};
}

Result<std::vector<VersionRecord>> Catalog::versions() {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT info_hash, address, seq, bytes, retire_at, added FROM versions");
  if (!s.ok()) return db_error(db_, "query");
  std::vector<VersionRecord> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    auto ih = s.text(0);
    auto key = s.text(1);
    if (ih.size() != InfoHash::kSize || key.size() != PublicKey::Bytes().size()) continue;
    InfoHash::Bytes ib{};
    std::memcpy(ib.data(), ih.data(), ib.size());
    PublicKey::Bytes kb{};
    std::memcpy(kb.data(), key.data(), kb.size());
    out.push_back({InfoHash(ib), SiteAddress(PublicKey(kb)), s.i64(2),
                   static_cast<std::uint64_t>(s.i64(3)), s.i64(4), s.i64(5)});
  }
  if (rc != SQLITE_DONE) return db_error(db_, "query");
  return out;
}

Result<std::vector<HashCacheEntry>> Catalog::hash_cache(const std::string& folder) {
  std::lock_guard lock(mutex_);
  Stmt s(db_,
         "SELECT rel_path, size, mtime_ns, piece_size, hashes, store_path FROM hash_cache "
         "WHERE folder = ?");
  if (!s.ok()) return db_error(db_, "query");
  s.bind(1, folder);
  std::vector<HashCacheEntry> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    out.push_back({s.text(0), static_cast<std::uint64_t>(s.i64(1)), s.i64(2),
                   static_cast<std::uint64_t>(s.i64(3)), s.text(4), s.text(5)});
  }
  if (rc != SQLITE_DONE) return db_error(db_, "query");
  return out;
}

Status Catalog::replace_hash_cache(const std::string& folder,
                                   const std::vector<HashCacheEntry>& entries) {
  std::lock_guard lock(mutex_);
  if (sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return db_error(db_, "begin");
  }
  {
    Stmt del(db_, "DELETE FROM hash_cache WHERE folder = ?");
    del.bind(1, folder);
    if (del.step() != SQLITE_DONE) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return db_error(db_, "clear hash cache");
    }
    Stmt ins(db_,
             "INSERT INTO hash_cache (folder, rel_path, size, mtime_ns, piece_size, hashes, "
             "store_path) VALUES (?,?,?,?,?,?,?)");
    for (const auto& e : entries) {
      ins.reset();
      ins.bind(1, folder).bind(2, e.rel_path);
      ins.bind(3, static_cast<std::int64_t>(e.size)).bind(4, e.mtime_ns);
      ins.bind(5, static_cast<std::int64_t>(e.piece_size));
      ins.bind_blob(6, e.hashes.data(), e.hashes.size());
      ins.bind(7, e.store_path);
      if (ins.step() != SQLITE_DONE) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        return db_error(db_, "write hash cache");
      }
    }
  }
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return db_error(db_, "commit");
  }
  return {};
}

Result<std::vector<NameRecord>> Catalog::names() {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "SELECT name, address, added FROM names ORDER BY name");
  if (!s.ok()) return db_error(db_, "query");
  std::vector<NameRecord> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    auto key = s.text(1);
    PublicKey::Bytes kb{};
    if (key.size() != kb.size()) continue;
    std::memcpy(kb.data(), key.data(), kb.size());
    out.push_back({s.text(0), SiteAddress(PublicKey(kb)), s.i64(2)});
  }
  if (rc != SQLITE_DONE) return db_error(db_, "query");
  return out;
}

Status Catalog::set_name(const std::string& name, const SiteAddress& address) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "INSERT OR REPLACE INTO names (name, address, added) VALUES (?,?,?)");
  if (!s.ok()) return db_error(db_, "prepare");
  const auto& k = address.key().bytes();
  s.bind(1, name);
  s.bind_blob(2, k.data(), k.size());
  s.bind(3, static_cast<std::int64_t>(std::time(nullptr)));
  if (s.step() != SQLITE_DONE) return db_error(db_, "write name");
  return {};
}

Result<bool> Catalog::remove_name(const std::string& name) {
  std::lock_guard lock(mutex_);
  Stmt s(db_, "DELETE FROM names WHERE name = ?");
  if (!s.ok()) return db_error(db_, "prepare");
  s.bind(1, name);
  if (s.step() != SQLITE_DONE) return db_error(db_, "remove name");
  return sqlite3_changes(db_) > 0;
}

}  // namespace hostless
