// The Server Recovery Manager (SPEC §4, seeds 003/004) of ONE node of a presence
// redundancy group (PRG), as a sans-IO state machine: events in (each with the node's
// monotonic clock in ms), state, serving decision, heartbeat and actions out. No libuv,
// sockets or threads; the node wiring owns the timer, the transport and the user moves.
//
// Driving it. Call start() once, then feed every event as it happens and call onTick()
// at nextTickMs() (or more often). After each call, drain takeActions() and execute them
// in order, each Stop* before anything is sent: SendHeartbeat ("send makeHeartbeat(now)
// to the peer") always comes last, and the heartbeat it sends may tell the peer that
// users were released. Before serving a user, ask serving(now): it is lease-checked, so
// it is right even when the process was frozen and no event has run since it woke up.
//
// Parameters. Keep heartbeatTimeout >= 3 x heartbeatInterval (the defaults are 4x):
// the lease below must outlast two heartbeat intervals plus the transit time, or a node
// without a witness fences itself between heartbeats. (The topology loader only checks
// timeout > interval.)
//
// The two user sets. "My users" are the users homed on this node, "peer users" those
// homed on the PRG peer. Each node claims (serves) each set or not; the claims travel in
// heartbeats. The state (seeds' names) labels where the group stands:
//   Initializing, Idle, Failing Over, Failed Over (with Critical Services Not Running),
//   Failover Affected Services, Unknown ........ serves nobody
//   Normal, Falling Back ....................... serves its own users
//   Taking Over, Running in Backup Mode,
//   Backup Activated ........................... serves the peer's users and its own
//   Taking Back ................................ its own, once the peer has released them
//   Running in Failed Mode ..................... at most its own users (what it served
//                                                when the error happened), never the peer's
//
// Transitions (node 1 = the node whose users move):
// - Manual failover: requestFailover() on node 1 (Normal, peer Normal and healthy):
//   node 1 stops serving its users and goes Failing Over; node 2 sees that and goes
//   Taking Over, starts serving them, and the wiring reports takeoverComplete():
//   Running in Backup Mode; node 1 sees that and goes Idle. Reason On Admin Request.
// - Automatic failover: a critical service down for criticalServiceDelay on a Normal
//   node whose peer is Normal and healthy: the same with reason Critical Service Down
//   (Database Failure when the store is down); node 1 ends Failed Over with Critical
//   Services Not Running, and Failed Over once its services are up again.
// - Peer loss: see split brain below; node 2 goes Taking Over (Peer Down, or Peer Reboot
//   when the peer said goodbye with shutdown(), or Peer Down During Initialization when
//   it never appeared within initHeartbeatTimeout of start) then Running in Backup Mode.
// - Fallback: requestFallback() on the failed-over node (Idle, or Failed Over with its
//   services up) or on the backup: node 1 Taking Back, node 2 Falling Back (stops
//   serving node 1's users), node 1 serves them and the wiring reports
//   takebackComplete(): both Normal. Automatic fallback (params.automaticFallback): a
//   Failed Over node (not Idle) healthy for automaticFallbackDelay starts it itself with
//   reason Automatic Fallback.
// - Auto-recovery: the backup's critical services down for criticalServiceDelay while
//   its peer is Failed Over and healthy: the backup stops serving everyone (Failover
//   Affected Services) and the peer serves everyone (Backup Activated), reason Auto
//   Recover Critical Service Down / Database Failure. If the peer cannot (Idle, services
//   down) both go Running in Failed Mode (Critical Service Down).
// - Failures: a transition that neither completes nor fails within
//   options.transitionTimeout, takeoverFailed()/takebackFailed(), or services failing
//   while Taking Back (Start of Critical Services Failed) end in Running in Failed Mode;
//   the partner in the transition follows with the same reason. A node that (re)starts
//   while its peer is Running in Failed Mode goes Running in Failed Mode (Unknown), and
//   so does the peer's reason. requestRecover() (on either node, when one of them is
//   Running in Failed Mode) re-initializes both nodes from a clean slate, which settles
//   both Normal when they are healthy.
// - Restarts: the node persists role() (PersistRole) and gives it back to start(). An
//   initializing node serves nobody until it has a peer heartbeat it can trust (lease
//   valid) and settles from it: the peer serves my users -> Idle (role Idle) or Failed
//   Over (with Critical Services Not Running), reason Initialization; the peer is failed
//   over to me -> Running in Backup Mode (Initialization); the peer is Failing Over ->
//   Taking Over (Initialization); the peer is Falling Back -> Taking Back
//   (Initialization); both initializing -> the durable roles decide (a Backup role is
//   honoured only if the peer's role agrees it is failed over); otherwise Normal.
//
// Split brain: the rule that at most one node serves a user set.
// 1. Lease. A node may serve only while it holds a lease: its peer's heartbeat echoed
//    one of its own heartbeats sent less than F ago, or the witness reported it
//    reachable less than F ago, where F = heartbeatTimeout - min(heartbeatInterval,
//    heartbeatTimeout / 2). A node whose lease runs out while it serves anybody stops
//    at once: Running in Failed Mode (Peer Down), "isolated". serving(now) checks the
//    lease itself, so a node woken from SIGSTOP never serves on its stale state, even
//    before its first event.
// 2. Takeover without consent. A node takes over its peer's users without the peer's
//    own heartbeat saying it let them go only if the peer has been silent for
//    heartbeatTimeout (initHeartbeatTimeout while initializing) AND a fresh witness
//    report says: reachable, peer not alive. A silent peer with no witness, or one the
//    witness still sees alive (the heartbeat link alone is cut), is never taken over:
//    both keep serving their own users (with the witness) or both fence (without).
//    Safety: the peer's lease rests on an echo of a heartbeat that this node received
//    no later than its silence began, so it expired at least min(interval, timeout/2)
//    before this node takes over; by the witness contract (types.h) its witness lease
//    has run out too.
// 3. Consent. Every other claim follows a heartbeat in which the peer released the set
//    (Failing Over, Falling Back, failed-over states, goodbye) and is made only while the
//    lease is valid; a node that released a set re-claims it only through the same
//    rules, so the two never overlap.
// 4. Healing. An isolated node that hears its peer again (with a valid lease) settles as
//    an initializing node would: if the peer took its users over it becomes Failed Over
//    (Peer Down), ready for a fallback; otherwise it resumes Normal. A woken SIGSTOPped
//    node therefore learns from the peer's heartbeat that it was failed over before it
//    serves any stanza.
// 5. Backstop. Every claim carries an epoch: a node claiming a set it did not serve
//    takes max(epochs seen) + 1. Should both nodes ever claim the same set (only if the
//    witness broke its contract), the first heartbeat that shows it makes the older claim
//    yield; on equal epochs the set's home node keeps it.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/status.h"
#include "srm/state.h"
#include "srm/types.h"

