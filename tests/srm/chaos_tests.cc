// Random faults and commands, replayable by seed: crashes, orderly reboots, SIGSTOP,
// link cuts one or both ways, witness loss, service failures, and admin commands in any
// state. The harness asserts the safety invariant after every step; afterwards, with
// every fault repaired, Recover and Fallback must bring the group back to Normal.
#include <gtest/gtest.h>

#include <random>

#include "tests/srm/flows.h"

namespace xmesh::srm::testing {
namespace {

void randomFault(Pair& p, std::mt19937& rng) {
  const int i = static_cast<int>(rng() % 2);
  switch (rng() % 14) {
    case 0: p.sim(i).running ? p.crash(i) : p.boot(i); break;
    case 1: if (p.sim(i).running && !p.sim(i).frozen) p.shutdown(i); break;
    case 2: p.sim(i).frozen ? p.thaw(i) : p.freeze(i); break;
    case 3: p.cutLink(i); break;
    case 4: p.healLink(i); break;
    case 5: p.cutBoth(); break;
    case 6: p.healBoth(); break;
    case 7: p.setWitnessLink(i, !p.sim(i).witnessLink); break;
    case 8: p.service(i, static_cast<Service>(rng() % kServiceCount), rng() % 2 == 0); break;
    case 9: if (p.sim(i).running && !p.sim(i).frozen) (void)p.failover(i); break;
    case 10: if (p.sim(i).running && !p.sim(i).frozen) (void)p.fallback(i); break;
    case 11: if (p.sim(i).running && !p.sim(i).frozen) (void)p.recover(i); break;
    case 12: p.failMoves(i, rng() % 4 == 0); break;
    default: p.holdMoves(i, rng() % 3 == 0); break;
  }
}

void repairEverything(Pair& p) {
  p.healBoth();
  for (int i = 0; i < 2; ++i) {
    p.setWitnessLink(i, true);
    p.holdMoves(i, false);
    p.failMoves(i, false);
    if (p.sim(i).frozen) p.thaw(i);
    if (!p.sim(i).running) p.boot(i);
    for (size_t s = 0; s < kServiceCount; ++s) p.service(i, static_cast<Service>(s), true);
  }
}

bool bothNormal(Pair& p) {
  return p.srm(kNode1).state() == State::Normal && p.srm(kNode2).state() == State::Normal;
}

TEST(SrmChaos, RandomFaultsNeverServeAUserTwiceAndRecoveryRestoresNormal) {
  size_t steps = 0;
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    Options o = testOptions();
    o.params.automaticFallback = seed % 2 == 0;
    Pair p(o);
    p.setLatency(kStepMs * (1 + seed % 5));  // 10..50 ms
    std::mt19937 rng(seed);
    for (int event = 0; event < 80; ++event) {
      randomFault(p, rng);
      p.run(static_cast<int64_t>(rng() % 60) * kStepMs);
    }
    repairEverything(p);
    for (int attempt = 0; attempt < 6 && !bothNormal(p); ++attempt) {
      p.run(1'500);
      for (int i = 0; i < 2; ++i) {
        const State s = p.srm(i).state();
        if (s == State::RunningInFailedMode) (void)p.recover(i);
        if (s == State::Idle || s == State::FailedOver) (void)p.fallback(i);
      }
    }
    EXPECT_TRUE(bothNormal(p)) << p.describe();
    steps += p.checks();
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GT(steps, 300u * 1'000u);  // invariant checks actually made
  RecordProperty("invariant_checks", static_cast<int>(steps));
}

}  // namespace
}  // namespace xmesh::srm::testing
