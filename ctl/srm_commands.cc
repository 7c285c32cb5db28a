#include "ctl/srm_commands.h"

#include "ctl/admin_probe.h"
#include "topology/loader.h"

namespace xmesh::ctl {

Status runSrmCommand(const SrmCommandOptions& options, std::ostream& out) {
  if (options.command != "failover" && options.command != "fallback" && options.command != "recover")
    return Status::fail("usage", "unknown SRM command " + options.command);
  auto loaded = topology::loadTopology(options.topologyPath);
  if (!loaded) return Status::fail(loaded.error().reason, loaded.error().detail);
  const topology::Node* n = loaded.value().findNode(options.node);
  if (!n) return Status::fail("unknown-node", "no node " + options.node + " in " + options.topologyPath);
  if (n->admin.port == 0) return Status::fail("admin-off", "node " + n->id + " has no admin endpoint");
  auto r = httpGet(n->reachable(n->admin), n->admin.port, "/srm/" + options.command, options.timeout);
  if (!r) return Status::fail(r.error().reason, n->id + ": " + r.error().detail);
  std::string body = r.value().body;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  if (r.value().status != 200) return Status::fail("refused", n->id + " " + options.command + ": " + body);
  out << n->id << ": " << options.command << " accepted\n";
  return Status::ok();
}

}  // namespace xmesh::ctl
