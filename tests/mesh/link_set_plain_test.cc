// Plain mode (secure = false) and liveness: links establish over plain TCP with the
// acceptor reading the claimed node from the stream header; a peer that stops answering
// is declared dead (or times out in the handshake) and redialed.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "tests/mesh/mesh_harness.h"

namespace xmesh::mesh::test {
namespace {

using topology::NodeIndex;

// A scripted peer on the test loop: accepts every connection, writes `script` once,
// never reads. An empty script is a peer that accepted and then hung.
class RawPeer {
 public:
  RawPeer(uv_loop_t* loop, int port, std::string script) : script_(std::move(script)) {
    uv_tcp_init(loop, &server_);
    server_.data = this;
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", port, &addr);
    EXPECT_EQ(uv_tcp_bind(&server_, reinterpret_cast<sockaddr*>(&addr), 0), 0);
    EXPECT_EQ(uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 16, onConnection), 0);
  }
  void close() {
    ++closing_;
    uv_close(reinterpret_cast<uv_handle_t*>(&server_), onClose);
    for (auto& c : clients_) {
      ++closing_;
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), onClose);
    }
  }
  bool closed() const { return closing_ == 0; }
  size_t accepted() const { return clients_.size(); }

 private:
  struct Client {
    uv_tcp_t tcp{};
    uv_write_t write{};
  };
  static void onConnection(uv_stream_t* server, int status) {
    auto* self = static_cast<RawPeer*>(server->data);
    if (status < 0) return;
    auto c = std::make_unique<Client>();
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = self;
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) == 0 && !self->script_.empty()) {
      uv_buf_t buf = uv_buf_init(self->script_.data(), static_cast<unsigned>(self->script_.size()));
      uv_write(&c->write, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1, nullptr);
    }
    self->clients_.push_back(std::move(c));
  }
  static void onClose(uv_handle_t* h) { --static_cast<RawPeer*>(h->data)->closing_; }

  std::string script_;
  uv_tcp_t server_{};
  std::vector<std::unique_ptr<Client>> clients_;
  int closing_ = 0;
};

// A plain client in a thread: sends `bytes`, reports whether the server closed on it.
bool serverClosesAfter(int port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", port, &addr);
  bool closed = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())) {
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
    }
    closed = n == 0 || errno == ECONNRESET;
  }
  ::close(fd);
  return closed;
}

class MeshPlainTest : public MeshTest {
 protected:
  bool closedByServer(int port, const std::string& bytes) {
    std::atomic<bool> done{false};
    bool closed = false;
    std::thread client([&] {
      closed = serverClosesAfter(port, bytes);
      done = true;
    });
    EXPECT_TRUE(runUntil([&] { return done.load(); }));
    client.join();
    return closed;
  }
};

TEST_F(MeshPlainTest, PlainLinksEstablishAndCarryUnits) {
  auto topo = makeTopology(kThreeNodes, freePorts(3), /*secure=*/false);
  ASSERT_TRUE(topo);
  std::vector<TestNode*> n;
  for (NodeIndex i = 0; i < 3; ++i) n.push_back(&addNode(testOptions(topo, i)));
  for (TestNode* node : n) ASSERT_TRUE(node->set->start().isOk());
  ASSERT_TRUE(runUntil([&] {
    for (NodeIndex i = 0; i < 3; ++i) {
      if (n[i]->events.established.size() < 2) return false;
    }
    return true;
  }));
  for (NodeIndex i = 0; i < 3; ++i) {
    for (NodeIndex j = 0; j < 3; ++j) {
      if (i == j) continue;
      const std::string stanza = "<message from='a@example.com/r' to='b@example.com' id='" +
                                 std::to_string(i) + "-" + std::to_string(j) + "'/>";
      ASSERT_EQ(n[i]->set->link(j)->sendStanza(stanza), r2r::SendResult::Queued);
      const std::vector<r2r::Attr> attrs = {{"user", "a@example.com"}, {"state", "active"}};
      ASSERT_EQ(n[i]->set->link(j)->sendControl("serve", attrs), r2r::SendResult::Queued);
    }
  }
  ASSERT_TRUE(runUntil([&] {
    for (NodeIndex i = 0; i < 3; ++i) {
      for (NodeIndex j = 0; j < 3; ++j) {
        if (i != j && n[j]->events.unitCount[i] < 2) return false;
      }
    }
    return true;
  }));
  for (NodeIndex i = 0; i < 3; ++i) {
    for (NodeIndex j = 0; j < 3; ++j) {
      if (i == j) continue;
      const auto& got = n[j]->events.units[i];
      ASSERT_EQ(got.size(), 2u);
      EXPECT_EQ(got[0].stanza.id, std::to_string(i) + "-" + std::to_string(j));
      EXPECT_EQ(got[1].name(), "serve");
      EXPECT_EQ(got[1].attr("state"), "active");
      EXPECT_EQ(n[i]->status(j).dialer, i < j);
    }
  }
}

