// The values the SRM exchanges with its node: the heartbeat it sends its PRG peer, the
// witness report and service health it is fed, the actions it asks the node to execute,
// its options and its status report. Plain structs; srm.h explains the protocol.
#pragma once
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "srm/state.h"
#include "topology/topology.h"

namespace xmesh::srm {

// What a node tells its PRG peer about itself, every heartbeat interval and at once after
// any change. The node carries it over the r2r link (or any path, relayed by other nodes
// of the mesh); the transport is not the SRM's business, but it must not reorder
// heartbeats of one incarnation (stale or duplicate ones are dropped by seq anyway).
struct Heartbeat {
  uint64_t incarnation = 0;  // the sender's start id; a later start has a larger value
  uint64_t seq = 0;          // per incarnation, from 1
  int64_t sentMs = 0;        // sender's clock when built
  // Two-way contact proof (the lease, see srm.h): the receiver's own heartbeat that the
  // sender received last, named by the receiver's incarnation and clock.
  uint64_t echoIncarnation = 0;  // 0: the sender has not heard the receiver yet
  int64_t echoMs = 0;
  bool wantsReply = false;  // the sender needs an echo soon: answer at once

  State state = State::Unknown;
  Reason reason = Reason::None;
  Role role = Role::Home;  // durable role; what an initializing node intends
  bool criticalServicesOk = true;
  bool servesOwnUsers = false;   // the sender serves its own home users
  bool servesPeerUsers = false;  // the sender serves the receiver's home users
  uint64_t ownClaimEpoch = 0;    // epoch at which each claim was made (0: no claim)
  uint64_t peerClaimEpoch = 0;
  uint64_t epoch = 0;            // the largest epoch the sender knows
  uint32_t recoverSeq = 0;       // admin Recover requests made on the sender
  uint32_t recoverAck = 0;       // the receiver's recoverSeq the sender has acted on
  bool goingDown = false;        // orderly shutdown/reboot: the sender serves nobody now
};

// The quorum witness as the node sees it (e.g. a majority of the other mesh nodes over
// r2r, or the shared store when the mesh is this PRG alone). Contract, relied on by the
// split-brain rules in srm.h: a report with reachable=true at time t means the witness
// heard this node at about t, so the peer will not be told peerAlive=false before
// t + heartbeatTimeout; peerAlive=false means the witness has not heard the peer (at the
// application level, so a SIGSTOPped peer counts as gone) for heartbeatTimeout.
struct WitnessView {
  bool reachable = false;
  bool peerAlive = true;
};

// Critical services. A Store failure is reported as "Database Failure".
enum class Service : uint8_t { C2s = 0, R2r, Store, kCount };
inline constexpr size_t kServiceCount = static_cast<size_t>(Service::kCount);
std::string_view slug(Service s);  // "c2s", "r2r", "store"

// What the node must do. Serving actions are emitted exactly when the corresponding
// claim changes, stops before starts, so executing them in order never overlaps.
enum class Action : uint8_t {
  SendHeartbeat = 0,      // call makeHeartbeat() and send it to the peer
  StartServingMyUsers,    // take back / resume my home users (accept, route, announce)
  StopServingMyUsers,     // hand over my home users: stop routing to them now
  StartServingPeerUsers,  // take over the peer's users (activate inactive sessions)
  StopServingPeerUsers,   // give the peer's users back (announce fallback, demote)
  PersistRole,            // store role() durably; pass it to start() after a restart
  StateChanged,           // state()/reason() changed: log, metrics, tell the mesh
  kCount
};
std::string_view slug(Action a);

struct Options {
  topology::SrmParams params;
  // false: a 1-node PRG or a group without HA. The node has no SRM peer: it is Normal
  // from start() on and always serves its own users; heartbeats and admin commands
  // that need a peer are refused.
  bool ha = true;
  // A transition (Taking Over, Failing Over, Taking Back, Falling Back) that has not
  // completed after this long ends in Running in Failed Mode.
  std::chrono::milliseconds transitionTimeout{60'000};
};

// Who serves whom now, from this node's point of view.
struct Serving {
  bool myUsers = false;    // this node serves its own home users
  bool peerUsers = false;  // this node serves its peer's home users
  bool operator==(const Serving&) const = default;
};

// Who serves this node's home users now, as far as this node knows: itself, its peer
// (by the peer's last fresh heartbeat), or nobody (moving, failed, or unknown).
enum class Server : uint8_t { Me = 0, Peer, Nobody };

// A snapshot for /status and metrics.
struct Report {
  State state = State::Unknown;
  Reason reason = Reason::None;
  Role role = Role::Home;
  State peerState = State::Unknown;  // as its last heartbeat said; Unknown if none fresh
  Reason peerReason = Reason::None;
  bool peerReachable = false;  // a heartbeat within heartbeatTimeout
  bool leaseValid = false;     // may serve (see srm.h, split brain)
  bool isolated = false;       // stopped serving because it lost peer and witness
  bool criticalServicesOk = true;
  bool witnessReachable = false;
  Serving serving;
  Server myUsersServedBy = Server::Nobody;
  uint64_t epoch = 0;
};

}  // namespace xmesh::srm
