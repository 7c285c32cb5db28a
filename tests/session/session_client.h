// A sans-IO c2s client for session tests: drives one C2sSession over a FakeTransport
// inside a FakeEnv (bytes in, the server's bytes out, store jobs drained after each
// feed).
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <regex>
#include <string>

#include "sasl/credentials.h"
#include "sasl/scram.h"
#include "tests/support/fake_env.h"

namespace xmesh::testing {

inline constexpr const char* kHeader =
    "<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

class Client {
 public:
  explicit Client(FakeEnv& env, std::string peer = "192.0.2.7") : env_(env) {
    t_.peer = std::move(peer);
    s_ = std::make_unique<session::C2sSession>(env_, &t_, false);
  }
  std::string feed(std::string_view bytes) {
    s_->onBytes(bytes);
    env_.drain();
    return t_.take();
  }
  std::string toTls() {
    feed(kHeader);
    std::string r = feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    EXPECT_NE(r.find("<proceed"), std::string::npos);
    return feed(kHeader);
  }
  // Returns the server's reply to the final SCRAM step ("<success" or "<failure").
  std::string scram(const std::string& user, const std::string& pw, sasl::HashAlg alg = sasl::HashAlg::Sha1) {
    sasl::ScramClient c(alg, user, pw);
    std::string mech = alg == sasl::HashAlg::Sha1 ? "SCRAM-SHA-1" : "SCRAM-SHA-256";
    std::string r = feed("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='" + mech + "'>" +
                         sasl::base64Encode(c.clientFirst()) + "</auth>");
    std::smatch m;
    if (!std::regex_search(r, m, std::regex("<challenge[^>]*>([^<]*)</challenge>"))) return r;
    auto first = sasl::base64Decode(m[1].str());
    auto final = c.receiveServerFirst(first.value());
    if (!final.isOk()) return "client-rejected-server-first";
    return feed("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + sasl::base64Encode(final.value()) +
                "</response>");
  }
  void login(const std::string& user, const std::string& pw, const std::string& resource = "r") {
    toTls();
    ASSERT_NE(scram(user, pw).find("<success"), std::string::npos);
    feed(kHeader);
    std::string r = feed("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" +
                         resource + "</resource></bind></iq>");
    ASSERT_NE(r.find("<jid>"), std::string::npos) << r;
  }
  session::C2sSession& session() { return *s_; }
  FakeTransport& transport() { return t_; }
  std::string take() {
    env_.drain();
    return t_.take();
  }

 private:
  FakeEnv& env_;
  FakeTransport t_;
  std::unique_ptr<session::C2sSession> s_;
};

inline bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }


}  // namespace xmesh::testing
