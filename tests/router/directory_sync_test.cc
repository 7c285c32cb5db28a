// Directory sync between two nodes over real r2r Links joined in memory.
#include "router/directory_sync.h"

#include <gtest/gtest.h>

#include "tests/r2r/link_harness.h"

namespace xmesh::router {
namespace {

topology::Topology twoClusters() {
  topology::TopologyDesc d;
  d.domain = "example.com";
  d.security.secure = false;
  topology::ClusterDesc c1{.id = "c1", .nodes = {{.id = "a", .host = "127.0.0.1"}}, .groups = {{.id = "g1", .nodes = {"a"}}}};
  topology::ClusterDesc c2{.id = "c2", .nodes = {{.id = "b", .host = "127.0.0.2"}}, .groups = {{.id = "g2", .nodes = {"b"}}}};
  d.clusters = {c1, c2};
  auto t = topology::Topology::build(d);
  EXPECT_TRUE(t.isOk()) << (t.isOk() ? "" : t.error().detail);
  return std::move(t.value());
}

std::vector<std::string> users(const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

// Node a (index 0) and node b (index 1), each with its HomeDirectory and DirectorySync,
// joined by a LinkPair whose received units are fed to the other side's sync.
struct Pair {
  Pair()
      : topo(twoClusters()),
        links(r2r::test::configFor("a", "b", "ea"), r2r::test::configFor("b", "a", "eb")),
        syncA(topo, 0, homesA, [this](topology::NodeIndex p) { return p == 1 ? &links.a : nullptr; }, 100),
        syncB(topo, 1, homesB, [this](topology::NodeIndex p) { return p == 0 ? &links.b : nullptr; }, 100) {
    links.open();
    links.pump();
  }
  // Pumps bytes and applies every received record; returns the refusals.
  std::vector<Status> deliver() {
    links.pump();
    std::vector<Status> out;
    for (auto& u : links.rb.units) out.push_back(syncB.onRecord(0, u));
    for (auto& u : links.ra.units) out.push_back(syncA.onRecord(1, u));
    links.rb.units.clear();
    links.ra.units.clear();
    return out;
  }
  void runFullSync() {
    while (syncA.pumping() || syncB.pumping()) {
      syncA.pump(4);
      syncB.pump(4);
      for (auto& s : deliver()) EXPECT_TRUE(s.isOk()) << s.error().detail;
    }
  }

  topology::Topology topo;
  r2r::test::LinkPair links;
  HomeDirectory homesA, homesB;
  DirectorySync syncA, syncB;
};

TEST(DirectorySync, FullSyncAtFirstContactTeachesEveryUserBothWays) {
  Pair p;
  p.syncA.setOwnUsers(users("alice", 2500));
  p.syncB.setOwnUsers(users("bob", 700));
  ASSERT_EQ(p.links.a.state(), r2r::LinkState::Established);
  p.syncA.onEstablished(1, true);
  p.syncB.onEstablished(0, true);
  p.runFullSync();
  EXPECT_EQ(p.homesB.countHomedOn(0), 2500u);
  EXPECT_EQ(p.homesA.countHomedOn(1), 700u);
  EXPECT_EQ(p.homesB.homeOf("alice1234"), topology::NodeIndex{0});
  EXPECT_EQ(p.homesA.homeOf("bob9"), topology::NodeIndex{1});
  EXPECT_TRUE(p.syncB.complete());
  EXPECT_TRUE(p.syncA.complete());
  EXPECT_EQ(p.syncA.status(1).sentUsers, 2500u);
  EXPECT_EQ(p.syncA.status(1).fullSyncsSent, 1u);
  EXPECT_EQ(p.syncB.status(0).receivedUsers, 2500u);
}

TEST(DirectorySync, FullSyncIsStaggeredByTheBatchBudget) {
  Pair p;
  p.syncA.setOwnUsers(users("u", 1000));  // 10 batches of 100
  p.syncA.onEstablished(1, true);
  EXPECT_EQ(p.syncA.pump(3), 3u);
  p.deliver();
  EXPECT_EQ(p.homesB.countHomedOn(0), 300u);
  EXPECT_FALSE(p.syncB.complete());
  EXPECT_TRUE(p.syncA.pumping());
}

TEST(DirectorySync, ChangesAfterTheSyncGoOutIncrementally) {
  Pair p;
  p.syncA.setOwnUsers({"alice", "carol"});
  p.syncA.onEstablished(1, true);
  p.runFullSync();
  p.syncA.setOwnUsers({"alice", "dave"});
  EXPECT_FALSE(p.syncA.pumping());  // no new full sync: two small records instead
  for (auto& s : p.deliver()) EXPECT_TRUE(s.isOk());
  EXPECT_EQ(p.homesB.homeOf("dave"), topology::NodeIndex{0});
  EXPECT_FALSE(p.homesB.homeOf("carol").has_value());
  EXPECT_EQ(p.homesB.homeOf("alice"), topology::NodeIndex{0});
}

TEST(DirectorySync, AFullSyncDropsUsersThePeerNoLongerHomes) {
  Pair p;
  // b believed (e.g. from an earlier incarnation of a, or the shared store) that a homes
  // ghost; a's full sync does not name it.
  p.homesB.set("ghost", 0, 0);
  p.syncA.setOwnUsers({"alice"});
  p.syncA.onEstablished(1, true);
  p.runFullSync();
  EXPECT_FALSE(p.homesB.homeOf("ghost").has_value());
  EXPECT_EQ(p.homesB.homeOf("alice"), topology::NodeIndex{0});
}

TEST(DirectorySync, AChangeDuringAFullSyncRestartsItFromAFreshSnapshot) {
  Pair p;
  auto all = users("u", 1000);
  p.syncA.setOwnUsers(all);
  p.syncA.onEstablished(1, true);
  EXPECT_EQ(p.syncA.pump(5), 5u);  // u0..u499 sent in sync 1 (byte order)
  p.deliver();
  // u1 (sent already) is removed while the sync is half way.
  std::vector<std::string> fewer;
  for (const auto& u : all)
    if (u != "u1") fewer.push_back(u);
  p.syncA.setOwnUsers(fewer);
  p.runFullSync();
  EXPECT_FALSE(p.homesB.homeOf("u1").has_value());
  EXPECT_EQ(p.homesB.countHomedOn(0), 999u);
  EXPECT_EQ(p.syncA.status(1).fullSyncsSent, 1u);
}

TEST(DirectorySync, NoFullSyncWhenThePeerStillKnowsUs) {
  Pair p;
  p.syncA.setOwnUsers({"alice"});
  p.syncA.onEstablished(1, false);
  EXPECT_FALSE(p.syncA.pumping());
}

TEST(DirectorySync, RefusesRecordsForAnotherHomeAndClaimsOnOurUsers) {
  Pair p;
  p.syncB.setOwnUsers({"bob"});
  std::vector<r2r::Attr> wrongHome{{"op", "add"}, {"home", "b"}};
  ASSERT_EQ(p.links.a.sendControl("dir", wrongHome, "mallory"), r2r::SendResult::Queued);
  std::vector<r2r::Attr> claim{{"op", "add"}, {"home", "a"}};
  ASSERT_EQ(p.links.a.sendControl("dir", claim, "bob alice"), r2r::SendResult::Queued);
  auto results = p.deliver();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_FALSE(results[0].isOk());
  EXPECT_FALSE(results[1].isOk());
  EXPECT_FALSE(p.homesB.homeOf("mallory").has_value());
  EXPECT_EQ(p.homesB.homeOf("bob"), topology::NodeIndex{1});    // still ours
  EXPECT_EQ(p.homesB.homeOf("alice"), topology::NodeIndex{0});  // the legitimate part applies
  EXPECT_EQ(p.syncB.status(0).refused, 2u);
}

TEST(HomeDirectory, RemoveIfOnlyRemovesFromTheNamedHome) {
  HomeDirectory h;
  h.set("alice", 1, 0);
  EXPECT_FALSE(h.removeIf("alice", 2));
  EXPECT_EQ(h.homeOf("alice"), topology::NodeIndex{1});
  EXPECT_TRUE(h.removeIf("alice", 1));
  EXPECT_FALSE(h.homeOf("alice").has_value());
}

TEST(HomeDirectory, SweepKeepsOtherHomesAndTheConfirmedGeneration) {
  HomeDirectory h;
  h.set("a1", 1, 7);
  h.set("a2", 1, 6);
  h.set("b1", 2, 6);
  EXPECT_EQ(h.sweep(1, 7), 1u);
  EXPECT_TRUE(h.homeOf("a1").has_value());
  EXPECT_FALSE(h.homeOf("a2").has_value());
  EXPECT_TRUE(h.homeOf("b1").has_value());
  EXPECT_EQ(h.size(), 2u);
}

}  // namespace
}  // namespace xmesh::router
