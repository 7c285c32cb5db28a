// Wiring helper for xmeshd: a node started with `--topology FILE --node ID` takes its
// identity and listeners from the mesh file, and the rest (limits, store, TLS for c2s,
// loops) from its own node config (core/config.h).
#pragma once
#include <string_view>

#include "core/config.h"
#include "core/status.h"
#include "topology/topology.h"

namespace xmesh::topology {

// Overwrites in `config`: domain, nodeId, listen.c2sAddress/c2sPort,
// listen.adminAddress/adminPort (the topology is the one source of truth for what
// other nodes and clients are told). Fails with "unknown-node" when the topology has
// no node `nodeId`; `config` is then untouched.
Status applyTopology(const Topology& topo, std::string_view nodeId, NodeConfig& config);

}  // namespace xmesh::topology
