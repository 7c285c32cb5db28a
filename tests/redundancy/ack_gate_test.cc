// r2r acks after replication (router/ack_gate.h), over real Links: node x (index 0)
// gates its acks to its PRG peer b (1) and to another node c (2). The loops' round trip
// and the replication stream are under the test's control.
#include "router/ack_gate.h"

#include <gtest/gtest.h>

#include "tests/r2r/link_harness.h"

namespace xmesh::router {
namespace {

using r2r::test::configFor;
using r2r::test::LinkPair;
using r2r::test::rawMessage;

r2r::LinkConfig gated(std::string self, std::string peer, std::string epoch) {
  r2r::LinkConfig c = configFor(std::move(self), std::move(peer), std::move(epoch));
  c.gatedAcks = true;
  return c;
}

struct Mark {
  topology::NodeIndex origin;
  std::string epoch;
  uint64_t h;
  bool operator==(const Mark&) const = default;
};

class AckGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (LinkPair* p : {&fromB, &fromC}) {
      p->open();
      p->pump();
      ASSERT_EQ(p->b.state(), r2r::LinkState::Established);
    }
    AckGate::Hooks hooks;
    hooks.replicationGeneration = [this]() -> std::optional<uint64_t> {
      if (!replicating) return std::nullopt;
      return generation;
    };
    hooks.roundTrip = [this](std::function<void()> done) { trips.push_back(std::move(done)); };
    hooks.publishMark = [this](topology::NodeIndex origin, const std::string& epoch, uint64_t h) {
      marks.push_back(Mark{origin, epoch, h});
      // Like the Replicator: the record goes on the link to the peer.
      const r2r::Attrs attrs{{"op", "mark"}, {"h", std::to_string(h)}};
      ASSERT_EQ(fromB.b.sendControl("rep", attrs), r2r::SendResult::Queued);
    };
    gate = std::make_unique<AckGate>(std::vector<r2r::Link*>{nullptr, &fromB.b, &fromC.b}, 1, std::move(hooks));
  }

  // The sender's units reach x and are handed to the gate, as MeshNode::onUnit does.
  void deliver(LinkPair& p, topology::NodeIndex from) {
    p.pump();
    auto& units = p.rb.units;
    for (; handed[from] < units.size(); ++handed[from])
      gate->onUnit(from, units[handed[from]].kind, units[handed[from]].seq);
  }
  void sendMessages(LinkPair& p, int n) {
    for (int i = 0; i < n; ++i) ASSERT_EQ(p.a.sendStanza(rawMessage(i)), r2r::SendResult::Queued);
  }
  void sendControl(LinkPair& p) {
    const r2r::Attrs attrs{{"op", "add"}, {"home", "c"}};
    ASSERT_EQ(p.a.sendControl("dir", attrs, "u"), r2r::SendResult::Queued);
  }
  // Time passes on both links (tick acks, then the bytes move).
  void settle() {
    for (LinkPair* p : {&fromB, &fromC}) {
      p->tick(1);
      p->pump();
    }
  }
  void finishTrip(size_t i) {
    auto done = std::move(trips.at(i));
    done();
  }

  LinkPair fromB{configFor("b", "x", "eb"), gated("x", "b", "ex")};
  LinkPair fromC{configFor("c", "x", "ec"), gated("x", "c", "ex")};
  bool replicating = true;
  uint64_t generation = 1;
  std::vector<std::function<void()>> trips;
  std::vector<Mark> marks;
  size_t handed[3] = {0, 0, 0};
  std::unique_ptr<AckGate> gate;
};

TEST_F(AckGateTest, AnotherNodesUnitsAreAcknowledgedOnlyOnceThePeerHasTheirEffects) {
  sendMessages(fromC, 3);
  deliver(fromC, 2);
  ASSERT_EQ(trips.size(), 1u);  // one round, for all three
  settle();
  EXPECT_EQ(fromC.a.ackedSeq(), 0u) << "handled, not yet replicated";

  finishTrip(0);  // the tokens are back: what the units caused is queued to the peer
  EXPECT_EQ(marks, (std::vector<Mark>{{2, "ec", 3}}));
  fromC.tick(1);
  fromC.pump();
  EXPECT_EQ(fromC.a.ackedSeq(), 0u) << "the peer has not acknowledged the records yet";

  settle();  // b acknowledges the mark
  ASSERT_EQ(fromB.a.receivedSeq(), 1u);
  gate->check();
  settle();
  EXPECT_EQ(fromC.a.ackedSeq(), 3u);
  EXPECT_EQ(gate->rounds(), 1u);
  EXPECT_EQ(gate->marksPublished(), 1u);
}

