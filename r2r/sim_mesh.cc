#include "r2r/sim_mesh.h"

#include <algorithm>
#include <cassert>
#include <cstdio>

namespace xmesh::r2r {

// One side of a pair: a node's Link to one peer, and the events it raises.
struct SimMesh::Endpoint final : Link::Events {
  Endpoint(SimMesh& mesh, size_t node, size_t peer, LinkConfig config)
      : mesh_(mesh), node_(node), peer_(peer), link(std::move(config), *this) {}

  Status checkPeer(const PeerHello& hello) override {
    if (hello.node != nodeName(peer_) || hello.cluster != mesh_.clusterName(peer_)) {
      return Status::fail("topology", "unexpected node or cluster");
    }
    return Status::ok();
  }
  void onEstablished(const PeerHello&) override {}
  void onUnit(Unit&& unit) override { mesh_.sink_(node_, peer_, std::move(unit)); }
  void onLinkError(const Error& error) override {
    ++errors;
    std::fprintf(stderr, "sim: link %zu->%zu error %s: %s\n", node_, peer_, error.reason.c_str(),
                 error.detail.c_str());
    mesh_.onLinkTrouble(node_, peer_);
  }
  void onDead() override {
    ++deaths;
    mesh_.onLinkTrouble(node_, peer_);
  }

  SimMesh& mesh_;
  size_t node_, peer_;
  uint64_t errors = 0, deaths = 0;
  Link link;
};

std::string SimMesh::nodeName(size_t node) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "n%04zu", node);
  return buf;
}

std::string SimMesh::clusterName(size_t node) const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "c%03zu", node / std::max<size_t>(1, options_.nodesPerCluster));
  return buf;
}

SimMesh::SimMesh(SimOptions options, UnitSink sink)
    : options_(std::move(options)), sink_(std::move(sink)), rng_(options_.seed) {
  const size_t n = options_.nodes;
  endpoints_.resize(n * n);
  for (size_t node = 0; node < n; ++node) {
    for (size_t peer = 0; peer < n; ++peer) {
      if (peer == node) continue;
      LinkConfig config = options_.base;
      config.selfNode = nodeName(node);
      config.selfCluster = clusterName(node);
      config.peerNode = nodeName(peer);
      config.epoch = "e" + std::to_string(node);  // one incarnation per simulated process
      endpoints_[node * n + peer] =
          std::make_unique<Endpoint>(*this, node, peer, std::move(config));
    }
  }
  pairs_.reserve(n * (n - 1) / 2);
  for (size_t a = 0; a < n; ++a) {
    for (size_t b = a + 1; b < n; ++b) pairs_.push_back(Pair{a, b, {}, {}, false});
  }
}

SimMesh::~SimMesh() = default;

SimMesh::Endpoint& SimMesh::endpoint(size_t node, size_t peer) const {
  assert(node != peer && node < options_.nodes && peer < options_.nodes);
  return *endpoints_[node * options_.nodes + peer];
}

// Pairs are laid out row by row: (0,1) (0,2) ... (0,n-1) (1,2) ...
size_t SimMesh::pairIndex(size_t a, size_t b) const {
  if (a > b) std::swap(a, b);
  const size_t n = options_.nodes;
  return a * n - a * (a + 1) / 2 + (b - a - 1);
}

void SimMesh::activate(size_t pair) {
  if (pairs_[pair].active) return;
  pairs_[pair].active = true;
  active_.push_back(pair);
}

Link& SimMesh::sender(size_t from, size_t to) {
  activate(pairIndex(from, to));
  return endpoint(from, to).link;
}

const Link& SimMesh::link(size_t node, size_t peer) const { return endpoint(node, peer).link; }

void SimMesh::connectAll() {
  for (size_t p = 0; p < pairs_.size(); ++p) {
    endpoint(pairs_[p].a, pairs_[p].b).link.connectionOpened(nowMs_);
    endpoint(pairs_[p].b, pairs_[p].a).link.connectionOpened(nowMs_);
    activate(p);
  }
}

// Moves what both Links wrote into the pipes.
void SimMesh::collect(Pair& pair) {
  std::string& outA = endpoint(pair.a, pair.b).link.output();
  std::string& outB = endpoint(pair.b, pair.a).link.output();
  if (pair.ab.empty())
    pair.ab.swap(outA);
  else
    pair.ab += outA;
  if (pair.ba.empty())
    pair.ba.swap(outB);
  else
    pair.ba += outB;
  outA.clear();
  outB.clear();
}

void SimMesh::deliver(std::string& pipe, Link& to) {
  if (pipe.empty()) return;
  size_t n = pipe.size();
  if (options_.maxChunk != 0) {
    n = std::min(n, std::uniform_int_distribution<size_t>(1, options_.maxChunk)(rng_));
  }
  if (n == pipe.size()) {
    std::string bytes;
    bytes.swap(pipe);
    to.feed(bytes, nowMs_);
  } else {
    const std::string bytes = pipe.substr(0, n);
    pipe.erase(0, n);
    to.feed(bytes, nowMs_);
  }
}

