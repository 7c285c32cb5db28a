// The per-user TLS session cache of the load generator, with real sessions from
// in-memory handshakes against a real server context: each user resumes with its own
// session only, TLS 1.3 tickets are offered once, TLS 1.2 sessions again and again.
#include "loadgen/tls_session_cache.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "tls/context.h"
#include "tls/selfsigned.h"
#include "tls/session.h"

namespace xmesh::loadgen {
namespace {

constexpr const char* kDomain = "localhost";

class TlsSessionCacheTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string tmpl = std::filesystem::temp_directory_path() / "xmesh-lg-tls-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(tls::generateSelfSigned(dir_ + "/c.pem", dir_ + "/c.key", {kDomain}, 1));
    tls::ServerOptions so;
    so.certChainFile = dir_ + "/c.pem";
    so.keyFile = dir_ + "/c.key";
    server_ = tls::TlsContext::server(so).value();
    client13_ = client(tls::TlsVersion::Tls13);
    client12_ = client(tls::TlsVersion::Tls12);
  }
  static void TearDownTestSuite() {
    server_.reset();
    client13_.reset();
    client12_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // The load generator's client context: no verification, no SNI cache.
  static tls::TlsContextPtr client(tls::TlsVersion max) {
    tls::ClientOptions co;
    co.insecureSkipVerify = true;
    co.sessionCacheSize = 0;
    co.maxVersion = max;
    return tls::TlsContext::client(co).value();
  }

  struct Login {
    bool resumed = false;
    bool offered = false;
  };

  // One connection of `user` as Connection does it: take, connectResuming, handshake,
  // store at close. Returns whether it resumed.
  static Login connect(TlsSessionCache& cache, uint32_t user, const tls::TlsContext& clientCtx) {
    Login login;
    bssl::UniquePtr<SSL_SESSION> offer = cache.take(user);
    login.offered = offer != nullptr;
    auto c = tls::TlsSession::connectResuming(clientCtx, kDomain, std::move(offer));
    auto s = tls::TlsSession::accept(*server_);
    EXPECT_TRUE(c.isOk() && s.isOk());
    if (!c.isOk() || !s.isOk()) return login;
    tls::TlsSession& cs = **c;
    tls::TlsSession& ss = **s;
    std::string plain;
    for (int round = 0; round < 10 && (cs.hasPendingCiphertext() || ss.hasPendingCiphertext());
         ++round) {
      std::string bytes = std::move(cs.pendingCiphertext());
      cs.pendingCiphertext().clear();
      EXPECT_TRUE(ss.feed(bytes, plain).isOk());
      bytes = std::move(ss.pendingCiphertext());
      ss.pendingCiphertext().clear();
      EXPECT_TRUE(cs.feed(bytes, plain).isOk());
    }
    EXPECT_TRUE(cs.handshakeDone());
    EXPECT_EQ(cs.resumed(), ss.resumed());
    login.resumed = ss.resumed();
    cache.store(user, cs.takeSession());
    return login;
  }

  static inline std::string dir_;
  static inline tls::TlsContextPtr server_, client13_, client12_;
};

TEST_F(TlsSessionCacheTest, EmptyAndOutOfRangeUsersGetNothing) {
  TlsSessionCache cache(100, 3);
  EXPECT_FALSE(cache.take(100));
  EXPECT_FALSE(cache.take(99));
  EXPECT_FALSE(cache.take(103));
  cache.store(103, nullptr);
  cache.store(99, nullptr);
  EXPECT_EQ(cache.held(), 0u);
}

// The reconnect storm the scenario measures: first logins are full handshakes, every
// later one of the same user resumes (TLS 1.3: with the fresh ticket of the previous).
TEST_F(TlsSessionCacheTest, ReconnectingUsersResumeTls13) {
  TlsSessionCache cache(1, 3);
  for (uint32_t u = 1; u <= 3; ++u) EXPECT_FALSE(connect(cache, u, *client13_).resumed);
  EXPECT_EQ(cache.held(), 3u);
  for (int round = 0; round < 2; ++round) {
    for (uint32_t u = 1; u <= 3; ++u) {
      Login l = connect(cache, u, *client13_);
      EXPECT_TRUE(l.offered);
      EXPECT_TRUE(l.resumed) << "user " << u << " round " << round;
    }
  }
  EXPECT_EQ(cache.held(), 3u);
}

// Pins that a TLS 1.3 ticket is offered once (RFC 8446 C.4): a second take() finds
// nothing until a connection stores its new ticket.
TEST_F(TlsSessionCacheTest, Tls13TicketIsOfferedOnce) {
  TlsSessionCache cache(1, 1);
  connect(cache, 1, *client13_);
  auto first = cache.take(1);
  ASSERT_TRUE(first);
  EXPECT_TRUE(SSL_SESSION_should_be_single_use(first.get()));
  EXPECT_FALSE(cache.take(1));
  EXPECT_EQ(cache.held(), 0u);
}

// TLS 1.2: the session stays after take(), and a resumed connection (which brings no
// new session) leaves it in place, so every reconnect resumes.
TEST_F(TlsSessionCacheTest, Tls12SessionIsOfferedAgainAndAgain) {
  TlsSessionCache cache(1, 1);
  EXPECT_FALSE(connect(cache, 1, *client12_).resumed);
  EXPECT_TRUE(cache.take(1));
  EXPECT_TRUE(cache.take(1));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(connect(cache, 1, *client12_).resumed) << i;
  EXPECT_EQ(cache.held(), 1u);
}

// Each simulated user is its own client: one user's session is never offered for
// another, so a user that has none does a full handshake.
TEST_F(TlsSessionCacheTest, UsersDoNotShareSessions) {
  TlsSessionCache cache(1, 2);
  connect(cache, 1, *client13_);
  EXPECT_FALSE(cache.take(2));
  Login second = connect(cache, 2, *client13_);
  EXPECT_FALSE(second.offered);
  EXPECT_FALSE(second.resumed);
  EXPECT_TRUE(connect(cache, 1, *client13_).resumed);
}

// A connection that got no session (it failed before the ticket came) must not wipe
// a TLS 1.2 session the user can still offer.
TEST_F(TlsSessionCacheTest, StoringNothingKeepsTheSession) {
  TlsSessionCache cache(1, 1);
  connect(cache, 1, *client12_);
  cache.store(1, nullptr);
  cache.store(1, bssl::UniquePtr<SSL_SESSION>(SSL_SESSION_new(client12_->native())));
  EXPECT_EQ(cache.held(), 1u);
  EXPECT_TRUE(connect(cache, 1, *client12_).resumed);
}

}  // namespace
}  // namespace xmesh::loadgen
