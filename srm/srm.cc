// Srm bookkeeping: claims and actions, the lease, timers, services and admin commands.
// The reactions to the peer's heartbeat are in srm_peer.cc.
#include "srm/srm.h"

#include <algorithm>
#include <array>
#include <limits>
#include <string>

namespace xmesh::srm {
namespace {

int64_t toMs(std::chrono::milliseconds d) { return d.count(); }

Status badState(State s) { return Status::fail("bad-state", std::string(name(s))); }

bool isBackup(State s) { return s == State::RunningInBackupMode || s == State::BackupActivated; }

}  // namespace

std::string_view slug(Service s) {
  constexpr std::array<std::string_view, kServiceCount> n{"c2s", "r2r", "store"};
  return n[static_cast<size_t>(s)];
}

std::string_view slug(Action a) {
  constexpr std::array<std::string_view, static_cast<size_t>(Action::kCount)> n{
      "send-heartbeat",           "start-serving-my-users", "stop-serving-my-users",
      "start-serving-peer-users", "stop-serving-peer-users", "persist-role",
      "state-changed"};
  return n[static_cast<size_t>(a)];
}

Srm::Srm(Options options)
    : opt_(options),
      intervalMs_(toMs(options.params.heartbeatInterval)),
      timeoutMs_(toMs(options.params.heartbeatTimeout)),
      initTimeoutMs_(toMs(options.params.initHeartbeatTimeout)),
      fenceMs_(timeoutMs_ - std::min(intervalMs_, timeoutMs_ / 2)),
      serviceDelayMs_(toMs(options.params.criticalServiceDelay)),
      fallbackDelayMs_(toMs(options.params.automaticFallbackDelay)),
      transitionMs_(toMs(options.transitionTimeout)) {}

// --- bookkeeping -------------------------------------------------------------------------

void Srm::push(Action a) {
  if (a == Action::SendHeartbeat) {
    heartbeatQueued_ = opt_.ha;  // always handed out last, see takeActions()
    return;
  }
  actions_.push_back(a);
}

std::vector<Action> Srm::takeActions() {
  std::vector<Action> out;
  out.swap(actions_);
  // The heartbeat goes after the serving actions it reports: a peer that reads "released"
  // must never find this node still serving.
  if (heartbeatQueued_) out.push_back(Action::SendHeartbeat);
  heartbeatQueued_ = false;
  return out;
}

void Srm::enter(int64_t now, State s, Reason r) {
  if (s != state_) enteredMs_ = now;
  const bool changed = s != state_ || r != reason_;
  state_ = s;
  reason_ = r;
  Role role = role_;
  switch (s) {
    case State::Normal: role = Role::Home; break;
    case State::Idle: role = Role::Idle; break;
    case State::FailedOver:
    case State::FailedOverCriticalServicesNotRunning:
    case State::FailoverAffectedServices: role = Role::FailedOver; break;
    case State::RunningInBackupMode:
    case State::BackupActivated: role = Role::Backup; break;
    default: break;  // transitions and failures keep the last settled role
  }
  if (s == State::FailedOver) healthySinceMs_ = now;
  if (role != role_) {
    role_ = role;
    push(Action::PersistRole);
  }
  if (changed) {
    push(Action::StateChanged);
    push(Action::SendHeartbeat);
  }
}

// Stops before starts; a new claim takes a fresh epoch (backstop rule 5).
void Srm::setClaims(bool mine, bool peer) {
  bool changed = false;
  if (claimMine_ && !mine) {
    claimMine_ = false;
    mineEpoch_ = 0;
    push(Action::StopServingMyUsers);
    changed = true;
  }
  if (claimPeer_ && !peer) {
    claimPeer_ = false;
    peerEpoch_ = 0;
    push(Action::StopServingPeerUsers);
    changed = true;
  }
  if (!claimMine_ && mine) {
    claimMine_ = true;
    mineEpoch_ = ++epoch_;
    push(Action::StartServingMyUsers);
    changed = true;
  }
  if (!claimPeer_ && peer) {
    claimPeer_ = true;
    peerEpoch_ = ++epoch_;
    push(Action::StartServingPeerUsers);
    changed = true;
  }
  if (changed) push(Action::SendHeartbeat);
}

// --- lease and peer liveness -------------------------------------------------------------

bool Srm::witnessFresh(int64_t now) const {
  return witnessHeard_ && now - witnessMs_ < fenceMs_;
}

bool Srm::leaseValid(int64_t now) const {
  if (!opt_.ha) return true;
  if (echoLease_ && now < echoLeaseUntilMs_) return true;
  return witnessFresh(now) && witness_.reachable;
}

int64_t Srm::leaseUntilMs() const {
  if (!opt_.ha) return std::numeric_limits<int64_t>::max();
  int64_t until = echoLease_ ? echoLeaseUntilMs_ : 0;
  if (witnessHeard_ && witness_.reachable) until = std::max(until, witnessMs_ + fenceMs_);
  return until;
}

bool Srm::peerFresh(int64_t now) const {
  return peer_ && !peer_->goingDown && now - peerRecvMs_ < timeoutMs_;
}

bool Srm::peerGoneByWitness(int64_t now) const {
  return witnessFresh(now) && witness_.reachable && !witness_.peerAlive;
}

bool Srm::criticalServicesOk() const {
  return std::none_of(serviceDown_.begin(), serviceDown_.end(), [](bool d) { return d; });
}

// Split-brain rule 1: no lease, no serving.
void Srm::checkLease(int64_t now) {
  if (!opt_.ha || !started_ || down_) return;
  if (leaseValid(now) || (!claimMine_ && !claimPeer_)) return;
  setClaims(false, false);
  if (state_ == State::RunningInFailedMode && !isolated_) return;  // stays failed: Recover
  isolated_ = true;
  enter(now, State::RunningInFailedMode, Reason::PeerDown);
}

// --- timers ----------------------------------------------------------------------------

void Srm::onTick(int64_t nowMs) {
  if (!started_ || down_) return;
  lastEventMs_ = nowMs;
  checkLease(nowMs);
  runTimers(nowMs);
}

void Srm::runTimers(int64_t now) {
  if (!started_ || down_) return;
  if (opt_.ha) {
    const int64_t silentSince = peer_ ? std::max(peerRecvMs_, initSinceMs_) : initSinceMs_;
    if (state_ == State::Initializing) {
      if (now - silentSince >= initTimeoutMs_ && peerGoneByWitness(now))
        onPeerSilent(now, Reason::PeerDownDuringInitialization);
    } else if (now - (peer_ ? peerRecvMs_ : initSinceMs_) >= timeoutMs_ &&
               peerGoneByWitness(now)) {
      onPeerSilent(now, Reason::PeerDown);
    }
    if (!criticalServicesOk() && now - servicesDownSinceMs_ >= serviceDelayMs_)
      onServicesDownTooLong(now);
    maybeAutomaticFallback(now);
    if (isTransition(state_) && now - enteredMs_ >= transitionMs_) onTransitionTimeout(now);
  }
  if (now - lastSentMs_ >= intervalMs_) push(Action::SendHeartbeat);
}

// The peer is gone (split-brain rule 2) or said goodbye: serve everyone if this node can.
void Srm::onPeerSilent(int64_t now, Reason why) {
  const bool ok = criticalServicesOk();
  switch (state_) {
    case State::Initializing:
      if (role_ == Role::Idle) return;  // the admin took this node out of service
      break;
    case State::Normal:
    case State::FallingBack: break;
    case State::FailedOver:
    case State::TakingBack:
    case State::FailingOver:
      if (!ok) return;
      break;
    case State::RunningInFailedMode:
      if (!isolated_ || !ok) return;  // a failed node takes nothing new until Recover
      break;
    default: return;  // already serves everyone, or Idle / services down
  }
  isolated_ = false;
  setClaims(true, true);
  enter(now, State::TakingOver, why);
}

Reason Srm::serviceReason(bool autoRecover) const {
  const bool store = serviceDown_[static_cast<size_t>(Service::Store)];
  if (autoRecover)
    return store ? Reason::AutoRecoverDatabaseFailure : Reason::AutoRecoverCriticalServiceDown;
  return store ? Reason::DatabaseFailure : Reason::CriticalServiceDown;
}

void Srm::onServicesDownTooLong(int64_t now) {
  if (!peerFresh(now) || !leaseValid(now)) return;  // nobody to hand over to: carry on
  const Heartbeat& p = *peer_;
  if (state_ == State::Normal) {
    if (p.state == State::Normal && p.criticalServicesOk) {
      setClaims(false, false);
      enter(now, State::FailingOver, serviceReason(false));
    } else if (!p.criticalServicesOk) {
      fail(now, serviceReason(false), true);  // both nodes' services down: failed state
    }
  } else if (isBackup(state_)) {
    if (p.state == State::FailedOver && p.criticalServicesOk) {
      setClaims(false, false);  // auto-recovery: the healthy failed-over peer serves all
      enter(now, State::FailoverAffectedServices, serviceReason(true));
    } else {
      fail(now, serviceReason(false), true);
    }
  }
}

void Srm::maybeAutomaticFallback(int64_t now) {
  if (!opt_.params.automaticFallback || state_ != State::FailedOver) return;
  if (!criticalServicesOk() || !peerFresh(now) || !leaseValid(now)) return;
  if (!isBackup(peer_->state) || now - healthySinceMs_ < fallbackDelayMs_) return;
  enter(now, State::TakingBack, Reason::AutomaticFallback);
}

void Srm::onTransitionTimeout(int64_t now) {
  switch (state_) {
    case State::TakingOver: fail(now, Reason::TakeOverUsersFailed, true); break;
    case State::FailingOver: fail(now, Reason::TakeOverUsersFailed, false); break;
    case State::TakingBack: fail(now, Reason::TakeBackUsersFailed, false); break;
    case State::FallingBack: fail(now, Reason::TakeBackUsersFailed, true); break;
    default: break;
  }
}

// Running in Failed Mode keeps at most the node's own users, never the peer's.
void Srm::fail(int64_t now, Reason why, bool keepOwn) {
  setClaims(keepOwn && claimMine_, false);
  isolated_ = false;
  enter(now, State::RunningInFailedMode, why);
}

void Srm::reinitialize(int64_t now) {
  setClaims(false, false);
  isolated_ = false;
  if (role_ != Role::Home) {
    role_ = Role::Home;
    push(Action::PersistRole);
  }
  initSinceMs_ = now;
  enter(now, State::Initializing, Reason::Initialization);
  push(Action::SendHeartbeat);
}

// --- other inputs ------------------------------------------------------------------------

void Srm::start(int64_t nowMs, uint64_t incarnation, Role persisted) {
  if (started_) return;
  started_ = true;
  incarnation_ = incarnation;
  lastEventMs_ = nowMs;
  initSinceMs_ = nowMs;
  lastSentMs_ = nowMs;
  if (!opt_.ha) {
    enter(nowMs, State::Normal, Reason::Normal);
    setClaims(true, false);
    return;
  }
  role_ = persisted;
  enter(nowMs, State::Initializing, Reason::Initialization);
}

void Srm::shutdown(int64_t nowMs) {
  if (!started_ || down_) return;
  lastEventMs_ = nowMs;
  setClaims(false, false);
  down_ = true;
  state_ = State::Unknown;
  reason_ = Reason::None;
  push(Action::StateChanged);
  push(Action::SendHeartbeat);
}

void Srm::onWitness(int64_t nowMs, WitnessView view) {
  if (!started_ || down_) return;
  lastEventMs_ = nowMs;
  checkLease(nowMs);
  witness_ = view;
  witnessMs_ = nowMs;
  witnessHeard_ = true;
  runTimers(nowMs);
}

void Srm::onCriticalService(int64_t nowMs, Service which, bool up) {
  if (!started_ || down_) return;
  lastEventMs_ = nowMs;
  checkLease(nowMs);
  const bool wasOk = criticalServicesOk();
  serviceDown_[static_cast<size_t>(which)] = !up;
  const bool ok = criticalServicesOk();
  if (wasOk && !ok) servicesDownSinceMs_ = nowMs;
  if (opt_.ha) {
    if (!up && state_ == State::TakingBack) {
      fail(nowMs, Reason::StartOfCriticalServicesFailed, false);
    } else if (!ok && state_ == State::FailedOver) {
      enter(nowMs, State::FailedOverCriticalServicesNotRunning, serviceReason(false));
    } else if (ok && (state_ == State::FailedOverCriticalServicesNotRunning ||
                      state_ == State::FailoverAffectedServices)) {
      enter(nowMs, State::FailedOver, reason_);
    }
    if (ok != wasOk) push(Action::SendHeartbeat);  // criticalServicesOk is in the heartbeat
  }
  runTimers(nowMs);
}

// --- admin commands and completions ------------------------------------------------------

Status Srm::requestFailover(int64_t nowMs) {
  if (!opt_.ha) return Status::fail("no-peer");
  if (!started_ || down_) return Status::fail("not-started");
  lastEventMs_ = nowMs;
  checkLease(nowMs);
  if (state_ != State::Normal) return badState(state_);
  if (!peerFresh(nowMs) || !leaseValid(nowMs) || peer_->state != State::Normal ||
      !peer_->criticalServicesOk)
    return Status::fail("peer-unavailable", "the peer must be reachable, Normal and healthy");
  setClaims(false, false);
  enter(nowMs, State::FailingOver, Reason::OnAdminRequest);
  return Status::ok();
}

Status Srm::requestFallback(int64_t nowMs) {
  if (!opt_.ha) return Status::fail("no-peer");
  if (!started_ || down_) return Status::fail("not-started");
  lastEventMs_ = nowMs;
  checkLease(nowMs);
  const bool reachable = peerFresh(nowMs) && leaseValid(nowMs);
  if (state_ == State::FailedOverCriticalServicesNotRunning ||
      state_ == State::FailoverAffectedServices)
    return Status::fail("critical-services-down");
  if (state_ == State::Idle || state_ == State::FailedOver) {
    if (!reachable || !isBackup(peer_->state))
      return Status::fail("peer-unavailable", "the peer must be reachable and serve my users");
    enter(nowMs, State::TakingBack, Reason::OnAdminRequest);
    return Status::ok();
  }
  if (isBackup(state_)) {
    if (!reachable) return Status::fail("peer-unavailable");
    if (peer_->state == State::FailedOverCriticalServicesNotRunning ||
        peer_->state == State::FailoverAffectedServices)
      return Status::fail("critical-services-down", "on the peer");
    if (peer_->state != State::Idle && peer_->state != State::FailedOver)
      return Status::fail("peer-unavailable", "the peer is not failed over");
    setClaims(claimMine_, false);
    enter(nowMs, State::FallingBack, Reason::OnAdminRequest);
    return Status::ok();
  }
  return badState(state_);
}

Status Srm::requestRecover(int64_t nowMs) {
  if (!opt_.ha) return Status::fail("no-peer");
  if (!started_ || down_) return Status::fail("not-started");
  lastEventMs_ = nowMs;
  checkLease(nowMs);
  const bool peerFailed = peerFresh(nowMs) && peer_->state == State::RunningInFailedMode;
  if (state_ != State::RunningInFailedMode && !peerFailed) return badState(state_);
  ++recoverSeq_;
  reinitialize(nowMs);
  return Status::ok();
}

Status Srm::takeoverComplete(int64_t nowMs) {
  if (!started_ || down_) return Status::fail("not-started");
  lastEventMs_ = nowMs;
  checkLease(nowMs);
  if (state_ != State::TakingOver) return badState(state_);
  enter(nowMs, State::RunningInBackupMode, reason_);
  return Status::ok();
}

Status Srm::takebackComplete(int64_t nowMs) {
  if (!started_ || down_) return Status::fail("not-started");
  lastEventMs_ = nowMs;
  checkLease(nowMs);
  if (state_ != State::TakingBack) return badState(state_);
  if (!claimMine_) return Status::fail("bad-state", "the peer has not released the users yet");
  enter(nowMs, State::Normal, Reason::Normal);
  return Status::ok();
}

void Srm::takeoverFailed(int64_t nowMs) {
  if (!started_ || down_ || state_ != State::TakingOver) return;
  lastEventMs_ = nowMs;
  fail(nowMs, Reason::TakeOverUsersFailed, true);
}

void Srm::takebackFailed(int64_t nowMs) {
  if (!started_ || down_ || state_ != State::TakingBack) return;
  lastEventMs_ = nowMs;
  fail(nowMs, Reason::TakeBackUsersFailed, false);
}

// --- outputs ---------------------------------------------------------------------------

Serving Srm::serving(int64_t nowMs) const {
  if (!started_ || down_) return {};
  const bool lease = leaseValid(nowMs);
  return {claimMine_ && lease, claimPeer_ && lease};
}

Server Srm::myUsersServedBy(int64_t nowMs) const {
  if (serving(nowMs).myUsers) return Server::Me;
  if (peerFresh(nowMs) && peer_->servesPeerUsers) return Server::Peer;
  return Server::Nobody;
}

Heartbeat Srm::makeHeartbeat(int64_t nowMs) {
  Heartbeat hb;
  hb.incarnation = incarnation_;
  hb.seq = ++seq_;
  hb.sentMs = nowMs;
  lastSentMs_ = nowMs;
  if (peer_) {
    hb.echoIncarnation = peer_->incarnation;
    hb.echoMs = peer_->sentMs;
  }
  hb.wantsReply = opt_.ha && !down_ && (!echoLease_ || echoLeaseUntilMs_ - nowMs < intervalMs_);
  hb.state = state_;
  hb.reason = reason_;
  hb.role = role_;
  hb.criticalServicesOk = criticalServicesOk();
  hb.servesOwnUsers = claimMine_;
  hb.servesPeerUsers = claimPeer_;
  hb.ownClaimEpoch = mineEpoch_;
  hb.peerClaimEpoch = peerEpoch_;
  hb.epoch = epoch_;
  hb.recoverSeq = recoverSeq_;
  hb.recoverAck = peerRecoverSeen_;
  hb.goingDown = down_;
  return hb;
}

int64_t Srm::nextTickMs() const {
  int64_t next = lastSentMs_ + intervalMs_;
  if (!opt_.ha || !started_ || down_) return next;
  auto consider = [&](int64_t t) {
    if (t > lastEventMs_ && t < next) next = t;
  };
  if (echoLease_) consider(echoLeaseUntilMs_);
  if (witnessHeard_) consider(witnessMs_ + fenceMs_);
  if (state_ == State::Initializing)
    consider((peer_ ? std::max(peerRecvMs_, initSinceMs_) : initSinceMs_) + initTimeoutMs_);
  else
    consider((peer_ ? peerRecvMs_ : initSinceMs_) + timeoutMs_);
  if (!criticalServicesOk()) consider(servicesDownSinceMs_ + serviceDelayMs_);
  if (state_ == State::FailedOver && opt_.params.automaticFallback)
    consider(healthySinceMs_ + fallbackDelayMs_);
  if (isTransition(state_)) consider(enteredMs_ + transitionMs_);
  return next;
}

Report Srm::report(int64_t nowMs) const {
  Report r;
  r.state = state_;
  r.reason = reason_;
  r.role = role_;
  r.peerReachable = peerFresh(nowMs);
  if (r.peerReachable) {
    r.peerState = peer_->state;
    r.peerReason = peer_->reason;
  }
  r.leaseValid = started_ && !down_ && leaseValid(nowMs);
  r.isolated = isolated_;
  r.criticalServicesOk = criticalServicesOk();
  r.witnessReachable = witnessFresh(nowMs) && witness_.reachable;
  r.serving = serving(nowMs);
  r.myUsersServedBy = myUsersServedBy(nowMs);
  r.epoch = epoch_;
  return r;
}

}  // namespace xmesh::srm