bool SimMesh::pumpOnce() {
  if (active_.empty()) return false;
  next_.clear();
  for (size_t p : active_) {
    Pair& pair = pairs_[p];
    collect(pair);
    deliver(pair.ab, endpoint(pair.b, pair.a).link);
    deliver(pair.ba, endpoint(pair.a, pair.b).link);
    collect(pair);
    if (pair.ab.empty() && pair.ba.empty()) {
      pair.active = false;
    } else {
      next_.push_back(p);
    }
  }
  active_.swap(next_);
  // Links that failed during the round get a fresh transport (as the wiring would).
  std::vector<size_t> troubled;
  troubled.swap(troubled_);
  for (size_t p : troubled) cut(pairs_[p].a, pairs_[p].b, true);
  return true;
}

size_t SimMesh::settle(size_t maxRounds) {
  size_t rounds = 0;
  while (rounds < maxRounds && pumpOnce()) ++rounds;
  return rounds;
}

void SimMesh::cut(size_t a, size_t b, bool reconnect) {
  const size_t p = pairIndex(a, b);
  Pair& pair = pairs_[p];
  Link& linkA = endpoint(pair.a, pair.b).link;
  Link& linkB = endpoint(pair.b, pair.a).link;
  collect(pair);
  // What was in flight: a random prefix each way still arrives.
  auto arriving = [this](std::string& pipe) {
    const size_t keep = std::uniform_int_distribution<size_t>(0, pipe.size())(rng_);
    pipe.resize(keep);
  };
  arriving(pair.ab);
  arriving(pair.ba);
  if (!pair.ab.empty()) linkB.feed(pair.ab, nowMs_);
  if (!pair.ba.empty()) linkA.feed(pair.ba, nowMs_);
  pair.ab.clear();
  pair.ba.clear();
  linkA.connectionClosed();
  linkB.connectionClosed();
  ++cuts_;
  if (reconnect) {
    linkA.connectionOpened(nowMs_);
    linkB.connectionOpened(nowMs_);
    activate(p);
  }
}

void SimMesh::cutRandom(size_t count) {
  if (pairs_.empty()) return;
  std::uniform_int_distribution<size_t> pick(0, pairs_.size() - 1);
  for (size_t i = 0; i < count; ++i) {
    const Pair& pair = pairs_[pick(rng_)];
    cut(pair.a, pair.b, true);
  }
}

void SimMesh::onLinkTrouble(size_t node, size_t peer) {
  const size_t p = pairIndex(node, peer);
  if (std::find(troubled_.begin(), troubled_.end(), p) == troubled_.end()) troubled_.push_back(p);
}

void SimMesh::advance(int64_t ms) {
  nowMs_ += ms;
  for (size_t p = 0; p < pairs_.size(); ++p) {
    endpoint(pairs_[p].a, pairs_[p].b).link.onTick(nowMs_);
    endpoint(pairs_[p].b, pairs_[p].a).link.onTick(nowMs_);
    if (!endpoint(pairs_[p].a, pairs_[p].b).link.output().empty() ||
        !endpoint(pairs_[p].b, pairs_[p].a).link.output().empty()) {
      activate(p);
    }
  }
  std::vector<size_t> troubled;
  troubled.swap(troubled_);
  for (size_t p : troubled) cut(pairs_[p].a, pairs_[p].b, true);
}

void SimMesh::releaseIdleParsers() {
  for (const auto& e : endpoints_) {
    if (e) (void)e->link.releaseIdle();
  }
}

SimTotals SimMesh::totals() const {
  SimTotals t;
  t.cuts = cuts_;
  for (const auto& e : endpoints_) {
    if (!e) continue;
    const LinkStats& s = e->link.stats();
    LinkStats& sum = t.stats;
    sum.unitsSent += s.unitsSent;
    sum.unitsReceived += s.unitsReceived;
    sum.unitsResent += s.unitsResent;
    sum.duplicatesDropped += s.duplicatesDropped;
    sum.sendsRefused += s.sendsRefused;
    sum.acksSent += s.acksSent;
    sum.acksReceived += s.acksReceived;
    sum.ackRequestsSent += s.ackRequestsSent;
    sum.heartbeatsSent += s.heartbeatsSent;
    sum.bytesIn += s.bytesIn;
    sum.bytesOut += s.bytesOut;
    sum.connections += s.connections;
    sum.establishments += s.establishments;
    sum.peerRestarts += s.peerRestarts;
    sum.errors += s.errors;
    sum.deaths += s.deaths;
    t.unackedUnits += e->link.unackedCount();
    t.unackedBytes += e->link.unackedBytes();
    if (e->link.state() == LinkState::Established) ++t.established;
    t.errors += e->errors;
    t.deaths += e->deaths;
  }
  return t;
}

}  // namespace xmesh::r2r
