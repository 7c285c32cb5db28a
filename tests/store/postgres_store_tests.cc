// PostgreSQL-only behaviour: several nodes migrating at once, a newer schema, lock
// waits, losing the server and getting it back, the no-TLS policy, bulk import.
// (The behaviour both backends share is store_contract_tests.cc.)
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>

#include "sasl/credentials.h"
#include "store/open_store.h"
#include "store/postgres_schema.h"
#include "store/postgres_store.h"
#include "tests/store/pg_test_server.h"

namespace xmesh::store::testing {
namespace {

using Clock = std::chrono::steady_clock;

UserRecord user(std::string name, std::string home = {}) {
  UserRecord u;
  u.username = std::move(name);
  u.secrets = sasl::deriveStoredSecrets("pw", sasl::randomBytes(16), 1);
  u.homeNode = std::move(home);
  return u;
}

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

class PostgresStore : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = PgTestServer::instance();
    ASSERT_TRUE(s.isOk()) << s.error().detail;
    server_ = s.value();
    auto db = server_->createDatabase();
    ASSERT_TRUE(db.isOk()) << db.error().detail;
    db_ = db.value();
  }
  void TearDown() override {
    if (server_ && !db_.empty()) server_->dropDatabase(db_);
  }
  PostgresOptions options() const {
    PostgresOptions o;
    o.conninfo = server_->tcpConninfo(db_);
    o.domain = kTestDomain;
    return o;
  }
  StorePtr open(const PostgresOptions& o) {
    auto s = openPostgres(o);
    EXPECT_TRUE(s.isOk()) << s.error().reason << ": " << s.error().detail;
    return s.isOk() ? std::move(s.value()) : nullptr;
  }
  std::string query(const std::string& sql) {
    auto v = server_->queryValue(db_, sql);
    EXPECT_TRUE(v.isOk()) << v.error().detail;
    return v.isOk() ? v.value() : "";
  }

  PgTestServer* server_ = nullptr;
  std::string db_;
};

