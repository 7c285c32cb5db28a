// TlsContext configuration: every misconfiguration is a "tls-config" error that names
// what is wrong, never a crash or a silently insecure context.
#include "tls/context.h"

#include <gtest/gtest.h>

#include "tests/tls/test_certs.h"
#include "tls/session.h"

namespace xmesh::tls::test {
namespace {

void expectConfigError(const Result<std::shared_ptr<TlsContext>>& r, std::string_view mention) {
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.error().reason, "tls-config");
  EXPECT_NE(r.error().detail.find(mention), std::string::npos) << r.error().detail;
}

TEST(TlsContextTest, ServerLoadsGeneratedCertificate) {
  auto r = TlsContext::server(serverOptions());
  ASSERT_TRUE(r.isOk()) << r.error().detail;
  EXPECT_TRUE(r.value()->isServer());
  EXPECT_FALSE(r.value()->verifiesPeer());
}

TEST(TlsContextTest, MissingCertificateFileNamesThePath) {
  ServerOptions o = serverOptions();
  o.certChainFile = testCerts().dir + "/nope.pem";
  expectConfigError(TlsContext::server(o), "nope.pem");
}

TEST(TlsContextTest, MismatchedKeyIsRejected) {
  ServerOptions o = serverOptions();
  o.keyFile = testCerts().clientKey;
  // BoringSSL notices at load time (KEY_VALUES_MISMATCH); the detail names the key.
  expectConfigError(TlsContext::server(o), "client.key");
}

TEST(TlsContextTest, KeyFileAsCertificateIsRejected) {
  ServerOptions o = serverOptions();
  o.certChainFile = testCerts().serverKey;
  expectConfigError(TlsContext::server(o), "server.key");
}

TEST(TlsContextTest, RequireClientCertNeedsCaFile) {
  ServerOptions o = serverOptions();
  o.requireClientCert = true;
  expectConfigError(TlsContext::server(o), "caFile");
}

TEST(TlsContextTest, MinAboveMaxIsRejected) {
  ServerOptions o = serverOptions();
  o.minVersion = TlsVersion::Tls13;
  o.maxVersion = TlsVersion::Tls12;
  expectConfigError(TlsContext::server(o), "minVersion");
}

TEST(TlsContextTest, InvalidAlpnNameIsRejected) {
  ServerOptions o = serverOptions();
  o.alpn = {""};
  expectConfigError(TlsContext::server(o), "ALPN");
}

TEST(TlsContextTest, UnknownGroupIsRejected) {
  ServerOptions o = serverOptions();
  o.groups = "X25519:P-255";
  expectConfigError(TlsContext::server(o), "P-255");
  ClientOptions c = clientOptions();
  c.groups = "";
  EXPECT_FALSE(TlsContext::client(c).isOk());
}

TEST(TlsContextTest, ClientWithoutCaFileIsRejected) {
  expectConfigError(TlsContext::client(ClientOptions{}), "caFile");
}

TEST(TlsContextTest, ClientCertWithoutKeyIsRejected) {
  ClientOptions o = clientOptions();
  o.certChainFile = testCerts().clientCert;
  expectConfigError(TlsContext::client(o), "keyFile");
}

TEST(TlsContextTest, SessionsNeedMatchingContextSide) {
  auto server = TlsContext::server(serverOptions());
  auto client = TlsContext::client(clientOptions());
  ASSERT_TRUE(server.isOk() && client.isOk());
  EXPECT_FALSE(TlsSession::connect(*server.value(), kServerName).isOk());
  EXPECT_FALSE(TlsSession::accept(*client.value()).isOk());
}

TEST(TlsContextTest, InsecureSkipVerifyConnectsButReportsUnverified) {
  ClientOptions o;
  o.insecureSkipVerify = true;
  auto client = TlsContext::client(o);
  ASSERT_TRUE(client.isOk()) << client.error().detail;
  EXPECT_FALSE(client.value()->verifiesPeer());
  ServerOptions so;
  so.certChainFile = testCerts().otherClientCert;  // issued by a CA nobody trusts
  so.keyFile = testCerts().otherClientKey;
  auto server = TlsContext::server(so);
  ASSERT_TRUE(server.isOk()) << server.error().detail;
  Pair p = makePair(*client.value(), *server.value(), "");  // no name needed
  ASSERT_TRUE(p.pump().ok());
  EXPECT_TRUE(p.client->handshakeDone());
  EXPECT_FALSE(p.client->peerVerified());
  EXPECT_TRUE(p.client->peerNames().empty());
}

TEST(TlsContextTest, ParseTlsVersion) {
  TlsVersion v;
  ASSERT_TRUE(parseTlsVersion("1.2", &v));
  EXPECT_EQ(v, TlsVersion::Tls12);
  ASSERT_TRUE(parseTlsVersion("TLSv1.3", &v));
  EXPECT_EQ(v, TlsVersion::Tls13);
  ASSERT_TRUE(parseTlsVersion("tls1.3", &v));
  EXPECT_FALSE(parseTlsVersion("1.1", &v));
  EXPECT_FALSE(parseTlsVersion("", &v));
  EXPECT_FALSE(parseTlsVersion("SSLv3", &v));
}

}  // namespace
}  // namespace xmesh::tls::test
