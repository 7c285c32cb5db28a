// What the routing core needs from the mesh: where a user is served and a way to hand a
// stanza to another node. The node's mesh glue (router/mesh_node.h) implements it over
// r2r links; a single-node deployment has none and everything is local.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/routed_stanza.h"
#include "router/router_env.h"
#include "topology/topology.h"

namespace xmesh::router {

class MeshRoutes {
 public:
  virtual ~MeshRoutes() = default;
  // The node that serves `user` (a local part) when that is another node; nullopt when
  // this node serves it or the mesh directory does not know the user.
  virtual std::optional<topology::NodeIndex> remoteServer(std::string_view user) const = 0;
  // Sends a stanza whose bytes carry its from and to to `node`, from any loop. If the
  // link refuses it (queue full), the sender gets a resource-constraint error.
  virtual void forward(RouterEnv& env, topology::NodeIndex node,
                       std::shared_ptr<const RoutedStanza> s) = 0;
  // True while some node's first full directory sync has not reached us: a user unknown
  // to the directory may simply not be announced yet.
  virtual bool directoryPending() const = 0;
  // Routes `s` again in a moment (after the directory may have learnt its recipient).
  virtual void retryLater(RouterEnv& env, std::shared_ptr<const RoutedStanza> s) = 0;
  // One copy of a presence (bytes with from, without to) for users served by `node`.
  virtual void forwardFanout(RouterEnv& env, topology::NodeIndex node,
                             std::vector<std::string> recipients, SharedBytes presence) = 0;
};

}  // namespace xmesh::router
