// Which nodes of the mesh are failed over right now (their users served by their PRG
// backup), readable from every loop without a lock: one atomic bit per node. The mesh
// loop writes it (the node's own SRM, and `failover` records from the other nodes);
// c2s logins, routing and the peer checks read it.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <optional>

#include "topology/topology.h"

namespace xmesh::router {

class FailoverView {
 public:
  explicit FailoverView(const topology::Topology* topology = nullptr) : topology_(topology) {}
  void setTopology(const topology::Topology* topology) { topology_ = topology; }

  bool failedOver(topology::NodeIndex n) const {
    if (n >= topology::kMaxNodes) return false;
    return (words_[n / 64].load(std::memory_order_acquire) >> (n % 64)) & 1u;
  }
  // Returns true when the bit changed.
  bool set(topology::NodeIndex n, bool failed) {
    if (n >= topology::kMaxNodes) return false;
    uint64_t bit = uint64_t{1} << (n % 64);
    uint64_t old = failed ? words_[n / 64].fetch_or(bit, std::memory_order_acq_rel)
                          : words_[n / 64].fetch_and(~bit, std::memory_order_acq_rel);
    return ((old & bit) != 0) != failed;
  }
  topology::NodeSet snapshot() const {
    topology::NodeSet s;
    for (topology::NodeIndex n = 0; n < topology::kMaxNodes; ++n)
      if (failedOver(n)) s.insert(n);
    return s;
  }
  // Who serves the users homed on `home` now (Topology::servingNode on this view).
  std::optional<topology::NodeIndex> servingNode(topology::NodeIndex home) const {
    if (!topology_) return home;
    if (!failedOver(home)) return home;
    auto backup = topology_->backupOf(home);
    if (!backup || failedOver(*backup)) return std::nullopt;
    return backup;
  }

 private:
  const topology::Topology* topology_;
  std::array<std::atomic<uint64_t>, (topology::kMaxNodes + 63) / 64> words_{};
};

}  // namespace xmesh::router
