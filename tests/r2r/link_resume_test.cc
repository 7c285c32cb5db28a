// Resumption: across any number of transport resets no counted unit is lost, duplicated
// or reordered in either direction. The centrepiece cuts the byte pipe at every possible
// position of a long two-way exchange.
#include <gtest/gtest.h>

#include <random>

#include "link_harness.h"

namespace xmesh::r2r::test {
namespace {

// The identity a test unit carries, whatever its kind.
std::string unitTag(const Unit& u) {
  switch (u.kind) {
    case UnitKind::Stanza:
    case UnitKind::Fanout: return u.stanza.id;
    case UnitKind::Control: return std::string(u.attr("n"));
  }
  return {};
}

std::vector<std::string> tags(const std::vector<Unit>& units) {
  std::vector<std::string> out;
  for (const Unit& u : units) out.push_back(unitTag(u));
  return out;
}

// Sends unit number i from `link` (a mix of all kinds), tagged prefix+i.
void sendMixed(Link& link, const std::string& prefix, int i) {
  const std::string tag = prefix + std::to_string(i);
  SendResult r = SendResult::Invalid;
  if (i % 5 == 1) {
    const std::vector<std::string> rcpt{"u1@d", "u2@d"};
    r = link.sendFanout(
        rcpt, "<presence from='p@d/r' id='" + tag + "'><status>s" + tag + "</status></presence>");
  } else if (i % 7 == 2) {
    const std::vector<Attr> attrs{{"n", tag}, {"op", "add"}, {"home", "n1"}};
    r = link.sendControl("dir", attrs, "user1 user2 user3");
  } else {
    r = link.sendStanza("<message from='x@d/r' to='y@d' id='" + tag + "'><body>body of " + tag +
                        "</body></message>");
  }
  ASSERT_EQ(r, SendResult::Queued);
}

std::vector<std::string> expected(const std::string& prefix, int from, int to, int step = 1) {
  std::vector<std::string> out;
  for (int i = from; i <= to; i += step) out.push_back(prefix + std::to_string(i));
  return out;
}

// Moves bytes like LinkPair::pump, but cuts the transport when the total number of bytes
// that crossed a direction (over all connections) reaches a planned position: the bytes
// before it arrive, the rest is lost, both sides reconnect.
struct CuttingPump {
  explicit CuttingPump(LinkPair& pair) : p(pair) {}

  void deliver(std::string& bytes, uint64_t& crossed, const std::vector<uint64_t>& plan,
               size_t& next, Link& to, bool& cut) {
    if (cut) return;  // the transport is already gone: these bytes are lost
    if (next < plan.size() && crossed + bytes.size() >= plan[next] && plan[next] >= crossed) {
      const size_t n = static_cast<size_t>(plan[next] - crossed);
      to.feed(std::string_view(bytes).substr(0, n), p.now);
      crossed += n;
      ++next;
      cut = true;
      return;
    }
    to.feed(bytes, p.now);
    crossed += bytes.size();
  }

  bool round() {
    if (p.a.output().empty() && p.b.output().empty()) return false;
    std::string ab, ba;
    ab.swap(p.a.output());
    ba.swap(p.b.output());
    bool cut = false;
    deliver(ab, crossedAB, planAB, nextAB, p.b, cut);
    deliver(ba, crossedBA, planBA, nextBA, p.a, cut);
    if (cut) {
      p.close();
      p.open();
      ++cuts;
    }
    return true;
  }
  void drain() {
    for (int i = 0; i < 10000 && round(); ++i) {
    }
  }

