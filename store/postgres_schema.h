// The PostgreSQL schema and its migrations (internal to the PostgreSQL backend).
#pragma once
#include "core/status.h"
#include "store/pg_session.h"

namespace xmesh::store::pg {

// The schema version this build writes. Independent of the SQLite backend's numbers:
// the two schemas evolve separately.
constexpr int kSchemaVersion = 1;

// Brings the database to kSchemaVersion in one transaction under a transaction-scoped
// advisory lock, so when several nodes start at once exactly one of them migrates and
// the others wait, then find the work done. PostgreSQL's DDL is transactional: a
// migration that fails leaves nothing behind. Fails with "schema" when the database is
// newer than this build.
Status migrate(Session& session);

}  // namespace xmesh::store::pg
