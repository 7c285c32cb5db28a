#include "store/sqlite_stmt.h"

namespace xmesh::store::sqlite {

Error toError(sqlite3* db, int rc, std::string_view what) {
  std::string detail(what);
  detail += ": ";
  detail += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return Error{"busy", std::move(detail)};
  return Error{"io", std::move(detail)};
}

Status Stmt::prepare(sqlite3* db, std::string_view sql) {
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                              &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    Error e = toError(db, rc, "prepare");
    e.detail += " in: ";
    e.detail += sql;
    return Status::fail(e.reason, e.detail);
  }
  return Status::ok();
}

Status Use::run(std::string_view what) {
  int rc = step();
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::ok();
  Error e = toError(db_, rc, what);
  return Status::fail(e.reason, e.detail);
}

std::string Use::columnText(int i) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, i));
  int n = sqlite3_column_bytes(stmt_, i);
  return p ? std::string(p, static_cast<size_t>(n)) : std::string();
}

Status exec(sqlite3* db, const char* sql) {
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc == SQLITE_OK) return Status::ok();
  Error e = toError(db, rc, sql);
  return Status::fail(e.reason, e.detail);
}

Status Txn::begin() {
  Status s = exec(db_, "BEGIN IMMEDIATE");
  open_ = s.isOk();
  return s;
}

Status Txn::commit() {
  Status s = exec(db_, "COMMIT");
  // A failed COMMIT (SQLITE_BUSY on a reader) leaves the transaction open: the
  // destructor rolls it back, so the caller sees a clean failure.
  if (s.isOk()) open_ = false;
  return s;
}

}  // namespace xmesh::store::sqlite
