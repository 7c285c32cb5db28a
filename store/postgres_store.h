// The PostgreSQL backend of Store, for clusters whose nodes run on several hosts and
// share one database server (docs/store-postgres.md). One object is one libpq
// connection, used by one worker thread (async_store.h).
//
// While the server cannot be reached every call fails with "unavailable" (at once, or
// after at most connect_timeout when a reconnect is due); the connection is re-made
// lazily, so calls succeed again as soon as the server is back.
#pragma once
#include <chrono>
#include <string>

#include "core/status.h"
#include "store/store.h"

namespace xmesh::store {

struct PostgresOptions {
  // A postgresql:// URI or a libpq key=value string. It must not ask for TLS: see
  // store/pg_conninfo.h for why and what is refused.
  std::string conninfo;
  // The served XMPP domain; as SqliteOptions::domain (removeUser drops user@domain
  // from the other users' rosters).
  std::string domain;
  // Writers wait this long for a row lock held by another connection, then the call
  // fails with "busy" (SqliteOptions::busyTimeoutMs's counterpart).
  int lockTimeoutMs = 5000;
  // While the server stays unreachable, reconnects are tried at most this often; calls
  // in between fail at once.
  std::chrono::milliseconds retryInterval{1000};
  // For xmeshctl import only: synchronous_commit=off. A server crash may lose the last
  // batches (re-run the import); it cannot corrupt the database.
  bool bulkLoad = false;
};

// Connects and brings the schema to the current version (safe when several nodes start
// at once). Fails with "bad-conninfo" (unparsable or asks for TLS), "unavailable"
// (cannot connect), "schema" (the database is newer than this build) or "io".
Result<StorePtr> openPostgres(const PostgresOptions& options);

}  // namespace xmesh::store
