// Split brain: heartbeat link cuts (both ways, one way, with and without the witness),
// an isolated node, SIGSTOP/SIGCONT of either node, and the epoch backstop. The harness
// asserts after every step that no user set is served by both nodes.
#include <gtest/gtest.h>

#include "tests/srm/flows.h"

namespace xmesh::srm::testing {
namespace {

using S = State;
using R = Reason;

constexpr int64_t kFence = 300;    // heartbeatTimeout - heartbeatInterval
constexpr int64_t kTimeout = 400;

// The heartbeat link is cut but the witness hears both: each keeps its own users and
// nobody takes over, for as long as the cut lasts.
TEST(SrmSplitBrain, LinkCutBothWaysWithWitnessKeepsBothServing) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.cutBoth();
  p.run(5'000);
  EXPECT_TRUE(p.is(kNode1, S::Normal, R::Normal));
  EXPECT_TRUE(p.is(kNode2, S::Normal, R::Normal));
  EXPECT_EQ(p.serving(kNode1), (Serving{true, false}));
  EXPECT_EQ(p.serving(kNode2), (Serving{true, false}));
  p.healBoth();
  p.run(500);
  EXPECT_TRUE(p.is(kNode1, S::Normal, R::Normal));
  EXPECT_TRUE(p.is(kNode2, S::Normal, R::Normal));
}

// No witness at all: neither side can tell whether the other is dead or it is itself
// cut off, so both stop serving within the fence time and nobody takes over; when the
// link is back both resume.
TEST(SrmSplitBrain, LinkCutBothWaysWithoutWitnessFencesBothThenHeals) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.disableWitness();
  p.cutBoth();
  const int64_t cut = p.now();
  ASSERT_TRUE(p.runUntil([&] {
    return p.srm(kNode1).state() == S::RunningInFailedMode &&
           p.srm(kNode2).state() == S::RunningInFailedMode;
  }, 1'000));
  EXPECT_LE(p.now() - cut, kFence + kStepMs);
  EXPECT_TRUE(p.is(kNode1, S::RunningInFailedMode, R::PeerDown));
  EXPECT_TRUE(p.is(kNode2, S::RunningInFailedMode, R::PeerDown));
  p.run(3'000);
  EXPECT_EQ(p.serving(kNode1), (Serving{false, false}));
  EXPECT_EQ(p.serving(kNode2), (Serving{false, false}));
  EXPECT_FALSE(p.everWas(kNode1, S::TakingOver));
  EXPECT_FALSE(p.everWas(kNode2, S::TakingOver));
  p.healBoth();
  EXPECT_TRUE(settledNormal(p));
}

// One direction lost, no witness: node 1 still hears node 2, but node 2's heartbeats no
// longer echo anything recent of node 1, so node 1's lease runs out as well: a one-way
// link cannot leave node 1 serving while node 2 believes it gone.
TEST(SrmSplitBrain, LinkCutOneWayWithoutWitnessFencesBoth) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.disableWitness();
  p.cutLink(kNode1);
  ASSERT_TRUE(both(p, S::RunningInFailedMode, S::RunningInFailedMode, 1'000));
  p.run(2'000);
  EXPECT_FALSE(p.everWas(kNode2, S::TakingOver));
  p.healLink(kNode1);
  EXPECT_TRUE(settledNormal(p));
}

// Node 1 loses its peer and the witness; node 2 keeps the witness, which reports node 1
// gone. Node 1 stops serving before node 2 takes over; after the cut node 1 finds its
// users on node 2 and is Failed Over.
TEST(SrmSplitBrain, IsolatedNodeStopsBeforeItsPeerTakesOver) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.cutBoth();
  p.setWitnessLink(kNode1, false);
  int64_t fencedAt = kNever, takenAt = kNever;
  ASSERT_TRUE(p.runUntil([&] {
    if (fencedAt == kNever && !p.serving(kNode1).myUsers) fencedAt = p.now();
    if (takenAt == kNever && p.serving(kNode2).peerUsers) takenAt = p.now();
    return p.srm(kNode2).state() == S::RunningInBackupMode;
  }, 2'000));
  ASSERT_NE(fencedAt, kNever);
  ASSERT_NE(takenAt, kNever);
  EXPECT_LT(fencedAt, takenAt);
  EXPECT_TRUE(p.is(kNode1, S::RunningInFailedMode, R::PeerDown));
  EXPECT_TRUE(p.srm(kNode1).report(p.now()).isolated);
  p.healBoth();
  p.setWitnessLink(kNode1, true);
  ASSERT_TRUE(both(p, S::FailedOver, S::RunningInBackupMode));
  EXPECT_TRUE(p.is(kNode1, S::FailedOver, R::PeerDown));
}

// The same isolation, but the peer link's TCP connection survives the cut: the
// heartbeats sent meanwhile (the peer still Normal, then taking over) arrive late, in
// order, when the path comes back. Found by the multi-host test: the isolated node healed
// on the stale "Normal" ones and took its users back, automatic fallback being off.
TEST(SrmSplitBrain, StaleHeartbeatsHeldByTheLinkDoNotHealAnIsolatedNode) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.stallBoth();
  p.setWitnessLink(kNode1, false);
  ASSERT_TRUE(p.runUntil([&] { return p.srm(kNode2).state() == S::RunningInBackupMode; }, 2'000));
  EXPECT_TRUE(p.is(kNode1, S::RunningInFailedMode, R::PeerDown));
  p.setWitnessLink(kNode1, true);
  p.run(50);  // the witness answers first: node 1's lease is valid before it hears anything
  p.releaseBoth();
  ASSERT_TRUE(both(p, S::FailedOver, S::RunningInBackupMode)) << p.describe();
  EXPECT_FALSE(p.everWas(kNode1, S::Normal) && p.srm(kNode1).state() != S::FailedOver);
}

// SIGSTOP shorter than the fence time: nothing happens.
TEST(SrmSplitBrain, ShortStopChangesNothing) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.run(55);  // just after a heartbeat exchange
  p.freeze(kNode1);
  p.run(kFence / 2);
  p.thaw(kNode1);
  EXPECT_TRUE(p.serving(kNode1).myUsers);
  p.run(1'000);
  EXPECT_FALSE(p.everWas(kNode1, S::RunningInFailedMode));
  EXPECT_TRUE(p.is(kNode1, S::Normal, R::Normal));
  EXPECT_TRUE(p.is(kNode2, S::Normal, R::Normal));
}

// SIGSTOP past the fence but shorter than the witness' verdict: node 1 wakes without a
// lease and serves nothing on its stale state; node 2 never took over, so node 1 resumes.
TEST(SrmSplitBrain, StopPastTheFenceWakesFencedThenResumes) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.freeze(kNode1);
  p.run(kTimeout - 2 * kStepMs);
  p.thaw(kNode1);
  EXPECT_FALSE(p.serving(kNode1).myUsers);  // before it processed anything
  ASSERT_TRUE(settledNormal(p));
  EXPECT_FALSE(p.everWas(kNode2, S::TakingOver));
}

// SIGSTOP longer than the timeout: node 2 takes node 1's users over. When node 1 wakes
// it serves nothing, not even before its first event, learns from node 2's heartbeat
// that it was failed over, and never serves its users again until the fallback.
TEST(SrmSplitBrain, StoppedNodeWakesToFindItselfFailedOver) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.freeze(kNode1);
  ASSERT_TRUE(p.runUntil([&] { return p.srm(kNode2).state() == S::RunningInBackupMode; },
                         2'000));
  EXPECT_TRUE(p.is(kNode2, S::RunningInBackupMode, R::PeerDown));
  p.run(500);
  p.thaw(kNode1);
  EXPECT_EQ(p.serving(kNode1), (Serving{false, false}));
  ASSERT_TRUE(p.runUntil([&] {
    EXPECT_FALSE(p.serving(kNode1).myUsers) << p.describe();
    return p.srm(kNode1).state() == S::FailedOver;
  }, 1'000));
  EXPECT_TRUE(p.is(kNode1, S::FailedOver, R::PeerDown));
  ASSERT_TRUE(p.fallback(kNode1).isOk());
  EXPECT_TRUE(settledNormal(p));
}

// The backup, serving everyone, is stopped: the healthy failed-over node takes everyone
// (its own users and the backup's); the woken backup serves nobody and is Failed Over.
TEST(SrmSplitBrain, StoppedBackupWakesToFindEveryoneTaken) {
  Pair p;
  ASSERT_TRUE(healthyFailedOver(p));
  p.freeze(kNode2);
  ASSERT_TRUE(p.runUntil([&] { return p.srm(kNode1).state() == S::RunningInBackupMode; },
                         2'000));
  EXPECT_TRUE(p.is(kNode1, S::RunningInBackupMode, R::PeerDown));
  EXPECT_EQ(p.serving(kNode1), (Serving{true, true}));
  p.thaw(kNode2);
  EXPECT_EQ(p.serving(kNode2), (Serving{false, false}));
  ASSERT_TRUE(p.runUntil([&] {
    EXPECT_EQ(p.serving(kNode2), (Serving{false, false})) << p.describe();
    return p.srm(kNode2).state() == S::FailedOver;
  }, 1'000));
  EXPECT_TRUE(p.is(kNode2, S::FailedOver, R::PeerDown));
}

// Both frozen in turn, overlapping: still never both.
TEST(SrmSplitBrain, AlternatingStopsNeverServeTwice) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  for (int round = 0; round < 5; ++round) {
    p.freeze(round % 2);
    p.run(450 + 37 * round);
    p.freeze(1 - round % 2);
    p.run(120);
    p.thaw(round % 2);
    p.run(200);
    p.thaw(1 - round % 2);
    p.run(600);
  }
  EXPECT_GT(p.checks(), 500u);
}

// A crafted peer claim on my users, newer than mine, makes me yield (backstop, rule 5);
// an older one does not.
TEST(SrmSplitBrain, BackstopOlderClaimYields) {
  Srm srm(testOptions());
  srm.start(0, 1);
  srm.onWitness(0, {true, true});
  Heartbeat peer;
  peer.incarnation = 9;
  peer.seq = 1;
  peer.state = S::Normal;
  peer.servesOwnUsers = true;
  peer.ownClaimEpoch = 1;
  peer.epoch = 1;
  srm.onPeerHeartbeat(0, peer);
  ASSERT_EQ(srm.state(), S::Normal);
  const uint64_t mine = srm.makeHeartbeat(0).ownClaimEpoch;
  ASSERT_GT(mine, 1u);

  peer.seq = 2;
  peer.state = S::RunningInBackupMode;
  peer.servesPeerUsers = true;
  peer.peerClaimEpoch = mine;  // same epoch: the home keeps its users
  srm.onPeerHeartbeat(10, peer);
  EXPECT_TRUE(srm.serving(10).myUsers);

  peer.seq = 3;
  peer.peerClaimEpoch = mine + 1;  // newer: I yield
  peer.epoch = mine + 1;
  srm.onPeerHeartbeat(20, peer);
  EXPECT_FALSE(srm.serving(20).myUsers);
  EXPECT_EQ(srm.state(), S::FailedOver);
  EXPECT_EQ(srm.reason(), R::PeerDown);
}

TEST(SrmSplitBrain, StaleAndDuplicateHeartbeatsAreIgnored) {
  Srm srm(testOptions());
  srm.start(0, 1);
  srm.onWitness(0, {true, true});
  Heartbeat hb;
  hb.incarnation = 5;
  hb.seq = 3;
  hb.state = S::Normal;
  hb.servesOwnUsers = true;
  srm.onPeerHeartbeat(0, hb);
  ASSERT_EQ(srm.state(), S::Normal);
  Heartbeat old = hb;
  old.seq = 2;
  old.state = S::FailingOver;
  old.servesOwnUsers = false;
  srm.onPeerHeartbeat(10, old);
  EXPECT_EQ(srm.state(), S::Normal);
  old.incarnation = 4;
  old.seq = 99;
  srm.onPeerHeartbeat(20, old);
  EXPECT_EQ(srm.state(), S::Normal);
  srm.onPeerHeartbeat(30, hb);  // duplicate
  EXPECT_EQ(srm.state(), S::Normal);
}

}  // namespace
}  // namespace xmesh::srm::testing
