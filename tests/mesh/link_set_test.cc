// LinkSets over real loopback TLS: establishment by the dial rule, units of every kind
// both ways, exactly-once delivery across resets, peer restarts, late acceptors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/mesh/mesh_harness.h"

namespace xmesh::mesh::test {
namespace {

using topology::NodeIndex;

std::string message(int id) {
  return "<message from='a@example.com/r' to='b@example.com' id='" + std::to_string(id) +
         "'><body>x</body></message>";
}

bool allEstablished(const std::vector<TestNode*>& nodes) {
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (size_t j = 0; j < nodes.size(); ++j) {
      if (i != j && nodes[i]->events.establishedWith(static_cast<NodeIndex>(j)) == 0) return false;
    }
  }
  return true;
}

// Unit k (1-based) of the traffic test: mostly stanzas, every 10th a control record,
// every 20th a fan-out.
void sendUnit(r2r::Link& link, int k) {
  if (k % 20 == 0) {
    const std::vector<std::string> to = {"u1@example.com", "u2@example.com"};
    ASSERT_EQ(link.sendFanout(to, "<presence from='a@example.com/r' id='" + std::to_string(k) +
                                      "'><show>away</show></presence>"),
              r2r::SendResult::Queued);
  } else if (k % 10 == 0) {
    const std::vector<r2r::Attr> attrs = {{"op", "add"}, {"home", "n1"}, {"k", std::to_string(k)}};
    ASSERT_EQ(link.sendControl("dir", attrs, "u1@example.com u2@example.com"),
              r2r::SendResult::Queued);
  } else {
    ASSERT_EQ(link.sendStanza(message(k)), r2r::SendResult::Queued);
  }
}

void expectUnit(const r2r::Unit& u, int k) {
  EXPECT_EQ(u.seq, static_cast<uint64_t>(k));
  if (k % 20 == 0) {
    EXPECT_EQ(u.kind, r2r::UnitKind::Fanout);
    EXPECT_EQ(u.recipients, (std::vector<std::string>{"u1@example.com", "u2@example.com"}));
    EXPECT_EQ(u.stanza.name, "presence");
    EXPECT_EQ(u.stanza.id, std::to_string(k));
  } else if (k % 10 == 0) {
    EXPECT_EQ(u.kind, r2r::UnitKind::Control);
    EXPECT_EQ(u.name(), "dir");
    EXPECT_EQ(u.attr("k"), std::to_string(k));
    EXPECT_EQ(u.text, "u1@example.com u2@example.com");
  } else {
    EXPECT_EQ(u.kind, r2r::UnitKind::Stanza);
    EXPECT_EQ(u.stanza.name, "message");
    EXPECT_EQ(u.stanza.id, std::to_string(k));
    EXPECT_EQ(u.stanza.from, "a@example.com/r");
  }
}

TEST_F(MeshTest, ThreeNodesInTwoClustersEstablishByTheDialRuleAndCarryUnits) {
  auto topo = makeTopology(kThreeNodes, freePorts(3), /*secure=*/true);
  ASSERT_TRUE(topo);
  std::vector<TestNode*> n;
  for (NodeIndex i = 0; i < 3; ++i) n.push_back(&addNode(testOptions(topo, i)));
  for (int i = 2; i >= 0; --i) ASSERT_TRUE(n[i]->set->start().isOk());  // listeners first
  ASSERT_TRUE(runUntil([&] { return allEstablished(n); }));

  for (NodeIndex i = 0; i < 3; ++i) {
    for (NodeIndex j = 0; j < 3; ++j) {
      if (i == j) continue;
      const PeerStatus s = n[i]->status(j);
      EXPECT_EQ(s.dialer, i < j) << i << "->" << j;  // the lower id dials
      EXPECT_EQ(s.state, "established");
      EXPECT_EQ(s.node, topo->node(j).id);
      EXPECT_EQ(s.cluster, topo->clusterOf(j).id);
      EXPECT_GT(s.establishedAtMs, 0);
    }
    EXPECT_EQ(n[i]->set->link(i), nullptr);
    EXPECT_EQ(n[i]->events.established.size(), 2u);
    for (const auto& [peer, hello] : n[i]->events.established) {
      EXPECT_EQ(hello.node, topo->node(peer).id);
      EXPECT_EQ(hello.cluster, topo->clusterOf(peer).id);
      EXPECT_FALSE(hello.peerRestarted);
    }
  }
  // n1 only dials, n2 accepts from n1, n3 from both.
  EXPECT_EQ(n[0]->set->listenerStatus().accepted, 0u);
  EXPECT_EQ(n[1]->set->listenerStatus().accepted, 1u);
  EXPECT_EQ(n[2]->set->listenerStatus().accepted, 2u);

  constexpr int kPerPeer = 60;
  for (NodeIndex i = 0; i < 3; ++i) {
    for (NodeIndex j = 0; j < 3; ++j) {
      if (i == j) continue;
      for (int k = 1; k <= kPerPeer; ++k) sendUnit(*n[i]->set->link(j), k);
    }
  }
  ASSERT_TRUE(runUntil([&] {
    for (NodeIndex i = 0; i < 3; ++i) {
      for (NodeIndex j = 0; j < 3; ++j) {
        if (i != j && n[j]->events.unitCount[i] < kPerPeer) return false;
      }
    }
    return true;
  }));
  for (NodeIndex i = 0; i < 3; ++i) {
    for (NodeIndex j = 0; j < 3; ++j) {
      if (i == j) continue;
      const auto& got = n[j]->events.units[i];
      ASSERT_EQ(got.size(), static_cast<size_t>(kPerPeer)) << i << "->" << j;
      for (int k = 1; k <= kPerPeer; ++k) expectUnit(got[static_cast<size_t>(k - 1)], k);
    }
  }
  for (TestNode* node : n) {
    EXPECT_TRUE(node->events.downs.empty());
    for (const PeerStatus& s : node->set->snapshot()) EXPECT_EQ(s.errors, 0u) << s.lastError;
  }
}

// Resets cut the byte stream at arbitrary points, from either side: every unit still
// arrives exactly once and in order, and the counters show the resends.
TEST_F(MeshTest, ResetsFromEitherSideMidTrafficLoseAndDuplicateNothing) {
  auto topo = makeTopology(kTwoNodes, freePorts(2), /*secure=*/true);
  ASSERT_TRUE(topo);
  TestNode& a = addNode(testOptions(topo, 0));
  TestNode& b = addNode(testOptions(topo, 1));
  b.events.keepUnits = false;
  uint64_t next = 1, outOfOrder = 0;
  b.events.unitHook = [&](NodeIndex, const r2r::Unit& u) {
    if (u.stanza.id != std::to_string(next)) ++outOfOrder;
    ++next;
  };
  ASSERT_TRUE(a.set->start().isOk());
  ASSERT_TRUE(b.set->start().isOk());
  ASSERT_TRUE(runUntil([&] { return a.events.establishedWith(1) && b.events.establishedWith(0); }));

  constexpr int kTotal = 20000, kBatch = 250;
  const std::vector<int> dropAfter = {2500, 6000, 9500, 13000, 16500};
  int sent = 0;
  size_t drops = 0;
  r2r::Link& link = *a.set->link(1);
  auto step = [&] {
    for (int i = 0; i < kBatch && sent < kTotal; ++i) {
      EXPECT_EQ(link.sendStanza(message(++sent)), r2r::SendResult::Queued);
    }
    const bool up = link.state() == r2r::LinkState::Established &&
                    b.set->link(0)->state() == r2r::LinkState::Established;
    if (drops < dropAfter.size() && sent >= dropAfter[drops] && up) {
      a.set->flush();  // the batch is on the wire, unacknowledged, when the reset hits
      if (drops % 2 == 0) {
        a.set->dropConnection(1);  // the dialer resets
      } else {
        b.set->dropConnection(0);  // the acceptor resets
      }
      ++drops;
    }
    return b.events.unitCount[0] >= kTotal && drops == dropAfter.size();
  };
  ASSERT_TRUE(runUntil(step, 20000)) << "received " << b.events.unitCount[0] << ", drops " << drops;
  ASSERT_TRUE(runUntil([&] { return link.unackedCount() == 0; }));
  // snapshot() is refreshed at the next tick.
  ASSERT_TRUE(runUntil([&] {
    return a.status(1).unackedUnits == 0 && b.status(0).unitsReceived == kTotal;
  }));

  EXPECT_EQ(b.events.unitCount[0], static_cast<uint64_t>(kTotal));
  EXPECT_EQ(outOfOrder, 0u);
  const PeerStatus sa = a.status(1), sb = b.status(0);
  EXPECT_EQ(sa.unitsSent, static_cast<uint64_t>(kTotal));
  EXPECT_EQ(sb.unitsReceived, static_cast<uint64_t>(kTotal));
  EXPECT_GT(sa.unitsResent, 0u);
  EXPECT_GE(sa.connections, 1 + dropAfter.size());
  EXPECT_GE(sa.establishments, 1 + dropAfter.size());
  EXPECT_GE(sa.reconnectAttempts, dropAfter.size());
  EXPECT_GE(a.events.downs.size(), dropAfter.size());
  EXPECT_EQ(a.events.downs.size() + 1, a.events.established.size());  // one down per up
}

// A one-byte socket watermark makes every flush wait for the previous write to drain, and
// a small unacked bound makes senders hit Full: everything still arrives, in order, and
// onWritable tells the sender when to resume.
TEST_F(MeshTest, BackPressureHoldsOutputAndReportsWritable) {
  auto topo = makeTopology(kTwoNodes, freePorts(2), /*secure=*/true);
  ASSERT_TRUE(topo);
  LinkSetOptions ao = testOptions(topo, 0);
  ao.socketHighWatermark = 1;
  ao.maxUnackedBytes = 32 * 1024;
  TestNode& a = addNode(ao);
  TestNode& b = addNode(testOptions(topo, 1));
  b.events.keepUnits = false;
  uint64_t next = 1, outOfOrder = 0;
  b.events.unitHook = [&](NodeIndex, const r2r::Unit& u) {
    if (u.stanza.id != std::to_string(next)) ++outOfOrder;
    ++next;
  };
  ASSERT_TRUE(b.set->start().isOk());
  ASSERT_TRUE(a.set->start().isOk());
  ASSERT_TRUE(runUntil([&] { return a.events.establishedWith(1) && b.events.establishedWith(0); }));

  constexpr int kTotal = 3000;
  int sent = 0, fulls = 0;
  bool blocked = false;
  r2r::Link& link = *a.set->link(1);
  ASSERT_TRUE(runUntil([&] {
    if (blocked && a.events.writable[1] == fulls) blocked = false;
    while (!blocked && sent < kTotal) {
      const r2r::SendResult r = link.sendStanza(message(sent + 1));
      if (r == r2r::SendResult::Full) {
        ++fulls;
        blocked = true;
      } else {
        EXPECT_EQ(r, r2r::SendResult::Queued);
        ++sent;
      }
    }
    return b.events.unitCount[0] == kTotal;
  }));
  EXPECT_EQ(outOfOrder, 0u);
  EXPECT_GT(fulls, 0);
  EXPECT_EQ(a.events.writable[1], fulls);
  EXPECT_TRUE(a.events.downs.empty());
}

// The peer process restarts (new epoch): the survivor sees peerRestarted and the new
// incarnation gets what was queued meanwhile.
TEST_F(MeshTest, PeerRestartIsReportedAndQueuedUnitsFollow) {
  auto topo = makeTopology(kTwoNodes, freePorts(2), /*secure=*/true);
  ASSERT_TRUE(topo);
  TestNode& a = addNode(testOptions(topo, 0));
  LinkSetOptions bOptions = testOptions(topo, 1);
  bOptions.epoch = "b-first";
  TestNode& b = addNode(bOptions);
  ASSERT_TRUE(a.set->start().isOk());
  ASSERT_TRUE(b.set->start().isOk());
  ASSERT_TRUE(runUntil([&] { return a.events.establishedWith(1) && b.events.establishedWith(0); }));
  r2r::Link& link = *a.set->link(1);
  for (int k = 1; k <= 10; ++k) ASSERT_EQ(link.sendStanza(message(k)), r2r::SendResult::Queued);
  ASSERT_TRUE(runUntil([&] { return b.events.unitCount[0] == 10 && link.unackedCount() == 0; }));

  destroyNode(b);
  ASSERT_TRUE(runUntil([&] { return a.events.downs.size() == 1; }));
  for (int k = 11; k <= 15; ++k) ASSERT_EQ(link.sendStanza(message(k)), r2r::SendResult::Queued);

  bOptions.epoch = "b-second";
  TestNode& b2 = addNode(bOptions);
  ASSERT_TRUE(b2.set->start().isOk());
  ASSERT_TRUE(runUntil([&] { return a.events.establishedWith(1) == 2 && b2.events.unitCount[0] == 5; }));

  const r2r::PeerHello& again = a.events.established.back().second;
  EXPECT_TRUE(again.peerRestarted);
  EXPECT_EQ(again.epoch, "b-second");
  EXPECT_FALSE(again.knowsUs);
  EXPECT_EQ(a.status(1).peerRestarts, 1u);
  const r2r::PeerHello& fresh = b2.events.established.at(0).second;
  EXPECT_FALSE(fresh.peerRestarted);  // b2 never knew a before
  EXPECT_EQ(fresh.epoch, a.set->epoch());
  const auto& got = b2.events.units[0];
  ASSERT_EQ(got.size(), 5u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].stanza.id, std::to_string(11 + i));
}

// The dialer comes up first: connection refused, back-off, and it connects once the
// acceptor listens.
TEST_F(MeshTest, DialerStartedBeforeTheAcceptorConnectsLater) {
  auto topo = makeTopology(kTwoNodes, freePorts(2), /*secure=*/true);
  ASSERT_TRUE(topo);
  TestNode& a = addNode(testOptions(topo, 0));
  TestNode& b = addNode(testOptions(topo, 1));
  ASSERT_TRUE(a.set->start().isOk());
  ASSERT_TRUE(runUntil([&] { return a.status(1).reconnectAttempts >= 2; }));
  const PeerStatus waiting = a.status(1);
  EXPECT_GE(waiting.errors, 2u);
  EXPECT_EQ(waiting.lastError.rfind("connect-failed", 0), 0u) << waiting.lastError;
  EXPECT_TRUE(a.events.established.empty());

  ASSERT_TRUE(b.set->start().isOk());
  ASSERT_TRUE(runUntil([&] { return a.events.establishedWith(1) && b.events.establishedWith(0); }));
  EXPECT_EQ(a.status(1).state, "established");
  EXPECT_EQ(b.status(0).state, "established");
}

}  // namespace
}  // namespace xmesh::mesh::test
