// XMESH-DUAL on the c2s session, sans-IO (docs/dual-connections.md): the fake env plays
// the node's topology and SRM view (who may hold an inactive session, who serves whom);
// the tests drive sessions as the loop would (onServingChanged) and check the bytes each
// client gets, the directory and the counters.
#include <gtest/gtest.h>

#include <set>

#include "tests/session/session_client.h"
#include "tests/support/fake_env.h"

namespace xmesh::testing {
namespace {

// This node is "node1". Users: alice and erin homed here; bob homed on node2 (this
// node is node2's HA peer); carol homed on node3 (another group); dave unassigned.
class DualEnv : public FakeEnv {
 public:
  bool dualEnabled() const override { return enabled; }
  std::optional<session::dual::Backup> dualBackupFor(std::string_view home) const override {
    if (home == "node1") return session::dual::Backup{"node2", "im2.example.com", 5223, 120, 537};
    return std::nullopt;
  }
  bool mayHoldInactive(std::string_view home) const override { return holdable.count(std::string(home)) > 0; }
  bool servesHome(std::string_view home) const override { return served.count(std::string(home)) > 0; }
  int64_t activationHoldMs(std::string_view) const override { return holdMs; }

  // The SRM moves `home`'s users to this node (or away from it, to `elsewhere`).
  void serve(const std::string& home) {
    served.insert(home);
    redirects.erase(home);
  }
  void stopServing(const std::string& home, const std::string& elsewhere) {
    served.erase(home);
    if (elsewhere.empty()) {
      redirects.erase(home);
    } else {
      redirects[home] = elsewhere;
    }
  }

  bool enabled = true;
  int64_t holdMs = 0;  // early activations refused at once unless a test sets a hold
  std::set<std::string> holdable{"node1", "node2"};
  std::set<std::string> served{"node1", ""};  // "" = unassigned: served anywhere
};

constexpr const char* kInactiveBind =
    "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource>"
    "<inactive xmlns='urn:xmesh:dual:0'/></bind></iq>";
constexpr const char* kPlainBind =
    "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>";

std::string activate(uint32_t h) {
  return "<iq type='set' id='a1'><activate xmlns='urn:xmesh:dual:0' h='" + std::to_string(h) + "'/></iq>";
}

class DualSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* u : {"alice", "bob", "carol", "dave", "erin"}) env_.addUser(u, "secret");
    home("alice", "node1");
    home("erin", "node1");
    home("bob", "node2");
    home("carol", "node3");
    env_.redirects["node2"] = "10.0.0.2:5222";
    env_.redirects["node3"] = "10.0.0.3:5222";
  }
  void home(const std::string& user, const std::string& node) {
    ASSERT_TRUE(env_.store().setHomeNode(user, node).isOk());
  }
  // STARTTLS + SCRAM + stream restart; returns the features of the restarted stream.
  std::string authenticate(Client& c, const std::string& user) {
    c.toTls();
    std::string r = c.scram(user, "secret");
    EXPECT_TRUE(has(r, "<success")) << user << ": " << r;
    return c.feed(kHeader);
  }
  // An authenticated session bound inactive; returns the bind answer.
  std::string bindInactive(Client& c, const std::string& user) {
    authenticate(c, user);
    return c.feed(kInactiveBind);
  }
  void befriend(const std::string& a, const std::string& b) {
    store::RosterItem ab, ba;
    ab.contact = b + "@localhost";
    ab.sub = store::Sub::Both;
    ba.contact = a + "@localhost";
    ba.sub = store::Sub::Both;
    ASSERT_TRUE(env_.store().putRosterItem(a, ab).isOk());
    ASSERT_TRUE(env_.store().putRosterItem(b, ba).isOk());
  }
  bool entryActive(const std::string& bare, const router::SessionRef& ref) {
    return env_.router().directory().read(bare, [&](const router::UserEntry* u) {
      if (!u) return false;
      for (const auto& r : u->resources)
        if (r.ref == ref) return r.active;
      return false;
    });
  }
  size_t offlineCount(const std::string& user) {
    auto m = env_.store().peekOffline(user, 100);
    return m.isOk() ? m.value().size() : 0;
  }
  DualEnv env_;
};

