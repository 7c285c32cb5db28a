#include "ctl/failover_guard.h"

#include <algorithm>
#include <set>

namespace xmesh::ctl {
namespace {

// Node states (srm::slug) in which the node's own users are not served at home.
bool ownUsersAway(const std::string& state) {
  static const std::set<std::string> away{"idle",        "failing-over",          "failed-over",
                                          "failed-over-with-critical-services-not-running",
                                          "taking-back", "failover-affected-services",
                                          "running-in-failed-mode"};
  return away.count(state) > 0;
}

}  // namespace

Result<std::vector<std::string>> failedOverNodes(store::Store& st) {
  auto rows = st.listNodeStatus();
  if (!rows) return rows.error();
  std::set<std::string> out;
  for (const auto& r : rows.value()) {
    if (ownUsersAway(r.state) || !r.servesOwn) {
      // A node that never served (a fresh Initializing row) is not failed over.
      if (r.state != "initializing" && r.state != "unknown" && r.state != "normal") out.insert(r.node);
    }
    if (r.servesPeer) {
      // Its peer's users are served here: the peer is failed over. The row does not
      // name the peer; the other rows of the cluster's store do (one PRG peer each).
      for (const auto& o : rows.value())
        if (o.node != r.node && !o.servesOwn) out.insert(o.node);
      if (rows->size() == 1) out.insert(r.node + "'s peer");
    }
  }
  return std::vector<std::string>(out.begin(), out.end());
}

Status refuseWhileFailedOver(store::Store& st, const std::string& what) {
  auto nodes = failedOverNodes(st);
  if (!nodes) return Status::fail(nodes.error().reason, nodes.error().detail);
  if (nodes->empty()) return Status::ok();
  std::string list;
  for (const auto& n : nodes.value()) list += (list.empty() ? "" : ", ") + n;
  return Status::fail("failed-over", what + " is refused while a node of the cluster is failed over (" + list +
                                         "); fall back first (xmeshctl fallback NODE)");
}

}  // namespace xmesh::ctl
