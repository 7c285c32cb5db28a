#include "tests/store/test_backend.h"

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>

#include "store/postgres_store.h"
#include "store/sqlite_store.h"
#include "tests/store/pg_test_server.h"

namespace xmesh::store::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "xmesh-store-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {

class SqliteTestDatabase final : public TestDatabase {
 public:
  StoreFactory factory() override {
    SqliteOptions o;
    o.path = dir_.file("xmesh.db");
    o.domain = kTestDomain;
    return [o] { return openSqlite(o); };
  }

 private:
  TempDir dir_;
};

// A fresh database on the binary's private PostgreSQL server, over TCP with a password.
// Without PostgreSQL every connection fails, so each PG case fails saying why.
class PostgresTestDatabase final : public TestDatabase {
 public:
  PostgresTestDatabase() {
    auto server = PgTestServer::instance();
    if (!server) {
      error_ = server.error();
      return;
    }
    server_ = server.value();
    auto db = server_->createDatabase();
    if (db) {
      name_ = db.value();
    } else {
      error_ = db.error();
    }
  }
  ~PostgresTestDatabase() override {
    if (!name_.empty()) server_->dropDatabase(name_);
  }

  StoreFactory factory() override {
    if (name_.empty()) return [e = error_]() -> Result<StorePtr> { return e; };
    PostgresOptions o;
    o.conninfo = server_->tcpConninfo(name_);
    o.domain = kTestDomain;
    return [o] { return openPostgres(o); };
  }

 private:
  PgTestServer* server_ = nullptr;
  std::string name_;
  Error error_;
};

}  // namespace

std::vector<Backend> allBackends() {
  // SQLite first: tests that need just one backend take front().
  return {Backend{"Sqlite", [] { return std::make_unique<SqliteTestDatabase>(); }},
          Backend{"Postgres", [] { return std::make_unique<PostgresTestDatabase>(); }}};
}

}  // namespace xmesh::store::testing
