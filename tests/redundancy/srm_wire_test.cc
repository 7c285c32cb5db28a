#include "router/srm_wire.h"

#include <gtest/gtest.h>

namespace xmesh::router {
namespace {

srm::Heartbeat sample() {
  srm::Heartbeat hb;
  hb.incarnation = 1796406064145;
  hb.seq = 42;
  hb.sentMs = 123456789;
  hb.echoIncarnation = 1796406064194;
  hb.echoMs = 123456700;
  hb.wantsReply = true;
  hb.state = srm::State::RunningInBackupMode;
  hb.reason = srm::Reason::PeerDown;
  hb.role = srm::Role::Backup;
  hb.criticalServicesOk = false;
  hb.servesOwnUsers = true;
  hb.servesPeerUsers = true;
  hb.ownClaimEpoch = 3;
  hb.peerClaimEpoch = 7;
  hb.epoch = 7;
  hb.recoverSeq = 2;
  hb.recoverAck = 1;
  hb.goingDown = false;
  return hb;
}

void expectSame(const srm::Heartbeat& a, const srm::Heartbeat& b) {
  EXPECT_EQ(a.incarnation, b.incarnation);
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.sentMs, b.sentMs);
  EXPECT_EQ(a.echoIncarnation, b.echoIncarnation);
  EXPECT_EQ(a.echoMs, b.echoMs);
  EXPECT_EQ(a.wantsReply, b.wantsReply);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.role, b.role);
  EXPECT_EQ(a.criticalServicesOk, b.criticalServicesOk);
  EXPECT_EQ(a.servesOwnUsers, b.servesOwnUsers);
  EXPECT_EQ(a.servesPeerUsers, b.servesPeerUsers);
  EXPECT_EQ(a.ownClaimEpoch, b.ownClaimEpoch);
  EXPECT_EQ(a.peerClaimEpoch, b.peerClaimEpoch);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.recoverSeq, b.recoverSeq);
  EXPECT_EQ(a.recoverAck, b.recoverAck);
  EXPECT_EQ(a.goingDown, b.goingDown);
}

TEST(SrmWire, HeartbeatRoundTripsEveryField) {
  srm::Heartbeat hb = sample();
  auto back = decodeHeartbeat(encodeHeartbeat(hb));
  ASSERT_TRUE(back.isOk()) << back.error().detail;
  expectSame(hb, back.value());
  hb.goingDown = true;
  hb.wantsReply = false;
  hb.state = srm::State::Unknown;
  hb.reason = srm::Reason::None;
  back = decodeHeartbeat(encodeHeartbeat(hb));
  ASSERT_TRUE(back.isOk());
  expectSame(hb, back.value());
}

TEST(SrmWire, EveryStateReasonAndRoleSurvives) {
  srm::Heartbeat hb = sample();
  for (int s = 0; s < static_cast<int>(srm::State::kCount); ++s) {
    hb.state = static_cast<srm::State>(s);
    hb.reason = static_cast<srm::Reason>(s % static_cast<int>(srm::Reason::kCount));
    hb.role = static_cast<srm::Role>(s % static_cast<int>(srm::Role::kCount));
    auto back = decodeHeartbeat(encodeHeartbeat(hb));
    ASSERT_TRUE(back.isOk()) << s;
    EXPECT_EQ(back->state, hb.state);
    EXPECT_EQ(back->reason, hb.reason);
    EXPECT_EQ(back->role, hb.role);
  }
}

TEST(SrmWire, MalformedHeartbeatsNameTheirBadFields) {
  r2r::Attrs attrs = encodeHeartbeat(sample());
  for (auto& [k, v] : attrs) {
    if (k == "seq") v = "12x";
    if (k == "state") v = "dancing";
    if (k == "down") v = "yes";
  }
  auto r = decodeHeartbeat(attrs);
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.error().reason, "bad-heartbeat");
  EXPECT_NE(r.error().detail.find("seq"), std::string::npos);
  EXPECT_NE(r.error().detail.find("state"), std::string::npos);
  EXPECT_NE(r.error().detail.find("down"), std::string::npos);
  EXPECT_FALSE(decodeHeartbeat({}).isOk());
  r2r::Attrs negative = encodeHeartbeat(sample());
  for (auto& [k, v] : negative)
    if (k == "inc") v = "-1";
  EXPECT_FALSE(decodeHeartbeat(negative).isOk());
}

TEST(SrmWire, ClaimRoundTripsAndNeedsHomeAndBy) {
  ServingClaim c{"n11", "n12", true, 9, "running-in-backup-mode", "peer-down"};
  auto back = decodeClaim(encodeClaim(c));
  ASSERT_TRUE(back.isOk());
  EXPECT_EQ(back->home, "n11");
  EXPECT_EQ(back->by, "n12");
  EXPECT_TRUE(back->serving);
  EXPECT_EQ(back->epoch, 9u);
  EXPECT_EQ(back->state, "running-in-backup-mode");
  EXPECT_EQ(back->reason, "peer-down");
  auto noHome = decodeClaim({{"by", "n12"}, {"serving", "1"}, {"epoch", "1"}});
  ASSERT_FALSE(noHome.isOk());
  EXPECT_EQ(noHome.error().reason, "bad-failover");
  EXPECT_FALSE(decodeClaim({{"home", "n11"}, {"by", "n12"}, {"serving", "maybe"}, {"epoch", "1"}}).isOk());
}

}  // namespace
}  // namespace xmesh::router
