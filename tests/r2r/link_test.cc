// The link protocol between two in-memory Links: handshake, units of every kind both
// ways, acks, back-pressure, heartbeats and dead-peer detection on a fake clock.
#include <gtest/gtest.h>

#include "link_harness.h"

namespace xmesh::r2r::test {
namespace {

TEST(R2rLink, HandshakeEstablishesBothSides) {
  LinkPair p;
  p.open();
  EXPECT_EQ(p.a.state(), LinkState::AwaitingHello);
  p.pump();
  ASSERT_EQ(p.a.state(), LinkState::Established);
  ASSERT_EQ(p.b.state(), LinkState::Established);
  ASSERT_EQ(p.ra.established.size(), 1u);
  ASSERT_EQ(p.rb.established.size(), 1u);
  const PeerHello& seenByA = p.ra.established[0];
  EXPECT_EQ(seenByA.node, "b");
  EXPECT_EQ(seenByA.cluster, "c1");
  EXPECT_EQ(seenByA.version, 1u);
  EXPECT_EQ(seenByA.epoch, "eb");
  EXPECT_FALSE(seenByA.knowsUs);  // first contact
  EXPECT_FALSE(seenByA.peerRestarted);
  EXPECT_EQ(p.ra.checked.size(), 1u);
  EXPECT_TRUE(p.ra.errors.empty());
  EXPECT_TRUE(p.rb.errors.empty());
}

TEST(R2rLink, StanzasFlowBothWaysWithRoutingFields) {
  LinkPair p;
  p.open();
  p.pump();
  ASSERT_EQ(p.a.sendStanza("<message from='alice@d/r' to='bob@d' type='chat' id='m1'><body>hi "
                           "&amp; bye</body></message>"),
            SendResult::Queued);
  ASSERT_EQ(p.b.sendStanza("<iq from='bob@d/x' to='alice@d/r' type='get' id='q1'><ping "
                           "xmlns='urn:xmpp:ping'/></iq>"),
            SendResult::Queued);
  p.pump();
  ASSERT_EQ(p.rb.units.size(), 1u);
  const Unit& m = p.rb.units[0];
  EXPECT_EQ(m.kind, UnitKind::Stanza);
  EXPECT_EQ(m.seq, 1u);
  EXPECT_EQ(m.name(), "message");
  EXPECT_EQ(m.stanza.from, "alice@d/r");
  EXPECT_EQ(m.stanza.to, "bob@d");
  EXPECT_EQ(m.stanza.type, "chat");
  EXPECT_EQ(m.stanza.withFrom(m.stanza.from),
            "<message from='alice@d/r' to='bob@d' type='chat' id='m1'><body>hi &amp; "
            "bye</body></message>");
  ASSERT_EQ(p.ra.units.size(), 1u);
  EXPECT_EQ(p.ra.units[0].name(), "iq");
  EXPECT_EQ(p.ra.units[0].stanza.firstChildNs, "urn:xmpp:ping");
}

TEST(R2rLink, FanoutCarriesOnePresenceForManyRecipients) {
  LinkPair p;
  p.open();
  p.pump();
  const std::vector<std::string> rcpt{"u1@d", "u2@d", "u3@d"};
  ASSERT_EQ(p.a.sendFanout(rcpt,
                           "<presence from='alice@d/r' "
                           "type='away'><show>away</show><status>l&lt;unch</status></presence>"),
            SendResult::Queued);
  p.pump();
  ASSERT_EQ(p.rb.units.size(), 1u);
  const Unit& u = p.rb.units[0];
  EXPECT_EQ(u.kind, UnitKind::Fanout);
  EXPECT_EQ(u.recipients, rcpt);
  EXPECT_EQ(u.stanza.name, "presence");
  EXPECT_EQ(u.stanza.from, "alice@d/r");
  EXPECT_EQ(u.stanza.type, "away");
  EXPECT_EQ(u.stanza.firstChildName, "show");
  EXPECT_EQ(u.stanza.bytes,
            "<presence type='away'><show>away</show><status>l&lt;unch</status></presence>");
  EXPECT_EQ(u.stanza.withFromAndTo(u.stanza.from, "u2@d"),
            "<presence from='alice@d/r' to='u2@d' "
            "type='away'><show>away</show><status>l&lt;unch</status></presence>");
}

TEST(R2rLink, ControlUnitsAreGeneric) {
  LinkPair p;
  p.open();
  p.pump();
  const std::vector<Attr> dir{{"op", "add"}, {"home", "n3"}};
  ASSERT_EQ(p.a.sendControl("dir", dir, "u1 u2 o'brien&co"), SendResult::Queued);
  const std::vector<Attr> serve{{"user", "u1@d"}, {"node", "n3"}, {"state", "active"}};
  ASSERT_EQ(p.a.sendControl("serve", serve), SendResult::Queued);
  const std::vector<Attr> fo{{"node", "n3"}, {"by", "n4"}, {"reason", "peer-down"}};
  ASSERT_EQ(p.a.sendControl("failover", fo, {},
                            "<message from='x@d' to='y@d'><body>kept</body></message>"),
            SendResult::Queued);
  p.pump();
  ASSERT_EQ(p.rb.units.size(), 3u);
  EXPECT_EQ(p.rb.units[0].kind, UnitKind::Control);
  EXPECT_EQ(p.rb.units[0].name(), "dir");
  EXPECT_EQ(p.rb.units[0].attr("op"), "add");
  EXPECT_EQ(p.rb.units[0].attr("home"), "n3");
  EXPECT_EQ(p.rb.units[0].text, "u1 u2 o'brien&co");
  EXPECT_EQ(p.rb.units[1].attrs, serve);
  EXPECT_EQ(p.rb.units[2].name(), "failover");
  EXPECT_EQ(p.rb.units[2].children, "<message from='x@d' to='y@d'><body>kept</body></message>");
  EXPECT_EQ(p.rb.units[2].seq, 3u);
}

TEST(R2rLink, SendRefusesInvalidArguments) {
  LinkPair p;
  const std::vector<Attr> none;
  EXPECT_EQ(p.a.sendControl("hello", none), SendResult::Invalid);  // reserved
  EXPECT_EQ(p.a.sendControl("a", none), SendResult::Invalid);
  EXPECT_EQ(p.a.sendControl("bad name", none), SendResult::Invalid);
  const std::vector<Attr> badAttr{{"xmlns", "evil"}};
  EXPECT_EQ(p.a.sendControl("dir", badAttr), SendResult::Invalid);
  const std::vector<std::string> spaced{"a b@d"};
  EXPECT_EQ(p.a.sendFanout(spaced, "<presence/>"), SendResult::Invalid);
  const std::vector<std::string> empty;
  EXPECT_EQ(p.a.sendFanout(empty, "<presence/>"), SendResult::Invalid);
  EXPECT_EQ(p.a.sendStanza(""), SendResult::Invalid);
  EXPECT_EQ(p.a.sendStanza("<auth/>"),
            SendResult::Invalid);  // not routable: the peer would refuse it
  EXPECT_EQ(p.a.sendStanza("<messages/>"), SendResult::Invalid);
  EXPECT_EQ(p.a.unackedCount(), 0u);
  EXPECT_EQ(p.a.stats().sendsRefused, 9u);
}

TEST(R2rLink, UnitsQueuedWhileDisconnectedAreSentOnEstablish) {
  LinkPair p;
  for (int i = 1; i <= 10; ++i) ASSERT_EQ(p.a.sendStanza(rawMessage(i)), SendResult::Queued);
  EXPECT_TRUE(p.a.output().empty());
  p.open();
  p.pump();
  ASSERT_EQ(p.rb.units.size(), 10u);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(p.rb.units[static_cast<size_t>(i)].stanza.id, std::to_string(i + 1));
  EXPECT_EQ(p.a.stats().unitsResent, 0u);  // never written before: not a resend
}

TEST(R2rLink, AcksFreeTheQueue) {
  LinkConfig ca = configFor("a", "b", "ea");
  LinkConfig cb = configFor("b", "a", "eb");
  cb.ackEvery = 1000;  // only tick acks and requested acks
  LinkPair p(ca, cb);
  p.open();
  p.pump();
  for (int i = 1; i <= 100; ++i) ASSERT_EQ(p.a.sendStanza(rawMessage(i)), SendResult::Queued);
  EXPECT_EQ(p.a.unackedCount(), 100u);
  const size_t bytes = p.a.unackedBytes();
  EXPECT_GT(bytes, 100u * 60);
  p.pump();
  EXPECT_EQ(p.rb.units.size(), 100u);
  EXPECT_EQ(p.a.unackedCount(), 100u);  // b has not acked yet
  p.tick(10);                           // tick ack
  p.pump();
  EXPECT_EQ(p.a.unackedCount(), 0u);
  EXPECT_EQ(p.a.unackedBytes(), 0u);
  EXPECT_EQ(p.a.ackedSeq(), 100u);
  EXPECT_EQ(p.b.receivedSeq(), 100u);
  // An explicit request is answered at once.
  ASSERT_EQ(p.a.sendStanza(rawMessage(101)), SendResult::Queued);
  p.a.requestAck();
  p.pump();
  EXPECT_EQ(p.a.unackedCount(), 0u);
}

TEST(R2rLink, AckEveryBoundsTheQueueUnderSteadyTraffic) {
  LinkPair p;  // ackEvery 32
  p.open();
  p.pump();
  for (int i = 1; i <= 1000; ++i) {
    ASSERT_EQ(p.a.sendStanza(rawMessage(i)), SendResult::Queued);
    p.pump();
    EXPECT_LT(p.a.unackedCount(), 32u);
  }
  EXPECT_EQ(p.rb.units.size(), 1000u);
}

TEST(R2rLink, BackPressureReportsFullThenWritable) {
  LinkConfig ca = configFor("a", "b", "ea");
  ca.maxUnackedBytes = 4096;
  LinkConfig cb = configFor("b", "a", "eb");
  cb.ackEvery = 100000;
  LinkPair p(ca, cb);
  p.open();
  p.pump();
  int queued = 0;
  SendResult r = SendResult::Queued;
  while ((r = p.a.sendStanza(rawMessage(queued + 1))) == SendResult::Queued) ++queued;
  EXPECT_EQ(r, SendResult::Full);
  EXPECT_LE(p.a.unackedBytes(), 4096u);
  EXPECT_GT(queued, 10);
  EXPECT_EQ(p.ra.writable, 0);
  p.pump();  // Full also asked for an ack: the queue drains without a tick
  EXPECT_EQ(p.a.unackedCount(), 0u);
  EXPECT_EQ(p.ra.writable, 1);
  EXPECT_EQ(p.a.sendStanza(rawMessage(queued + 1)), SendResult::Queued);
  p.pump();
  EXPECT_EQ(p.rb.units.size(), static_cast<size_t>(queued + 1));  // the refused one was not counted
}

TEST(R2rLink, OversizedUnitIsInvalid) {
  LinkConfig ca = configFor("a", "b", "ea");
  ca.maxUnitBytes = 100;
  LinkPair p(ca);
  EXPECT_EQ(p.a.sendStanza("<message to='x'><body>" + std::string(200, 'x') + "</body></message>"),
            SendResult::Invalid);
  EXPECT_EQ(p.a.unackedCount(), 0u);
}

TEST(R2rLink, HeartbeatWhenIdle) {
  LinkPair p;
  p.open();
  p.pump();
  p.tick(999);
  EXPECT_TRUE(p.a.output().empty());
  p.tick(1);
  EXPECT_EQ(p.a.output(), "<m:hb/>");
  EXPECT_EQ(p.b.output(), "<m:hb/>");
  p.pump();
  EXPECT_EQ(p.a.stats().heartbeatsSent, 1u);
  EXPECT_EQ(p.a.state(), LinkState::Established);
}

TEST(R2rLink, HeartbeatsKeepAnIdleLinkAlive) {
  LinkPair p;
  p.open();
  p.pump();
  for (int i = 0; i < 100; ++i) {
    p.tick(250);
    p.pump();
  }
  EXPECT_EQ(p.ra.dead, 0);
  EXPECT_EQ(p.a.state(), LinkState::Established);
  EXPECT_GE(p.a.stats().heartbeatsSent, 20u);
}

TEST(R2rLink, SilentPeerIsDeclaredDead) {
  LinkPair p;
  p.open();
  p.pump();
  p.tick(1000);  // heartbeats written, but "the network" drops them
  p.a.output().clear();
  p.b.output().clear();
  p.tick(1999);
  EXPECT_EQ(p.ra.dead, 0);
  p.tick(1);  // 3000 ms since the last byte arrived
  EXPECT_EQ(p.ra.dead, 1);
  EXPECT_EQ(p.a.state(), LinkState::Failed);
  EXPECT_EQ(p.a.stats().deaths, 1u);
  p.tick(5000);
  EXPECT_EQ(p.ra.dead, 1);  // reported once
}

// A process that was stopped (SIGSTOP) reads, on waking, what waited in the socket
// before its tick runs: past the dead bound those units are not delivered (the peer has
// declared us dead and may have routed them elsewhere); the link dies as the tick would
// have made it, and the next connection brings what is still meant for us.
TEST(R2rLink, BytesReadAfterTheDeadBoundAreNotDelivered) {
  LinkPair p;
  p.open();
  p.pump();
  ASSERT_EQ(p.b.sendStanza(rawMessage(1)), SendResult::Queued);
  std::string late = std::move(p.b.output());
  p.now += 3000;  // a stopped process: no tick ran
  p.a.feed(late, p.now);
  EXPECT_EQ(p.ra.dead, 1);
  EXPECT_TRUE(p.ra.units.empty());
  EXPECT_EQ(p.a.state(), LinkState::Failed);
  // Resumption on a new connection: the unit arrives once.
  p.close();
  p.open();
  p.pump();
  ASSERT_EQ(p.ra.units.size(), 1u);
  EXPECT_EQ(p.ra.units[0].seq, 1u);
}

TEST(R2rLink, PeerThatNeverSaysHelloIsDeclaredDead) {
  LinkConfig ca = configFor("a", "b", "ea");
  ca.deadAfterMs = 500;
  LinkPair p(ca);
  p.a.connectionOpened(p.now);
  p.tick(499);
  EXPECT_EQ(p.ra.dead, 0);
  p.tick(1);
  EXPECT_EQ(p.ra.dead, 1);
}

TEST(R2rLink, SendFromInsideOnUnitIsWrittenInOrder) {
  struct Echo final : Link::Events {
    Link* link = nullptr;
    int got = 0;
    Status checkPeer(const PeerHello&) override { return Status::ok(); }
    void onEstablished(const PeerHello&) override {}
    void onUnit(Unit&& u) override {
      ++got;
      (void)link->sendStanza(u.stanza.withFrom("echo@d"));
    }
    void onLinkError(const Error&) override { ADD_FAILURE(); }
    void onDead() override {}
  } echo;
  Recorder ra;
  Link a(configFor("a", "b", "ea"), ra);
  Link b(configFor("b", "a", "eb"), echo);
  echo.link = &b;
  a.connectionOpened(0);
  b.connectionOpened(0);
  for (int i = 1; i <= 5; ++i) ASSERT_EQ(a.sendStanza(rawMessage(i)), SendResult::Queued);
  for (int i = 0; i < 10; ++i) {
    std::string ab, ba;
    ab.swap(a.output());
    ba.swap(b.output());
    b.feed(ab, 0);
    a.feed(ba, 0);
  }
  ASSERT_EQ(ra.units.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(ra.units[i].stanza.from, "echo@d");
    EXPECT_EQ(ra.units[i].stanza.id, std::to_string(i + 1));
  }
}

}  // namespace
}  // namespace xmesh::r2r::test
