// The seeds' restriction (SPEC §1): no users are added while a node of the cluster is
// failed over. The nodes' SRM rows in the cluster's store (store::NodeStatusRow) say
// who is; xmeshctl's user add, import and home assign consult them.
#pragma once
#include <string>
#include <vector>

#include "core/status.h"
#include "store/store.h"

namespace xmesh::ctl {

// Ids of the nodes whose users are not served at home according to the rows (the node
// says it is failed over / idle / moving, or its peer says it serves them), sorted.
Result<std::vector<std::string>> failedOverNodes(store::Store& st);

// Fails with reason "failed-over" naming the nodes when any is; `what` names the refused
// action for the message ("adding users").
Status refuseWhileFailedOver(store::Store& st, const std::string& what);

}  // namespace xmesh::ctl
