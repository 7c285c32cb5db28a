// What the routing core needs from the loop it runs on. The loop (router/loop.h)
// implements it; unit tests implement it with a fake that records deliveries.
#pragma once
#include <functional>

#include "core/stats.h"
#include "core/wall_clock.h"
#include "router/deferred_offline.h"
#include "router/directory.h"
#include "router/routed_stanza.h"

namespace xmesh::store {
class Store;
}

namespace xmesh::router {

class RouterEnv {
 public:
  virtual ~RouterEnv() = default;
  // Hands bytes to a session, on whatever loop owns it. If the session is gone by the
  // time it arrives and `fallback` is set, the stanza is routed again to the bare JID.
  virtual void deliver(const SessionRef& to, SharedBytes bytes, StanzaClass cls,
                       std::shared_ptr<const RoutedStanza> fallback = nullptr) = 0;
  // Runs `job` on a store worker thread. False when the store queue is full.
  // Jobs with the same orderKey (a bare username) run in submission order.
  [[nodiscard]] virtual bool submitStore(std::function<void(store::Store&)> job,
                                         std::string_view orderKey = {}) = 0;
  // A message for `user` was just stored offline while `session` is available: the
  // session fetches its offline queue again (closes the store/presence race).
  virtual void offlineArrived(const SessionRef& session) = 0;
  // Runs `fn` on this loop later; callable from any thread (store completions).
  virtual void post(std::function<void()> fn) = 0;
  // This loop's index, and a task for another loop (cross-loop hand-off through the
  // loop queues; still asynchronous when `loop` is this one).
  virtual uint32_t loopIndex() const = 0;
  virtual void runOn(uint32_t loop, std::function<void()> task) = 0;
  virtual LoopStats& stats() = 0;
  virtual int64_t nowMs() const = 0;  // loop time: monotonic, for intervals only
  // Wall-clock time for what leaves the process (XEP-0203 delay stamps); tests fake it.
  virtual int64_t wallNowMs() const { return wallClockMs(); }
  // Offline writes this loop holds while the database is down (router/deferred_offline.h).
  virtual DeferredOfflineWrites& deferredOffline() = 0;
};

}  // namespace xmesh::router
