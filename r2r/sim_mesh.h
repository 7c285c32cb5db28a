// An in-memory full mesh of r2r links: N simulated nodes, one Link per (node, peer), and
// byte pipes between them that a pump moves in rounds, with optional random chunking and
// transport cuts. No sockets, no threads, a fake clock: what the sans-IO core makes
// possible for mesh-scale tests (issue 4: 180 nodes, a 1.35 M-user directory sync).
//
// Scale notes: memory is N*(N-1) Links (each a parser and a resend journal; call
// releaseIdleParsers() between phases), plus the bytes in flight. The pump only visits
// pairs with bytes pending (an active list), so an idle mesh costs nothing per round.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "r2r/link.h"

namespace xmesh::r2r {

struct SimOptions {
  size_t nodes = 4;
  size_t nodesPerCluster = 6;  // node i is in cluster i / nodesPerCluster
  uint64_t seed = 1;
  LinkConfig base;      // per link, selfNode/selfCluster/peerNode/epoch are filled in
  size_t maxChunk = 0;  // 0: a pump round delivers everything in flight; else 1..maxChunk bytes
};

// Totals over every link of the mesh.
struct SimTotals {
  LinkStats stats;  // summed
  size_t unackedUnits = 0, unackedBytes = 0;
  size_t established = 0;  // links (directed) in Established state
  uint64_t errors = 0, deaths = 0, cuts = 0;
};

class SimMesh {
 public:
  // Every unit any node receives: (receiving node, sending node, unit).
  using UnitSink = std::function<void(size_t node, size_t from, Unit&& unit)>;

  SimMesh(SimOptions options, UnitSink sink);
  ~SimMesh();
  SimMesh(const SimMesh&) = delete;
  SimMesh& operator=(const SimMesh&) = delete;

  static std::string nodeName(size_t node);
  std::string clusterName(size_t node) const;
  size_t nodeCount() const { return options_.nodes; }
  size_t pairCount() const { return pairs_.size(); }

  // Opens a transport on every pair (both ends' connectionOpened()).
  void connectAll();
  // The link `from` uses to reach `to`, for sending; marks the pair for pumping.
  Link& sender(size_t from, size_t to);
  const Link& link(size_t node, size_t peer) const;

  // One pump round over the pairs with bytes pending; returns false when none had any.
  bool pumpOnce();
  // Pumps until quiescent or maxRounds; returns the rounds used.
  size_t settle(size_t maxRounds = 1'000'000);

  // Cuts the transport of pair (a, b): a random prefix of the bytes in flight each way
  // arrives, the rest is lost, both Links see connectionClosed() and, when `reconnect`,
  // a fresh connectionOpened() at once.
  void cut(size_t a, size_t b, bool reconnect = true);
  // Cuts `count` random pairs.
  void cutRandom(size_t count);

  // Advances the fake clock and ticks every link (heartbeats, acks, dead detection).
  void advance(int64_t ms);
  int64_t now() const { return nowMs_; }

  void releaseIdleParsers();
  SimTotals totals() const;
  std::mt19937_64& rng() { return rng_; }

 private:
  struct Endpoint;
  struct Pair {
    size_t a = 0, b = 0;
    std::string ab, ba;  // bytes in flight each way
    bool active = false;
  };

  Endpoint& endpoint(size_t node, size_t peer) const;
  size_t pairIndex(size_t a, size_t b) const;
  void activate(size_t pair);
  void collect(Pair& pair);
  void deliver(std::string& pipe, Link& to);
  void onLinkTrouble(size_t node, size_t peer);

  SimOptions options_;
  UnitSink sink_;
  std::mt19937_64 rng_;
  int64_t nowMs_ = 0;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;  // node * N + peer (diagonal empty)
  std::vector<Pair> pairs_;                           // a < b
  std::vector<size_t> active_, next_;
  std::vector<size_t> troubled_;  // pairs whose link failed or died: cut and reconnected
  uint64_t cuts_ = 0;
};

}  // namespace xmesh::r2r
