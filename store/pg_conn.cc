#include "store/pg_conn.h"

#include <charconv>

namespace xmesh::store::pg {

int64_t Rows::integer(int row, int col) const {
  std::string_view t = text(row, col);
  int64_t v = 0;
  std::from_chars(t.data(), t.data() + t.size(), v);
  return v;
}

std::string Rows::bytes(int row, int col) const {
  size_t n = 0;
  unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_.get(), row, col)), &n);
  if (!raw) return {};
  std::unique_ptr<unsigned char, decltype(&PQfreemem)> owned(raw, &PQfreemem);
  return std::string(reinterpret_cast<const char*>(raw), n);
}

uint64_t Rows::affected() const {
  std::string_view t = PQcmdTuples(r_.get());
  uint64_t v = 0;
  std::from_chars(t.data(), t.data() + t.size(), v);
  return v;
}

Params& Params::integerArray(const std::vector<int64_t>& v) {
  std::string lit = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) lit += ',';
    lit += std::to_string(v[i]);
  }
  lit += '}';
  return add(std::move(lit), 0);
}

Params& Params::textArray(const std::vector<std::string_view>& v) {
  std::string lit = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) lit += ',';
    lit += '"';
    for (char c : v[i]) {
      if (c == '"' || c == '\\') lit += '\\';
      lit += c;
    }
    lit += '"';
  }
  lit += '}';
  return add(std::move(lit), 0);
}

std::vector<const char*> Params::pointers() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(v.c_str());
  return out;
}

std::vector<int> Params::lengths() const {
  std::vector<int> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(static_cast<int>(v.size()));
  return out;
}

std::string_view sqlState(const PGresult* r) {
  const char* s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  return s ? std::string_view(s) : std::string_view();
}

bool isConnectionFailure(PGconn* conn, const PGresult* r) {
  if (!conn || PQstatus(conn) == CONNECTION_BAD) return true;
  std::string_view state = sqlState(r);
  // Class 08: connection exceptions. 57P01-03: the server is shutting down, crashed or
  // is starting (admin_shutdown, crash_shutdown, cannot_connect_now).
  return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03";
}

Error toError(PGconn* conn, const PGresult* r, std::string_view what) {
  std::string detail(what);
  detail += ": ";
  const char* msg = r ? PQresultErrorMessage(r) : nullptr;
  if (!msg || !*msg) msg = conn ? PQerrorMessage(conn) : "no connection";
  detail += msg;
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
  if (isConnectionFailure(conn, r)) return Error{"unavailable", std::move(detail)};
  std::string_view state = sqlState(r);
  // lock_not_available (lock_timeout), deadlock_detected, serialization_failure: another
  // writer holds what we need; like SQLite's busy timeout, the caller may retry.
  if (state == "55P03" || state == "40P01" || state == "40001") return Error{"busy", std::move(detail)};
  return Error{"io", std::move(detail)};
}

}  // namespace xmesh::store::pg
