#include "router/replicator.h"

#include "core/log.h"
#include "router/node.h"

namespace xmesh::router {

Replicator::Replicator(Node& node, uint32_t meshLoop, std::string selfId, std::string peerId, r2r::Link& link)
    : node_(node), meshLoop_(meshLoop), selfId_(std::move(selfId)), peerId_(std::move(peerId)), link_(link) {}

void Replicator::publish(RouterEnv& env, replica::Record record) {
  if (env.loopIndex() == meshLoop_) return send(record);
  env.runOn(meshLoop_, [this, r = std::move(record)] { send(r); });
}

void Replicator::send(const replica::Record& r) {
  if (!streaming_.load(std::memory_order_relaxed) || link_.state() != r2r::LinkState::Established) {
    // The link went down since the session looked: the next establishment starts over.
    dropped_.fetch_add(1, std::memory_order_relaxed);
    lostSync_ = true;
    return;
  }
  r2r::SendResult res = link_.sendControl(replica::kKind, replica::encode(r), {}, r.stanza);
  if (res == r2r::SendResult::Queued) {
    sent_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);
  if (res == r2r::SendResult::Full) {
    // Stop until the queue drains (onWritable), then start over from a snapshot.
    streaming_.store(false, std::memory_order_release);
    lostSync_ = true;
    log::warn("replica", "link-full", {{"peer", peerId_}});
    return;
  }
  log::warn("replica", "record-refused", {{"op", std::string(replica::opName(r.op))}, {"jid", r.jid},
                                          {"result", std::string(r2r::sendResultName(res))}});
}

void Replicator::onLinkUp(bool peerIsNew) {
  if (peerIsNew) lostSync_ = true;
  if (lostSync_) return startOver();
  // Same incarnations on both ends and nothing dropped: the link resent what the peer
  // had not acknowledged, the peer's picture is whole.
  streaming_.store(true, std::memory_order_release);
}

void Replicator::onLinkDown() {
  streaming_.store(false, std::memory_order_release);
  lostSync_ = true;
}

void Replicator::onWritable() {
  if (!streaming_.load(std::memory_order_relaxed) && lostSync_ && link_.state() == r2r::LinkState::Established)
    startOver();
}

void Replicator::startOver() {
  replica::Record reset;
  reset.op = replica::Op::Reset;
  if (link_.sendControl(replica::kKind, replica::encode(reset)) != r2r::SendResult::Queued) return;
  lostSync_ = false;
  streaming_.store(true, std::memory_order_release);
  snapshots_.fetch_add(1, std::memory_order_relaxed);
  log::info("replica", "snapshot", {{"peer", peerId_}});
  // Each loop publishes its sessions after whatever it published before: the records
  // reach the peer after the reset and before anything newer of the same session. The
  // loop queues (not post()) keep the snapshot ahead of the r2r ack gate's next tokens.
  Loop& mesh = node_.loop(meshLoop_);
  for (uint32_t i = 0; i < node_.loopCount(); ++i) {
    Loop* loop = &node_.loop(i);
    mesh.runOn(i, [loop] { loop->publishReplicaSnapshot(); });
  }
}

}  // namespace xmesh::router
