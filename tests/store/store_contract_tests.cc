// The Store contract, run against every backend in allBackends().
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "sasl/credentials.h"
#include "tests/store/test_backend.h"

namespace xmesh::store::testing {
namespace {

sasl::StoredSecrets secretsFor(std::string_view password) {
  // Iteration count 1 keeps the suite fast; the store only moves the bytes.
  return sasl::deriveStoredSecrets(password, sasl::randomBytes(16), 1);
}

UserRecord user(std::string name, std::string home = {}) {
  UserRecord u;
  u.username = std::move(name);
  u.secrets = secretsFor("pw-" + u.username);
  u.homeNode = std::move(home);
  return u;
}

RosterItem item(std::string contact, Sub sub = Sub::Both, std::vector<std::string> groups = {}) {
  RosterItem i;
  i.contact = std::move(contact);
  i.sub = sub;
  i.groups = std::move(groups);
  return i;
}

void expectSameCredentials(const sasl::ScramCredentials& a, const sasl::ScramCredentials& b) {
  EXPECT_EQ(a.alg, b.alg);
  EXPECT_EQ(a.salt, b.salt);
  EXPECT_EQ(a.iterations, b.iterations);
  EXPECT_EQ(a.storedKey, b.storedKey);
  EXPECT_EQ(a.serverKey, b.serverKey);
}

class StoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    db_ = GetParam().create();
    auto s = db_->factory()();
    ASSERT_TRUE(s.isOk()) << s.error().reason << ": " << s.error().detail;
    store_ = std::move(s.value());
  }
  StorePtr connect() {
    auto s = db_->factory()();
    EXPECT_TRUE(s.isOk()) << s.error().detail;
    return s.isOk() ? std::move(s.value()) : nullptr;
  }
  Store& st() { return *store_; }

  std::unique_ptr<TestDatabase> db_;
  StorePtr store_;
};

TEST_P(StoreContract, AddedUserReadsBackWithSecrets) {
  UserRecord u = user("alice", "node2");
  u.disabled = true;
  ASSERT_TRUE(st().addUser(u).isOk());
  auto got = st().getUser("alice");
  ASSERT_TRUE(got.isOk());
  ASSERT_TRUE(got.value().has_value());
  EXPECT_EQ(got.value()->username, "alice");
  EXPECT_EQ(got.value()->homeNode, "node2");
  EXPECT_TRUE(got.value()->disabled);
  expectSameCredentials(got.value()->secrets.sha1, u.secrets.sha1);
  expectSameCredentials(got.value()->secrets.sha256, u.secrets.sha256);
  EXPECT_TRUE(sasl::verifyPassword(got.value()->secrets.sha256, "pw-alice"));
}

TEST_P(StoreContract, MissingUserIsNulloptNotError) {
  auto got = st().getUser("nobody");
  ASSERT_TRUE(got.isOk());
  EXPECT_FALSE(got.value().has_value());
}

TEST_P(StoreContract, AddingExistingUserFailsWithExists) {
  ASSERT_TRUE(st().addUser(user("alice")).isOk());
  Status s = st().addUser(user("alice"));
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.error().reason, "exists");
}

TEST_P(StoreContract, SetSecretsReplacesCredentials) {
  ASSERT_TRUE(st().addUser(user("alice")).isOk());
  sasl::StoredSecrets fresh = secretsFor("new password");
  ASSERT_TRUE(st().setSecrets("alice", fresh).isOk());
  auto got = st().getUser("alice");
  ASSERT_TRUE(got.isOk() && got.value());
  expectSameCredentials(got.value()->secrets.sha256, fresh.sha256);
  EXPECT_TRUE(sasl::verifyPassword(got.value()->secrets.sha1, "new password"));
  EXPECT_FALSE(sasl::verifyPassword(got.value()->secrets.sha1, "pw-alice"));
}

