// Queries the router relies on: lookups, PRG peers, the dial rule, who serves a home.
#include <gtest/gtest.h>

#include <set>

#include "tests/topology/mesh_text.h"
#include "topology/loader.h"
#include "topology/node_settings.h"

namespace xmesh::topology {
namespace {

using testing::meshToml;

Topology mesh(int clusters, int nodes) {
  auto t = parseTopology(meshToml(clusters, nodes));
  EXPECT_TRUE(t.isOk()) << t.error().detail;
  return std::move(t.value());
}

NodeIndex idx(const Topology& t, const char* id) {
  auto n = t.nodeIndex(id);
  EXPECT_TRUE(n.has_value()) << id;
  return n.value_or(0);
}

TEST(TopologyQueries, LookupsById) {
  Topology t = mesh(2, 3);
  EXPECT_EQ(t.nodes().size(), 6u);
  EXPECT_EQ(t.findNode("c2n3")->host, "10.0.2.3");
  EXPECT_EQ(t.findNode("nope"), nullptr);
  EXPECT_FALSE(t.nodeIndex("nope").has_value());
  EXPECT_EQ(t.findCluster("c2")->nodes.size(), 3u);
  EXPECT_EQ(t.findCluster("c3"), nullptr);
  NodeIndex n = idx(t, "c2n3");
  EXPECT_EQ(t.node(n).index, n);
  EXPECT_EQ(t.clusterOf(n).id, "c2");
  EXPECT_EQ(t.groupOf(n).id, "g3");
  EXPECT_EQ(t.groupOf(idx(t, "c2n2")).id, "g1");
}

TEST(TopologyQueries, PrgPeerAndBackup) {
  Topology t = mesh(1, 3);
  EXPECT_EQ(t.prgPeer(idx(t, "c1n1")), idx(t, "c1n2"));
  EXPECT_EQ(t.prgPeer(idx(t, "c1n2")), idx(t, "c1n1"));
  EXPECT_FALSE(t.prgPeer(idx(t, "c1n3")).has_value());  // 1-node group
  EXPECT_EQ(t.backupOf(idx(t, "c1n1")), idx(t, "c1n2"));
  EXPECT_FALSE(t.backupOf(idx(t, "c1n3")).has_value());
}

TEST(TopologyQueries, NonHaPairHasPeerButNoBackup) {
  std::string text = meshToml(1, 2);
  text.replace(text.find("nodes = [\"c1n1\", \"c1n2\"]"), 24, "nodes = [\"c1n1\", \"c1n2\"]\nha = false");
  auto t = parseTopology(text);
  ASSERT_TRUE(t.isOk()) << t.error().detail;
  EXPECT_EQ(t->prgPeer(0), 1);
  EXPECT_FALSE(t->backupOf(0).has_value());
  NodeSet failed;
  failed.insert(0);
  EXPECT_FALSE(t->servingNode(0, failed).has_value());
}

TEST(TopologyQueries, PeersAreEveryOtherNode) {
  Topology t = mesh(3, 2);
  for (const Node& n : t.nodes()) {
    std::vector<NodeIndex> peers = t.peersOf(n.index);
    EXPECT_EQ(peers.size(), 5u);
    EXPECT_EQ(std::count(peers.begin(), peers.end(), n.index), 0);
    std::set<NodeIndex> unique(peers.begin(), peers.end());
    EXPECT_EQ(unique.size(), 5u);
  }
}

TEST(TopologyQueries, DialRuleIsAntisymmetricAndCoversEveryPair) {
  Topology t = mesh(30, 6);
  size_t links = 0;
  for (const Node& a : t.nodes()) {
    EXPECT_FALSE(t.dials(a.index, a.index));
    for (const Node& b : t.nodes()) {
      if (a.index == b.index) continue;
      EXPECT_NE(t.dials(a.index, b.index), t.dials(b.index, a.index)) << a.id << " " << b.id;
      EXPECT_EQ(t.dials(a.index, b.index), a.id < b.id);
      links += t.dials(a.index, b.index) ? 1 : 0;
    }
    // Every peer is either dialed or accepted, never both.
    EXPECT_EQ(t.dialTargets(a.index).size() + t.acceptsFrom(a.index).size(), t.nodes().size() - 1);
  }
  EXPECT_EQ(links, 180u * 179u / 2u);  // one link per pair
}

TEST(TopologyQueries, DialRuleIsByIdNotFileOrder) {
  EXPECT_TRUE(Topology::dialsById("a1", "b1"));
  EXPECT_FALSE(Topology::dialsById("b1", "a1"));
  EXPECT_TRUE(Topology::dialsById("node10", "node9"));  // byte order, documented
}

TEST(TopologyQueries, ServingNodeFollowsFailover) {
  Topology t = mesh(2, 2);
  NodeIndex a = idx(t, "c1n1"), b = idx(t, "c1n2");
  NodeSet none;
  EXPECT_EQ(t.servingNode(a, none), a);
  NodeSet aDown;
  aDown.insert(a);
  EXPECT_EQ(t.servingNode(a, aDown), b);  // the PRG peer serves a's users
  EXPECT_EQ(t.servingNode(b, aDown), b);
  EXPECT_EQ(t.servingNode(idx(t, "c2n1"), aDown), idx(t, "c2n1"));
  NodeSet both = aDown;
  both.insert(b);
  EXPECT_FALSE(t.servingNode(a, both).has_value());
  EXPECT_FALSE(t.servingNode(b, both).has_value());
}

TEST(TopologyQueries, ServingNodeOfSingleNodeGroup) {
  Topology t = mesh(1, 1);
  NodeSet down;
  down.insert(0);
  EXPECT_EQ(t.servingNode(0, NodeSet{}), 0);
  EXPECT_FALSE(t.servingNode(0, down).has_value());
}

TEST(TopologyQueries, ParseNodeSet) {
  Topology t = mesh(1, 4);
  auto s = t.parseNodeSet("c1n1,c1n3");
  ASSERT_TRUE(s.isOk());
  EXPECT_EQ(s->size(), 2u);
  EXPECT_TRUE(s->contains(idx(t, "c1n1")));
  EXPECT_TRUE(s->contains(idx(t, "c1n3")));
  EXPECT_FALSE(s->contains(idx(t, "c1n2")));
  EXPECT_TRUE(t.parseNodeSet("")->empty());
  auto bad = t.parseNodeSet("c1n1,zz");
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.error().reason, "unknown-node");
  EXPECT_NE(bad.error().detail.find("'zz'"), std::string::npos);
}

TEST(TopologyQueries, NodeTemplate) {
  EXPECT_EQ(expandNodeTemplate("/var/lib/xmesh/{node}/{node}.db", "a1"), "/var/lib/xmesh/a1/a1.db");
  EXPECT_EQ(expandNodeTemplate("plain", "a1"), "plain");
  EXPECT_EQ(expandNodeTemplate("{node", "a1"), "{node");
}

TEST(TopologyQueries, BuildFromDescWithoutToml) {
  TopologyDesc d;
  d.domain = "example.com";
  d.security.secure = false;
  ClusterDesc c;
  c.id = "sim";
  for (const char* id : {"x1", "x2"}) {
    NodeDesc n;
    n.id = id;
    n.host = "127.0.0.1";
    n.c2sPort = id[1] == '1' ? 15222 : 15223;
    n.r2rPort = id[1] == '1' ? 17400 : 17401;
    n.adminPort = 0;
    c.nodes.push_back(n);
  }
  c.groups.push_back(GroupDesc{"p", {"x1", "x2"}, std::nullopt});
  d.clusters.push_back(c);
  auto t = Topology::build(d);
  ASSERT_TRUE(t.isOk()) << t.error().detail;
  EXPECT_TRUE(t->groups()[0].ha);
  EXPECT_EQ(t->backupOf(0), 1);
}

TEST(TopologyQueries, HostAndIdSyntax) {
  EXPECT_TRUE(validId("a"));
  EXPECT_TRUE(validId("east-1.b_2"));
  EXPECT_FALSE(validId(""));
  EXPECT_FALSE(validId("East"));
  EXPECT_FALSE(validId(".a"));
  EXPECT_FALSE(validId(std::string(64, 'a')));
  EXPECT_TRUE(validHost("node1.example.com"));
  EXPECT_TRUE(validHost("127.0.0.2"));
  EXPECT_TRUE(validHost("fd00::2"));
  EXPECT_FALSE(validHost("::"));
  EXPECT_FALSE(validHost("-a.example.com"));
  EXPECT_FALSE(validHost("a..b"));
  EXPECT_FALSE(validHost("a_b.example.com"));
  EXPECT_TRUE(validAddress("0.0.0.0"));
  EXPECT_TRUE(isWildcard("::"));
}

}  // namespace
}  // namespace xmesh::topology

namespace xmesh::topology {
namespace {

TEST(TopologyNodeSettings, NodeTakesIdentityAndListenersFromTheTopology) {
  auto t = parseTopology(testing::meshToml(1, 2));
  ASSERT_TRUE(t.isOk());
  NodeConfig c;
  c.limits.maxDepth = 7;
  ASSERT_TRUE(applyTopology(t.value(), "c1n2", c).isOk());
  EXPECT_EQ(c.domain, "example.com");
  EXPECT_EQ(c.nodeId, "c1n2");
  EXPECT_EQ(c.listen.c2sAddress, "10.0.1.2");
  EXPECT_EQ(c.listen.c2sPort, 5222);
  EXPECT_EQ(c.listen.adminAddress, "10.0.1.2");
  EXPECT_EQ(c.listen.adminPort, 9400);
  EXPECT_EQ(c.limits.maxDepth, 7u);  // the node's own settings stay
  NodeConfig untouched;
  Status s = applyTopology(t.value(), "zz", untouched);
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.error().reason, "unknown-node");
  EXPECT_EQ(untouched.nodeId, NodeConfig{}.nodeId);
}

}  // namespace
}  // namespace xmesh::topology
