// The mesh subcommands of xmeshctl (topology, home, cert), registered on the main
// CLI11 app so main.cc only adds them and asks whether one of them was chosen.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "ctl/srm_commands.h"
#include "ctl/topology_commands.h"
#include "store/store.h"

namespace CLI {
class App;
}

namespace xmesh::ctl {

class MeshCli {
 public:
  // Adds `topology check|show`, `status`, `home assign`, `cert ca|node`,
  // `failover|fallback|recover` to `app`.
  explicit MeshCli(CLI::App& app);

  using StoreOpener = std::function<Result<store::StorePtr>()>;
  // After parsing: runs the chosen mesh command and returns its status, or nullopt
  // when the command line chose none of them. `openStore` is used by `home assign`.
  std::optional<Status> run(const StoreOpener& openStore);

 private:
  CLI::App* check_ = nullptr;
  CLI::App* show_ = nullptr;
  CLI::App* status_ = nullptr;
  CLI::App* assign_ = nullptr;
  CLI::App* ca_ = nullptr;
  CLI::App* nodeCert_ = nullptr;
  std::vector<CLI::App*> srm_;  // failover, fallback, recover
  SrmCommandOptions srmOptions_;
  std::string file_;
  ShowOptions showOptions_;
  int timeoutMs_ = 1500;
  HomeAssignOptions assignOptions_;
  CaOptions caOptions_;
  NodeCertOptions nodeOptions_;
};

}  // namespace xmesh::ctl
