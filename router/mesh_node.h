// The node's side of the mesh: r2r links to every other node (mesh::LinkSet), the home
// directory of every user of the mesh and its sync, and the routing glue between links
// and the StanzaRouter.
//
// Threading. The links, the directory sync and everything arriving from other nodes run
// on one loop, the mesh loop. Any loop may forward: forward() hands the stanza to the
// mesh loop through the loop queues, where it goes into the peer's link. remoteServer()
// is a read of the sharded HomeDirectory and the immutable topology, safe everywhere.
//
// What a peer may send (SPEC §5, r2r/PROTOCOL.md §3.3): stanzas from users it serves
// (or unknown to us) to users this node serves (or unknown to us); fan-out for users
// served here; `dir` records for its own users. Anything else is refused, counted and
// logged, and the rest of the link goes on.
#pragma once
#include <uv.h>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mesh/link_set.h"
#include "router/ack_gate.h"
#include "router/directory_sync.h"
#include "router/home_directory.h"
#include "router/replica_barrier.h"
#include "router/replica_store.h"
#include "router/replicator.h"
#include "router/mesh_routes.h"
#include "router/serving_claims.h"
#include "topology/topology.h"

namespace xmesh::router {

class Node;
class Loop;
class Redundancy;

class MeshNode final : public MeshRoutes, public mesh::LinkSet::Events {
 public:
  // listenOverride: bind the r2r listener here instead of the topology's endpoint (the
  // node is reached through a port forward or proxy that the topology names).
  MeshNode(Node& node, std::shared_ptr<const topology::Topology> topology,
           topology::NodeIndex self, uint32_t meshLoop,
           std::optional<topology::Endpoint> listenOverride = std::nullopt);
  ~MeshNode() override;
  MeshNode(const MeshNode&) = delete;
  // Orderly stop (mesh loop): the SRM says goodbye to its peer.
  void shutdown();
  MeshNode& operator=(const MeshNode&) = delete;

  // Loads the users' homes from the store (blocking: start-up only), listens and dials.
  // Call after the loops exist and before they run.
  Status start();
  // Closes every handle; call after the mesh loop's thread ended, before its teardown.
  void close();

  // MeshRoutes (any loop).
  std::optional<topology::NodeIndex> remoteServer(std::string_view user) const override;
  void forward(RouterEnv& env, topology::NodeIndex node, std::shared_ptr<const RoutedStanza> s) override;
  void forwardFanout(RouterEnv& env, topology::NodeIndex node, std::vector<std::string> recipients,
                     SharedBytes presence) override;
  bool directoryPending() const override { return !syncComplete_.load(std::memory_order_relaxed); }
  void retryLater(RouterEnv& env, std::shared_ptr<const RoutedStanza> s) override;

  // mesh::LinkSet::Events (mesh loop).
  void onEstablished(topology::NodeIndex peer, const r2r::PeerHello& hello) override;
  void onUnit(topology::NodeIndex peer, r2r::Unit&& unit) override;
  void onDown(topology::NodeIndex peer, std::string_view reason) override;
  void onWritable(topology::NodeIndex peer) override;

  // Operations (any thread): cuts the transport of the link to `peer` now; the link
  // reconnects and resends what was not acknowledged. False for an unknown peer.
  bool resetLink(std::string_view peerId);

  // Redundancy (mesh loop unless noted). linkTo: the r2r link to `peer` (nullptr when
  // unknown); announceClaim: records one of this node's serving claims, updates the
  // failover view and sends it to every node of the mesh (and to later links).
  r2r::Link* linkTo(topology::NodeIndex peer) { return links_ ? links_->link(peer) : nullptr; }
  RouterEnv& meshEnv() { return env(); }
  void announceClaim(const ServingClaim& claim);
  // Replication to and from the PRG peer (nullptr without an HA group); any thread.
  Replicator* replicator() { return replicator_.get(); }
  ReplicaStore* replicas() { return replicas_.get(); }
  // Mesh loop: this node serves the users homed on `home` from now on: the peer's
  // replicated sessions of them are held for the activations here (router/replica_store.h).
  void onServingStarted(const std::string& home);
  // XEP-0198 acks after replication (router/replica_barrier.h). replicating(): any
  // thread; the rest on the mesh loop.
  bool replicating() const { return replicator_ && replicator_->streaming(); }
  uint32_t meshLoop() const { return meshLoop_; }
  void barrierToken(const std::shared_ptr<Barriers::Barrier>& b) {
    if (barriers_) barriers_->tokenArrived(b);
  }
  void checkBarriers() {
    if (barriers_ && !barriers_->idle()) barriers_->check();
    if (ackGate_) ackGate_->check();
  }
  // The SRM of this node's HA group (nullptr when it has none); any thread.
  Redundancy* redundancy() { return redundancy_.get(); }
  const Redundancy* redundancy() const { return redundancy_.get(); }

  // For /metrics and /status (any thread).
  void renderMetrics(std::string& out) const;
  void renderStatus(nlohmann::json& out) const;
  const HomeDirectory& homes() const { return homes_; }

