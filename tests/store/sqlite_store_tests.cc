// SQLite-only behaviour: WAL sharing with a foreign writer, concurrent first open,
// schema versioning and what a damaged row turns into.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <thread>

#include "sasl/credentials.h"
#include "store/sqlite_store.h"
#include "tests/store/test_backend.h"

namespace xmesh::store::testing {
namespace {

// A raw connection, standing in for another process.
class RawDb {
 public:
  explicit RawDb(const std::string& path) { sqlite3_open(path.c_str(), &db_); }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  int exec(const std::string& sql) { return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr); }

 private:
  sqlite3* db_ = nullptr;
};

UserRecord user(std::string name) {
  UserRecord u;
  u.username = std::move(name);
  u.secrets = sasl::deriveStoredSecrets("pw", sasl::randomBytes(16), 1);
  return u;
}

SqliteOptions optionsIn(const TempDir& dir) {
  SqliteOptions o;
  o.path = dir.file("xmesh.db");
  o.domain = kTestDomain;
  return o;
}

TEST(SqliteStore, ReadsProceedWhileAnotherProcessHoldsTheWriteLock) {
  TempDir dir;
  SqliteOptions o = optionsIn(dir);
  o.busyTimeoutMs = 50;
  auto st = openSqlite(o);
  ASSERT_TRUE(st.isOk());
  ASSERT_TRUE(st.value()->addUser(user("alice")).isOk());

  RawDb other(o.path);
  ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK);
  ASSERT_EQ(other.exec("UPDATE users SET home_node = 'uncommitted'"), SQLITE_OK);

  auto got = st.value()->getUser("alice");  // WAL: readers see the last commit
  ASSERT_TRUE(got.isOk());
  EXPECT_EQ(got.value()->homeNode, "");
  EXPECT_TRUE(st.value()->healthCheck().isOk());
  Status blocked = st.value()->addUser(user("bob"));
  ASSERT_FALSE(blocked.isOk());
  EXPECT_EQ(blocked.error().reason, "busy");

  ASSERT_EQ(other.exec("COMMIT"), SQLITE_OK);
  EXPECT_EQ(st.value()->getUser("alice").value()->homeNode, "uncommitted");
  EXPECT_TRUE(st.value()->addUser(user("bob")).isOk());
}

TEST(SqliteStore, ConcurrentFirstOpenCreatesSchemaOnce) {
  TempDir dir;
  SqliteOptions o = optionsIn(dir);
  constexpr int kOpeners = 6;
  std::vector<std::thread> threads;
  std::vector<int> ok(kOpeners, 0);
  for (int i = 0; i < kOpeners; ++i)
    threads.emplace_back([&, i] {
      auto st = openSqlite(o);
      ok[i] = st.isOk() && st.value()->addUser(user("u" + std::to_string(i))).isOk();
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < kOpeners; ++i) EXPECT_EQ(ok[i], 1) << "opener " << i;
  auto st = openSqlite(o);
  ASSERT_TRUE(st.isOk());
  EXPECT_EQ(st.value()->countUsers().value(), static_cast<uint64_t>(kOpeners));
}

TEST(SqliteStore, ReopenKeepsData) {
  TempDir dir;
  {
    auto st = openSqlite(optionsIn(dir));
    ASSERT_TRUE(st.isOk());
    ASSERT_TRUE(st.value()->addUser(user("alice")).isOk());
  }
  auto st = openSqlite(optionsIn(dir));
  ASSERT_TRUE(st.isOk());
  EXPECT_TRUE(st.value()->getUser("alice").value().has_value());
}

TEST(SqliteStore, RefusesDatabaseFromNewerSchema) {
  TempDir dir;
  { ASSERT_TRUE(openSqlite(optionsIn(dir)).isOk()); }
  {
    RawDb raw(dir.file("xmesh.db"));
    ASSERT_EQ(raw.exec("UPDATE schema_version SET version = 99"), SQLITE_OK);
  }
  auto st = openSqlite(optionsIn(dir));
  ASSERT_FALSE(st.isOk());
  EXPECT_EQ(st.error().reason, "schema");
}

TEST(SqliteStore, DamagedSecretsReadAsBadSecrets) {
  TempDir dir;
  auto st = openSqlite(optionsIn(dir));
  ASSERT_TRUE(st.isOk());
  ASSERT_TRUE(st.value()->addUser(user("alice")).isOk());
  RawDb raw(dir.file("xmesh.db"));
  ASSERT_EQ(raw.exec("UPDATE users SET secrets = 'scram1:garbage'"), SQLITE_OK);
  auto got = st.value()->getUser("alice");
  ASSERT_FALSE(got.isOk());
  EXPECT_EQ(got.error().reason, "bad-secrets");
}

TEST(SqliteStore, OpenFailsAsValueForUnwritablePath) {
  SqliteOptions o;
  o.path = "/nonexistent-dir/xmesh.db";
  auto st = openSqlite(o);
  ASSERT_FALSE(st.isOk());
  EXPECT_EQ(st.error().reason, "io");
}

TEST(SqliteStore, RemoveUserWithoutDomainKeepsOthersItems) {
  TempDir dir;
  SqliteOptions o = optionsIn(dir);
  o.domain.clear();
  auto st = openSqlite(o);
  ASSERT_TRUE(st.isOk());
  ASSERT_TRUE(st.value()->addUser(user("alice")).isOk());
  RosterItem it;
  it.contact = "alice@example.com";
  ASSERT_TRUE(st.value()->putRosterItem("bob", it).isOk());
  ASSERT_TRUE(st.value()->removeUser("alice").isOk());
  EXPECT_EQ(st.value()->getRoster("bob")->size(), 1u);
}

}  // namespace
}  // namespace xmesh::store::testing
