// xmeshctl failover|fallback|recover NODE: the Server Recovery Manager's admin commands
// (SPEC §4, seeds 003/004 "Manual failover/fallback/recover"), sent to the node's admin
// endpoint as the topology names it. The node's SRM decides; the command prints its
// answer and fails when the SRM refused (e.g. "bad-state: Failed Over").
#pragma once
#include <chrono>
#include <ostream>
#include <string>

#include "core/status.h"

namespace xmesh::ctl {

struct SrmCommandOptions {
  std::string topologyPath;
  std::string node;     // node id
  std::string command;  // "failover", "fallback" or "recover"
  std::chrono::milliseconds timeout{6'000};
};

Status runSrmCommand(const SrmCommandOptions& options, std::ostream& out);

}  // namespace xmesh::ctl