TEST_F(AckGateTest, ThePeersOwnUnitsAreAcknowledgedBehindTheRecordsOnTheSameStream) {
  sendMessages(fromB, 2);
  deliver(fromB, 1);
  ASSERT_EQ(trips.size(), 1u);
  settle();
  EXPECT_EQ(fromB.a.ackedSeq(), 0u);
  finishTrip(0);
  fromB.tick(1);
  fromB.pump();
  // No wait for b's ack of the mark: b read the mark before the ack on the one stream.
  EXPECT_EQ(fromB.a.ackedSeq(), 2u);
  ASSERT_FALSE(fromB.ra.units.empty());
  EXPECT_EQ(fromB.ra.units.back().name(), "rep");
}

TEST_F(AckGateTest, ControlUnitsAreAcknowledgedAtOnceUnlessARoutedUnitWaitsBeforeThem) {
  sendControl(fromC);
  deliver(fromC, 2);
  EXPECT_TRUE(trips.empty());
  settle();
  EXPECT_EQ(fromC.a.ackedSeq(), 1u);

  sendMessages(fromC, 1);
  sendControl(fromC);
  deliver(fromC, 2);
  settle();
  EXPECT_EQ(fromC.a.ackedSeq(), 1u) << "the control waits behind the message";
  finishTrip(0);
  settle();
  gate->check();
  settle();
  EXPECT_EQ(fromC.a.ackedSeq(), 3u);
}

TEST_F(AckGateTest, NothingIsHeldWhileNothingIsReplicated) {
  replicating = false;
  sendMessages(fromC, 3);
  deliver(fromC, 2);
  settle();
  EXPECT_TRUE(trips.empty());
  EXPECT_TRUE(marks.empty());
  EXPECT_EQ(fromC.a.ackedSeq(), 3u);
}

TEST_F(AckGateTest, ASnapshotDuringARoundVoidsItAndANewRoundFollows) {
  sendMessages(fromC, 2);
  deliver(fromC, 2);
  ASSERT_EQ(trips.size(), 1u);
  generation = 2;  // the replication started over meanwhile
  finishTrip(0);
  EXPECT_TRUE(marks.empty());
  EXPECT_EQ(gate->roundsVoided(), 1u);
  ASSERT_EQ(trips.size(), 2u);  // behind the snapshot this time
  finishTrip(1);
  EXPECT_EQ(marks, (std::vector<Mark>{{2, "ec", 2}}));
  settle();
  gate->check();
  settle();
  EXPECT_EQ(fromC.a.ackedSeq(), 2u);
}

TEST_F(AckGateTest, AfterAReplicationRestartEveryMarkIsPublishedAgain) {
  sendMessages(fromC, 2);
  deliver(fromC, 2);
  gate->check();  // the first generation seen: nothing to mark again
  finishTrip(0);
  ASSERT_EQ(marks, (std::vector<Mark>{{2, "ec", 2}}));
  settle();
  gate->check();
  ASSERT_EQ(trips.size(), 1u);
  // The peer link went down and up: a reset and a snapshot, the peer forgot the marks.
  generation = 2;
  gate->check();
  ASSERT_EQ(trips.size(), 2u) << "a round behind the snapshot, without new units";
  finishTrip(1);
  EXPECT_EQ(marks, (std::vector<Mark>{{2, "ec", 2}, {2, "ec", 2}}));
}

TEST_F(AckGateTest, AReroutedStanzaWaitsForItsRoundLikeARoutedOne) {
  // MeshNode::onUnit reports a `reroute` record as a stanza: it is delivered here.
  const r2r::Attrs attrs{{"via", "n1"}, {"epoch", "e"}, {"seq", "1"}};
  ASSERT_EQ(fromC.a.sendControl("reroute", attrs, {}, rawMessage(1)), r2r::SendResult::Queued);
  fromC.pump();
  ASSERT_EQ(fromC.rb.units.size(), 1u);
  gate->onUnit(2, r2r::UnitKind::Stanza, fromC.rb.units[0].seq);
  settle();
  EXPECT_EQ(fromC.a.ackedSeq(), 0u);
  ASSERT_EQ(trips.size(), 1u);
  finishTrip(0);
  settle();
  gate->check();
  settle();
  EXPECT_EQ(fromC.a.ackedSeq(), 1u);
}

TEST_F(AckGateTest, UnitsArrivingDuringARoundGetTheirOwnRound) {
  sendMessages(fromC, 1);
  deliver(fromC, 2);
  sendMessages(fromC, 2);
  deliver(fromC, 2);
  ASSERT_EQ(trips.size(), 1u) << "one round in flight at a time";
  finishTrip(0);
  ASSERT_EQ(trips.size(), 2u);
  EXPECT_EQ(marks.back().h, 1u);
  finishTrip(1);
  EXPECT_EQ(marks.back().h, 3u);
  settle();
  gate->check();
  settle();
  EXPECT_EQ(fromC.a.ackedSeq(), 3u);
}

}  // namespace
}  // namespace xmesh::router
