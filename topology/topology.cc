#include "topology/topology.h"

#include <arpa/inet.h>

#include <cassert>
#include <map>
#include <set>

namespace xmesh::topology {
namespace {

using std::chrono::milliseconds;

// Collects problems; each names the entry it is about.
class Problems {
 public:
  void add(const std::string& what) {
    if (!text_.empty()) text_ += "; ";
    text_ += what;
  }
  bool empty() const { return text_.empty(); }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

std::string q(std::string_view s) { return "'" + std::string(s) + "'"; }

bool isLoopbackName(std::string_view a) { return a == "127.0.0.1" || a == "::1" || a == "localhost"; }

void checkPort(Problems& p, const std::string& where, const char* key, int port, bool zeroAllowed) {
  if (port == 0 && zeroAllowed) return;
  if (port < 1 || port > 65535)
    p.add(where + ": " + key + " " + std::to_string(port) + " out of range 1-65535" +
          (zeroAllowed ? " (0 = off)" : ""));
}

void checkSrm(Problems& p, const std::string& where, const SrmParams& s) {
  auto pos = [&](const char* key, milliseconds v) {
    if (v.count() <= 0) p.add(where + key + " must be positive");
  };
  pos("heartbeat_interval", s.heartbeatInterval);
  pos("heartbeat_timeout", s.heartbeatTimeout);
  pos("init_heartbeat_timeout", s.initHeartbeatTimeout);
  pos("automatic_fallback_delay", s.automaticFallbackDelay);
  if (s.criticalServiceDelay.count() < 0) p.add(where + "critical_service_delay must not be negative");
  if (s.reloginLowerLimit.count() < 0) p.add(where + "relogin_lower_limit must not be negative");
  if (s.heartbeatTimeout <= s.heartbeatInterval)
    p.add(where + "heartbeat_timeout must exceed heartbeat_interval (a single late heartbeat "
                  "would otherwise fail the peer over)");
  if (s.initHeartbeatTimeout < s.heartbeatTimeout)
    p.add(where + "init_heartbeat_timeout must not be shorter than heartbeat_timeout");
  if (s.reloginUpperLimit < s.reloginLowerLimit)
    p.add(where + "relogin_upper_limit must not be below relogin_lower_limit");
}

void checkSecurity(Problems& p, const Security& s) {
  if (!s.secure) return;
  if (s.caFile.empty()) p.add("security.ca_file must be set when secure = true");
  for (auto [key, value] : {std::pair{"cert_file", &s.certFile}, std::pair{"key_file", &s.keyFile}}) {
    if (value->find("{node}") == std::string::npos)
      p.add(std::string("security.") + key + " " + q(*value) +
            " must contain {node}: each node has its own certificate (its CN is the node id)");
  }
}

}  // namespace

std::string_view toString(AssignmentMode mode) {
  switch (mode) {
    case AssignmentMode::Balanced: return "balanced";
    case AssignmentMode::ActiveStandby: return "active-standby";
    case AssignmentMode::None: return "none";
  }
  return "balanced";
}

std::optional<AssignmentMode> parseAssignmentMode(std::string_view text) {
  if (text == "balanced") return AssignmentMode::Balanced;
  if (text == "active-standby") return AssignmentMode::ActiveStandby;
  if (text == "none") return AssignmentMode::None;
  return std::nullopt;
}

std::string expandNodeTemplate(std::string_view pattern, std::string_view nodeId) {
  std::string out;
  constexpr std::string_view kTag = "{node}";
  size_t pos = 0;
  for (;;) {
    size_t hit = pattern.find(kTag, pos);
    out += pattern.substr(pos, hit == std::string_view::npos ? std::string_view::npos : hit - pos);
    if (hit == std::string_view::npos) return out;
    out += nodeId;
    pos = hit + kTag.size();
  }
}

std::string Security::certFileFor(std::string_view nodeId) const { return expandNodeTemplate(certFile, nodeId); }
std::string Security::keyFileFor(std::string_view nodeId) const { return expandNodeTemplate(keyFile, nodeId); }

std::string Node::reachable(const Endpoint& e) const { return isWildcard(e.address) ? host : e.address; }

bool validId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
  }
  return true;
}

