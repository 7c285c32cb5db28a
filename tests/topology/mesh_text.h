// Generates topology TOML for tests: `clusters` clusters of `nodes` nodes each, paired
// into 2-node HA groups (a last odd node gets its own group). Node ids are
// c<cluster>n<node>, hosts 10.0.<cluster>.<node>.
#pragma once
#include <string>

namespace xmesh::topology::testing {

inline std::string nodeId(int c, int n) { return "c" + std::to_string(c) + "n" + std::to_string(n); }

inline std::string meshToml(int clusters, int nodes, const std::string& header = "secure = false") {
  std::string t = "domain = \"example.com\"\n[security]\n" + header + "\n";
  for (int c = 1; c <= clusters; ++c) {
    t += "[[clusters]]\nid = \"c" + std::to_string(c) + "\"\n";
    for (int n = 1; n <= nodes; ++n) {
      t += "[[clusters.nodes]]\nid = \"" + nodeId(c, n) + "\"\nhost = \"10.0." + std::to_string(c) + "." +
           std::to_string(n) + "\"\n";
    }
    for (int n = 1; n <= nodes; n += 2) {
      t += "[[clusters.groups]]\nid = \"g" + std::to_string(n) + "\"\nnodes = [\"" + nodeId(c, n) + "\"";
      if (n + 1 <= nodes) t += ", \"" + nodeId(c, n + 1) + "\"";
      t += "]\n";
    }
  }
  return t;
}

}  // namespace xmesh::topology::testing