TEST_P(StoreContract, UpdatesOfMissingUserFailWithNotFound) {
  EXPECT_EQ(st().setSecrets("ghost", secretsFor("x")).error().reason, "not-found");
  EXPECT_EQ(st().setHomeNode("ghost", "n1").error().reason, "not-found");
  EXPECT_EQ(st().removeUser("ghost").error().reason, "not-found");
}

TEST_P(StoreContract, SetHomeNodeAssignsAndUnassigns) {
  ASSERT_TRUE(st().addUser(user("alice")).isOk());
  ASSERT_TRUE(st().setHomeNode("alice", "node3").isOk());
  EXPECT_EQ(st().getUser("alice").value()->homeNode, "node3");
  ASSERT_TRUE(st().setHomeNode("alice", "").isOk());
  EXPECT_EQ(st().getUser("alice").value()->homeNode, "");
}

TEST_P(StoreContract, ListUsersPagesInByteOrder) {
  std::vector<std::string> names;
  for (int i = 24; i >= 0; --i) {
    names.push_back("user" + std::string(i < 10 ? "0" : "") + std::to_string(i));
    ASSERT_TRUE(st().addUser(user(names.back())).isOk());
  }
  std::sort(names.begin(), names.end());
  std::vector<std::string> seen;
  std::string after;
  for (;;) {
    auto page = st().listUsers(10, after);
    ASSERT_TRUE(page.isOk());
    EXPECT_LE(page->size(), 10u);
    seen.insert(seen.end(), page->begin(), page->end());
    if (page->size() < 10) break;
    after = page->back();
  }
  EXPECT_EQ(seen, names);
  EXPECT_EQ(st().countUsers().value(), 25u);
}

TEST_P(StoreContract, RosterUpsertReplacesItemByContact) {
  ASSERT_TRUE(st().putRosterItem("alice", item("bob@example.com", Sub::To)).isOk());
  RosterItem changed = item("bob@example.com", Sub::Both, {"Friends", "Work"});
  changed.name = "Bob";
  changed.pendingIn = true;
  ASSERT_TRUE(st().putRosterItem("alice", changed).isOk());
  auto roster = st().getRoster("alice");
  ASSERT_TRUE(roster.isOk());
  ASSERT_EQ(roster->size(), 1u);
  const RosterItem& r = roster->front();
  EXPECT_EQ(r.contact, "bob@example.com");
  EXPECT_EQ(r.name, "Bob");
  EXPECT_EQ(r.sub, Sub::Both);
  EXPECT_FALSE(r.askOut);
  EXPECT_TRUE(r.pendingIn);
  EXPECT_EQ(r.groups, (std::vector<std::string>{"Friends", "Work"}));
}

TEST_P(StoreContract, RosterKeepsEverySubscriptionStateAndUnicodeGroups) {
  const Sub subs[] = {Sub::None, Sub::To, Sub::From, Sub::Both};
  for (int i = 0; i < 4; ++i) {
    RosterItem it = item("c" + std::to_string(i) + "@example.com", subs[i], {"Grüße 🙂", "a,b;c"});
    it.askOut = i % 2 == 0;
    ASSERT_TRUE(st().putRosterItem("alice", it).isOk());
  }
  auto roster = st().getRoster("alice");
  ASSERT_TRUE(roster.isOk());
  ASSERT_EQ(roster->size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ((*roster)[i].contact, "c" + std::to_string(i) + "@example.com");  // ordered by contact
    EXPECT_EQ((*roster)[i].sub, subs[i]);
    EXPECT_EQ((*roster)[i].askOut, i % 2 == 0);
    EXPECT_EQ((*roster)[i].groups, (std::vector<std::string>{"Grüße 🙂", "a,b;c"}));
  }
}

TEST_P(StoreContract, RemoveRosterItemIsIdempotent) {
  ASSERT_TRUE(st().putRosterItem("alice", item("bob@example.com")).isOk());
  ASSERT_TRUE(st().putRosterItem("alice", item("carol@example.com")).isOk());
  ASSERT_TRUE(st().removeRosterItem("alice", "bob@example.com").isOk());
  ASSERT_TRUE(st().removeRosterItem("alice", "bob@example.com").isOk());
  auto roster = st().getRoster("alice");
  ASSERT_EQ(roster->size(), 1u);
  EXPECT_EQ(roster->front().contact, "carol@example.com");
}

