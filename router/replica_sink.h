// Where a c2s session reports what its PRG peer must know to take the session over
// (router/replica_records.h): the node's Replicator implements it; nodes without an HA
// group have none.
#pragma once
#include <string_view>

#include "router/replica_records.h"
#include "router/router_env.h"

namespace xmesh::router {

class ReplicaSink {
 public:
  virtual ~ReplicaSink() = default;
  // True while sessions of users homed on `homeNode` are replicated to the peer: the
  // home is one of the pair's two nodes and the link to the peer is established. Cheap,
  // any loop: sessions ask before building a record.
  virtual bool replicates(std::string_view homeNode) const = 0;
  // Ships `record` to the peer, from any loop (records of one session stay in order).
  virtual void publish(RouterEnv& env, replica::Record record) = 0;
};

}  // namespace xmesh::router
