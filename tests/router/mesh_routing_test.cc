// The StanzaRouter's mesh decisions: what goes to another node, in how many copies, and
// what a stanza that arrived from the mesh may still do here. A recording MeshRoutes
// stands in for the links (tests/integration and tests/mesh drive the real ones).
#include <gtest/gtest.h>

#include <map>

#include "router/stanza_builder.h"
#include "router/stanza_router.h"

namespace xmesh::router {
namespace {

class RecordingEnv final : public RouterEnv {
 public:
  void deliver(const SessionRef& to, SharedBytes bytes, StanzaClass,
               std::shared_ptr<const RoutedStanza>) override {
    delivered.emplace_back(to, *bytes);
  }
  bool submitStore(std::function<void(store::Store&)>, std::string_view) override {
    ++storeJobs;
    return true;
  }
  void offlineArrived(const SessionRef&) override {}
  void post(std::function<void()> fn) override { fn(); }
  uint32_t loopIndex() const override { return 0; }
  void runOn(uint32_t, std::function<void()> task) override { task(); }
  LoopStats& stats() override { return stats_; }
  int64_t nowMs() const override { return 1000; }
  DeferredOfflineWrites& deferredOffline() override { return deferred_; }
  DeferredOfflineWrites deferred_;

  std::vector<std::pair<SessionRef, std::string>> delivered;
  int storeJobs = 0;
  LoopStats stats_;
};

class RecordingMesh final : public MeshRoutes {
 public:
  std::optional<topology::NodeIndex> remoteServer(std::string_view user) const override {
    auto it = servedBy.find(std::string(user));
    if (it == servedBy.end()) return std::nullopt;
    return it->second;
  }
  void forward(RouterEnv&, topology::NodeIndex node, std::shared_ptr<const RoutedStanza> s) override {
    forwarded.emplace_back(node, s);
  }
  void forwardFanout(RouterEnv&, topology::NodeIndex node, std::vector<std::string> recipients,
                     SharedBytes presence) override {
    fanouts.push_back({node, std::move(recipients), *presence});
  }
  bool directoryPending() const override { return pending; }
  void retryLater(RouterEnv&, std::shared_ptr<const RoutedStanza> s) override { retried.push_back(s); }

  bool pending = false;
  std::vector<std::shared_ptr<const RoutedStanza>> retried;

  struct Fanout {
    topology::NodeIndex node;
    std::vector<std::string> recipients;
    std::string bytes;
  };
  std::map<std::string, topology::NodeIndex> servedBy;
  std::vector<std::pair<topology::NodeIndex, std::shared_ptr<const RoutedStanza>>> forwarded;
  std::vector<Fanout> fanouts;
};

jid::Jid J(std::string_view s) { return jid::Jid::parse(s).value(); }

RosterEntry item(std::string_view contact, roster::Sub sub) {
  RosterEntry e{InternedJid(contact), {}, {}};
  e.state.sub = sub;
  e.state.exists = true;
  return e;
}

struct Fixture : ::testing::Test {
  Fixture() : router(config, directory) {
    config.domain = "example.com";
    router.setMesh(&mesh);
  }
  // A user online here with one available resource and the given roster.
  void online(std::string_view bare, SessionRef ref, std::vector<RosterEntry> roster = {},
              SharedBytes lastPresence = nullptr) {
    directory.write(bare, [&](UserEntry& u) {
      ResourceEntry r;
      r.resource = "desk";
      r.ref = ref;
      r.available = true;
      r.lastPresence = std::move(lastPresence);
      u.resources.push_back(std::move(r));
      u.roster = std::move(roster);
      u.rosterLoaded = true;
    });
  }
  std::shared_ptr<RoutedStanza> message(std::string_view from, std::string_view to) {
    auto s = std::make_shared<RoutedStanza>();
    s->kind = StanzaKind::Message;
    s->name = "message";
    s->type = "chat";
    s->from = J(from);
    s->to = J(to);
    s->bytes = makeShared("<message from='" + std::string(from) + "' to='" + std::string(to) +
                          "' type='chat'><body>hi</body></message>");
    return s;
  }

