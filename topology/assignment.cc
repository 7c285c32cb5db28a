#include "topology/assignment.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <utility>

namespace xmesh::topology {
namespace {

void addClusterTargets(const Topology& topo, const Cluster& c, std::vector<NodeIndex>& out) {
  switch (c.assignment) {
    case AssignmentMode::Balanced:
      out.insert(out.end(), c.nodes.begin(), c.nodes.end());
      break;
    case AssignmentMode::ActiveStandby:
      for (GroupIndex g : c.groups) out.push_back(topo.groups()[g].nodes.front());
      break;
    case AssignmentMode::None:
      break;
  }
}

// Refuses when a cluster that would receive users has a failed-over node.
Status checkFailedOver(const Topology& topo, const std::vector<NodeIndex>& targets, const NodeSet& failedOver) {
  std::vector<bool> seen(topo.clusters().size(), false);
  for (NodeIndex t : targets) {
    ClusterIndex ci = topo.node(t).cluster;
    if (seen[ci]) continue;
    seen[ci] = true;
    for (NodeIndex n : topo.clusters()[ci].nodes) {
      if (failedOver.contains(n))
        return Status::fail("failed-over", "cluster '" + topo.clusters()[ci].id + "': node '" + topo.node(n).id +
                                               "' is failed over; users cannot be added while a node of the "
                                               "cluster is failed over (fall back or recover it first)");
    }
  }
  return Status::ok();
}

}  // namespace

std::vector<NodeIndex> eligibleNodes(const Topology& topo, std::optional<ClusterIndex> cluster) {
  std::vector<NodeIndex> out;
  if (cluster) {
    addClusterTargets(topo, topo.clusters().at(*cluster), out);
  } else {
    for (const Cluster& c : topo.clusters()) addClusterTargets(topo, c, out);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<AssignPlan> planAssignment(const Topology& topo, std::vector<UserHome> users, const AssignRequest& request) {
  std::sort(users.begin(), users.end(), [](const UserHome& a, const UserHome& b) { return a.username < b.username; });
  users.erase(std::unique(users.begin(), users.end(),
                          [](const UserHome& a, const UserHome& b) { return a.username == b.username; }),
              users.end());

  AssignPlan plan;
  plan.usersPerNode.assign(topo.nodes().size(), 0);
  std::vector<const UserHome*> pending;
  for (const UserHome& u : users) {
    if (u.homeNode.empty()) {
      pending.push_back(&u);
    } else if (auto n = topo.nodeIndex(u.homeNode)) {
      ++plan.usersPerNode[*n];
      ++plan.kept;
    } else {
      ++plan.unknownHomes;
      if (request.reassignUnknown) pending.push_back(&u);
    }
  }

  std::vector<NodeIndex> targets = eligibleNodes(topo, request.cluster);
  if (pending.empty()) return plan;
  if (targets.empty()) {
    plan.leftUnassigned = pending.size();
    return plan;
  }
  if (auto s = checkFailedOver(topo, targets, request.failedOver); !s) return s.error();

  // Min-heap of (users on node, node index): the emptiest node, lowest index first.
  using Slot = std::pair<size_t, NodeIndex>;
  std::priority_queue<Slot, std::vector<Slot>, std::greater<>> heap;
  for (NodeIndex t : targets) heap.emplace(plan.usersPerNode[t], t);
  plan.changes.reserve(pending.size());
  for (const UserHome* u : pending) {
    auto [count, node] = heap.top();
    heap.pop();
    plan.changes.push_back({u->username, topo.node(node).id});
    ++plan.usersPerNode[node];
    heap.emplace(count + 1, node);
  }
  return plan;
}

}  // namespace xmesh::topology
