// ClientSession, fed canned server bytes through a fake transport (TLS is the
// transport's business: startTls() is only recorded here). The SASL steps are answered
// by a real sasl::ScramServer, so the SCRAM exchange and the salted-password cache are
// exercised for real.
#include "loadgen/client_session.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "loadgen/salted_cache.h"
#include "sasl/credentials.h"
#include "sasl/scram.h"

namespace xmesh::loadgen {
namespace {

constexpr const char* kServerHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='localhost' version='1.0'>";
constexpr const char* kTlsFeatures =
    "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
    "</stream:features>";
constexpr const char* kSaslFeatures =
    "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
    "<mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism>"
    "<mechanism>PLAIN</mechanism></mechanisms></stream:features>";
constexpr const char* kBindFeatures =
    "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
    "<sm xmlns='urn:xmpp:sm:3'/></stream:features>";

class FakeTransport : public ClientTransport {
 public:
  void send(std::string_view plaintext) override { out.append(plaintext); }
  void startTls() override { ++tlsStarts; }
  std::string take() {
    std::string s;
    s.swap(out);
    return s;
  }
  std::string out;
  int tlsStarts = 0;
};

class Recorder : public ClientListener {
 public:
  void onDualInfo(ClientSession&, const DualInfo& i) override { dualInfos.push_back(i); }
  void onInactive(ClientSession&) override { ++inactive; }
  void onActivated(ClientSession&, const ActivatedInfo& i) override { activated.push_back(i); }
  void onActivateRefused(ClientSession&, std::string_view c) override { refused.emplace_back(c); }
  void onFailoverNotice(ClientSession&, std::string_view from) override { failovers.emplace_back(from); }
  void onFallbackNotice(ClientSession&, std::string_view to) override { fallbacks.emplace_back(to); }
  void onDeactivated(ClientSession&) override { ++deactivated; }
  std::vector<DualInfo> dualInfos;
  int inactive = 0;
  std::vector<ActivatedInfo> activated;
  std::vector<std::string> refused, failovers, fallbacks;
  int deactivated = 0;
  void onOnline(ClientSession&) override { ++online; }
  void onLgMessage(ClientSession&, const LgMessage& m) override { messages.push_back(m); }
  void onPresenceReceived(ClientSession&) override { ++presences; }
  void onFailure(ClientSession&, std::string_view reason) override { failures.emplace_back(reason); }
  int online = 0;
  int presences = 0;
  std::vector<LgMessage> messages;
  std::vector<std::string> failures;
};

// Text between the first '>' after `open` and the next '<'.
std::string elementText(const std::string& xml, const std::string& open) {
  size_t p = xml.find(open);
  if (p == std::string::npos) return {};
  size_t gt = xml.find('>', p);
  size_t lt = xml.find('<', gt);
  return xml.substr(gt + 1, lt - gt - 1);
}

std::string decode(const std::string& b64) {
  auto r = sasl::base64Decode(b64);
  return r.isOk() ? r.value() : std::string();
}

class ClientSessionTest : public ::testing::Test {
 protected:
  ClientOptions options(Mechanism m = Mechanism::ScramSha1) {
    ClientOptions o;
    o.domain = "localhost";
    o.username = "user7";
    o.password = "pw-user7";
    o.mechanism = m;
    return o;
  }

