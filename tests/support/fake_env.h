// A SessionEnv for sans-IO tests: no libuv, no threads. Store jobs run against a real
// SQLite file when drain() is called (through a FailingStore, so a test can take the
// database "down"); deliveries to sessions of this env go straight in, others are
// recorded. Tests step time by hand.
#pragma once
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "router/stanza_router.h"
#include "session/c2s_session.h"
#include "session/session_env.h"
#include "store/store.h"
#include "tests/support/failing_store.h"

namespace xmesh::testing {

class FakeTransport : public session::Transport {
 public:
  void send(std::string_view plaintext) override { out += plaintext; }
  void startTls() override { tls = true; ++startTlsCalls; }
  bool tlsActive() const override { return tls; }
  void closeAfterFlush() override { closed = true; }
  const std::string& peerAddress() const override { return peer; }
  // Output so far, cleared.
  std::string take() {
    std::string s;
    s.swap(out);
    return s;
  }
  std::string out;
  std::string peer = "192.0.2.7";
  bool tls = false;
  bool closed = false;
  int startTlsCalls = 0;
};

class FakeEnv : public session::SessionEnv {
 public:
  explicit FakeEnv(NodeConfig config = defaultConfig());
  ~FakeEnv() override;
  static NodeConfig defaultConfig();

  store::Store& store() { return *store_; }
  // What store jobs run against: the SQLite store, failing on demand (failWith/heal).
  FailingStore& storeFaults() { return *faults_; }
  void addUser(const std::string& name, const std::string& password);
  // Runs queued store jobs and posted callbacks until nothing is left.
  void drain();
  void advance(int64_t ms) { now_ += ms; }

  struct Delivery {
    router::SessionRef to;
    std::string bytes;
  };
  std::vector<Delivery> foreign;  // deliveries to sessions not registered here

  // SessionEnv
  void deliver(const router::SessionRef& to, router::SharedBytes bytes, StanzaClass cls,
               std::shared_ptr<const router::RoutedStanza> fallback = nullptr) override;
  [[nodiscard]] bool submitStore(std::function<void(store::Store&)> job, std::string_view key = {}) override;
  void offlineArrived(const router::SessionRef& s) override;
  void post(std::function<void()> fn) override { posted_.push_back(std::move(fn)); }
  LoopStats& stats() override { return stats_; }
  int64_t nowMs() const override { return now_; }
  // The fake clock stands for wall time too: delay stamps follow advance().
  int64_t wallNowMs() const override { return now_; }
  router::DeferredOfflineWrites& deferredOffline() override { return deferred_; }
  // What Loop::sweep does each second for held offline writes; then drain().
  void retryOfflineWrites() {
    router_.retryOfflineWrites(*this);
    drain();
  }
  const NodeConfig& config() const override { return config_; }
  router::StanzaRouter& router() override { return router_; }
  session::AuthThrottle& authThrottle() override { return throttle_; }
  uint32_t loopIndex() const override { return 0; }
  uint32_t loopCount() const override { return 1; }
  router::SessionRef registerSession(session::C2sSession* s) override;
  void unregisterSession(const router::SessionRef& ref) override { sessions_.erase(ref.id); }
  void runOn(uint32_t, std::function<void()> task) override { posted_.push_back(std::move(task)); }
  session::C2sSession* findSession(uint64_t id) override;
  session::SessionEnv& envOf(uint32_t) override { return *this; }
  std::string seeOtherHost(std::string_view homeNode) const override {
    auto it = redirects.find(std::string(homeNode));
    return it == redirects.end() ? std::string() : it->second;
  }
  std::map<std::string, std::string> redirects;  // home node -> "host:port" served elsewhere

  bool storeAvailable = true;  // false: submitStore refuses (queue full)
  LoopStats stats_;

 private:
  NodeConfig config_;
  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<FailingStore> faults_;  // wraps *store_
  router::Directory directory_;
  router::StanzaRouter router_;
  router::DeferredOfflineWrites deferred_;
  session::AuthThrottle throttle_;
  std::deque<std::function<void()>> posted_;
  std::deque<std::function<void(store::Store&)>> jobs_;
  std::map<uint64_t, session::C2sSession*> sessions_;
  uint64_t nextId_ = 1;
  int64_t now_ = 1'000'000;
};

}  // namespace xmesh::testing
