// XEP-0198 acks that mean "safe": when the node replicates to its PRG peer, a session
// answers the client's <r/> only once everything the client's stanzas caused before it
// has reached the peers: the replica records of the deliveries (router/replicator.h)
// and the stanzas forwarded to other nodes. Then a kill -9 of this node loses nothing
// the client was told was handled.
//
// A barrier follows the stanzas' own paths, which are FIFO: a token goes from the
// asking loop to every loop (behind the stanzas it routed there) and from each of them
// to the mesh loop (behind the records they published). With every token in, the mesh
// loop waits until each established link's peer has acknowledged the units queued so
// far (asking it to ack at once), then runs the completion on the asking loop. One
// barrier per loop is in flight; the <r/>s that arrive meanwhile ride the next one.
//
// Threading: created on the asking loop, tokens and completion checks on the mesh loop.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "r2r/link.h"

namespace xmesh::router {

class Barriers {
 public:
  struct Barrier {
    uint32_t tokensLeft = 0;
    uint32_t origin = 0;
    std::function<void()> done;  // runs on the origin loop
    std::vector<std::pair<r2r::Link*, uint64_t>> waitFor;  // link, unit to be acked
  };
  // How completions reach their loop (mesh loop → origin loop).
  using Post = std::function<void(uint32_t loop, std::function<void()> fn)>;

  Barriers(std::vector<r2r::Link*> links, Post post) : links_(std::move(links)), post_(std::move(post)) {}

  // Mesh loop: one token of `b` arrived; the last one fixes what to wait for.
  void tokenArrived(const std::shared_ptr<Barrier>& b);
  // Mesh loop, once per iteration: completes the barriers whose links have caught up.
  void check();
  bool idle() const { return pending_.empty(); }

 private:
  std::vector<r2r::Link*> links_;
  Post post_;
  std::vector<std::shared_ptr<Barrier>> pending_;
};

}  // namespace xmesh::router
