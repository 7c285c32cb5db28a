// xmeshd: the node router process.
#include <signal.h>
#include <uv.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <pthread.h>
#include <thread>
#include <iostream>

#include "core/log.h"
#include "router/admin_server.h"
#include "router/mesh_node.h"
#include "router/node.h"
#include "router/redundancy.h"
#include "topology/loader.h"
#include "topology/node_settings.h"


int main(int argc, char** argv) {
  CLI::App app{"xmeshd - xmesh node router"};
  std::string configPath;
  std::string nodeId;
  int c2sPort = -1, adminPort = -1, loops = -1;
  std::string dataDir;
  std::string topologyPath;
  app.add_option("-c,--config", configPath, "TOML config file");
  app.add_option("--node", nodeId, "Node id (overrides node_id)");
  app.add_option("--c2s-port", c2sPort, "Override listen.c2s_port");
  app.add_option("--admin-port", adminPort, "Override listen.admin_port (0 = off)");
  app.add_option("--loops", loops, "Override loops (0 = one per core)");
  app.add_option("--data-dir", dataDir, "Override data_dir");
  app.add_option("--topology", topologyPath, "Mesh topology TOML (with --node): identity and listeners");
  std::string r2rListen;
  app.add_option("--r2r-listen", r2rListen,
                 "Bind the r2r listener to ADDRESS:PORT instead of the topology's r2r endpoint "
                 "(a node reached through a port forward or proxy)");
  CLI11_PARSE(app, argc, argv);

  xmesh::NodeConfig config;
  if (!configPath.empty()) {
    auto loaded = xmesh::loadConfig(configPath);
    if (!loaded.isOk()) {
      std::cerr << "xmeshd: " << loaded.error().reason << ": " << loaded.error().detail << "\n";
      return 2;
    }
    config = loaded.value();
  }
  if (!nodeId.empty()) config.nodeId = nodeId;
  if (c2sPort >= 0) config.listen.c2sPort = c2sPort;
  if (adminPort >= 0) config.listen.adminPort = adminPort;
  if (loops >= 0) config.loops = loops;
  if (!dataDir.empty()) config.dataDir = dataDir;
  std::shared_ptr<const xmesh::topology::Topology> topology;
  if (!topologyPath.empty()) {
    auto t = xmesh::topology::loadTopology(topologyPath);
    if (!t.isOk()) {
      std::cerr << "xmeshd: " << t.error().reason << ": " << t.error().detail << "\n";
      return 2;
    }
    if (auto s = xmesh::topology::applyTopology(t.value(), config.nodeId, config); !s) {
      std::cerr << "xmeshd: " << s.error().reason << ": " << s.error().detail << "\n";
      return 2;
    }
    topology = std::make_shared<const xmesh::topology::Topology>(std::move(t.value()));
  }
  xmesh::log::Level level;
  if (xmesh::log::parseLevel(config.logLevel, &level)) xmesh::log::setLevel(level);

  signal(SIGPIPE, SIG_IGN);
  // SIGTERM/SIGINT are taken by a thread in sigwait(), never by a handler: Node::stop()
  // takes a mutex and allocates, which a signal handler interrupting a loop thread must
  // not. Blocked here, before any thread exists, so every thread inherits the mask.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGTERM);
  sigaddset(&stopSignals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
  xmesh::router::Node node(config);
  node.setTopology(topology);
  if (!r2rListen.empty()) {
    size_t colon = r2rListen.rfind(':');
    int port = colon == std::string::npos ? 0 : std::atoi(r2rListen.c_str() + colon + 1);
    if (port <= 0 || port > 65535) {
      std::cerr << "xmeshd: --r2r-listen wants ADDRESS:PORT, got '" << r2rListen << "'\n";
      return 2;
    }
    node.setR2rListen(xmesh::topology::Endpoint{r2rListen.substr(0, colon), port});
  }
  if (auto s = node.init(); !s) {
    xmesh::log::error("node", "init-failed", {{"reason", s.error().reason}, {"detail", s.error().detail}});
    return 1;
  }
  xmesh::router::AdminServer admin([&node](const std::string& path, int* code, std::string* type) {
    *code = 200;
    if (path == "/metrics") {
      *type = "text/plain; version=0.0.4";
      return node.renderMetrics();
    }
    // Operations: force a reconnect of one r2r link (what a link reset costs is visible
    // in the resend counters; tests use it to cut links under traffic).
    if (path.rfind("/mesh/reset-link?peer=", 0) == 0) {
      std::string peer = path.substr(std::string("/mesh/reset-link?peer=").size());
      *type = "text/plain";
      if (node.mesh() && node.mesh()->resetLink(peer)) return std::string("ok\n");
      *code = 404;
      return std::string("no such peer\n");
    }
    if (path == "/status") {
      *type = "application/json";
      return node.renderStatus();
    }
    // SRM admin commands (xmeshctl failover/fallback/recover): answer 200 "ok" when the
    // SRM accepted the request, 409 with the reason when it did not.
    for (const char* cmd : {"failover", "fallback", "recover"}) {
      if (path == std::string("/srm/") + cmd) {
        *type = "text/plain";
        auto* red = node.mesh() ? node.mesh()->redundancy() : nullptr;
        if (!red) {
          *code = 409;
          return std::string("no-peer: this node is not in a redundancy pair\n");
        }
        xmesh::Status s = red->command(cmd);
        if (s) return std::string("ok\n");
        *code = 409;
        return s.error().reason + ": " + s.error().detail + "\n";
      }
    }
    *code = 404;
    return std::string("not found\n");
  });
  if (config.listen.adminPort > 0) {
    if (auto s = admin.start(config.listen.adminAddress, config.listen.adminPort); !s) {
      xmesh::log::error("node", "admin-failed", {{"detail", s.error().detail}});
      return 1;
    }
  }
  std::atomic<bool> joined{false};
  std::thread signalWaiter([&] {
    int sig = 0;
    sigwait(&stopSignals, &sig);
    if (joined.load()) return;  // woken by main below: the node already stopped
    xmesh::log::info("node", "stopping", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
    node.stop();
  });
  node.start();
  node.join();
  joined.store(true);
  pthread_kill(signalWaiter.native_handle(), SIGTERM);  // no-op if it already returned
  signalWaiter.join();
  admin.stop();
  xmesh::log::info("node", "stopped", {{"node", config.nodeId}});
  return 0;
}
