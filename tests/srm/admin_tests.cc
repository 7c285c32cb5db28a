// Manual failover, fallback and recover (xmeshctl), their refusals, the completion
// inputs, and the 1-node group.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/srm/flows.h"

namespace xmesh::srm::testing {
namespace {

using S = State;
using R = Reason;

TEST(SrmAdmin, FailoverRefusedWhenThePeerCannotTakeOver) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.service(kNode2, Service::C2s, false);
  p.run(100);
  Status st = p.failover(kNode1);
  EXPECT_EQ(st.error().reason, "peer-unavailable");
  p.service(kNode2, Service::C2s, true);
  p.cutBoth();
  p.setWitnessDelay(1'000'000);
  p.run(500);  // the peer's heartbeats are older than the timeout
  st = p.failover(kNode1);
  EXPECT_EQ(st.error().reason, "peer-unavailable");
  EXPECT_TRUE(p.is(kNode1, S::Normal, R::Normal));
}

TEST(SrmAdmin, FailoverRefusedOutsideNormal) {
  Pair p;
  ASSERT_TRUE(manualFailover(p));
  EXPECT_EQ(p.failover(kNode1).error().reason, "bad-state");
  EXPECT_EQ(p.failover(kNode2).error().reason, "bad-state");
}

TEST(SrmAdmin, FallbackRefusedWhileServicesAreDown) {
  Pair p;
  ASSERT_TRUE(serviceFailover(p));
  EXPECT_EQ(p.fallback(kNode1).error().reason, "critical-services-down");
  EXPECT_EQ(p.fallback(kNode2).error().reason, "critical-services-down");
}

TEST(SrmAdmin, FallbackRefusedWhenNothingIsFailedOver) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  EXPECT_EQ(p.fallback(kNode1).error().reason, "bad-state");
}

TEST(SrmAdmin, FallbackRequestedOnTheBackupNode) {
  Pair p;
  ASSERT_TRUE(manualFailover(p));
  p.holdMoves(kNode1, true);
  Status fb = p.fallback(kNode2);
  ASSERT_TRUE(fb.isOk()) << fb.error().reason << ": " << fb.error().detail << "\n" << p.describe();
  ASSERT_TRUE(both(p, S::TakingBack, S::FallingBack));
  EXPECT_TRUE(p.is(kNode1, S::TakingBack, R::OnAdminRequest));
  EXPECT_TRUE(p.is(kNode2, S::FallingBack, R::OnAdminRequest));
  p.holdMoves(kNode1, false);
  EXPECT_TRUE(settledNormal(p));
  EXPECT_EQ(p.sim(kNode1).persisted, Role::Home);
  EXPECT_EQ(p.sim(kNode2).persisted, Role::Home);
}

// The users are released by the old server before the new one starts: node 1's
// StopServingMyUsers precedes node 2's StartServingPeerUsers in the heartbeat that tells.
TEST(SrmAdmin, ManualFailoverReleasesBeforeTheHeartbeatThatAnnouncesIt) {
  Srm srm(testOptions());
  srm.start(0, 1);
  Heartbeat peer;
  peer.incarnation = 7;
  peer.seq = 1;
  peer.state = S::Normal;
  peer.reason = R::Normal;
  peer.servesOwnUsers = true;
  srm.onWitness(0, {true, true});
  srm.onPeerHeartbeat(0, peer);
  ASSERT_EQ(srm.state(), S::Normal);
  (void)srm.takeActions();
  ASSERT_TRUE(srm.requestFailover(10).isOk());
  const auto actions = srm.takeActions();
  ASSERT_FALSE(actions.empty());
  EXPECT_EQ(actions.back(), Action::SendHeartbeat);
  EXPECT_NE(std::find(actions.begin(), actions.end(), Action::StopServingMyUsers), actions.end());
  EXPECT_FALSE(srm.makeHeartbeat(10).servesOwnUsers);
}

TEST(SrmAdmin, RecoverRefusedWhenNothingFailed) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  EXPECT_EQ(p.recover(kNode1).error().reason, "bad-state");
}

