// One test per row of the seeds' table "Presence Redundancy Group Node High-Availability
// States, Causes, and Recommended Actions" (seeds 003/004): the pair is driven through
// the cause the row describes and both nodes must show the row's states and reasons.
// Test names are RowNN_<cause>, NN counting the table's rows from the top. The harness
// checks after every step that no user set is served by both nodes.
#include <gtest/gtest.h>

#include "tests/srm/flows.h"

namespace xmesh::srm::testing {
namespace {

using S = State;
using R = Reason;

Options withAutomaticFallback() {
  Options o = testOptions();
  o.params.automaticFallback = true;
  return o;
}

// Row 1. Normal/Normal | Normal/Normal.
TEST(SrmSeedTable, Row01_BothNormal) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  EXPECT_TRUE(p.is(kNode1, S::Normal, R::Normal));
  EXPECT_TRUE(p.is(kNode2, S::Normal, R::Normal));
  EXPECT_EQ(p.serving(kNode1), (Serving{true, false}));
  EXPECT_EQ(p.serving(kNode2), (Serving{true, false}));
}

// Row 2. Failing Over/On Admin Request | Taking Over/On Admin Request: a manual failover
// from node 1 to node 2 in progress.
TEST(SrmSeedTable, Row02_ManualFailoverInProgress) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.holdMoves(kNode2, true);
  ASSERT_TRUE(p.failover(kNode1).isOk());
  ASSERT_TRUE(both(p, S::FailingOver, S::TakingOver));
  EXPECT_TRUE(p.is(kNode1, S::FailingOver, R::OnAdminRequest));
  EXPECT_TRUE(p.is(kNode2, S::TakingOver, R::OnAdminRequest));
  EXPECT_EQ(p.serving(kNode1), (Serving{false, false}));
  EXPECT_EQ(p.serving(kNode2), (Serving{true, true}));
  EXPECT_EQ(p.srm(kNode1).myUsersServedBy(p.now()), Server::Peer);
}

// Row 3. Idle/On Admin Request | Running in Backup Mode/On Admin Request: the manual
// failover is complete.
TEST(SrmSeedTable, Row03_ManualFailoverComplete) {
  Pair p;
  ASSERT_TRUE(manualFailover(p));
  EXPECT_TRUE(p.is(kNode1, S::Idle, R::OnAdminRequest));
  EXPECT_TRUE(p.is(kNode2, S::RunningInBackupMode, R::OnAdminRequest));
  EXPECT_EQ(p.sim(kNode1).persisted, Role::Idle);
  EXPECT_EQ(p.sim(kNode2).persisted, Role::Backup);
  EXPECT_EQ(p.srm(kNode1).myUsersServedBy(p.now()), Server::Peer);
  EXPECT_EQ(p.srm(kNode2).myUsersServedBy(p.now()), Server::Me);
}

// Row 4. Taking Back/On Admin Request | Falling Back/On Admin Request: a manual fallback
// in progress; it ends with both Normal.
TEST(SrmSeedTable, Row04_ManualFallbackInProgress) {
  Pair p;
  ASSERT_TRUE(manualFailover(p));
  p.holdMoves(kNode1, true);
  ASSERT_TRUE(p.fallback(kNode1).isOk());
  ASSERT_TRUE(both(p, S::TakingBack, S::FallingBack));
  EXPECT_TRUE(p.is(kNode1, S::TakingBack, R::OnAdminRequest));
  EXPECT_TRUE(p.is(kNode2, S::FallingBack, R::OnAdminRequest));
  p.holdMoves(kNode1, false);
  EXPECT_TRUE(settledNormal(p));
}

// Row 5. Idle/Initialization | Running in Backup Mode/On Admin Request: the SRM of node 1
// restarts while node 1 is Idle.
TEST(SrmSeedTable, Row05_RestartIdleNode) {
  Pair p;
  ASSERT_TRUE(manualFailover(p));
  p.restart(kNode1);
  ASSERT_TRUE(both(p, S::Idle, S::RunningInBackupMode));
  EXPECT_TRUE(p.is(kNode1, S::Idle, R::Initialization));
  EXPECT_TRUE(p.is(kNode2, S::RunningInBackupMode, R::OnAdminRequest));
}

