// Several real Nodes in one test process, joined into a mesh by a topology built in
// code: nodes n1..nN on 127.0.0.1 with free c2s, r2r and admin ports, one cluster (and
// one single-node redundancy group) per node, each node with its own SQLite store. In
// secure mode a CA and CA-issued node certificates are generated into the mesh's temp
// dir (mutual TLS 1.3 r2r links, as `xmeshctl cert` makes them); plain mode uses TCP.
//
// Users are provisioned straight into the stores before start(); start() returns once
// every link is up and every node's home directory knows every user's home.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/node_fixture.h"
#include "topology/topology.h"

namespace xmesh::testing {

struct MeshOptions {
  size_t nodes = 2;
  bool secure = true;
  int scramIterations = 4096;
};

class MeshFixture {
 public:
  explicit MeshFixture(MeshOptions options);
  ~MeshFixture();  // stops every node still running, then removes the temp dir
  MeshFixture(const MeshFixture&) = delete;
  MeshFixture& operator=(const MeshFixture&) = delete;

  size_t size() const { return nodes_.size(); }
  static std::string nodeId(size_t i) { return "n" + std::to_string(i + 1); }
  NodeFixture& fixture(size_t i) { return *nodes_.at(i); }
  router::Node& node(size_t i) { return nodes_.at(i)->node(); }
  int c2sPort(size_t i) const { return topology_->node(index(i)).c2s.port; }
  const topology::Topology& topology() const { return *topology_; }
  std::shared_ptr<const topology::Topology> sharedTopology() const { return topology_; }

  // A user homed on node `home`, in that node's store.
  void addUser(const std::string& name, size_t home);
  // Also writes the user's record (home included) into node `storeOf`'s store: what the
  // cluster store of a node that shares the user's cluster would hold.
  void addUserRecord(const std::string& name, size_t home, size_t storeOf);
  void putRosterItem(size_t node, const std::string& user, const store::RosterItem& item);

  // Starts every node (highest id first, so each dialer finds its peers listening) and
  // waits until ready(); throws on timeout.
  void start(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Starts every node as start() does, without waiting for the links.
  void startNodes();
  // Every node has all its links established and knows the home of every user added.
  bool ready();
  void stop(size_t i) { nodes_.at(i)->stop(); }

  // Sum of every sample of a metric family on node i (e.g. "xmesh_mesh_forwarded_total",
  // or "xmesh_r2r_link_up{peer=\"n2\"" for one labelled sample).
  uint64_t metric(size_t i, const std::string& prefix);

 private:
  topology::NodeIndex index(size_t i) const { return static_cast<topology::NodeIndex>(i); }

  MeshOptions options_;
  std::filesystem::path dir_;
  std::shared_ptr<const topology::Topology> topology_;
  std::vector<std::unique_ptr<NodeFixture>> nodes_;
  std::vector<std::pair<std::string, size_t>> users_;  // name, home
};

// `count` distinct free TCP ports on 127.0.0.1.
std::vector<int> freePorts(size_t count);

// Sum of the samples whose line starts with `prefix` in a Prometheus text exposition.
uint64_t sumMetric(const std::string& text, const std::string& prefix);

}  // namespace xmesh::testing
