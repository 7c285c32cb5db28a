// Thin RAII over sqlite3 handles for the SQLite backend (not a public header: only
// store/sqlite_*.cc include it). Statements are prepared once per connection and
// reset after each use, which is what makes the hot paths and bulk import cheap.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace xmesh::store::sqlite {

// Maps a failed sqlite3 result code to the store's error reasons.
Error toError(sqlite3* db, int rc, std::string_view what);

// A prepared statement owned for the connection's lifetime.
class Stmt {
 public:
  Stmt() = default;
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Status prepare(sqlite3* db, std::string_view sql);
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// One use of a prepared statement: binds, steps, and resets + clears bindings when it
// goes out of scope, so an early return cannot leave a statement holding a read lock.
class Use {
 public:
  explicit Use(const Stmt& s) : db_(sqlite3_db_handle(s.get())), stmt_(s.get()) {}
  ~Use() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

  // Bind indexes start at 1, as in sqlite3_bind_*. Text is bound SQLITE_STATIC: the
  // caller keeps it alive until the statement is stepped (always true in one call).
  Use& text(int i, std::string_view v) {
    // A default string_view has data() == nullptr, which SQLite would bind as NULL.
    sqlite3_bind_text(stmt_, i, v.data() ? v.data() : "", static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Use& blob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data() ? v.data() : "", static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Use& integer(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(stmt_); }
  // Steps a statement that returns no rows.
  Status run(std::string_view what);

  std::string columnText(int i) const;
  int64_t columnInt(int i) const { return sqlite3_column_int64(stmt_, i); }
  sqlite3* db() const { return db_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// Runs SQL without results (pragmas, BEGIN/COMMIT, schema).
Status exec(sqlite3* db, const char* sql);

// A write transaction: BEGIN IMMEDIATE takes the write lock up front, so two
// connections never both read-then-upgrade and deadlock (the busy handler cannot help
// a deferred transaction that must upgrade). Rolls back unless committed.
class Txn {
 public:
  explicit Txn(sqlite3* db) : db_(db) {}
  ~Txn() {
    if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  Status begin();
  Status commit();

 private:
  sqlite3* db_;
  bool open_ = false;
};

}  // namespace xmesh::store::sqlite
