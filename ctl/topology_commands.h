// `xmeshctl topology check|show`, `xmeshctl home assign` and `xmeshctl cert ca|node`:
// the mesh side of xmeshctl. Each takes already-parsed arguments, writes its report to
// `out` and returns a Status; main.cc turns a failure into exit code 2 and one line on
// stderr, like the user commands.
#pragma once
#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/store.h"
#include "topology/topology.h"

namespace xmesh::ctl {

// Validates the file and prints a summary; missing certificate files (secure mode) are
// printed as warnings, not failures (they may be created after the file).
Status checkTopology(const std::string& path, std::ostream& out);

struct ShowOptions {
  bool admin = false;  // query every node's GET /status on its admin endpoint
  std::chrono::milliseconds timeout{1500};  // per node; nodes are queried in parallel
};
// Clusters, groups and nodes; with `admin`, each node's live state (or why it could not
// be reached: a node that is down is reported, not an error).
Status showTopology(const std::string& path, const ShowOptions& options, std::ostream& out);

struct HomeAssignOptions {
  std::string topologyPath;
  std::string cluster;     // "" = the whole mesh
  std::string failedOver;  // comma-separated node ids (until the SRM reports it live)
  bool reassignUnknown = false;
  bool dryRun = false;
};
// Gives every user of the store without a home one, by the topology's assignment mode
// (topology/assignment.h), and prints the per-node totals.
Status assignHomes(store::Store& st, const HomeAssignOptions& options, std::ostream& out);

struct CaOptions {
  std::string outDir;
  std::string name = "xmesh-ca";  // the CA certificate's CN
  int days = 3650;
  bool force = false;  // replace an existing CA (every node certificate must be reissued)
};
// Writes <outDir>/ca.pem and <outDir>/ca.key (0600).
Status makeCa(const CaOptions& options, std::ostream& out);

struct NodeCertOptions {
  std::string caDir;  // holds ca.pem and ca.key
  std::string topologyPath;
  std::string outDir;
  std::vector<std::string> nodes;  // empty = every node of the topology
  int days = 825;
};
// Writes <outDir>/<node>.pem and <outDir>/<node>.key (0600) for each node: CN = node id,
// DNS SANs = node id and host (an IPv6 host is left out: tls/selfsigned.h writes DNS
// SANs only), signed by the CA, serverAuth + clientAuth.
Status makeNodeCerts(const NodeCertOptions& options, std::ostream& out);

}  // namespace xmesh::ctl