TEST_F(DualSessionTest, FeatureIsOfferedAfterSaslOnlyWithATopology) {
  Client c(env_);
  EXPECT_FALSE(has(c.toTls(), "urn:xmesh:dual:0")) << "never before authentication";
  Client a(env_);
  EXPECT_TRUE(has(authenticate(a, "alice"), "<dual xmlns='urn:xmesh:dual:0'/>"));
  env_.enabled = false;
  Client b(env_);
  EXPECT_FALSE(has(authenticate(b, "erin"), "urn:xmesh:dual:0"));
}

TEST_F(DualSessionTest, QueryAnswersTheBackupAndTheReloginWindowInSeconds) {
  Client a(env_);
  a.login("alice", "secret");
  std::string r = a.feed("<iq type='get' id='d1'><query xmlns='urn:xmesh:dual:0'/></iq>");
  EXPECT_TRUE(has(r, "id='d1'")) << r;
  EXPECT_TRUE(has(r, "<query xmlns='urn:xmesh:dual:0'><backup node='node2' host='im2.example.com' port='5223'/>"
                     "<relogin min='120' max='537'/></query>")) << r;
  EXPECT_TRUE(a.session().dualNegotiated());
  // A user without a backup (unassigned: no HA group) gets an empty query.
  Client d(env_);
  d.login("dave", "secret");
  EXPECT_TRUE(has(d.feed("<iq type='get' id='d2'><query xmlns='urn:xmesh:dual:0'/></iq>"),
                  "<query xmlns='urn:xmesh:dual:0'/>"));
}

TEST_F(DualSessionTest, WithoutATopologyTheProtocolIsServiceUnavailable) {
  env_.enabled = false;
  Client a(env_);
  a.login("alice", "secret");
  std::string r = a.feed("<iq type='get' id='d1'><query xmlns='urn:xmesh:dual:0'/></iq>");
  EXPECT_TRUE(has(r, "<service-unavailable")) << r;
  EXPECT_FALSE(a.session().dualNegotiated());
}

TEST_F(DualSessionTest, InactiveBindIsCountedAndNeverRouted) {
  befriend("alice", "bob");
  Client b(env_);
  std::string r = bindInactive(b, "bob");
  EXPECT_TRUE(has(r, "<jid>bob@localhost/r</jid>")) << r;
  EXPECT_EQ(b.session().state(), session::SessionState::Inactive);
  EXPECT_EQ(env_.stats_.sessionsInactive.load(), 1u);
  EXPECT_EQ(env_.stats_.sessionsActive.load(), 0u);
  EXPECT_FALSE(entryActive("bob@localhost", b.session().ref()));

  // alice (served here, subscribed both ways) comes online: no presence, no probe
  // answer, no message reaches bob's inactive session; the messages are stored.
  Client a(env_);
  a.login("alice", "secret");
  a.feed("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>");
  std::string own = a.feed("<presence/>");
  EXPECT_FALSE(has(own, "from='bob@localhost/r'")) << "an inactive session answers no probe: " << own;
  a.feed("<message to='bob@localhost' type='chat'><body>bare</body></message>");
  a.feed("<message to='bob@localhost/r' type='chat'><body>full</body></message>");
  EXPECT_EQ(b.take(), "") << "an inactive session receives nothing";
  EXPECT_EQ(offlineCount("bob"), 2u) << "both messages wait offline for an active session";
}

TEST_F(DualSessionTest, IqToAnInactiveFullJidIsServiceUnavailable) {
  Client b(env_);
  bindInactive(b, "bob");
  Client a(env_);
  a.login("alice", "secret");
  std::string r = a.feed("<iq type='get' id='v1' to='bob@localhost/r'><query xmlns='jabber:iq:version'/></iq>");
  EXPECT_TRUE(has(r, "<service-unavailable")) << r;
  EXPECT_EQ(b.take(), "");
}

