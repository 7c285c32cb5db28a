// Populations across mesh nodes: homes as planAssignment gives them, the asked share of
// each roster homed on other nodes (spread over the other nodes), symmetric rosters,
// determinism for a seed, and the home column written and read back.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "loadgen/population.h"
#include "topology/assignment.h"
#include "topology/loader.h"

namespace xmesh::loadgen {
namespace {

// 2 clusters x 2 nodes, every node eligible (balanced).
constexpr const char* kMesh2x2 = R"(
domain = "localhost"
[security]
secure = false
[[clusters]]
id = "alpha"
  [[clusters.nodes]]
  id = "a1"
  host = "127.0.0.11"
  [[clusters.nodes]]
  id = "a2"
  host = "127.0.0.12"
  [[clusters.groups]]
  id = "ga"
  nodes = ["a1", "a2"]
[[clusters]]
id = "beta"
  [[clusters.nodes]]
  id = "b1"
  host = "127.0.0.13"
  [[clusters.nodes]]
  id = "b2"
  host = "127.0.0.14"
  [[clusters.groups]]
  id = "gb"
  nodes = ["b1", "b2"]
)";

topology::Topology mesh(const std::string& toml = kMesh2x2) {
  auto t = topology::parseTopology(toml);
  EXPECT_TRUE(t.isOk()) << t.error().detail;
  return std::move(t.value());
}

PopulationGenOptions options(uint32_t users = 800, uint32_t avg = 40) {
  PopulationGenOptions o;
  o.users = users;
  o.avgContacts = avg;
  o.iterations = 16;  // fast; the real default is 4096
  return o;
}

std::string tempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("lgm-" + std::to_string(getpid()) + "-" + name)).string();
}

// Contact endpoints whose home differs from the user's, over all endpoints.
double remoteShare(const PopulationPlan& p) {
  uint64_t all = 0, remote = 0;
  for (size_t i = 0; i < p.contacts.size(); ++i)
    for (uint32_t c : p.contacts[i]) {
      ++all;
      if (p.homes[c] != p.homes[i]) ++remote;
    }
  return all ? static_cast<double>(remote) / static_cast<double>(all) : 0;
}

void expectSymmetric(const PopulationPlan& p) {
  for (uint32_t i = 0; i < p.contacts.size(); ++i)
    for (uint32_t c : p.contacts[i]) {
      ASSERT_NE(c, i);
      ASSERT_TRUE(std::binary_search(p.contacts[c].begin(), p.contacts[c].end(), i)) << i << "->" << c;
    }
}

TEST(MeshPopulation, HomesAreWhatPlanAssignmentGives) {
  auto topo = mesh();
  auto o = options();
  auto plan = planPopulation(o, &topo);
  ASSERT_TRUE(plan.isOk()) << plan.error().detail;
  ASSERT_EQ(plan->homes.size(), 800u);
  std::vector<topology::UserHome> users;
  for (uint32_t i = 0; i < 800; ++i) users.push_back({"user" + std::to_string(1 + i), ""});
  auto expected = topology::planAssignment(topo, users, {});
  ASSERT_TRUE(expected.isOk());
  std::map<std::string, std::string> byName;
  for (const auto& c : expected->changes) byName[c.username] = c.homeNode;
  std::map<std::string, int> perNode;
  for (uint32_t i = 0; i < 800; ++i) {
    EXPECT_EQ(plan->homes[i], byName["user" + std::to_string(1 + i)]);
    ++perNode[plan->homes[i]];
  }
  // Balanced: 800 users over 4 nodes.
  EXPECT_EQ(perNode, (std::map<std::string, int>{{"a1", 200}, {"a2", 200}, {"b1", 200}, {"b2", 200}}));
}

TEST(MeshPopulation, DefaultRemoteShareIsHalfWithinTolerance) {
  auto topo = mesh();
  auto o = options();
  auto plan = planPopulation(o, &topo);
  ASSERT_TRUE(plan.isOk()) << plan.error().detail;
  expectSymmetric(*plan);
  EXPECT_NEAR(remoteShare(*plan), 0.5, 0.04);
  uint64_t degrees = 0;
  for (const auto& row : plan->contacts) degrees += row.size();
  EXPECT_NEAR(static_cast<double>(degrees) / 800.0, 40.0, 2.5);
}

TEST(MeshPopulation, AskedRemoteSharesHold) {
  auto topo = mesh();
  for (double share : {0.0, 0.2, 0.8, 1.0}) {
    auto o = options();
    o.remoteShare = share;
    auto plan = planPopulation(o, &topo);
    ASSERT_TRUE(plan.isOk()) << plan.error().detail;
    expectSymmetric(*plan);
    EXPECT_NEAR(remoteShare(*plan), share, 0.04) << share;
  }
}

