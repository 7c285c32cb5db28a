// Who serves each node's users, as the nodes of the mesh announce it (`failover`
// records, router/srm_wire.h). A node's users are served by the node itself unless its
// PRG backup claims them with a later epoch than the node's own claim; that is the
// "failed over" bit every node routes by (FailoverView). Mesh loop only.
#pragma once
#include <optional>
#include <vector>

#include "core/status.h"
#include "router/srm_wire.h"
#include "topology/topology.h"

namespace xmesh::router {

class ServingClaims {
 public:
  explicit ServingClaims(const topology::Topology& topology);

  // Records `claim` from `announcer` (the node the record came from, or this node for
  // its own claims). Refused (reason "failover-refused") when the announcer is not the
  // claim's `by`, or `by` is neither the home nor its HA backup. `changed` tells whether
  // the home's failed-over bit changed.
  Status apply(topology::NodeIndex announcer, const ServingClaim& claim, bool* changed = nullptr);

  bool failedOver(topology::NodeIndex home) const;
  // The last claims `by` made (for re-announcing this node's own claims on a new link).
  std::vector<ServingClaim> claimsBy(topology::NodeIndex by) const;

 private:
  struct Claim {
    bool known = false;
    bool serving = false;
    uint64_t epoch = 0;
    std::string state, reason;
  };
  struct Home {
    Claim own;     // the home node's claim on its own users
    Claim backup;  // its HA backup's claim on them
  };
  static bool failedOver(const Home& h);

  const topology::Topology& topology_;
  std::vector<Home> homes_;  // [NodeIndex]
};

}  // namespace xmesh::router
