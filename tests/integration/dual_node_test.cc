// XMESH-DUAL over real sockets and TLS (docs/dual-connections.md) on an in-process HA
// pair: nodes n1 and n2 form one presence redundancy group with a shared cluster store
// (the SRM's witness) and sub-second SRM timers; n3 and n4 form another group and never
// run. The SRM moves users for real (a node stopped, an admin failover and fallback),
// so Node::servingChanged reaches the loops as in production.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <thread>

#include "router/mesh_node.h"
#include "router/redundancy.h"
#include "tests/integration/mesh_fixture.h"
#include "tests/integration/node_fixture.h"
#include "tests/support/xmpp_test_client.h"

namespace xmesh::testing {
namespace {

bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

std::string bodyOf(const xml::Stanza& s) {
  auto el = xml::parseElement(s.bytes, s.ns);
  const xml::Element* b = el.isOk() ? el->child("body") : nullptr;
  return b ? b->text() : std::string();
}

auto withId(std::string id) {
  return [id = std::move(id)](const xml::Stanza& s) { return s.id == id; };
}
auto dualNotice(std::string element) {
  return [element = std::move(element)](const xml::Stanza& s) {
    return s.name == "iq" && s.type == "set" && s.firstChildName == element && s.firstChildNs == "urn:xmesh:dual:0";
  };
}

class DualNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A write to a connection the peer already reset (a redirected client, a node going
    // down) must be an error value, not SIGPIPE for the test process: xmeshd's main
    // ignores SIGPIPE the same way.
    std::signal(SIGPIPE, SIG_IGN);
    std::vector<int> ports = freePorts(12);
    topology::TopologyDesc d;
    d.domain = "localhost";
    d.assignment = topology::AssignmentMode::None;
    d.security.secure = false;
    d.srm.heartbeatInterval = std::chrono::milliseconds(100);
    d.srm.heartbeatTimeout = std::chrono::milliseconds(1000);
    d.srm.initHeartbeatTimeout = std::chrono::milliseconds(10'000);
    d.srm.reloginLowerLimit = std::chrono::seconds(30);
    d.srm.reloginUpperLimit = std::chrono::seconds(90);
    topology::ClusterDesc c;
    c.id = "c1";
    for (int i = 0; i < 4; ++i) {
      topology::NodeDesc n;
      n.id = "n" + std::to_string(i + 1);
      n.host = "127.0.0.1";
      n.c2sPort = ports[3 * i];
      n.r2rPort = ports[3 * i + 1];
      n.adminPort = ports[3 * i + 2];
      c.nodes.push_back(n);
    }
    c.groups.push_back(topology::GroupDesc{"g1", {"n1", "n2"}, std::nullopt});  // HA by default
    c.groups.push_back(topology::GroupDesc{"g2", {"n3", "n4"}, std::nullopt});
    d.clusters.push_back(std::move(c));
    auto t = topology::Topology::build(std::move(d));
    ASSERT_TRUE(t.isOk()) << t.error().detail;
    topology_ = std::make_shared<const topology::Topology>(std::move(t.value()));

    // One cluster store for both nodes, as nodes of a cluster on one host share it.
    NodeConfig cfg = NodeFixture::defaultConfig();
    cfg.storePath = (std::filesystem::temp_directory_path() /
                     ("xmesh-dual-" + std::to_string(ports[0]) + ".db")).string();
    storePath_ = cfg.storePath;
    for (const char* id : {"n1", "n2"}) {
      nodes_.push_back(std::make_unique<NodeFixture>(cfg));
      nodes_.back()->joinMesh(topology_, id);
    }
    NodeFixture& store = *nodes_[0];
    for (const char* u : {"alice", "carol"}) store.addUser(u, "n1");
    store.addUser("bob", "n2");
    store.addUser("dave", "n3");
    store.addUser("frank");  // unassigned: served by any node
    // alice and bob (homed on either node of the pair) see each other's presence.
    store::RosterItem toAlice, toBob;
    toAlice.contact = "alice@localhost";
    toAlice.sub = store::Sub::Both;
    toBob.contact = "bob@localhost";
    toBob.sub = store::Sub::Both;
    store.putRosterItem("bob", toAlice);
    store.putRosterItem("alice", toBob);
    nodes_[1]->start();  // the acceptor first: n1 dials n2
    nodes_[0]->start();
    // Ready: the pair's link is up and each node's SRM serves its own users.
    ASSERT_TRUE(eventually([&] {
      return node(0).servesHome("n1") && node(1).servesHome("n2") && !node(0).servesHome("n2") &&
             !node(1).servesHome("n1");
    })) << "the pair did not reach Normal/Normal";
  }
  void TearDown() override {
    for (auto& n : nodes_) n->stop();
    nodes_.clear();
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(storePath_ + suffix, ec);
  }

  template <typename Pred>
  static bool eventually(Pred pred, int timeoutMs = 10'000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  router::Node& node(size_t i) { return nodes_.at(i)->node(); }
  topology::NodeIndex index(const std::string& id) { return *topology_->nodeIndex(id); }
  int c2sPort(const std::string& id) { return topology_->node(index(id)).c2s.port; }
  uint64_t metric(size_t i, const std::string& name) { return sumMetric(node(i).renderMetrics(), name); }
  // An SRM admin command on node i (what xmeshctl failover/fallback sends).
  void command(size_t i, const char* name) {
    router::Redundancy* red = node(i).mesh() ? node(i).mesh()->redundancy() : nullptr;
    ASSERT_NE(red, nullptr);
    Status st = red->command(name);
    ASSERT_TRUE(st.isOk()) << name << " on n" << i + 1 << ": " << st.error().reason << " " << st.error().detail;
  }

  std::unique_ptr<XmppTestClient> connected(size_t i) {
    auto c = std::make_unique<XmppTestClient>();
    EXPECT_TRUE(c->connect(c2sPort(i == 0 ? "n1" : "n2")));
    EXPECT_TRUE(c->openStream() && c->startTls()) << c->lastError();
    return c;
  }
  std::unique_ptr<XmppTestClient> online(size_t i, const std::string& user, const std::string& resource = "r") {
    auto c = connected(i);
    EXPECT_TRUE(c->authScram(user, NodeFixture::password(user)) && c->bind(resource)) << user << ": " << c->lastError();
    return c;
  }
  // Authenticated, then bound inactive; returns the bind answer.
  std::optional<xml::Stanza> bindInactive(XmppTestClient& c, const std::string& user, const std::string& resource) {
    EXPECT_TRUE(c.authScram(user, NodeFixture::password(user))) << user << ": " << c.lastError();
    c.sendRaw("<iq type='set' id='bi'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + resource +
              "</resource><inactive xmlns='urn:xmesh:dual:0'/></bind></iq>");
    return c.waitFor(withId("bi"));
  }
  std::unique_ptr<XmppTestClient> inactive(size_t i, const std::string& user, const std::string& resource) {
    auto c = connected(i);
    auto r = bindInactive(*c, user, resource);
    EXPECT_TRUE(r && r->type == "result") << user << ": " << (r ? r->bytes : "timeout");
    return c;
  }
  std::optional<xml::Stanza> iq(XmppTestClient& c, const std::string& id, const std::string& body) {
    c.sendRaw(body);
    return c.waitFor(withId(id));
  }
  // A round trip on `c` that returns the stanzas that arrived before its answer: with
  // the routing decisions already made, proof that nothing else was delivered.
  std::vector<xml::Stanza> drainWithPing(XmppTestClient& c) {
    static int n = 0;
    std::string id = "drain" + std::to_string(++n);
    c.sendRaw("<iq type='get' id='" + id + "'><ping xmlns='urn:xmpp:ping'/></iq>");
    std::vector<xml::Stanza> before;
    while (auto s = c.next(3000)) {
      if (s->id == id) return before;
      before.push_back(std::move(*s));
    }
    ADD_FAILURE() << "no answer to " << id;
    return before;
  }

  std::shared_ptr<const topology::Topology> topology_;
  std::vector<std::unique_ptr<NodeFixture>> nodes_;
  std::string storePath_;
};

TEST_F(DualNodeTest, FeatureAndQueryNameTheBackupAndTheReloginWindow) {
  auto a = online(0, "alice");
  EXPECT_TRUE(has(a->lastFeatures(), "<dual xmlns='urn:xmesh:dual:0'/>")) << a->lastFeatures();
  auto q = iq(*a, "d1", "<iq type='get' id='d1'><query xmlns='urn:xmesh:dual:0'/></iq>");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->type, "result") << q->bytes;
  EXPECT_TRUE(has(q->bytes, "<backup node='n2' host='127.0.0.1' port='" + std::to_string(c2sPort("n2")) + "'/>"))
      << q->bytes;
  EXPECT_TRUE(has(q->bytes, "<relogin min='30' max='90'/>")) << q->bytes;
  auto f = online(0, "frank");
  auto none = iq(*f, "d2", "<iq type='get' id='d2'><query xmlns='urn:xmesh:dual:0'/></iq>");
  ASSERT_TRUE(none);
  EXPECT_TRUE(has(none->bytes, "<query xmlns='urn:xmesh:dual:0'/>")) << "no group, no backup: " << none->bytes;
}

// Seeds 004, "How to check if dual registration is established": a node's
// JsmSessionsClient equals its peer's JsmSessionsClientInactive.
TEST_F(DualNodeTest, InactiveSessionOnTheBackupIsCountedAndNeverRouted) {
  auto active = online(0, "alice", "laptop");
  active->sendPresence(1);
  auto backup = inactive(1, "alice", "laptop");
  EXPECT_EQ(metric(0, "xmesh_JsmSessionsClient"), 1u);
  EXPECT_EQ(metric(1, "xmesh_JsmSessionsClientInactive"), 1u);
  EXPECT_EQ(metric(1, "xmesh_InactiveJsmSessions"), 1u);
  EXPECT_EQ(metric(1, "xmesh_JsmSessionsComposed"), 1u);
  EXPECT_EQ(metric(1, "xmesh_ActiveJsmSessions"), 0u);

  // bob, served by n2, writes to alice: n2 holds her inactive session but routes to n1.
  auto bob = online(1, "bob");
  bob->sendMessage("alice@localhost", "to the bare JID");
  bob->sendMessage("alice@localhost/laptop", "to the full JID");
  for (const char* want : {"to the bare JID", "to the full JID"}) {
    auto m = active->waitFor([](const xml::Stanza& s) { return s.name == "message"; }, 5000);
    ASSERT_TRUE(m) << want;
    EXPECT_EQ(bodyOf(*m), want);
  }
  auto before = drainWithPing(*backup);
  EXPECT_TRUE(before.empty()) << "the inactive session got " << before.front().bytes;
}

TEST_F(DualNodeTest, StanzasOnAnInactiveSessionAreRefused) {
  auto b = inactive(1, "alice", "laptop");
  b->sendRaw("<message to='bob@localhost' id='m1'><body>x</body></message>");
  auto e = b->waitFor(withId("m1"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, "error");
  EXPECT_TRUE(has(e->bytes, "<not-allowed")) << e->bytes;
  b->sendRaw("<presence id='p1'/>");
  auto p = b->waitFor(withId("p1"));
  ASSERT_TRUE(p);
  EXPECT_TRUE(has(p->bytes, "<not-allowed")) << p->bytes;
  auto ping = iq(*b, "ping1", "<iq type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>");
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->type, "result") << "XEP-0199 keeps an inactive stream alive";
}

TEST_F(DualNodeTest, PlainBindOnTheBackupIsRedirectedToTheHome) {
  auto c = connected(1);
  ASSERT_TRUE(c->authScram("alice", NodeFixture::password("alice"))) << "SASL passes on the home's peer";
  EXPECT_FALSE(c->bind("r"));
  EXPECT_EQ(c->streamError(), "see-other-host");
  EXPECT_TRUE(c->waitClosed());
}

TEST_F(DualNodeTest, InactiveBindOutsideTheGroupIsNotAllowed) {
  // dave is homed on n3 (group g2): while n3 serves him, n1 redirects him at SASL.
  auto c = connected(0);
  EXPECT_FALSE(c->authScram("dave", NodeFixture::password("dave")));
  EXPECT_EQ(c->streamError(), "see-other-host");
  // With n3 and n4 both failed there is nowhere to send him: SASL passes, and n1 (not
  // in his group) still may not hold an inactive session of his.
  ASSERT_TRUE(node(0).failover().set(index("n3"), true));
  ASSERT_TRUE(node(0).failover().set(index("n4"), true));
  auto d = connected(0);
  auto r = bindInactive(*d, "dave", "backup");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, "error");
  EXPECT_TRUE(has(r->bytes, "<not-allowed")) << r->bytes;
  EXPECT_TRUE(has(r->bytes, "no node serves this user now")) << r->bytes;
  EXPECT_EQ(metric(0, "xmesh_InactiveJsmSessions"), 0u);
}

TEST_F(DualNodeTest, ActivationWaitsForTheFailoverOfTheHome) {
  auto active = online(0, "alice", "laptop");
  auto backup = inactive(1, "alice", "laptop");
  auto refused = iq(*backup, "a1", "<iq type='set' id='a1'><activate xmlns='urn:xmesh:dual:0' h='0'/></iq>");
  ASSERT_TRUE(refused);
  EXPECT_TRUE(has(refused->bytes, "<not-allowed")) << refused->bytes;
  EXPECT_TRUE(has(refused->bytes, "127.0.0.1:" + std::to_string(c2sPort("n1")))) << "names the serving node";

  nodes_[0]->stop();  // n1 goes down: n2 takes its users over (Peer Reboot)
  auto notice = backup->waitFor(dualNotice("failover"), 10'000);
  ASSERT_TRUE(notice) << "the inactive session is told to activate";
  EXPECT_TRUE(has(notice->bytes, "from-node='n1'")) << notice->bytes;
  backup->sendRaw("<iq type='result' id='" + notice->id + "'/>");
  auto ok = iq(*backup, "a2", "<iq type='set' id='a2'><activate xmlns='urn:xmesh:dual:0' h='5'/></iq>");
  ASSERT_TRUE(ok);
  EXPECT_TRUE(has(ok->bytes, "<activated xmlns='urn:xmesh:dual:0' presence-restored='false' pending='0'/>"))
      << ok->bytes;
  EXPECT_EQ(metric(1, "xmesh_InactiveJsmSessions"), 0u);

  backup->sendPresence();
  auto bob = online(1, "bob");
  bob->sendMessage("alice@localhost", "served by n2 now");
  auto m = backup->waitFor([](const xml::Stanza& s) { return s.name == "message"; }, 5000);
  ASSERT_TRUE(m);
  EXPECT_EQ(bodyOf(*m), "served by n2 now");
}

// The whole round trip of §5-6 with the SRM's admin commands: the dual client moves to
// the backup and back without a reconnect; the plain client is redirected.
TEST_F(DualNodeTest, AdminFailoverAndFallbackMoveADualClientWithoutReconnecting) {
  auto bob = online(1, "bob");  // served by n2 throughout; alice's contact
  bob->sendPresence();
  auto carol = online(0, "carol");
  auto home = online(0, "alice", "laptop");
  ASSERT_TRUE(iq(*home, "d1", "<iq type='get' id='d1'><query xmlns='urn:xmesh:dual:0'/></iq>"));
  home->sendRaw("<presence><show>dnd</show></presence>");
  auto presenceWith = [](std::string show) {
    return [show](const xml::Stanza& s) { return s.name == "presence" && has(s.bytes, "<show>" + show + "</show>"); };
  };
  auto unavailable = [](const xml::Stanza& s) { return s.name == "presence" && s.type == "unavailable"; };
  ASSERT_TRUE(bob->waitFor(presenceWith("dnd"), 5000));
  auto backup = inactive(1, "alice", "laptop");

  command(0, "failover");  // n1's users move to n2
  ASSERT_TRUE(home->waitFor(dualNotice("deactivated"), 10'000)) << "the active session on n1 is demoted";
  auto redirect = carol->waitFor([](const xml::Stanza& s) { return s.name == "error"; }, 10'000);
  ASSERT_TRUE(redirect) << "the plain client on n1 is sent away";
  EXPECT_TRUE(has(redirect->bytes, "<see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>127.0.0.1:" +
                                       std::to_string(c2sPort("n2")) + "</see-other-host>"))
      << redirect->bytes;
  EXPECT_TRUE(carol->waitClosed());
  auto gone = bob->waitFor(unavailable, 5000);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->from, "alice@localhost/laptop");
  auto notice = backup->waitFor(dualNotice("failover"), 10'000);
  ASSERT_TRUE(notice);
  EXPECT_TRUE(has(notice->bytes, "from-node='n1'")) << notice->bytes;
  auto ok = iq(*backup, "a1", "<iq type='set' id='a1'><activate xmlns='urn:xmesh:dual:0' h='0'/></iq>");
  ASSERT_TRUE(ok);
  // n1 replicated the session's presence: n2 restores it for the contacts.
  EXPECT_TRUE(has(ok->bytes, "presence-restored='true'")) << ok->bytes;
  ASSERT_TRUE(bob->waitFor(presenceWith("dnd"), 5000)) << "contacts see the replicated presence";
  backup->sendRaw("<presence><show>away</show></presence>");
  ASSERT_TRUE(bob->waitFor(presenceWith("away"), 5000));
  EXPECT_EQ(metric(0, "xmesh_JsmSessionsClientInactive"), 1u);
  EXPECT_EQ(metric(1, "xmesh_JsmSessionsClient"), 2u);  // bob, alice
  home->sendRaw("<presence id='p2'/>");
  auto refused = home->waitFor(withId("p2"));
  ASSERT_TRUE(refused);
  EXPECT_TRUE(has(refused->bytes, "<not-allowed")) << refused->bytes;

  command(0, "fallback");  // and back home
  ASSERT_TRUE(backup->waitFor(dualNotice("deactivated"), 10'000)) << "the session on n2 is demoted";
  auto fallback = home->waitFor(dualNotice("fallback"), 10'000);
  ASSERT_TRUE(fallback) << "the session on n1 is told to activate";
  EXPECT_TRUE(has(fallback->bytes, "to-node='n1'")) << fallback->bytes;
  ok = iq(*home, "a2", "<iq type='set' id='a2'><activate xmlns='urn:xmesh:dual:0' h='0'/></iq>");
  ASSERT_TRUE(ok);
  // n2 replicated the presence the user set there (§4): n1 restores that one, not the
  // one its own session had before the failover.
  EXPECT_TRUE(has(ok->bytes, "presence-restored='true'")) << ok->bytes;
  ASSERT_TRUE(bob->waitFor(presenceWith("away"), 5000)) << "contacts see the replicated presence";
  EXPECT_EQ(metric(0, "xmesh_JsmSessionsClient"), 1u);
  EXPECT_EQ(metric(1, "xmesh_JsmSessionsClientInactive"), 1u);
  EXPECT_FALSE(home->waitClosed(0));
}

// §4-5: the stanzas a stream wrote and the client never acknowledged are replicated to
// the peer; the client's activation there gets exactly those after its `h`, and the old
// node, which handed them over at the demotion, does not store them offline as well.
TEST_F(DualNodeTest, UnacknowledgedStanzasFollowTheClientToThePeerExactlyOnce) {
  auto bob = online(1, "bob");
  auto home = online(0, "alice", "laptop");
  ASSERT_TRUE(iq(*home, "d1", "<iq type='get' id='d1'><query xmlns='urn:xmesh:dual:0'/></iq>"));
  home->sendRaw("<enable xmlns='urn:xmpp:sm:3'/>");
  ASSERT_TRUE(home->waitFor([](const xml::Stanza& s) { return s.name == "enabled"; }));
  auto backup = inactive(1, "alice", "laptop");
  for (const char* body : {"one", "two", "three"}) bob->sendMessage("alice@localhost/laptop", body);
  std::vector<std::string> seen;
  while (seen.size() < 3) {
    auto m = home->waitFor([](const xml::Stanza& s) { return s.name == "message"; }, 5000);
    ASSERT_TRUE(m) << "only " << seen.size() << " messages on n1";
    seen.push_back(bodyOf(*m));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"one", "two", "three"}));
  // The peer holds all three until the client acknowledges them.
  ASSERT_TRUE(eventually([&] { return metric(1, "xmesh_replica_stanzas") == 3; }))
      << metric(1, "xmesh_replica_stanzas");

  command(0, "failover");
  ASSERT_TRUE(home->waitFor(dualNotice("deactivated"), 10'000));
  ASSERT_TRUE(backup->waitFor(dualNotice("failover"), 10'000));
  // The client handled the first one only (say its stream broke): two come again.
  auto ok = iq(*backup, "a1", "<iq type='set' id='a1'><activate xmlns='urn:xmesh:dual:0' h='1'/></iq>");
  ASSERT_TRUE(ok);
  EXPECT_TRUE(has(ok->bytes, "pending='2'")) << ok->bytes;
  std::vector<std::string> again;
  for (const auto& s : drainWithPing(*backup))
    if (s.name == "message") again.push_back(bodyOf(s));
  EXPECT_EQ(again, (std::vector<std::string>{"two", "three"}));

  // The demoted stream ends without an ack: its stanzas were handed over, so nothing of
  // them reaches offline storage on n1 (it would come as a duplicate at the next login).
  home->closeStream();
  ASSERT_TRUE(eventually([&] { return metric(0, "xmesh_JsmSessionsComposed") == 0; }));
  auto store = nodes_[0]->openStore();
  auto offline = store->peekOffline("alice", 10);
  ASSERT_TRUE(offline.isOk());
  EXPECT_TRUE(offline.value().empty()) << offline.value().size() << " stored offline";
}

// "Handled" means on the peer: a sender's XEP-0198 <a/> comes only once the replica
// records of what its stanzas caused are acknowledged by the PRG peer, so a kill -9 of
// this node right after the answer loses nothing the answer counted.
TEST_F(DualNodeTest, AckRequestIsAnsweredOnlyOnceTheDeliveriesAreOnThePeer) {
  auto alice = online(0, "alice", "laptop");
  alice->sendRaw("<enable xmlns='urn:xmpp:sm:3'/>");
  ASSERT_TRUE(alice->waitFor([](const xml::Stanza& s) { return s.name == "enabled"; }));
  auto carol = online(0, "carol");
  carol->sendRaw("<enable xmlns='urn:xmpp:sm:3'/>");
  ASSERT_TRUE(carol->waitFor([](const xml::Stanza& s) { return s.name == "enabled"; }));
  const uint64_t before = metric(1, "xmesh_replica_stanzas");
  for (int round = 1; round <= 3; ++round) {
    for (int i = 0; i < 5; ++i) carol->sendMessage("alice@localhost/laptop", "m" + std::to_string(i));
    carol->sendRaw("<r xmlns='urn:xmpp:sm:3'/>");
    auto a = carol->waitFor([](const xml::Stanza& s) { return s.name == "a"; }, 5000);
    ASSERT_TRUE(a);
    EXPECT_TRUE(has(a->bytes, "h='" + std::to_string(5 * round) + "'")) << a->bytes;
    // Read at once, no waiting: the answer implies the peer holds the deliveries.
    EXPECT_GE(metric(1, "xmesh_replica_stanzas"), before + 5u * round) << "round " << round;
  }
}

}  // namespace
}  // namespace xmesh::testing