// Row 6. Idle/Initialization | Running in Backup Mode/Initialization: both nodes (or
// both SRMs) restart while the group is in manual failover.
TEST(SrmSeedTable, Row06_RestartBothInManualFailover) {
  Pair p;
  ASSERT_TRUE(manualFailover(p));
  p.crash(kNode1);
  p.crash(kNode2);
  p.run(200);
  p.boot(kNode2);
  p.boot(kNode1);
  ASSERT_TRUE(both(p, S::Idle, S::RunningInBackupMode));
  EXPECT_TRUE(p.is(kNode1, S::Idle, R::Initialization));
  EXPECT_TRUE(p.is(kNode2, S::RunningInBackupMode, R::Initialization));
  EXPECT_EQ(p.serving(kNode2), (Serving{true, true}));
}

// Row 7. Idle/On Admin Request | Running in Backup Mode/Initialization: the SRM of node 2
// restarts while it runs in backup mode, before node 1's heartbeat timeout.
TEST(SrmSeedTable, Row07_RestartBackupBeforePeerTimesOut) {
  Pair p;
  ASSERT_TRUE(manualFailover(p));
  p.crash(kNode2);
  p.run(100);
  p.boot(kNode2);
  ASSERT_TRUE(both(p, S::Idle, S::RunningInBackupMode));
  EXPECT_TRUE(p.is(kNode1, S::Idle, R::OnAdminRequest));
  EXPECT_TRUE(p.is(kNode2, S::RunningInBackupMode, R::Initialization));
}

// Row 8. Failing Over/On Admin Request | Taking Over/Initialization: the SRM of node 2
// restarts while it is taking over, before node 1's heartbeat timeout.
TEST(SrmSeedTable, Row08_RestartTakerDuringManualFailover) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.holdMoves(kNode2, true);
  ASSERT_TRUE(p.failover(kNode1).isOk());
  ASSERT_TRUE(both(p, S::FailingOver, S::TakingOver));
  p.crash(kNode2);
  p.run(50);
  p.boot(kNode2);
  p.holdMoves(kNode2, true);
  ASSERT_TRUE(both(p, S::FailingOver, S::TakingOver, 300));
  EXPECT_TRUE(p.is(kNode1, S::FailingOver, R::OnAdminRequest));
  EXPECT_TRUE(p.is(kNode2, S::TakingOver, R::Initialization));
  p.holdMoves(kNode2, false);
  EXPECT_TRUE(both(p, S::Idle, S::RunningInBackupMode));
}

// Row 9. Taking Back/Initialization | Falling Back/On Admin Request: the SRM of node 1
// restarts while taking back; once the take-back completes both are Normal.
TEST(SrmSeedTable, Row09_RestartTakerBackDuringFallback) {
  Pair p;
  ASSERT_TRUE(manualFailover(p));
  p.holdMoves(kNode1, true);
  ASSERT_TRUE(p.fallback(kNode1).isOk());
  ASSERT_TRUE(both(p, S::TakingBack, S::FallingBack));
  p.crash(kNode1);
  p.run(50);
  p.boot(kNode1);
  p.holdMoves(kNode1, true);
  ASSERT_TRUE(both(p, S::TakingBack, S::FallingBack, 300));
  EXPECT_TRUE(p.is(kNode1, S::TakingBack, R::Initialization));
  EXPECT_TRUE(p.is(kNode2, S::FallingBack, R::OnAdminRequest));
  p.holdMoves(kNode1, false);
  EXPECT_TRUE(settledNormal(p));
}

// Row 10. Taking Back/Automatic Fallback | Falling Back/Automatic Fallback.
TEST(SrmSeedTable, Row10_AutomaticFallbackInProgress) {
  Pair p(withAutomaticFallback());
  ASSERT_TRUE(healthyFailedOver(p));
  p.holdMoves(kNode1, true);
  ASSERT_TRUE(both(p, S::TakingBack, S::FallingBack));
  EXPECT_TRUE(p.is(kNode1, S::TakingBack, R::AutomaticFallback));
  EXPECT_TRUE(p.is(kNode2, S::FallingBack, R::AutomaticFallback));
  p.holdMoves(kNode1, false);
  EXPECT_TRUE(settledNormal(p));
}

