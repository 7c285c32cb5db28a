// The sending side of replication (router/replica_records.h): takes the records of the
// active sessions of this node's loops to the r2r link of its PRG peer, on the mesh
// loop. Records flow only while the peer's link is established; whenever the peer may
// have missed some (its link went down, it restarted, its queue was full), the next
// establishment starts over with `reset` and a snapshot of every session, taken on each
// loop after the records it published before (the loop queues keep them in order).
#pragma once
#include <atomic>
#include <cstdint>
#include <string>

#include "r2r/link.h"
#include "router/replica_sink.h"

namespace xmesh::router {

class Node;

class Replicator final : public ReplicaSink {
 public:
  // `link` is the r2r link to `peerId` (owned by the mesh, alive as long as this).
  Replicator(Node& node, uint32_t meshLoop, std::string selfId, std::string peerId, r2r::Link& link);

  // ReplicaSink (any loop).
  bool replicates(std::string_view homeNode) const override {
    return streaming_.load(std::memory_order_acquire) && (homeNode == selfId_ || homeNode == peerId_);
  }
  void publish(RouterEnv& env, replica::Record record) override;

  // Mesh loop: the peer's link came up (peerIsNew: first contact or a new incarnation
  // of the peer, which holds nothing of ours), went down, or has room again after Full.
  void onLinkUp(bool peerIsNew);
  void onLinkDown();
  void onWritable();

  // Records flow to the peer now (any thread).
  bool streaming() const { return streaming_.load(std::memory_order_acquire); }
  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t snapshots() const { return snapshots_.load(std::memory_order_relaxed); }

 private:
  void send(const replica::Record& r);  // mesh loop
  void startOver();                     // mesh loop: reset + snapshot of every loop

  Node& node_;
  const uint32_t meshLoop_;
  const std::string selfId_, peerId_;
  r2r::Link& link_;
  std::atomic<bool> streaming_{false};
  bool lostSync_ = true;  // mesh loop: the peer's picture is incomplete
  std::atomic<uint64_t> sent_{0}, dropped_{0}, snapshots_{0};
};

}  // namespace xmesh::router
