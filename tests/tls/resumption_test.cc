// Session resumption on the server: tickets are issued for TLS 1.3 and TLS 1.2, a
// reconnect with one resumes, and the chain goes on (a resumed TLS 1.3 connection gets a
// fresh single-use ticket; a TLS 1.2 session is reused). Also caller-managed resumption
// (TlsSession::connectResuming), which the load generator's per-user cache is built on.
// Cost per handshake of each case: perf/tls_handshake_cost.sh.
#include <gtest/gtest.h>

#include <string>

#include "tests/tls/test_certs.h"
#include "tls/context.h"
#include "tls/session.h"

namespace xmesh::tls::test {
namespace {

std::shared_ptr<TlsContext> server(ServerOptions o = serverOptions()) {
  auto r = TlsContext::server(o);
  EXPECT_TRUE(r.isOk()) << r.error().detail;
  return r ? r.value() : nullptr;
}

std::shared_ptr<TlsContext> client(TlsVersion max, size_t cacheSize = 1024) {
  ClientOptions o = clientOptions();
  o.maxVersion = max;
  o.sessionCacheSize = cacheSize;
  auto r = TlsContext::client(o);
  EXPECT_TRUE(r.isOk()) << r.error().detail;
  return r ? r.value() : nullptr;
}

// Handshakes over the SNI cache; returns whether both sides saw a resumption.
bool reconnect(const TlsContext& clientCtx, const TlsContext& serverCtx,
               std::string_view version) {
  Pair p = makePair(clientCtx, serverCtx);
  auto r = p.pump();
  EXPECT_TRUE(r.ok()) << r.client.error().detail << " / " << r.server.error().detail;
  EXPECT_EQ(p.server->version(), version);
  EXPECT_EQ(p.client->resumed(), p.server->resumed());
  return p.server->resumed();
}

class ResumptionTest : public ::testing::TestWithParam<TlsVersion> {
 protected:
  std::string_view version() const {
    return GetParam() == TlsVersion::Tls13 ? "TLSv1.3" : "TLSv1.2";
  }
};

INSTANTIATE_TEST_SUITE_P(Versions, ResumptionTest,
                         ::testing::Values(TlsVersion::Tls13, TlsVersion::Tls12),
                         [](const auto& param) {
                           return param.param == TlsVersion::Tls13 ? "Tls13" : "Tls12";
                         });

// Pins that the default server issues tickets for both versions (TLS 1.2 without a
// server-side cache: the ticket carries the state) and that every reconnect resumes:
// TLS 1.3 tickets are single-use, so this also pins the fresh ticket on resumption.
TEST_P(ResumptionTest, EveryReconnectResumes) {
  auto s = server();
  auto c = client(GetParam());
  EXPECT_FALSE(reconnect(*c, *s, version()));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(reconnect(*c, *s, version())) << "reconnect " << i;
}

// A restarted node, or another node of the mesh, has other ticket keys: the client's
// ticket is declined and the handshake is a full one, never a failure.
TEST_P(ResumptionTest, TicketFromAnotherServerFallsBackToFullHandshake) {
  auto first = server();
  auto other = server();
  auto c = client(GetParam());
  EXPECT_FALSE(reconnect(*c, *first, version()));
  EXPECT_FALSE(reconnect(*c, *other, version()));
  EXPECT_TRUE(reconnect(*c, *other, version()));  // and the new ticket works there
}

// Nodes given the same ticket key secret (tls.ticket_key_file): a ticket from one
// resumes on the other, as a client failing over to its node's redundancy peer needs.
TEST_P(ResumptionTest, TicketFromAServerWithTheSameSecretResumes) {
  ServerOptions o = serverOptions();
  o.ticketKeySecret = std::string(32, 'k');
  auto first = server(o);
  auto peer = server(o);
  ServerOptions other = serverOptions();
  other.ticketKeySecret = std::string(32, 'x');
  auto stranger = server(other);
  auto c = client(GetParam());
  EXPECT_FALSE(reconnect(*c, *first, version()));
  EXPECT_TRUE(reconnect(*c, *peer, version())) << "the peer opens the first node's ticket";
  EXPECT_TRUE(reconnect(*c, *first, version())) << "and its ticket opens on the first";
  EXPECT_FALSE(reconnect(*c, *stranger, version())) << "another secret: a full handshake, not a failure";
}

TEST(SharedTicketKeysTest, ASecretShorterThan32BytesIsRefused) {
  ServerOptions o = serverOptions();
  o.ticketKeySecret = std::string(31, 'k');
  auto r = TlsContext::server(o);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.error().detail.find("32 bytes"), std::string::npos) << r.error().detail;
}

// Keys rotate every 12 h with no coordination: a ticket opens in its own period and the
// next (renewed there), and no longer once two periods have passed.
TEST(SharedTicketKeysTest, TicketsOpenForOneMorePeriodThenNoLonger) {
  int64_t now = 1'000 * SharedTicketKeys::kPeriodSeconds + 5;
  SharedTicketKeys keys(std::string(40, 's'), [&now] { return now; });
  auto s = server();
  keys.install(s->native());
  auto c = client(TlsVersion::Tls13);
  EXPECT_FALSE(reconnect(*c, *s, "TLSv1.3"));
  now += SharedTicketKeys::kPeriodSeconds;  // the next period: opens, and a fresh ticket
  EXPECT_TRUE(reconnect(*c, *s, "TLSv1.3"));
  now += 2 * SharedTicketKeys::kPeriodSeconds;  // that fresh ticket is two periods old now
  EXPECT_FALSE(reconnect(*c, *s, "TLSv1.3"));
  EXPECT_TRUE(reconnect(*c, *s, "TLSv1.3"));
}

TEST_P(ResumptionTest, TicketsOffMeansFullHandshakes) {
  ServerOptions o = serverOptions();
  o.sessionTickets = false;
  auto s = server(o);
  auto c = client(GetParam());
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(reconnect(*c, *s, version()));
}

// connectResuming: the caller offers a session and collects the new one; the context's
// SNI cache is neither read nor filled.
TEST_P(ResumptionTest, CallerManagedSessionResumes) {
  auto s = server();
  auto c = client(GetParam());
  bool tls13 = GetParam() == TlsVersion::Tls13;
  bssl::UniquePtr<SSL_SESSION> kept;
  for (int i = 0; i < 3; ++i) {
    // What a caller's cache does: a single-use (TLS 1.3) session is handed over, a
    // TLS 1.2 one is shared.
    bssl::UniquePtr<SSL_SESSION> offer;
    if (kept && SSL_SESSION_should_be_single_use(kept.get())) {
      offer = std::move(kept);
    } else if (kept) {
      SSL_SESSION_up_ref(kept.get());
      offer.reset(kept.get());
    }
    auto cs = TlsSession::connectResuming(*c, kServerName, std::move(offer));
    ASSERT_TRUE(cs.isOk()) << cs.error().detail;
    auto ss = TlsSession::accept(*s);
    ASSERT_TRUE(ss.isOk());
    Pair p;
    p.client = std::move(cs.value());
    p.server = std::move(ss.value());
    ASSERT_TRUE(p.pump().ok());
    EXPECT_EQ(p.server->resumed(), i > 0) << "connection " << i;
    EXPECT_TRUE(p.client->peerVerified());
    bssl::UniquePtr<SSL_SESSION> fresh = p.client->takeSession();
    // TLS 1.3: a fresh single-use ticket every time. TLS 1.2: a session from the full
    // handshake, which resumptions keep using (no new one).
    EXPECT_EQ(static_cast<bool>(fresh), tls13 || i == 0) << "connection " << i;
    if (fresh) {
      EXPECT_EQ(SSL_SESSION_should_be_single_use(fresh.get()) == 1, tls13);
      kept = std::move(fresh);
    }
  }
  // The SNI cache saw nothing: a plain connect is a full handshake.
  EXPECT_FALSE(reconnect(*c, *s, version()));
}

TEST(CallerManagedResumptionTest, NullSessionIsAFullHandshake) {
  auto s = server();
  auto c = client(TlsVersion::Tls13, /*cacheSize=*/0);
  auto cs = TlsSession::connectResuming(*c, kServerName, nullptr);
  ASSERT_TRUE(cs.isOk());
  Pair p;
  p.client = std::move(cs.value());
  p.server = std::move(TlsSession::accept(*s).value());
  ASSERT_TRUE(p.pump().ok());
  EXPECT_FALSE(p.server->resumed());
  // The ticket arrives with the server's last flight (flushed by a zero-byte write).
  EXPECT_TRUE(p.client->takeSession());
  EXPECT_FALSE(p.client->takeSession());  // moved out
}

}  // namespace
}  // namespace xmesh::tls::test
