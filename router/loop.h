// One event loop on one thread, owning its connections and sessions for life. Loops
// talk to each other only through SPSC queues (one per ordered pair of loops) drained
// in batches on a coalesced uv_async wake-up. Store workers hand results back through
// post(), the only multi-producer path, which is off the stanza path.
#pragma once
#include <uv.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "router/envelope.h"
#include "router/spsc_queue.h"
#include "session/session_env.h"
#include "tls/context.h"

namespace xmesh::router {

class Node;
class Connection;

class Loop final : public session::SessionEnv {
 public:
  // `loopCount`: every loop of the node (one queue from each).
  Loop(Node& node, uint32_t index, uint32_t loopCount);
  ~Loop() override;
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Binds this loop's listeners (SO_REUSEPORT: the kernel spreads accepts over loops).
  Status listen();
  void start();  // runs the loop on its own thread
  void stopAsync();
  // Shutdown, in this order for every loop: joinThread(), markClosed(), teardown().
  void joinThread();
  void markClosed();
  void teardown();

  uv_loop_t* uvLoop() { return &loop_; }
  uv_buf_t readBuffer() { return uv_buf_init(readBuf_.get(), kReadBufSize); }
  const tls::TlsContext& tlsContext() const;
  SpscQueue<Envelope>& inboxFrom(uint32_t src) { return *inbox_[src]; }
  void wake() {
    if (!closed_.load(std::memory_order_acquire)) uv_async_send(&wake_);
  }

  // Connection hooks.
  session::C2sSession* createSession(Connection* conn, bool directTls);
  void connectionDetached(session::C2sSession* s);
  void connectionClosed(Connection* c);
  void markDirty(Connection* c) { dirty_.push_back(c); }

  // session::SessionEnv / router::RouterEnv
  void deliver(const SessionRef& to, SharedBytes bytes, StanzaClass cls,
               std::shared_ptr<const RoutedStanza> fallback = nullptr) override;
  void offlineArrived(const SessionRef& session) override;
  [[nodiscard]] bool submitStore(std::function<void(store::Store&)> job,
                                 std::string_view orderKey = {}) override;
  void post(std::function<void()> fn) override;
  LoopStats& stats() override { return stats_; }
  int64_t nowMs() const override;
  DeferredOfflineWrites& deferredOffline() override { return deferredOffline_; }
  const NodeConfig& config() const override;
  StanzaRouter& router() override;
  session::AuthThrottle& authThrottle() override;
  uint32_t loopIndex() const override { return index_; }
  uint32_t loopCount() const override;
  SessionRef registerSession(session::C2sSession* s) override;
  void unregisterSession(const SessionRef& ref) override;
  void runOn(uint32_t loop, std::function<void()> task) override;
  session::C2sSession* findSession(uint64_t id) override;
  session::SessionEnv& envOf(uint32_t loop) override;
  std::string seeOtherHost(std::string_view homeNode) const override;
  bool dualEnabled() const override;
  std::optional<session::dual::Backup> dualBackupFor(std::string_view homeNode) const override;
  bool mayHoldInactive(std::string_view homeNode) const override;
  bool servesHome(std::string_view homeNode) const override;
  int64_t activationHoldMs(std::string_view homeNode) const override;

  // The users homed on `homeNode` started (servedHere) or stopped being served by this
  // node (SRM failover/fallback; Node::servingChanged posts it to every loop). Sessions
  // of those users on this loop follow (C2sSession::onServingChanged): an active dual
  // session is demoted and told, a plain one redirected, an inactive one told to
  // activate. See docs/dual-connections.md §5-7.
  void onServingChanged(const std::string& homeNode, bool servedHere);
  // Every active session of this loop publishes its full replica (router/replicator.h).
  void publishReplicaSnapshot();
  ReplicaSink* replicaSink() override;
  bool whenReplicated(std::function<void()> done) override;

  // Snapshot for /status (called from the admin thread: reads atomics only).
  const LoopStats& statsView() const { return stats_; }

 private:
  static constexpr unsigned kReadBufSize = 64 * 1024;
  static void onConnection(uv_stream_t* server, int status);
  static void onWake(uv_async_t* a);
  static void onCheck(uv_check_t* c);
  static void onSweep(uv_timer_t* t);
  Status listenOn(uv_tcp_t* handle, const std::string& address, int port, bool directTls);
  void drainInboxes();
  void handleEnvelope(Envelope&& e);
  void deliverLocal(const SessionRef& to, const SharedBytes& bytes, StanzaClass cls,
                    const std::shared_ptr<const RoutedStanza>& fallback);
  void enqueueRemote(uint32_t dest, Envelope&& e);
  void flushOverflow();
  void flushDirty();
  void sweep();
  void startBarrier();

  Node& node_;
  const uint32_t index_;
  uv_loop_t loop_{};
  uv_async_t wake_{};
  uv_check_t check_{};
  uv_timer_t sweepTimer_{};
  uv_tcp_t c2sListener_{};
  uv_tcp_t tlsListener_{};
  bool c2sListening_ = false;
  bool tlsListening_ = false;
  std::thread thread_;
  std::unique_ptr<char[]> readBuf_;
  LoopStats stats_;

  std::vector<std::unique_ptr<SpscQueue<Envelope>>> inbox_;  // [source loop]
  std::vector<std::deque<Envelope>> overflow_;               // [destination loop]
  std::vector<bool> wakePending_;                            // [destination loop]

  std::mutex postMu_;
  std::vector<std::function<void()>> posted_;

  uint64_t nextSessionId_ = 1;
  std::unordered_map<uint64_t, session::C2sSession*> registry_;
  std::unordered_map<uint64_t, std::unique_ptr<session::C2sSession>> owned_;
  std::unordered_set<uint64_t> attached_;  // sessions whose connection is still open
  std::unordered_set<Connection*> connections_;
  std::vector<Connection*> dirty_;
  DeferredOfflineWrites deferredOffline_;
  bool stopping_ = false;
  // XEP-0198 answers waiting for replication (router/replica_barrier.h): one barrier in
  // flight per loop, the waiters of the next one collected meanwhile.
  bool barrierInFlight_ = false;
  std::vector<std::function<void()>> barrierWaiting_;
  std::atomic<bool> closed_{false};  // handles being torn down: wake()/post() do nothing
};

}  // namespace xmesh::router