TEST_F(PostgresStore, ConcurrentFirstOpenCreatesSchemaOnce) {
  constexpr int kOpeners = 8;
  std::vector<std::thread> threads;
  std::vector<int> ok(kOpeners, 0);
  PostgresOptions o = options();
  for (int i = 0; i < kOpeners; ++i)
    threads.emplace_back([&, i] {
      auto st = openPostgres(o);
      ok[i] = st.isOk() && st.value()->addUser(user("u" + std::to_string(i))).isOk();
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < kOpeners; ++i) EXPECT_EQ(ok[i], 1) << "opener " << i;
  EXPECT_EQ(query("SELECT count(*) FROM schema_version"), "1");
  EXPECT_EQ(query("SELECT version FROM schema_version"), std::to_string(pg::kSchemaVersion));
  EXPECT_EQ(query("SELECT count(*) FROM users"), std::to_string(kOpeners));
}

TEST_F(PostgresStore, RefusesDatabaseWithNewerSchema) {
  ASSERT_TRUE(open(options()));
  ASSERT_TRUE(server_->exec(db_, "UPDATE schema_version SET version = " + std::to_string(pg::kSchemaVersion + 1)));
  auto again = openPostgres(options());
  ASSERT_FALSE(again.isOk());
  EXPECT_EQ(again.error().reason, "schema");
}

TEST_F(PostgresStore, RowLockedPastLockTimeoutIsBusy) {
  PostgresOptions o = options();
  o.lockTimeoutMs = 100;
  StorePtr st = open(o);
  ASSERT_TRUE(st);
  ASSERT_TRUE(st->addUser(user("alice")));
  // Another connection holds alice's row in an open transaction.
  std::unique_ptr<PGconn, decltype(&PQfinish)> other(PQconnectdb(server_->socketConninfo(db_).c_str()), &PQfinish);
  ASSERT_EQ(PQstatus(other.get()), CONNECTION_OK);
  PQclear(PQexec(other.get(), "BEGIN; UPDATE users SET disabled = true WHERE username = 'alice'"));
  Status blocked = st->setHomeNode("alice", "n1");
  ASSERT_FALSE(blocked.isOk());
  EXPECT_EQ(blocked.error().reason, "busy");
  EXPECT_TRUE(st->getUser("alice").isOk());  // readers are not blocked
  PQclear(PQexec(other.get(), "COMMIT"));
  EXPECT_TRUE(st->setHomeNode("alice", "n1").isOk());
}

TEST_F(PostgresStore, ServerDownFailsFastWithUnavailableThenRecovers) {
  PostgresOptions o = options();
  o.retryInterval = std::chrono::milliseconds(200);
  StorePtr st = open(o);
  ASSERT_TRUE(st);
  ASSERT_TRUE(st->addUser(user("alice")));
  ASSERT_TRUE(st->pushOffline("alice", "<message/>", 1, 10).isOk());

  ASSERT_TRUE(server_->stop());
  // The first call finds the connection gone, the next ones fail to reconnect (or are
  // inside the retry interval): all "unavailable", none waiting long.
  for (int i = 0; i < 5; ++i) {
    auto t = Clock::now();
    auto got = st->getUser("alice");
    ASSERT_FALSE(got.isOk());
    EXPECT_EQ(got.error().reason, "unavailable") << got.error().detail;
    Status health = st->healthCheck();
    ASSERT_FALSE(health.isOk());
    EXPECT_EQ(health.error().reason, "unavailable");
    auto pushed = st->pushOffline("alice", "<message/>", 2, 10);
    ASSERT_FALSE(pushed.isOk());  // refused, never acknowledged and dropped
    EXPECT_EQ(pushed.error().reason, "unavailable");
    EXPECT_LT(secondsSince(t), 3.0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  ASSERT_TRUE(server_->start());
  auto t = Clock::now();
  while (!st->healthCheck().isOk() && secondsSince(t) < 10)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(st->healthCheck().isOk());
  // Statements are prepared again on the new connection; the data is all there.
  auto got = st->getUser("alice");
  ASSERT_TRUE(got.isOk()) << got.error().detail;
  EXPECT_TRUE(got.value().has_value());
  EXPECT_EQ(st->peekOffline("alice", 10)->size(), 1u);
  EXPECT_TRUE(st->addUser(user("bob")).isOk());
}

TEST_F(PostgresStore, OpenFailsWithUnavailableWhenNothingListens) {
  PostgresOptions o = options();
  o.conninfo = "host=127.0.0.1 port=1 user=xmesh dbname=x";
  auto t = Clock::now();
  auto st = openPostgres(o);
  ASSERT_FALSE(st.isOk());
  EXPECT_EQ(st.error().reason, "unavailable");
  EXPECT_LT(secondsSince(t), 3.0);
}

TEST_F(PostgresStore, ConninfoAskingForTlsIsRefused) {
  for (const char* tail : {" sslmode=require", " sslmode=verify-ca", " sslmode=verify-full",
                                  " gssencmode=require"}) {
    PostgresOptions o = options();
    o.conninfo += tail;
    auto st = openPostgres(o);
    ASSERT_FALSE(st.isOk()) << tail;
    EXPECT_EQ(st.error().reason, "bad-conninfo") << tail;
    EXPECT_NE(st.error().detail.find("without TLS"), std::string::npos) << st.error().detail;
  }
  PostgresOptions uri = options();
  uri.conninfo = "postgresql://xmesh@127.0.0.1:" + std::to_string(server_->port()) + "/" + db_ + "?sslmode=require";
  EXPECT_EQ(openPostgres(uri).error().reason, "bad-conninfo");

  setenv("PGSSLMODE", "require", 1);
  auto fromEnv = openPostgres(options());
  unsetenv("PGSSLMODE");
  ASSERT_FALSE(fromEnv.isOk());
  EXPECT_EQ(fromEnv.error().reason, "bad-conninfo");

  // "prefer" (libpq's default) is downgraded to a plain connection, which works.
  PostgresOptions prefer = options();
  prefer.conninfo += " sslmode=prefer";
  EXPECT_TRUE(open(prefer));
}

TEST_F(PostgresStore, SpecsSelectPostgresOverTcpUriAndUnixSocket) {
  std::string uri = "postgresql://xmesh:xmesh-test-password@127.0.0.1:" + std::to_string(server_->port()) + "/" + db_;
  for (const std::string& spec : {uri, "pg:" + server_->socketConninfo(db_)}) {
    auto st = storeFactory(spec, OpenOptions{.domain = kTestDomain})();
    ASSERT_TRUE(st.isOk()) << spec << ": " << st.error().detail;
    EXPECT_TRUE(st.value()->healthCheck().isOk());
  }
  EXPECT_EQ(query("SELECT count(*) FROM schema_version"), "1");
}

TEST_F(PostgresStore, ImportBatchesOfUsersAndRosters) {
  constexpr int kUsers = 2000, kContacts = 20, kUsersPerBatch = 500;
  auto name = [](int i) { return "user" + std::to_string(i); };
  std::vector<std::vector<UserRecord>> userBatches;
  std::vector<std::vector<std::pair<std::string, RosterItem>>> rosterBatches;
  for (int i = 0; i < kUsers; ++i) {
    if (i % kUsersPerBatch == 0) {
      userBatches.emplace_back();
      rosterBatches.emplace_back();
    }
    userBatches.back().push_back(user(name(i), i % 2 ? "n1" : ""));
    for (int c = 1; c <= kContacts; ++c) {
      RosterItem it;
      it.contact = name((i + c) % kUsers) + "@example.com";
      it.sub = Sub::Both;
      it.name = "Tab\there\\back\nline";  // COPY escapes
      it.groups = {"Team " + std::to_string(c % 3), "All"};
      rosterBatches.back().push_back({name(i), it});
    }
  }
  // A repeated key in one batch: the last one wins, as with row-at-a-time upserts.
  RosterItem dup = rosterBatches[0][0].second;
  dup.sub = Sub::From;
  rosterBatches[0].push_back({rosterBatches[0][0].first, dup});

  PostgresOptions o = options();
  o.bulkLoad = true;
  StorePtr st = open(o);
  ASSERT_TRUE(st);
  int64_t v0 = st->directoryVersion().value();
  auto t = Clock::now();
  for (size_t b = 0; b < userBatches.size(); ++b) {
    Status s = st->importBatch(userBatches[b], rosterBatches[b]);
    ASSERT_TRUE(s.isOk()) << s.error().detail;
  }
  std::printf("[ info ] imported %d users x %d contacts in %.2f s\n", kUsers, kContacts, secondsSince(t));
  EXPECT_EQ(st->countUsers().value(), static_cast<uint64_t>(kUsers));
  EXPECT_NE(st->directoryVersion().value(), v0);
  EXPECT_EQ(query("SELECT count(*) FROM roster"), std::to_string(kUsers * kContacts));
  auto roster = st->getRoster("user0");
  ASSERT_EQ(roster->size(), static_cast<size_t>(kContacts));
  EXPECT_EQ(roster->front().contact, "user10@example.com");  // byte order: "user10@" < "user1@"
  EXPECT_EQ(roster->front().name, "Tab\there\\back\nline");
  EXPECT_EQ(roster->front().groups, (std::vector<std::string>{"Team 1", "All"}));
  bool sawFrom = false;
  for (const auto& item : *roster) sawFrom = sawFrom || (item.contact == dup.contact && item.sub == Sub::From);
  EXPECT_TRUE(sawFrom);
  EXPECT_EQ(st->getUser("user1").value()->homeNode, "n1");

  // Again: harmless, homes kept where the records name none.
  int64_t v1 = st->directoryVersion().value();
  for (size_t b = 0; b < userBatches.size(); ++b) ASSERT_TRUE(st->importBatch(userBatches[b], rosterBatches[b]));
  EXPECT_EQ(st->countUsers().value(), static_cast<uint64_t>(kUsers));
  EXPECT_EQ(query("SELECT count(*) FROM roster"), std::to_string(kUsers * kContacts));
  EXPECT_EQ(st->directoryVersion().value(), v1);  // no user added, no home changed
}

}  // namespace
}  // namespace xmesh::store::testing
