// Test harness for LinkSets over real loopback sockets: certificates generated once per
// process into a temp dir, topologies built in code on free 127.0.0.1 ports, a recording
// Events, and a fixture running several LinkSets on ONE uv loop in the test thread.
#pragma once
#include <gtest/gtest.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mesh/link_set.h"
#include "tls/context.h"

namespace xmesh::mesh::test {

// CA-issued node certificates (CN and DNS SAN = node id) for n1..n4, plus variants named
// "<variant>-<node>.pem/.key" (see MeshCerts::variant) for the negative tests.
struct MeshCerts {
  std::string dir;
  std::string caCert, caKey;
  std::string otherCaCert, otherCaKey;
  std::string certFile(const std::string& node) const { return dir + "/" + node + ".pem"; }
  std::string keyFile(const std::string& node) const { return dir + "/" + node + ".key"; }
};
const MeshCerts& meshCerts();

// Certificate variants for node `node` written as <dir>/<variant>-<node>.pem/.key, so a
// topology whose security.certFile is "<dir>/<variant>-{node}.pem" hands them to it:
//   "expired"  valid names, validity window in the past
//   "otherca"  valid names, signed by an unrelated CA
//   "as-<id>"  a valid certificate for node <id> instead
//   "stranger" a valid certificate for "zz", a name in no topology
void ensureVariant(const std::string& variant, const std::string& node);

struct NodeSpec {
  std::string id, cluster;
};

// A topology of `nodes` on 127.0.0.1 with one free r2r port each (ports[i]), 1-node PRGs.
// certVariant empty: every node uses its own certificate; else "<variant>-{node}".
std::shared_ptr<const topology::Topology> makeTopology(const std::vector<NodeSpec>& nodes,
                                                       const std::vector<int>& ports,
                                                       bool secure,
                                                       const std::string& certVariant = {});
// Free TCP ports on 127.0.0.1 (bound to port 0 and released).
std::vector<int> freePorts(size_t count);

inline const std::vector<NodeSpec> kThreeNodes = {{"n1", "c1"}, {"n2", "c1"}, {"n3", "c2"}};
inline const std::vector<NodeSpec> kTwoNodes = {{"n1", "c1"}, {"n2", "c1"}};

class Recorder final : public LinkSet::Events {
 public:
  void onEstablished(topology::NodeIndex peer, const r2r::PeerHello& hello) override {
    established.emplace_back(peer, hello);
  }
  void onUnit(topology::NodeIndex peer, r2r::Unit&& unit) override {
    if (unitHook) unitHook(peer, unit);
    if (keepUnits) units[peer].push_back(std::move(unit));
    ++unitCount[peer];
  }
  void onDown(topology::NodeIndex peer, std::string_view reason) override {
    downs.emplace_back(peer, std::string(reason));
  }
  void onWritable(topology::NodeIndex peer) override { ++writable[peer]; }

  size_t establishedWith(topology::NodeIndex peer) const {
    size_t n = 0;
    for (const auto& e : established) n += e.first == peer ? 1 : 0;
    return n;
  }

  bool keepUnits = true;
  std::function<void(topology::NodeIndex, const r2r::Unit&)> unitHook;
  std::vector<std::pair<topology::NodeIndex, r2r::PeerHello>> established;
  std::vector<std::pair<topology::NodeIndex, std::string>> downs;
  std::map<topology::NodeIndex, std::vector<r2r::Unit>> units;
  std::map<topology::NodeIndex, uint64_t> unitCount;
  std::map<topology::NodeIndex, int> writable;
};

struct TestNode {
  Recorder events;
  std::unique_ptr<LinkSet> set;
  PeerStatus status(topology::NodeIndex peer) const;
};

// Options with test-friendly timings (fast redials); the caller adjusts the rest.
LinkSetOptions testOptions(std::shared_ptr<const topology::Topology> topology,
                           topology::NodeIndex self);

class MeshTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Creates (not starts) a LinkSet for `options.self`, kept in nodes_ until TearDown.
  TestNode& addNode(LinkSetOptions options);
  // Closes and destroys one node's LinkSet (runs the loop until its handles closed).
  void destroyNode(TestNode& node);
  // Runs the loop until `done` holds; false at the deadline.
  bool runUntil(const std::function<bool()>& done, int64_t timeoutMs = 10000);
  // Runs the loop for `ms` of loop time (for "nothing happens" checks).
  void runFor(int64_t ms);

  uv_loop_t loop_{};
  std::vector<std::unique_ptr<TestNode>> nodes_;
};

// A blocking TLS client in its own thread-friendly function: connects to 127.0.0.1:port,
// handshakes as `options` say (SNI `serverName`), writes `firstBytes` after the
// handshake and waits for plaintext. Ok with the first plaintext received; an error on a
// TLS failure, EOF or a 3 s timeout.
Result<std::string> blockingTlsExchange(int port, const tls::ClientOptions& options,
                                        const std::string& serverName,
                                        const std::string& firstBytes);

}  // namespace xmesh::mesh::test
