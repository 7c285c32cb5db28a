#include "ctl/mesh_cli.h"

#include <CLI/CLI.hpp>

#include <iostream>

namespace xmesh::ctl {

MeshCli::MeshCli(CLI::App& app) {
  CLI::App* topo = app.add_subcommand("topology", "validate and show the mesh topology file");
  topo->require_subcommand(1);
  check_ = topo->add_subcommand("check", "validate a topology file and print a summary");
  check_->add_option("file", file_, "topology TOML file")->required();
  show_ = topo->add_subcommand("show", "clusters, groups and nodes (--admin: each node's live state)");
  show_->add_option("file", file_, "topology TOML file")->required();
  show_->add_flag("--admin", showOptions_.admin, "query GET /status on every node's admin port");
  show_->add_option("--timeout-ms", timeoutMs_, "per-node admin query timeout")->capture_default_str();

  status_ = app.add_subcommand("status", "the live mesh: every node's state and each r2r link's (topology show --admin)");
  status_->add_option("file", file_, "topology TOML file")->required();
  status_->add_option("--timeout-ms", timeoutMs_, "per-node admin query timeout")->capture_default_str();

  const std::pair<const char*, const char*> srmCommands[] = {
      {"failover", "move NODE's users to its redundancy peer (SRM manual failover)"},
      {"fallback", "bring the failed-over users of NODE's group back to their home node"},
      {"recover", "re-initialize NODE's redundancy group after Running in Failed Mode"}};
  for (const auto& [name, help] : srmCommands) {
    CLI::App* c = app.add_subcommand(name, help);
    c->add_option("node", srmOptions_.node, "node id")->required();
    c->add_option("--topology", srmOptions_.topologyPath, "topology TOML file")->required();
    srm_.push_back(c);
  }

  CLI::App* home = app.add_subcommand("home", "home-node assignment by the topology's mode");
  home->require_subcommand(1);
  assign_ = home->add_subcommand("assign", "give every user without a home node one (needs --db or --config)");
  assign_->add_option("--topology", assignOptions_.topologyPath, "topology TOML file")->required();
  assign_->add_option("--cluster", assignOptions_.cluster, "assign within this cluster (default: the whole mesh)");
  assign_->add_option("--failed-over", assignOptions_.failedOver,
                      "comma-separated ids of failed-over nodes: assignment is refused in their clusters");
  assign_->add_flag("--reassign-unknown", assignOptions_.reassignUnknown,
                    "also assign users whose home names a node not in the topology");
  assign_->add_flag("--dry-run", assignOptions_.dryRun, "print the plan, change nothing");

  CLI::App* cert = app.add_subcommand("cert", "mesh CA and node certificates for secure r2r links");
  cert->require_subcommand(1);
  ca_ = cert->add_subcommand("ca", "create the mesh CA (ca.pem, ca.key)");
  ca_->add_option("--out", caOptions_.outDir, "output folder")->required();
  ca_->add_option("--name", caOptions_.name, "CA common name")->capture_default_str();
  ca_->add_option("--days", caOptions_.days, "validity")->capture_default_str();
  ca_->add_flag("--force", caOptions_.force, "replace an existing CA");
  nodeCert_ = cert->add_subcommand("node", "issue one certificate per node of the topology");
  nodeCert_->add_option("--ca", nodeOptions_.caDir, "folder with ca.pem and ca.key")->required();
  nodeCert_->add_option("--topology", nodeOptions_.topologyPath, "topology TOML file")->required();
  nodeCert_->add_option("--out", nodeOptions_.outDir, "output folder (<node>.pem, <node>.key)")->required();
  nodeCert_->add_option("--node", nodeOptions_.nodes, "only these nodes (repeatable)");
  nodeCert_->add_option("--days", nodeOptions_.days, "validity")->capture_default_str();
}

std::optional<Status> MeshCli::run(const StoreOpener& openStore) {
  if (*check_) return checkTopology(file_, std::cout);
  if (*show_ || *status_) {
    if (*status_) showOptions_.admin = true;
    if (timeoutMs_ <= 0) return Status::fail("usage", "--timeout-ms must be positive");
    showOptions_.timeout = std::chrono::milliseconds(timeoutMs_);
    return showTopology(file_, showOptions_, std::cout);
  }
  if (*assign_) {
    auto st = openStore();
    if (!st) return Status::fail(st.error().reason, st.error().detail);
    return assignHomes(*st.value(), assignOptions_, std::cout);
  }
  for (CLI::App* c : srm_) {
    if (*c) {
      srmOptions_.command = c->get_name();
      return runSrmCommand(srmOptions_, std::cout);
    }
  }
  if (*ca_) return makeCa(caOptions_, std::cout);
  if (*nodeCert_) return makeNodeCerts(nodeOptions_, std::cout);
  return std::nullopt;
}

}  // namespace xmesh::ctl
