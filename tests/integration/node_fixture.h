// Starts a real Node (two loops, real listeners, real SQLite store) inside the test
// process on a free port, with users provisioned straight into the store.
//
// As a mesh member (joinMesh()), the node takes its identity and listeners from the
// topology, as `xmeshd --topology FILE --node ID` does; tests/integration/mesh_fixture.h
// runs several such nodes in one process.
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "core/config.h"
#include "router/node.h"
#include "store/store.h"
#include "topology/topology.h"

namespace xmesh::testing {

class NodeFixture {
 public:
  explicit NodeFixture(NodeConfig config = defaultConfig());
  ~NodeFixture();
  NodeFixture(const NodeFixture&) = delete;
  NodeFixture& operator=(const NodeFixture&) = delete;
  static NodeConfig defaultConfig();
  // Users are added before start() so the store is warm; password = "pw-" + name.
  // `home`: the user's home node ("" = unassigned).
  void addUser(const std::string& name, const std::string& home = {});
  void setHome(const std::string& user, const std::string& node);
  // A roster row written straight into the store (read by the node at login).
  void putRosterItem(const std::string& user, const store::RosterItem& item);
  void setTopology(std::shared_ptr<const topology::Topology> t) { topology_ = std::move(t); }
  // Member `nodeId` of the mesh: node id, domain, c2s and admin listeners come from the
  // topology (topology::applyTopology); throws when the topology has no such node.
  void joinMesh(std::shared_ptr<const topology::Topology> t, const std::string& nodeId);
  void start();
  // Stops the loops and joins them (idempotent; the destructor does it too).
  void stop();
  bool running() const { return started_; }
  int port() const { return config_.listen.c2sPort; }
  const NodeConfig& config() const { return config_; }
  router::Node& node() { return *node_; }
  static std::string password(const std::string& user) { return "pw-" + user; }
  // A connection of the test's own to the node's store (to check what it wrote).
  store::StorePtr openStore() const;

 private:

  NodeConfig config_;
  std::filesystem::path dir_;
  std::unique_ptr<router::Node> node_;
  bool started_ = false;
  std::shared_ptr<const topology::Topology> topology_;
};

int freePort();

}  // namespace xmesh::testing
