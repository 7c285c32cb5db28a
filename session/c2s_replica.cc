// Replication of an active session to the PRG peer (router/replica_records.h,
// docs/dual-connections.md §4): what the peer needs to take the session over if this
// node dies or moves the user: the session, its last presence, and every stanza written
// to it that the client has not acknowledged yet (XEP-0198), numbered as on the stream,
// so the client's `h` at activation tells the peer exactly what to deliver again.
#include "session/c2s_session.h"

namespace xmesh::session {

using router::replica::Op;
using router::replica::Record;

namespace {

// The SM queue keeps bytes only; the element name gives the class back.
StanzaClass classOfBytes(std::string_view bytes) {
  if (bytes.starts_with("<message")) return StanzaClass::Message;
  if (bytes.starts_with("<presence")) return StanzaClass::Presence;
  if (bytes.starts_with("<iq")) return StanzaClass::Iq;
  return StanzaClass::Other;
}

}  // namespace

router::ReplicaSink* C2sSession::replicaTarget() {
  if (!bound_ || finished_) return nullptr;
  router::ReplicaSink* sink = env_.replicaSink();
  return sink && sink->replicates(homeNode_) ? sink : nullptr;
}

void C2sSession::replicateOpen() {
  if (state_ != SessionState::Active) return;
  router::ReplicaSink* sink = replicaTarget();
  if (!sink) return;
  Record r;
  r.op = Op::Open;
  r.jid = jid_.full();
  r.home = homeNode_;
  r.dual = dual_;
  sink->publish(env_, std::move(r));
}

void C2sSession::replicatePresence(const router::SharedBytes& bytes, bool available, int priority) {
  if (state_ != SessionState::Active) return;
  router::ReplicaSink* sink = replicaTarget();
  if (!sink) return;
  Record r;
  r.op = Op::Presence;
  r.jid = jid_.full();
  r.available = available && bytes;
  r.priority = priority;
  if (r.available) r.stanza = *bytes;
  sink->publish(env_, std::move(r));
}

void C2sSession::replicateOut(const router::SharedBytes& bytes, StanzaClass cls, int64_t offlineId) {
  // Without XEP-0198 nobody knows what the client got: nothing to hand over.
  if (state_ != SessionState::Active || !sm_.enabled()) return;
  router::ReplicaSink* sink = replicaTarget();
  if (!sink) return;
  Record r;
  r.op = Op::Out;
  r.jid = jid_.full();
  r.seq = sm_.outboundSent();
  r.cls = cls;
  r.offlineId = offlineId;
  if (offlineId == 0) r.stanza = *bytes;  // a stored one stays in the store until acked
  sink->publish(env_, std::move(r));
}

void C2sSession::replicateAck(uint32_t h) {
  // Also while demoted: the peer holds this stream's stanzas for the activation there.
  router::ReplicaSink* sink = replicaTarget();
  if (!sink) return;
  Record r;
  r.op = Op::Ack;
  r.jid = jid_.full();
  r.seq = h;
  sink->publish(env_, std::move(r));
}

void C2sSession::replicateClose() {
  router::ReplicaSink* sink = env_.replicaSink();
  if (!sink || !bound_ || !sink->replicates(homeNode_)) return;
  Record r;
  r.op = Op::Close;
  r.jid = jid_.full();
  r.keep = handedOff_;
  sink->publish(env_, std::move(r));
}

void C2sSession::publishReplicaSnapshot() {
  if (state_ != SessionState::Active) return;
  router::ReplicaSink* sink = replicaTarget();
  if (!sink) return;
  replicateOpen();
  if (available_) {
    router::SharedBytes presence;
    int priority = 0;
    env_.router().directory().read(jid_.bareString(), [&](const router::UserEntry* u) {
      if (!u) return;
      for (const auto& res : u->resources)
        if (res.ref == ref_) {
          presence = res.lastPresence;
          priority = res.priority;
        }
    });
    if (presence) replicatePresence(presence, true, priority);
  }
  if (!sm_.enabled()) return;
  // The unacknowledged stanzas are the last unackedCount() of the stream's numbering.
  uint32_t seq = sm_.outboundSent() - static_cast<uint32_t>(sm_.unackedCount());
  for (const auto& u : sm_.unacked()) {
    Record r;
    r.op = Op::Out;
    r.jid = jid_.full();
    r.seq = ++seq;
    r.cls = classOfBytes(*u.bytes);
    r.offlineId = u.offlineId;
    if (u.offlineId == 0) r.stanza = *u.bytes;
    sink->publish(env_, std::move(r));
  }
}

}  // namespace xmesh::session
