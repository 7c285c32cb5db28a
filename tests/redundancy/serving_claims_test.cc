#include "router/serving_claims.h"

#include <gtest/gtest.h>

#include "topology/topology.h"

namespace xmesh::router {
namespace {

// c1: HA pair n11+n12, single n13; c2: HA pair n21+n22.
topology::Topology mesh() {
  topology::TopologyDesc d;
  d.domain = "example.com";
  auto node = [](const char* id, const char* host) {
    topology::NodeDesc n;
    n.id = id;
    n.host = host;
    return n;
  };
  topology::ClusterDesc c1{"c1", {}, {}, {node("n11", "10.0.0.11"), node("n12", "10.0.0.12"), node("n13", "10.0.0.13")},
                           {{"g1", {"n11", "n12"}, {}}, {"g2", {"n13"}, {}}}};
  topology::ClusterDesc c2{"c2", {}, {}, {node("n21", "10.0.1.21"), node("n22", "10.0.1.22")},
                           {{"g3", {"n21", "n22"}, {}}}};
  d.clusters = {c1, c2};
  auto t = topology::Topology::build(d);
  EXPECT_TRUE(t.isOk()) << (t.isOk() ? "" : t.error().detail);
  return std::move(t.value());
}

class ServingClaimsTest : public ::testing::Test {
 protected:
  topology::NodeIndex idx(const char* id) { return *topo.nodeIndex(id); }
  Status claim(const char* announcer, const char* home, const char* by, bool serving, uint64_t epoch,
               bool* changed = nullptr) {
    return claims.apply(idx(announcer), {home, by, serving, epoch, "s", "r"}, changed);
  }
  topology::Topology topo = mesh();
  ServingClaims claims{topo};
};

TEST_F(ServingClaimsTest, NothingKnownMeansServedAtHome) {
  for (const auto& n : topo.nodes()) EXPECT_FALSE(claims.failedOver(n.index)) << n.id;
}

TEST_F(ServingClaimsTest, ATakeoverWithALaterEpochBeatsTheDeadHomesLastClaim) {
  ASSERT_TRUE(claim("n11", "n11", "n11", true, 1));
  ASSERT_TRUE(claim("n12", "n12", "n12", true, 1));
  EXPECT_FALSE(claims.failedOver(idx("n11")));
  bool changed = false;
  ASSERT_TRUE(claim("n12", "n11", "n12", true, 2, &changed));  // n11 died claiming epoch 1
  EXPECT_TRUE(changed);
  EXPECT_TRUE(claims.failedOver(idx("n11")));
  EXPECT_FALSE(claims.failedOver(idx("n12")));
  // A stale backup claim (older epoch than the home's) does not move anybody.
  ASSERT_TRUE(claim("n22", "n22", "n22", true, 5));
  ASSERT_TRUE(claim("n21", "n22", "n21", true, 4, &changed));
  EXPECT_FALSE(changed);
  EXPECT_FALSE(claims.failedOver(idx("n22")));
}

TEST_F(ServingClaimsTest, FallbackReleasesThenTheHomeClaimsAgain) {
  ASSERT_TRUE(claim("n11", "n11", "n11", false, 3));  // manual failover: released
  ASSERT_TRUE(claim("n12", "n11", "n12", true, 4));
  EXPECT_TRUE(claims.failedOver(idx("n11")));
  bool changed = false;
  ASSERT_TRUE(claim("n12", "n11", "n12", false, 4, &changed));  // falling back
  EXPECT_TRUE(changed);
  EXPECT_FALSE(claims.failedOver(idx("n11")));
  ASSERT_TRUE(claim("n11", "n11", "n11", true, 5, &changed));  // taken back
  EXPECT_FALSE(changed);
  EXPECT_FALSE(claims.failedOver(idx("n11")));
}

TEST_F(ServingClaimsTest, NodesMaySpeakOnlyForThemselvesAndOnlyAsHomeOrBackup) {
  auto spoof = claim("n21", "n11", "n12", true, 9);  // n21 relays n12's claim
  ASSERT_FALSE(spoof);
  EXPECT_EQ(spoof.error().reason, "failover-refused");
  EXPECT_FALSE(claim("n21", "n11", "n21", true, 9));  // n21 is not n11's backup
  EXPECT_FALSE(claim("n13", "n11", "n13", true, 9));  // same cluster, other group
  EXPECT_FALSE(claim("n12", "n13", "n12", true, 9));  // n13 has no backup at all
  EXPECT_FALSE(claims.apply(idx("n11"), {"nx", "n11", true, 1, "", ""}));
  EXPECT_FALSE(claims.failedOver(idx("n11")));
  EXPECT_FALSE(claims.failedOver(idx("n13")));
}

TEST_F(ServingClaimsTest, ANodesClaimsAreKeptForItsNextLinks) {
  ASSERT_TRUE(claim("n12", "n12", "n12", true, 1));
  ASSERT_TRUE(claim("n12", "n11", "n12", true, 2));
  auto by12 = claims.claimsBy(idx("n12"));
  ASSERT_EQ(by12.size(), 2u);
  EXPECT_EQ(by12[0].home, "n12");
  EXPECT_EQ(by12[1].home, "n11");
  EXPECT_TRUE(by12[1].serving);
  EXPECT_EQ(by12[1].epoch, 2u);
  EXPECT_TRUE(claims.claimsBy(idx("n13")).empty());
}

}  // namespace
}  // namespace xmesh::router