TEST_F(MeshPlainTest, PlainAcceptorRefusesUnknownAndMalformedClaims) {
  const std::vector<int> ports = freePorts(2);
  auto topo = makeTopology(kTwoNodes, ports, /*secure=*/false);
  ASSERT_TRUE(topo);
  TestNode& n2 = addNode(testOptions(topo, 1));
  ASSERT_TRUE(n2.set->start().isOk());
  const std::string header =
      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
      "xmlns:m='urn:xmesh:r2r:0' from='zz' to='n2' version='1.0'>";
  EXPECT_TRUE(closedByServer(ports[1], header));
  ASSERT_TRUE(runUntil([&] { return n2.set->listenerStatus().refused == 1; }));
  EXPECT_EQ(n2.set->listenerStatus().lastError.rfind("unknown-peer", 0), 0u);
  EXPECT_TRUE(closedByServer(ports[1], "<iq/>"));
  ASSERT_TRUE(runUntil([&] { return n2.set->listenerStatus().refused == 2; }));
  EXPECT_EQ(n2.set->listenerStatus().lastError.rfind("bad-stream-header", 0), 0u);
  EXPECT_EQ(n2.status(0).connections, 0u);
}

// The peer accepted TCP and never says anything: after deadAfterMs the Link is declared
// dead, the transport closed and the peer redialed (and declared dead again).
TEST_F(MeshPlainTest, SilentPeerIsDeclaredDeadAndRedialed) {
  const std::vector<int> ports = freePorts(2);
  auto topo = makeTopology(kTwoNodes, ports, /*secure=*/false);
  ASSERT_TRUE(topo);
  RawPeer raw(&loop_, ports[1], "");
  LinkSetOptions o = testOptions(topo, 0);
  o.deadAfterMs = 300;
  o.heartbeatIntervalMs = 100;
  TestNode& n1 = addNode(o);
  ASSERT_TRUE(n1.set->start().isOk());
  ASSERT_TRUE(runUntil([&] { return n1.status(1).deaths >= 2; }));
  const PeerStatus s = n1.status(1);
  EXPECT_GE(s.reconnectAttempts, 1u);
  EXPECT_EQ(s.lastError.rfind("dead", 0), 0u) << s.lastError;
  EXPECT_TRUE(n1.events.established.empty());
  EXPECT_GE(raw.accepted(), 2u);
  raw.close();
  ASSERT_TRUE(runUntil([&] { return raw.closed(); }));
}

// The peer completes the handshake, then stops answering (its loop is stuck): the
// established link goes down as dead and is redialed.
TEST_F(MeshPlainTest, EstablishedPeerThatFallsSilentIsDeclaredDead) {
  const std::vector<int> ports = freePorts(2);
  auto topo = makeTopology(kTwoNodes, ports, /*secure=*/false);
  ASSERT_TRUE(topo);
  RawPeer raw(&loop_, ports[1],
              "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
              " xmlns:m='urn:xmesh:r2r:0' from='n2' to='n1' version='1.0'>"
              "<m:hello node='n2' cluster='c1' version='1' epoch='raw' h='0'/>"
              "<m:start after='0'/>");
  LinkSetOptions o = testOptions(topo, 0);
  o.deadAfterMs = 300;
  o.heartbeatIntervalMs = 100;
  TestNode& n1 = addNode(o);
  ASSERT_TRUE(n1.set->start().isOk());
  ASSERT_TRUE(runUntil([&] { return n1.events.downs.size() >= 1 && raw.accepted() >= 2; }));
  EXPECT_GE(n1.events.establishedWith(1), 1u);
  EXPECT_EQ(n1.events.downs[0].second, "dead");
  EXPECT_GE(n1.status(1).deaths, 1u);
  raw.close();
  ASSERT_TRUE(runUntil([&] { return raw.closed(); }));
}

// Secure mode against a peer that accepts TCP and never answers the ClientHello: the
// handshake timeout closes it and the dialer retries.
TEST_F(MeshPlainTest, SilentPeerTimesOutInTheTlsHandshake) {
  const std::vector<int> ports = freePorts(2);
  auto topo = makeTopology(kTwoNodes, ports, /*secure=*/true);
  ASSERT_TRUE(topo);
  RawPeer raw(&loop_, ports[1], "");
  LinkSetOptions o = testOptions(topo, 0);
  o.handshakeTimeoutMs = 300;
  TestNode& n1 = addNode(o);
  ASSERT_TRUE(n1.set->start().isOk());
  ASSERT_TRUE(runUntil([&] { return n1.status(1).errors >= 2; }));
  const PeerStatus s = n1.status(1);
  EXPECT_EQ(s.lastError.rfind("handshake-timeout", 0), 0u) << s.lastError;
  EXPECT_GE(s.reconnectAttempts, 1u);
  EXPECT_EQ(s.connections, 0u);  // the Link never saw a transport
  raw.close();
  ASSERT_TRUE(runUntil([&] { return raw.closed(); }));
}

}  // namespace
}  // namespace xmesh::mesh::test
