#include "tests/integration/node_fixture.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <random>
#include <stdexcept>

#include "sasl/credentials.h"
#include "store/sqlite_store.h"
#include "topology/node_settings.h"

namespace xmesh::testing {

int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

NodeConfig NodeFixture::defaultConfig() {
  NodeConfig c;
  c.domain = "localhost";
  c.loops = 2;
  c.listen.c2sAddress = "127.0.0.1";
  c.listen.adminPort = 0;
  c.scramIterations = 64;  // tests only: keep PBKDF2 cheap
  return c;
}

NodeFixture::NodeFixture(NodeConfig config) : config_(std::move(config)) {
  std::random_device rd;
  dir_ = std::filesystem::temp_directory_path() / ("xmesh-it-" + std::to_string(rd()));
  std::filesystem::create_directories(dir_);
  config_.dataDir = dir_.string();
  config_.listen.c2sPort = freePort();
}

NodeFixture::~NodeFixture() {
  stop();
  node_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

store::StorePtr NodeFixture::openStore() const {
  auto st = store::openSqlite(store::SqliteOptions{.path = config_.resolvedStorePath()});
  if (!st.isOk()) throw std::runtime_error("store: " + st.error().detail);
  return std::move(st.value());
}

void NodeFixture::addUser(const std::string& name, const std::string& home) {
  store::UserRecord u;
  u.username = name;
  u.secrets = sasl::deriveStoredSecrets(password(name), sasl::randomBytes(16),
                                        static_cast<uint32_t>(config_.scramIterations));
  u.homeNode = home;
  Status s = openStore()->addUser(u);
  if (!s) throw std::runtime_error("addUser: " + s.error().detail);
}

void NodeFixture::setHome(const std::string& user, const std::string& node) {
  if (!openStore()->setHomeNode(user, node).isOk()) throw std::runtime_error("setHome");
}

void NodeFixture::putRosterItem(const std::string& user, const store::RosterItem& item) {
  Status s = openStore()->putRosterItem(user, item);
  if (!s) throw std::runtime_error("putRosterItem: " + s.error().detail);
}

void NodeFixture::joinMesh(std::shared_ptr<const topology::Topology> t, const std::string& nodeId) {
  Status s = topology::applyTopology(*t, nodeId, config_);
  if (!s) throw std::runtime_error("joinMesh: " + s.error().detail);
  topology_ = std::move(t);
}

void NodeFixture::start() {
  // A write to a connection the client already closed must be an error value for the
  // node, not SIGPIPE for the test process: xmeshd's main ignores SIGPIPE the same way.
  std::signal(SIGPIPE, SIG_IGN);
  node_ = std::make_unique<router::Node>(config_);
  node_->setTopology(topology_);
  Status s = node_->init();
  if (!s) throw std::runtime_error("node init: " + s.error().reason + " " + s.error().detail);
  node_->start();
  started_ = true;
}

void NodeFixture::stop() {
  if (!node_ || !started_) return;
  node_->stop();
  node_->join();
  started_ = false;
}

}  // namespace xmesh::testing
