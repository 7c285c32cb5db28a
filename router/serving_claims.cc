#include "router/serving_claims.h"

namespace xmesh::router {

ServingClaims::ServingClaims(const topology::Topology& topology)
    : topology_(topology), homes_(topology.nodes().size()) {}

bool ServingClaims::failedOver(const Home& h) {
  // The backup's claim wins only when it is newer than the home's: a stale claim of a
  // dead home (its last word before kill -9) loses to the takeover that followed it.
  if (!h.backup.serving) return false;
  return !h.own.serving || h.backup.epoch > h.own.epoch;
}

Status ServingClaims::apply(topology::NodeIndex announcer, const ServingClaim& claim, bool* changed) {
  if (changed) *changed = false;
  auto home = topology_.nodeIndex(claim.home);
  auto by = topology_.nodeIndex(claim.by);
  if (!home || !by) return Status::fail("failover-refused", "unknown node " + claim.home + "/" + claim.by);
  if (*by != announcer)
    return Status::fail("failover-refused", topology_.node(announcer).id + " spoke for " + claim.by);
  const bool own = *by == *home;
  if (!own && topology_.backupOf(*home) != *by)
    return Status::fail("failover-refused", claim.by + " is not the backup of " + claim.home);
  Home& h = homes_[*home];
  const bool before = failedOver(h);
  Claim& c = own ? h.own : h.backup;
  c.known = true;
  c.serving = claim.serving;
  c.epoch = claim.epoch;
  c.state = claim.state;
  c.reason = claim.reason;
  if (changed) *changed = failedOver(h) != before;
  return Status::ok();
}

bool ServingClaims::failedOver(topology::NodeIndex home) const {
  return home < homes_.size() && failedOver(homes_[home]);
}

std::vector<ServingClaim> ServingClaims::claimsBy(topology::NodeIndex by) const {
  std::vector<ServingClaim> out;
  const std::string& byId = topology_.node(by).id;
  auto add = [&](topology::NodeIndex home, const Claim& c) {
    if (c.known) out.push_back({topology_.node(home).id, byId, c.serving, c.epoch, c.state, c.reason});
  };
  add(by, homes_[by].own);
  for (topology::NodeIndex n = 0; n < homes_.size(); ++n)
    if (n != by && topology_.backupOf(n) == by) add(n, homes_[n].backup);
  return out;
}

}  // namespace xmesh::router