TEST_P(StoreContract, RemoveUserDropsRosterOfflineAndOthersItemsForIt) {
  ASSERT_TRUE(st().addUser(user("alice")).isOk());
  ASSERT_TRUE(st().addUser(user("bob")).isOk());
  ASSERT_TRUE(st().putRosterItem("alice", item("bob@example.com")).isOk());
  ASSERT_TRUE(st().putRosterItem("bob", item("alice@example.com")).isOk());
  ASSERT_TRUE(st().putRosterItem("bob", item("alice@elsewhere.org")).isOk());
  ASSERT_TRUE(st().pushOffline("alice", "<message/>", 1, 10).isOk());
  ASSERT_TRUE(st().removeUser("alice").isOk());
  EXPECT_FALSE(st().getUser("alice").value().has_value());
  EXPECT_TRUE(st().getRoster("alice")->empty());
  EXPECT_TRUE(st().peekOffline("alice", 10)->empty());
  auto bobs = st().getRoster("bob");
  ASSERT_EQ(bobs->size(), 1u);  // another domain's alice is someone else
  EXPECT_EQ(bobs->front().contact, "alice@elsewhere.org");
  EXPECT_TRUE(st().getUser("bob").value().has_value());
}

TEST_P(StoreContract, OfflineMessagesPeekOldestFirstUntilDeleted) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    auto id = st().pushOffline("alice", "<message id='" + std::to_string(i) + "'/>", 1000 + i, 100);
    ASSERT_TRUE(id.isOk());
    if (!ids.empty()) {
      EXPECT_GT(id.value(), ids.back());
    }
    ids.push_back(id.value());
  }
  auto peek = st().peekOffline("alice", 3);
  ASSERT_TRUE(peek.isOk());
  ASSERT_EQ(peek->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ((*peek)[i].id, ids[i]);
    EXPECT_EQ((*peek)[i].bytes, "<message id='" + std::to_string(i) + "'/>");
    EXPECT_EQ((*peek)[i].storedAtMs, 1000 + i);
  }
  // Peeking again without an acknowledgement delivers the same messages again.
  EXPECT_EQ(st().peekOffline("alice", 3)->size(), 3u);
  ASSERT_TRUE(st().deleteOffline("alice", {ids[0], ids[1], ids[2]}).isOk());
  auto rest = st().peekOffline("alice", 10);
  ASSERT_EQ(rest->size(), 2u);
  EXPECT_EQ(rest->front().id, ids[3]);
}

TEST_P(StoreContract, OfflineQuotaRejectsPastMaxAndFreesOnDelete) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(st().pushOffline("alice", "m", i, 3).isOk());
  auto over = st().pushOffline("alice", "m", 4, 3);
  ASSERT_FALSE(over.isOk());
  EXPECT_EQ(over.error().reason, "quota");
  EXPECT_TRUE(st().pushOffline("bob", "m", 4, 3).isOk());  // the quota is per user
  auto first = st().peekOffline("alice", 1);
  ASSERT_TRUE(st().deleteOffline("alice", {first->front().id}).isOk());
  EXPECT_TRUE(st().pushOffline("alice", "m", 5, 3).isOk());
}

TEST_P(StoreContract, OfflineIdsAreNeverReused) {
  // Pins: a late acknowledgement of a deleted id must not delete a newer message.
  auto a = st().pushOffline("alice", "one", 1, 10);
  ASSERT_TRUE(st().deleteOffline("alice", {a.value()}).isOk());
  auto b = st().pushOffline("alice", "two", 2, 10);
  EXPECT_GT(b.value(), a.value());
  ASSERT_TRUE(st().deleteOffline("alice", {a.value()}).isOk());
  EXPECT_EQ(st().peekOffline("alice", 10)->size(), 1u);
}

