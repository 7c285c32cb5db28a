#include "tests/support/fake_env.h"

#include <random>
#include <stdexcept>

#include "sasl/credentials.h"
#include "store/sqlite_store.h"

namespace xmesh::testing {

NodeConfig FakeEnv::defaultConfig() {
  NodeConfig c;
  c.domain = "localhost";
  c.scramIterations = 32;
  return c;
}

FakeEnv::FakeEnv(NodeConfig config)
    : config_(std::move(config)),
      router_(config_, directory_),
      throttle_(config_.limits.authFailuresBeforeBackoff, config_.limits.authBackoffSeconds) {
  std::random_device rd;
  dir_ = std::filesystem::temp_directory_path() / ("xmesh-fake-" + std::to_string(rd()));
  std::filesystem::create_directories(dir_);
  auto st = store::openSqlite(store::SqliteOptions{.path = (dir_ / "t.db").string()});
  if (!st.isOk()) throw std::runtime_error(st.error().detail);
  store_ = std::move(st.value());
  faults_ = std::make_unique<FailingStore>(*store_);
}

FakeEnv::~FakeEnv() {
  faults_.reset();
  store_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void FakeEnv::addUser(const std::string& name, const std::string& password) {
  store::UserRecord u;
  u.username = name;
  u.secrets = sasl::deriveStoredSecrets(password, sasl::randomBytes(16),
                                        static_cast<uint32_t>(config_.scramIterations));
  if (!store_->addUser(u)) throw std::runtime_error("addUser");
}

void FakeEnv::drain() {
  while (!jobs_.empty() || !posted_.empty()) {
    while (!jobs_.empty()) {
      auto j = std::move(jobs_.front());
      jobs_.pop_front();
      j(*faults_);
    }
    while (!posted_.empty()) {
      auto p = std::move(posted_.front());
      posted_.pop_front();
      p();
    }
  }
}

void FakeEnv::deliver(const router::SessionRef& to, router::SharedBytes bytes, StanzaClass cls,
                      std::shared_ptr<const router::RoutedStanza>) {
  if (auto* s = findSession(to.id); s && to.loop == 0) {
    s->deliver(bytes, cls);
    return;
  }
  foreign.push_back({to, *bytes});
}

bool FakeEnv::submitStore(std::function<void(store::Store&)> job, std::string_view) {
  if (!storeAvailable) return false;
  jobs_.push_back(std::move(job));
  return true;
}

void FakeEnv::offlineArrived(const router::SessionRef& s) {
  post([this, s] {
    if (auto* sess = findSession(s.id)) sess->flushOffline();
  });
}

router::SessionRef FakeEnv::registerSession(session::C2sSession* s) {
  router::SessionRef ref{0, nextId_++};
  sessions_[ref.id] = s;
  return ref;
}

session::C2sSession* FakeEnv::findSession(uint64_t id) {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second;
}

}  // namespace xmesh::testing