  LinkPair& p;
  std::vector<uint64_t> planAB, planBA;
  size_t nextAB = 0, nextBA = 0;
  uint64_t crossedAB = 0, crossedBA = 0;
  int cuts = 0;
};

constexpr int kUnitsA = 40;
constexpr int kUnitsB = 40;

// The long exchange: a sends kUnitsA, b sends every third, with pumping and ticks between.
void runExchange(CuttingPump& pump) {
  LinkPair& p = pump.p;
  p.open();
  for (int i = 1; i <= kUnitsA; ++i) {
    sendMixed(p.a, "a", i);
    if (i % 3 == 0) sendMixed(p.b, "b", i);
    pump.round();
    if (i % 10 == 0) {
      p.tick(100);  // tick acks
      pump.round();
    }
  }
  pump.drain();
  p.tick(100);
  pump.drain();
}

void checkExactlyOnce(const LinkPair& p) {
  EXPECT_EQ(tags(p.rb.units), expected("a", 1, kUnitsA));
  EXPECT_EQ(tags(p.ra.units), expected("b", 3, kUnitsB, 3));
  for (size_t i = 0; i < p.rb.units.size(); ++i) EXPECT_EQ(p.rb.units[i].seq, i + 1);
  EXPECT_EQ(p.a.unackedCount(), 0u);
  EXPECT_EQ(p.b.unackedCount(), 0u);
  EXPECT_TRUE(p.ra.errors.empty()) << p.ra.lastError();
  EXPECT_TRUE(p.rb.errors.empty()) << p.rb.lastError();
}

TEST(R2rResume, NoCutBaseline) {
  LinkPair p;
  CuttingPump pump(p);
  runExchange(pump);
  checkExactlyOnce(p);
  EXPECT_EQ(pump.cuts, 0);
}

// Cut once at every byte position of the a->b flow, then of the b->a flow.
TEST(R2rResume, CutAtEveryByteBoundaryEitherDirection) {
  uint64_t totalAB = 0, totalBA = 0;
  {
    LinkPair p;
    CuttingPump pump(p);
    runExchange(pump);
    totalAB = pump.crossedAB;
    totalBA = pump.crossedBA;
  }
  ASSERT_GT(totalAB, 3000u);
  uint64_t resent = 0;
  for (int dir = 0; dir < 2; ++dir) {
    const uint64_t total = dir == 0 ? totalAB : totalBA;
    for (uint64_t k = 0; k <= total; ++k) {
      LinkPair p;
      CuttingPump pump(p);
      (dir == 0 ? pump.planAB : pump.planBA).push_back(k);
      runExchange(pump);
      SCOPED_TRACE("direction " + std::to_string(dir) + " cut at byte " + std::to_string(k));
      checkExactlyOnce(p);
      ASSERT_EQ(pump.cuts, 1);
      resent += p.a.stats().unitsResent + p.b.stats().unitsResent;
      if (HasFailure()) return;
    }
  }
  EXPECT_GT(resent, 0u);  // some cuts did lose units in flight, and they came back
}

// Many cuts per run at random positions, over many seeds.
TEST(R2rResume, ManyRandomCutsPerRun) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    std::mt19937_64 rng(seed);
    LinkPair p;
    CuttingPump pump(p);
    uint64_t at = 0;
    for (int c = 0; c < 20; ++c)
      pump.planAB.push_back(at += std::uniform_int_distribution<uint64_t>(1, 700)(rng));
    at = 0;
    for (int c = 0; c < 20; ++c)
      pump.planBA.push_back(at += std::uniform_int_distribution<uint64_t>(1, 400)(rng));
    runExchange(pump);
    SCOPED_TRACE("seed " + std::to_string(seed));
    checkExactlyOnce(p);
    EXPECT_GT(pump.cuts, 3);
    if (HasFailure()) return;
  }
}

// b received everything but its ack never reached a: the reconnect hello's h tells a,
// which frees those units instead of resending them.
TEST(R2rResume, LostAckIsRecognizedByCountAndNotResent) {
  LinkPair p;
  p.open();
  p.pump();
  for (int i = 1; i <= 5; ++i) sendMixed(p.a, "a", i);
  p.b.feed(p.a.output(), p.now);
  p.a.output().clear();
  ASSERT_EQ(p.rb.units.size(), 5u);
  ASSERT_EQ(p.b.receivedSeq(), 5u);
  EXPECT_EQ(p.a.unackedCount(), 5u);
  p.b.output().clear();  // lost with the connection
  p.close();
  p.open();
  p.pump();
  EXPECT_EQ(p.a.unackedCount(), 0u);
  EXPECT_EQ(p.a.ackedSeq(), 5u);
  EXPECT_EQ(p.a.stats().unitsResent, 0u);
  EXPECT_EQ(p.rb.units.size(), 5u);
  ASSERT_EQ(p.ra.established.size(), 2u);
  EXPECT_TRUE(p.ra.established[1].knowsUs);
  EXPECT_EQ(p.ra.established[1].h, 5u);
  sendMixed(p.a, "a", 6);
  p.pump();
  EXPECT_EQ(tags(p.rb.units), expected("a", 1, 6));
}

