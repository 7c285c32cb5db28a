// Heap held by idle established sessions. A c2s node keeps hundreds of thousands of
// mostly idle TLS connections, so this is the number that sizes a node: BoringSSL must
// have released its record buffers and shed its handshake configuration, and our
// custom BIO must hold nothing. Measured as live heap bytes (glibc mallinfo2, or the
// sanitizer allocator's count under ASan) across many sessions.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "tests/tls/test_certs.h"
#include "tls/session.h"

#if defined(__SANITIZE_ADDRESS__)
#define XMESH_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XMESH_TEST_ASAN 1
#endif
#endif
#ifdef XMESH_TEST_ASAN
// From <sanitizer/allocator_interface.h>, which GCC does not install; libasan (GCC and
// clang) exports it. mallinfo2 sees nothing under ASan: it replaces malloc.
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace xmesh::tls::test {
namespace {

constexpr int kSessions = 1000;

size_t heapInUse() {
#ifdef XMESH_TEST_ASAN
  return __sanitizer_get_current_allocated_bytes();
#else
  struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
#endif
}

enum class Keep { Server, Client };

// Establishes kSessions connections, exchanges a stanza each way (so the data path
// has allocated and released its buffers), keeps one side and frees the other; returns
// the heap growth per kept session.
double idleBytesPerSession(const TlsContext& clientCtx, const TlsContext& serverCtx,
                           Keep keep) {
  std::vector<std::unique_ptr<TlsSession>> kept;
  kept.reserve(kSessions);
  // Warm-up: one-time allocations (BIO method, ex_data indices, ticket keys, error
  // strings) must not be charged to the sessions.
  for (int i = 0; i < 2; ++i) {
    Pair p = makePair(clientCtx, serverCtx);
    EXPECT_TRUE(p.pump().ok());
  }
  size_t before = heapInUse();
  for (int i = 0; i < kSessions; ++i) {
    Pair p = makePair(clientCtx, serverCtx);
    auto r = p.pump();
    EXPECT_TRUE(r.ok()) << r.client.error().detail << " / " << r.server.error().detail;
    EXPECT_TRUE(p.client->write("<message to='a@example.org'><body>hi</body></message>"));
    EXPECT_TRUE(p.server->write("<message to='b@example.org'><body>yo</body></message>"));
    EXPECT_TRUE(p.pump().ok());
    EXPECT_FALSE(p.client->hasPendingCiphertext());
    EXPECT_FALSE(p.server->hasPendingCiphertext());
    kept.push_back(std::move(keep == Keep::Server ? p.server : p.client));
    if (::testing::Test::HasFailure()) break;
  }
  size_t after = heapInUse();
  return after > before ? static_cast<double>(after - before) / kSessions : 0.0;
}

std::shared_ptr<TlsContext> server(const ServerOptions& o) {
  auto r = TlsContext::server(o);
  EXPECT_TRUE(r.isOk()) << r.error().detail;
  return r.value();
}

std::shared_ptr<TlsContext> client(ClientOptions o) {
  o.sessionCacheSize = 0;  // the cache would be charged to the sessions
  auto r = TlsContext::client(o);
  EXPECT_TRUE(r.isOk()) << r.error().detail;
  return r.value();
}

TEST(TlsMemoryTest, IdleEstablishedServerSessionIsSmall) {
  auto s = server(serverOptions());
  auto c = client(clientOptions());
  double bytes = idleBytesPerSession(*c, *s, Keep::Server);
  std::printf("idle established server session (TLS 1.3): %.0f bytes of heap\n", bytes);
  RecordProperty("idle_server_session_bytes", static_cast<int>(bytes));
  EXPECT_GT(bytes, 0.0);
  EXPECT_LT(bytes, 12 * 1024);
}

TEST(TlsMemoryTest, IdleTls12ServerSessionIsSmall) {
  auto s = server(serverOptions());
  ClientOptions co = clientOptions();
  co.maxVersion = TlsVersion::Tls12;
  auto c = client(co);
  double bytes = idleBytesPerSession(*c, *s, Keep::Server);
  std::printf("idle established server session (TLS 1.2): %.0f bytes of heap\n", bytes);
  EXPECT_LT(bytes, 12 * 1024);
}

TEST(TlsMemoryTest, IdleMutualTlsServerSessionIsSmall) {
  // r2r: the server also holds the verified client certificate.
  ServerOptions so = serverOptions();
  so.caFile = testCerts().caCert;
  so.requireClientCert = true;
  auto s = server(so);
  ClientOptions co = clientOptions();
  co.certChainFile = testCerts().clientCert;
  co.keyFile = testCerts().clientKey;
  auto c = client(co);
  double bytes = idleBytesPerSession(*c, *s, Keep::Server);
  std::printf("idle established mutual-TLS server session: %.0f bytes of heap\n", bytes);
  EXPECT_LT(bytes, 16 * 1024);
}

TEST(TlsMemoryTest, IdleClientSessionIsSmall) {
  // loadgen keeps many client sessions.
  auto s = server(serverOptions());
  auto c = client(clientOptions());
  double bytes = idleBytesPerSession(*c, *s, Keep::Client);
  std::printf("idle established client session (TLS 1.3): %.0f bytes of heap\n", bytes);
  EXPECT_LT(bytes, 16 * 1024);
}

}  // namespace
}  // namespace xmesh::tls::test