TEST_F(DualSessionTest, StanzasOnAnInactiveSessionAreRefusedExceptPingAndDual) {
  Client b(env_);
  bindInactive(b, "bob");
  EXPECT_TRUE(has(b.feed("<message to='alice@localhost' id='m1'><body>x</body></message>"), "<not-allowed"));
  EXPECT_TRUE(has(b.feed("<presence/>"), "<not-allowed"));
  EXPECT_TRUE(has(b.feed("<presence to='alice@localhost' type='subscribe'/>"), "<not-allowed"));
  EXPECT_TRUE(has(b.feed("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>"), "<not-allowed"));
  EXPECT_TRUE(has(b.feed("<iq type='get' id='p2' to='alice@localhost/r'><ping xmlns='urn:xmpp:ping'/></iq>"),
                  "<not-allowed"))
      << "a ping to anybody but the server would be routed";
  std::string ping = b.feed("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>");
  EXPECT_TRUE(has(ping, "type='result'") && has(ping, "id='p1'")) << ping;
  std::string q = b.feed("<iq type='get' id='d1'><query xmlns='urn:xmesh:dual:0'/></iq>");
  EXPECT_TRUE(has(q, "type='result'")) << q;
  EXPECT_EQ(b.feed("<iq type='result' id='dual1'/>"), "") << "answers to our notices are taken silently";
  EXPECT_FALSE(b.transport().closed);
  EXPECT_EQ(b.session().state(), session::SessionState::Inactive);
  EXPECT_EQ(env_.stats_.sessionsInactive.load(), 1u);
}

TEST_F(DualSessionTest, InactiveBindOutsideTheGroupIsNotAllowed) {
  Client d(env_);
  std::string r = bindInactive(d, "dave");
  EXPECT_TRUE(has(r, "<error type='modify'><not-allowed")) << r;
  EXPECT_TRUE(has(r, "no home node")) << r;
  EXPECT_FALSE(d.session().bound());
  EXPECT_EQ(env_.stats_.sessionsInactive.load(), 0u);
  // A user of another group is redirected at SASL as always: this node can hold no
  // session of hers at all.
  Client c(env_);
  c.toTls();
  std::string sasl = c.scram("carol", "secret");
  EXPECT_TRUE(has(sasl, "<see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>10.0.0.3:5222</see-other-host>"))
      << sasl;
}

TEST_F(DualSessionTest, InactiveBindRefusalSaysWhenNobodyServes) {
  home("bob", "node9");  // not in this node's group, and failed with its backup
  Client b(env_);
  std::string r = bindInactive(b, "bob");  // SASL passes: there is nowhere to send bob
  EXPECT_TRUE(has(r, "<not-allowed")) << r;
  EXPECT_TRUE(has(r, "no node serves this user now")) << r;
  EXPECT_FALSE(b.session().bound());
}

TEST_F(DualSessionTest, PlainBindOnTheBackupIsRedirectedAtBind) {
  Client b(env_);
  std::string features = authenticate(b, "bob");
  EXPECT_TRUE(has(features, "<bind")) << "SASL succeeds on the home's peer";
  std::string r = b.feed(kPlainBind);
  EXPECT_TRUE(has(r, "<see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>10.0.0.2:5222</see-other-host>"))
      << r;
  EXPECT_TRUE(b.transport().closed);
  EXPECT_FALSE(b.session().bound());
}

TEST_F(DualSessionTest, ActivationIsRefusedWhileAnotherNodeServes) {
  Client b(env_);
  bindInactive(b, "bob");
  std::string r = b.feed(activate(0));
  EXPECT_TRUE(has(r, "<not-allowed")) << r;
  EXPECT_TRUE(has(r, "10.0.0.2:5222")) << "names the serving node: " << r;
  EXPECT_EQ(b.session().state(), session::SessionState::Inactive);
  EXPECT_FALSE(entryActive("bob@localhost", b.session().ref()));
}

