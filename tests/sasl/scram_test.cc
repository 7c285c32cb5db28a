#include "sasl/scram.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>

namespace xmesh::sasl {
namespace {

std::string decode(std::string_view b64) {
  Result<std::string> r = base64Decode(b64);
  EXPECT_TRUE(r.isOk()) << b64;
  return r.isOk() ? r.value() : std::string();
}

// "r=<nonce>,s=<saltB64Len base64 chars>,i=<iterations>" with the nonce starting with
// noncePrefix (std::regex trips GCC 12's -Wmaybe-uninitialized under ASan).
bool hasServerFirstShape(const std::string& m, std::string_view noncePrefix,
                         size_t saltB64Len, std::string_view iterations) {
  size_t s = m.find(",s=");
  size_t i = m.find(",i=");
  if (m.rfind("r=", 0) != 0 || s == std::string::npos || i == std::string::npos || i < s) {
    return false;
  }
  std::string nonce = m.substr(2, s - 2);
  std::string salt = m.substr(s + 3, i - s - 3);
  if (nonce.rfind(noncePrefix, 0) != 0 || nonce.size() <= noncePrefix.size()) return false;
  for (char c : nonce) {
    if (c < 0x21 || c > 0x7E || c == ',') return false;
  }
  return salt.size() == saltB64Len && base64Decode(salt).isOk() &&
         m.substr(i + 3) == iterations;
}

struct Vector {
  HashAlg alg;
  const char* clientNonce;
  const char* serverNonce;
  const char* salt;
  const char* clientFirst;
  const char* serverFirst;
  const char* clientFinal;
  const char* serverFinal;
};

// RFC 5802 §5 (SHA-1) and RFC 7677 §3 (SHA-256): user "user", password "pencil".
const Vector kRfc5802 = {
    HashAlg::Sha1, "fyko+d2lbbFgONRv9qkxdawL", "3rfcNHYJY1ZVvWVs7j", "QSXCR+Q6sek8bf92",
    "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
    "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="};
const Vector kRfc7677 = {
    HashAlg::Sha256, "rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    "W22ZaJ0SNY7soEsUEjb6gQ==", "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="};

void checkServerVector(const Vector& v) {
  ScramCredentials creds = deriveCredentials(v.alg, "pencil", decode(v.salt), 4096);
  ScramServer server(v.alg);
  server.setServerNonceForTest(v.serverNonce);
  Result<std::string> user = server.receiveClientFirst(v.clientFirst);
  ASSERT_TRUE(user.isOk()) << user.error().detail;
  EXPECT_EQ(user.value(), "user");
  EXPECT_EQ(server.username(), "user");
  EXPECT_EQ(server.makeServerFirst(&creds), v.serverFirst);
  auto final = server.receiveClientFinal(v.clientFinal);
  ASSERT_TRUE(std::holds_alternative<std::string>(final))
      << failureName(std::get<Failure>(final));
  EXPECT_EQ(std::get<std::string>(final), v.serverFinal);
}

void checkClientVector(const Vector& v) {
  ScramClient client(v.alg, "user", "pencil");
  client.setClientNonceForTest(v.clientNonce);
  EXPECT_EQ(client.clientFirst(), v.clientFirst);
  Result<std::string> final = client.receiveServerFirst(v.serverFirst);
  ASSERT_TRUE(final.isOk()) << final.error().detail;
  EXPECT_EQ(final.value(), v.clientFinal);
  EXPECT_TRUE(client.verifyServerFinal(v.serverFinal).isOk());
  EXPECT_EQ(client.lastSalt(), decode(v.salt));
  EXPECT_EQ(client.lastIterations(), 4096u);
}

TEST(ScramServer, Rfc5802Sha1TestVector) { checkServerVector(kRfc5802); }
TEST(ScramServer, Rfc7677Sha256TestVector) { checkServerVector(kRfc7677); }
TEST(ScramClient, Rfc5802Sha1TestVector) { checkClientVector(kRfc5802); }
TEST(ScramClient, Rfc7677Sha256TestVector) { checkClientVector(kRfc7677); }

// Runs a full exchange; returns the server's verdict.
std::variant<std::string, Failure> exchange(ScramServer& server, ScramClient& client,
                                            const ScramCredentials* creds,
                                            std::string* serverFirst = nullptr) {
  Result<std::string> user = server.receiveClientFirst(client.clientFirst());
  EXPECT_TRUE(user.isOk());
  if (!user.isOk()) return Failure::MalformedRequest;
  std::string first = server.makeServerFirst(creds);
  if (serverFirst) *serverFirst = first;
  Result<std::string> clientFinal = client.receiveServerFirst(first);
  EXPECT_TRUE(clientFinal.isOk());
  if (!clientFinal.isOk()) return Failure::MalformedRequest;
  return server.receiveClientFinal(clientFinal.value());
}

TEST(Scram, RoundTripBothHashes) {
  for (HashAlg alg : {HashAlg::Sha1, HashAlg::Sha256}) {
    ScramCredentials creds = deriveCredentials(alg, "s3cret", randomBytes(16), 4096);
    ScramServer server(alg);
    ScramClient client(alg, "romeo", "s3cret");
    auto verdict = exchange(server, client, &creds);
    ASSERT_TRUE(std::holds_alternative<std::string>(verdict));
    EXPECT_TRUE(client.verifyServerFinal(std::get<std::string>(verdict)).isOk());
    EXPECT_EQ(client.saltedPasswordUsed(), saltedPassword(alg, "s3cret", creds.salt, 4096));
  }
}

TEST(Scram, SaltedPasswordCacheIsUsedOnlyWhenSaltAndIterationsMatch) {
  ScramCredentials creds = deriveCredentials(HashAlg::Sha256, "pw", "saltsalt", 4096);
  ScramClient first(HashAlg::Sha256, "romeo", "pw");
  ScramServer s1(HashAlg::Sha256);
  ASSERT_TRUE(std::holds_alternative<std::string>(exchange(s1, first, &creds)));

  // A cache entry that is wrong on purpose proves the cache is used: the login fails.
  ScramClient cached(HashAlg::Sha256, "romeo", "pw");
  cached.setSaltedPasswordCache(std::string(32, 'x'), "saltsalt", 4096);
  ScramServer s2(HashAlg::Sha256);
  EXPECT_EQ(std::get<Failure>(exchange(s2, cached, &creds)), Failure::NotAuthorized);

  // The right entry works; an entry for other iterations is ignored.
  ScramClient good(HashAlg::Sha256, "romeo", "pw");
  good.setSaltedPasswordCache(first.saltedPasswordUsed(), std::string(first.lastSalt()),
                              first.lastIterations());
  ScramServer s3(HashAlg::Sha256);
  EXPECT_TRUE(std::holds_alternative<std::string>(exchange(s3, good, &creds)));
  ScramClient stale(HashAlg::Sha256, "romeo", "pw");
  stale.setSaltedPasswordCache(std::string(32, 'x'), "saltsalt", 8192);
  ScramServer s4(HashAlg::Sha256);
  EXPECT_TRUE(std::holds_alternative<std::string>(exchange(s4, stale, &creds)));
}

TEST(Scram, WrongPasswordIsNotAuthorized) {
  ScramCredentials creds = deriveCredentials(HashAlg::Sha256, "right", "salt1234", 4096);
  ScramServer server(HashAlg::Sha256);
  ScramClient client(HashAlg::Sha256, "romeo", "wrong");
  EXPECT_EQ(std::get<Failure>(exchange(server, client, &creds)), Failure::NotAuthorized);
}

TEST(Scram, CredentialsForTheOtherHashAreTreatedAsUnknownUser) {
  ScramCredentials sha1 = deriveCredentials(HashAlg::Sha1, "pw", "salt1234", 4096);
  ScramServer server(HashAlg::Sha256);
  ScramClient client(HashAlg::Sha256, "romeo", "pw");
  EXPECT_EQ(std::get<Failure>(exchange(server, client, &sha1)), Failure::NotAuthorized);
}

// An unknown user sees a server-first of the same shape as a real one (16-byte salt,
// default iterations), stable across attempts, and fails only at the last step.
TEST(Scram, UnknownUserIsIndistinguishableUntilTheEnd) {
  ScramCredentials real = deriveCredentials(HashAlg::Sha256, "pw", randomBytes(16), 4096);
  ScramServer knownServer(HashAlg::Sha256);
  ScramClient knownClient(HashAlg::Sha256, "juliet", "pw");
  std::string knownFirst;
  exchange(knownServer, knownClient, &real, &knownFirst);
  EXPECT_TRUE(hasServerFirstShape(knownFirst, "", 24, "4096")) << knownFirst;

  std::string fakeFirst[2];
  for (std::string& first : fakeFirst) {
    ScramServer server(HashAlg::Sha256);
    ScramClient client(HashAlg::Sha256, "nobody", "pw");
    EXPECT_EQ(std::get<Failure>(exchange(server, client, nullptr, &first)),
              Failure::NotAuthorized);
    EXPECT_TRUE(hasServerFirstShape(first, "", 24, "4096")) << first;
    EXPECT_EQ(first.size(), knownFirst.size());
  }
  auto saltOf = [](const std::string& m) { return m.substr(m.find(",s=")); };
  EXPECT_EQ(saltOf(fakeFirst[0]), saltOf(fakeFirst[1]));  // stable per user
  ScramServer other(HashAlg::Sha256);
  ScramClient otherClient(HashAlg::Sha256, "someone-else", "pw");
  std::string otherFirst;
  exchange(other, otherClient, nullptr, &otherFirst);
  EXPECT_NE(saltOf(otherFirst), saltOf(fakeFirst[0]));
  // Per mechanism too: SHA-1 and SHA-256 fake salts differ.
  ScramServer sha1(HashAlg::Sha1);
  ScramClient sha1Client(HashAlg::Sha1, "nobody", "pw");
  std::string sha1First;
  exchange(sha1, sha1Client, nullptr, &sha1First);
  EXPECT_NE(saltOf(sha1First), saltOf(fakeFirst[0]));
}

TEST(Scram, UnknownUserPolicyControlsSaltAndIterations) {
  setUnknownUserPolicy({"cluster-shared-secret", 24, 10000});
  ScramServer a(HashAlg::Sha256);
  ASSERT_TRUE(a.receiveClientFirst("n,,n=ghost,r=abc").isOk());
  std::string first = a.makeServerFirst(nullptr);
  EXPECT_TRUE(hasServerFirstShape(first, "abc", 32, "10000")) << first;
  // Same secret, same salt: what another node of the cluster would show.
  ScramServer b(HashAlg::Sha256);
  ASSERT_TRUE(b.receiveClientFirst("n,,n=ghost,r=xyz").isOk());
  std::string second = b.makeServerFirst(nullptr);
  EXPECT_EQ(first.substr(first.find(",s=")), second.substr(second.find(",s=")));
}

TEST(ScramServer, MalformedClientFirstCatalogue) {
  const char* const kCases[] = {
      "",
      "n",
      "n,",
      "n,,",
      "x,,n=user,r=abc",              // unknown gs2 flag
      "p=tls-unique,,n=user,r=abc",   // channel binding we never offered
      "n,b=user,n=user,r=abc",        // authzid field without a=
      "n,a=,n=user,r=abc",            // empty authzid
      "n,,r=abc",                     // no username
      "n,,n=user",                    // no nonce
      "n,,r=abc,n=user",              // wrong order
      "n,,n=,r=abc",                  // empty username
      "n,,n=us=er,r=abc",             // bad escape
      "n,,n=us=2c,r=abc",             // escapes are upper case
      "n,,m=ext,n=user,r=abc",        // mandatory extension
      "n,,n=user,r=",                 // empty nonce
      "n,,n=user,r=a\x01" "b",        // non-printable nonce
      "n,,n=user,r=abc,1x=y",         // bad extension name
      "n,,n=user,r=abc,",             // trailing comma
      "n,,n=\xC3(,r=abc",             // invalid UTF-8
      "n,,n=a\x07" "b,r=abc",         // SASLprep prohibits controls
  };
  for (const char* message : kCases) {
    ScramServer server(HashAlg::Sha256);
    Result<std::string> r = server.receiveClientFirst(message);
    ASSERT_FALSE(r.isOk()) << "accepted: " << message;
    EXPECT_EQ(failureFromName(r.error().reason), Failure::MalformedRequest) << message;
  }
  ScramServer server(HashAlg::Sha256);
  std::string huge = "n,,n=user,r=" + std::string(9000, 'a');
  EXPECT_FALSE(server.receiveClientFirst(huge).isOk());
  std::string nulName("n,,n=a\0b,r=abc", 14);
  ScramServer nul(HashAlg::Sha256);
  EXPECT_FALSE(nul.receiveClientFirst(nulName).isOk());
}

TEST(ScramServer, UsernameIsUnescapedAndPrepared) {
  ScramServer a(HashAlg::Sha256);
  EXPECT_EQ(a.receiveClientFirst("n,,n=a=2Cb=3Dc,r=abc").value(), "a,b=c");
  ScramServer b(HashAlg::Sha256);
  EXPECT_EQ(b.receiveClientFirst("n,,n=I\xC2\xAD" "X,r=abc").value(), "IX");
  ScramServer c(HashAlg::Sha256);
  EXPECT_EQ(c.receiveClientFirst("n,,n=user,r=abc,x=ignored").value(), "user");
  ScramClient client(HashAlg::Sha256, "a,b=c", "pw");
  client.setClientNonceForTest("N");
  EXPECT_EQ(client.clientFirst(), "n,,n=a=2Cb=3Dc,r=N");
}

TEST(ScramServer, Authzid) {
  EXPECT_TRUE(ScramServer(HashAlg::Sha1).receiveClientFirst("n,a=user,n=user,r=x").isOk());
  Result<std::string> other = ScramServer(HashAlg::Sha1).receiveClientFirst("n,a=admin,n=user,r=x");
  ASSERT_FALSE(other.isOk());
  EXPECT_EQ(failureFromName(other.error().reason), Failure::InvalidAuthzid);
  // With the domain known, the bare JID form is accepted, normalized.
  EXPECT_TRUE(ScramServer(HashAlg::Sha1, "example.com")
                  .receiveClientFirst("n,a=User@Example.COM,n=user,r=x").isOk());
  EXPECT_FALSE(ScramServer(HashAlg::Sha1, "example.com")
                   .receiveClientFirst("n,a=user@other.example,n=user,r=x").isOk());
  EXPECT_FALSE(ScramServer(HashAlg::Sha1, "example.com")
                   .receiveClientFirst("n,a=user@example.com/res,n=user,r=x").isOk());
  EXPECT_FALSE(ScramServer(HashAlg::Sha1)
                   .receiveClientFirst("n,a=user@example.com,n=user,r=x").isOk());
}

// Prepares a server up to the point where it awaits client-final for user/pencil.
struct Pending {
  ScramCredentials creds = deriveCredentials(HashAlg::Sha1, "pencil", "saltsalt", 4096);
  ScramServer server{HashAlg::Sha1};
  ScramClient client{HashAlg::Sha1, "user", "pencil"};
  std::string goodFinal;

  explicit Pending(const char* gs2 = "n,,") {
    client.setClientNonceForTest("cnonce");
    server.setServerNonceForTest("snonce");
    std::string first = client.clientFirst();
    first.replace(0, 3, gs2);
    EXPECT_TRUE(server.receiveClientFirst(first).isOk());
    goodFinal = client.receiveServerFirst(server.makeServerFirst(&creds)).value();
  }
  Failure failWith(std::string_view message) {
    auto r = server.receiveClientFinal(message);
    EXPECT_TRUE(std::holds_alternative<Failure>(r)) << message;
    return std::holds_alternative<Failure>(r) ? std::get<Failure>(r) : Failure::Aborted;
  }
};

TEST(ScramServer, MalformedClientFinalCatalogue) {
  const std::string proof = Pending().goodFinal.substr(Pending().goodFinal.find(",p="));
  struct Case {
    std::string message;
    Failure expected;
  };
  const Case kCases[] = {
      {"", Failure::MalformedRequest},
      {"c=biws,r=cnoncesnonce", Failure::MalformedRequest},  // no proof
      {"r=cnoncesnonce" + proof, Failure::MalformedRequest},  // no channel binding
      {"c=biws" + proof, Failure::MalformedRequest},          // no nonce
      {"r=cnoncesnonce,c=biws" + proof, Failure::MalformedRequest},
      {"c=b!ws,r=cnoncesnonce" + proof, Failure::IncorrectEncoding},
      {"c=eSws,r=cnoncesnonce" + proof, Failure::MalformedRequest},  // "y,," != "n,,"
      {"c=biws,r=cnonceXXXXXX" + proof, Failure::NotAuthorized},     // nonce mismatch
      {"c=biws,r=cnonce" + proof, Failure::NotAuthorized},           // server part dropped
      {"c=biws,r=cnoncesnonce,p=!!!!", Failure::IncorrectEncoding},
      {"c=biws,r=cnoncesnonce,p=AAAA", Failure::MalformedRequest},   // wrong proof size
      {"c=biws,r=cnoncesnonce" + proof + ",x=1", Failure::MalformedRequest},  // proof not last
      {"c=biws,r=cnoncesnonce,9=x" + proof, Failure::MalformedRequest},
  };
  for (const Case& c : kCases) {
    Pending p;
    EXPECT_EQ(p.failWith(c.message), c.expected) << c.message;
  }
}

TEST(ScramServer, ExchangeIsOneShot) {
  Pending p;
  EXPECT_TRUE(std::holds_alternative<std::string>(p.server.receiveClientFinal(p.goodFinal)));
  EXPECT_EQ(p.failWith(p.goodFinal), Failure::MalformedRequest);  // replay on the same object
  ScramServer fresh(HashAlg::Sha1);
  EXPECT_EQ(std::get<Failure>(fresh.receiveClientFinal(p.goodFinal)), Failure::MalformedRequest);
  ScramServer twice(HashAlg::Sha1);
  EXPECT_TRUE(twice.receiveClientFirst("n,,n=user,r=abc").isOk());
  EXPECT_FALSE(twice.receiveClientFirst("n,,n=user,r=abc").isOk());
}

TEST(ScramServer, AcceptsYFlagWithMatchingChannelBindingField) {
  Pending p("y,,");
  // The client encoded "n,," in c=, which no longer matches the header it sent.
  EXPECT_EQ(p.failWith(p.goodFinal), Failure::MalformedRequest);
  Pending q("y,,");
  std::string final = q.goodFinal;
  final.replace(0, 6, "c=eSws");
  // The proof covers c=, so a client that really sent "y,," recomputes it; here we only
  // check that the header check passes and the proof check is what fails.
  EXPECT_EQ(q.failWith(final), Failure::NotAuthorized);
}

TEST(ScramClient, RejectsBadServerMessages) {
  const char* const kFirsts[] = {
      "",
      "r=other-nonce,s=c2FsdA==,i=4096",  // does not extend our nonce
      "r=N,s=c2FsdA==,i=4096",            // equal, not extended
      "r=Nsrv,s=,i=4096",                 // empty salt
      "r=Nsrv,s=c2FsdA=,i=4096",          // bad base64
      "r=Nsrv,s=c2FsdA==,i=0",
      "r=Nsrv,s=c2FsdA==,i=99999999999",
      "r=Nsrv,s=c2FsdA==,i=12x",
      "r=Nsrv,i=4096,s=c2FsdA==",
      "m=x,r=Nsrv,s=c2FsdA==,i=4096",
  };
  for (const char* first : kFirsts) {
    ScramClient client(HashAlg::Sha1, "user", "pw");
    client.setClientNonceForTest("N");
    client.clientFirst();
    EXPECT_FALSE(client.receiveServerFirst(first).isOk()) << first;
  }
  ScramClient client(HashAlg::Sha1, "user", "pencil");
  client.setClientNonceForTest(kRfc5802.clientNonce);
  client.clientFirst();
  ASSERT_TRUE(client.receiveServerFirst(kRfc5802.serverFirst).isOk());
  EXPECT_EQ(client.verifyServerFinal("v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=").error().reason,
            "scram-server-signature-mismatch");
  EXPECT_EQ(client.verifyServerFinal("e=invalid-proof").error().reason, "scram-server-error");
  EXPECT_EQ(client.verifyServerFinal("x").error().reason, "scram-bad-server-final");
}

}  // namespace
}  // namespace xmesh::sasl
