// Every SRM timer fires when it should and not before: heartbeat timeout, initialization
// heartbeat timeout, critical service delay, automatic fallback delay, transition
// timeout; and nextTickMs() is enough to drive them.
#include <gtest/gtest.h>

#include "tests/srm/flows.h"

namespace xmesh::srm::testing {
namespace {

using S = State;
using R = Reason;

constexpr int64_t kTimeout = 400;
constexpr int64_t kInitTimeout = 800;
constexpr int64_t kServiceDelay = 300;
constexpr int64_t kFallbackDelay = 1'000;
constexpr int64_t kTransition = 500;

// Runs until node i leaves state `from`; returns the time it did.
int64_t leaves(Pair& p, int i, S from, int64_t maxMs) {
  EXPECT_TRUE(p.runUntil([&] { return p.srm(i).state() != from; }, maxMs)) << p.describe();
  return p.now();
}

// The witness declares the dead node gone at once, so only the SRM's own timer gates.
TEST(SrmTimeouts, HeartbeatTimeoutTakesOverOnlyAfterTheTimeout) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.setWitnessDelay(0);
  p.crash(kNode1);
  const int64_t at = leaves(p, kNode2, S::Normal, 1'000);
  const int64_t lastHeard = p.sim(kNode2).lastHeard;  // incl. one in flight at the crash
  EXPECT_GE(at - lastHeard, kTimeout);
  EXPECT_LE(at - lastHeard, kTimeout + kStepMs);
  EXPECT_TRUE(p.is(kNode2, S::TakingOver, R::PeerDown));
}

TEST(SrmTimeouts, SilenceWithoutWitnessVerdictNeverTakesOver) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.setWitnessDelay(1'000'000);  // the witness still hears node 1 (heartbeat link cut)
  p.cutBoth();
  p.run(3'000);
  EXPECT_TRUE(p.is(kNode2, S::Normal, R::Normal));
  EXPECT_FALSE(p.everWas(kNode2, S::TakingOver));
}

TEST(SrmTimeouts, InitializationTimeoutTakesOverOnlyAfterIt) {
  Pair p(testOptions(), false);
  const int64_t started = p.now();
  p.boot(kNode2);
  const int64_t at = leaves(p, kNode2, S::Initializing, 2'000);
  EXPECT_GE(at - started, kInitTimeout);
  EXPECT_LE(at - started, kInitTimeout + kStepMs);
  EXPECT_TRUE(p.is(kNode2, S::TakingOver, R::PeerDownDuringInitialization));
  EXPECT_EQ(p.serving(kNode2), (Serving{true, true}));
}

TEST(SrmTimeouts, InitializingNodeServesNobodyUntilSettled) {
  Pair p(testOptions(), false);
  p.boot(kNode2);
  p.run(kInitTimeout - 2 * kStepMs);
  EXPECT_TRUE(p.is(kNode2, S::Initializing, R::Initialization));
  EXPECT_EQ(p.serving(kNode2), (Serving{false, false}));
}

TEST(SrmTimeouts, CriticalServiceDelayFailsOverOnlyAfterIt) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  const int64_t down = p.now();
  p.service(kNode1, Service::C2s, false);
  const int64_t at = leaves(p, kNode1, S::Normal, 1'000);
  EXPECT_GE(at - down, kServiceDelay);
  EXPECT_LE(at - down, kServiceDelay + kStepMs);
  EXPECT_TRUE(p.is(kNode1, S::FailingOver, R::CriticalServiceDown));
}

TEST(SrmTimeouts, ServiceBackWithinTheDelayChangesNothing) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.service(kNode1, Service::Store, false);
  p.run(kServiceDelay - 5 * kStepMs);
  p.service(kNode1, Service::Store, true);
  p.run(2'000);
  EXPECT_TRUE(p.is(kNode1, S::Normal, R::Normal));
  EXPECT_FALSE(p.everWas(kNode1, S::FailingOver));
}

TEST(SrmTimeouts, AutomaticFallbackAfterItsDelay) {
  Options o = testOptions();
  o.params.automaticFallback = true;
  Pair p(o);
  ASSERT_TRUE(serviceFailover(p));
  const int64_t healthy = p.now();
  p.service(kNode1, Service::C2s, true);
  ASSERT_TRUE(p.is(kNode1, S::FailedOver, R::CriticalServiceDown));
  const int64_t at = leaves(p, kNode1, S::FailedOver, 3'000);
  EXPECT_GE(at - healthy, kFallbackDelay);
  EXPECT_LE(at - healthy, kFallbackDelay + kStepMs);
  EXPECT_TRUE(p.is(kNode1, S::TakingBack, R::AutomaticFallback));
  EXPECT_TRUE(settledNormal(p));
}

TEST(SrmTimeouts, NoAutomaticFallbackWhenDisabled) {
  Pair p;
  ASSERT_TRUE(healthyFailedOver(p));
  p.run(5 * kFallbackDelay);
  EXPECT_TRUE(p.is(kNode1, S::FailedOver, R::CriticalServiceDown));
  EXPECT_TRUE(p.is(kNode2, S::RunningInBackupMode, R::CriticalServiceDown));
}

TEST(SrmTimeouts, NoAutomaticFallbackFromIdle) {
  Options o = testOptions();
  o.params.automaticFallback = true;
  Pair p(o);
  ASSERT_TRUE(manualFailover(p));
  p.run(5 * kFallbackDelay);
  EXPECT_TRUE(p.is(kNode1, S::Idle, R::OnAdminRequest));
}

TEST(SrmTimeouts, AutomaticFallbackWaitsWhileServicesAreDown) {
  Options o = testOptions();
  o.params.automaticFallback = true;
  Pair p(o);
  ASSERT_TRUE(serviceFailover(p));
  p.run(3 * kFallbackDelay);
  EXPECT_TRUE(p.is(kNode1, S::FailedOverCriticalServicesNotRunning, R::CriticalServiceDown));
}

// The taker's move never completes: the failing-over node times out first (its
// transition began earlier) and the taker follows.
TEST(SrmTimeouts, TakeoverThatNeverCompletesFailsBothAfterTransitionTimeout) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.holdMoves(kNode2, true);
  const int64_t began = p.now();
  ASSERT_TRUE(p.failover(kNode1).isOk());
  const int64_t at = leaves(p, kNode1, S::FailingOver, 2'000);
  EXPECT_GE(at - began, kTransition);
  EXPECT_LE(at - began, kTransition + kStepMs);
  ASSERT_TRUE(both(p, S::RunningInFailedMode, S::RunningInFailedMode));
  EXPECT_TRUE(p.is(kNode1, S::RunningInFailedMode, R::TakeOverUsersFailed));
  EXPECT_TRUE(p.is(kNode2, S::RunningInFailedMode, R::TakeOverUsersFailed));
}

TEST(SrmTimeouts, TakebackThatNeverCompletesFailsBothAfterTransitionTimeout) {
  Pair p;
  ASSERT_TRUE(manualFailover(p));
  p.holdMoves(kNode1, true);
  const int64_t began = p.now();
  ASSERT_TRUE(p.fallback(kNode1).isOk());
  const int64_t at = leaves(p, kNode1, S::TakingBack, 2'000);
  EXPECT_GE(at - began, kTransition);
  ASSERT_TRUE(both(p, S::RunningInFailedMode, S::RunningInFailedMode));
  EXPECT_TRUE(p.is(kNode1, S::RunningInFailedMode, R::TakeBackUsersFailed));
  EXPECT_TRUE(p.is(kNode2, S::RunningInFailedMode, R::TakeBackUsersFailed));
}

// A node driven only at nextTickMs() (as the wiring's single timer would) still meets the
// initialization deadline exactly, and between ticks nothing is due.
TEST(SrmTimeouts, NextTickMsIsEnoughToDriveTheTimers) {
  Srm srm(testOptions());
  int64_t now = 5'000;
  const int64_t started = now;
  srm.start(now, 1);
  srm.onWitness(now, {true, false});
  (void)srm.takeActions();
  int ticks = 0;
  while (srm.state() == S::Initializing && ticks < 100) {
    const int64_t next = srm.nextTickMs();
    ASSERT_GT(next, now);
    ASSERT_LE(next - now, 100);  // at least every heartbeat interval
    now = next;
    srm.onWitness(now, {true, false});
    srm.onTick(now);
    for (Action a : srm.takeActions()) {
      if (a == Action::SendHeartbeat) (void)srm.makeHeartbeat(now);
    }
    ++ticks;
  }
  EXPECT_EQ(now - started, kInitTimeout);
  EXPECT_EQ(srm.state(), S::TakingOver);
}

}  // namespace
}  // namespace xmesh::srm::testing
