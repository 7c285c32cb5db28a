#include "tests/mesh/mesh_harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>

#include "tls/selfsigned.h"
#include "tls/session.h"

namespace xmesh::mesh::test {
namespace {

void check(const Status& s, const std::string& what) {
  if (!s) {
    std::fprintf(stderr, "mesh test cert generation failed (%s): %s %s\n", what.c_str(),
                 s.error().reason.c_str(), s.error().detail.c_str());
    std::abort();
  }
}

MeshCerts generate() {
  MeshCerts c;
  std::string tmpl = std::filesystem::temp_directory_path() / "xmesh-mesh-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
  c.dir = tmpl;
  c.caCert = c.dir + "/ca.pem", c.caKey = c.dir + "/ca.key";
  c.otherCaCert = c.dir + "/other-ca.pem", c.otherCaKey = c.dir + "/other-ca.key";
  check(tls::generateSelfSigned(c.caCert, c.caKey, {"xmesh-mesh-test-ca"}, 30, true), "ca");
  check(tls::generateSelfSigned(c.otherCaCert, c.otherCaKey, {"other-ca"}, 30, true), "other ca");
  for (const char* node : {"n1", "n2", "n3", "n4"}) {
    check(tls::issueCertificate(c.caCert, c.caKey, c.certFile(node), c.keyFile(node), node,
                                {node}, 30),
          node);
  }
  return c;
}

struct Cleanup {
  std::string dir;
  ~Cleanup() {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }
};

}  // namespace

const MeshCerts& meshCerts() {
  static const MeshCerts certs = generate();
  static const Cleanup cleanup{certs.dir};
  return certs;
}

void ensureVariant(const std::string& variant, const std::string& node) {
  static std::mutex mutex;
  static std::set<std::string> made;
  std::lock_guard lock(mutex);
  const MeshCerts& c = meshCerts();
  const std::string base = c.dir + "/" + variant + "-" + node;
  if (!made.insert(base).second) return;
  const std::string cert = base + ".pem", key = base + ".key";
  if (variant == "expired") {
    check(tls::issueCertificate(c.caCert, c.caKey, cert, key, node, {node},
                                tls::IssueOptions{-30, -1}),
          base);
  } else if (variant == "otherca") {
    check(tls::issueCertificate(c.otherCaCert, c.otherCaKey, cert, key, node, {node}, 30), base);
  } else if (variant.starts_with("as-")) {
    const std::string other = variant.substr(3);
    check(tls::issueCertificate(c.caCert, c.caKey, cert, key, other, {other}, 30), base);
  } else if (variant == "stranger") {
    check(tls::issueCertificate(c.caCert, c.caKey, cert, key, "zz", {"zz"}, 30), base);
  } else {
    ADD_FAILURE() << "unknown certificate variant " << variant;
  }
}

std::vector<int> freePorts(size_t count) {
  std::vector<int> fds, ports;
  for (size_t i = 0; i < count; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot find a free port";
    }
    fds.push_back(fd);  // held until all are picked, so they differ
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int fd : fds) ::close(fd);
  return ports;
}

std::shared_ptr<const topology::Topology> makeTopology(const std::vector<NodeSpec>& nodes,
                                                       const std::vector<int>& ports, bool secure,
                                                       const std::string& certVariant) {
  const MeshCerts& certs = meshCerts();
  topology::TopologyDesc d;
  d.domain = "example.com";
  d.security.secure = secure;
  d.security.caFile = certs.caCert;
  const std::string prefix = certVariant.empty() ? "" : certVariant + "-";
  d.security.certFile = certs.dir + "/" + prefix + "{node}.pem";
  d.security.keyFile = certs.dir + "/" + prefix + "{node}.key";
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto it = std::find_if(d.clusters.begin(), d.clusters.end(),
                           [&](const auto& c) { return c.id == nodes[i].cluster; });
    if (it == d.clusters.end()) {
      d.clusters.emplace_back();
      d.clusters.back().id = nodes[i].cluster;
      it = d.clusters.end() - 1;
    }
    topology::NodeDesc n;
    n.id = nodes[i].id;
    n.host = "127.0.0.1";
    n.r2rPort = ports.at(i);
    n.c2sPort = 1024 + static_cast<int>(i);  // never bound here
    n.adminPort = 0;
    it->nodes.push_back(n);
    it->groups.push_back(topology::GroupDesc{"g-" + n.id, {n.id}, std::nullopt});
  }
  auto t = topology::Topology::build(std::move(d));
  if (!t) {
    ADD_FAILURE() << "topology: " << t.error().detail;
    return nullptr;
  }
  return std::make_shared<const topology::Topology>(std::move(t.value()));
}

