// One PostgreSQL connection with the backend's reconnect policy (internal to the
// PostgreSQL backend).
//
// A Store is used by one worker thread, and a worker must never hang on a database that
// is gone. So: a failure that means the connection is lost drops it and fails that call
// with "unavailable"; the next call reconnects (connect_timeout bounds the attempt).
// While the server stays unreachable, attempts are spaced by retryInterval and the
// calls in between fail at once with "unavailable" instead of each waiting for a
// connect. Statements are prepared lazily, once per connection, and prepared again
// after a reconnect.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/pg_conn.h"
#include "store/pg_conninfo.h"

namespace xmesh::store::pg {

// A statement the session prepares on first use: `slot` indexes the session's
// prepared flags (0 <= slot < the statementCount given to the session).
struct Statement {
  int slot;
  const char* sql;
};

class Session {
 public:
  // `setupSql` runs after every connect (session settings: lock_timeout, ...).
  Session(ConnectParams params, std::string setupSql, int statementCount,
          std::chrono::milliseconds retryInterval);

  // Connects now (open time): "unavailable" when the server cannot be reached.
  Status connect();

  // Runs a prepared statement. Fails as toError() says.
  Result<Rows> run(const Statement& s, const Params& params, std::string_view what);
  // Simple-query protocol: utility statements or several ';'-separated statements, no
  // parameters; the result of the last one.
  Result<Rows> exec(const char* sql, std::string_view what);
  // COPY ... FROM STDIN (text format) with `data` as its rows.
  Status copyIn(const char* copySql, std::string_view data, std::string_view what);

  // Changes at every new connection: what was prepared, created or begun on an older
  // connection (a transaction, temporary tables) is gone.
  uint64_t generation() const { return generation_; }
  bool connected() const { return conn_ != nullptr; }
  // The SQLSTATE of the last failed query ("" if none or the connection died), for
  // callers that turn one specific error into their own reason (23505 -> "exists").
  const std::string& lastSqlState() const { return lastSqlState_; }

 private:
  // A live connection, reconnecting when allowed; "unavailable" otherwise.
  Status ensureConnected();
  // Classifies a failure; a lost connection is dropped here.
  Error failed(const PGresult* r, std::string_view what);

  ConnectParams params_;
  std::string setupSql_;
  std::chrono::milliseconds retryInterval_;
  ConnPtr conn_;
  std::vector<bool> prepared_;
  uint64_t generation_ = 0;
  std::chrono::steady_clock::time_point nextAttempt_{};  // epoch: may connect now
  std::string lastConnectError_;
  std::string lastSqlState_;
};

// A transaction on one connection: BEGIN, then COMMIT or, on every other way out,
// ROLLBACK. If the connection was lost meanwhile there is nothing to roll back (the
// server ended the transaction), and a reconnected session must not get a stray
// ROLLBACK, hence the generation check.
class Txn {
 public:
  explicit Txn(Session& s) : s_(s) {}
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  Status begin();
  Status commit();

 private:
  Session& s_;
  bool open_ = false;
  uint64_t generation_ = 0;
};

}  // namespace xmesh::store::pg