TEST_P(StoreContract, DeleteOfflineIgnoresOtherUsersIds) {
  auto bobs = st().pushOffline("bob", "for bob", 1, 10);
  ASSERT_TRUE(st().deleteOffline("alice", {bobs.value()}).isOk());
  EXPECT_EQ(st().peekOffline("bob", 10)->size(), 1u);
}

TEST_P(StoreContract, OfflineBytesAreBinarySafe) {
  std::string bytes("<m>\0\xff\n</m>", 10);
  ASSERT_TRUE(st().pushOffline("alice", bytes, 1, 10).isOk());
  EXPECT_EQ(st().peekOffline("alice", 1)->front().bytes, bytes);
}

TEST_P(StoreContract, ImportBatchUpsertsUsersAndRoster) {
  std::vector<UserRecord> users{user("alice"), user("bob", "node1")};
  std::vector<std::pair<std::string, RosterItem>> rows{{"alice", item("bob@example.com")},
                                                       {"bob", item("alice@example.com")}};
  ASSERT_TRUE(st().importBatch(users, rows).isOk());
  EXPECT_EQ(st().countUsers().value(), 2u);
  EXPECT_EQ(st().getRoster("alice")->size(), 1u);

  // Importing again replaces secrets, keeps a home node the record does not name.
  users[1].homeNode.clear();
  users[1].secrets = secretsFor("changed");
  rows.push_back({"alice", item("carol@example.com", Sub::From)});
  ASSERT_TRUE(st().importBatch(users, rows).isOk());
  EXPECT_EQ(st().countUsers().value(), 2u);
  auto bob = st().getUser("bob");
  EXPECT_EQ(bob.value()->homeNode, "node1");
  EXPECT_TRUE(sasl::verifyPassword(bob.value()->secrets.sha256, "changed"));
  auto roster = st().getRoster("alice");
  ASSERT_EQ(roster->size(), 2u);
  EXPECT_EQ(roster->back().sub, Sub::From);
}

TEST_P(StoreContract, ListHomesPagesOnlyAssignedUsers) {
  ASSERT_TRUE(st().addUser(user("carol", "n2")).isOk());
  ASSERT_TRUE(st().addUser(user("alice", "n1")).isOk());
  ASSERT_TRUE(st().addUser(user("bob")).isOk());
  ASSERT_TRUE(st().addUser(user("dave", "n1")).isOk());
  auto first = st().listHomes(2, "");
  ASSERT_TRUE(first.isOk());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].username, "alice");
  EXPECT_EQ((*first)[0].homeNode, "n1");
  EXPECT_EQ((*first)[1].username, "carol");
  auto rest = st().listHomes(10, (*first)[1].username);
  ASSERT_TRUE(rest.isOk());
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].username, "dave");
}

TEST_P(StoreContract, DirectoryVersionMovesOnUserAndHomeChangesFromAnyConnection) {
  StorePtr other = connect();
  ASSERT_TRUE(other);
  int64_t v0 = st().directoryVersion().value();
  ASSERT_TRUE(other->addUser(user("alice")).isOk());
  int64_t v1 = st().directoryVersion().value();
  EXPECT_NE(v1, v0);
  ASSERT_TRUE(other->setHomeNode("alice", "n1").isOk());
  int64_t v2 = st().directoryVersion().value();
  EXPECT_NE(v2, v1);
  // Rewriting the same home, credentials or roster is not a directory change.
  ASSERT_TRUE(other->setHomeNode("alice", "n1").isOk());
  ASSERT_TRUE(other->setSecrets("alice", secretsFor("new")).isOk());
  ASSERT_TRUE(other->putRosterItem("alice", item("bob@example.com")).isOk());
  EXPECT_EQ(st().directoryVersion().value(), v2);
  ASSERT_TRUE(other->removeUser("alice").isOk());
  EXPECT_NE(st().directoryVersion().value(), v2);
}

