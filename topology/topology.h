// The mesh topology: one XMPP domain served by up to 30 clusters of up to 6 nodes, each
// node in exactly one presence redundancy group (PRG) of 1 or 2 nodes of its cluster.
// One file describes the whole mesh and is shared by every node (loader.h reads it);
// a node finds itself in it by its id.
//
// A Topology is immutable once built and only exists validated: Topology::build() checks
// every limit and cross-reference and names the offending entry in its error. Nodes,
// groups and clusters are addressed by dense indices (NodeIndex, GroupIndex,
// ClusterIndex) in file order, so the router can keep per-node state in flat arrays and
// a set of nodes in a bitset (NodeSet); string ids are for files, logs and admins.
//
// Deterministic dial rule (r2r): of every pair of nodes, the one with the
// lexicographically smaller id (byte order) dials, the other accepts. The rule depends
// only on the two ids, so both sides agree without talking, and it does not change when
// nodes are added elsewhere in the mesh.
#pragma once
#include <bitset>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace xmesh::topology {

inline constexpr size_t kMaxClusters = 30;
inline constexpr size_t kMaxNodesPerCluster = 6;
inline constexpr size_t kMaxNodesPerGroup = 2;
inline constexpr size_t kMaxNodes = kMaxClusters * kMaxNodesPerCluster;  // 180
inline constexpr size_t kMaxIdLength = 63;
inline constexpr int kDefaultC2sPort = 5222;
inline constexpr int kDefaultR2rPort = 7400;
inline constexpr int kDefaultAdminPort = 9400;

using NodeIndex = uint16_t;
using GroupIndex = uint16_t;
using ClusterIndex = uint16_t;

// How new users get a home node (seed 002 "User Assignment Mode").
enum class AssignmentMode {
  Balanced,       // even spread over all nodes (default)
  ActiveStandby,  // only the first node of each PRG; the second is the standby
  None,           // manual: `xmeshctl user home NAME NODE`
};
std::string_view toString(AssignmentMode mode);  // "balanced", "active-standby", "none"
std::optional<AssignmentMode> parseAssignmentMode(std::string_view text);

