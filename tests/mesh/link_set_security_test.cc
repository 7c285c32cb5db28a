// Secure mode refuses at the handshake whatever is not a mesh node speaking as itself:
// no client certificate, a foreign CA, an expired certificate, another node's or an
// unknown name, TLS 1.2. Neither side ever reports an establishment.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/mesh/mesh_harness.h"

namespace xmesh::mesh::test {
namespace {

using topology::NodeIndex;

class MeshSecurityTest : public MeshTest {
 protected:
  // n1 (the dialer) and n2 (the acceptor), each with its certificate variant ("" = its
  // own): runs until the acceptor refused a connection and the dialer saw it fail.
  void expectRefused(const std::string& dialerVariant, const std::string& acceptorVariant) {
    const std::vector<int> ports = freePorts(2);
    if (!dialerVariant.empty()) ensureVariant(dialerVariant, "n1");
    if (!acceptorVariant.empty()) ensureVariant(acceptorVariant, "n2");
    auto dialerTopo = makeTopology(kTwoNodes, ports, true, dialerVariant);
    auto acceptorTopo = makeTopology(kTwoNodes, ports, true, acceptorVariant);
    ASSERT_TRUE(dialerTopo && acceptorTopo);
    dialer_ = &addNode(testOptions(dialerTopo, 0));
    acceptor_ = &addNode(testOptions(acceptorTopo, 1));
    ASSERT_TRUE(acceptor_->set->start().isOk());
    ASSERT_TRUE(dialer_->set->start().isOk());
    ASSERT_TRUE(runUntil([&] {
      return acceptor_->set->listenerStatus().refused >= 2 && dialer_->status(1).errors >= 2;
    })) << "acceptor: " << acceptor_->set->listenerStatus().lastError
        << " dialer: " << dialer_->status(1).lastError;
    EXPECT_TRUE(dialer_->events.established.empty());
    EXPECT_TRUE(acceptor_->events.established.empty());
    EXPECT_EQ(dialer_->status(1).establishments, 0u);
    EXPECT_EQ(acceptor_->status(0).connections, 0u);  // never reached n1's Link
  }

  TestNode* dialer_ = nullptr;
  TestNode* acceptor_ = nullptr;
};

TEST_F(MeshSecurityTest, DialerCertificateFromAnotherCaIsRefused) {
  expectRefused("otherca", "");
  EXPECT_EQ(acceptor_->set->listenerStatus().lastError.rfind("tls-handshake-failed", 0), 0u);
}

TEST_F(MeshSecurityTest, ExpiredDialerCertificateIsRefused) {
  expectRefused("expired", "");
  const std::string why = acceptor_->set->listenerStatus().lastError;
  EXPECT_EQ(why.rfind("tls-handshake-failed", 0), 0u) << why;
  EXPECT_NE(why.find("expired"), std::string::npos) << why;
}

TEST_F(MeshSecurityTest, DialerWithAnotherNodesCertificateIsAnUnknownPeer) {
  expectRefused("as-n3", "");  // valid, but n3 is not a node that dials n2
  EXPECT_EQ(acceptor_->set->listenerStatus().lastError.rfind("unknown-peer", 0), 0u);
}

TEST_F(MeshSecurityTest, DialerWithANameOutsideTheTopologyIsAnUnknownPeer) {
  expectRefused("stranger", "");
  EXPECT_EQ(acceptor_->set->listenerStatus().lastError.rfind("unknown-peer", 0), 0u);
}

TEST_F(MeshSecurityTest, AcceptorWithAnotherNodesCertificateFailsTheDialersCheck) {
  expectRefused("", "as-n3");
  EXPECT_EQ(dialer_->status(1).lastError.rfind("tls-handshake-failed", 0), 0u)
      << dialer_->status(1).lastError;
}

TEST_F(MeshSecurityTest, AcceptorCertificateFromAnotherCaFailsTheDialersCheck) {
  expectRefused("", "otherca");
  EXPECT_EQ(dialer_->status(1).lastError.rfind("tls-handshake-failed", 0), 0u);
}

// n1 holds n2's certificate and dials n3: n3 takes it for n2, but the stream and hello
// say n1, so the Link refuses it (wrong-node) and nothing establishes.
TEST_F(MeshSecurityTest, HelloThatContradictsTheCertificateIsRefused) {
  const std::vector<int> ports = freePorts(3);
  ensureVariant("as-n2", "n1");
  auto liarTopo = makeTopology(kThreeNodes, ports, true, "as-n2");
  auto topo = makeTopology(kThreeNodes, ports, true);
  ASSERT_TRUE(liarTopo && topo);
  TestNode& n1 = addNode(testOptions(liarTopo, 0));
  TestNode& n3 = addNode(testOptions(topo, 2));
  ASSERT_TRUE(n3.set->start().isOk());
  ASSERT_TRUE(n1.set->start().isOk());
  ASSERT_TRUE(runUntil([&] { return n3.status(1).errors >= 2; })) << n3.status(1).lastError;
  EXPECT_EQ(n3.status(1).lastError.rfind("wrong-node", 0), 0u) << n3.status(1).lastError;
  EXPECT_TRUE(n1.events.established.empty());
  EXPECT_TRUE(n3.events.established.empty());
}

// Raw TLS clients against n2's listener, from a thread while the loop runs.
class RawClientTest : public MeshTest {
 protected:
  void SetUp() override {
    MeshTest::SetUp();
    ports_ = freePorts(2);
    auto topo = makeTopology(kTwoNodes, ports_, true);
    ASSERT_TRUE(topo);
    n2_ = &addNode(testOptions(topo, 1));
    ASSERT_TRUE(n2_->set->start().isOk());
  }