TEST_P(StoreContract, HealthCheckPasses) { EXPECT_TRUE(st().healthCheck().isOk()); }

TEST_P(StoreContract, SecondConnectionSeesCommittedWrites) {
  StorePtr other = connect();
  ASSERT_TRUE(other);
  ASSERT_TRUE(st().addUser(user("alice")).isOk());
  auto got = other->getUser("alice");
  ASSERT_TRUE(got.isOk());
  EXPECT_TRUE(got.value().has_value());
  EXPECT_EQ(other->addUser(user("alice")).error().reason, "exists");
}

TEST_P(StoreContract, ReaderIsNotBlockedByConcurrentWriter) {
  StorePtr reader = connect();
  ASSERT_TRUE(reader);
  constexpr int kItems = 300;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < kItems; ++i)
      EXPECT_TRUE(st().putRosterItem("alice", item("c" + std::to_string(i) + "@example.com")).isOk());
    done = true;
  });
  size_t lastSeen = 0;
  int reads = 0;
  while (!done.load()) {
    auto roster = reader->getRoster("alice");
    ASSERT_TRUE(roster.isOk()) << roster.error().detail;
    EXPECT_GE(roster->size(), lastSeen);  // committed rows never disappear
    lastSeen = roster->size();
    ++reads;
  }
  writer.join();
  EXPECT_EQ(reader->getRoster("alice")->size(), static_cast<size_t>(kItems));
  EXPECT_GT(reads, 0);
}

TEST_P(StoreContract, OfflineQuotaHoldsAcrossConnections) {
  StorePtr other = connect();
  ASSERT_TRUE(other);
  std::atomic<int> accepted{0};
  auto pusher = [&](Store& s) {
    for (int i = 0; i < 20; ++i) {
      auto r = s.pushOffline("alice", "m", i, 15);
      if (r.isOk()) {
        ++accepted;
      } else {
        EXPECT_EQ(r.error().reason, "quota");
      }
    }
  };
  std::thread t([&] { pusher(*other); });
  pusher(st());
  t.join();
  EXPECT_EQ(accepted.load(), 15);
  EXPECT_EQ(st().peekOffline("alice", 100)->size(), 15u);
}

TEST_P(StoreContract, NodeStatusRowsUpsertAndAreSharedByConnections) {
  EXPECT_FALSE(st().getNodeStatus("n11").value().has_value());
  NodeStatusRow r{"n11", 1'700'000'000'123, 42, "normal", "normal", "home", true, false};
  ASSERT_TRUE(st().putNodeStatus(r));
  NodeStatusRow r2{"n12", 1'700'000'000'456, 43, "running-in-backup-mode", "peer-down", "backup", true, true};
  ASSERT_TRUE(st().putNodeStatus(r2));
  r.beatMs += 200;
  r.state = "idle";
  r.role = "idle";
  r.servesOwn = false;
  ASSERT_TRUE(st().putNodeStatus(r));  // replaces, never duplicates

  StorePtr other = connect();  // what the PRG peer's connection sees
  ASSERT_TRUE(other);
  auto got = other->getNodeStatus("n11");
  ASSERT_TRUE(got.isOk() && got.value().has_value());
  EXPECT_EQ(got.value()->beatMs, 1'700'000'000'323);
  EXPECT_EQ(got.value()->incarnation, 42u);
  EXPECT_EQ(got.value()->state, "idle");
  EXPECT_EQ(got.value()->role, "idle");
  EXPECT_FALSE(got.value()->servesOwn);
  auto all = other->listNodeStatus();
  ASSERT_TRUE(all.isOk());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].node, "n12");
  EXPECT_EQ((*all)[1].reason, "peer-down");
  EXPECT_TRUE((*all)[1].servesPeer);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::ValuesIn(allBackends()),
                         [](const ::testing::TestParamInfo<Backend>& p) { return p.param.name; });

}  // namespace
}  // namespace xmesh::store::testing
