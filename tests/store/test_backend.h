// Backends the store contract suite runs against. Each gives a fresh, empty database
// and a factory for more connections to that same database, so multi-connection
// behaviour is part of the contract. "Postgres" runs against a private server the test
// binary starts (pg_test_server.h); ctest runs those cases in one process
// (tests/store/CMakeLists.txt) so the server starts once.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "store/async_store.h"
#include "store/store.h"

namespace xmesh::store::testing {

// The XMPP domain every test database serves (removeUser drops user@kTestDomain).
inline constexpr const char* kTestDomain = "example.com";

class TestDatabase {
 public:
  virtual ~TestDatabase() = default;
  virtual StoreFactory factory() = 0;
};

struct Backend {
  std::string name;
  std::function<std::unique_ptr<TestDatabase>()> create;
};

std::vector<Backend> allBackends();

// A private temporary directory removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace xmesh::store::testing