// Server Recovery Manager parameters (SPEC §4, seeds 003/004), with the seeds'
// defaults. Every value is a duration so tests can use sub-second settings.
struct SrmParams {
  std::chrono::milliseconds heartbeatInterval{15'000};
  std::chrono::milliseconds heartbeatTimeout{60'000};
  std::chrono::milliseconds initHeartbeatTimeout{120'000};  // while the peer initializes
  std::chrono::milliseconds criticalServiceDelay{90'000};   // service down this long: fail over
  bool automaticFallback = false;
  std::chrono::milliseconds automaticFallbackDelay{30 * 60'000};  // after the primary is healthy
  std::chrono::milliseconds reloginLowerLimit{120'000};  // dual-connection re-login window
  std::chrono::milliseconds reloginUpperLimit{537'000};
};

// r2r transport security. Paths are absolute after loading (relative ones are resolved
// against the topology file's folder); "{node}" in certFile/keyFile is the node id.
struct Security {
  bool secure = true;  // TLS 1.3 with mutual verification; false = plain TCP
  std::string caFile = "certs/ca.pem";
  std::string certFile = "certs/{node}.pem";
  std::string keyFile = "certs/{node}.key";

  std::string certFileFor(std::string_view nodeId) const;
  std::string keyFileFor(std::string_view nodeId) const;
};

// Replaces every "{node}" in `pattern` with `nodeId` (for paths such as data dirs too).
std::string expandNodeTemplate(std::string_view pattern, std::string_view nodeId);

// A listening endpoint. `address` is what the node binds; it may be a wildcard
// ("0.0.0.0", "::"), in which case others reach the node at its host (reachable()).
struct Endpoint {
  std::string address;
  int port = 0;  // admin only: 0 = off
};

struct Node {
  std::string id;    // unique in the mesh; [a-z0-9._-], starts with a letter or digit
  std::string host;  // DNS name or IP literal by which nodes and clients reach it
  Endpoint c2s;      // default: host:5222
  Endpoint r2r;      // default: host:7400
  Endpoint admin;    // default: host:9400
  NodeIndex index = 0;
  ClusterIndex cluster = 0;
  GroupIndex group = 0;

  // Where another process connects: the endpoint's address, or `host` when it is a
  // wildcard. Used for r2r dialing, <see-other-host/> targets and admin queries.
  std::string reachable(const Endpoint& e) const;
};

struct Group {
  std::string id;  // unique within its cluster
  ClusterIndex cluster = 0;
  std::vector<NodeIndex> nodes;  // 1 or 2, file order (the first is the active node)
  bool ha = false;               // the SRM fails users over between the two nodes
};

struct Cluster {
  std::string id;  // unique in the mesh
  AssignmentMode assignment = AssignmentMode::Balanced;
  SrmParams srm;
  std::vector<NodeIndex> nodes;    // file order
  std::vector<GroupIndex> groups;  // file order
};

// A set of nodes (e.g. the failed-over ones), cheap to copy and test.
class NodeSet {
 public:
  void insert(NodeIndex n) { bits_.set(n); }
  void erase(NodeIndex n) { bits_.reset(n); }
  bool contains(NodeIndex n) const { return n < kMaxNodes && bits_.test(n); }
  size_t size() const { return bits_.count(); }
  bool empty() const { return bits_.none(); }
  bool operator==(const NodeSet&) const = default;

 private:
  std::bitset<kMaxNodes> bits_;
};

// Everything the file says, before cross-checks: what the loader produces and what a
// test or simulation may fill in directly. Group members are named by node id.
struct NodeDesc {
  std::string id, host;
  std::optional<std::string> c2sAddress, r2rAddress, adminAddress;  // default: host
  int c2sPort = kDefaultC2sPort;
  int r2rPort = kDefaultR2rPort;
  int adminPort = kDefaultAdminPort;
};
struct GroupDesc {
  std::string id;
  std::vector<std::string> nodes;
  std::optional<bool> ha;  // default: true for 2 nodes, false for 1
};
struct ClusterDesc {
  std::string id;
  std::optional<AssignmentMode> assignment;  // default: the mesh-wide mode
  std::optional<SrmParams> srm;              // default: the mesh-wide parameters
  std::vector<NodeDesc> nodes;
  std::vector<GroupDesc> groups;
};
struct TopologyDesc {
  std::string domain;
  AssignmentMode assignment = AssignmentMode::Balanced;
  Security security;
  SrmParams srm;
  std::vector<ClusterDesc> clusters;
};

class Topology {
 public:
  // Validates `desc` (limits, uniqueness, group membership, addresses, ports, SRM
  // ordering) and builds the indices. Error reason "topology-invalid"; the detail lists
  // every problem found, "; "-separated, each naming the cluster/group/node concerned.
  static Result<Topology> build(TopologyDesc desc);

  const std::string& domain() const { return domain_; }
  const Security& security() const { return security_; }
  AssignmentMode assignment() const { return assignment_; }  // mesh-wide default
  const SrmParams& srm() const { return srm_; }              // mesh-wide default

  const std::vector<Cluster>& clusters() const { return clusters_; }
  const std::vector<Group>& groups() const { return groups_; }
  const std::vector<Node>& nodes() const { return nodes_; }

  // Lookups by id; nullopt / nullptr when absent.
  std::optional<NodeIndex> nodeIndex(std::string_view nodeId) const;
  std::optional<ClusterIndex> clusterIndex(std::string_view clusterId) const;
  const Node* findNode(std::string_view nodeId) const;
  const Cluster* findCluster(std::string_view clusterId) const;

  // Index-based queries: the index must be valid (asserted).
  const Node& node(NodeIndex n) const;
  const Cluster& clusterOf(NodeIndex n) const;
  const Group& groupOf(NodeIndex n) const;
  // The other node of n's PRG (whether or not the group is HA); nullopt in a 1-node PRG.
  std::optional<NodeIndex> prgPeer(NodeIndex n) const;
  // The node that takes over n's users when n fails: its PRG peer in an HA group.
  std::optional<NodeIndex> backupOf(NodeIndex n) const;
  // Every other node of the mesh (intra- and intercluster), in index order: n keeps one
  // r2r link to each.
  std::vector<NodeIndex> peersOf(NodeIndex n) const;

  // The dial rule: true when `from` initiates the r2r link to `to` (from.id < to.id).
  // For a != b exactly one of dials(a, b) and dials(b, a) holds; dials(a, a) is false.
  bool dials(NodeIndex from, NodeIndex to) const;
  static bool dialsById(std::string_view from, std::string_view to) { return from < to; }
  std::vector<NodeIndex> dialTargets(NodeIndex n) const;  // peers n dials
  std::vector<NodeIndex> acceptsFrom(NodeIndex n) const;  // peers that dial n

  // Who serves the users homed on `home`: home itself unless it is failed over; then
  // its HA backup if that one is not failed over too; otherwise nobody (nullopt).
  std::optional<NodeIndex> servingNode(NodeIndex home, const NodeSet& failedOver) const;

  // Comma- or space-separated node ids to a set; error "unknown-node" names the id.
  Result<NodeSet> parseNodeSet(std::string_view ids) const;

 private:
  Topology() = default;

  std::string domain_;
  Security security_;
  AssignmentMode assignment_ = AssignmentMode::Balanced;
  SrmParams srm_;
  std::vector<Cluster> clusters_;
  std::vector<Group> groups_;
  std::vector<Node> nodes_;
  std::unordered_map<std::string, NodeIndex> nodeById_;
  std::unordered_map<std::string, ClusterIndex> clusterById_;
};

// Syntax checks shared by the loader and build(); exposed for xmeshctl and tests.
bool validId(std::string_view id);        // [a-z0-9][a-z0-9._-]*, at most kMaxIdLength
bool validHost(std::string_view host);    // DNS name (RFC 1123 labels) or IP literal
bool validAddress(std::string_view addr); // IP literal (incl. wildcards) or DNS name
bool isWildcard(std::string_view addr);   // "0.0.0.0" or "::"
bool isIpLiteral(std::string_view addr);

}  // namespace xmesh::topology
