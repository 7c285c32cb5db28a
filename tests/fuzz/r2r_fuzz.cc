// libFuzzer target for the r2r link core: arbitrary peer bytes after a valid handshake.
// Input: one knob byte (feed chunk size), then the peer's bytes. Beyond "no crash" (and
// ASan/UBSan) it checks, on every input:
//  1. Delivered units carry consecutive sequence numbers (<m:void/> units the peer
//     withdrew take a number and are not delivered), and nothing is delivered after a
//     link error.
//  2. The link always recovers: after connectionClosed() (and a withdrawal of the routed
//     units still queued, which come back once each, in order, within the unacked range)
//     a fresh, valid resumption establishes and the next unit gets the next number.
//  3. The canonical-bytes scanner survives the raw input too.
// Seeds: tests/r2r/fuzz_corpus/. Run e.g.
//   build-fuzz/tests/fuzz/r2r_fuzz -max_total_time=60 tests/r2r/fuzz_corpus
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "r2r/link.h"
#include "r2r/wire.h"

namespace {

using namespace xmesh::r2r;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "property violated: %s\n", what);
  std::abort();
}

class Events final : public Link::Events {
 public:
  xmesh::Status checkPeer(const PeerHello&) override { return xmesh::Status::ok(); }
  void onEstablished(const PeerHello&) override { ++established; }
  void onUnit(Unit&& unit) override {
    check(errors == 0, "unit delivered after an error");
    const uint64_t voids = link->stats().voidsReceived;
    check(unit.seq == lastSeq + 1 + (voids - voidsSeen), "sequence numbers not consecutive");
    voidsSeen = voids;
    lastSeq = unit.seq;
    (void)unit.attr("n");
  }
  void onLinkError(const xmesh::Error& error) override {
    check(!error.reason.empty(), "empty error reason");
    ++errors;
  }
  void onDead() override {}
  const Link* link = nullptr;
  uint64_t lastSeq = 0, voidsSeen = 0;
  int errors = 0, established = 0;
};

const std::string kHeader =
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
    " xmlns:m='urn:xmesh:r2r:0' from='b' to='a' version='1.0'>";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t chunk = 1 + data[0] % 64;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  LinkConfig config;
  config.selfNode = "a";
  config.selfCluster = "c1";
  config.peerNode = "b";
  config.epoch = "ea";
  config.maxUnitBytes = 16 * 1024;
  Events events;
  Link link(config, events);
  events.link = &link;
  link.connectionOpened(0);
  for (int i = 0; i < 3; ++i) (void)link.sendStanza("<message to='x@d'><body>q</body></message>");
  link.feed(
      kHeader + "<m:hello node='b' cluster='c1' version='1' epoch='eb' h='0'/><m:start after='0'/>",
      0);
  check(link.state() == LinkState::Established, "handshake failed");

  for (size_t i = 0; i < input.size(); i += chunk) link.feed(input.substr(i, chunk), 1);
  link.onTick(2);
  link.output().clear();

  // Recovery: a clean reconnect from the same peer incarnation picks up where it was.
  const uint64_t received = link.receivedSeq();
  const uint64_t acked = link.ackedSeq();
  link.connectionClosed();
  uint64_t last = acked;
  for (const WithdrawnUnit& w : link.withdrawRouted([](UnitKind, std::string_view) { return true; })) {
    check(w.seq > last && w.seq <= link.sentSeq(), "withdrawn unit out of the unacked range or order");
    last = w.seq;
  }
  check(link.withdrawRouted([](UnitKind, std::string_view) { return true; }).empty(), "unit withdrawn twice");
  events.errors = 0;
  link.connectionOpened(10);
  link.feed(kHeader + "<m:hello node='b' cluster='c1' version='1' epoch='eb' peer-epoch='ea' h='" +
                std::to_string(acked) + "'/><m:start after='" + std::to_string(received) + "'/>" +
                "<message from='y@d' to='x@d'/>",
            10);
  check(link.state() == LinkState::Established, "no recovery after reconnect");
  check(link.receivedSeq() == received + 1, "unit after reconnect not delivered once");

  // The scanner is only ever given parser output, but must not trust it blindly.
  (void)wire::scanElement(input);
  (void)wire::stanzaFromCanonical(input);
  return 0;
}