namespace xmesh::srm {

class Srm {
 public:
  explicit Srm(Options options);

  // --- inputs --------------------------------------------------------------------------
  // Starts the SRM: Initializing (Initialization), or Normal at once without HA.
  // `incarnation` must grow across restarts of the node (e.g. wall-clock ms at start);
  // `persisted` is the last role() the node stored (Home on first start).
  void start(int64_t nowMs, uint64_t incarnation, Role persisted = Role::Home);
  // Orderly shutdown/reboot: stops serving everyone and asks for one last heartbeat
  // carrying goingDown, on which the peer takes over at once (Peer Reboot). The SRM is
  // inert afterwards (state Unknown).
  void shutdown(int64_t nowMs);
  void onTick(int64_t nowMs);
  void onPeerHeartbeat(int64_t nowMs, const Heartbeat& hb);
  void onWitness(int64_t nowMs, WitnessView view);
  void onCriticalService(int64_t nowMs, Service which, bool up);

  // Admin commands (xmeshctl). Errors: "no-peer", "not-started", "bad-state" (the detail
  // names the state), "peer-unavailable", "critical-services-down".
  Status requestFailover(int64_t nowMs);  // move my users to the peer
  Status requestFallback(int64_t nowMs);  // bring the failed-over node's users home
  Status requestRecover(int64_t nowMs);   // re-initialize both nodes after a failure

  // Completion of the user moves the node executes ("bad-state" when not expected).
  Status takeoverComplete(int64_t nowMs);  // Taking Over -> Running in Backup Mode
  Status takebackComplete(int64_t nowMs);  // Taking Back (users released) -> Normal
  void takeoverFailed(int64_t nowMs);      // -> Running in Failed Mode (Take Over ...)
  void takebackFailed(int64_t nowMs);      // -> Running in Failed Mode (Take Back ...)