  // Runs the exchange up to (and including) the server's <success/>.
  void authenticate(ClientSession& c, sasl::HashAlg alg, const std::string& salt) {
    c.start();
    EXPECT_NE(transport.take().find("to='localhost'"), std::string::npos);
    c.onBytes(std::string(kServerHeader) + kTlsFeatures);
    EXPECT_NE(transport.take().find("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"), std::string::npos);
    c.onBytes("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    EXPECT_EQ(transport.tlsStarts, 1);
    EXPECT_NE(transport.take().find("<stream:stream"), std::string::npos);  // restart over TLS
    c.onBytes(std::string(kServerHeader) + kSaslFeatures);
    std::string auth = transport.take();
    ASSERT_NE(auth.find(std::string("mechanism='") + std::string(sasl::mechanismName(alg)) + "'"),
              std::string::npos) << auth;
    sasl::ScramServer server(alg, "localhost");
    auto user = server.receiveClientFirst(decode(elementText(auth, "<auth")));
    ASSERT_TRUE(user.isOk());
    EXPECT_EQ(user.value(), "user7");
    auto creds = sasl::deriveCredentials(alg, "pw-user7", salt, 4096);
    c.onBytes("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" +
              sasl::base64Encode(server.makeServerFirst(&creds)) + "</challenge>");
    std::string response = transport.take();
    auto final = server.receiveClientFinal(decode(elementText(response, "<response")));
    ASSERT_TRUE(std::holds_alternative<std::string>(final)) << "server refused the client proof";
    c.onBytes("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" +
              sasl::base64Encode(std::get<std::string>(final)) + "</success>");
    EXPECT_NE(transport.take().find("<stream:stream"), std::string::npos);  // restart after SASL
  }

  void bindAndGoOnline(ClientSession& c, bool sm) {
    c.onBytes(std::string(kServerHeader) + kBindFeatures);
    std::string bind = transport.take();
    EXPECT_NE(bind.find("<iq type='set' id='bind1'>"), std::string::npos) << bind;
    EXPECT_NE(bind.find("<resource>lg</resource>"), std::string::npos);
    c.onBytes("<iq type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
              "<jid>user7@localhost/lg</jid></bind></iq>");
    std::string after = transport.take();
    EXPECT_NE(after.find("<query xmlns='jabber:iq:roster'/>"), std::string::npos);
    EXPECT_NE(after.find("<presence/>"), std::string::npos);
    EXPECT_EQ(after.find("<enable") != std::string::npos, sm);
    EXPECT_EQ(listener.online, 0);  // the roster result is still outstanding
    c.onBytes("<iq type='result' id='roster1' to='user7@localhost/lg'><query xmlns='jabber:iq:roster'>"
              "<item jid='user8@localhost' subscription='both'/><item jid='user9@localhost' "
              "subscription='both'/></query></iq>");
    if (sm) {
      EXPECT_EQ(listener.online, 0);
      c.onBytes("<enabled xmlns='urn:xmpp:sm:3' id='x'/>");
    }
  }

  FakeTransport transport;
  Recorder listener;
};

TEST_F(ClientSessionTest, FullLoginWithScramSha1GoesOnline) {
  ClientSession c(options(), transport, listener, nullptr);
  authenticate(c, sasl::HashAlg::Sha1, "0123456789abcdef");
  bindAndGoOnline(c, false);
  EXPECT_EQ(listener.online, 1);
  EXPECT_TRUE(c.online());
  EXPECT_EQ(c.boundJid(), "user7@localhost/lg");
  EXPECT_EQ(c.rosterItems(), 2u);
  EXPECT_TRUE(listener.failures.empty());
}

TEST_F(ClientSessionTest, FullLoginWithScramSha256AndStreamManagement) {
  auto o = options(Mechanism::ScramSha256);
  o.streamManagement = true;
  ClientSession c(o, transport, listener, nullptr);
  authenticate(c, sasl::HashAlg::Sha256, "fedcba9876543210");
  bindAndGoOnline(c, true);
  EXPECT_EQ(listener.online, 1);
  // Two stanzas handled after <enabled/>, then an ack request.
  c.onBytes("<presence from='user8@localhost/lg'/><message from='user8@localhost/lg' type='chat'>"
            "<body>hi</body></message><r xmlns='urn:xmpp:sm:3'/>");
  EXPECT_EQ(transport.take(), "<a xmlns='urn:xmpp:sm:3' h='2'/>");
  EXPECT_EQ(c.smInbound(), 2u);
}

TEST_F(ClientSessionTest, PlainSendsAuthzidlessCredentials) {
  ClientSession c(options(Mechanism::Plain), transport, listener, nullptr);
  c.start();
  c.onBytes(std::string(kServerHeader) + kTlsFeatures);
  c.onBytes("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  transport.take();
  c.onBytes(std::string(kServerHeader) + kSaslFeatures);
  std::string auth = transport.take();
  ASSERT_NE(auth.find("mechanism='PLAIN'"), std::string::npos);
  EXPECT_EQ(decode(elementText(auth, "<auth")), std::string("\0user7\0pw-user7", 15));
  c.onBytes("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
  EXPECT_NE(transport.take().find("<stream:stream"), std::string::npos);
  bindAndGoOnline(c, false);
  EXPECT_EQ(listener.online, 1);
}

TEST_F(ClientSessionTest, SaltedPasswordIsComputedOncePerUser) {
  SaltedCache cache;
  {
    ClientSession c(options(), transport, listener, &cache);
    authenticate(c, sasl::HashAlg::Sha1, "salt-one-16bytes");
  }
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.hits(), 0u);
  ASSERT_NE(cache.find("user7"), nullptr);
  EXPECT_EQ(cache.find("user7")->sha1,
            sasl::saltedPassword(sasl::HashAlg::Sha1, "pw-user7", "salt-one-16bytes", 4096));
  transport.take();
  transport.tlsStarts = 0;
  {
    ClientSession c(options(), transport, listener, &cache);
    authenticate(c, sasl::HashAlg::Sha1, "salt-one-16bytes");  // succeeds with the cached key
  }
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_TRUE(listener.failures.empty());
}

TEST_F(ClientSessionTest, CacheWithAnotherSaltFallsBackToPbkdf2) {
  SaltedCache cache;
  cache.store("user7", sasl::HashAlg::Sha1, "stale-salt", 4096, std::string(20, 'x'));
  ClientSession c(options(), transport, listener, &cache);
  authenticate(c, sasl::HashAlg::Sha1, "fresh-salt-bytes");
  EXPECT_TRUE(listener.failures.empty());
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.find("user7")->salt, "fresh-salt-bytes");
}

TEST_F(ClientSessionTest, SaslFailureIsReported) {
  ClientSession c(options(), transport, listener, nullptr);
  c.start();
  c.onBytes(std::string(kServerHeader) + kTlsFeatures);
  c.onBytes("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  c.onBytes(std::string(kServerHeader) + kSaslFeatures);
  c.onBytes("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>");
  ASSERT_EQ(listener.failures.size(), 1u);
  EXPECT_EQ(listener.failures[0], "sasl-failure:not-authorized");
  EXPECT_EQ(c.state(), ClientState::Failed);
  c.onBytes("<anything/>");  // ignored after failure
  EXPECT_EQ(listener.failures.size(), 1u);
}

TEST_F(ClientSessionTest, StreamErrorIsReported) {
  ClientSession c(options(), transport, listener, nullptr);
  c.start();
  c.onBytes(std::string(kServerHeader) +
            "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>");
  ASSERT_EQ(listener.failures.size(), 1u);
  EXPECT_EQ(listener.failures[0], "stream-error:host-unknown");
}

// xmeshd answers a SCRAM login of a user homed elsewhere with see-other-host instead of
// <success/>: the session fails with the target kept for the owner to follow.
TEST_F(ClientSessionTest, SeeOtherHostKeepsItsTarget) {
  ClientSession c(options(), transport, listener, nullptr);
  c.start();
  c.onBytes(std::string(kServerHeader) + kTlsFeatures);
  c.onBytes("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  c.onBytes(std::string(kServerHeader) + kSaslFeatures);
  EXPECT_EQ(c.seeOtherHost(), "");
  c.onBytes("<stream:error><see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'> 127.0.0.1:15002 "
            "</see-other-host></stream:error>");
  ASSERT_EQ(listener.failures.size(), 1u);
  EXPECT_EQ(listener.failures[0], "stream-error:see-other-host");
  EXPECT_EQ(c.seeOtherHost(), "127.0.0.1:15002");
}

TEST(ClientSessionHostPort, ParsesSeeOtherHostTargets) {
  std::string host;
  int port = 0;
  EXPECT_TRUE(ClientSession::parseHostPort("127.0.0.1:15002", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 15002);
  EXPECT_TRUE(ClientSession::parseHostPort("node-2.example.net", &host, &port));
  EXPECT_EQ(host, "node-2.example.net");
  EXPECT_EQ(port, 5222);  // RFC 6120 4.9.3.19: the default port
  EXPECT_TRUE(ClientSession::parseHostPort("[::1]:5223", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 5223);
  for (const char* bad : {"", ":5222", "host:", "host:0", "host:70000", "host:52x", "::1", "[::1", "[]:1", "[::1]x"})
    EXPECT_FALSE(ClientSession::parseHostPort(bad, &host, &port)) << bad;
}

TEST_F(ClientSessionTest, MissingStartTlsIsRefusedWhenRequired) {
  ClientSession c(options(), transport, listener, nullptr);
  c.start();
  c.onBytes(std::string(kServerHeader) + kSaslFeatures);
  ASSERT_EQ(listener.failures.size(), 1u);
  EXPECT_EQ(listener.failures[0], "no-starttls");
}

TEST_F(ClientSessionTest, MechanismNotOfferedFails) {
  ClientSession c(options(Mechanism::ScramSha256), transport, listener, nullptr);
  c.start();
  c.onBytes(std::string(kServerHeader) + kTlsFeatures);
  c.onBytes("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  c.onBytes(std::string(kServerHeader) +
            "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
            "<mechanism>PLAIN</mechanism></mechanisms></stream:features>");
  ASSERT_EQ(listener.failures.size(), 1u);
  EXPECT_EQ(listener.failures[0], "mechanism-not-offered");
}

TEST_F(ClientSessionTest, OnlineSessionDecodesLoadMessagesAndAnswersPings) {
  ClientSession c(options(), transport, listener, nullptr);
  authenticate(c, sasl::HashAlg::Sha1, "0123456789abcdef");
  bindAndGoOnline(c, false);
  transport.take();
  std::string msg;
  ClientSession::appendChat(msg, "user7@localhost", 12, 34, 1700000000123456ULL);
  // As the server relays it: a from attribute added, the rest unchanged.
  msg.insert(8, " from='user12@localhost/lg'");
  c.onBytes(msg);
  ASSERT_EQ(listener.messages.size(), 1u);
  EXPECT_EQ(listener.messages[0].sender, 12u);
  EXPECT_EQ(listener.messages[0].seq, 34u);
  EXPECT_EQ(listener.messages[0].sentUs, 1700000000123456ULL);
  c.onBytes("<message from='x@localhost' type='chat'><body>no marker</body></message>");
  EXPECT_EQ(listener.messages.size(), 1u);
  c.onBytes("<iq type='get' id='p1' from='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  EXPECT_EQ(transport.take(), "<iq type='result' id='p1' to='localhost'/>");
  c.onBytes("<presence from='user8@localhost/lg'/>");
  EXPECT_EQ(listener.presences, 1);
}

TEST_F(ClientSessionTest, SendsOnlyWhenOnline) {
  ClientSession c(options(), transport, listener, nullptr);
  EXPECT_FALSE(c.sendChat("user8@localhost", 7, 1, 1));
  EXPECT_FALSE(c.sendPresence("away"));
  authenticate(c, sasl::HashAlg::Sha1, "0123456789abcdef");
  bindAndGoOnline(c, false);
  transport.take();
  EXPECT_TRUE(c.sendChat("user8@localhost", 7, 1, 99));
  std::string out = transport.take();
  EXPECT_EQ(out.rfind("<message type='chat' to='user8@localhost'", 0), 0u) << out;
  LgMessage m;
  ASSERT_TRUE(ClientSession::parseLgMarker(out, &m));
  EXPECT_EQ(m.sender, 7u);
  EXPECT_EQ(m.seq, 1u);
  EXPECT_EQ(m.sentUs, 99u);
  EXPECT_TRUE(c.sendPresence("away"));
  EXPECT_EQ(transport.take(), "<presence><show>away</show></presence>");
}

// The dual connection protocol (docs/dual-connections.md), against canned server bytes.
constexpr const char* kDualBindFeatures =
    "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><sm xmlns='urn:xmpp:sm:3'/>"
    "<dual xmlns='urn:xmesh:dual:0'/></stream:features>";

class DualSessionTest : public ClientSessionTest {
 protected:
  // Logs in as the active session and answers the roster; returns what the client sent
  // once online (the dual query, if any).
  std::string goOnline(ClientSession& c, const char* features) {
    authenticate(c, sasl::HashAlg::Sha1, "0123456789abcdef");
    c.onBytes(std::string(kServerHeader) + features);
    transport.take();
    c.onBytes("<iq type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
              "<jid>user7@localhost/lg</jid></bind></iq>");
    transport.take();
    c.onBytes("<iq type='result' id='roster1'><query xmlns='jabber:iq:roster'/></iq>");
    return transport.take();
  }
  // Logs in as the inactive session; returns the bind request.
  std::string bindInactive(ClientSession& c) {
    authenticate(c, sasl::HashAlg::Sha1, "0123456789abcdef");
    c.onBytes(std::string(kServerHeader) + kDualBindFeatures);
    std::string bind = transport.take();
    c.onBytes("<iq type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
              "<jid>user7@localhost/lg</jid></bind></iq>");
    return bind;
  }
  ClientOptions dualOptions(bool inactive) {
    ClientOptions o = options();
    o.dualQuery = !inactive;
    o.inactive = inactive;
    if (inactive) o.rosterGet = o.initialPresence = false;
    return o;
  }
};

TEST_F(DualSessionTest, OnlineSessionAsksForItsBackupAndParsesTheAnswer) {
  ClientSession c(dualOptions(false), transport, listener, nullptr);
  EXPECT_EQ(goOnline(c, kDualBindFeatures), "<iq type='get' id='dual1'><query xmlns='urn:xmesh:dual:0'/></iq>");
  EXPECT_TRUE(c.dualOffered());
  EXPECT_EQ(listener.online, 1);
  c.onBytes("<iq type='result' id='dual1'><query xmlns='urn:xmesh:dual:0'>"
            "<backup node='node2' host='127.0.0.3' port='25002' direct-tls-port='25003'/>"
            "<relogin min='2' max='9'/></query></iq>");
  ASSERT_EQ(listener.dualInfos.size(), 1u);
  const DualInfo& i = listener.dualInfos[0];
  EXPECT_TRUE(i.hasBackup);
  EXPECT_EQ(i.node, "node2");
  EXPECT_EQ(i.host, "127.0.0.3");
  EXPECT_EQ(i.port, 25002);
  EXPECT_DOUBLE_EQ(i.reloginMinS, 2);
  EXPECT_DOUBLE_EQ(i.reloginMaxS, 9);
  EXPECT_TRUE(listener.failures.empty());
}

TEST_F(DualSessionTest, NoBackupInAOneNodeGroup) {
  ClientSession c(dualOptions(false), transport, listener, nullptr);
  goOnline(c, kDualBindFeatures);
  c.onBytes("<iq type='result' id='dual1'><query xmlns='urn:xmesh:dual:0'/></iq>");
  ASSERT_EQ(listener.dualInfos.size(), 1u);
  EXPECT_FALSE(listener.dualInfos[0].hasBackup);
  EXPECT_DOUBLE_EQ(listener.dualInfos[0].reloginMinS, 120);  // the doc's defaults
}

TEST_F(DualSessionTest, NoQueryWhenTheServerDoesNotOfferTheProtocol) {
  // ejabberd, Prosody: no <dual/> feature, so no query; the owner is told at once.
  ClientSession c(dualOptions(false), transport, listener, nullptr);
  std::string sent = goOnline(c, kBindFeatures);
  EXPECT_EQ(sent.find("urn:xmesh:dual:0"), std::string::npos) << sent;
  ASSERT_EQ(listener.dualInfos.size(), 1u);
  EXPECT_FALSE(listener.dualInfos[0].hasBackup);
  EXPECT_TRUE(c.online());
}

TEST_F(DualSessionTest, InactiveBindCarriesTheMarkerAndSendsNothingElse) {
  ClientSession c(dualOptions(true), transport, listener, nullptr);
  std::string bind = bindInactive(c);
  EXPECT_NE(bind.find("<resource>lg</resource><inactive xmlns='urn:xmesh:dual:0'/></bind>"), std::string::npos)
      << bind;
  EXPECT_EQ(listener.inactive, 1);
  EXPECT_EQ(listener.online, 0);
  EXPECT_EQ(c.state(), ClientState::Inactive);
  EXPECT_EQ(transport.take(), "");  // no roster, no presence, no XEP-0198
  EXPECT_FALSE(c.sendChat("user8@localhost", 7, 1, 1));
  c.onBytes("<iq type='get' id='p1' from='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  EXPECT_EQ(transport.take(), "<iq type='result' id='p1' to='localhost'/>");  // kept alive
}

TEST_F(DualSessionTest, FailoverNoticeThenActivationMakesTheSessionActive) {
  auto o = dualOptions(true);
  o.streamManagement = true;
  ClientSession c(o, transport, listener, nullptr);
  bindInactive(c);
  transport.take();
  c.onBytes("<iq type='set' id='f1' from='localhost'><failover xmlns='urn:xmesh:dual:0' from-node='node1'/></iq>");
  EXPECT_EQ(transport.take(), "<iq type='result' id='f1' to='localhost'/>");
  ASSERT_EQ(listener.failovers.size(), 1u);
  EXPECT_EQ(listener.failovers[0], "node1");
  ASSERT_TRUE(c.activate(17));
  EXPECT_EQ(transport.take(), "<iq type='set' id='act1'><activate xmlns='urn:xmesh:dual:0' h='17'/></iq>");
  EXPECT_FALSE(c.activate(17));  // one at a time
  c.onBytes("<iq type='result' id='act1'><activated xmlns='urn:xmesh:dual:0' presence-restored='true' "
            "pending='3'/></iq>");
  ASSERT_EQ(listener.activated.size(), 1u);
  EXPECT_TRUE(listener.activated[0].presenceRestored);
  EXPECT_EQ(listener.activated[0].pending, 3u);
  EXPECT_TRUE(c.online());
  EXPECT_EQ(transport.take(), "<enable xmlns='urn:xmpp:sm:3'/>");  // XEP-0198 from now on
  EXPECT_TRUE(c.sendChat("user8@localhost", 7, 1, 1));
  c.onBytes("<enabled xmlns='urn:xmpp:sm:3' id='y'/>");
  EXPECT_TRUE(c.smEnabled());
  EXPECT_EQ(c.smSent(), 1u);  // the chat after <enable/> counts toward the server's h
  EXPECT_TRUE(listener.failures.empty());
}

TEST_F(DualSessionTest, RefusedActivationLeavesTheSessionInactive) {
  ClientSession c(dualOptions(true), transport, listener, nullptr);
  bindInactive(c);
  ASSERT_TRUE(c.activate(0));
  c.onBytes("<iq type='error' id='act1'><error type='modify'><not-allowed "
            "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>"
            "served by node1</text></error></iq>");
  ASSERT_EQ(listener.refused.size(), 1u);
  EXPECT_EQ(listener.refused[0], "not-allowed");
  EXPECT_EQ(c.state(), ClientState::Inactive);
  EXPECT_TRUE(c.activate(0));  // may ask again
}

TEST_F(DualSessionTest, FallbackAndDeactivationOnTheActiveSession) {
  ClientSession c(dualOptions(false), transport, listener, nullptr);
  goOnline(c, kDualBindFeatures);
  c.onBytes("<presence from='user8@localhost/lg'/><message from='user8@localhost/lg' type='chat'><body>x</body>"
            "</message>");
  EXPECT_EQ(c.handledCount(), 3u);  // roster result, presence, message: no XEP-0198, so received
  transport.take();
  c.onBytes("<iq type='set' id='fb1'><fallback xmlns='urn:xmesh:dual:0' to-node='node1'/></iq>");
  EXPECT_EQ(transport.take(), "<iq type='result' id='fb1'/>");
  ASSERT_EQ(listener.fallbacks.size(), 1u);
  EXPECT_EQ(listener.fallbacks[0], "node1");
  EXPECT_TRUE(c.online());
  c.onBytes("<iq type='set' id='dx1'><deactivated xmlns='urn:xmesh:dual:0'/></iq>");
  EXPECT_EQ(transport.take(), "<iq type='result' id='dx1'/>");
  EXPECT_EQ(listener.deactivated, 1);
  EXPECT_EQ(c.state(), ClientState::Inactive);  // ready to be activated again, no reconnect
  EXPECT_FALSE(c.sendChat("user8@localhost", 7, 1, 1));
  EXPECT_TRUE(c.activate(c.handledCount()));
}

TEST_F(DualSessionTest, NoticesInTheWrongStateAreAnsweredButNotActedOn) {
  ClientSession c(dualOptions(false), transport, listener, nullptr);
  goOnline(c, kDualBindFeatures);
  transport.take();
  // <failover/> belongs on the inactive session; on the active one it is only answered.
  c.onBytes("<iq type='set' id='f1'><failover xmlns='urn:xmesh:dual:0' from-node='node1'/></iq>");
  EXPECT_EQ(transport.take(), "<iq type='result' id='f1'/>");
  EXPECT_TRUE(listener.failovers.empty());
  // An element of the namespace we do not know: service-unavailable, like any IQ.
  c.onBytes("<iq type='set' id='u1'><rebalance xmlns='urn:xmesh:dual:0'/></iq>");
  EXPECT_NE(transport.take().find("<service-unavailable"), std::string::npos);
  EXPECT_TRUE(c.online());
  EXPECT_TRUE(listener.failures.empty());
}

TEST_F(DualSessionTest, RefusedInactiveBindFailsTheSession) {
  ClientSession c(dualOptions(true), transport, listener, nullptr);
  authenticate(c, sasl::HashAlg::Sha1, "0123456789abcdef");
  c.onBytes(std::string(kServerHeader) + kDualBindFeatures);
  c.onBytes("<iq type='error' id='bind1'><error type='modify'><not-allowed "
            "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");
  ASSERT_EQ(listener.failures.size(), 1u);
  EXPECT_EQ(listener.failures[0], "inactive-bind-failed");
}

TEST(LgMarkerTest, RejectsMalformedMarkers) {
  LgMessage m;
  EXPECT_FALSE(ClientSession::parseLgMarker("<message/>", &m));
  EXPECT_FALSE(ClientSession::parseLgMarker("<message><x xmlns='urn:xmesh:lg' u='1' s='2'/></message>", &m));
  EXPECT_FALSE(ClientSession::parseLgMarker("<message><x xmlns='urn:xmesh:lg' u='a' s='2' t='3'/></message>", &m));
  EXPECT_TRUE(ClientSession::parseLgMarker("<message><x xmlns='urn:xmesh:lg' t='3' s='2' u='1'/></message>", &m));
  EXPECT_EQ(m.sender, 1u);
}

}  // namespace
}  // namespace xmesh::loadgen
