// Offline writes the database could not take because it is down or overloaded
// ("unavailable", "busy"). The messages were accepted from their senders — XEP-0198
// counted them, and a sender may have left by now, so an error bounce could reach
// nobody — so they are kept here, per recipient in arrival order, and written again
// once a second (Loop::sweep → StanzaRouter::retryOfflineWrites) until the database
// takes them. A message for a user who already has some held here queues behind them,
// so a recipient reads its offline messages in the order they were accepted.
//
// Bounded: with kMaxHeld messages held on a loop, new ones are refused with a wait-type
// error at once, while their sender is still there to read it. One per loop, used only
// on that loop's thread.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "router/routed_stanza.h"

namespace xmesh::router {

class DeferredOfflineWrites {
 public:
  static constexpr size_t kMaxHeld = 20000;
  explicit DeferredOfflineWrites(size_t maxHeld = kMaxHeld) : maxHeld_(maxHeld) {}

  struct Held {
    std::shared_ptr<const RoutedStanza> stanza;
    int64_t acceptedMs = 0;  // the delay stamp says when the node took it, not when stored
  };
  struct Batch {
    std::string user;
    std::vector<Held> messages;  // the user's oldest, in order
  };

  bool holds(const std::string& user) const { return users_.count(user) != 0; }
  bool full() const { return held_ >= maxHeld_; }
  size_t held() const { return held_; }

  void keep(const std::string& user, Held h);
  // Every held user without a write in flight, with its queue; they are in flight until
  // done(). The messages stay held meanwhile (new ones queue behind them).
  std::vector<Batch> takeDue();
  // The write of `user`'s batch ended after its first `handled` messages (stored or
  // refused for good); the rest wait for the next retry.
  void done(const std::string& user, size_t handled);

 private:
  struct Queue {
    std::deque<Held> messages;
    bool inFlight = false;
  };
  std::unordered_map<std::string, Queue> users_;
  size_t maxHeld_;
  size_t held_ = 0;
};

}  // namespace xmesh::router
