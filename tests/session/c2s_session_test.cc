// The c2s session driven sans-IO: bytes in, bytes out, a fake transport (STARTTLS flips
// a flag) and a fake env whose store is a real SQLite file. Each test names the
// behaviour or the attack it pins down.
#include <gtest/gtest.h>

#include <regex>

#include "sasl/credentials.h"
#include "sasl/scram.h"
#include "tests/session/session_client.h"
#include "tests/support/fake_env.h"

namespace xmesh::testing {
namespace {

class C2sSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.addUser("alice", "secret");
    env_.addUser("bob", "secret");
  }
  FakeEnv env_;
};

TEST_F(C2sSessionTest, FeaturesBeforeTlsOfferOnlyStartTls) {
  Client c(env_);
  std::string r = c.feed(kHeader);
  EXPECT_TRUE(has(r, "<stream:stream"));
  EXPECT_TRUE(has(r, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"));
  EXPECT_FALSE(has(r, "<mechanisms"));
  EXPECT_FALSE(has(r, "PLAIN"));
}

TEST_F(C2sSessionTest, PlainOfferedOnlyInsideTls) {
  Client c(env_);
  std::string r = c.toTls();
  EXPECT_TRUE(has(r, "<mechanism>PLAIN</mechanism>"));
  EXPECT_TRUE(has(r, "<mechanism>SCRAM-SHA-256</mechanism>"));
  EXPECT_FALSE(has(r, "<starttls"));
}

TEST_F(C2sSessionTest, SaslBeforeStartTlsIsPolicyViolation) {
  Client c(env_);
  c.feed(kHeader);
  std::string r = c.feed("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>");
  EXPECT_TRUE(has(r, "<policy-violation")) << r;
  EXPECT_TRUE(c.transport().closed);
}

TEST_F(C2sSessionTest, ScramSha1LoginAndBind) {
  Client c(env_);
  c.login("alice", "secret");
  EXPECT_EQ(c.session().jid().full(), "alice@localhost/r");
  EXPECT_EQ(c.session().state(), session::SessionState::Active);
}

TEST_F(C2sSessionTest, ScramSha256Login) {
  Client c(env_);
  c.toTls();
  EXPECT_TRUE(has(c.scram("bob", "secret", sasl::HashAlg::Sha256), "<success"));
}

TEST_F(C2sSessionTest, PlainLoginInsideTls) {
  Client c(env_);
  c.toTls();
  std::string r = c.feed("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
                         sasl::base64Encode(std::string("\0alice\0secret", 13)) + "</auth>");
  EXPECT_TRUE(has(r, "<success")) << r;
}

TEST_F(C2sSessionTest, WrongPasswordIsNotAuthorizedThenTooManyAttemptsClose) {
  Client c(env_);
  c.toTls();
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(has(c.scram("alice", "wrong"), "<not-authorized/>"));
  EXPECT_FALSE(c.transport().closed);
  std::string r = c.scram("alice", "wrong");
  EXPECT_TRUE(has(r, "<not-authorized/>"));
  EXPECT_TRUE(has(r, "<policy-violation")) << "5th failure must end the stream";
  EXPECT_TRUE(c.transport().closed);
  EXPECT_EQ(env_.stats_.authFailure.load(), 5u);
}

TEST_F(C2sSessionTest, UnknownUserFailsLikeAWrongPassword) {
  Client c(env_);
  c.toTls();
  std::string r = c.scram("nobody", "secret");
  EXPECT_TRUE(has(r, "<not-authorized/>")) << r;
}

TEST_F(C2sSessionTest, PerAddressBackoffRefusesEvenTheRightPassword) {
  NodeConfig cfg = FakeEnv::defaultConfig();
  cfg.limits.authFailuresBeforeBackoff = 2;
  cfg.limits.authBackoffSeconds = 60;
  FakeEnv env(cfg);
  env.addUser("alice", "secret");
  {
    Client c(env, "198.51.100.1");
    c.toTls();
    c.scram("alice", "wrong");
    c.scram("alice", "wrong");
  }
  Client c(env, "198.51.100.1");
  c.toTls();
  std::string r = c.scram("alice", "secret");
  EXPECT_TRUE(has(r, "<temporary-auth-failure/>")) << r;
  Client other(env, "198.51.100.2");
  other.toTls();
  EXPECT_TRUE(has(other.scram("alice", "secret"), "<success")) << "another address is not throttled";
  env.advance(61'000);
  Client later(env, "198.51.100.1");
  later.toTls();
  EXPECT_TRUE(has(later.scram("alice", "secret"), "<success")) << "back-off window passed";
}

TEST_F(C2sSessionTest, StoreBusyGivesTemporaryAuthFailure) {
  Client c(env_);
  c.toTls();
  env_.storeAvailable = false;
  std::string r = c.scram("alice", "secret");
  EXPECT_TRUE(has(r, "<temporary-auth-failure/>")) << r;
}

TEST_F(C2sSessionTest, UserHomedElsewhereGetsSeeOtherHostAfterAuth) {
  ASSERT_TRUE(env_.store().setHomeNode("alice", "n2").isOk());
  ASSERT_TRUE(env_.store().setHomeNode("bob", "n1").isOk());
  env_.redirects["n2"] = "127.0.0.9:5222";  // n1 is this node: no redirect for it
  Client a(env_);
  a.toTls();
  std::string r = a.scram("alice", "secret");
  EXPECT_TRUE(has(r, "<see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>127.0.0.9:5222</see-other-host>")) << r;
  EXPECT_FALSE(has(r, "<success"));
  EXPECT_TRUE(a.transport().closed);
  Client b(env_);
  b.toTls();
  EXPECT_TRUE(has(b.scram("bob", "secret"), "<success")) << "a user homed here is served here";
  Client wrong(env_);
  wrong.toTls();
  std::string w = wrong.scram("alice", "not-her-password");
  EXPECT_TRUE(has(w, "<not-authorized/>")) << "no redirect before authentication: " << w;
}

TEST_F(C2sSessionTest, ResumeNamingANonexistentLoopFailsCleanly) {
  Client c(env_);
  c.toTls();
  ASSERT_TRUE(has(c.scram("alice", "secret"), "<success"));
  c.feed(kHeader);
  std::string r = c.feed("<resume xmlns='urn:xmpp:sm:3' previd='999.1.abc' h='0'/>");
  EXPECT_TRUE(has(r, "<failed") && has(r, "item-not-found")) << r;
  EXPECT_FALSE(c.transport().closed);
}

TEST_F(C2sSessionTest, ResourceConflictAtTheLengthLimitStaysValid) {
  std::string longRes(1023, 'r');
  Client a(env_), b(env_);
  a.login("alice", "secret", longRes);
  b.toTls();
  ASSERT_TRUE(has(b.scram("alice", "secret"), "<success"));
  b.feed(kHeader);
  std::string r = b.feed("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" +
                         longRes + "</resource></bind></iq>");
  ASSERT_TRUE(has(r, "<jid>")) << r.substr(0, 200);
  EXPECT_NE(b.session().jid().resource(), longRes);
  EXPECT_LE(b.session().jid().resource().size(), 1023u);
}

TEST_F(C2sSessionTest, DirectedPresenceRecipientGetsUnavailableAtClose) {
  Client b(env_);
  b.login("bob", "secret", "desk");
  b.feed("<presence/>");
  b.take();
  {
    Client a(env_);
    a.login("alice", "secret");
    // Alice never broadcasts presence; she only tells bob's resource she is there.
    a.feed("<presence to='bob@localhost/desk'/>");
    EXPECT_TRUE(has(b.take(), "from='alice@localhost/r'"));
    a.session().onDisconnect();
  }
  std::string r = b.take();
  EXPECT_TRUE(has(r, "type='unavailable'") && has(r, "from='alice@localhost/r'")) << r;
}

TEST_F(C2sSessionTest, StanzaBeforeBindIsRefused) {
  Client c(env_);
  c.toTls();
  c.scram("alice", "secret");
  c.feed(kHeader);
  std::string r = c.feed("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>");
  EXPECT_TRUE(has(r, "<not-authorized")) << r;
}

TEST_F(C2sSessionTest, SpoofedFromIsInvalidFrom) {
  Client c(env_);
  c.login("alice", "secret");
  std::string r = c.feed("<message from='bob@localhost/x' to='bob@localhost'><body>hi</body></message>");
  EXPECT_TRUE(has(r, "<invalid-from")) << r;
  EXPECT_TRUE(c.transport().closed);
}

TEST_F(C2sSessionTest, OwnFromIsAccepted) {
  Client a(env_);
  a.login("alice", "secret");
  std::string r = a.feed("<message from='alice@localhost/r' to='alice@localhost/r'><body>self</body></message>");
  EXPECT_TRUE(has(r, "<body>self</body>")) << r;
}

TEST_F(C2sSessionTest, BadToIsJidMalformedAndSessionContinues) {
  Client c(env_);
  c.login("alice", "secret");
  std::string r = c.feed("<message to='a@b@c' id='m1'><body>x</body></message>");
  EXPECT_TRUE(has(r, "<jid-malformed")) << r;
  EXPECT_FALSE(c.transport().closed);
  r = c.feed("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>");
  EXPECT_TRUE(has(r, "type='result'")) << r;
}

TEST_F(C2sSessionTest, UnknownIqNamespaceIsServiceUnavailable) {
  Client c(env_);
  c.login("alice", "secret");
  std::string r = c.feed("<iq type='get' id='q'><query xmlns='urn:example:nothing'/></iq>");
  EXPECT_TRUE(has(r, "<service-unavailable")) << r;
}

TEST_F(C2sSessionTest, DiscoInfoListsFeatures) {
  Client c(env_);
  c.login("alice", "secret");
  std::string r = c.feed("<iq type='get' id='d' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  EXPECT_TRUE(has(r, "urn:xmpp:ping"));
  EXPECT_TRUE(has(r, "urn:xmpp:sm:3"));
  EXPECT_TRUE(has(r, "category='server'"));
}

TEST_F(C2sSessionTest, LegacySessionIqIsAccepted) {
  Client c(env_);
  c.login("alice", "secret");
  std::string r = c.feed("<iq type='set' id='s'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
  EXPECT_TRUE(has(r, "type='result'") && has(r, "id='s'")) << r;
}

TEST_F(C2sSessionTest, MessagesToBareAndFullJid) {
  Client a(env_), b(env_);
  a.login("alice", "secret");
  b.login("bob", "secret", "desk");
  a.feed("<presence/>");
  b.feed("<presence/>");
  b.take();
  a.feed("<message to='bob@localhost' type='chat'><body>bare</body></message>");
  std::string r = b.take();
  EXPECT_TRUE(has(r, "from='alice@localhost/r'")) << r;
  EXPECT_TRUE(has(r, "<body>bare</body>"));
  a.feed("<message to='bob@localhost/desk' type='chat'><body>full</body></message>");
  EXPECT_TRUE(has(b.take(), "<body>full</body>"));
}

TEST_F(C2sSessionTest, MessageToUnknownUserBouncesServiceUnavailable) {
  Client a(env_);
  a.login("alice", "secret");
  std::string r = a.feed("<message to='ghost@localhost' id='g'><body>x</body></message>");
  EXPECT_TRUE(has(r, "<service-unavailable")) << r;
  EXPECT_TRUE(has(r, "id='g'"));
}

TEST_F(C2sSessionTest, MessageToOtherDomainIsRemoteServerNotFound) {
  Client a(env_);
  a.login("alice", "secret");
  std::string r = a.feed("<message to='x@elsewhere.example' id='o'><body>x</body></message>");
  EXPECT_TRUE(has(r, "<remote-server-not-found")) << r;
}

TEST_F(C2sSessionTest, OfflineMessageStoredAndDeliveredWithDelay) {
  Client a(env_);
  a.login("alice", "secret");
  a.feed("<message to='bob@localhost' type='chat'><body>later</body></message>");
  Client b(env_);
  b.login("bob", "secret");
  std::string r = b.feed("<presence/>");
  EXPECT_TRUE(has(r, "<body>later</body>")) << r;
  EXPECT_TRUE(has(r, "urn:xmpp:delay"));
  auto left = env_.store().peekOffline("bob", 10);
  EXPECT_TRUE(left->empty()) << "delivered without SM: deleted after the write";
}

TEST_F(C2sSessionTest, RosterSetPushesAndGetReturnsItem) {
  Client a(env_);
  a.login("alice", "secret");
  a.feed("<iq type='get' id='g1'><query xmlns='jabber:iq:roster'/></iq>");
  std::string r = a.feed("<iq type='set' id='s1'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bob'><group>Friends</group></item></query></iq>");
  EXPECT_TRUE(has(r, "type='set'") && has(r, "jid='bob@localhost'")) << "roster push: " << r;
  EXPECT_TRUE(has(r, "id='s1'") && has(r, "type='result'"));
  r = a.feed("<iq type='get' id='g2'><query xmlns='jabber:iq:roster'/></iq>");
  EXPECT_TRUE(has(r, "name='Bob'") && has(r, "<group>Friends</group>")) << r;
  auto stored = env_.store().getRoster("alice");
  ASSERT_EQ(stored->size(), 1u);
}

TEST_F(C2sSessionTest, StreamManagementAcksAndRejectsTooHighH) {
  Client a(env_), b(env_);
  a.login("alice", "secret");
  b.login("bob", "secret");
  std::string r = a.feed("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
  EXPECT_TRUE(has(r, "<enabled") && has(r, "resume='true'")) << r;
  a.feed("<presence/>");
  r = a.feed("<r xmlns='urn:xmpp:sm:3'/>");
  EXPECT_TRUE(has(r, "h='1'")) << "one stanza (presence) handled: " << r;
  b.feed("<message to='alice@localhost/r'><body>1</body></message>");
  a.take();
  a.feed("<a xmlns='urn:xmpp:sm:3' h='1'/>");
  EXPECT_FALSE(a.transport().closed);
  r = a.feed("<a xmlns='urn:xmpp:sm:3' h='7'/>");
  EXPECT_TRUE(has(r, "<undefined-condition")) << r;
}

TEST_F(C2sSessionTest, PreAuthTimeoutClosesWithConnectionTimeout) {
  Client c(env_);
  c.feed(kHeader);
  env_.advance(int64_t{env_.config().limits.preAuthTimeoutSeconds} * 1000 + 1);
  c.session().sweep(env_.nowMs());
  EXPECT_TRUE(has(c.take(), "<connection-timeout")) ;
  EXPECT_TRUE(c.transport().closed);
}

TEST_F(C2sSessionTest, RestrictedXmlIsAStreamError) {
  Client c(env_);
  std::string r = c.feed("<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><stream:stream/>");
  EXPECT_TRUE(has(r, "<restricted-xml")) << r;
  EXPECT_TRUE(c.transport().closed);
}

TEST_F(C2sSessionTest, WrongStreamNamespaceIsInvalidNamespace) {
  Client c(env_);
  std::string r = c.feed("<stream:stream to='localhost' xmlns='jabber:server' "
                         "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>");
  EXPECT_TRUE(has(r, "<invalid-namespace")) << r;
}

TEST_F(C2sSessionTest, UnknownHostIsHostUnknown) {
  Client c(env_);
  std::string r = c.feed("<stream:stream to='example.org' xmlns='jabber:client' "
                         "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>");
  EXPECT_TRUE(has(r, "<host-unknown")) << r;
}

TEST_F(C2sSessionTest, OversizedStanzaPreAuthIsPolicyViolation) {
  Client c(env_);
  c.toTls();
  std::string big = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
                    std::string(env_.config().limits.maxStanzaBytesPreAuth + 10, 'A');
  std::string r = c.feed(big);
  EXPECT_TRUE(has(r, "<policy-violation")) << r.substr(0, 300);
}

}  // namespace
}  // namespace xmesh::testing
