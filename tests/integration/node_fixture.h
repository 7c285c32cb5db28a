// Starts a real Node (two loops, real listeners, real SQLite store) inside the test
// process on a free port, with users provisioned straight into the store.
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "core/config.h"
#include "router/node.h"
#include "topology/topology.h"

namespace xmesh::testing {

class NodeFixture {
 public:
  explicit NodeFixture(NodeConfig config = defaultConfig());
  ~NodeFixture();
  static NodeConfig defaultConfig();
  // Users are added before start() so the store is warm; password = "pw-" + name.
  void addUser(const std::string& name);
  void setHome(const std::string& user, const std::string& node);
  void setTopology(std::shared_ptr<const topology::Topology> t) { topology_ = std::move(t); }
  void start();
  int port() const { return config_.listen.c2sPort; }
  router::Node& node() { return *node_; }
  static std::string password(const std::string& user) { return "pw-" + user; }

 private:
  NodeConfig config_;
  std::filesystem::path dir_;
  std::unique_ptr<router::Node> node_;
  bool started_ = false;
  std::shared_ptr<const topology::Topology> topology_;
};

int freePort();

}  // namespace xmesh::testing
