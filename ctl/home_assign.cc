// xmeshctl home assign: plan with topology/assignment.h, apply to the store.
#include <map>

#include "ctl/failover_guard.h"
#include "ctl/topology_commands.h"
#include "topology/assignment.h"
#include "topology/loader.h"

namespace xmesh::ctl {
namespace {

constexpr size_t kPage = 5000;

Status fail(const Error& e) { return Status::fail(e.reason, e.detail); }

// Every user with its current home, by pages of listUsers.
Result<std::vector<topology::UserHome>> readHomes(store::Store& st) {
  std::vector<topology::UserHome> users;
  std::string after;
  for (;;) {
    auto page = st.listUsers(kPage, after);
    if (!page) return page.error();
    for (const std::string& name : page.value()) {
      auto rec = st.getUser(name);
      if (!rec) return rec.error();
      if (rec.value()) users.push_back({name, rec.value()->homeNode});  // gone meanwhile: skip
    }
    if (page->size() < kPage) return users;
    after = page->back();
  }
}

}  // namespace

Status assignHomes(store::Store& st, const HomeAssignOptions& options, std::ostream& out) {
  auto loaded = topology::loadTopology(options.topologyPath);
  if (!loaded) return fail(loaded.error());
  const topology::Topology& t = loaded.value();

  topology::AssignRequest req;
  req.reassignUnknown = options.reassignUnknown;
  if (!options.cluster.empty()) {
    req.cluster = t.clusterIndex(options.cluster);
    if (!req.cluster) return Status::fail("unknown-cluster", "no cluster '" + options.cluster + "' in the topology");
  }
  auto failed = t.parseNodeSet(options.failedOver);
  if (!failed) return fail(failed.error());
  req.failedOver = failed.value();
  // And whatever the nodes' SRM rows in the store say is failed over now.
  auto live = failedOverNodes(st);
  if (!live) return fail(live.error());
  for (const auto& id : live.value())
    if (auto n = t.nodeIndex(id)) req.failedOver.insert(*n);

  auto users = readHomes(st);
  if (!users) return fail(users.error());
  size_t total = users->size();
  auto plan = topology::planAssignment(t, std::move(users.value()), req);
  if (!plan) return fail(plan.error());

  if (!options.dryRun) {
    for (const auto& c : plan->changes) {
      if (auto s = st.setHomeNode(c.username, c.homeNode); !s) {
        // A user removed since it was read is no reason to stop the others.
        if (s.error().reason != "not-found") return s;
      }
    }
  }

  std::map<std::string, size_t> added;
  for (const auto& c : plan->changes) ++added[c.homeNode];
  std::string scope = req.cluster ? "cluster " + options.cluster : std::string("the mesh");
  out << (options.dryRun ? "would assign " : "assigned ") << plan->changes.size() << " of " << total
      << " users in " << scope << '\n';
  for (const auto& c : t.clusters()) {
    if (req.cluster && t.clusters()[*req.cluster].id != c.id) continue;
    out << "cluster " << c.id << " (" << toString(c.assignment) << ")\n";
    for (auto n : c.nodes) {
      const std::string& id = t.node(n).id;
      out << "  " << id << "  +" << (added.count(id) ? added[id] : 0) << "  total " << plan->usersPerNode[n] << '\n';
    }
  }
  out << "kept " << plan->kept << " existing homes";
  if (plan->unknownHomes)
    out << "; " << plan->unknownHomes << " homes name nodes not in the topology"
        << (options.reassignUnknown ? " (reassigned)" : " (left as is; --reassign-unknown assigns them anew)");
  if (plan->leftUnassigned)
    out << "; " << plan->leftUnassigned
        << " users left unassigned (assignment mode none: set homes with `xmeshctl user home NAME NODE`)";
  out << '\n';
  return Status::ok();
}

}  // namespace xmesh::ctl