PeerStatus TestNode::status(topology::NodeIndex peer) const {
  for (const PeerStatus& s : set->snapshot()) {
    if (s.index == peer) return s;
  }
  ADD_FAILURE() << "no status for peer " << peer;
  return {};
}

LinkSetOptions testOptions(std::shared_ptr<const topology::Topology> topology,
                           topology::NodeIndex self) {
  LinkSetOptions o;
  o.topology = std::move(topology);
  o.self = self;
  o.reconnectMinMs = 50;
  o.reconnectMaxMs = 400;
  o.tickMs = 20;
  o.heartbeatIntervalMs = 500;
  o.deadAfterMs = 3000;
  o.handshakeTimeoutMs = 3000;
  return o;
}

void MeshTest::SetUp() {
  ::signal(SIGPIPE, SIG_IGN);  // as xmeshd's main: a write to a reset socket is an error value
  ASSERT_EQ(uv_loop_init(&loop_), 0);
}

void MeshTest::TearDown() {
  for (auto& n : nodes_) {
    if (n->set) n->set->close();
  }
  EXPECT_TRUE(runUntil([&] {
    for (auto& n : nodes_) {
      if (n->set && !n->set->closed()) return false;
    }
    return true;
  }));
  nodes_.clear();
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(uv_loop_close(&loop_), 0) << "handles left open on the loop";
}

TestNode& MeshTest::addNode(LinkSetOptions options) {
  nodes_.push_back(std::make_unique<TestNode>());
  TestNode& node = *nodes_.back();
  node.set = std::make_unique<LinkSet>(&loop_, std::move(options), node.events);
  return node;
}

void MeshTest::destroyNode(TestNode& node) {
  node.set->close();
  ASSERT_TRUE(runUntil([&] { return node.set->closed(); }));
  node.set.reset();
}

bool MeshTest::runUntil(const std::function<bool()>& done, int64_t timeoutMs) {
  const uint64_t deadline = uv_hrtime() + static_cast<uint64_t>(timeoutMs) * 1000000u;
  while (!done()) {
    if (uv_hrtime() > deadline) return false;
    if (uv_run(&loop_, UV_RUN_ONCE) == 0) uv_sleep(1);  // nothing active: do not spin
  }
  return true;
}

void MeshTest::runFor(int64_t ms) {
  const uint64_t until = uv_hrtime() + static_cast<uint64_t>(ms) * 1000000u;
  runUntil([&] { return uv_hrtime() >= until; }, ms + 1000);
}

// ---- Blocking TLS client --------------------------------------------------------------------

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool sendAll(int fd, std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  bytes.clear();
  return true;
}

}  // namespace

Result<std::string> blockingTlsExchange(int port, const tls::ClientOptions& options,
                                        const std::string& serverName,
                                        const std::string& firstBytes) {
  auto ctx = tls::TlsContext::client(options);
  if (!ctx) return ctx.error();
  auto session = tls::TlsSession::connect(**ctx, serverName);
  if (!session) return session.error();
  tls::TlsSession& s = **session;
  Fd sock{::socket(AF_INET, SOCK_STREAM, 0)};
  timeval timeout{3, 0};
  ::setsockopt(sock.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(sock.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Error{"connect-failed", "connect"};
  }
  bool wrote = false;
  std::string plain;
  char buf[16384];
  for (;;) {
    if (s.handshakeDone() && !wrote) {
      wrote = true;
      if (auto st = s.write(firstBytes); !st) return st.error();
    }
    if (s.hasPendingCiphertext() && !sendAll(sock.fd, s.pendingCiphertext())) {
      return Error{"send-failed", "peer closed while we wrote"};
    }
    if (!plain.empty()) return plain;
    ssize_t n = ::recv(sock.fd, buf, sizeof buf, 0);
    if (n == 0) return Error{"eof", "server closed the connection"};
    if (n < 0) return Error{"recv-failed", "timeout or reset"};
    if (auto st = s.feed(std::string_view(buf, static_cast<size_t>(n)), plain); !st) {
      return st.error();
    }
    if (s.peerClosed() && plain.empty()) return Error{"peer-closed", "close_notify"};
  }
}

}  // namespace xmesh::mesh::test
