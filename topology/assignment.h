// User assignment: which node is each user's home. Pure functions over the topology
// and a snapshot of the users, so xmeshctl, tests and (later) a directory service plan
// the same way; applying the plan to a store is the caller's business.
//
// Scope. An assignment run targets either one cluster (the usual case: each cluster
// provisions its own users, `xmeshctl home assign --cluster C`) or the whole mesh (no
// cluster given: new users are spread over every eligible node of every cluster, as
// seed 002's Sync Agent does: "assigns the users to all nodes in all subclusters in an
// attempt to balance the user assignment evenly across all nodes"). Clusters receive
// users in proportion to their eligible nodes; no hashing is involved.
//
// Eligible nodes, by the cluster's mode: balanced, every node; active-standby, the
// first node of each PRG; none, no node (users stay unassigned: `user home NAME NODE`).
//
// Rule. Users that already have a home on a node of the topology keep it (stability:
// adding users never moves anyone). The others, taken in username byte order, each go
// to the eligible node with the fewest users homed on it at that moment (existing homes
// included), ties broken by node index (file order). The result is deterministic (it
// depends on the set of users, not their order) and fills the emptiest nodes first, so
// after a run the eligible nodes differ by at most one user unless existing homes were
// already further apart.
//
// Seed restriction: users cannot be added while a node of the cluster is failed over;
// a plan with users to assign in a cluster that has a failed-over node is refused
// (reason "failed-over").
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "topology/topology.h"

namespace xmesh::topology {

struct UserHome {
  std::string username;
  std::string homeNode;  // "" = unassigned
};

struct AssignRequest {
  std::optional<ClusterIndex> cluster;  // nullopt: the whole mesh
  NodeSet failedOver;                   // nodes currently failed over (SRM state)
  // Users whose home names no node of the topology (removed or renamed node): false
  // leaves them as they are (counted in unknownHomes), true assigns them anew.
  bool reassignUnknown = false;
};

struct AssignPlan {
  std::vector<UserHome> changes;     // the new homes to write, in username order
  std::vector<size_t> usersPerNode;  // by NodeIndex, after applying the plan
  size_t kept = 0;                   // users whose existing home stays
  size_t unknownHomes = 0;           // homes naming no node of the topology
  size_t leftUnassigned = 0;         // no eligible node (mode none)
};

// The eligible nodes of one cluster (or of the mesh) by their clusters' modes.
std::vector<NodeIndex> eligibleNodes(const Topology& topo, std::optional<ClusterIndex> cluster);

// Plans homes for `users` (one entry per user; duplicates are ignored). Errors:
// "failed-over" (see above). With no eligible node (mode none) users stay unassigned
// and are counted in leftUnassigned; that is not an error.
Result<AssignPlan> planAssignment(const Topology& topo, std::vector<UserHome> users, const AssignRequest& request);

}  // namespace xmesh::topology
