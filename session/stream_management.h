// XEP-0198 bookkeeping, sans-IO: counts handled inbound stanzas, keeps outbound stanzas
// until the client acknowledges them, and validates acks. The session owns one per
// stream; on resumption the outbound queue moves to the new connection.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "core/status.h"
#include "router/directory.h"

namespace xmesh::session {

class StreamManagement {
 public:
  struct Unacked {
    router::SharedBytes bytes;
    int64_t offlineId = 0;  // >0: delete from offline storage once acknowledged
  };

  bool enabled() const { return enabled_; }
  void enable(bool resumable) {
    enabled_ = true;
    resumable_ = resumable;
  }
  bool resumable() const { return resumable_; }

  // Inbound: one more stanza handled (message, presence or iq).
  void onInboundHandled() { ++inboundHandled_; }
  uint32_t inboundHandled() const { return inboundHandled_; }

  // Outbound: a stanza was written to the client.
  void onSent(router::SharedBytes bytes, int64_t offlineId = 0) {
    ++outboundSent_;
    queue().push_back(Unacked{std::move(bytes), offlineId});
  }

  // Client acknowledged `h` stanzas in total (mod 2^32). Acked entries are handed to
  // `onAcked`. An ack beyond what was sent is a protocol error (handled-count-too-high).
  template <typename Fn>
  Status onAck(uint32_t h, Fn&& onAcked) {
    uint32_t newly = h - outboundAcked_;
    if (newly > unackedCount()) return Status::fail("handled-count-too-high");
    for (uint32_t i = 0; i < newly; ++i) {
      onAcked(unacked_->front());
      unacked_->pop_front();
    }
    outboundAcked_ = h;
    return Status::ok();
  }

  size_t unackedCount() const { return unacked_ ? unacked_->size() : 0; }
  std::deque<Unacked>& unacked() { return queue(); }
  uint32_t outboundSent() const { return outboundSent_; }

  // Takes the state of a previous stream on resumption.
  void adopt(StreamManagement&& old) { *this = std::move(old); }

 private:
  bool enabled_ = false;
  bool resumable_ = false;
  uint32_t inboundHandled_ = 0;
  uint32_t outboundSent_ = 0;
  uint32_t outboundAcked_ = 0;
  // Allocated on first use: std::deque allocates ~600 bytes even when empty, and most
  // sessions of a node are idle.
  std::deque<Unacked>& queue() {
    if (!unacked_) unacked_ = std::make_unique<std::deque<Unacked>>();
    return *unacked_;
  }
  std::unique_ptr<std::deque<Unacked>> unacked_;
};

}  // namespace xmesh::session
