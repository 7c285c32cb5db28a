// User assignment: even, deterministic, stable; modes; the failed-over restriction.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "tests/topology/mesh_text.h"
#include "topology/assignment.h"
#include "topology/loader.h"

namespace xmesh::topology {
namespace {

using testing::meshToml;

Topology mesh(const std::string& text) {
  auto t = parseTopology(text);
  EXPECT_TRUE(t.isOk()) << t.error().detail;
  return std::move(t.value());
}

std::vector<UserHome> newUsers(size_t from, size_t count) {
  std::vector<UserHome> out;
  for (size_t i = from; i < from + count; ++i) out.push_back({"user" + std::to_string(i), ""});
  return out;
}

// Applies a plan to the user list (what xmeshctl does to the store).
void applyPlan(std::vector<UserHome>& users, const AssignPlan& plan) {
  std::map<std::string, std::string> change;
  for (const auto& c : plan.changes) change[c.username] = c.homeNode;
  for (auto& u : users) {
    if (auto it = change.find(u.username); it != change.end()) u.homeNode = it->second;
  }
}

std::map<std::string, size_t> perNode(const std::vector<UserHome>& users) {
  std::map<std::string, size_t> out;
  for (const auto& u : users) ++out[u.homeNode];
  return out;
}

TEST(Assignment, BalancedSpreadsEvenlyOverTheCluster) {
  Topology t = mesh(meshToml(2, 6));
  std::vector<UserHome> users = newUsers(0, 45'001);
  AssignRequest req;
  req.cluster = t.clusterIndex("c1");
  auto plan = planAssignment(t, users, req);
  ASSERT_TRUE(plan.isOk()) << plan.error().detail;
  EXPECT_EQ(plan->changes.size(), 45'001u);
  applyPlan(users, plan.value());
  auto counts = perNode(users);
  ASSERT_EQ(counts.size(), 6u);  // only c1's nodes
  for (const auto& [node, n] : counts) {
    EXPECT_EQ(node.substr(0, 3), "c1n");
    EXPECT_TRUE(n == 7500 || n == 7501) << node << " " << n;
  }
  for (NodeIndex i : t.clusters()[1].nodes) EXPECT_EQ(plan->usersPerNode[i], 0u);
}

TEST(Assignment, AddingUsersMovesNobody) {
  Topology t = mesh(meshToml(1, 4));
  std::vector<UserHome> users = newUsers(0, 1001);
  auto first = planAssignment(t, users, AssignRequest{});
  ASSERT_TRUE(first.isOk());
  applyPlan(users, first.value());
  std::vector<UserHome> before = users;

  std::vector<UserHome> more = newUsers(1001, 503);
  users.insert(users.end(), more.begin(), more.end());
  auto second = planAssignment(t, users, AssignRequest{});
  ASSERT_TRUE(second.isOk());
  EXPECT_EQ(second->kept, 1001u);
  EXPECT_EQ(second->changes.size(), 503u);
  for (const auto& c : second->changes) EXPECT_GE(c.username, std::string("user1001"));
  applyPlan(users, second.value());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(users[i].homeNode, before[i].homeNode);
  auto counts = perNode(users);
  size_t lo = SIZE_MAX, hi = 0;
  for (const auto& [node, n] : counts) lo = std::min(lo, n), hi = std::max(hi, n);
  EXPECT_LE(hi - lo, 1u);  // still even: 1504 over 4 nodes
}

TEST(Assignment, NewUsersFillTheEmptiestNodesFirst) {
  Topology t = mesh(meshToml(1, 3));
  std::vector<UserHome> users;
  for (int i = 0; i < 10; ++i) users.push_back({"old" + std::to_string(i), "c1n1"});
  std::vector<UserHome> fresh = newUsers(0, 14);
  users.insert(users.end(), fresh.begin(), fresh.end());
  auto plan = planAssignment(t, users, AssignRequest{});
  ASSERT_TRUE(plan.isOk());
  EXPECT_EQ(plan->usersPerNode[0], 10u);  // c1n1 keeps its 10, gets none
  EXPECT_EQ(plan->usersPerNode[1], 7u);
  EXPECT_EQ(plan->usersPerNode[2], 7u);
}

TEST(Assignment, DeterministicRegardlessOfInputOrder) {
  Topology t = mesh(meshToml(2, 3));
  std::vector<UserHome> users = newUsers(0, 997);
  auto a = planAssignment(t, users, AssignRequest{});
  std::shuffle(users.begin(), users.end(), std::mt19937(42));
  users.push_back(users.front());  // a duplicate is ignored
  auto b = planAssignment(t, users, AssignRequest{});
  ASSERT_TRUE(a.isOk() && b.isOk());
  ASSERT_EQ(a->changes.size(), b->changes.size());
  for (size_t i = 0; i < a->changes.size(); ++i) {
    EXPECT_EQ(a->changes[i].username, b->changes[i].username);
    EXPECT_EQ(a->changes[i].homeNode, b->changes[i].homeNode);
  }
}

TEST(Assignment, WholeMeshSpreadsOverAllClustersByNodeCount) {
  // c1 has 4 nodes, c2 has 2: without --cluster the mesh's 6 nodes share evenly.
  std::string text = meshToml(1, 4);
  std::string c2 = meshToml(2, 2);
  text += c2.substr(c2.find("[[clusters]]\nid = \"c2\""));
  Topology t = mesh(text);
  auto plan = planAssignment(t, newUsers(0, 600), AssignRequest{});
  ASSERT_TRUE(plan.isOk());
  for (size_t n : plan->usersPerNode) EXPECT_EQ(n, 100u);
}

TEST(Assignment, ActiveStandbyUsesFirstNodeOfEachGroup) {
  Topology t = mesh("assignment = \"active-standby\"\n" + meshToml(1, 5));
  std::vector<UserHome> users = newUsers(0, 3000);
  auto plan = planAssignment(t, users, AssignRequest{});
  ASSERT_TRUE(plan.isOk());
  applyPlan(users, plan.value());
  auto counts = perNode(users);
  // Groups (c1n1,c1n2) (c1n3,c1n4) (c1n5): actives c1n1, c1n3, c1n5.
  EXPECT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts["c1n1"], 1000u);
  EXPECT_EQ(counts["c1n3"], 1000u);
  EXPECT_EQ(counts["c1n5"], 1000u);
  EXPECT_EQ(eligibleNodes(t, std::nullopt), (std::vector<NodeIndex>{0, 2, 4}));
}

TEST(Assignment, NoneLeavesUsersUnassigned) {
  Topology t = mesh("assignment = \"none\"\n" + meshToml(1, 2));
  auto plan = planAssignment(t, newUsers(0, 10), AssignRequest{});
  ASSERT_TRUE(plan.isOk());
  EXPECT_TRUE(plan->changes.empty());
  EXPECT_EQ(plan->leftUnassigned, 10u);
}

TEST(Assignment, RefusedWhileANodeOfTheClusterIsFailedOver) {
  Topology t = mesh(meshToml(2, 2));
  AssignRequest req;
  req.cluster = t.clusterIndex("c1");
  req.failedOver.insert(*t.nodeIndex("c1n2"));
  auto plan = planAssignment(t, newUsers(0, 5), req);
  ASSERT_FALSE(plan.isOk());
  EXPECT_EQ(plan.error().reason, "failed-over");
  EXPECT_NE(plan.error().detail.find("cluster 'c1': node 'c1n2' is failed over; users cannot be added"),
            std::string::npos);
  // Another cluster's failover does not block c1; nor does it when nobody is new.
  req.failedOver = NodeSet{};
  req.failedOver.insert(*t.nodeIndex("c2n1"));
  EXPECT_TRUE(planAssignment(t, newUsers(0, 5), req).isOk());
  req.cluster.reset();
  EXPECT_FALSE(planAssignment(t, newUsers(0, 5), req).isOk());  // mesh scope includes c2
  EXPECT_TRUE(planAssignment(t, {{"a", "c1n1"}}, req).isOk());
}

TEST(Assignment, UnknownHomesAreKeptUnlessAskedToReassign) {
  Topology t = mesh(meshToml(1, 2));
  std::vector<UserHome> users = {{"a", "gone"}, {"b", ""}, {"c", "c1n2"}};
  auto keep = planAssignment(t, users, AssignRequest{});
  ASSERT_TRUE(keep.isOk());
  EXPECT_EQ(keep->unknownHomes, 1u);
  EXPECT_EQ(keep->kept, 1u);
  ASSERT_EQ(keep->changes.size(), 1u);
  EXPECT_EQ(keep->changes[0].username, "b");
  EXPECT_EQ(keep->changes[0].homeNode, "c1n1");  // c1n2 already has c
  AssignRequest req;
  req.reassignUnknown = true;
  auto moved = planAssignment(t, users, req);
  ASSERT_TRUE(moved.isOk());
  ASSERT_EQ(moved->changes.size(), 2u);
  EXPECT_EQ(moved->changes[0].username, "a");
}

}  // namespace
}  // namespace xmesh::topology