// Row 11, first cause. Failed Over/Initialization | Running in Backup Mode/Critical
// Service Down: node 1 reboots and its critical services come back up.
TEST(SrmSeedTable, Row11_RebootBringsServicesBack) {
  Pair p;
  ASSERT_TRUE(serviceFailover(p));
  p.crash(kNode1);
  p.service(kNode1, Service::C2s, true);  // the reboot fixed it
  p.boot(kNode1);
  ASSERT_TRUE(both(p, S::FailedOver, S::RunningInBackupMode));
  EXPECT_TRUE(p.is(kNode1, S::FailedOver, R::Initialization));
  EXPECT_TRUE(p.is(kNode2, S::RunningInBackupMode, R::CriticalServiceDown));
}

// Row 11, second cause. Failed Over/Critical Service Down | Running in Backup Mode/
// Critical Service Down: the administrator starts the services on node 1.
TEST(SrmSeedTable, Row11_ServicesStartedOnFailedNode) {
  Pair p;
  ASSERT_TRUE(healthyFailedOver(p));
  EXPECT_TRUE(p.is(kNode1, S::FailedOver, R::CriticalServiceDown));
  EXPECT_TRUE(p.is(kNode2, S::RunningInBackupMode, R::CriticalServiceDown));
  ASSERT_TRUE(p.fallback(kNode1).isOk());  // "ready for a manual fallback"
  EXPECT_TRUE(settledNormal(p));
}

// Row 12. Failed Over with Critical Services not Running/Critical Service Down | Running
// in Backup Mode/Critical Service Down: automatic failover.
TEST(SrmSeedTable, Row12_CriticalServiceDownFailsOver) {
  Pair p;
  ASSERT_TRUE(serviceFailover(p, Service::R2r));
  EXPECT_TRUE(p.is(kNode1, S::FailedOverCriticalServicesNotRunning, R::CriticalServiceDown));
  EXPECT_TRUE(p.is(kNode2, S::RunningInBackupMode, R::CriticalServiceDown));
  EXPECT_EQ(p.serving(kNode2), (Serving{true, true}));
}

// Row 13. Failed Over with Critical Services not Running/Database Failure | Running in
// Backup Mode/Database Failure.
TEST(SrmSeedTable, Row13_DatabaseFailureFailsOver) {
  Pair p;
  ASSERT_TRUE(serviceFailover(p, Service::Store));
  EXPECT_TRUE(p.is(kNode1, S::FailedOverCriticalServicesNotRunning, R::DatabaseFailure));
  EXPECT_TRUE(p.is(kNode2, S::RunningInBackupMode, R::DatabaseFailure));
}

// Row 14. Running in Failed Mode/Start of Critical Services Failed, both: services fail
// to start while node 1 is taking back.
TEST(SrmSeedTable, Row14_ServicesFailToStartWhileTakingBack) {
  Pair p;
  ASSERT_TRUE(healthyFailedOver(p));
  p.holdMoves(kNode1, true);
  ASSERT_TRUE(p.fallback(kNode1).isOk());
  ASSERT_TRUE(both(p, S::TakingBack, S::FallingBack));
  p.service(kNode1, Service::C2s, false);
  ASSERT_TRUE(both(p, S::RunningInFailedMode, S::RunningInFailedMode));
  EXPECT_TRUE(p.is(kNode1, S::RunningInFailedMode, R::StartOfCriticalServicesFailed));
  EXPECT_TRUE(p.is(kNode2, S::RunningInFailedMode, R::StartOfCriticalServicesFailed));
  EXPECT_EQ(p.srm(kNode1).myUsersServedBy(p.now()), Server::Nobody);
}

// Row 15. Running in Failed Mode/Critical Service Down, both: a critical service goes
// down on the backup node (whose peer is Idle, so it cannot take everyone).
TEST(SrmSeedTable, Row15_CriticalServiceDownOnBackup) {
  Pair p;
  ASSERT_TRUE(manualFailover(p));
  p.service(kNode2, Service::C2s, false);
  ASSERT_TRUE(both(p, S::RunningInFailedMode, S::RunningInFailedMode));
  EXPECT_TRUE(p.is(kNode1, S::RunningInFailedMode, R::CriticalServiceDown));
  EXPECT_TRUE(p.is(kNode2, S::RunningInFailedMode, R::CriticalServiceDown));
  EXPECT_FALSE(p.serving(kNode2).peerUsers);
}

