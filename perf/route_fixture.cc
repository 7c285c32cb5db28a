#include "perf/route_fixture.h"

#include <regex>
#include <stdexcept>

#include "sasl/credentials.h"
#include "sasl/scram.h"

namespace xmesh::perf {
namespace {
constexpr const char* kHeader =
    "<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
}

RouteFixture::RouteFixture() {
  env_.addUser("alice", "pw");
  env_.addUser("bob", "pw");
  a_ = std::make_unique<session::C2sSession>(env_, &ta_, false);
  b_ = std::make_unique<session::C2sSession>(env_, &tb_, false);
  login(*a_, ta_, "alice");
  login(*b_, tb_, "bob");
  // A typical chat message: ~200 bytes on the wire, as a client sends it.
  message_ =
      "<message to='bob@localhost' type='chat' id='a1b2c3d4-e5f6'>"
      "<body>Hello Bob, are we still on for the design review at three? I have the slides.</body>"
      "<active xmlns='http://jabber.org/protocol/chatstates'/></message>";
}

void RouteFixture::login(session::C2sSession& s, testing::FakeTransport& t, const std::string& user) {
  auto feed = [&](std::string_view b) {
    s.onBytes(b);
    env_.drain();
    return t.take();
  };
  feed(kHeader);
  feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  feed(kHeader);
  sasl::ScramClient c(sasl::HashAlg::Sha1, user, "pw");
  std::string r = feed("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>" +
                       sasl::base64Encode(c.clientFirst()) + "</auth>");
  std::smatch m;
  if (!std::regex_search(r, m, std::regex("<challenge[^>]*>([^<]*)</challenge>")))
    throw std::runtime_error("no challenge");
  auto final = c.receiveServerFirst(sasl::base64Decode(m[1].str()).value());
  r = feed("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + sasl::base64Encode(final.value()) +
           "</response>");
  if (r.find("<success") == std::string::npos) throw std::runtime_error("login failed");
  feed(kHeader);
  feed("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>");
  feed("<presence/>");
}

void RouteFixture::sendOne() {
  a_->onBytes(message_);
  delivered_ += tb_.out.size();
  tb_.out.clear();
}

}  // namespace xmesh::perf
