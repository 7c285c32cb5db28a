#include "store/sqlite_schema.h"

#include <array>
#include <string>

#include "store/sqlite_stmt.h"

namespace xmesh::store::sqlite {
namespace {

// migrations[i] takes the schema from version i to i+1. Append only: a released
// step is never edited, a later step fixes it.
//
// Why these shapes:
// - users.secrets is sasl::formatStoredSecrets text ("scram1:..."), parsed on read:
//   one opaque column survives a future "scram2" format without a migration.
// - roster is WITHOUT ROWID keyed (username, contact): a user's roster is one
//   contiguous b-tree range, and a sorted bulk import appends instead of seeking.
// - groups are joined with U+001F, which XML 1.0 cannot carry, so it never collides
//   with a group name.
// - offline ids use AUTOINCREMENT so a deleted id is never handed out again: an
//   acknowledgement that arrives late must not delete a newer message.
constexpr std::array<const char*, kSchemaVersion> kMigrations{
    R"sql(
CREATE TABLE IF NOT EXISTS users(
  username TEXT PRIMARY KEY NOT NULL,
  secrets TEXT NOT NULL,
  home_node TEXT NOT NULL DEFAULT '',
  disabled INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS roster(
  username TEXT NOT NULL,
  contact TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  sub INTEGER NOT NULL DEFAULT 0,
  ask_out INTEGER NOT NULL DEFAULT 0,
  pending_in INTEGER NOT NULL DEFAULT 0,
  groups TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(username, contact)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS offline(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL,
  stored_at_ms INTEGER NOT NULL,
  bytes BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS offline_by_user ON offline(username, id);
)sql",
    // 1 -> 2: a directory version bumped by triggers, so every node sharing the database
    // notices user and home changes made by xmeshctl or another node with one cheap read.
    R"sql(
CREATE TABLE IF NOT EXISTS directory_version(
  id INTEGER PRIMARY KEY CHECK(id = 1),
  version INTEGER NOT NULL
);
INSERT OR IGNORE INTO directory_version(id, version) VALUES(1, 0);
CREATE TRIGGER IF NOT EXISTS users_directory_insert AFTER INSERT ON users
BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS users_directory_delete AFTER DELETE ON users
BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS users_directory_home AFTER UPDATE OF home_node ON users
WHEN old.home_node IS NOT new.home_node
BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
)sql",
    // 2 -> 3: one row per node for the Server Recovery Manager: its heartbeat in the
    // shared store (the split-brain witness) and its durable role across restarts.
    R"sql(
CREATE TABLE IF NOT EXISTS node_status(
  node TEXT PRIMARY KEY NOT NULL,
  beat_ms INTEGER NOT NULL,
  incarnation INTEGER NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL,
  role TEXT NOT NULL,
  serves_own INTEGER NOT NULL,
  serves_peer INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
};

Result<int> readVersion(sqlite3* db) {
  Stmt q;
  if (Status s = q.prepare(db, "SELECT coalesce(max(version), 0) FROM schema_version"); !s)
    return s.error();
  Use u(q);
  int rc = u.step();
  if (rc != SQLITE_ROW) return toError(db, rc, "read schema_version");
  return static_cast<int>(u.columnInt(0));
}

}  // namespace

Status migrate(sqlite3* db) {
  Txn txn(db);
  if (Status s = txn.begin(); !s) return s;
  if (Status s = exec(db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)"); !s)
    return s;
  Result<int> current = readVersion(db);
  if (!current) return Status::fail(current.error().reason, current.error().detail);
  int v = current.value();
  if (v > kSchemaVersion)
    return Status::fail("schema", "database schema version " + std::to_string(v) +
                                      " is newer than this build's " + std::to_string(kSchemaVersion));
  if (v == kSchemaVersion) return Status::ok();  // the destructor ends the read-only txn
  for (; v < kSchemaVersion; ++v)
    if (Status s = exec(db, kMigrations[static_cast<size_t>(v)]); !s) return s;
  if (Status s = exec(db, "DELETE FROM schema_version"); !s) return s;
  std::string set = "INSERT INTO schema_version(version) VALUES(" + std::to_string(kSchemaVersion) + ")";
  if (Status s = exec(db, set.c_str()); !s) return s;
  return txn.commit();
}

}  // namespace xmesh::store::sqlite
