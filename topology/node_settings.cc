#include "topology/node_settings.h"

namespace xmesh::topology {

Status applyTopology(const Topology& topo, std::string_view nodeId, NodeConfig& config) {
  const Node* n = topo.findNode(nodeId);
  if (!n) return Status::fail("unknown-node", "no node '" + std::string(nodeId) + "' in the topology");
  config.domain = topo.domain();
  config.nodeId = n->id;
  config.listen.c2sAddress = n->c2s.address;
  config.listen.c2sPort = n->c2s.port;
  config.listen.adminAddress = n->admin.address;
  config.listen.adminPort = n->admin.port;
  return Status::ok();
}

}  // namespace xmesh::topology