// Some units arrived, the rest were lost in flight: exactly the rest comes again.
TEST(R2rResume, PartialDeliveryResendsOnlyTheRest) {
  LinkPair p;
  p.open();
  p.pump();
  for (int i = 1; i <= 4; ++i) sendMixed(p.a, "a", i);
  const std::string wire = p.a.output();
  p.a.output().clear();
  // Deliver up to the middle of unit 3.
  const size_t third = wire.find("id='a3'");
  ASSERT_NE(third, std::string::npos);
  p.b.feed(std::string_view(wire).substr(0, third), p.now);
  EXPECT_EQ(p.rb.units.size(), 2u);
  p.close();
  p.open();
  p.pump();
  EXPECT_EQ(tags(p.rb.units), expected("a", 1, 4));
  EXPECT_EQ(p.a.stats().unitsResent, 2u);
}

// A peer that resends units we already have (it ignored our h): dropped by count.
TEST(R2rResume, ReceiverDropsDuplicatesByCount) {
  Recorder rec;
  Link link(configFor("a", "b", "ea"), rec);
  link.connectionOpened(0);
  link.feed(
      rawHeader() + rawHello("eb") + rawStart(0) + rawMessage(1) + rawMessage(2) + rawMessage(3),
      0);
  ASSERT_EQ(rec.units.size(), 3u);
  link.connectionClosed();
  link.connectionOpened(0);
  EXPECT_NE(link.output().find("peer-epoch='eb' h='3'"), std::string::npos);
  std::string again = rawHeader() + rawHello("eb", "ea") + rawStart(0);
  for (int i = 1; i <= 5; ++i) again += rawMessage(i);
  link.feed(again, 0);
  EXPECT_TRUE(rec.errors.empty()) << rec.lastError();
  ASSERT_EQ(rec.units.size(), 5u);
  EXPECT_EQ(rec.units[3].stanza.id, "4");
  EXPECT_EQ(rec.units[3].seq, 4u);
  EXPECT_EQ(rec.units[4].stanza.id, "5");
  EXPECT_EQ(link.stats().duplicatesDropped, 3u);
  EXPECT_EQ(link.receivedSeq(), 5u);
}

// The peer process restarted (new epoch): it lost everything; all our unacked units go
// to the new incarnation, and the caller learns of the restart.
TEST(R2rResume, PeerRestartGetsEveryUnackedUnit) {
  Recorder ra, rb1, rb2;
  Link a(configFor("a", "b", "ea"), ra);
  auto b1 = std::make_unique<Link>(configFor("b", "a", "eb1"), rb1);
  a.connectionOpened(0);
  b1->connectionOpened(0);
  for (int i = 1; i <= 3; ++i) sendMixed(a, "a", i);
  // Handshake and units reach b1; b1 dies before acking (3 < ackEvery, no tick).
  for (int i = 0; i < 5; ++i) {
    std::string ab, ba;
    ab.swap(a.output());
    ba.swap(b1->output());
    b1->feed(ab, 0);
    a.feed(ba, 0);
  }
  ASSERT_EQ(rb1.units.size(), 3u);
  ASSERT_EQ(a.unackedCount(), 3u);
  b1.reset();
  a.output().clear();
  a.connectionClosed();
  for (int i = 4; i <= 5; ++i) sendMixed(a, "a", i);
  ASSERT_EQ(a.unackedCount(), 5u);
  Link b2(configFor("b", "a", "eb2"), rb2);
  a.connectionOpened(0);
  b2.connectionOpened(0);
  for (int i = 0; i < 5; ++i) {
    std::string ab, ba;
    ab.swap(a.output());
    ba.swap(b2.output());
    b2.feed(ab, 0);
    a.feed(ba, 0);
  }
  EXPECT_TRUE(ra.errors.empty()) << ra.lastError();
  EXPECT_TRUE(rb2.errors.empty()) << rb2.lastError();
  ASSERT_EQ(ra.established.size(), 2u);
  EXPECT_TRUE(ra.established[1].peerRestarted);
  EXPECT_FALSE(ra.established[1].knowsUs);
  EXPECT_EQ(a.stats().peerRestarts, 1u);
  EXPECT_EQ(tags(rb2.units), expected("a", 1, 5));
  EXPECT_EQ(rb2.units[0].seq, 1u);
}

