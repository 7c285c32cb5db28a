// Certificate minting: the files load, carry the promised extensions, keys are private,
// and the CA chain verifies in a real handshake.
#include "tls/selfsigned.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>

#include "tests/tls/test_certs.h"

namespace xmesh::tls::test {
namespace {

bssl::UniquePtr<X509> readCert(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return nullptr;
  bssl::UniquePtr<X509> cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  return cert;
}

bssl::UniquePtr<EVP_PKEY> readKey(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return nullptr;
  bssl::UniquePtr<EVP_PKEY> key(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  return key;
}

mode_t fileMode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

bool hostMatches(X509* cert, const std::string& host) {
  return X509_check_host(cert, host.data(), host.size(), 0, nullptr) == 1;
}

TEST(SelfSignedTest, KeysArePrivateCertsReadable) {
  const auto& c = testCerts();
  EXPECT_EQ(fileMode(c.caKey), 0600u);
  EXPECT_EQ(fileMode(c.serverKey), 0600u);
  EXPECT_EQ(fileMode(c.selfKey), 0600u);
  EXPECT_EQ(fileMode(c.serverCert), 0644u);
}

TEST(SelfSignedTest, SelfSignedLeafHasNamesAndP256Key) {
  auto cert = readCert(testCerts().selfCert);
  ASSERT_TRUE(cert);
  EXPECT_TRUE(hostMatches(cert.get(), "localhost"));
  EXPECT_FALSE(hostMatches(cert.get(), "example.org"));
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  bssl::UniquePtr<EVP_PKEY> pub(X509_get_pubkey(cert.get()));
  ASSERT_TRUE(pub);
  EXPECT_EQ(EVP_PKEY_id(pub.get()), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_bits(pub.get()), 256);
  auto key = readKey(testCerts().selfKey);
  ASSERT_TRUE(key);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
}

TEST(SelfSignedTest, CaIsCaAndIssuedLeafVerifies) {
  auto ca = readCert(testCerts().caCert);
  auto leaf = readCert(testCerts().serverCert);
  ASSERT_TRUE(ca && leaf);
  EXPECT_NE(X509_check_ca(ca.get()), 0);
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  bssl::UniquePtr<EVP_PKEY> caPub(X509_get_pubkey(ca.get()));
  EXPECT_EQ(X509_verify(leaf.get(), caPub.get()), 1);
  EXPECT_EQ(X509_check_issued(ca.get(), leaf.get()), X509_V_OK);
  EXPECT_TRUE(hostMatches(leaf.get(), kServerName));
  EXPECT_TRUE(hostMatches(leaf.get(), "muc.example.org"));
  // Leaves serve both ends of a mesh link.
  EXPECT_TRUE(X509_check_purpose(leaf.get(), X509_PURPOSE_SSL_SERVER, 0) == 1);
  EXPECT_TRUE(X509_check_purpose(leaf.get(), X509_PURPOSE_SSL_CLIENT, 0) == 1);
}

TEST(SelfSignedTest, SerialsAreRandom) {
  auto a = readCert(testCerts().serverCert);
  auto b = readCert(testCerts().clientCert);
  ASSERT_TRUE(a && b);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get_serialNumber(a.get()), X509_get_serialNumber(b.get())),
            0);
}

TEST(SelfSignedTest, SelfSignedLeafIsUsableAsItsOwnTrustAnchor) {
  ServerOptions so;
  so.certChainFile = testCerts().selfCert;
  so.keyFile = testCerts().selfKey;
  auto server = TlsContext::server(so);
  ASSERT_TRUE(server.isOk()) << server.error().detail;
  ClientOptions co;
  co.caFile = testCerts().selfCert;
  auto client = TlsContext::client(co);
  ASSERT_TRUE(client.isOk()) << client.error().detail;
  Pair p = makePair(*client.value(), *server.value(), "localhost");
  auto r = p.pump();
  ASSERT_TRUE(r.ok()) << r.client.error().detail << " / " << r.server.error().detail;
  EXPECT_TRUE(p.client->peerVerified());
}

TEST(SelfSignedTest, RejectsNamesThatCouldInjectSans) {
  std::string dir = testCerts().dir;
  Status s = generateSelfSigned(dir + "/bad.pem", dir + "/bad.key",
                                {"good.example,DNS:evil.example"}, 30);
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.error().reason, "cert-invalid");
  Status empty = generateSelfSigned(dir + "/bad.pem", dir + "/bad.key", {""}, 30);
  EXPECT_FALSE(empty.isOk());
}

TEST(SelfSignedTest, RejectsNonPositiveDays) {
  std::string dir = testCerts().dir;
  EXPECT_FALSE(generateSelfSigned(dir + "/d.pem", dir + "/d.key", {"x.example"}, 0).isOk());
}

TEST(SelfSignedTest, IssueRefusesANonCaIssuer) {
  const auto& c = testCerts();
  Status s = issueCertificate(c.serverCert, c.serverKey, c.dir + "/n.pem", c.dir + "/n.key",
                              "n.example", {"n.example"}, 30);
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.error().reason, "cert-invalid");
}

TEST(SelfSignedTest, IssueRefusesMismatchedCaKey) {
  const auto& c = testCerts();
  Status s = issueCertificate(c.caCert, c.otherCaKey, c.dir + "/n.pem", c.dir + "/n.key",
                              "n.example", {"n.example"}, 30);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.error().detail.find("does not match"), std::string::npos) << s.error().detail;
}

TEST(SelfSignedTest, MissingCaFileIsAnError) {
  const auto& c = testCerts();
  Status s = issueCertificate(c.dir + "/missing.pem", c.caKey, c.dir + "/n.pem",
                              c.dir + "/n.key", "n.example", {"n.example"}, 30);
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.error().reason, "cert-error");
}

TEST(SelfSignedTest, OverwritesExistingFilesAtomically) {
  std::string dir = testCerts().dir;
  ASSERT_TRUE(generateSelfSigned(dir + "/o.pem", dir + "/o.key", {"one.example"}, 1).isOk());
  ASSERT_TRUE(generateSelfSigned(dir + "/o.pem", dir + "/o.key", {"two.example"}, 1).isOk());
  auto cert = readCert(dir + "/o.pem");
  ASSERT_TRUE(cert);
  EXPECT_TRUE(hostMatches(cert.get(), "two.example"));
  auto key = readKey(dir + "/o.key");
  ASSERT_TRUE(key);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  EXPECT_EQ(fileMode(dir + "/o.key"), 0600u);
  struct stat st {};
  EXPECT_NE(::stat((dir + "/o.key.tmp").c_str(), &st), 0);  // no temp left behind
}

}  // namespace
}  // namespace xmesh::tls::test
