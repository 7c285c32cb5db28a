#include "tests/tls/test_certs.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>

#include "tls/selfsigned.h"

namespace xmesh::tls::test {
namespace {

void check(const Status& s, const char* what) {
  if (!s) {
    std::fprintf(stderr, "test cert generation failed (%s): %s %s\n", what,
                 s.error().reason.c_str(), s.error().detail.c_str());
    std::abort();
  }
}

TestCerts generate() {
  TestCerts c;
  std::string tmpl = std::filesystem::temp_directory_path() / "xmesh-tls-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
  c.dir = tmpl;
  auto p = [&](const char* name) { return c.dir + "/" + name; };
  c.caCert = p("ca.pem"), c.caKey = p("ca.key");
  c.serverCert = p("server.pem"), c.serverKey = p("server.key");
  c.clientCert = p("client.pem"), c.clientKey = p("client.key");
  c.otherCaCert = p("other-ca.pem"), c.otherCaKey = p("other-ca.key");
  c.otherClientCert = p("other-client.pem"), c.otherClientKey = p("other-client.key");
  c.selfCert = p("self.pem"), c.selfKey = p("self.key");
  check(generateSelfSigned(c.caCert, c.caKey, {"xmesh-test-ca"}, 30, /*isCa=*/true), "ca");
  check(issueCertificate(c.caCert, c.caKey, c.serverCert, c.serverKey, kServerName,
                         {kServerName, "*.example.org"}, 30),
        "server");
  check(issueCertificate(c.caCert, c.caKey, c.clientCert, c.clientKey, "node2.mesh",
                         {"node2.mesh"}, 30),
        "client");
  check(generateSelfSigned(c.otherCaCert, c.otherCaKey, {"other-ca"}, 30, true), "other ca");
  check(issueCertificate(c.otherCaCert, c.otherCaKey, c.otherClientCert, c.otherClientKey,
                         "node2.mesh", {"node2.mesh"}, 30),
        "other client");
  check(generateSelfSigned(c.selfCert, c.selfKey, {"localhost"}, 30), "self-signed");
  return c;
}

// Removes the temp dir at exit (keys included).
struct Cleanup {
  std::string dir;
  ~Cleanup() {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }
};

Status feedChunks(TlsSession& session, std::string_view bytes, std::string& plain,
                  size_t chunk) {
  while (!bytes.empty()) {
    size_t n = std::min(chunk, bytes.size());
    if (auto s = session.feed(bytes.substr(0, n), plain); !s) return s;
    bytes.remove_prefix(n);
  }
  return Status::ok();
}

}  // namespace

const TestCerts& testCerts() {
  static const TestCerts certs = generate();
  static const Cleanup cleanup{certs.dir};
  return certs;
}

ServerOptions serverOptions() {
  ServerOptions o;
  o.certChainFile = testCerts().serverCert;
  o.keyFile = testCerts().serverKey;
  return o;
}

ClientOptions clientOptions() {
  ClientOptions o;
  o.caFile = testCerts().caCert;
  return o;
}

PumpResult pump(TlsSession& client, TlsSession& server, std::string& clientPlain,
                std::string& serverPlain, size_t chunk) {
  PumpResult r;
  // Bounded: a handshake takes a few round trips; a livelock is a bug to report.
  for (int round = 0; round < 100; ++round) {
    bool moved = false;
    if (client.hasPendingCiphertext()) {
      std::string bytes = std::move(client.pendingCiphertext());
      client.pendingCiphertext().clear();
      if (r.server.isOk()) {
        r.server = feedChunks(server, bytes, serverPlain, chunk);
        moved = true;
      }
    }
    if (server.hasPendingCiphertext()) {
      std::string bytes = std::move(server.pendingCiphertext());
      server.pendingCiphertext().clear();
      if (r.client.isOk()) {
        r.client = feedChunks(client, bytes, clientPlain, chunk);
        moved = true;
      }
    }
    if (!moved) return r;
  }
  ADD_FAILURE() << "pump did not quiesce";
  return r;
}

Pair makePair(const TlsContext& clientCtx, const TlsContext& serverCtx, const std::string& sni) {
  Pair pair;
  auto client = TlsSession::connect(clientCtx, sni);
  auto server = TlsSession::accept(serverCtx);
  EXPECT_TRUE(client.isOk()) << (client ? "" : client.error().detail);
  EXPECT_TRUE(server.isOk()) << (server ? "" : server.error().detail);
  if (client) pair.client = std::move(client.value());
  if (server) pair.server = std::move(server.value());
  return pair;
}

int countRecords(std::string_view stream, int contentType) {
  int count = 0;
  while (!stream.empty()) {
    if (stream.size() < 5) return -1;
    size_t len = (static_cast<uint8_t>(stream[3]) << 8) | static_cast<uint8_t>(stream[4]);
    if (stream.size() < 5 + len) return -1;
    if (static_cast<uint8_t>(stream[0]) == contentType) ++count;
    stream.remove_prefix(5 + len);
  }
  return count;
}

}  // namespace xmesh::tls::test