TEST(MeshPopulation, RemoteContactsSpreadOverTheOtherNodes) {
  auto topo = mesh();
  auto plan = planPopulation(options(), &topo);
  ASSERT_TRUE(plan.isOk());
  // Users on a1: their remote contacts are spread over a2 (same cluster), b1 and b2
  // (other cluster) in proportion to their users, a third each here.
  std::map<std::string, double> where;
  double remote = 0;
  for (size_t i = 0; i < plan->contacts.size(); ++i) {
    if (plan->homes[i] != "a1") continue;
    for (uint32_t c : plan->contacts[i])
      if (plan->homes[c] != "a1") {
        where[plan->homes[c]] += 1;
        remote += 1;
      }
  }
  ASSERT_GT(remote, 0);
  EXPECT_EQ(where.size(), 3u);
  for (const char* n : {"a2", "b1", "b2"}) EXPECT_NEAR(where[n] / remote, 1.0 / 3, 0.06) << n;
}

TEST(MeshPopulation, DeterministicForASeed) {
  auto topo = mesh();
  auto a = planPopulation(options(), &topo);
  auto b = planPopulation(options(), &topo);
  ASSERT_TRUE(a.isOk() && b.isOk());
  EXPECT_EQ(a->contacts, b->contacts);
  EXPECT_EQ(a->homes, b->homes);
  auto o = options();
  o.seed = 2;
  auto c = planPopulation(o, &topo);
  ASSERT_TRUE(c.isOk());
  EXPECT_NE(a->contacts, c->contacts);
  EXPECT_EQ(a->homes, c->homes);  // homes depend on the names, not the seed
}

TEST(MeshPopulation, ActiveStandbyHomesOnlyTheActiveNodes) {
  std::string toml = kMesh2x2;
  toml.replace(toml.find("id = \"alpha\""), 12, "id = \"alpha\"\nassignment = \"active-standby\"");
  auto topo = mesh(toml);
  auto plan = planPopulation(options(600), &topo);
  ASSERT_TRUE(plan.isOk()) << plan.error().detail;
  std::map<std::string, int> perNode;
  for (const auto& h : plan->homes) ++perNode[h];
  EXPECT_EQ(perNode.count("a2"), 0u);  // the standby of a1's group
  EXPECT_EQ(perNode["a1"], 200);
  EXPECT_EQ(perNode["b1"], 200);
  EXPECT_EQ(perNode["b2"], 200);
  expectSymmetric(*plan);
  EXPECT_NEAR(remoteShare(*plan), 0.5, 0.04);
}

TEST(MeshPopulation, RemoteShareNeedsATopologyAndAValidValue) {
  auto o = options();
  o.remoteShare = 0.5;
  EXPECT_FALSE(planPopulation(o, nullptr).isOk());
  auto topo = mesh();
  o.remoteShare = 1.5;
  EXPECT_FALSE(planPopulation(o, &topo).isOk());
  auto plain = planPopulation(options(), nullptr);
  ASSERT_TRUE(plain.isOk());
  EXPECT_TRUE(plain->homes.empty());
}

TEST(MeshPopulation, GeneratedFileCarriesHomesThatLoadBack) {
  std::string topoPath = tempPath("mesh.toml"), csv = tempPath("pop.csv");
  std::ofstream(topoPath) << kMesh2x2;
  auto o = options(120, 10);
  o.topologyPath = topoPath;
  o.out = csv;
  auto st = generatePopulation(o);
  ASSERT_TRUE(st.isOk()) << st.error().detail;
  ASSERT_EQ(st->usersPerNode.size(), 4u);
  for (const auto& [node, n] : st->usersPerNode) EXPECT_EQ(n, 30u) << node;
  EXPECT_GT(st->remoteEdges, 0u);
  auto topo = mesh();
  auto expected = planPopulation(o, &topo);
  ASSERT_TRUE(expected.isOk());
  auto p = Population::load(csv, "user%d", 1, 120);
  ASSERT_TRUE(p.isOk()) << p.error().detail;
  EXPECT_TRUE(p->hasHomes());
  for (uint32_t u = 1; u <= 120; ++u) {
    EXPECT_EQ(p->homeOf(u), expected->homes[u - 1]) << u;
    auto row = p->contactsOf(u);
    ASSERT_EQ(row.size(), expected->contacts[u - 1].size());
    for (size_t k = 0; k < row.size(); ++k) EXPECT_EQ(row[k], expected->contacts[u - 1][k] + 1);
  }
  for (const auto& f : {topoPath, csv, csv + ".keys"}) std::filesystem::remove(f);
}

TEST(MeshPopulation, LoadReadsThreeAndFourColumnLines) {
  std::string csv = tempPath("hand.csv");
  std::ofstream(csv) << "user1,plain:a,b,user2@localhost,n1\n"
                     << "user2,plain:x,user1@localhost;user3@localhost\n"
                     << "user3,plain:p,w,,\n"
                     << "user4,plain:pw,,n2\n";
  auto p = Population::load(csv, "user%d", 1, 4);
  ASSERT_TRUE(p.isOk()) << p.error().detail;
  EXPECT_EQ(p->homeOf(1), "n1");
  EXPECT_EQ(p->homeOf(2), "");
  EXPECT_EQ(p->homeOf(3), "");
  EXPECT_EQ(p->homeOf(4), "n2");
  EXPECT_EQ(p->contactsOf(1).size(), 1u);
  EXPECT_EQ(p->contactsOf(2).size(), 2u);
  EXPECT_TRUE(p->contactsOf(3).empty());
  EXPECT_EQ(p->homeNames().size(), 3u);
  std::filesystem::remove(csv);
}

}  // namespace
}  // namespace xmesh::loadgen