 private:
  struct Counters {
    std::atomic<uint64_t> forwarded{0}, forwardRefused{0}, fanoutsSent{0}, received{0},
        fanoutsReceived{0}, refused{0}, misrouted{0}, directoryRetries{0}, claimsReceived{0},
        withdrawn{0}, reroutesSent{0}, reroutesReceived{0}, reroutesDeduplicated{0};
  };
  // What the PRG peer handled of each node's units (AckGate marks), by origin node.
  struct HandledMark {
    std::string epoch;
    uint64_t h = 0;
  };
  static void onTimer(uv_timer_t* t);
  void tick();
  void pollStore();
  void applyStoreHomes(std::vector<std::string> own, std::vector<std::pair<std::string, topology::NodeIndex>> cluster);
  void sendStanza(topology::NodeIndex node, const std::shared_ptr<const RoutedStanza>& s);
  void sendFanout(topology::NodeIndex node, const std::vector<std::string>& recipients, const SharedBytes& presence);
  void handleUnit(topology::NodeIndex peer, r2r::Unit&& unit);
  void handleStanza(topology::NodeIndex peer, xml::Stanza&& stanza);
  void handleFanout(topology::NodeIndex peer, r2r::Unit&& unit);
  // True when the peer may speak for `user` (serves it, or we do not know the user).
  bool maySpeakFor(topology::NodeIndex peer, std::string_view user) const;
  // False when the directory says a third node serves `user`.
  bool servedHereOrUnknown(std::string_view user) const;
  void refuse(topology::NodeIndex peer, std::string_view reason, std::string_view detail);
  void handleClaim(topology::NodeIndex peer, const r2r::Unit& unit);
  void sendClaim(topology::NodeIndex peer, r2r::Link& link, const r2r::Attrs& attrs);
  void applyClaim(topology::NodeIndex announcer, const ServingClaim& claim);
  void refreshSnapshot();
  void handleReplica(topology::NodeIndex peer, const r2r::Unit& unit);
  void startAckGate(topology::NodeIndex peer);
  // The routed units still queued for `dead`, a node whose users another node serves now
  // and whose link is down, are taken back and routed to that node (Link::withdrawRouted):
  // kept for the dead node's next incarnation they would be lost if it never came back.
  void withdrawFrom(topology::NodeIndex dead);
  void rerouteWithdrawn(topology::NodeIndex dead, r2r::WithdrawnUnit&& unit);
  // A stanza another node withdrew from `via` and sent here (`reroute` records).
  void handleReroute(topology::NodeIndex peer, const r2r::Unit& unit);
  // True when our PRG peer `via` had handled unit `seq` of `origin`'s incarnation `epoch`.
  bool handledByPeer(topology::NodeIndex via, topology::NodeIndex origin, std::string_view epoch, uint64_t seq) const;
  // Routes the messages of replicated sessions nobody took over again (mesh loop).
  void rerouteReleased(std::vector<ReplicaStore::Released> released);
  RouterEnv& env();

  Node& node_;
  std::shared_ptr<const topology::Topology> topology_;
  const topology::NodeIndex self_;
  const uint32_t meshLoop_;
  const std::optional<topology::Endpoint> listenOverride_;
  HomeDirectory homes_;
  std::unique_ptr<mesh::LinkSet> links_;
  std::unique_ptr<DirectorySync> sync_;
  ServingClaims claims_;
  std::unique_ptr<Redundancy> redundancy_;
  std::unique_ptr<ReplicaStore> replicas_;
  std::unique_ptr<Replicator> replicator_;
  std::unique_ptr<Barriers> barriers_;
  std::unique_ptr<AckGate> ackGate_;
  std::string epoch_;               // this process's r2r incarnation
  std::vector<HandledMark> marks_;  // [origin NodeIndex], mesh loop
  // Withdrawn stanzas whose reroute a full link refused: sent again each tick.
  std::deque<std::pair<topology::NodeIndex, r2r::WithdrawnUnit>> pendingReroutes_;
  // Ack gate rounds waiting for the database workers: each fires at its deadline at
  // the latest (a hung database must not stop every r2r ack of the node).
  std::deque<std::pair<int64_t, std::function<void()>>> storeWaits_;
  std::atomic<uint64_t> replicaRerouted_{0};
  uv_timer_t timer_{};
  bool timerStarted_ = false;
  int64_t lastPollMs_ = 0;
  int64_t storeVersion_ = -1;
  bool pollInFlight_ = false;
  Counters counters_;
  // Stanzas waiting for the directory (mesh loop only): due time, stanza.
  std::deque<std::pair<int64_t, std::shared_ptr<const RoutedStanza>>> retries_;

  mutable std::mutex snapMu_;  // guards syncSnap_ (admin thread reads)
  std::vector<PeerSyncStatus> syncSnap_;
  std::atomic<bool> syncComplete_{false};
};

}  // namespace xmesh::router
