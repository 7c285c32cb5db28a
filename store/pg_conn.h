// Thin RAII over libpq handles for the PostgreSQL backend (not a public header: only
// store/pg_* and store/postgres_* include it): owned connections and results, query
// parameters that own their bytes, and the mapping of failures to the store's reasons.
#pragma once
#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace xmesh::store::pg {

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnCloser>;

// One query result, cleared on destruction. Text result format throughout: values are
// read as strings and converted here.
class Rows {
 public:
  explicit Rows(PGresult* r) : r_(r) {}

  int count() const { return PQntuples(r_.get()); }
  bool isNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string_view text(int row, int col) const {
    return {PQgetvalue(r_.get(), row, col), static_cast<size_t>(PQgetlength(r_.get(), row, col))};
  }
  std::string string(int row, int col) const { return std::string(text(row, col)); }
  int64_t integer(int row, int col) const;
  bool boolean(int row, int col) const { return text(row, col) == "t"; }
  // A bytea column (hex text form) decoded to its bytes.
  std::string bytes(int row, int col) const;
  // Rows changed by an INSERT/UPDATE/DELETE (PQcmdTuples).
  uint64_t affected() const;
  PGresult* raw() const { return r_.get(); }

 private:
  struct Clearer {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, Clearer> r_;
};

// Query parameters. Each value is copied, so callers may pass temporaries and
// string_views that are not NUL-terminated (libpq's text format needs C strings).
class Params {
 public:
  Params& text(std::string_view v) { return add(std::string(v), 0); }
  Params& integer(int64_t v) { return add(std::to_string(v), 0); }
  Params& boolean(bool v) { return add(v ? "t" : "f", 0); }
  // bytea sent in binary format: the bytes may hold NULs.
  Params& bytes(std::string_view v) { return add(std::string(v), 1); }
  // A bigint[] literal, e.g. {1,2,3}.
  Params& integerArray(const std::vector<int64_t>& v);
  // A text[] literal; every element quoted, so any text survives.
  Params& textArray(const std::vector<std::string_view>& v);

  int size() const { return static_cast<int>(values_.size()); }
  // Pointer arrays for PQexecPrepared; valid while this object is unchanged.
  std::vector<const char*> pointers() const;
  std::vector<int> lengths() const;
  const int* formats() const { return formats_.data(); }

 private:
  Params& add(std::string v, int format) {
    values_.push_back(std::move(v));
    formats_.push_back(format);
    return *this;
  }
  std::vector<std::string> values_;
  std::vector<int> formats_;
};

// The SQLSTATE of a failed result ("" when there is none, e.g. the connection died).
std::string_view sqlState(const PGresult* r);

// Whether a failure means the server cannot be reached or the connection is gone
// (the caller drops the connection and reports "unavailable").
bool isConnectionFailure(PGconn* conn, const PGresult* r);

// Maps a failed query to the store's reasons: "unavailable" (connection lost, server
// shutting down), "busy" (lock timeout, deadlock, serialization failure), else "io".
Error toError(PGconn* conn, const PGresult* r, std::string_view what);

}  // namespace xmesh::store::pg