  Result<std::string> exchange(const tls::ClientOptions& options) {
    Result<std::string> result = Error{"not-run", ""};
    std::atomic<bool> done{false};
    std::thread client([&] {
      result = blockingTlsExchange(ports_[1], options, "n2", "");
      done = true;
    });
    const bool finished = runUntil([&] { return done.load(); });
    client.join();
    EXPECT_TRUE(finished);
    return result;
  }

  tls::ClientOptions options(bool withCert, tls::TlsVersion maxVersion) {
    tls::ClientOptions o;
    o.caFile = meshCerts().caCert;
    if (withCert) {
      o.certChainFile = meshCerts().certFile("n1");
      o.keyFile = meshCerts().keyFile("n1");
    }
    o.maxVersion = maxVersion;
    o.alpn = {std::string(kR2rAlpn)};
    o.sessionCacheSize = 0;
    return o;
  }

  std::vector<int> ports_;
  TestNode* n2_ = nullptr;
};

// The control: the raw client works, so the failures below are the server's refusals.
TEST_F(RawClientTest, ValidCertificateOverTls13GetsTheStreamHeader) {
  auto r = exchange(options(true, tls::TlsVersion::Tls13));
  ASSERT_TRUE(r.isOk()) << r.error().reason << ": " << r.error().detail;
  EXPECT_EQ(r.value().rfind("<stream:stream", 0), 0u);
  ASSERT_TRUE(runUntil([&] { return n2_->status(0).connections == 1; }));
}

TEST_F(RawClientTest, DialerWithoutCertificateIsRefused) {
  auto r = exchange(options(false, tls::TlsVersion::Tls13));
  EXPECT_FALSE(r.isOk());
  ASSERT_TRUE(runUntil([&] { return n2_->set->listenerStatus().refused == 1; }));
  EXPECT_EQ(n2_->set->listenerStatus().lastError.rfind("tls-handshake-failed", 0), 0u);
  EXPECT_EQ(n2_->status(0).connections, 0u);
  EXPECT_TRUE(n2_->events.established.empty());
}

TEST_F(RawClientTest, Tls12ClientIsRefused) {
  auto r = exchange(options(true, tls::TlsVersion::Tls12));
  EXPECT_FALSE(r.isOk());
  EXPECT_EQ(r.error().reason, "tls-handshake-failed") << r.error().detail;
  ASSERT_TRUE(runUntil([&] { return n2_->set->listenerStatus().refused == 1; }));
  EXPECT_EQ(n2_->status(0).connections, 0u);
  EXPECT_TRUE(n2_->events.established.empty());
}

}  // namespace
}  // namespace xmesh::mesh::test
