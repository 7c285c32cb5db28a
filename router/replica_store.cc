#include "router/replica_store.h"

namespace xmesh::router {
namespace {

// XEP-0198 counts wrap at 2^32: compare them as serial numbers.
bool after(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) > 0; }

}  // namespace

ReplicaStore::Entry* ReplicaStore::find(const std::string& jid, Map** in) {
  if (auto it = claimed_.find(jid); it != claimed_.end()) {
    *in = &claimed_;
    return &it->second;
  }
  if (auto it = live_.find(jid); it != live_.end()) {
    *in = &live_;
    return &it->second;
  }
  return nullptr;
}

ReplicaStore::Entry& ReplicaStore::liveEntry(const std::string& jid) {
  // The peer serves the session (again): a claimed entry of it is live once more.
  if (auto it = claimed_.find(jid); it != claimed_.end()) {
    Entry e = std::move(it->second);
    claimed_.erase(it);
    e.deadlineMs = 0;
    return live_[jid] = std::move(e);
  }
  return live_[jid];
}

void ReplicaStore::addOut(Entry& e, Out o) {
  if (e.ackKnown && !after(o.seq, e.acked)) return;  // acknowledged already
  // Records of one session arrive in order; a snapshot may repeat some of them.
  auto pos = e.outs.end();
  while (pos != e.outs.begin() && after(std::prev(pos)->seq, o.seq)) --pos;
  if (pos != e.outs.begin() && std::prev(pos)->seq == o.seq) return;
  e.outs.insert(pos, std::move(o));
  ++stanzaCount_;
  if (e.outs.size() > maxStanzas_) {
    // The peer closes a stream past its own limit (limits.sm_max_unacked) long before.
    e.outs.pop_front();
    --stanzaCount_;
    dropped_.fetch_add(1, std::memory_order_relaxed);
  }
}

void ReplicaStore::ack(Entry& e, uint32_t h) {
  if (e.ackKnown && !after(h, e.acked)) return;
  e.ackKnown = true;
  e.acked = h;
  while (!e.outs.empty() && !after(e.outs.front().seq, h)) {
    e.outs.pop_front();
    --stanzaCount_;
  }
}

void ReplicaStore::erase(Map& m, Map::iterator it) {
  stanzaCount_ -= it->second.outs.size();
  m.erase(it);
}

void ReplicaStore::recount() {
  sessions_.store(live_.size() + claimed_.size(), std::memory_order_relaxed);
  stanzas_.store(stanzaCount_, std::memory_order_relaxed);
}

void ReplicaStore::apply(replica::Record&& r) {
  using replica::Op;
  std::lock_guard lock(mu_);
  if (r.op == Op::Reset) {
    // The peer forgets what it replicated (it restarted, or re-sends a snapshot). What
    // we took over is ours and stays.
    for (const auto& [jid, e] : live_) stanzaCount_ -= e.outs.size();
    live_.clear();
    return recount();
  }
  Map* in = nullptr;
  switch (r.op) {
    case Op::Open: {
      Entry& e = liveEntry(r.jid);
      e.home = std::move(r.home);
      e.dual = r.dual;
      break;
    }
    case Op::Presence: {
      Entry& e = liveEntry(r.jid);
      e.available = r.available;
      e.priority = r.priority;
      e.presence = r.available ? makeShared(std::move(r.stanza)) : nullptr;
      break;
    }
    case Op::Out: {
      Entry* e = find(r.jid, &in);
      if (!e) e = &liveEntry(r.jid);
      addOut(*e, Out{r.seq, r.cls, r.offlineId, r.offlineId > 0 ? nullptr : makeShared(std::move(r.stanza))});
      break;
    }
    case Op::Ack:
      if (Entry* e = find(r.jid, &in)) ack(*e, r.seq);
      break;
    case Op::Close:
      // keep: handed over at a move, the entry waits for the activation here. Otherwise
      // the peer dealt with the rest itself (offline storage).
      if (find(r.jid, &in) && !r.keep) erase(*in, in->find(r.jid));
      break;
    case Op::Reset:
    case Op::Mark:  // kept by the mesh (MeshNode::handleReplica), not per session
      break;
  }
  recount();
}

ReplicaStore::Released ReplicaStore::release(const std::string& jid, Entry& e) {
  Released out{jid, {}};
  // Stanzas from offline storage are still stored (deleted only on an ack); presence and
  // IQs are moments of a session that is gone. Messages are routed again.
  for (Out& o : e.outs)
    if (o.offlineId == 0 && o.cls == StanzaClass::Message) out.messages.push_back(std::move(o.bytes));
  return out;
}

std::vector<ReplicaStore::Released> ReplicaStore::claim(std::string_view home, bool peerGone, int64_t nowMs,
                                                        int64_t holdMs) {
  std::vector<Released> released;
  std::lock_guard lock(mu_);
  for (auto it = live_.begin(); it != live_.end();) {
    if (it->second.home != home) {
      ++it;
      continue;
    }
    if (peerGone && !it->second.dual) {
      released.push_back(release(it->first, it->second));
      erase(live_, it++);
      continue;
    }
    it->second.deadlineMs = nowMs + holdMs;
    auto next = std::next(it);
    claimed_[it->first] = std::move(it->second);
    live_.erase(it);
    it = next;
  }
  recount();
  return released;
}

std::vector<ReplicaStore::Released> ReplicaStore::expire(int64_t nowMs) {
  std::vector<Released> released;
  std::lock_guard lock(mu_);
  for (auto it = claimed_.begin(); it != claimed_.end();) {
    if (it->second.deadlineMs > nowMs) {
      ++it;
      continue;
    }
    released.push_back(release(it->first, it->second));
    erase(claimed_, it++);
  }
  if (!released.empty()) recount();
  return released;
}

ReplicaSource::Taken ReplicaStore::takeForActivation(const jid::Jid& full, uint32_t clientH) {
  Taken t;
  std::lock_guard lock(mu_);
  Map* in = nullptr;
  std::string key = full.full();
  Entry* e = find(key, &in);
  if (!e) return t;
  if (e->available) {
    t.presence = e->presence;
    t.priority = e->priority;
  }
  for (Out& o : e->outs) {
    if (after(o.seq, clientH)) {
      // Not handled by the client: delivered again here; a stored one comes with the
      // offline flush that follows the activation's presence.
      if (o.offlineId == 0) t.pending.push_back(Pending{std::move(o.bytes), o.cls});
    } else if (o.offlineId > 0) {
      t.offlineHandled.push_back(o.offlineId);
    }
  }
  erase(*in, in->find(key));
  recount();
  return t;
}

}  // namespace xmesh::router
