#include "router/ack_gate.h"

namespace xmesh::router {

AckGate::AckGate(std::vector<r2r::Link*> links, topology::NodeIndex peer, Hooks hooks)
    : links_(std::move(links)), peer_(peer), hooks_(std::move(hooks)), state_(links_.size()) {}

AckGate::LinkState& AckGate::stateOf(topology::NodeIndex n) {
  LinkState& s = state_[n];
  const uint64_t generation = links_[n]->receivedGeneration();
  if (s.generation != generation) s = LinkState{generation, 0, 0, 0};  // a new incarnation of the sender
  return s;
}

void AckGate::onUnit(topology::NodeIndex from, r2r::UnitKind kind, uint64_t seq) {
  if (from >= links_.size() || !links_[from] || seq == 0) return;  // seq 0: volatile
  r2r::Link& link = *links_[from];
  LinkState& s = stateOf(from);
  const bool routed = kind != r2r::UnitKind::Control;
  if (routed) s.lastRouted = seq;
  if (!hooks_.replicationGeneration()) {
    // Nothing is replicated: there is nothing to wait for.
    s.allowed = seq;
    link.allowAck(s.generation, seq);
    return;
  }
  if (routed) return schedule();
  if (s.lastRouted <= s.allowed) {  // nothing waits before it
    s.allowed = seq;
    link.allowAck(s.generation, seq);
  }
}

void AckGate::schedule() {
  if (!inFlight_) startRound();
}

void AckGate::startRound() {
  auto round = std::make_shared<Round>();
  round->replication = hooks_.replicationGeneration();
  for (topology::NodeIndex n = 0; n < links_.size(); ++n) {
    if (!links_[n]) continue;
    LinkState& s = stateOf(n);
    const uint64_t received = links_[n]->receivedSeq();
    if (received > s.allowed || (remark_ && received > 0)) round->taken.push_back(Taken{n, s.generation, received});
  }
  remark_ = false;
  if (round->taken.empty()) return;
  if (!round->replication) {
    for (const Taken& t : round->taken) allow(t);
    return;
  }
  inFlight_ = true;
  rounds_.fetch_add(1, std::memory_order_relaxed);
  hooks_.roundTrip([this, round] { tokensBack(round); });
}

void AckGate::tokensBack(const std::shared_ptr<Round>& round) {
  inFlight_ = false;
  const std::optional<uint64_t> now = hooks_.replicationGeneration();
  if (!now) {
    for (const Taken& t : round->taken) allow(t);
  } else if (*now != *round->replication) {
    // A snapshot started meanwhile: the effects are safe only behind it. Try again.
    roundsVoided_.fetch_add(1, std::memory_order_relaxed);
  } else {
    for (const Taken& t : round->taken) {
      LinkState& s = stateOf(t.node);
      if (s.generation != t.generation || s.lastRouted <= s.marked) continue;
      hooks_.publishMark(t.node, links_[t.node]->receivedEpoch(), t.received);
      s.marked = t.received;
      marksPublished_.fetch_add(1, std::memory_order_relaxed);
    }
    for (const Taken& t : round->taken)
      if (t.node == peer_) allow(t);
    r2r::Link* peer = peer_ < links_.size() ? links_[peer_] : nullptr;
    round->peerSeq = peer ? peer->sentSeq() : 0;
    if (peer && peer->ackedSeq() < round->peerSeq) peer->requestAck();
    phase2_.push_back(round);
    check();
  }
  if (waiting()) startRound();
}

// A routed unit arrived after what the finished rounds took.
bool AckGate::waiting() const {
  for (topology::NodeIndex n = 0; n < links_.size(); ++n) {
    if (!links_[n]) continue;
    const LinkState& s = state_[n];
    if (s.generation == links_[n]->receivedGeneration() && s.lastRouted > s.allowed) {
      bool taken = false;  // by a round still in phase 2
      for (const auto& r : phase2_)
        for (const Taken& t : r->taken) taken = taken || (t.node == n && t.generation == s.generation && t.received >= s.lastRouted);
      if (!taken) return true;
    }
  }
  return false;
}

void AckGate::check() {
  const std::optional<uint64_t> generation = hooks_.replicationGeneration();
  if (generation && generation != seenGeneration_) {
    const bool restarted = seenGeneration_.has_value();  // the first one: nothing marked yet
    seenGeneration_ = generation;
    if (restarted) {
      for (LinkState& s : state_) s.marked = 0;
      remark_ = true;
      if (!inFlight_) startRound();
    }
  }
  r2r::Link* peer = peer_ < links_.size() ? links_[peer_] : nullptr;
  while (!phase2_.empty()) {
    const auto& round = phase2_.front();
    // A peer link that is down cannot be waited for (nothing is replicated meanwhile;
    // the next establishment starts over with a snapshot).
    const bool caughtUp = !peer || peer->state() != r2r::LinkState::Established || peer->ackedSeq() >= round->peerSeq;
    if (!caughtUp) return;
    for (const Taken& t : round->taken)
      if (t.node != peer_) allow(t);
    phase2_.pop_front();
  }
}

void AckGate::allow(const Taken& t) {
  LinkState& s = stateOf(t.node);
  if (s.generation != t.generation) return;
  // Units after the round's snapshot that are not routed (control, void) wait for nothing.
  const uint64_t upTo = s.lastRouted <= t.received ? links_[t.node]->receivedSeq() : t.received;
  if (upTo <= s.allowed) return;
  s.allowed = upTo;
  links_[t.node]->allowAck(t.generation, upTo);
}

}  // namespace xmesh::router