// The client saw its home die before this node's SRM did: its activation waits for the
// takeover and is answered by it (no failover notice, no retry).
TEST_F(DualSessionTest, EarlyActivationIsHeldAndAnsweredAtTheTakeover) {
  env_.holdMs = 1500;
  Client b(env_);
  bindInactive(b, "bob");
  EXPECT_EQ(b.feed(activate(0)), "") << "held, not refused";
  EXPECT_EQ(b.session().state(), session::SessionState::Inactive);
  env_.advance(1000);
  b.session().sweep(env_.nowMs());
  EXPECT_EQ(b.take(), "") << "still within the hold";
  env_.serve("node2");
  b.session().onServingChanged(true);
  std::string r = b.take();
  EXPECT_TRUE(has(r, "type='result'") && has(r, "id='a1'")) << r;
  EXPECT_TRUE(has(r, "<activated xmlns='urn:xmesh:dual:0'")) << r;
  EXPECT_FALSE(has(r, "<failover")) << "the answer is the notice: " << r;
  EXPECT_EQ(b.session().state(), session::SessionState::Active);
  EXPECT_TRUE(entryActive("bob@localhost", b.session().ref()));
}

TEST_F(DualSessionTest, HeldActivationIsRefusedWhenNoTakeoverComes) {
  env_.holdMs = 1500;
  Client b(env_);
  bindInactive(b, "bob");
  EXPECT_EQ(b.feed(activate(0)), "");
  env_.advance(1600);
  b.session().sweep(env_.nowMs());
  std::string r = b.take();
  EXPECT_TRUE(has(r, "id='a1'") && has(r, "<not-allowed")) << r;
  EXPECT_TRUE(has(r, "10.0.0.2:5222")) << "names the serving node: " << r;
  EXPECT_EQ(b.session().state(), session::SessionState::Inactive);
  env_.serve("node2");
  b.session().onServingChanged(true);
  EXPECT_TRUE(has(b.take(), "<failover")) << "a later takeover is announced as usual";
}

TEST_F(DualSessionTest, ANewerActivationReplacesAHeldOne) {
  env_.holdMs = 1500;
  Client b(env_);
  bindInactive(b, "bob");
  EXPECT_EQ(b.feed(activate(0)), "");
  std::string r = b.feed("<iq type='set' id='a2'><activate xmlns='urn:xmesh:dual:0' h='3'/></iq>");
  EXPECT_TRUE(has(r, "id='a1'") && has(r, "<not-allowed")) << r;
  env_.serve("node2");
  b.session().onServingChanged(true);
  r = b.take();
  EXPECT_TRUE(has(r, "type='result'") && has(r, "id='a2'")) << r;
  EXPECT_EQ(b.session().state(), session::SessionState::Active);
}

TEST_F(DualSessionTest, BadActivateCountIsBadRequest) {
  Client b(env_);
  bindInactive(b, "bob");
  env_.serve("node2");
  EXPECT_TRUE(has(b.feed("<iq type='set' id='a1'><activate xmlns='urn:xmesh:dual:0' h='-1'/></iq>"), "<bad-request"));
  EXPECT_TRUE(has(b.feed("<iq type='set' id='a2'><activate xmlns='urn:xmesh:dual:0' h='12x'/></iq>"), "<bad-request"));
  EXPECT_EQ(b.session().state(), session::SessionState::Inactive);
}

TEST_F(DualSessionTest, FailoverNoticeThenActivationMakesTheSessionRoutable) {
  Client b(env_);
  bindInactive(b, "bob");
  Client a(env_);
  a.login("alice", "secret");
  a.feed("<message to='bob@localhost' type='chat'><body>during the switch</body></message>");
  EXPECT_EQ(offlineCount("bob"), 1u);

  env_.serve("node2");  // node2 failed: its users are served here now
  b.session().onServingChanged(true);
  std::string notice = b.take();
  EXPECT_TRUE(has(notice, "<iq type='set' id='dual1' to='bob@localhost/r'>"
                          "<failover xmlns='urn:xmesh:dual:0' from-node='node2'/></iq>")) << notice;

  std::string r = b.feed(activate(17));
  EXPECT_TRUE(has(r, "<activated xmlns='urn:xmesh:dual:0' presence-restored='false' pending='0'/>")) << r;
  EXPECT_EQ(b.session().state(), session::SessionState::Active);
  EXPECT_TRUE(entryActive("bob@localhost", b.session().ref()));
  EXPECT_EQ(env_.stats_.sessionsActive.load(), 2u);
  EXPECT_EQ(env_.stats_.sessionsInactive.load(), 0u);

  // Nothing restored: the client announces itself; the offline queue follows.
  std::string afterPresence = b.feed("<presence/>");
  EXPECT_TRUE(has(afterPresence, "during the switch")) << afterPresence;
  a.feed("<message to='bob@localhost' type='chat'><body>now routed</body></message>");
  EXPECT_TRUE(has(b.take(), "now routed"));
  // Asking again is harmless.
  EXPECT_TRUE(has(b.feed(activate(17)), "<activated"));
}

