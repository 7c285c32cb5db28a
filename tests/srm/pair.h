// A presence redundancy group in memory: two Srm instances (index 0 = "node 1" of the
// seeds' tables, 1 = "node 2"), each with a simulated node wiring, on a fake clock that
// advances in kStepMs steps. The harness carries heartbeats over two one-way links with a
// latency, feeds each node its quorum witness (honouring the contract in srm/types.h),
// executes the actions (serving flags, persisted role, user moves that complete after
// moveMs), and emulates crashes, orderly reboots and SIGSTOP/SIGCONT.
//
// After every step and every command it checks the safety invariant: no user set is
// served by both nodes (what each node serves is Srm::serving(now), nothing for a dead or
// frozen process), and a node never serves what its wiring was not told to start.
#pragma once
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "srm/srm.h"

namespace xmesh::srm::testing {

inline constexpr int kNode1 = 0;
inline constexpr int kNode2 = 1;
inline constexpr int64_t kStepMs = 10;
inline constexpr int64_t kNever = std::numeric_limits<int64_t>::min() / 2;

// Sub-second parameters: interval 100 ms, timeout 400 ms (fence 300 ms), init timeout
// 800 ms, critical service delay 300 ms, automatic fallback off (delay 1 s), transition
// timeout 500 ms.
Options testOptions();

// One node: its SRM and what the simulated wiring knows and did.
struct Sim {
  std::unique_ptr<Srm> srm;
  bool running = false;  // booted, not crashed
  bool frozen = false;   // SIGSTOPped
  bool witnessLink = true;
  int64_t lastWitnessContact = kNever;
  int64_t lastWitnessReport = kNever;
  Role persisted = Role::Home;
  std::deque<std::pair<int64_t, Heartbeat>> inbox;  // (deliver at, heartbeat)
  int64_t lastHeard = kNever;                       // last heartbeat delivered
  Serving executed;                                 // Start/Stop actions applied
  std::array<bool, kServiceCount> serviceDown{};
  bool holdMoves = false;  // the wiring is still moving users
  bool failMoves = false;  // the wiring reports the move as failed
  int64_t moveMs = 30;
  State moveState = State::Unknown;
  int64_t moveStarted = kNever;
  std::vector<std::pair<State, Reason>> history;  // every StateChanged
};

class Pair {
 public:
  explicit Pair(Options options = testOptions(), bool bootBoth = true);

  Srm& srm(int i) { return *sims_[i].srm; }
  Sim& sim(int i) { return sims_[i]; }
  int64_t now() const { return now_; }
  size_t checks() const { return checks_; }

  // Time.
  void step();
  void run(int64_t ms);
  bool runUntil(const std::function<bool()>& done, int64_t maxMs);

  // Faults.
  void cutLink(int from) { linkUp_[from] = false; }  // heartbeats from `from` are lost
  void healLink(int from) { linkUp_[from] = true; }
  void cutBoth() { linkUp_ = {false, false}; }
  void healBoth() { linkUp_ = {true, true}; }
  // A cut the TCP connection survives: heartbeats are held, not lost, and arrive late and
  // in order when the path comes back (the r2r link did not time out meanwhile).
  void stallBoth() { stalled_ = {true, true}; }
  void releaseBoth() {
    stalled_ = {false, false};
    for (Sim& s : sims_)
      for (auto& [at, hb] : s.inbox)
        if (at == kHeld) at = now_;
  }
  void setWitnessLink(int i, bool up) { sims_[i].witnessLink = up; }
  void disableWitness() { witnessEnabled_ = false; }
  // How long the witness waits before it declares a silent node gone (its contract says
  // at least the heartbeat timeout; a dead process may be declared sooner).
  void setWitnessDelay(int64_t ms) { witnessDelayMs_ = ms; }
  void setLatency(int64_t ms) { latencyMs_ = ms; }

  // Processes.
  void boot(int i);
  void crash(int i);     // SRM/process dies without a word
  void shutdown(int i);  // orderly: goodbye heartbeat, then gone
  void restart(int i) { crash(i), boot(i); }
  void freeze(int i) { sims_[i].frozen = true; }  // SIGSTOP
  void thaw(int i);                               // SIGCONT: checks before any input

  // Node inputs.
  void service(int i, Service s, bool up);
  Status failover(int i);
  Status fallback(int i);
  Status recover(int i);
  void holdMoves(int i, bool hold) { sims_[i].holdMoves = hold; }
  void failMoves(int i, bool fail) { sims_[i].failMoves = fail; }

  // Observations.
  Serving serving(int i) const;  // what node i serves now
  ::testing::AssertionResult is(int i, State s, Reason r) const;
  ::testing::AssertionResult isNot(int i, State s) const;
  bool everWas(int i, State s) const;
  std::string describe() const;

 private:
  void drain(int i);
  void deliver(int i);
  void feedWitness(int i);
  void moves(int i);
  void check();
  bool alive(int i) const { return sims_[i].running && !sims_[i].frozen; }

  Options options_;
  int64_t now_ = 1'000;
  int64_t latencyMs_ = kStepMs;
  int64_t witnessDelayMs_;
  bool witnessEnabled_ = true;
  std::array<bool, 2> linkUp_{true, true};  // linkUp_[i]: heartbeats from i reach the other
  std::array<bool, 2> stalled_{false, false};  // heartbeats from i wait for releaseBoth()
  static constexpr int64_t kHeld = std::numeric_limits<int64_t>::max();
  std::array<Sim, 2> sims_;
  uint64_t nextIncarnation_ = 1;
  size_t checks_ = 0;
};

}  // namespace xmesh::srm::testing
