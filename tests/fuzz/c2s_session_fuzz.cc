// Fuzzes a whole c2s session, sans-IO: arbitrary client bytes after a valid stream
// header (and, when the input starts with 0x01, after a completed PLAIN login and
// bind), split at data-derived points. The session must never crash, and must answer
// anything it does not like with a stream or stanza error.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "sasl/credentials.h"
#include "session/c2s_session.h"
#include "tests/support/fake_env.h"

namespace {

constexpr const char* kHeader =
    "<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

xmesh::testing::FakeEnv& env() {
  static auto* e = [] {
    auto* x = new xmesh::testing::FakeEnv();
    x->addUser("alice", "pw");
    x->addUser("bob", "pw");
    return x;
  }();
  return *e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& e = env();
  xmesh::testing::FakeTransport t;
  auto s = std::make_unique<xmesh::session::C2sSession>(e, &t, false);
  auto feed = [&](std::string_view b) {
    s->onBytes(b);
    e.drain();
    t.out.clear();
  };
  feed(kHeader);
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (!in.empty() && in[0] == '\x01') {
    in.remove_prefix(1);
    feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    feed(kHeader);
    feed("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
         xmesh::sasl::base64Encode(std::string("\0alice\0pw", 9)) + "</auth>");
    feed(kHeader);
    feed("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
    feed("<presence/>");
  }
  // Split the rest in up to three pieces at data-derived points.
  size_t a = in.empty() ? 0 : static_cast<uint8_t>(in[0]) % (in.size() + 1);
  size_t b = in.size() < 2 ? a : a + static_cast<uint8_t>(in[1]) % (in.size() - a + 1);
  feed(in.substr(0, a));
  feed(in.substr(a, b - a));
  feed(in.substr(b));
  e.advance(1);
  (void)s->sweep(e.nowMs());
  s->onDisconnect();
  s.reset();
  e.drain();
  return 0;
}
