#include "tests/srm/pair.h"

#include <sstream>

namespace xmesh::srm::testing {

using namespace std::chrono_literals;

Options testOptions() {
  Options o;
  o.params.heartbeatInterval = 100ms;
  o.params.heartbeatTimeout = 400ms;
  o.params.initHeartbeatTimeout = 800ms;
  o.params.criticalServiceDelay = 300ms;
  o.params.automaticFallback = false;
  o.params.automaticFallbackDelay = 1000ms;
  o.transitionTimeout = 500ms;
  return o;
}

Pair::Pair(Options options, bool bootBoth)
    : options_(options), witnessDelayMs_(options.params.heartbeatTimeout.count()) {
  for (auto& s : sims_) s.srm = std::make_unique<Srm>(options_);
  if (bootBoth) {
    boot(kNode1);
    boot(kNode2);
  }
}

// --- time --------------------------------------------------------------------------------

void Pair::step() {
  now_ += kStepMs;
  for (int i = 0; i < 2; ++i) {
    if (alive(i) && witnessEnabled_ && sims_[i].witnessLink) sims_[i].lastWitnessContact = now_;
  }
  for (int i = 0; i < 2; ++i) {
    if (!alive(i)) continue;
    deliver(i);
    feedWitness(i);
    srm(i).onTick(now_);
    drain(i);
    moves(i);
  }
  check();
}

void Pair::run(int64_t ms) {
  for (int64_t t = 0; t < ms; t += kStepMs) step();
}

bool Pair::runUntil(const std::function<bool()>& done, int64_t maxMs) {
  for (int64_t t = 0; t <= maxMs; t += kStepMs) {
    if (done()) return true;
    step();
  }
  return done();
}

void Pair::deliver(int i) {
  auto& inbox = sims_[i].inbox;
  while (!inbox.empty() && inbox.front().first <= now_) {
    Heartbeat hb = inbox.front().second;
    inbox.pop_front();
    sims_[i].lastHeard = now_;
    srm(i).onPeerHeartbeat(now_, hb);
    drain(i);
  }
}

// The witness contract (srm/types.h): reachable while linked; the peer counts as gone
// only once the witness has not heard it for witnessDelayMs_.
void Pair::feedWitness(int i) {
  Sim& s = sims_[i];
  if (!witnessEnabled_ || !s.witnessLink || now_ - s.lastWitnessReport < 50) return;
  s.lastWitnessReport = now_;
  const Sim& peer = sims_[1 - i];
  WitnessView v{true, now_ - peer.lastWitnessContact < witnessDelayMs_};
  srm(i).onWitness(now_, v);
  drain(i);
}

// The wiring's user moves: they complete (or fail) moveMs after they start.
void Pair::moves(int i) {
  Sim& s = sims_[i];
  const State st = srm(i).state();
  const bool moving =
      st == State::TakingOver || (st == State::TakingBack && s.executed.myUsers);
  if (!moving) {
    s.moveState = State::Unknown;
    return;
  }
  if (s.moveState != st) {
    s.moveState = st;
    s.moveStarted = now_;
  }
  if (s.holdMoves || now_ - s.moveStarted < s.moveMs) return;
  if (st == State::TakingOver) {
    if (s.failMoves) {
      srm(i).takeoverFailed(now_);
    } else {
      EXPECT_TRUE(srm(i).takeoverComplete(now_).isOk());
    }
  } else if (s.failMoves) {
    srm(i).takebackFailed(now_);
  } else {
    EXPECT_TRUE(srm(i).takebackComplete(now_).isOk());
  }
  drain(i);
}

// --- the wiring's actions ----------------------------------------------------------------

void Pair::drain(int i) {
  Sim& s = sims_[i];
  for (Action a : s.srm->takeActions()) {
    switch (a) {
      case Action::SendHeartbeat: {
        Heartbeat hb = s.srm->makeHeartbeat(now_);
        Sim& to = sims_[1 - i];
        if (linkUp_[i] && to.running) to.inbox.emplace_back(stalled_[i] ? kHeld : now_ + latencyMs_, hb);
        break;
      }
      case Action::StartServingMyUsers: s.executed.myUsers = true; break;
      case Action::StopServingMyUsers: s.executed.myUsers = false; break;
      case Action::StartServingPeerUsers: s.executed.peerUsers = true; break;
      case Action::StopServingPeerUsers: s.executed.peerUsers = false; break;
      case Action::PersistRole: s.persisted = s.srm->role(); break;
      case Action::StateChanged: s.history.emplace_back(s.srm->state(), s.srm->reason()); break;
      case Action::kCount: break;
    }
  }
}

// --- processes ---------------------------------------------------------------------------

void Pair::boot(int i) {
  Sim& s = sims_[i];
  s.srm = std::make_unique<Srm>(options_);
  s.running = true;
  s.frozen = false;
  s.executed = {};
  s.inbox.clear();
  s.lastWitnessReport = kNever;
  s.moveState = State::Unknown;
  s.srm->start(now_, nextIncarnation_++, s.persisted);
  for (size_t k = 0; k < kServiceCount; ++k) {
    if (s.serviceDown[k]) s.srm->onCriticalService(now_, static_cast<Service>(k), false);
  }
  drain(i);
  check();
}

void Pair::crash(int i) {
  Sim& s = sims_[i];
  s.running = false;
  s.frozen = false;
  s.executed = {};
  s.inbox.clear();
  check();
}

void Pair::shutdown(int i) {
  srm(i).shutdown(now_);
  drain(i);
  crash(i);
}

void Pair::thaw(int i) {
  sims_[i].frozen = false;
  check();  // before the woken node has processed anything
}

// --- inputs ------------------------------------------------------------------------------

void Pair::service(int i, Service svc, bool up) {
  sims_[i].serviceDown[static_cast<size_t>(svc)] = !up;
  if (!alive(i)) return;
  srm(i).onCriticalService(now_, svc, up);
  drain(i);
  check();
}

Status Pair::failover(int i) {
  Status st = srm(i).requestFailover(now_);
  drain(i);
  check();
  return st;
}

Status Pair::fallback(int i) {
  Status st = srm(i).requestFallback(now_);
  drain(i);
  check();
  return st;
}

Status Pair::recover(int i) {
  Status st = srm(i).requestRecover(now_);
  drain(i);
  check();
  return st;
}

// --- observations ------------------------------------------------------------------------

Serving Pair::serving(int i) const {
  if (!alive(i)) return {};
  return sims_[i].srm->serving(now_);
}

void Pair::check() {
  ++checks_;
  const Serving a = serving(kNode1);
  const Serving b = serving(kNode2);
  EXPECT_FALSE(a.myUsers && b.peerUsers) << "node 1's users served twice\n" << describe();
  EXPECT_FALSE(b.myUsers && a.peerUsers) << "node 2's users served twice\n" << describe();
  for (int i = 0; i < 2; ++i) {
    const Serving s = serving(i);
    const Serving& e = sims_[i].executed;
    EXPECT_TRUE((!s.myUsers || e.myUsers) && (!s.peerUsers || e.peerUsers))
        << "node " << i + 1 << " serves what its wiring was not told to start\n"
        << describe();
  }
}

::testing::AssertionResult Pair::is(int i, State s, Reason r) const {
  const Srm& x = *sims_[i].srm;
  if (sims_[i].running && x.state() == s && x.reason() == r)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "node " << i + 1 << " expected " << name(s) << " / "
                                       << name(r) << "\n" << describe();
}

::testing::AssertionResult Pair::isNot(int i, State s) const {
  if (sims_[i].srm->state() != s) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "node " << i + 1 << " is " << name(s) << "\n"
                                       << describe();
}

bool Pair::everWas(int i, State s) const {
  for (const auto& h : sims_[i].history) {
    if (h.first == s) return true;
  }
  return false;
}

std::string Pair::describe() const {
  std::ostringstream out;
  out << "t=" << now_;
  for (int i = 0; i < 2; ++i) {
    const Sim& s = sims_[i];
    const Serving v = serving(i);
    out << "\n  node " << i + 1 << ": "
        << (!s.running ? "down " : s.frozen ? "frozen " : "") << name(s.srm->state()) << " / "
        << name(s.srm->reason()) << ", role " << name(s.srm->role()) << ", serves mine "
        << v.myUsers << " peer's " << v.peerUsers;
  }
  return out.str();
}

}  // namespace xmesh::srm::testing
