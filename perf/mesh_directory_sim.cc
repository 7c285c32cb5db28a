// The 180-node mesh (30 clusters x 6 nodes) over in-memory r2r links (r2r::SimMesh):
// link setup, then the full directory sync of every node's users (7,500 each: 1.35 M),
// through the real Link encoding and the real DirectorySync and HomeDirectory.
//
// Every node in a real mesh receives the other 179 nodes' announcements in parallel with
// every other node; one process cannot hold 180 full directories (about 100 MB each), so
// the receiving side runs one node at a time: all 179 peers stream their full syncs to
// node r (staggered as xmeshd does: 8 batches of 1,000 users per 50 ms tick per node),
// r applies them, the time and the memory of r's directory are measured, and r's
// directory is freed before the next. Link setup runs once for the whole mesh.
//
//   mesh_directory_sim [--clusters 30] [--nodes-per-cluster 6] [--users-per-node 7500]
//                      [--receivers N] [--json FILE]
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/log.h"
#include "r2r/sim_mesh.h"
#include "router/directory_sync.h"
#include "router/home_directory.h"
#include "topology/topology.h"

namespace {

using xmesh::r2r::SimMesh;
using xmesh::router::DirectorySync;
using xmesh::router::HomeDirectory;
using Clock = std::chrono::steady_clock;

size_t heapBytes() { return mallinfo2().uordblks; }

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

xmesh::topology::Topology buildTopology(size_t clusters, size_t perCluster, const SimMesh& sim) {
  xmesh::topology::TopologyDesc d;
  d.domain = "example.com";
  d.security.secure = false;
  for (size_t c = 0; c < clusters; ++c) {
    xmesh::topology::ClusterDesc cd;
    cd.id = sim.clusterName(c * perCluster);
    for (size_t i = 0; i < perCluster; ++i) {
      size_t n = c * perCluster + i;
      cd.nodes.push_back({.id = SimMesh::nodeName(n), .host = "h" + std::to_string(n)});
    }
    for (size_t i = 0; i < perCluster; i += 2) {
      xmesh::topology::GroupDesc g;
      g.id = "g" + std::to_string(i / 2);
      g.nodes.push_back(SimMesh::nodeName(c * perCluster + i));
      if (i + 1 < perCluster) g.nodes.push_back(SimMesh::nodeName(c * perCluster + i + 1));
      cd.groups.push_back(g);
    }
    d.clusters.push_back(cd);
  }
  auto t = xmesh::topology::Topology::build(d);
  if (!t.isOk()) {
    std::fprintf(stderr, "topology: %s\n", t.error().detail.c_str());
    std::exit(2);
  }
  return std::move(t.value());
}

std::vector<std::string> usersOf(size_t node, size_t count) {
  std::vector<std::string> out;
  out.reserve(count);
  for (size_t k = 0; k < count; ++k) out.push_back("u" + std::to_string(node) + "x" + std::to_string(k));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  size_t clusters = 30, perCluster = 6, usersPerNode = 7500, receivers = 0;
  std::string jsonPath;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    size_t v = std::strtoull(argv[i + 1], nullptr, 10);
    if (k == "--clusters") clusters = v;
    else if (k == "--nodes-per-cluster") perCluster = v;
    else if (k == "--users-per-node") usersPerNode = v;
    else if (k == "--receivers") receivers = v;
    else if (k == "--json") jsonPath = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  xmesh::log::setLevel(xmesh::log::Level::Warn);
  const size_t n = clusters * perCluster;
  if (receivers == 0 || receivers > n) receivers = n;

  // --- link setup --------------------------------------------------------------------
  DirectorySync* receiving = nullptr;
  size_t receivingNode = 0;
  uint64_t refusals = 0;
  size_t heap0 = heapBytes();
  auto t0 = Clock::now();
  xmesh::r2r::SimOptions so;
  so.nodes = n;
  so.nodesPerCluster = perCluster;
  SimMesh sim(so, [&](size_t node, size_t from, xmesh::r2r::Unit&& unit) {
    if (node != receivingNode || !receiving || unit.name() != "dir") return;
    if (!receiving->onRecord(static_cast<xmesh::topology::NodeIndex>(from), unit)) ++refusals;
  });
  sim.connectAll();
  sim.settle();
  double setupSeconds = secondsSince(t0);
  auto totals = sim.totals();
  sim.releaseIdleParsers();
  size_t setupHeap = heapBytes() - heap0;
  std::printf("mesh: %zu nodes (%zu clusters x %zu), %zu directed links established of %zu, setup %.2f s, "
              "link memory %.1f KiB per node\n",
              n, clusters, perCluster, totals.established, n * (n - 1), setupSeconds,
              static_cast<double>(setupHeap) / 1024.0 / static_cast<double>(n));

  auto topology = buildTopology(clusters, perCluster, sim);
  // Every node's sending side: its users and a DirectorySync over its links.
  std::vector<std::unique_ptr<HomeDirectory>> ownHomes;
  std::vector<std::unique_ptr<DirectorySync>> senders;
  for (size_t s = 0; s < n; ++s) {
    ownHomes.push_back(std::make_unique<HomeDirectory>());
    senders.push_back(std::make_unique<DirectorySync>(
        topology, static_cast<xmesh::topology::NodeIndex>(s), *ownHomes.back(),
        [&sim, s](xmesh::topology::NodeIndex p) { return &sim.sender(s, p); }));
    senders.back()->setOwnUsers(usersOf(s, usersPerNode));
  }
  const size_t totalUsers = n * usersPerNode;

  // --- full sync into each receiving node in turn ---------------------------------------
  std::vector<double> times, memories;
  uint64_t ticks = 0;
  size_t step = std::max<size_t>(1, n / receivers);
  bool allComplete = true;
  for (size_t r = 0; r < n && times.size() < receivers; r += step) {
    auto homes = std::make_unique<HomeDirectory>();
    DirectorySync recv(topology, static_cast<xmesh::topology::NodeIndex>(r), *homes,
                       [](xmesh::topology::NodeIndex) { return nullptr; });
    recv.setOwnUsers(usersOf(r, usersPerNode));
    size_t heapBefore = heapBytes();
    receiving = &recv;
    receivingNode = r;
    auto t = Clock::now();
    for (size_t s = 0; s < n; ++s)
      if (s != r) senders[s]->onEstablished(static_cast<xmesh::topology::NodeIndex>(r), true);
    uint64_t roundTicks = 0;
    for (;;) {
      bool pending = false;
      for (size_t s = 0; s < n; ++s) {
        if (s == r) continue;
        senders[s]->pump(8);  // xmeshd's per-tick budget
        pending = pending || senders[s]->pumping();
      }
      sim.settle();
      sim.advance(50);  // a tick: acks free the journals
      sim.settle();
      ++roundTicks;
      if (!pending) break;
    }
    double secs = secondsSince(t);
    receiving = nullptr;
    bool complete = recv.complete() && homes->size() == totalUsers;
    allComplete = allComplete && complete;
    size_t mem = heapBytes() - heapBefore;
    times.push_back(secs);
    memories.push_back(static_cast<double>(mem));
    ticks = std::max(ticks, roundTicks);
    if (times.size() <= 3 || times.size() % 30 == 0)
      std::printf("node %s: %zu users in its directory (%s), %.2f s CPU, %.1f MiB, %llu ticks of 50 ms\n",
                  SimMesh::nodeName(r).c_str(), homes->size(), complete ? "complete" : "INCOMPLETE", secs,
                  static_cast<double>(mem) / 1048576.0, static_cast<unsigned long long>(roundTicks));
  }
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  double p50 = sorted[sorted.size() / 2], mx = sorted.back();
  double memMax = *std::max_element(memories.begin(), memories.end());
  double perUser = memMax / static_cast<double>(totalUsers);
  std::printf("directory sync of %zu users into %zu of %zu nodes: CPU per node p50 %.2f s, max %.2f s; "
              "directory memory per node %.1f MiB (%.0f B/user); staggered schedule %llu ticks = %.1f s; "
              "refused records %llu; %s\n",
              totalUsers, times.size(), n, p50, mx, memMax / 1048576.0, perUser,
              static_cast<unsigned long long>(ticks), static_cast<double>(ticks) * 0.05,
              static_cast<unsigned long long>(refusals), allComplete ? "all complete" : "INCOMPLETE");
  if (!jsonPath.empty()) {
    std::ofstream j(jsonPath);
    j << "{\"nodes\":" << n << ",\"users\":" << totalUsers << ",\"setup_seconds\":" << setupSeconds
      << ",\"link_memory_per_node_bytes\":" << setupHeap / n << ",\"receivers\":" << times.size()
      << ",\"sync_cpu_seconds_p50\":" << p50 << ",\"sync_cpu_seconds_max\":" << mx
      << ",\"directory_bytes_per_node\":" << static_cast<uint64_t>(memMax)
      << ",\"staggered_ticks\":" << ticks << ",\"complete\":" << (allComplete ? "true" : "false") << "}\n";
  }
  return allComplete && refusals == 0 ? 0 : 1;
}
