// One xmeshd process: its loops, the shared routing table, the store workers and the
// admin endpoint. Built once at start-up from the config; torn down on SIGTERM/SIGINT.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/config.h"
#include "router/directory.h"
#include "router/failover_view.h"
#include "router/loop.h"
#include "router/stanza_router.h"
#include "session/auth_throttle.h"
#include "store/async_store.h"
#include "tls/context.h"
#include "topology/topology.h"

namespace xmesh::router {

class MeshNode;

class Node {
 public:
  explicit Node(NodeConfig config);
  ~Node();

  // Opens the store, loads or generates the TLS certificate, binds every listener.
  Status init();
  void start();
  void stop();   // thread-safe; loops exit, run() returns
  void join();

  const NodeConfig& config() const { return config_; }
  Directory& directory() { return directory_; }
  StanzaRouter& router() { return router_; }
  session::AuthThrottle& authThrottle() { return throttle_; }
  store::AsyncStore& store() { return *store_; }
  // The SRM's own store connection (witness beats, role), when this node is in an HA
  // group; the main store otherwise.
  store::AsyncStore& srmStore() { return srmStore_ ? *srmStore_ : *store_; }
  const tls::TlsContext& tlsContext() const { return *tls_; }
  Loop& loop(uint32_t i) { return *loops_[i]; }
  uint32_t loopCount() const { return static_cast<uint32_t>(loops_.size()); }
  int64_t startedAtMs() const { return startedAtMs_; }

  // Connections per address (limits.max_connections_per_address); accept path only.
  bool admitAddress(const std::string& address);
  void releaseAddress(const std::string& address);

  // Mesh topology (optional, set before init()): users homed on another node are
  // redirected there with see-other-host. Failed-over nodes come with the SRM (issue 5).
  void setTopology(std::shared_ptr<const topology::Topology> topology) {
    topology_ = std::move(topology);
    failover_.setTopology(topology_.get());
  }
  // Binds the r2r listener here rather than on the topology's r2r endpoint (set before
  // init(); for a node reached through a port forward, or a test's delaying proxy).
  void setR2rListen(topology::Endpoint endpoint) { r2rListen_ = std::move(endpoint); }
  std::string seeOtherHost(std::string_view homeNode) const;
  MeshNode* mesh() { return mesh_.get(); }

  // Redundancy (SPEC §3/§4). All callable from any loop.
  // The other node of `homeNode`'s HA presence redundancy group, seen from this node:
  // where a user served here keeps its inactive (dual) connection. nullopt without a
  // topology, for a 1-node or non-HA group, or when this node is not in that group.
  struct DualPeer {
    std::string nodeId, host;
    int c2sPort = 0;
    int64_t reloginMinMs = 0, reloginMaxMs = 0;  // Client Re-Login Lower/Upper Limit
  };
  std::optional<DualPeer> dualPeerFor(std::string_view homeNode) const;
  // How long an early activation of a user of `homeNode` is held here waiting for this
  // node to serve it: the home cluster's heartbeat timeout plus 0.5 s (detection), at
  // most 5 s; 0 when this node may hold no session of that user.
  int64_t activationHoldMs(std::string_view homeNode) const;
  // True when this node may hold an inactive session of a user homed on `homeNode`:
  // it is that node or its HA PRG peer.
  bool mayHoldInactive(std::string_view homeNode) const;
  // True when this node serves users homed on `homeNode` now (the SRM's view; always
  // true without a topology or for an unassigned user).
  bool servesHome(std::string_view homeNode) const;
  // Which nodes are failed over (their users served by their backup).
  FailoverView& failover() { return failover_; }
  const FailoverView& failover() const { return failover_; }
  // The set of users homed on `home` started (servedHere) or stopped being served by
  // this node: every loop's sessions of those users are told (Loop::onServingChanged).
  void servingChanged(topology::NodeIndex home, bool servedHere);

  // Aggregates for /metrics and /status.
  std::string renderMetrics() const;
  std::string renderStatus() const;

 private:
  Status prepareTls();

  NodeConfig config_;
  Directory directory_;
  StanzaRouter router_;
  session::AuthThrottle throttle_;
  std::unique_ptr<store::AsyncStore> store_;
  std::unique_ptr<store::AsyncStore> srmStore_;
  std::shared_ptr<tls::TlsContext> tls_;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::mutex addrMu_;
  std::unordered_map<std::string, int> perAddress_;
  int64_t startedAtMs_ = 0;
  bool threadsStarted_ = false;             // start() ran: join() tears the loops down
  std::atomic<bool> stopRequested_{false};  // stop() acts once
  std::shared_ptr<const topology::Topology> topology_;
  FailoverView failover_;
  // The r2r mesh (links, home directory), when the topology has other nodes. Its links
  // live on loop 0.
  std::unique_ptr<MeshNode> mesh_;
  std::optional<topology::Endpoint> r2rListen_;
  // The loop that owns the r2r links: 0, or an extra loop without clients (HA nodes).
  uint32_t meshLoop_ = 0;
};

}  // namespace xmesh::router