TEST_F(DualSessionTest, FailoverDemotesADualSessionAndFallbackRestoresItsPresence) {
  env_.served.insert("node5");
  home("erin", "node5");  // erin is served here throughout and watches alice
  befriend("alice", "erin");
  Client e(env_);
  e.login("erin", "secret");
  e.feed("<presence/>");
  Client a(env_);
  a.login("alice", "secret");
  a.feed("<iq type='get' id='d1'><query xmlns='urn:xmesh:dual:0'/></iq>");
  a.feed("<presence><show>dnd</show><priority>5</priority></presence>");
  EXPECT_TRUE(has(e.take(), "<show>dnd</show>"));

  env_.stopServing("node1", "10.0.0.2:5222");  // this node failed over to node2
  a.session().onServingChanged(false);
  std::string notice = a.take();
  EXPECT_TRUE(has(notice, "<deactivated xmlns='urn:xmesh:dual:0'/>")) << notice;
  EXPECT_FALSE(a.transport().closed) << "a dual session is demoted, not closed";
  EXPECT_EQ(a.session().state(), session::SessionState::Inactive);
  EXPECT_FALSE(entryActive("alice@localhost", a.session().ref()));
  std::string seen = e.take();
  EXPECT_TRUE(has(seen, "from='alice@localhost/r'") && has(seen, "type='unavailable'")) << seen;
  e.feed("<message to='alice@localhost' type='chat'><body>x</body></message>");
  EXPECT_EQ(a.take(), "") << "a demoted session is out of routing";
  EXPECT_TRUE(has(a.feed("<presence/>"), "<not-allowed"));

  env_.serve("node1");  // fallback: the home takes its users back
  a.session().onServingChanged(true);
  notice = a.take();
  EXPECT_TRUE(has(notice, "<fallback xmlns='urn:xmesh:dual:0' to-node='node1'/>")) << notice;
  std::string r = a.feed(activate(0));
  EXPECT_TRUE(has(r, "presence-restored='true'")) << r;
  EXPECT_TRUE(has(r, "x</body>")) << "the offline message follows the restored presence: " << r;
  seen = e.take();
  EXPECT_TRUE(has(seen, "from='alice@localhost/r'") && has(seen, "<show>dnd</show>")) << seen;
  EXPECT_EQ(env_.stats_.sessionsInactive.load(), 0u);
}

TEST_F(DualSessionTest, PlainSessionIsRedirectedWhenTheNodeStopsServing) {
  Client a(env_);
  a.login("alice", "secret");
  env_.stopServing("node1", "10.0.0.2:5222");
  a.session().onServingChanged(false);
  std::string r = a.take();
  EXPECT_TRUE(has(r, "<see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>10.0.0.2:5222</see-other-host>"))
      << r;
  EXPECT_TRUE(a.transport().closed);
}

TEST_F(DualSessionTest, PlainSessionNobodyServesGetsSystemShutdown) {
  Client a(env_);
  a.login("alice", "secret");
  env_.stopServing("node1", "");
  a.session().onServingChanged(false);
  std::string r = a.take();
  EXPECT_TRUE(has(r, "<system-shutdown")) << r;
  EXPECT_TRUE(a.transport().closed);
}

