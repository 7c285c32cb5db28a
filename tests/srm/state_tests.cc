// The stable strings of states, reasons and roles: the seeds' wording for /status, a slug
// for metrics and the wire, each unique and round-tripping.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "srm/srm.h"

namespace xmesh::srm {
namespace {

TEST(SrmStateNames, StatesUseTheSeedsWording) {
  EXPECT_EQ(name(State::Initializing), "Initializing");
  EXPECT_EQ(name(State::Idle), "Idle");
  EXPECT_EQ(name(State::Normal), "Normal");
  EXPECT_EQ(name(State::RunningInBackupMode), "Running in Backup Mode");
  EXPECT_EQ(name(State::TakingOver), "Taking Over");
  EXPECT_EQ(name(State::FailingOver), "Failing Over");
  EXPECT_EQ(name(State::FailedOver), "Failed Over");
  EXPECT_EQ(name(State::FailedOverCriticalServicesNotRunning),
            "Failed Over with Critical Services Not Running");
  EXPECT_EQ(name(State::FallingBack), "Falling Back");
  EXPECT_EQ(name(State::TakingBack), "Taking Back");
  EXPECT_EQ(name(State::RunningInFailedMode), "Running in Failed Mode");
  EXPECT_EQ(name(State::Unknown), "Unknown");
  EXPECT_EQ(name(State::BackupActivated), "Backup Activated");
  EXPECT_EQ(name(State::FailoverAffectedServices), "Failover Affected Services");
}

TEST(SrmStateNames, ReasonsUseTheSeedsWording) {
  EXPECT_EQ(name(Reason::None), "");
  EXPECT_EQ(name(Reason::Normal), "Normal");
  EXPECT_EQ(name(Reason::OnAdminRequest), "On Admin Request");
  EXPECT_EQ(name(Reason::Initialization), "Initialization");
  EXPECT_EQ(name(Reason::AutomaticFallback), "Automatic Fallback");
  EXPECT_EQ(name(Reason::CriticalServiceDown), "Critical Service Down");
  EXPECT_EQ(name(Reason::DatabaseFailure), "Database Failure");
  EXPECT_EQ(name(Reason::StartOfCriticalServicesFailed), "Start of Critical Services Failed");
  EXPECT_EQ(name(Reason::PeerDown), "Peer Down");
  EXPECT_EQ(name(Reason::PeerReboot), "Peer Reboot");
  EXPECT_EQ(name(Reason::PeerDownDuringInitialization), "Peer Down During Initialization");
  EXPECT_EQ(name(Reason::TakeOverUsersFailed), "Take Over Users Failed");
  EXPECT_EQ(name(Reason::TakeBackUsersFailed), "Take Back Users Failed");
  EXPECT_EQ(name(Reason::Unknown), "Unknown");
  EXPECT_EQ(name(Reason::AutoRecoverDatabaseFailure), "Auto Recover Database Failure");
  EXPECT_EQ(name(Reason::AutoRecoverCriticalServiceDown), "Auto Recover Critical Service Down");
}

TEST(SrmStateNames, SlugsAreUniqueAndRoundTrip) {
  std::set<std::string> states, reasons, roles;
  for (size_t i = 0; i < static_cast<size_t>(State::kCount); ++i) {
    const auto s = static_cast<State>(i);
    EXPECT_TRUE(states.insert(std::string(slug(s))).second) << slug(s);
    EXPECT_EQ(stateFromSlug(slug(s)), s);
    EXPECT_FALSE(name(s).empty());
  }
  for (size_t i = 0; i < static_cast<size_t>(Reason::kCount); ++i) {
    const auto r = static_cast<Reason>(i);
    EXPECT_TRUE(reasons.insert(std::string(slug(r))).second) << slug(r);
    EXPECT_EQ(reasonFromSlug(slug(r)), r);
  }
  for (size_t i = 0; i < static_cast<size_t>(Role::kCount); ++i) {
    const auto r = static_cast<Role>(i);
    EXPECT_TRUE(roles.insert(std::string(slug(r))).second);
    EXPECT_EQ(roleFromSlug(slug(r)), r);
  }
  EXPECT_EQ(slug(State::RunningInBackupMode), "running-in-backup-mode");
  EXPECT_EQ(slug(Reason::PeerDownDuringInitialization), "peer-down-during-initialization");
  EXPECT_FALSE(stateFromSlug("Normal").has_value());  // slugs only
  EXPECT_FALSE(reasonFromSlug("").has_value());
}

TEST(SrmStateNames, TransitionsAreTheSeedsTransitionStates) {
  for (size_t i = 0; i < static_cast<size_t>(State::kCount); ++i) {
    const auto s = static_cast<State>(i);
    const bool expected = s == State::TakingOver || s == State::FailingOver ||
                          s == State::FallingBack || s == State::TakingBack;
    EXPECT_EQ(isTransition(s), expected) << name(s);
  }
}

}  // namespace
}  // namespace xmesh::srm
