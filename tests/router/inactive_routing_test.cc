// The router never picks an inactive (dual, docs/dual-connections.md §3) session: not
// for a roster push, not for an error back to a sender of the same full JID (that user
// is active on the node that serves it). Routing of messages, presence and probes around
// inactive sessions is covered through real sessions in tests/session/dual_session_test.cc.
#include <gtest/gtest.h>

#include <map>

#include "router/stanza_router.h"

namespace xmesh::router {
namespace {

class RecordingEnv final : public RouterEnv {
 public:
  void deliver(const SessionRef& to, SharedBytes bytes, StanzaClass, std::shared_ptr<const RoutedStanza>) override {
    delivered.emplace_back(to, *bytes);
  }
  bool submitStore(std::function<void(store::Store&)>, std::string_view) override { return true; }
  void offlineArrived(const SessionRef&) override {}
  void post(std::function<void()> fn) override { fn(); }
  uint32_t loopIndex() const override { return 0; }
  void runOn(uint32_t, std::function<void()> task) override { task(); }
  LoopStats& stats() override { return stats_; }
  int64_t nowMs() const override { return 1000; }
  DeferredOfflineWrites& deferredOffline() override { return deferred_; }
  DeferredOfflineWrites deferred_;

  std::vector<std::pair<SessionRef, std::string>> delivered;
  LoopStats stats_;
};

class OneRemoteUser final : public MeshRoutes {
 public:
  std::optional<topology::NodeIndex> remoteServer(std::string_view user) const override {
    if (user == remoteUser) return topology::NodeIndex{1};
    return std::nullopt;
  }
  void forward(RouterEnv&, topology::NodeIndex node, std::shared_ptr<const RoutedStanza> s) override {
    forwarded.emplace_back(node, s);
  }
  void forwardFanout(RouterEnv&, topology::NodeIndex, std::vector<std::string>, SharedBytes) override {}
  bool directoryPending() const override { return false; }
  void retryLater(RouterEnv&, std::shared_ptr<const RoutedStanza>) override {}

  std::string remoteUser;
  std::vector<std::pair<topology::NodeIndex, std::shared_ptr<const RoutedStanza>>> forwarded;
};

struct InactiveRoutingTest : ::testing::Test {
  InactiveRoutingTest() : router(config, directory) {
    config.domain = "example.com";
    router.setMesh(&mesh);
  }
  void bind(std::string_view bare, std::string resource, SessionRef ref, bool active) {
    directory.write(bare, [&](UserEntry& u) {
      ResourceEntry r;
      r.resource = std::move(resource);
      r.ref = ref;
      r.active = active;
      r.interested = true;
      u.resources.push_back(std::move(r));
      u.rosterLoaded = true;
    });
  }
  NodeConfig config;
  Directory directory;
  StanzaRouter router;
  OneRemoteUser mesh;
  RecordingEnv env;
};

TEST_F(InactiveRoutingTest, RosterPushSkipsInactiveResources) {
  bind("alice@example.com", "desk", SessionRef{0, 1}, false);
  bind("alice@example.com", "phone", SessionRef{0, 2}, true);
  RosterEntry item{InternedJid("zed@example.com"), {}, {}};
  item.state.exists = true;
  router.pushRoster(env, "alice@example.com", item, false);
  ASSERT_EQ(env.delivered.size(), 1u);
  EXPECT_EQ(env.delivered[0].first, (SessionRef{0, 2}));
}

TEST_F(InactiveRoutingTest, ErrorToASenderInactiveHereGoesToItsServingNode) {
  // alice is active on node 1 and inactive here with the same resource.
  bind("alice@example.com", "desk", SessionRef{0, 1}, false);
  mesh.remoteUser = "alice";
  auto s = std::make_shared<RoutedStanza>();
  s->kind = StanzaKind::Iq;
  s->name = "iq";
  s->type = "get";
  s->id = "q1";
  s->from = jid::Jid::parse("alice@example.com/desk").value();
  s->to = jid::Jid::parse("nobody@example.com/x").value();
  router.bounceWith(env, *s, "service-unavailable");
  EXPECT_TRUE(env.delivered.empty()) << "delivered to the inactive session: " << env.delivered[0].second;
  ASSERT_EQ(mesh.forwarded.size(), 1u);
  EXPECT_EQ(mesh.forwarded[0].first, topology::NodeIndex{1});
  EXPECT_EQ(mesh.forwarded[0].second->to.full(), "alice@example.com/desk");
}

}  // namespace
}  // namespace xmesh::router
