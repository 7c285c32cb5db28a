// The topology file: the examples load, defaults match the seeds, and every limit or
// malformed entry is refused with an error naming it.
#include <gtest/gtest.h>

#include <string>

#include "tests/topology/mesh_text.h"
#include "topology/loader.h"

namespace xmesh::topology {
namespace {

using namespace std::chrono_literals;
using testing::meshToml;

// The error detail of a text that must not load.
std::string rejection(const std::string& text) {
  auto t = parseTopology(text, "/etc/xmesh");
  EXPECT_FALSE(t.isOk()) << "accepted:\n" << text;
  return t.isOk() ? std::string() : t.error().reason + ": " + t.error().detail;
}

// Replaces the first occurrence of `from` (which must exist).
std::string edit(std::string text, const std::string& from, const std::string& to) {
  size_t pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) text.replace(pos, from.size(), to);
  return text;
}

TEST(TopologyLoader, Example2x2Loads) {
  auto t = loadTopology(std::string(XMESH_SOURCE_DIR) + "/topology/example-2x2.toml");
  ASSERT_TRUE(t.isOk()) << t.error().detail;
  EXPECT_EQ(t->domain(), "localhost");
  ASSERT_EQ(t->clusters().size(), 2u);
  ASSERT_EQ(t->nodes().size(), 4u);
  ASSERT_EQ(t->groups().size(), 2u);
  EXPECT_TRUE(t->groups()[0].ha);
  EXPECT_EQ(t->assignment(), AssignmentMode::Balanced);
  const Node* b2 = t->findNode("b2");
  ASSERT_NE(b2, nullptr);
  EXPECT_EQ(b2->host, "127.0.0.5");
  EXPECT_EQ(b2->r2r.address, "127.0.0.5");
  EXPECT_EQ(b2->r2r.port, 7400);
  EXPECT_EQ(b2->c2s.port, 5222);
  EXPECT_EQ(b2->admin.port, 9400);
  EXPECT_TRUE(t->security().secure);
  // Relative certificate paths are anchored at the file's folder.
  EXPECT_EQ(t->security().caFile, std::string(XMESH_SOURCE_DIR) + "/topology/certs/ca.pem");
  EXPECT_EQ(t->security().certFileFor("a1"), std::string(XMESH_SOURCE_DIR) + "/topology/certs/a1.pem");
  EXPECT_EQ(t->security().keyFileFor("a1"), std::string(XMESH_SOURCE_DIR) + "/topology/certs/a1.key");
}

TEST(TopologyLoader, ExampleFullLoadsWithEveryKey) {
  auto t = loadTopology(std::string(XMESH_SOURCE_DIR) + "/topology/example-full.toml");
  ASSERT_TRUE(t.isOk()) << t.error().detail;
  EXPECT_EQ(t->domain(), "example.com");
  ASSERT_EQ(t->clusters().size(), 2u);
  EXPECT_EQ(t->clusters()[1].assignment, AssignmentMode::ActiveStandby);
  EXPECT_EQ(t->clusters()[0].groups.size(), 2u);
  EXPECT_FALSE(t->groupOf(*t->nodeIndex("east-3")).ha);
  EXPECT_TRUE(t->groupOf(*t->nodeIndex("west-1")).ha);  // 2 nodes: HA by default
  EXPECT_EQ(t->findNode("west-1")->c2s.address, "west-1.example.net");
}

TEST(TopologyLoader, DefaultsAreTheSeeds) {
  auto t = parseTopology(meshToml(1, 2, ""));
  ASSERT_TRUE(t.isOk()) << t.error().detail;
  const SrmParams& s = t->srm();
  EXPECT_EQ(s.heartbeatInterval, 15s);
  EXPECT_EQ(s.heartbeatTimeout, 60s);
  EXPECT_EQ(s.initHeartbeatTimeout, 120s);
  EXPECT_EQ(s.criticalServiceDelay, 90s);
  EXPECT_FALSE(s.automaticFallback);
  EXPECT_EQ(s.automaticFallbackDelay, 30min);
  EXPECT_EQ(s.reloginLowerLimit, 120s);
  EXPECT_EQ(s.reloginUpperLimit, 537s);
  EXPECT_TRUE(t->security().secure);  // secure mode is the default
  EXPECT_EQ(t->assignment(), AssignmentMode::Balanced);
  EXPECT_EQ(t->clusters()[0].srm.heartbeatTimeout, 60s);
}

TEST(TopologyLoader, SecureFalseMustBeExplicitAndNeedsNoCertificates) {
  auto t = parseTopology(meshToml(1, 1, "secure = false\nca_file = \"\""));
  ASSERT_TRUE(t.isOk()) << t.error().detail;
  EXPECT_FALSE(t->security().secure);
}

TEST(TopologyLoader, SubSecondSrmAndClusterOverrides) {
  std::string text = meshToml(2, 2) +
                     "";
  text = edit(text, "[[clusters]]\nid = \"c1\"\n",
              "[srm]\nheartbeat_interval = \"100ms\"\nheartbeat_timeout = \"1s\"\ninit_heartbeat_timeout = \"2s\"\n"
              "automatic_fallback = true\nautomatic_fallback_delay = \"1h\"\n"
              "[[clusters]]\nid = \"c1\"\nassignment = \"active-standby\"\n"
              "[clusters.srm]\nheartbeat_timeout = \"500ms\"\n");
  auto t = parseTopology(text);
  ASSERT_TRUE(t.isOk()) << t.error().detail;
  EXPECT_EQ(t->srm().heartbeatInterval, 100ms);
  EXPECT_EQ(t->srm().automaticFallbackDelay, 1h);
  EXPECT_TRUE(t->srm().automaticFallback);
  const Cluster& c1 = t->clusters()[0];
  EXPECT_EQ(c1.assignment, AssignmentMode::ActiveStandby);
  EXPECT_EQ(c1.srm.heartbeatTimeout, 500ms);  // overridden
  EXPECT_EQ(c1.srm.heartbeatInterval, 100ms);  // inherited from the mesh-wide [srm]
  EXPECT_EQ(t->clusters()[1].srm.heartbeatTimeout, 1s);
  EXPECT_EQ(t->clusters()[1].assignment, AssignmentMode::Balanced);
}

TEST(TopologyLoader, FullMeshOf180NodesLoads) {
  auto t = parseTopology(meshToml(30, 6));
  ASSERT_TRUE(t.isOk()) << t.error().detail;
  EXPECT_EQ(t->nodes().size(), kMaxNodes);
  EXPECT_EQ(t->groups().size(), 90u);
}

TEST(TopologyLoader, Durations) {
  EXPECT_EQ(parseDuration("250ms"), 250ms);
  EXPECT_EQ(parseDuration("15s"), 15s);
  EXPECT_EQ(parseDuration("30min"), 30min);
  EXPECT_EQ(parseDuration("2h"), 2h);
  EXPECT_EQ(parseDuration("0s"), 0s);
  for (const char* bad : {"", "15", "s", "1.5s", "-1s", "15 s", "15sec", "1m", "99999999999999999h"})
    EXPECT_FALSE(parseDuration(bad).has_value()) << bad;
  EXPECT_EQ(formatDuration(90s), "90s");
  EXPECT_EQ(formatDuration(30min), "30min");
  EXPECT_EQ(formatDuration(250ms), "250ms");
  EXPECT_EQ(formatDuration(2h), "2h");
  EXPECT_EQ(formatDuration(120s), "120s");
  EXPECT_EQ(formatDuration(0ms), "0s");
}

// --- limits, one test each ---------------------------------------------------------

TEST(TopologyLimits, RejectsSevenNodesInACluster) {
  EXPECT_NE(rejection(meshToml(1, 7)).find("cluster 'c1' has 7 nodes, at most 6 per cluster"), std::string::npos);
}

TEST(TopologyLimits, RejectsThirtyOneClusters) {
  EXPECT_NE(rejection(meshToml(31, 1)).find("31 clusters, at most 30 in one mesh"), std::string::npos);
}

TEST(TopologyLimits, RejectsThreeNodesInAGroup) {
  std::string text = edit(meshToml(1, 3), "nodes = [\"c1n1\", \"c1n2\"]", "nodes = [\"c1n1\", \"c1n2\", \"c1n3\"]");
  text = edit(text, "[[clusters.groups]]\nid = \"g3\"\nnodes = [\"c1n3\"]\n", "");
  EXPECT_NE(rejection(text).find("cluster 'c1' group 'g1' has 3 nodes, at most 2 per presence redundancy group"),
            std::string::npos);
}

TEST(TopologyLimits, RejectsDuplicateNodeIdAcrossClusters) {
  std::string text = meshToml(2, 1);
  text = edit(text, "id = \"c2n1\"", "id = \"c1n1\"");
  text = edit(text, "nodes = [\"c2n1\"]", "nodes = [\"c1n1\"]");
  EXPECT_NE(rejection(text).find(
                "node 'c1n1' is defined twice (in cluster 'c1' and cluster 'c2'); node ids must be unique across the mesh"),
            std::string::npos);
}

TEST(TopologyLimits, RejectsNodeInNoGroup) {
  std::string text = edit(meshToml(1, 2), "nodes = [\"c1n1\", \"c1n2\"]", "nodes = [\"c1n1\"]");
  EXPECT_NE(rejection(text).find("node 'c1n2' of cluster 'c1' is in no group; every node is in exactly one group"),
            std::string::npos);
}

TEST(TopologyLimits, RejectsNodeInTwoGroups) {
  std::string text = edit(meshToml(1, 3), "nodes = [\"c1n3\"]", "nodes = [\"c1n3\", \"c1n2\"]");
  EXPECT_NE(rejection(text).find(
                "cluster 'c1' group 'g3': node 'c1n2' is already in group 'g1'; every node is in exactly one group"),
            std::string::npos);
}

TEST(TopologyLimits, RejectsGroupWithNodeOfAnotherCluster) {
  std::string text = meshToml(2, 2);
  text = edit(text, "nodes = [\"c2n1\", \"c2n2\"]", "nodes = [\"c2n1\", \"c1n2\"]");
  std::string err = rejection(text);
  EXPECT_NE(err.find("cluster 'c2' group 'g1': node 'c1n2' belongs to cluster 'c1'; a group's nodes must be in its "
                     "own cluster"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("node 'c2n2' of cluster 'c2' is in no group"), std::string::npos) << err;
}

TEST(TopologyLimits, RejectsUnknownGroupMember) {
  std::string text = edit(meshToml(1, 2), "nodes = [\"c1n1\", \"c1n2\"]", "nodes = [\"c1n1\", \"c1n9\"]");
  EXPECT_NE(rejection(text).find("cluster 'c1' group 'g1': unknown node 'c1n9'"), std::string::npos);
}

TEST(TopologyLimits, RejectsEmptyGroup) {
  std::string text = meshToml(1, 2) + "[[clusters.groups]]\nid = \"empty\"\nnodes = []\n";
  EXPECT_NE(rejection(text).find("cluster 'c1' group 'empty' has no nodes (a group has 1 or 2)"), std::string::npos);
}

TEST(TopologyLimits, RejectsHaOnSingleNodeGroup) {
  std::string text = edit(meshToml(1, 1), "nodes = [\"c1n1\"]", "nodes = [\"c1n1\"]\nha = true");
  EXPECT_NE(rejection(text).find("cluster 'c1' group 'g1': ha = true needs 2 nodes"), std::string::npos);
}

TEST(TopologyLimits, RejectsClusterWithoutNodes) {
  std::string text = meshToml(1, 1) + "[[clusters]]\nid = \"bare\"\n";
  EXPECT_NE(rejection(text).find("cluster 'bare' has no nodes"), std::string::npos);
}

TEST(TopologyLimits, RejectsNoClusters) {
  EXPECT_NE(rejection("domain = \"example.com\"\n").find("no clusters"), std::string::npos);
}

TEST(TopologyLimits, RejectsDuplicateClusterAndGroupIds) {
  std::string text = edit(meshToml(2, 1), "id = \"c2\"", "id = \"c1\"");
  EXPECT_NE(rejection(text).find("cluster 'c1' is defined twice"), std::string::npos);
  std::string groups = edit(meshToml(1, 2), "nodes = [\"c1n1\", \"c1n2\"]",
                            "nodes = [\"c1n1\"]\n[[clusters.groups]]\nid = \"g1\"\nnodes = [\"c1n2\"]");
  EXPECT_NE(rejection(groups).find("cluster 'c1' group 'g1' is defined twice"), std::string::npos);
}

TEST(TopologyLimits, RejectsInvalidIds) {
  std::string err = rejection(edit(meshToml(1, 1), "id = \"c1n1\"", "id = \"Node One\""));
  EXPECT_NE(err.find("cluster 'c1': node id 'Node One' is not a valid id"), std::string::npos) << err;
  err = rejection(edit(meshToml(1, 1), "id = \"c1\"", "id = \"-c1\""));
  EXPECT_NE(err.find("clusters[0]: id '-c1' is not a valid id"), std::string::npos) << err;
}

TEST(TopologyLimits, RejectsPortsOutOfRange) {
  std::string err = rejection(edit(meshToml(1, 1), "host = \"10.0.1.1\"", "host = \"10.0.1.1\"\nr2r_port = 70000"));
  EXPECT_NE(err.find("node 'c1n1': r2r_port 70000 out of range 1-65535"), std::string::npos) << err;
  err = rejection(edit(meshToml(1, 1), "host = \"10.0.1.1\"", "host = \"10.0.1.1\"\nc2s_port = 0"));
  EXPECT_NE(err.find("node 'c1n1': c2s_port 0 out of range 1-65535"), std::string::npos) << err;
  err = rejection(edit(meshToml(1, 1), "host = \"10.0.1.1\"", "host = \"10.0.1.1\"\nadmin_port = -1"));
  EXPECT_NE(err.find("node 'c1n1': admin_port -1 out of range 1-65535 (0 = off)"), std::string::npos) << err;
  auto off = parseTopology(edit(meshToml(1, 1), "host = \"10.0.1.1\"", "host = \"10.0.1.1\"\nadmin_port = 0"));
  ASSERT_TRUE(off.isOk()) << off.error().detail;
  EXPECT_EQ(off->nodes()[0].admin.port, 0);
}

TEST(TopologyLimits, RejectsSamePortTwiceInANode) {
  std::string err = rejection(edit(meshToml(1, 1), "host = \"10.0.1.1\"", "host = \"10.0.1.1\"\nr2r_port = 5222"));
  EXPECT_NE(err.find("node 'c1n1': c2s_port, r2r_port and admin_port must differ"), std::string::npos) << err;
}

TEST(TopologyLimits, RejectsEndpointUsedByTwoNodes) {
  std::string err = rejection(edit(meshToml(1, 2), "host = \"10.0.1.2\"", "host = \"10.0.1.1\""));
  EXPECT_NE(err.find("node 'c1n2' c2s 10.0.1.1:5222 is already used by node 'c1n1' c2s"), std::string::npos) << err;
  // Loopback binds are per host: two hosts may both keep their admin port on 127.0.0.1.
  std::string text = meshToml(1, 2);
  text = edit(text, "host = \"10.0.1.1\"", "host = \"10.0.1.1\"\nadmin_address = \"127.0.0.1\"");
  text = edit(text, "host = \"10.0.1.2\"", "host = \"10.0.1.2\"\nadmin_address = \"127.0.0.1\"");
  EXPECT_TRUE(parseTopology(text).isOk());
}

TEST(TopologyLimits, RejectsBadHostsAndAddresses) {
  std::string err = rejection(edit(meshToml(1, 1), "host = \"10.0.1.1\"", "host = \"bad host\""));
  EXPECT_NE(err.find("node 'c1n1': host 'bad host' is not a DNS name or IP address"), std::string::npos) << err;
  err = rejection(edit(meshToml(1, 1), "host = \"10.0.1.1\"", "host = \"300.1.2.3\""));
  EXPECT_NE(err.find("host '300.1.2.3'"), std::string::npos) << err;
  err = rejection(edit(meshToml(1, 1), "host = \"10.0.1.1\"", "host = \"0.0.0.0\""));
  EXPECT_NE(err.find("host '0.0.0.0'"), std::string::npos) << err;
  err = rejection(edit(meshToml(1, 1), "host = \"10.0.1.1\"", "host = \"10.0.1.1\"\nc2s_address = \"1.2.3.4:5\""));
  EXPECT_NE(err.find("node 'c1n1': c2s_address '1.2.3.4:5' is not a valid address"), std::string::npos) << err;
  auto ok = parseTopology(edit(meshToml(1, 1), "host = \"10.0.1.1\"",
                               "host = \"n1.example.net\"\nc2s_address = \"::\"\nr2r_address = \"fd00::1\""));
  ASSERT_TRUE(ok.isOk()) << ok.error().detail;
  const Node& n = ok->nodes()[0];
  EXPECT_EQ(n.reachable(n.c2s), "n1.example.net");  // wildcard bind: reached by host
  EXPECT_EQ(n.reachable(n.r2r), "fd00::1");
}

TEST(TopologyLimits, RejectsMissingRequiredKeys) {
  std::string err = rejection(edit(meshToml(1, 1), "host = \"10.0.1.1\"\n", ""));
  EXPECT_NE(err.find("cluster 'c1' node 'c1n1': 'host' is required"), std::string::npos) << err;
  err = rejection(edit(meshToml(1, 1), "domain = \"example.com\"\n", ""));
  EXPECT_NE(err.find("domain must be set"), std::string::npos) << err;
}

TEST(TopologyLimits, RejectsUnknownKeys) {
  std::string err = rejection("domian = \"x\"\n" + meshToml(1, 1));
  EXPECT_NE(err.find("unknown key 'domian'"), std::string::npos) << err;
  err = rejection(edit(meshToml(1, 1), "host = \"10.0.1.1\"", "host = \"10.0.1.1\"\nc2s_prot = 1"));
  EXPECT_NE(err.find("cluster 'c1' node 'c1n1': unknown key 'c2s_prot'"), std::string::npos) << err;
  err = rejection(edit(meshToml(1, 1), "id = \"g1\"", "id = \"g1\"\nhigh_availability = true"));
  EXPECT_NE(err.find("cluster 'c1' group 'g1': unknown key 'high_availability'"), std::string::npos) << err;
  err = rejection(edit(meshToml(1, 1), "secure = false", "secure = false\nverify = true"));
  EXPECT_NE(err.find("security: unknown key 'verify'"), std::string::npos) << err;
  err = rejection(meshToml(1, 1) + "[clusters.srm]\nheartbeat = \"1s\"\n");
  EXPECT_NE(err.find("cluster 'c1' srm: unknown key 'heartbeat'"), std::string::npos) << err;
}

TEST(TopologyLimits, RejectsWrongTypes) {
  std::string err = rejection(edit(meshToml(1, 1), "secure = false", "secure = 0"));
  EXPECT_NE(err.find("security: 'secure' must be true or false"), std::string::npos) << err;
  err = rejection(edit(meshToml(1, 1), "host = \"10.0.1.1\"", "host = \"10.0.1.1\"\nc2s_port = \"5222\""));
  EXPECT_NE(err.find("cluster 'c1' node 'c1n1': 'c2s_port' must be an integer"), std::string::npos) << err;
  err = rejection(edit(meshToml(1, 1), "nodes = [\"c1n1\"]", "nodes = \"c1n1\""));
  EXPECT_NE(err.find("cluster 'c1' group 'g1': 'nodes' must be an array of strings"), std::string::npos) << err;
  err = rejection("domain = \"example.com\"\nclusters = 3\n");
  EXPECT_NE(err.find("'clusters' must be an array of tables"), std::string::npos) << err;
}

TEST(TopologyLimits, RejectsDurationWithoutUnit) {
  std::string err = rejection(meshToml(1, 1) + "[srm]\nheartbeat_interval = 15\n");
  EXPECT_NE(err.find("srm: 'heartbeat_interval' must be a duration such as \"250ms\""), std::string::npos) << err;
}

TEST(TopologyLimits, RejectsInconsistentSrmParameters) {
  std::string err = rejection(meshToml(1, 1) + "[srm]\nheartbeat_interval = \"60s\"\n");
  EXPECT_NE(err.find("srm.heartbeat_timeout must exceed heartbeat_interval"), std::string::npos) << err;
  err = rejection(meshToml(1, 1) + "[srm]\nrelogin_lower_limit = \"600s\"\n");
  EXPECT_NE(err.find("srm.relogin_upper_limit must not be below relogin_lower_limit"), std::string::npos) << err;
  err = rejection(meshToml(1, 1) + "[srm]\ninit_heartbeat_timeout = \"30s\"\n");
  EXPECT_NE(err.find("srm.init_heartbeat_timeout must not be shorter than heartbeat_timeout"), std::string::npos)
      << err;
  err = rejection(meshToml(1, 1) + "[clusters.srm]\nheartbeat_interval = \"0ms\"\n");
  EXPECT_NE(err.find("cluster 'c1': srm.heartbeat_interval must be positive"), std::string::npos) << err;
}

TEST(TopologyLimits, RejectsUnknownAssignmentMode) {
  std::string err = rejection("assignment = \"round-robin\"\n" + meshToml(1, 1));
  EXPECT_NE(err.find("assignment 'round-robin' is not one of balanced, active-standby, none"), std::string::npos)
      << err;
}

TEST(TopologyLimits, RejectsSharedCertificateTemplate) {
  std::string err = rejection(edit(meshToml(1, 1), "secure = false", "cert_file = \"certs/node.pem\""));
  EXPECT_NE(err.find("security.cert_file '/etc/xmesh/certs/node.pem' must contain {node}"), std::string::npos) << err;
}

TEST(TopologyLimits, ReportsTomlSyntaxErrorWithLine) {
  auto t = parseTopology("domain = \"x\"\n[[clusters]\n");
  ASSERT_FALSE(t.isOk());
  EXPECT_EQ(t.error().reason, "topology-parse");
  EXPECT_NE(t.error().detail.find("at line 2"), std::string::npos) << t.error().detail;
}

TEST(TopologyLimits, ReportsMissingFile) {
  auto t = loadTopology("/nonexistent/topology.toml");
  ASSERT_FALSE(t.isOk());
  EXPECT_EQ(t.error().reason, "topology-open");
}

TEST(TopologyLimits, ReportsEveryProblemAtOnce) {
  std::string text = meshToml(1, 7);
  text = edit(text, "host = \"10.0.1.1\"", "host = \"10.0.1.1\"\nr2r_port = 0");
  std::string err = rejection(text);
  EXPECT_NE(err.find("7 nodes"), std::string::npos) << err;
  EXPECT_NE(err.find("r2r_port 0"), std::string::npos) << err;
}

}  // namespace
}  // namespace xmesh::topology
