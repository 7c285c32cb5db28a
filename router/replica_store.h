// What the PRG peer replicated to this node (router/replica_records.h): the active
// sessions it serves, each with its last presence and the stanzas written to it that the
// client has not acknowledged yet. Used when this node takes the sessions over:
//   - a dual client activating here (docs/dual-connections.md §5) gets the presence back
//     and the stanzas after its `h` (takeForActivation);
//   - at a takeover the peer's entries for the moved users are claimed and held for the
//     activations; what no activation takes by the deadline (or at once, for plain
//     sessions of a dead peer) is released to be routed again, to the user's new
//     session or to offline storage.
//
// Threading: records are applied, claimed and expired on the mesh loop; activations
// take entries from any loop. One mutex: the receiving side is off the stanza path.
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "router/replica_records.h"
#include "router/stanza_router.h"

namespace xmesh::router {

class ReplicaStore final : public ReplicaSource {
 public:
  explicit ReplicaStore(size_t maxStanzasPerSession) : maxStanzas_(maxStanzasPerSession) {}

  // Messages of one session to route again (its full JID; the stanza bytes, in order).
  struct Released {
    std::string jid;
    std::vector<SharedBytes> messages;
  };

  // Mesh loop.
  void apply(replica::Record&& r);
  // The users homed on `home` are served here from now on: hold the peer's entries for
  // them until nowMs + holdMs for the activations. With peerGone (the peer died: its
  // plain sessions cannot hand anything over any more), plain sessions' entries are
  // released at once.
  std::vector<Released> claim(std::string_view home, bool peerGone, int64_t nowMs, int64_t holdMs);
  // Claimed entries past their deadline.
  std::vector<Released> expire(int64_t nowMs);

  // ReplicaSource (any loop).
  Taken takeForActivation(const jid::Jid& full, uint32_t clientH) override;

  // Gauges (any thread).
  uint64_t sessions() const { return sessions_.load(std::memory_order_relaxed); }
  uint64_t stanzas() const { return stanzas_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  struct Out {
    uint32_t seq = 0;
    StanzaClass cls = StanzaClass::Message;
    int64_t offlineId = 0;
    SharedBytes bytes;
  };
  struct Entry {
    std::string home;
    bool dual = false;
    bool available = false;
    int priority = 0;
    SharedBytes presence;
    bool ackKnown = false;
    uint32_t acked = 0;  // the client's h, as last replicated
    std::deque<Out> outs;
    int64_t deadlineMs = 0;  // claimed entries
  };
  using Map = std::unordered_map<std::string, Entry>;

  // The entry of `jid`: claimed first (acks and closes of a move reach it there), then live.
  Entry* find(const std::string& jid, Map** in);
  Entry& liveEntry(const std::string& jid);
  void addOut(Entry& e, Out o);
  void ack(Entry& e, uint32_t h);
  void erase(Map& m, Map::iterator it);
  static Released release(const std::string& jid, Entry& e);
  void recount();

  const size_t maxStanzas_;
  std::mutex mu_;
  Map live_;     // the peer serves these sessions
  Map claimed_;  // we took them over; waiting for the activation
  std::atomic<uint64_t> sessions_{0}, stanzas_{0}, dropped_{0};
  uint64_t stanzaCount_ = 0;  // under mu_
};

}  // namespace xmesh::router
