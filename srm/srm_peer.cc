// Srm: what a heartbeat from the PRG peer changes. Order per heartbeat: fence on the old
// lease, record (which may renew it), goodbye, recover requests, then, only with a valid
// lease, the backstop, failures to follow, and the state's own reaction.
#include <algorithm>

#include "srm/srm.h"

namespace xmesh::srm {
namespace {

bool isBackup(State s) { return s == State::RunningInBackupMode || s == State::BackupActivated; }

bool isFailedOver(State s) {
  return s == State::Idle || s == State::FailedOver ||
         s == State::FailedOverCriticalServicesNotRunning ||
         s == State::FailoverAffectedServices;
}

// Failures the partner of a transition (or the failed-over node of a failed backup)
// adopts, so both nodes show the seeds' pair "Running in Failed Mode / same reason".
bool isSharedFailure(Reason r) {
  return r == Reason::TakeOverUsersFailed || r == Reason::TakeBackUsersFailed ||
         r == Reason::StartOfCriticalServicesFailed || r == Reason::CriticalServiceDown ||
         r == Reason::DatabaseFailure;
}

}  // namespace

void Srm::onPeerHeartbeat(int64_t nowMs, const Heartbeat& hb) {
  if (!started_ || down_ || !opt_.ha) return;
  lastEventMs_ = nowMs;
  checkLease(nowMs);  // a node woken from SIGSTOP fences before it reads anything
  bool newIncarnation = false;
  if (record(nowMs, hb, newIncarnation) && current(nowMs, hb)) reactToPeer(nowMs, hb, newIncarnation);
  runTimers(nowMs);
}

// A heartbeat that echoes one of ours older than the timeout was written by a peer that
// had not heard from us for that long: it was held on the way (a cut the TCP connection
// survived) and describes a past the peer may have left since (it took our users over
// meanwhile). Its order and echo still count (record); decisions wait for a current one.
bool Srm::current(int64_t now, const Heartbeat& hb) const {
  if (hb.echoIncarnation != incarnation_ || hb.echoMs <= 0) return true;  // nothing to judge by
  return now - hb.echoMs <= timeoutMs_;
}

// Drops stale and duplicate heartbeats; keeps the view, the echo lease and the epoch.
bool Srm::record(int64_t now, const Heartbeat& hb, bool& newIncarnation) {
  if (peer_) {
    if (hb.incarnation < peer_->incarnation) return false;
    if (hb.incarnation == peer_->incarnation && hb.seq <= peer_->seq) return false;
  }
  newIncarnation = !peer_ || hb.incarnation != peer_->incarnation;
  if (newIncarnation) peerRecoverSeen_ = hb.recoverSeq;  // a restart is not a request
  peer_ = hb;
  peerRecvMs_ = now;
  epoch_ = std::max(epoch_, hb.epoch);
  if (hb.echoIncarnation == incarnation_ && hb.echoMs <= now) {
    const int64_t until = hb.echoMs + fenceMs_;
    if (!echoLease_ || until > echoLeaseUntilMs_) echoLeaseUntilMs_ = until;
    echoLease_ = true;
  }
  if (hb.wantsReply) push(Action::SendHeartbeat);
  return true;
}

void Srm::reactToPeer(int64_t now, const Heartbeat& hb, bool newIncarnation) {
  if (hb.goingDown) {
    if (leaseValid(now)) onPeerSilent(now, Reason::PeerReboot);  // consent: it released all
    return;
  }
  if (hb.recoverSeq != peerRecoverSeen_) {  // Recover asked on the peer: restart here too
    peerRecoverSeen_ = hb.recoverSeq;
    reinitialize(now);
  }
  if (newIncarnation && state_ == State::RunningInFailedMode && !isolated_)
    enter(now, State::RunningInFailedMode, Reason::Unknown);  // the peer restarted meanwhile
  if (!leaseValid(now)) return;  // possibly isolated: decide nothing on its word
  resolveConflicts(now, hb);
  if (mirrorFailure(now, hb)) return;
  switch (state_) {
    case State::Initializing:
      if (hb.recoverAck == recoverSeq_) settle(now, hb, Reason::Initialization);
      break;
    case State::RunningInFailedMode:
      // Healing (rule 4). An initializing peer settles first: it sees this node claiming
      // nothing and takes only its own users, whatever the durable roles say.
      if (isolated_ && hb.state != State::Initializing) settle(now, hb, Reason::PeerDown);
      break;
    default: followPeer(now, hb); break;
  }
}

// Where an initializing (or healing) node stands, from the peer's word. An isolated peer
// (Running in Failed Mode / Peer Down) claims nothing and, healing, only claims its own
// users unless this node is failed over, so both sides of a healed split resume Normal.
void Srm::settle(int64_t now, const Heartbeat& hb, Reason why) {
  if (hb.state == State::RunningInFailedMode && hb.reason != Reason::PeerDown &&
      why == Reason::Initialization) {
    setClaims(false, false);
    isolated_ = false;
    enter(now, State::RunningInFailedMode, Reason::Unknown);
    return;
  }
  isolated_ = false;
  if (hb.servesPeerUsers) {  // the peer serves my users: I am failed over
    setClaims(false, false);
    failedOverState(now, why);
    return;
  }
  if (hb.state == State::FailingOver) {
    setClaims(true, true);
    enter(now, State::TakingOver, why);
    return;
  }
  if (hb.state == State::FallingBack) {  // it released my users: take them
    setClaims(true, false);
    enter(now, State::TakingBack, why);
    return;
  }
  if (isFailedOver(hb.state) && !hb.servesOwnUsers) {  // its users are mine to serve
    setClaims(true, true);
    enter(now, State::RunningInBackupMode, why);
    return;
  }
  if (hb.state == State::Initializing) {
    settleBothInitializing(now, hb);
    return;
  }
  setClaims(true, false);
  enter(now, State::Normal, Reason::Normal);
}

// Both starting: the durable roles decide, the same way on both sides. A Backup role is
// honoured only when the peer's role agrees that its users are away.
void Srm::settleBothInitializing(int64_t now, const Heartbeat& hb) {
  const bool peerAway = hb.role == Role::Idle || hb.role == Role::FailedOver;
  const bool meAway = role_ == Role::Idle || role_ == Role::FailedOver;
  if (role_ == Role::Backup && peerAway) {
    setClaims(true, true);
    enter(now, State::RunningInBackupMode, Reason::Initialization);
  } else if (meAway && hb.role == Role::Backup) {
    setClaims(false, false);
    failedOverState(now, Reason::Initialization);
  } else {
    setClaims(true, false);
    enter(now, State::Normal, Reason::Normal);
  }
}

void Srm::failedOverState(int64_t now, Reason why) {
  if (role_ == Role::Idle) {
    enter(now, State::Idle, why);
  } else {
    enter(now, criticalServicesOk() ? State::FailedOver
                                    : State::FailedOverCriticalServicesNotRunning,
          why);
  }
}

// The settled states' reactions: the consent steps of failover, fallback and recovery.
void Srm::followPeer(int64_t now, const Heartbeat& hb) {
  switch (state_) {
    case State::Normal:
      if (hb.state == State::FailingOver && !hb.servesOwnUsers) {
        setClaims(true, true);
        enter(now, State::TakingOver, hb.reason);
      }
      break;
    case State::FailingOver:
      if (isBackup(hb.state) && hb.servesPeerUsers) {
        if (reason_ == Reason::OnAdminRequest) {
          enter(now, State::Idle, reason_);
        } else {
          failedOverState(now, reason_);
        }
      }
      break;
    case State::TakingBack:
      if (!claimMine_ && !hb.servesPeerUsers &&
          (hb.state == State::FallingBack || hb.state == State::Normal))
        setClaims(true, false);
      break;
    case State::RunningInBackupMode:
    case State::BackupActivated:
      if (hb.state == State::TakingBack && !hb.servesOwnUsers) {
        setClaims(claimMine_, false);
        enter(now, State::FallingBack, hb.reason);
      }
      break;
    case State::FallingBack:
      if (hb.state == State::Normal && hb.servesOwnUsers) enter(now, State::Normal, Reason::Normal);
      break;
    case State::FailedOver:
      if (hb.state == State::FailoverAffectedServices && !hb.servesOwnUsers &&
          !hb.servesPeerUsers) {
        setClaims(true, true);  // auto-recovery: serve everyone
        enter(now, State::BackupActivated, hb.reason);
        break;
      }
      [[fallthrough]];
    case State::Idle:
      if (hb.state == State::FallingBack && !hb.servesPeerUsers) {  // fallback from the backup
        setClaims(true, false);
        enter(now, State::TakingBack, hb.reason);
      }
      break;
    default: break;
  }
}

bool Srm::mirrorFailure(int64_t now, const Heartbeat& hb) {
  if (hb.state != State::RunningInFailedMode || !isSharedFailure(hb.reason)) return false;
  if (!isTransition(state_) && !isFailedOver(state_)) return false;
  fail(now, hb.reason, true);
  return true;
}

// Backstop rule 5: both claim one set. The older claim yields; a tie goes to the home.
void Srm::resolveConflicts(int64_t now, const Heartbeat& hb) {
  bool yielded = false;
  if (claimMine_ && hb.servesPeerUsers && hb.peerClaimEpoch > mineEpoch_) {
    setClaims(false, claimPeer_);
    yielded = true;
  }
  if (claimPeer_ && hb.servesOwnUsers && hb.ownClaimEpoch >= peerEpoch_) {
    setClaims(claimMine_, false);
    yielded = true;
  }
  if (!yielded) return;
  if (claimPeer_) {
    enter(now, State::RunningInBackupMode, Reason::PeerDown);
  } else if (claimMine_) {
    enter(now, State::Normal, Reason::Normal);
  } else {
    failedOverState(now, Reason::PeerDown);
  }
}

}  // namespace xmesh::srm
