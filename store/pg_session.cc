#include "store/pg_session.h"

#include <algorithm>
#include <optional>

namespace xmesh::store::pg {
namespace {

// NOTICEs (e.g. "relation already exists, skipping") are not errors; libpq's default
// would print them on stderr.
void dropNotice(void*, const char*) {}

// Big COPY payloads go to libpq in slices, so its output buffer stays small.
constexpr size_t kCopySlice = 256 * 1024;

}  // namespace

Session::Session(ConnectParams params, std::string setupSql, int statementCount,
                 std::chrono::milliseconds retryInterval)
    : params_(std::move(params)),
      setupSql_(std::move(setupSql)),
      retryInterval_(retryInterval),
      prepared_(static_cast<size_t>(statementCount), false) {}

Status Session::connect() {
  nextAttempt_ = {};
  return ensureConnected();
}

Status Session::ensureConnected() {
  if (conn_) return Status::ok();
  auto now = std::chrono::steady_clock::now();
  if (now < nextAttempt_)
    return Status::fail("unavailable", "PostgreSQL unreachable (retrying shortly): " + lastConnectError_);
  nextAttempt_ = now + retryInterval_;

  std::vector<const char*> keys, values;
  for (size_t i = 0; i < params_.keywords.size(); ++i) {
    keys.push_back(params_.keywords[i].c_str());
    values.push_back(params_.values[i].c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  ConnPtr c(PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1));
  if (!c || PQstatus(c.get()) != CONNECTION_OK) {
    lastConnectError_ = c ? PQerrorMessage(c.get()) : "out of memory";
    while (!lastConnectError_.empty() && lastConnectError_.back() == '\n') lastConnectError_.pop_back();
    return Status::fail("unavailable", "PostgreSQL connect: " + lastConnectError_);
  }
  PQsetNoticeProcessor(c.get(), &dropNotice, nullptr);
  conn_ = std::move(c);
  ++generation_;
  std::fill(prepared_.begin(), prepared_.end(), false);
  if (!setupSql_.empty()) {
    auto r = exec(setupSql_.c_str(), "session setup");
    if (!r) {
      conn_.reset();  // never run queries without the session's settings
      return Status::fail(r.error().reason, r.error().detail);
    }
  }
  nextAttempt_ = {};
  return Status::ok();
}

Error Session::failed(const PGresult* r, std::string_view what) {
  Error e = toError(conn_.get(), r, what);
  lastSqlState_ = sqlState(r);
  if (e.reason == "unavailable") {
    conn_.reset();
    nextAttempt_ = {};  // the next call tries at once: the server may be back already
  }
  return e;
}

Result<Rows> Session::run(const Statement& s, const Params& params, std::string_view what) {
  if (Status st = ensureConnected(); !st) return st.error();
  auto slot = static_cast<size_t>(s.slot);
  std::string name = "x" + std::to_string(s.slot);
  if (!prepared_[slot]) {
    Rows prep(PQprepare(conn_.get(), name.c_str(), s.sql, 0, nullptr));
    if (PQresultStatus(prep.raw()) != PGRES_COMMAND_OK) return failed(prep.raw(), what);
    prepared_[slot] = true;
  }
  auto values = params.pointers();
  auto lengths = params.lengths();
  Rows rows(PQexecPrepared(conn_.get(), name.c_str(), params.size(), values.data(), lengths.data(),
                           params.formats(), 0));
  ExecStatusType st = PQresultStatus(rows.raw());
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) return failed(rows.raw(), what);
  return rows;
}

Result<Rows> Session::exec(const char* sql, std::string_view what) {
  if (Status st = ensureConnected(); !st) return st.error();
  Rows rows(PQexec(conn_.get(), sql));
  ExecStatusType st = PQresultStatus(rows.raw());
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) return failed(rows.raw(), what);
  return rows;
}

Status Session::copyIn(const char* copySql, std::string_view data, std::string_view what) {
  if (Status st = ensureConnected(); !st) return st;
  {
    Rows start(PQexec(conn_.get(), copySql));
    if (PQresultStatus(start.raw()) != PGRES_COPY_IN) {
      Error e = failed(start.raw(), what);
      return Status::fail(e.reason, e.detail);
    }
  }
  bool sent = true;
  for (size_t at = 0; sent && at < data.size(); at += kCopySlice) {
    size_t n = std::min(kCopySlice, data.size() - at);
    sent = PQputCopyData(conn_.get(), data.data() + at, static_cast<int>(n)) == 1;
  }
  // On a send failure, ending the copy with an error message aborts it server-side.
  if (PQputCopyEnd(conn_.get(), sent ? nullptr : "send failed") != 1) sent = false;
  // The COPY's outcome, then nothing: every result must be consumed before the next query.
  std::optional<Error> error;
  while (PGresult* raw = PQgetResult(conn_.get())) {
    Rows r(raw);
    if (!error && PQresultStatus(r.raw()) != PGRES_COMMAND_OK) error = failed(r.raw(), what);
    if (!conn_ || PQstatus(conn_.get()) == CONNECTION_BAD) break;
  }
  if (!error && !sent) error = failed(nullptr, what);
  if (error) return Status::fail(error->reason, error->detail);
  return Status::ok();
}

Txn::~Txn() {
  if (open_ && s_.connected() && s_.generation() == generation_) (void)s_.exec("ROLLBACK", "rollback");
}

Status Txn::begin() {
  auto r = s_.exec("BEGIN", "begin");
  if (!r) return Status::fail(r.error().reason, r.error().detail);
  open_ = true;
  generation_ = s_.generation();
  return Status::ok();
}

Status Txn::commit() {
  // Committing on a newer connection would "succeed" with nothing to commit.
  if (!s_.connected() || s_.generation() != generation_)
    return Status::fail("unavailable", "connection lost in a transaction");
  open_ = false;
  auto r = s_.exec("COMMIT", "commit");
  if (!r) return Status::fail(r.error().reason, r.error().detail);
  return Status::ok();
}

}  // namespace xmesh::store::pg