TEST_F(DualSessionTest, StaleServingChangeIsIgnored) {
  Client a(env_), b(env_);
  a.login("alice", "secret");
  bindInactive(b, "bob");
  a.session().onServingChanged(false);  // the view says node1 is still served here
  b.session().onServingChanged(true);   // and node2 is not
  EXPECT_EQ(a.take(), "");
  EXPECT_EQ(b.take(), "");
  EXPECT_FALSE(a.transport().closed);
  EXPECT_EQ(a.session().state(), session::SessionState::Active);
}

TEST_F(DualSessionTest, DemotedSessionGetsNoRosterPush) {
  Client a(env_);
  a.login("alice", "secret");
  a.feed("<iq type='get' id='d1'><query xmlns='urn:xmesh:dual:0'/></iq>");
  a.feed("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>");  // interested
  env_.stopServing("node1", "10.0.0.2:5222");
  a.session().onServingChanged(false);
  a.take();
  router::RosterEntry item;
  item.contact = router::InternedJid("zed@localhost");
  env_.router().pushRoster(env_, "alice@localhost", item, false);
  EXPECT_EQ(a.take(), "");
}

// A replica source standing in for the r2r replication (not built yet): the seam the
// activation uses.
class FakeReplicas : public router::ReplicaSource {
 public:
  Taken takeForActivation(const jid::Jid& full, uint32_t clientH) override {
    askedFor = full.full();
    askedH = clientH;
    Taken t;
    t.presence = router::makeShared("<presence from='" + full.full() + "'><show>away</show></presence>");
    t.priority = 1;
    for (const char* body : {"one", "two"})
      t.pending.push_back({router::makeShared("<message to='" + full.full() + "'><body>" + body + "</body></message>"),
                           StanzaClass::Message});
    return t;
  }
  std::string askedFor;
  uint32_t askedH = 0;
};

TEST_F(DualSessionTest, ActivationDeliversTheReplicatedStateInOrder) {
  FakeReplicas replicas;
  env_.router().setReplicaSource(&replicas);
  befriend("bob", "erin");
  Client e(env_);
  e.login("erin", "secret");
  e.feed("<presence/>");
  Client b(env_);
  bindInactive(b, "bob");
  env_.serve("node2");
  std::string r = b.feed(activate(42));
  EXPECT_EQ(replicas.askedFor, "bob@localhost/r");
  EXPECT_EQ(replicas.askedH, 42u);
  size_t result = r.find("<activated xmlns='urn:xmesh:dual:0' presence-restored='true' pending='2'/>");
  size_t one = r.find("<body>one</body>"), two = r.find("<body>two</body>");
  ASSERT_NE(result, std::string::npos) << r;
  ASSERT_NE(one, std::string::npos) << r;
  ASSERT_NE(two, std::string::npos) << r;
  EXPECT_LT(result, one);
  EXPECT_LT(one, two);
  std::string seen = e.take();
  EXPECT_TRUE(has(seen, "<show>away</show>")) << "the replicated presence is broadcast: " << seen;
  env_.router().setReplicaSource(nullptr);
}

TEST_F(DualSessionTest, InactiveSessionResumesInactive) {
  std::string smId;
  {
    Client b(env_);
    bindInactive(b, "bob");
    std::string r = b.feed("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r, m, std::regex("id='([^']+)'"))) << r;
    smId = m[1].str();
    b.session().onDisconnect();
    EXPECT_EQ(env_.stats_.sessionsInactive.load(), 1u);
    Client again(env_);
    authenticate(again, "bob");
    std::string resumed = again.feed("<resume xmlns='urn:xmpp:sm:3' previd='" + smId + "' h='0'/>");
    EXPECT_TRUE(has(resumed, "<resumed")) << resumed;
    EXPECT_EQ(again.session().state(), session::SessionState::Inactive);
    EXPECT_EQ(env_.stats_.sessionsInactive.load(), 1u);
    EXPECT_EQ(env_.stats_.sessionsActive.load(), 0u);
    EXPECT_TRUE(has(again.feed("<presence/>"), "<not-allowed"));
  }
  EXPECT_EQ(env_.stats_.sessionsInactive.load(), 0u);
}

}  // namespace
}  // namespace xmesh::testing
