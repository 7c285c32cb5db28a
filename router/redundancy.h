// The Server Recovery Manager of this node, wired (SPEC §4, seeds 003/004): the sans-IO
// srm::Srm driven by a timer on the mesh loop, heartbeats over the r2r link to the PRG
// peer (`<m:srm/>`), the shared store as the split-brain witness and the durable role,
// and the user moves the SRM asks for:
//   - serving claims announced to every node of the mesh (`<m:failover/>`), so each one
//     routes the moved users to whichever node serves them (MeshNode, FailoverView);
//   - this node's sessions told (Node::servingChanged: plain clients redirected with
//     see-other-host, dual clients activated or deactivated);
//   - logins and activations gated by what this node serves, with the lease checked at
//     the moment of the decision (a node woken from SIGSTOP serves nobody until its SRM
//     has heard its peer or the witness again).
//
// Witness. Every heartbeat interval the node stamps its row in the cluster's store
// (node_status, wall clock) and reads its peer's. The store answering is "reachable";
// the peer is "alive" while its stamp is younger than heartbeatTimeout plus a margin
// (kWitnessMarginMs: a stamp is read a little after it was written). A live peer stamps
// every heartbeat interval, so its stamp is never near that age; the margin only keeps
// the witness from calling a peer dead before its heartbeats have timed out too. It is
// small because it adds to every failover's detection time (1 s timeout: 1.1 s).
// The nodes of a cluster share its store, so a cut heartbeat link with both nodes alive
// never looks like a dead peer; a SIGSTOPped or killed node stops stamping. The clock is
// the wall clock: same host for SQLite; hosts must keep NTP time for a shared database.
//
// Threading: everything runs on the mesh loop except command() and the status readers,
// which hand over to it or read a snapshot under a mutex.
#pragma once
#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "r2r/unit.h"
#include "srm/srm.h"
#include "topology/topology.h"

namespace xmesh::router {

class Node;
class MeshNode;

class Redundancy {
 public:
  static constexpr int64_t kWitnessMarginMs = 100;

  Redundancy(Node& node, MeshNode& mesh, std::shared_ptr<const topology::Topology> topology,
             topology::NodeIndex self, topology::NodeIndex peer, uv_loop_t* loop);
  ~Redundancy();
  Redundancy(const Redundancy&) = delete;
  Redundancy& operator=(const Redundancy&) = delete;

  // Reads the durable role from the store (blocking: start-up only) and starts the SRM.
  Status start();
  // Orderly stop (mesh loop): tells the peer it is going down so it takes over at once.
  void shutdown();
  void close();  // closes the timer (after the mesh loop's thread ended)

  // Mesh loop: a heartbeat from the PRG peer; the PRG peer's link came up.
  void onHeartbeat(const r2r::Unit& unit);
  void onPeerLinkUp();

  // Admin commands ("failover", "fallback", "recover"), any thread: runs on the mesh
  // loop and waits for the SRM's answer (error reasons as srm.h lists them).
  Status command(std::string_view name);

  // Lock-free reads for logins and activations (any thread).
  bool servesMyUsers() const;
  bool servesPeerUsers() const;

  void renderMetrics(std::string& out) const;
  void renderStatus(nlohmann::json& out) const;

 private:
  static void onTimer(uv_timer_t* t);
  int64_t now() const;
  void afterEvent();
  void execute(srm::Action a);
  void sendHeartbeat();
  void announce(bool mine);
  void publishServing();
  void beatWitness();
  // `peerAgeMs`: how old the peer's stamp was when read (-1: none).
  void onWitnessResult(bool reachable, bool peerAlive, int64_t peerAgeMs);
  Status runCommand(std::string_view name);
  void refreshSnapshot();

  Node& node_;
  MeshNode& mesh_;
  std::shared_ptr<const topology::Topology> topology_;
  const topology::NodeIndex self_, peer_;
  uv_loop_t* loop_;
  srm::Srm srm_;
  uv_timer_t timer_{};
  bool timerStarted_ = false;
  bool shutDown_ = false;
  uint64_t incarnation_ = 0;
  int64_t lastWitnessMs_ = -1'000'000;
  bool witnessInFlight_ = false;
  // When the peer's last stamp seen stops counting as alive: the witness is read again
  // right then, not at the next interval (a killed peer is detected up to one heartbeat
  // interval sooner). Far in the future while a stamp is being refreshed.
  int64_t peerStampExpiresMs_ = INT64_MAX;
  srm::Serving served_;  // what the actions executed so far made this node serve

  // Published for other threads: claims (set by actions) and the lease deadline. The
  // SRM clock is uv_hrtime in ms (monotonic, never cached), so any thread can compare.
  std::atomic<bool> servesMine_{false}, servesPeer_{false};
  std::atomic<int64_t> leaseUntilMs_{0};

  mutable std::mutex snapMu_;
  srm::Report report_;
  struct Counters {
    std::atomic<uint64_t> heartbeatsSent{0}, heartbeatsReceived{0}, heartbeatsRefused{0};
    std::atomic<uint64_t> witnessBeats{0}, witnessFailures{0}, transitions{0};
  } counters_;
};

}  // namespace xmesh::router
