#include "tests/store/test_backend.h"

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>

#include "store/sqlite_store.h"

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

}  // namespace

std::vector<Backend> allBackends() {
  return {Backend{"Sqlite", [] { return std::make_unique<SqliteTestDatabase>(); }}};
}

}  // namespace xmesh::store::testing