  NodeConfig config;
  Directory directory;
  StanzaRouter router;
  RecordingMesh mesh;
  RecordingEnv env;
};

TEST_F(Fixture, AMessageForAUserServedElsewhereGoesToThatNodeOnly) {
  mesh.servedBy["bob"] = 3;
  online("alice@example.com", {0, 1});
  router.route(env, message("alice@example.com/desk", "bob@example.com"));
  ASSERT_EQ(mesh.forwarded.size(), 1u);
  EXPECT_EQ(mesh.forwarded[0].first, 3);
  EXPECT_EQ(mesh.forwarded[0].second->to.bareString(), "bob@example.com");
  EXPECT_TRUE(env.delivered.empty());
  EXPECT_EQ(env.storeJobs, 0);  // not stored here: bob's node stores it if bob is offline
}

TEST_F(Fixture, AStanzaFromTheMeshIsNeverForwardedAgain) {
  // Our directory places carol on node 2, but node 1 sent her a message: handled here.
  mesh.servedBy["carol"] = 2;
  online("carol@example.com", {1, 9});
  auto s = message("dave@example.com/x", "carol@example.com");
  s->viaNode = 1;
  router.route(env, s);
  EXPECT_TRUE(mesh.forwarded.empty());
  ASSERT_EQ(env.delivered.size(), 1u);
  EXPECT_EQ(env.delivered[0].first, (SessionRef{1, 9}));
}

TEST_F(Fixture, PresenceFansOutOncePerRemoteNodeWithItsRecipients) {
  mesh.servedBy = {{"b1", 1}, {"b2", 1}, {"b3", 1}, {"c1", 2}, {"c2", 2}};
  std::vector<RosterEntry> roster;
  for (auto c : {"b1", "b2", "b3", "c1", "c2", "local"})
    roster.push_back(item(std::string(c) + "@example.com", roster::Sub::Both));
  online("alice@example.com", {0, 1}, roster);
  online("local@example.com", {1, 2});
  auto bytes = makeShared("<presence from='alice@example.com/desk'><show>away</show></presence>");
  router.broadcastPresence(env, J("alice@example.com/desk"), {0, 1}, bytes, true, 0);
  ASSERT_EQ(mesh.fanouts.size(), 2u);
  std::map<topology::NodeIndex, std::vector<std::string>> byNode;
  for (auto& f : mesh.fanouts) byNode[f.node] = f.recipients;
  EXPECT_EQ(byNode[1], (std::vector<std::string>{"b1@example.com", "b2@example.com", "b3@example.com"}));
  EXPECT_EQ(byNode[2], (std::vector<std::string>{"c1@example.com", "c2@example.com"}));
  // The local subscriber got it directly.
  bool localGot = false;
  for (auto& [ref, b] : env.delivered) localGot = localGot || ref == SessionRef{1, 2};
  EXPECT_TRUE(localGot);
}

TEST_F(Fixture, InitialPresenceProbesRemoteContactsThroughTheirNodes) {
  mesh.servedBy = {{"bob", 4}};
  // alice was online but not yet available; her roster has bob (to).
  directory.write("alice@example.com", [&](UserEntry& u) {
    ResourceEntry r;
    r.resource = "desk";
    r.ref = {0, 1};
    u.resources.push_back(r);
    u.roster = {item("bob@example.com", roster::Sub::To)};
    u.rosterLoaded = true;
  });
  router.broadcastPresence(env, J("alice@example.com/desk"), {0, 1},
                           makeShared("<presence from='alice@example.com/desk'/>"), true, 0);
  ASSERT_EQ(mesh.forwarded.size(), 1u);
  EXPECT_EQ(mesh.forwarded[0].first, 4);
  EXPECT_EQ(mesh.forwarded[0].second->type, "probe");
  EXPECT_NE(mesh.forwarded[0].second->bytes->find("type='probe'"), std::string::npos);
  EXPECT_NE(mesh.forwarded[0].second->bytes->find("to='bob@example.com'"), std::string::npos);
}

TEST_F(Fixture, ARemoteProbeIsAnsweredOnlyForASubscribedProber) {
  mesh.servedBy = {{"alice", 5}, {"eve", 5}};
  online("bob@example.com", {0, 7}, {item("alice@example.com", roster::Sub::From)},
         makeShared("<presence from='bob@example.com/desk'><show>dnd</show></presence>"));
  auto probe = [&](std::string_view from) {
    auto p = std::make_shared<RoutedStanza>();
    p->kind = StanzaKind::Presence;
    p->name = "presence";
    p->type = "probe";
    p->from = J(from);
    p->to = J("bob@example.com");
    p->bytes = makeShared(buildPresence(from, "bob@example.com", "probe"));
    p->viaNode = 5;
    router.route(env, p);
  };
  probe("eve@example.com/x");  // not subscribed: nothing
  EXPECT_TRUE(mesh.forwarded.empty());
  probe("alice@example.com/laptop");
  ASSERT_EQ(mesh.forwarded.size(), 1u);
  EXPECT_EQ(mesh.forwarded[0].first, 5);
  const std::string& reply = *mesh.forwarded[0].second->bytes;
  EXPECT_NE(reply.find("to='alice@example.com/laptop'"), std::string::npos) << reply;
  EXPECT_NE(reply.find("<show>dnd</show>"), std::string::npos);
}

TEST_F(Fixture, AnErrorForASenderOnAnotherNodeGoesBackOverTheMesh) {
  mesh.servedBy = {{"alice", 2}};
  auto iq = std::make_shared<RoutedStanza>();
  iq->kind = StanzaKind::Iq;
  iq->name = "iq";
  iq->type = "get";
  iq->id = "q1";
  iq->from = J("alice@example.com/desk");
  iq->to = J("bob@example.com");  // a bare-JID request: service-unavailable
  iq->bytes = makeShared("<iq from='alice@example.com/desk' to='bob@example.com' type='get' id='q1'/>");
  iq->viaNode = 2;
  router.route(env, iq);
  ASSERT_EQ(mesh.forwarded.size(), 1u);
  EXPECT_EQ(mesh.forwarded[0].first, 2);
  EXPECT_EQ(mesh.forwarded[0].second->type, "error");
  EXPECT_NE(mesh.forwarded[0].second->bytes->find("service-unavailable"), std::string::npos);
}

TEST_F(Fixture, AFanoutFromTheMeshReachesEveryAvailableRecipientHere) {
  online("b1@example.com", {0, 1});
  online("b2@example.com", {1, 2});
  router.deliverFanout(env, {"b1@example.com", "b2@example.com", "gone@example.com"},
                       makeShared("<presence from='alice@example.com/desk'/>"));
  EXPECT_EQ(env.delivered.size(), 2u);
}

TEST(StanzaBuilder, WithToAttributeAddressesABroadcastPresence) {
  EXPECT_EQ(withToAttribute("<presence from='a@d/r'><show>away</show></presence>", "b@d/x"),
            "<presence to='b@d/x' from='a@d/r'><show>away</show></presence>");
  EXPECT_EQ(withToAttribute("<presence/>", "b&c@d"), "<presence to='b&amp;c@d'/>");
}

}  // namespace
}  // namespace xmesh::router