// We restarted: the peer still holds units for our previous incarnation, numbered in its
// own count; the new us adopts its numbering and gets them all.
TEST(R2rResume, OwnRestartAdoptsThePeersNumbering) {
  Recorder ra1, ra2, rb;
  auto a1 = std::make_unique<Link>(configFor("a", "b", "ea1"), ra1);
  Link b(configFor("b", "a", "eb"), rb);
  a1->connectionOpened(0);
  b.connectionOpened(0);
  for (int i = 1; i <= 3; ++i) sendMixed(b, "b", i);
  for (int i = 0; i < 5; ++i) {
    std::string ab, ba;
    ab.swap(a1->output());
    ba.swap(b.output());
    b.feed(ab, 0);
    a1->feed(ba, 0);
  }
  ASSERT_EQ(ra1.units.size(), 3u);
  a1.reset();  // crash
  b.connectionClosed();
  for (int i = 4; i <= 6; ++i) sendMixed(b, "b", i);
  EXPECT_EQ(b.ackedSeq(), 0u);  // acks for 1..3 were under ackEvery and never ticked
  Link a2(configFor("a", "b", "ea2"), ra2);
  a2.connectionOpened(0);
  b.connectionOpened(0);
  for (int i = 0; i < 5; ++i) {
    std::string ab, ba;
    ab.swap(a2.output());
    ba.swap(b.output());
    b.feed(ab, 0);
    a2.feed(ba, 0);
  }
  EXPECT_TRUE(ra2.errors.empty()) << ra2.lastError();
  EXPECT_TRUE(rb.errors.empty()) << rb.lastError();
  EXPECT_TRUE(rb.established.back().peerRestarted);
  EXPECT_EQ(tags(ra2.units), expected("b", 1, 6));  // the new process gets all unacked units
  EXPECT_EQ(ra2.units[0].seq, 1u);
}

TEST(R2rResume, NewConnectionSupersedesTheOld) {
  LinkPair p;
  p.open();
  p.pump();
  sendMixed(p.a, "a", 1);
  p.open();  // both sides reconnect without a close: the old transport is dropped
  p.pump();
  sendMixed(p.a, "a", 2);
  p.pump();
  EXPECT_EQ(tags(p.rb.units), expected("a", 1, 2));
  EXPECT_EQ(p.a.stats().connections, 2u);
}

TEST(R2rResume, CloseFromInsideACallbackStopsDelivery) {
  struct Closer final : Link::Events {
    Link* link = nullptr;
    int units = 0;
    Status checkPeer(const PeerHello&) override { return Status::ok(); }
    void onEstablished(const PeerHello&) override {}
    void onUnit(Unit&&) override {
      if (++units == 2) link->connectionClosed();
    }
    void onLinkError(const Error&) override { ADD_FAILURE(); }
    void onDead() override {}
  } closer;
  Link link(configFor("a", "b", "ea"), closer);
  closer.link = &link;
  link.connectionOpened(0);
  link.feed(
      rawHeader() + rawHello("eb") + rawStart(0) + rawMessage(1) + rawMessage(2) + rawMessage(3),
      0);
  EXPECT_EQ(closer.units, 2);
  EXPECT_EQ(link.receivedSeq(), 2u);
  EXPECT_EQ(link.state(), LinkState::Disconnected);
  // The next connection continues after unit 2.
  link.connectionOpened(0);
  EXPECT_NE(link.output().find("h='2'"), std::string::npos);
  link.feed(rawHeader() + rawHello("eb", "ea") + rawStart(2) + rawMessage(3), 0);
  EXPECT_EQ(closer.units, 3);
}

}  // namespace
}  // namespace xmesh::r2r::test