bool isIpLiteral(std::string_view addr) {
  std::string s(addr);
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool isWildcard(std::string_view addr) { return addr == "0.0.0.0" || addr == "::"; }

bool validHost(std::string_view host) {
  if (isIpLiteral(host)) return !isWildcard(host);
  if (host.empty() || host.size() > 253) return false;
  size_t labelLen = 0;
  bool allDigitsOrDots = true;
  for (size_t i = 0; i < host.size(); ++i) {
    char c = host[i];
    if (c == '.') {
      if (labelLen == 0 || host[i - 1] == '-') return false;
      labelLen = 0;
      continue;
    }
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-') return false;
    if (c == '-' && labelLen == 0) return false;
    if (!(c >= '0' && c <= '9')) allDigitsOrDots = false;
    if (++labelLen > 63) return false;
  }
  // "300.1.2.3" is neither a valid IP nor a plausible name.
  return labelLen > 0 && host.back() != '-' && !allDigitsOrDots;
}

bool validAddress(std::string_view addr) { return isIpLiteral(addr) || validHost(addr); }

Result<Topology> Topology::build(TopologyDesc desc) {
  Problems p;
  Topology t;
  t.domain_ = desc.domain;
  t.security_ = desc.security;
  t.assignment_ = desc.assignment;
  t.srm_ = desc.srm;

  if (desc.domain.empty()) p.add("domain must be set");
  else if (!validHost(desc.domain)) p.add("domain " + q(desc.domain) + " is not a valid DNS name");
  checkSecurity(p, desc.security);
  checkSrm(p, "srm.", desc.srm);
  if (desc.clusters.empty()) p.add("no clusters: at least one [[clusters]] entry is needed");
  if (desc.clusters.size() > kMaxClusters)
    p.add(std::to_string(desc.clusters.size()) + " clusters, at most " + std::to_string(kMaxClusters) +
          " in one mesh");

  // Endpoint collisions: (address, port), with loopback/wildcard addresses scoped by host.
  std::map<std::string, std::string> endpoints;
  auto claim = [&](const std::string& nodeId, const char* what, const std::string& host, const Endpoint& e) {
    if (e.port == 0) return;
    std::string key = (isWildcard(e.address) || isLoopbackName(e.address) ? host + "|" : std::string()) +
                      e.address + "|" + std::to_string(e.port);
    auto [it, inserted] = endpoints.emplace(key, "node " + q(nodeId) + " " + what);
    if (!inserted)
      p.add("node " + q(nodeId) + " " + what + " " + e.address + ":" + std::to_string(e.port) +
            " is already used by " + it->second);
  };

  std::set<std::string> clusterIds;
  for (size_t ci = 0; ci < desc.clusters.size() && ci < kMaxClusters; ++ci) {
    ClusterDesc& cd = desc.clusters[ci];
    std::string cw = "cluster " + q(cd.id);
    if (!validId(cd.id)) p.add("clusters[" + std::to_string(ci) + "]: id " + q(cd.id) +
                               " is not a valid id ([a-z0-9][a-z0-9._-]*, at most 63 characters)");
    else if (!clusterIds.insert(cd.id).second) p.add(cw + " is defined twice");
    Cluster c;
    c.id = cd.id;
    c.assignment = cd.assignment.value_or(desc.assignment);
    c.srm = cd.srm.value_or(desc.srm);
    if (cd.srm) checkSrm(p, cw + ": srm.", c.srm);
    auto clusterIndex = static_cast<ClusterIndex>(t.clusters_.size());
    if (cd.nodes.empty()) p.add(cw + " has no nodes");
    if (cd.nodes.size() > kMaxNodesPerCluster)
      p.add(cw + " has " + std::to_string(cd.nodes.size()) + " nodes, at most " +
            std::to_string(kMaxNodesPerCluster) + " per cluster");

    for (NodeDesc& nd : cd.nodes) {
      std::string nw = "node " + q(nd.id);
      if (!validId(nd.id)) {
        p.add(cw + ": node id " + q(nd.id) + " is not a valid id ([a-z0-9][a-z0-9._-]*, at most 63 characters)");
      } else if (auto it = t.nodeById_.find(nd.id); it != t.nodeById_.end()) {
        p.add(nw + " is defined twice (in cluster " + q(desc.clusters[t.nodes_[it->second].cluster].id) +
              " and cluster " + q(cd.id) + "); node ids must be unique across the mesh");
        continue;
      }
      if (t.nodes_.size() >= kMaxNodes) continue;
      if (!validHost(nd.host)) p.add(nw + ": host " + q(nd.host) + " is not a DNS name or IP address");
      Node n;
      n.id = nd.id;
      n.host = nd.host;
      n.c2s = {nd.c2sAddress.value_or(nd.host), nd.c2sPort};
      n.r2r = {nd.r2rAddress.value_or(nd.host), nd.r2rPort};
      n.admin = {nd.adminAddress.value_or(nd.host), nd.adminPort};
      for (auto [key, e] : {std::pair{"c2s_address", &n.c2s}, std::pair{"r2r_address", &n.r2r},
                            std::pair{"admin_address", &n.admin}}) {
        if (!validAddress(e->address)) p.add(nw + ": " + key + " " + q(e->address) + " is not a valid address");
      }
      checkPort(p, nw, "c2s_port", n.c2s.port, false);
      checkPort(p, nw, "r2r_port", n.r2r.port, false);
      checkPort(p, nw, "admin_port", n.admin.port, true);
      if (n.c2s.port == n.r2r.port || (n.admin.port != 0 && (n.admin.port == n.c2s.port || n.admin.port == n.r2r.port)))
        p.add(nw + ": c2s_port, r2r_port and admin_port must differ");
      else {
        claim(n.id, "c2s", n.host, n.c2s);
        claim(n.id, "r2r", n.host, n.r2r);
        claim(n.id, "admin", n.host, n.admin);
      }
      n.index = static_cast<NodeIndex>(t.nodes_.size());
      n.cluster = clusterIndex;
      n.group = UINT16_MAX;  // set by the group pass below
      if (validId(n.id)) t.nodeById_.emplace(n.id, n.index);
      c.nodes.push_back(n.index);
      t.nodes_.push_back(std::move(n));
    }

    std::set<std::string> groupIds;
    for (size_t gi = 0; gi < cd.groups.size(); ++gi) {
      GroupDesc& gd = cd.groups[gi];
      std::string gw = cw + " group " + q(gd.id);
      if (!validId(gd.id)) p.add(cw + ": groups[" + std::to_string(gi) + "] id " + q(gd.id) + " is not a valid id");
      else if (!groupIds.insert(gd.id).second) p.add(gw + " is defined twice");
      if (gd.nodes.empty()) p.add(gw + " has no nodes (a group has 1 or 2)");
      if (gd.nodes.size() > kMaxNodesPerGroup)
        p.add(gw + " has " + std::to_string(gd.nodes.size()) + " nodes, at most " +
              std::to_string(kMaxNodesPerGroup) + " per presence redundancy group");
      Group g;
      g.id = gd.id;
      g.cluster = clusterIndex;
      g.ha = gd.ha.value_or(gd.nodes.size() == 2);
      if (g.ha && gd.nodes.size() != 2) p.add(gw + ": ha = true needs 2 nodes");
      auto groupIndex = static_cast<GroupIndex>(t.groups_.size());
      for (const std::string& member : gd.nodes) {
        auto it = t.nodeById_.find(member);
        if (it == t.nodeById_.end()) {
          p.add(gw + ": unknown node " + q(member));
          continue;
        }
        Node& n = t.nodes_[it->second];
        if (n.cluster != clusterIndex) {
          p.add(gw + ": node " + q(member) + " belongs to cluster " + q(desc.clusters[n.cluster].id) +
                "; a group's nodes must be in its own cluster");
          continue;
        }
        if (n.group != UINT16_MAX) {
          std::string other = n.group < t.groups_.size() ? t.groups_[n.group].id : gd.id;
          p.add(gw + ": node " + q(member) + " is already in group " + q(other) +
                "; every node is in exactly one group");
          continue;
        }
        n.group = groupIndex;
        g.nodes.push_back(n.index);
      }
      c.groups.push_back(groupIndex);
      t.groups_.push_back(std::move(g));
    }
    for (NodeIndex ni : c.nodes) {
      if (t.nodes_[ni].group == UINT16_MAX)
        p.add("node " + q(t.nodes_[ni].id) + " of cluster " + q(cd.id) + " is in no group; every node is in exactly one group");
    }
    if (validId(c.id)) t.clusterById_.emplace(c.id, clusterIndex);
    t.clusters_.push_back(std::move(c));
  }

  if (!p.empty()) return Error{"topology-invalid", p.text()};
  return t;
}

std::optional<NodeIndex> Topology::nodeIndex(std::string_view nodeId) const {
  auto it = nodeById_.find(std::string(nodeId));
  if (it == nodeById_.end()) return std::nullopt;
  return it->second;
}

std::optional<ClusterIndex> Topology::clusterIndex(std::string_view clusterId) const {
  auto it = clusterById_.find(std::string(clusterId));
  if (it == clusterById_.end()) return std::nullopt;
  return it->second;
}

const Node* Topology::findNode(std::string_view nodeId) const {
  auto n = nodeIndex(nodeId);
  return n ? &nodes_[*n] : nullptr;
}

const Cluster* Topology::findCluster(std::string_view clusterId) const {
  auto c = clusterIndex(clusterId);
  return c ? &clusters_[*c] : nullptr;
}

const Node& Topology::node(NodeIndex n) const {
  assert(n < nodes_.size());
  return nodes_[n];
}

const Cluster& Topology::clusterOf(NodeIndex n) const { return clusters_[node(n).cluster]; }

const Group& Topology::groupOf(NodeIndex n) const { return groups_[node(n).group]; }

std::optional<NodeIndex> Topology::prgPeer(NodeIndex n) const {
  for (NodeIndex m : groupOf(n).nodes) {
    if (m != n) return m;
  }
  return std::nullopt;
}

std::optional<NodeIndex> Topology::backupOf(NodeIndex n) const {
  if (!groupOf(n).ha) return std::nullopt;
  return prgPeer(n);
}

std::vector<NodeIndex> Topology::peersOf(NodeIndex n) const {
  std::vector<NodeIndex> out;
  out.reserve(nodes_.size());
  for (const Node& m : nodes_) {
    if (m.index != n) out.push_back(m.index);
  }
  return out;
}

bool Topology::dials(NodeIndex from, NodeIndex to) const { return dialsById(node(from).id, node(to).id); }

std::vector<NodeIndex> Topology::dialTargets(NodeIndex n) const {
  std::vector<NodeIndex> out;
  for (const Node& m : nodes_) {
    if (dials(n, m.index)) out.push_back(m.index);
  }
  return out;
}

std::vector<NodeIndex> Topology::acceptsFrom(NodeIndex n) const {
  std::vector<NodeIndex> out;
  for (const Node& m : nodes_) {
    if (dials(m.index, n)) out.push_back(m.index);
  }
  return out;
}

std::optional<NodeIndex> Topology::servingNode(NodeIndex home, const NodeSet& failedOver) const {
  if (!failedOver.contains(home)) return home;
  auto backup = backupOf(home);
  if (backup && !failedOver.contains(*backup)) return backup;
  return std::nullopt;
}

Result<NodeSet> Topology::parseNodeSet(std::string_view ids) const {
  NodeSet set;
  size_t pos = 0;
  while (pos <= ids.size()) {
    size_t end = ids.find_first_of(", ", pos);
    if (end == std::string_view::npos) end = ids.size();
    std::string_view id = ids.substr(pos, end - pos);
    if (!id.empty()) {
      auto n = nodeIndex(id);
      if (!n) return Error{"unknown-node", "no node " + q(id) + " in the topology"};
      set.insert(*n);
    }
    pos = end + 1;
  }
  return set;
}

}  // namespace xmesh::topology
