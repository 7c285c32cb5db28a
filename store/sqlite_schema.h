// The SQLite schema and its migrations (internal to the SQLite backend).
#pragma once
#include <sqlite3.h>

#include "core/status.h"

namespace xmesh::store::sqlite {

// The schema version this build writes.
constexpr int kSchemaVersion = 3;

// Brings the database to kSchemaVersion. Runs under BEGIN IMMEDIATE and creates only
// what is missing, so several processes opening a fresh file at once all succeed and
// exactly one of them does the work. Fails with "schema" when the file is newer.
Status migrate(sqlite3* db);

}  // namespace xmesh::store::sqlite