// Row 16, first cause. (node 1 down) | Running in Backup Mode/Peer Down: node 1 lost its
// network. Node 1 itself stops serving (isolated) before node 2 takes over; after the
// network is back node 1 is Failed Over, and a manual fallback restores Normal.
TEST(SrmSeedTable, Row16_PeerLostNetwork) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.cutBoth();
  p.setWitnessLink(kNode1, false);
  ASSERT_TRUE(p.runUntil([&] { return p.srm(kNode2).state() == S::RunningInBackupMode; },
                         2'000));
  EXPECT_TRUE(p.is(kNode2, S::RunningInBackupMode, R::PeerDown));
  EXPECT_TRUE(p.is(kNode1, S::RunningInFailedMode, R::PeerDown));
  p.healBoth();
  p.setWitnessLink(kNode1, true);
  ASSERT_TRUE(both(p, S::FailedOver, S::RunningInBackupMode));
  EXPECT_TRUE(p.is(kNode1, S::FailedOver, R::PeerDown));
  ASSERT_TRUE(p.fallback(kNode1).isOk());
  EXPECT_TRUE(settledNormal(p));
}

// Row 16, second cause: the SRM service of node 1 is not running.
TEST(SrmSeedTable, Row16_PeerSrmNotRunning) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.crash(kNode1);
  ASSERT_TRUE(p.runUntil([&] { return p.srm(kNode2).state() == S::RunningInBackupMode; },
                         2'000));
  EXPECT_TRUE(p.is(kNode2, S::RunningInBackupMode, R::PeerDown));
  EXPECT_EQ(p.serving(kNode2), (Serving{true, true}));
}

// Row 17. (node 1 down: shutdown, restart, power down) | Running in Backup Mode/Peer
// Reboot: node 1 said goodbye, so node 2 takes over at once, without waiting for the
// heartbeat timeout. Node 1 comes back Failed Over.
TEST(SrmSeedTable, Row17_PeerRebootTakesOverAtOnce) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.shutdown(kNode1);
  ASSERT_TRUE(p.runUntil([&] { return p.srm(kNode2).state() == S::RunningInBackupMode; },
                         100));
  EXPECT_TRUE(p.is(kNode2, S::RunningInBackupMode, R::PeerReboot));
  p.boot(kNode1);
  ASSERT_TRUE(both(p, S::FailedOver, S::RunningInBackupMode));
  EXPECT_TRUE(p.is(kNode1, S::FailedOver, R::Initialization));
}

// Row 18. Failed Over (with Critical Services not Running)/Initialization | Backup Mode/
// Peer Down During Initialization: node 2 does not see node 1 during start-up.
TEST(SrmSeedTable, Row18_PeerDownDuringInitialization) {
  for (bool servicesUp : {true, false}) {
    Pair p(testOptions(), false);
    p.boot(kNode2);
    ASSERT_TRUE(p.runUntil(
        [&] { return p.srm(kNode2).state() == S::RunningInBackupMode; }, 2'000));
    EXPECT_TRUE(p.is(kNode2, S::RunningInBackupMode, R::PeerDownDuringInitialization));
    p.service(kNode1, Service::C2s, servicesUp);
    p.boot(kNode1);
    const S expected = servicesUp ? S::FailedOver : S::FailedOverCriticalServicesNotRunning;
    ASSERT_TRUE(both(p, expected, S::RunningInBackupMode));
    EXPECT_TRUE(p.is(kNode1, expected, R::Initialization));
  }
}

// Row 19. Running in Failed Mode/Take Over Users Failed, both: the user move fails while
// node 2 takes over.
TEST(SrmSeedTable, Row19_TakeOverUsersFailed) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.failMoves(kNode2, true);
  ASSERT_TRUE(p.failover(kNode1).isOk());
  ASSERT_TRUE(both(p, S::RunningInFailedMode, S::RunningInFailedMode));
  EXPECT_TRUE(p.is(kNode1, S::RunningInFailedMode, R::TakeOverUsersFailed));
  EXPECT_TRUE(p.is(kNode2, S::RunningInFailedMode, R::TakeOverUsersFailed));
  EXPECT_EQ(p.serving(kNode2), (Serving{true, false}));  // keeps its own users only
}

// Row 20. Running in Failed Mode/Take Back Users Failed, both: the user move fails
// during the fallback.
TEST(SrmSeedTable, Row20_TakeBackUsersFailed) {
  Pair p;
  ASSERT_TRUE(manualFailover(p));
  p.failMoves(kNode1, true);
  ASSERT_TRUE(p.fallback(kNode1).isOk());
  ASSERT_TRUE(both(p, S::RunningInFailedMode, S::RunningInFailedMode));
  EXPECT_TRUE(p.is(kNode1, S::RunningInFailedMode, R::TakeBackUsersFailed));
  EXPECT_TRUE(p.is(kNode2, S::RunningInFailedMode, R::TakeBackUsersFailed));
}

// Row 21. Running in Failed Mode/Unknown, both: the SRM of one node restarts while the
// other is in a failed state.
TEST(SrmSeedTable, Row21_RestartWhileOtherFailed) {
  Pair p;
  ASSERT_TRUE(settledNormal(p));
  p.failMoves(kNode2, true);
  ASSERT_TRUE(p.failover(kNode1).isOk());
  ASSERT_TRUE(both(p, S::RunningInFailedMode, S::RunningInFailedMode));
  p.restart(kNode1);
  ASSERT_TRUE(p.runUntil([&] {
    return p.srm(kNode1).state() == S::RunningInFailedMode &&
           p.srm(kNode1).reason() == R::Unknown && p.srm(kNode2).reason() == R::Unknown;
  }, 1'000));
  EXPECT_TRUE(p.is(kNode1, S::RunningInFailedMode, R::Unknown));
  EXPECT_TRUE(p.is(kNode2, S::RunningInFailedMode, R::Unknown));
}

// Row 22. Backup Activated/Auto Recover Database Failure | Failover Affected Services/
// Auto Recover Database Failure: the database goes down on the backup node while node 1
// is Failed Over and healthy; node 1 serves everyone.
TEST(SrmSeedTable, Row22_AutoRecoverDatabaseFailure) {
  Pair p;
  ASSERT_TRUE(healthyFailedOver(p));
  p.service(kNode2, Service::Store, false);
  ASSERT_TRUE(both(p, S::BackupActivated, S::FailoverAffectedServices));
  EXPECT_TRUE(p.is(kNode1, S::BackupActivated, R::AutoRecoverDatabaseFailure));
  EXPECT_TRUE(p.is(kNode2, S::FailoverAffectedServices, R::AutoRecoverDatabaseFailure));
  EXPECT_EQ(p.serving(kNode1), (Serving{true, true}));
  EXPECT_EQ(p.serving(kNode2), (Serving{false, false}));
}

// Row 23. Backup Activated | Failover Affected Services/Auto Recover Critical Service
// Down: a critical service goes down on the backup node. The seeds print "Auto Recover
// Database Failure" as node 1's reason in this row, a copy of row 22; we show the cause
// on both nodes.
TEST(SrmSeedTable, Row23_AutoRecoverCriticalServiceDown) {
  Pair p;
  ASSERT_TRUE(healthyFailedOver(p));
  p.service(kNode2, Service::C2s, false);
  ASSERT_TRUE(both(p, S::BackupActivated, S::FailoverAffectedServices));
  EXPECT_TRUE(p.is(kNode1, S::BackupActivated, R::AutoRecoverCriticalServiceDown));
  EXPECT_TRUE(p.is(kNode2, S::FailoverAffectedServices, R::AutoRecoverCriticalServiceDown));
  // Once node 2 is healthy again it is Failed Over and a fallback restores Normal.
  p.service(kNode2, Service::C2s, true);
  ASSERT_TRUE(both(p, S::BackupActivated, S::FailedOver));
  ASSERT_TRUE(p.fallback(kNode2).isOk());
  EXPECT_TRUE(settledNormal(p));
}

// Row 24. Unknown | Unknown: HA not (properly) started on either node.
TEST(SrmSeedTable, Row24_BothUnknown) {
  Pair p(testOptions(), false);
  p.run(1'000);
  EXPECT_EQ(p.srm(kNode1).state(), S::Unknown);
  EXPECT_EQ(p.srm(kNode1).reason(), R::None);
  EXPECT_EQ(p.srm(kNode2).state(), S::Unknown);
  EXPECT_EQ(p.srm(kNode2).reason(), R::None);
  EXPECT_EQ(p.srm(kNode1).serving(p.now()), (Serving{false, false}));
}

}  // namespace
}  // namespace xmesh::srm::testing
