// Short scenario steps shared by the SRM tests: each drives a Pair to a named situation
// and returns false (with a gtest failure) if it does not get there in time.
#pragma once
#include "tests/srm/pair.h"

namespace xmesh::srm::testing {

inline bool both(Pair& p, State s1, State s2, int64_t maxMs = 2'000) {
  const bool ok = p.runUntil(
      [&] { return p.srm(kNode1).state() == s1 && p.srm(kNode2).state() == s2; }, maxMs);
  EXPECT_TRUE(ok) << "expected " << name(s1) << " / " << name(s2) << "\n" << p.describe();
  if (ok) p.run(5 * kStepMs);  // let the last heartbeats land, so each sees the other's state
  return ok;
}

inline bool settledNormal(Pair& p) { return both(p, State::Normal, State::Normal); }

// The administrator fails node 1 over to node 2, to completion.
inline bool manualFailover(Pair& p) {
  if (!settledNormal(p)) return false;
  EXPECT_TRUE(p.failover(kNode1).isOk());
  return both(p, State::Idle, State::RunningInBackupMode);
}

// A critical service of node 1 stays down past the delay: automatic failover.
inline bool serviceFailover(Pair& p, Service s = Service::C2s) {
  if (!settledNormal(p)) return false;
  p.service(kNode1, s, false);
  return both(p, State::FailedOverCriticalServicesNotRunning, State::RunningInBackupMode);
}

// As serviceFailover, then the service is back: node 1 Failed Over, ready to fall back.
inline bool healthyFailedOver(Pair& p) {
  if (!serviceFailover(p)) return false;
  p.service(kNode1, Service::C2s, true);
  return both(p, State::FailedOver, State::RunningInBackupMode);
}

}  // namespace xmesh::srm::testing
