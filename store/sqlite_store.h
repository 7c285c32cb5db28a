// The embedded SQLite backend of Store. WAL mode, so one file can be shared by the
// nodes of a cluster on one host (and by xmeshctl while they run): readers never
// block the writer, writers queue on the file lock up to busyTimeoutMs.
#pragma once
#include <string>

#include "core/status.h"
#include "store/store.h"

namespace xmesh::store {

struct SqliteOptions {
  std::string path;
  int busyTimeoutMs = 5000;
  // synchronous=NORMAL in WAL mode: a power cut may lose the last commits, never
  // corrupts. false = FULL (fsync per commit).
  bool synchronousNormal = true;
  // The served XMPP domain. When set, removeUser also drops username@domain from the
  // other users' rosters; when empty those items stay (the store cannot name the JID).
  std::string domain;
  // For xmeshctl import only: synchronous=OFF, a large page cache and rare WAL
  // checkpoints. An OS crash mid-import may corrupt the file; a process crash may not.
  bool bulkLoad = false;
};

// Opens (creating if needed) the database and brings its schema to the current
// version. Safe when several processes open the same file at once: the migration runs
// under BEGIN IMMEDIATE and only creates what is missing.
Result<StorePtr> openSqlite(const SqliteOptions& options);

}  // namespace xmesh::store