  // --- outputs -------------------------------------------------------------------------
  State state() const { return state_; }
  Reason reason() const { return reason_; }
  Role role() const { return role_; }
  bool criticalServicesOk() const;
  Serving serving(int64_t nowMs) const;  // claims, gated by the lease
  // Until when (SRM clock) the current lease lasts if nothing new is heard: a wiring
  // that caches serving() for other threads must stop trusting it at this time.
  int64_t leaseUntilMs() const;
  // The epoch of the current claim on my (mine) or the peer's users; 0 without a claim.
  uint64_t claimEpoch(bool mine) const { return (mine ? claimMine_ : claimPeer_) ? (mine ? mineEpoch_ : peerEpoch_) : 0; }
  Server myUsersServedBy(int64_t nowMs) const;
  Heartbeat makeHeartbeat(int64_t nowMs);
  std::vector<Action> takeActions();
  int64_t nextTickMs() const;  // the next deadline after the last event's time
  Report report(int64_t nowMs) const;

 private:
  // srm.cc: bookkeeping, lease, timers, commands.
  void enter(int64_t now, State s, Reason r);
  void setClaims(bool mine, bool peer);
  void push(Action a);
  bool leaseValid(int64_t now) const;
  bool witnessFresh(int64_t now) const;
  bool peerFresh(int64_t now) const;
  bool peerGoneByWitness(int64_t now) const;
  void checkLease(int64_t now);
  void runTimers(int64_t now);
  void onPeerSilent(int64_t now, Reason why);
  void onServicesDownTooLong(int64_t now);
  void onTransitionTimeout(int64_t now);
  void maybeAutomaticFallback(int64_t now);
  void fail(int64_t now, Reason why, bool keepOwn);
  void reinitialize(int64_t now);
  Reason serviceReason(bool autoRecover) const;

  // srm_peer.cc: reactions to the peer's heartbeat.
  bool record(int64_t now, const Heartbeat& hb, bool& newIncarnation);
  bool current(int64_t now, const Heartbeat& hb) const;
  void reactToPeer(int64_t now, const Heartbeat& hb, bool newIncarnation);
  void settle(int64_t now, const Heartbeat& hb, Reason why);
  void settleBothInitializing(int64_t now, const Heartbeat& hb);
  void followPeer(int64_t now, const Heartbeat& hb);
  bool mirrorFailure(int64_t now, const Heartbeat& hb);
  void resolveConflicts(int64_t now, const Heartbeat& hb);
  void failedOverState(int64_t now, Reason why);

  Options opt_;
  int64_t intervalMs_, timeoutMs_, initTimeoutMs_, fenceMs_, serviceDelayMs_,
      fallbackDelayMs_, transitionMs_;

  bool started_ = false;
  bool down_ = false;      // shutdown() was called
  bool isolated_ = false;  // Running in Failed Mode because the lease ran out
  State state_ = State::Unknown;
  Reason reason_ = Reason::None;
  Role role_ = Role::Home;
  uint64_t incarnation_ = 0;
  uint64_t seq_ = 0;
  int64_t lastEventMs_ = 0;
  int64_t enteredMs_ = 0;   // when state_ was entered
  int64_t initSinceMs_ = 0; // start of the current initialization
  int64_t lastSentMs_ = 0;
  bool heartbeatQueued_ = false;

  // Claims and epochs (backstop rule 5).
  bool claimMine_ = false;
  bool claimPeer_ = false;
  uint64_t mineEpoch_ = 0;
  uint64_t peerEpoch_ = 0;
  uint64_t epoch_ = 0;

  // The peer as its last heartbeat told.
  std::optional<Heartbeat> peer_;
  int64_t peerRecvMs_ = 0;
  int64_t echoLeaseUntilMs_ = 0;
  bool echoLease_ = false;
  uint32_t recoverSeq_ = 0;      // mine
  uint32_t peerRecoverSeen_ = 0; // the peer's, acted on

  WitnessView witness_;
  int64_t witnessMs_ = 0;
  bool witnessHeard_ = false;

  std::array<bool, kServiceCount> serviceDown_{};
  int64_t servicesDownSinceMs_ = 0;
  int64_t healthySinceMs_ = 0;  // Failed Over and healthy since (automatic fallback)

  std::vector<Action> actions_;
};

}  // namespace xmesh::srm
