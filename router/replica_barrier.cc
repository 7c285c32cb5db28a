#include "router/replica_barrier.h"

#include <algorithm>

namespace xmesh::router {

void Barriers::tokenArrived(const std::shared_ptr<Barrier>& b) {
  if (--b->tokensLeft > 0) return;
  for (r2r::Link* link : links_) {
    if (link->state() != r2r::LinkState::Established || link->ackedSeq() >= link->sentSeq()) continue;
    b->waitFor.emplace_back(link, link->sentSeq());
    link->requestAck();  // the peer answers now instead of at its next tick
  }
  pending_.push_back(b);
  check();
}

void Barriers::check() {
  std::erase_if(pending_, [&](const std::shared_ptr<Barrier>& b) {
    // A link that is down cannot be waited for: what it holds is resent to the peer's
    // same incarnation, or lost with a dead one (which a client ack cannot change).
    bool caughtUp = std::all_of(b->waitFor.begin(), b->waitFor.end(), [](const auto& w) {
      return w.first->state() != r2r::LinkState::Established || w.first->ackedSeq() >= w.second;
    });
    if (caughtUp) post_(b->origin, std::move(b->done));
    return caughtUp;
  });
}

}  // namespace xmesh::router
