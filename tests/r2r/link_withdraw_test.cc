// Withdrawn units (Link::withdrawRouted, <m:void/>) and gated acks (LinkConfig::
// gatedAcks, Link::allowAck): the two link mechanisms by which nothing a dead node was
// sent is lost (issue 5, router/ack_gate.h).
#include <gtest/gtest.h>

#include "link_harness.h"

namespace xmesh::r2r::test {
namespace {

std::string message(int n, std::string_view to = "u@d") { return rawMessage(n, to); }

void sendMessages(Link& link, int from, int to) {
  for (int i = from; i <= to; ++i) ASSERT_EQ(link.sendStanza(message(i)), SendResult::Queued);
}

std::vector<std::string> ids(const std::vector<Unit>& units) {
  std::vector<std::string> out;
  for (const Unit& u : units) out.push_back(u.kind == UnitKind::Control ? u.name() : u.stanza.id);
  return out;
}

bool takeAll(UnitKind, std::string_view) { return true; }

TEST(R2rWithdraw, NothingIsWithdrawnWhileEstablished) {
  LinkPair p;
  p.open();
  p.pump();
  ASSERT_EQ(p.a.state(), LinkState::Established);
  sendMessages(p.a, 1, 2);
  EXPECT_TRUE(p.a.withdrawRouted(takeAll).empty());
  EXPECT_EQ(p.a.unackedCount(), 2u);
}

TEST(R2rWithdraw, RoutedUnitsComeBackOnceAndTheSameIncarnationGetsVoids) {
  LinkPair p;
  p.open();
  p.pump();
  sendMessages(p.a, 1, 2);
  p.pump();  // b has 1 and 2, not acknowledged yet (below ackEvery, no tick)
  ASSERT_EQ(p.rb.units.size(), 2u);
  p.close();
  sendMessages(p.a, 3, 4);
  const std::vector<Attr> attrs{{"op", "add"}, {"home", "a"}};
  ASSERT_EQ(p.a.sendControl("dir", attrs, "u"), SendResult::Queued);
  const std::vector<std::string> rcpt{"v@d"};
  ASSERT_EQ(p.a.sendFanout(rcpt, "<presence from='x@d/r' id='p6'/>"), SendResult::Queued);
  sendMessages(p.a, 7, 7);

  // Keep message 4 for the peer: the filter sees every routed unit, controls never.
  std::vector<std::string> offered;
  auto back = p.a.withdrawRouted([&](UnitKind kind, std::string_view bytes) {
    offered.emplace_back(kind == UnitKind::Fanout ? "fanout" : "stanza");
    return bytes.find("id='4'") == std::string_view::npos;
  });
  EXPECT_EQ(offered.size(), 6u);  // 1 2 3 4 fanout 7
  ASSERT_EQ(back.size(), 5u);
  EXPECT_EQ(back[0].seq, 1u);
  EXPECT_EQ(back[0].bytes, message(1));
  EXPECT_EQ(back[3].kind, UnitKind::Fanout);
  EXPECT_EQ(back[3].seq, 6u);
  EXPECT_EQ(back[4].seq, 7u);
  EXPECT_EQ(p.a.stats().unitsWithdrawn, 5u);
  // Each unit is offered once.
  EXPECT_TRUE(p.a.withdrawRouted(takeAll).empty());

  // The same incarnation comes back: what it had (1, 2) is acknowledged by its hello;
  // 3, 6 and 7 arrive as voids, counted and not delivered; 4 and the control arrive.
  p.open();
  p.pump();
  EXPECT_TRUE(p.ra.errors.empty()) << p.ra.lastError();
  EXPECT_TRUE(p.rb.errors.empty()) << p.rb.lastError();
  EXPECT_EQ(ids(p.rb.units), (std::vector<std::string>{"1", "2", "4", "dir"}));
  EXPECT_EQ(p.rb.units[2].seq, 4u);
  EXPECT_EQ(p.b.stats().voidsReceived, 3u);
  EXPECT_EQ(p.b.receivedSeq(), 7u);
  // Numbering goes on as if nothing was withdrawn.
  sendMessages(p.a, 8, 8);
  p.pump();
  EXPECT_EQ(p.rb.units.back().seq, 8u);
  p.tick(1);
  p.pump();
  EXPECT_EQ(p.a.unackedCount(), 0u);
}

TEST(R2rWithdraw, ANewIncarnationGetsVoidsInPlaceOfWithdrawnUnits) {
  Recorder ra, rb1, rb2;
  Link a(configFor("a", "b", "ea"), ra);
  {
    Link b1(configFor("b", "a", "eb1"), rb1);
    a.connectionOpened(0);
    b1.connectionOpened(0);
    std::string ab = std::move(a.output()), ba = std::move(b1.output());
    b1.feed(ab, 0);
    a.feed(ba, 0);
    ASSERT_EQ(a.state(), LinkState::Established);
  }
  a.connectionClosed();
  sendMessages(a, 1, 3);
  ASSERT_EQ(a.withdrawRouted([](UnitKind, std::string_view b) { return b.find("id='2'") == std::string_view::npos; })
                .size(),
            2u);
  Link b2(configFor("b", "a", "eb2"), rb2);
  a.connectionOpened(0);
  b2.connectionOpened(0);
  for (int i = 0; i < 4; ++i) {
    std::string ab = std::move(a.output()), ba = std::move(b2.output());
    b2.feed(ab, 0);
    a.feed(ba, 0);
  }
  EXPECT_TRUE(rb2.errors.empty()) << rb2.lastError();
  EXPECT_EQ(ids(rb2.units), (std::vector<std::string>{"2"}));
  EXPECT_EQ(rb2.units[0].seq, 2u);
  EXPECT_EQ(b2.stats().voidsReceived, 2u);
}

LinkConfig gated(std::string self, std::string peer, std::string epoch) {
  LinkConfig c = configFor(std::move(self), std::move(peer), std::move(epoch));
  c.gatedAcks = true;
  return c;
}

// a sends, b acknowledges only what it was allowed to.
class R2rGatedAcks : public ::testing::Test {
 protected:
  void SetUp() override {
    p.open();
    p.pump();
    ASSERT_EQ(p.b.state(), LinkState::Established);
  }
  // b may acknowledge up to `upTo`; a tick later a knows.
  void allowThenTick(uint64_t upTo) {
    p.b.allowAck(p.b.receivedGeneration(), upTo);
    p.tick(1);
    p.pump();
  }
  LinkPair p{configFor("a", "b", "ea"), gated("b", "a", "eb")};
};

TEST_F(R2rGatedAcks, AcksWaitForTheApplication) {
  sendMessages(p.a, 1, 40);  // past ackEvery
  p.pump();
  p.tick(1);  // a tick acks whatever arrived ...
  p.pump();
  EXPECT_EQ(p.rb.units.size(), 40u);
  EXPECT_EQ(p.a.unackedCount(), 40u);  // ... but nothing is allowed yet
  EXPECT_EQ(p.b.ackableSeq(), 0u);

  p.b.allowAck(p.b.receivedGeneration(), 25);
  p.pump();
  EXPECT_EQ(p.a.ackedSeq(), 0u);  // fewer than ackEvery: at the next tick
  p.tick(1);
  p.pump();
  EXPECT_EQ(p.a.ackedSeq(), 25u);
  p.b.allowAck(p.b.receivedGeneration() + 1, 40);  // another generation's count is ignored
  p.tick(1);
  p.pump();
  EXPECT_EQ(p.a.ackedSeq(), 25u);
  allowThenTick(99);  // capped at what arrived
  EXPECT_EQ(p.a.ackedSeq(), 40u);
}

TEST_F(R2rGatedAcks, AnAckRequestIsAnsweredAsSoonAsTheApplicationAllows) {
  sendMessages(p.a, 1, 3);
  p.a.requestAck();
  p.pump();
  EXPECT_EQ(p.a.ackedSeq(), 0u);
  p.b.allowAck(p.b.receivedGeneration(), 2);  // no tick: the request is still open
  p.pump();
  EXPECT_EQ(p.a.ackedSeq(), 2u);
  p.b.allowAck(p.b.receivedGeneration(), 3);
  p.pump();
  EXPECT_EQ(p.a.ackedSeq(), 3u);
}

TEST_F(R2rGatedAcks, AReconnectResendsWhatWasNotAllowedAndTheReceiverDropsItByCount) {
  sendMessages(p.a, 1, 10);
  p.pump();
  allowThenTick(4);
  ASSERT_EQ(p.a.ackedSeq(), 4u);
  p.close();
  p.open();
  p.pump();
  // b's hello said 4 (what it may acknowledge): 5..10 came again and were dropped.
  EXPECT_TRUE(p.rb.errors.empty()) << p.rb.lastError();
  EXPECT_EQ(p.rb.units.size(), 10u);
  EXPECT_EQ(p.b.stats().duplicatesDropped, 6u);
  EXPECT_EQ(p.a.unackedCount(), 6u);
  allowThenTick(10);
  EXPECT_EQ(p.a.unackedCount(), 0u);
}

TEST_F(R2rGatedAcks, AContiguousVoidIsAcknowledgedWithoutTheApplication) {
  p.close();
  sendMessages(p.a, 1, 2);
  ASSERT_EQ(p.a.withdrawRouted(takeAll).size(), 2u);
  p.open();
  p.pump();
  p.tick(1);
  p.pump();
  EXPECT_EQ(p.b.stats().voidsReceived, 2u);
  EXPECT_EQ(p.a.unackedCount(), 0u);
}

}  // namespace
}  // namespace xmesh::r2r::test
