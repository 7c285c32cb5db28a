// Microbenchmarks of the hot paths. Absolute times on a shared machine are noisy:
// compare ratios from one run, and use perf/check (instruction counts) for CI.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "perf/route_fixture.h"
#include "router/spsc_queue.h"
#include "sasl/credentials.h"
#include "sasl/scram.h"
#include "tls/context.h"
#include "tls/selfsigned.h"
#include "tls/session.h"
#include "xml/stream_parser.h"

namespace {

class CountingHandler : public xmesh::xml::StreamHandler {
 public:
  void onStreamOpen(const xmesh::xml::StreamHeader&) override {}
  void onStanza(xmesh::xml::Stanza&& s) override { bytes += s.bytes.size(); }
  void onStreamClose() override {}
  void onStreamError(xmesh::xml::StreamError, std::string_view) override { failed = true; }
  size_t bytes = 0;
  bool failed = false;
};

// Parse only: one 200-byte message stanza through the Expat stream layer.
void BM_ParseMessage(benchmark::State& state) {
  xmesh::perf::RouteFixture f;  // for the message text only
  CountingHandler h;
  xmesh::xml::StreamParser p(h, {});
  p.feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>");
  for (auto _ : state) p.feed(f.message());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.message().size()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseMessage);

// Parse + route: the full c2s path of one message, from bytes in to bytes queued for
// the recipient (from check, JID prep, from stamping, directory lookup, delivery).
void BM_ParseAndRouteMessage(benchmark::State& state) {
  xmesh::perf::RouteFixture f;
  for (auto _ : state) f.sendOne();
  state.SetItemsProcessed(state.iterations());
  state.counters["delivered_bytes_per_msg"] =
      static_cast<double>(f.deliveredBytes()) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_ParseAndRouteMessage);

void BM_SpscPushDrain(benchmark::State& state) {
  xmesh::router::SpscQueue<uint64_t> q(1024);
  uint64_t sink = 0;
  for (auto _ : state) {
    for (uint64_t i = 0; i < 64; ++i) {
      uint64_t v = i;
      (void)q.tryPush(v);
    }
    q.drain([&](uint64_t&& v) { sink += v; });
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_SpscPushDrain);

// Server side of one SCRAM-SHA-1 exchange with stored keys (no PBKDF2 on the server).
void BM_ScramServerExchange(benchmark::State& state) {
  auto creds = xmesh::sasl::deriveCredentials(xmesh::sasl::HashAlg::Sha1, "pw", "salt-salt-salt!!", 4096);
  // The client's PBKDF2 is cached (as the load generator does): only the exchange is timed.
  const std::string salted =
      xmesh::sasl::saltedPassword(xmesh::sasl::HashAlg::Sha1, "pw", "salt-salt-salt!!", 4096);
  for (auto _ : state) {
    xmesh::sasl::ScramClient c(xmesh::sasl::HashAlg::Sha1, "alice", "pw");
    c.setSaltedPasswordCache(salted, "salt-salt-salt!!", 4096);
    xmesh::sasl::ScramServer s(xmesh::sasl::HashAlg::Sha1);
    auto user = s.receiveClientFirst(c.clientFirst());
    auto sf = s.makeServerFirst(&creds);
    auto cf = c.receiveServerFirst(sf);
    auto fin = s.receiveClientFinal(cf.value());
    benchmark::DoNotOptimize(fin);
  }
}
BENCHMARK(BM_ScramServerExchange);

// TLS record protection of a 200-byte stanza, coalesced 16 per record as the connection
// flushes them once per loop iteration.
void BM_TlsWrite16Messages(benchmark::State& state) {
  std::string dir = "/tmp/xmesh-bench-tls";
  std::filesystem::create_directories(dir);
  (void)xmesh::tls::generateSelfSigned(dir + "/c.pem", dir + "/k.pem", {"localhost"}, 1);
  xmesh::tls::ServerOptions so;
  so.certChainFile = dir + "/c.pem";
  so.keyFile = dir + "/k.pem";
  auto sctx = xmesh::tls::TlsContext::server(so).value();
  xmesh::tls::ClientOptions co;
  co.insecureSkipVerify = true;
  auto cctx = xmesh::tls::TlsContext::client(co).value();
  auto srv = std::move(xmesh::tls::TlsSession::accept(*sctx).value());
  auto cli = std::move(xmesh::tls::TlsSession::connect(*cctx, "localhost").value());
  std::string plain;
  for (int i = 0; i < 10 && !(srv->handshakeDone() && cli->handshakeDone()); ++i) {
    std::string a;
    a.swap(cli->pendingCiphertext());
    (void)srv->feed(a, plain);
    std::string b;
    b.swap(srv->pendingCiphertext());
    (void)cli->feed(b, plain);
  }
  std::string batch;
  for (int i = 0; i < 16; ++i) batch += std::string(200, 'm');
  for (auto _ : state) {
    (void)srv->write(batch);
    std::string out;
    out.swap(srv->pendingCiphertext());
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * 16);
}
BENCHMARK(BM_TlsWrite16Messages);

}  // namespace

BENCHMARK_MAIN();
