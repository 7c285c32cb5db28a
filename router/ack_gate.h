// r2r acks that mean "handled and replicated" (issue 5, docs/dual-connections.md §4.3).
//
// A node that replicates to its PRG peer acknowledges a routed unit from another node
// only once what the unit caused (deliveries to sessions, and their replica records)
// has reached the peer. Until then the sender keeps the unit in its journal, so if this
// node dies the sender still has it and routes it to the peer that took the users over
// (Link::withdrawRouted, MeshNode::withdrawFrom). The sender's own client acks wait for
// ours (router/replica_barrier.h), so nothing a client was told is safe rests only here.
//
// One round at a time: take every link's received count, send a token through every
// loop and back to the mesh loop (behind the stanzas routed there and the records they
// published) and through the database workers (behind the offline writes), then
//   1. queue a **mark** per link on the peer link ("units up to h from node N, epoch E,
//      were handled here and their effects are ahead of this record") and allow the acks
//      to the peer itself: its link carries the records and the ack in one ordered
//      stream;
//   2. once the peer acknowledged the link units queued so far, allow the acks to every
//      other node.
// The peer keeps the marks: a rerouted unit at or below a mark was handled here already
// and is dropped there, not delivered twice.
//
// Control units cause nothing to replicate: they are acknowledged at once unless a
// routed unit before them waits. While nothing is replicated (no peer, link down) acks
// are not held. A replication restart (reset + snapshot) during a round voids the
// round: its effects are only safe once the snapshot is ahead of the next round's marks.
//
// Threading: mesh loop only.
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "r2r/link.h"
#include "r2r/unit.h"
#include "topology/topology.h"

namespace xmesh::router {

class AckGate {
 public:
  struct Hooks {
    // The replication stream's generation (bumped at every reset + snapshot), or nullopt
    // while nothing is replicated.
    std::function<std::optional<uint64_t>()> replicationGeneration;
    // Runs `done` on the mesh loop once a token went through every loop and back.
    std::function<void(std::function<void()> done)> roundTrip;
    // Queues a mark record to the peer: units up to `h` of node `origin`'s incarnation
    // `epoch` were handled here.
    std::function<void(topology::NodeIndex origin, const std::string& epoch, uint64_t h)> publishMark;
  };

  // links: the r2r link to each node, indexed by NodeIndex (nullptr for this node);
  // every one of them must be configured with gatedAcks. peer: this node's PRG peer.
  AckGate(std::vector<r2r::Link*> links, topology::NodeIndex peer, Hooks hooks);

  // After a unit from `from` was handled (routed, applied).
  void onUnit(topology::NodeIndex from, r2r::UnitKind kind, uint64_t seq);
  // Each mesh loop iteration: finishes the rounds whose marks the peer acknowledged; when
  // the replication started over (the peer forgot our marks at its reset), publishes
  // every link's mark again, behind the snapshot.
  void check();

  // Counters (any thread).
  uint64_t rounds() const { return rounds_.load(std::memory_order_relaxed); }
  uint64_t roundsVoided() const { return roundsVoided_.load(std::memory_order_relaxed); }
  uint64_t marksPublished() const { return marksPublished_.load(std::memory_order_relaxed); }

 private:
  struct LinkState {
    uint64_t generation = 0;  // Link::receivedGeneration() the fields below count in
    uint64_t lastRouted = 0;  // last routed unit received
    uint64_t allowed = 0;     // acks allowed up to here
    uint64_t marked = 0;      // last mark published
  };
  struct Taken {
    topology::NodeIndex node = 0;
    uint64_t generation = 0, received = 0;
  };
  struct Round {
    std::optional<uint64_t> replication;
    std::vector<Taken> taken;
    uint64_t peerSeq = 0;  // phase 2: the peer link's unit to be acknowledged
  };

  LinkState& stateOf(topology::NodeIndex n);
  void schedule();
  void startRound();
  void tokensBack(const std::shared_ptr<Round>& round);
  void allow(const Taken& t);
  bool waiting() const;

  std::vector<r2r::Link*> links_;
  const topology::NodeIndex peer_;
  Hooks hooks_;
  std::vector<LinkState> state_;
  bool inFlight_ = false;
  bool remark_ = false;  // the next round marks every link that received anything
  std::optional<uint64_t> seenGeneration_;
  std::deque<std::shared_ptr<Round>> phase2_;
  std::atomic<uint64_t> rounds_{0}, roundsVoided_{0}, marksPublished_{0};
};

}  // namespace xmesh::router
