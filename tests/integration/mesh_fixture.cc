#include "tests/integration/mesh_fixture.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "router/mesh_node.h"
#include "tls/selfsigned.h"

namespace xmesh::testing {

std::vector<int> freePorts(size_t count) {
  std::vector<int> fds, ports;
  for (size_t i = 0; i < count; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("no free port");
    fds.push_back(fd);  // held until all are picked, so they differ
    ports.push_back(ntohs(a.sin_port));
  }
  for (int fd : fds) ::close(fd);
  return ports;
}

uint64_t sumMetric(const std::string& text, const std::string& prefix) {
  uint64_t sum = 0;
  std::istringstream in(text);
  std::string line;
  bool open = !prefix.empty() && (prefix.back() == '{' || prefix.back() == ',' || prefix.back() == '"');
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0 || line.size() <= prefix.size()) continue;
    char next = line[prefix.size()];
    if (!open && next != ' ' && next != '{') continue;
    sum += std::stoull(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

namespace {

void check(const Status& s, const std::string& what) {
  if (!s) throw std::runtime_error(what + ": " + s.error().reason + " " + s.error().detail);
}

}  // namespace

MeshFixture::MeshFixture(MeshOptions options) : options_(options) {
  std::random_device rd;
  dir_ = std::filesystem::temp_directory_path() / ("xmesh-mesh-it-" + std::to_string(rd()));
  std::filesystem::create_directories(dir_ / "certs");
  const std::string certs = (dir_ / "certs").string();
  topology::TopologyDesc d;
  d.domain = "localhost";
  d.assignment = topology::AssignmentMode::None;
  d.security.secure = options_.secure;
  d.security.caFile = certs + "/ca.pem";
  d.security.certFile = certs + "/{node}.pem";
  d.security.keyFile = certs + "/{node}.key";
  if (options_.secure) check(tls::generateSelfSigned(certs + "/ca.pem", certs + "/ca.key", {"xmesh-it-ca"}, 2, true), "ca");
  std::vector<int> ports = freePorts(3 * options_.nodes);
  for (size_t i = 0; i < options_.nodes; ++i) {
    const std::string id = nodeId(i);
    if (options_.secure)
      check(tls::issueCertificate(certs + "/ca.pem", certs + "/ca.key", d.security.certFileFor(id),
                                  d.security.keyFileFor(id), id, {id}, 2),
            id);
    topology::ClusterDesc c;
    c.id = "c" + std::to_string(i + 1);
    topology::NodeDesc n;
    n.id = id;
    n.host = "127.0.0.1";
    n.c2sPort = ports[3 * i];
    n.r2rPort = ports[3 * i + 1];
    n.adminPort = ports[3 * i + 2];
    c.nodes.push_back(n);
    c.groups.push_back(topology::GroupDesc{"g-" + id, {id}, std::nullopt});
    d.clusters.push_back(std::move(c));
  }
  auto t = topology::Topology::build(std::move(d));
  if (!t) throw std::runtime_error("topology: " + t.error().detail);
  topology_ = std::make_shared<const topology::Topology>(std::move(t.value()));
  for (size_t i = 0; i < options_.nodes; ++i) {
    NodeConfig cfg = NodeFixture::defaultConfig();
    cfg.scramIterations = options_.scramIterations;
    nodes_.push_back(std::make_unique<NodeFixture>(cfg));
    nodes_.back()->joinMesh(topology_, nodeId(i));
  }
}

MeshFixture::~MeshFixture() {
  // Highest id first, the reverse of the dial order (any order must be safe).
  for (size_t i = nodes_.size(); i-- > 0;) nodes_[i]->stop();
  nodes_.clear();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void MeshFixture::addUser(const std::string& name, size_t home) {
  nodes_.at(home)->addUser(name, nodeId(home));
  users_.emplace_back(name, home);
}

void MeshFixture::addUserRecord(const std::string& name, size_t home, size_t storeOf) {
  nodes_.at(storeOf)->addUser(name, nodeId(home));
}

void MeshFixture::putRosterItem(size_t node, const std::string& user, const store::RosterItem& item) {
  nodes_.at(node)->putRosterItem(user, item);
}

void MeshFixture::startNodes() {
  for (size_t i = nodes_.size(); i-- > 0;) nodes_[i]->start();
}

void MeshFixture::start(std::chrono::milliseconds timeout) {
  startNodes();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("mesh not ready in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool MeshFixture::ready() {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    router::MeshNode* mesh = node(i).mesh();
    if (!mesh) return false;
    if (metric(i, "xmesh_r2r_link_up") != nodes_.size() - 1) return false;
    for (const auto& [user, home] : users_) {
      auto h = mesh->homes().homeOf(user);
      if (!h || *h != index(home)) return false;
    }
  }
  return true;
}

uint64_t MeshFixture::metric(size_t i, const std::string& prefix) {
  return sumMetric(node(i).renderMetrics(), prefix);
}

}  // namespace xmesh::testing