TEST(SrmAdmin, RecoverAfterFailedTakeoverRestoresNormal) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.failMoves(kNode2, true);
  ASSERT_TRUE(p.failover(kNode1).isOk());
  ASSERT_TRUE(both(p, S::RunningInFailedMode, S::RunningInFailedMode));
  p.failMoves(kNode2, false);
  ASSERT_TRUE(p.recover(kNode2).isOk());
  EXPECT_TRUE(settledNormal(p));
}

TEST(SrmAdmin, RecoverAfterUnknownFailureRestoresNormal) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.failMoves(kNode2, true);
  ASSERT_TRUE(p.failover(kNode1).isOk());
  ASSERT_TRUE(both(p, S::RunningInFailedMode, S::RunningInFailedMode));
  p.failMoves(kNode2, false);
  p.restart(kNode1);
  ASSERT_TRUE(p.runUntil([&] { return p.srm(kNode2).reason() == R::Unknown; }, 1'000));
  ASSERT_TRUE(p.runUntil([&] { return p.srm(kNode1).reason() == R::Unknown; }, 1'000));
  ASSERT_TRUE(p.recover(kNode1).isOk());
  EXPECT_TRUE(settledNormal(p));
}

TEST(SrmAdmin, RecoverAfterBackupServiceFailureRestoresNormal) {
  Pair p;
  ASSERT_TRUE(manualFailover(p));
  p.service(kNode2, Service::C2s, false);
  ASSERT_TRUE(both(p, S::RunningInFailedMode, S::RunningInFailedMode));
  p.service(kNode2, Service::C2s, true);
  ASSERT_TRUE(p.recover(kNode1).isOk());
  EXPECT_TRUE(settledNormal(p));
}

TEST(SrmAdmin, CompletionsRefusedOutOfPlace) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  EXPECT_EQ(p.srm(kNode1).takeoverComplete(p.now()).error().reason, "bad-state");
  EXPECT_EQ(p.srm(kNode1).takebackComplete(p.now()).error().reason, "bad-state");
  ASSERT_TRUE(manualFailover(p));
  p.holdMoves(kNode1, true);
  p.cutLink(kNode2);  // node 2 never hears the fallback request: nothing is released
  ASSERT_TRUE(p.fallback(kNode1).isOk());
  p.step();
  EXPECT_EQ(p.srm(kNode1).takebackComplete(p.now()).error().reason, "bad-state");
}

TEST(SrmAdmin, SingleNodeGroupIsAlwaysNormal) {
  Options o = testOptions();
  o.ha = false;
  Srm srm(o);
  srm.start(0, 1);
  EXPECT_EQ(srm.state(), S::Normal);
  EXPECT_EQ(srm.reason(), R::Normal);
  EXPECT_EQ(srm.serving(0), (Serving{true, false}));
  const auto actions = srm.takeActions();
  EXPECT_EQ(std::count(actions.begin(), actions.end(), Action::SendHeartbeat), 0);
  EXPECT_EQ(std::count(actions.begin(), actions.end(), Action::StartServingMyUsers), 1);
  srm.onCriticalService(10, Service::Store, false);
  srm.onTick(100'000);
  EXPECT_EQ(srm.state(), S::Normal);
  EXPECT_EQ(srm.serving(100'000), (Serving{true, false}));  // no lease without a peer
  Heartbeat hb;
  hb.incarnation = 1;
  hb.seq = 1;
  hb.state = S::FailingOver;
  srm.onPeerHeartbeat(100'001, hb);
  EXPECT_EQ(srm.state(), S::Normal);
  EXPECT_EQ(srm.requestFailover(100'002).error().reason, "no-peer");
  EXPECT_EQ(srm.requestFallback(100'002).error().reason, "no-peer");
  EXPECT_EQ(srm.requestRecover(100'002).error().reason, "no-peer");
  EXPECT_EQ(srm.report(100'002).peerState, S::Unknown);
}

TEST(SrmAdmin, CommandsBeforeStartAreRefused) {
  Srm srm(testOptions());
  EXPECT_EQ(srm.state(), S::Unknown);
  EXPECT_EQ(srm.requestFailover(0).error().reason, "not-started");
  EXPECT_EQ(srm.serving(0), (Serving{false, false}));
}

}  // namespace
}  // namespace xmesh::srm::testing
