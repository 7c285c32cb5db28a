// The mesh in one process: two (in one case three) real Nodes with two loops each, joined
// by r2r links over real sockets (mutual TLS 1.3 with a generated CA, or plain TCP), and
// real clients. Every cross-node path here also crosses loops: a session on loop 1 hands
// its forward to the mesh loop 0, the link carries it, the peer's loop 0 hands it to a
// session on its loop 1. These run under TSan (label "tsan") and ASan in CI.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <deque>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "router/mesh_node.h"
#include "store/sqlite_store.h"
#include "tests/integration/mesh_fixture.h"
#include "tests/support/xmpp_test_client.h"

namespace xmesh::testing {
namespace {

constexpr int kTimeoutMs = 10000;

// libuv writes with write(2): a peer node closing its link (or a client its socket) must
// not SIGPIPE the test process. xmeshd's main ignores SIGPIPE the same way.
class IgnoreSigpipe : public ::testing::Environment {
 public:
  void SetUp() override { std::signal(SIGPIPE, SIG_IGN); }
};
[[maybe_unused]] ::testing::Environment* const kIgnoreSigpipe =
    ::testing::AddGlobalTestEnvironment(new IgnoreSigpipe);

std::string bodyOf(const xml::Stanza& s) {
  auto el = xml::parseElement(s.bytes, s.ns);
  if (!el.isOk()) return {};
  const xml::Element* b = el->child("body");
  return b ? b->text() : std::string();
}

bool isMessage(const xml::Stanza& s) { return s.name == "message"; }

template <typename Pred>
bool waitUntil(Pred pred, int timeoutMs = kTimeoutMs) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// One logged-in client, and the stanzas it read but no expectation consumed yet, so that
// expectations on one client may be met in any order.
struct User {
  std::string name;
  size_t node = 0;
  uint32_t loop = 0;
  std::unique_ptr<XmppTestClient> client;
  std::deque<xml::Stanza> held;

  std::string bare() const { return name + "@localhost"; }
  std::string full() const { return name + "@localhost/r"; }

  template <typename Pred>
  std::optional<xml::Stanza> take(Pred pred, int timeoutMs = kTimeoutMs) {
    for (auto it = held.begin(); it != held.end(); ++it) {
      if (pred(*it)) {
        xml::Stanza s = std::move(*it);
        held.erase(it);
        return s;
      }
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto s = client->next(static_cast<int>(left.count()));
      if (!s) return std::nullopt;
      if (pred(*s)) return s;
      held.push_back(std::move(*s));
    }
  }
};

auto presenceFrom(const std::string& from, const std::string& type) {
  return [from, type](const xml::Stanza& s) { return s.name == "presence" && s.from == from && s.type == type; };
}

auto rosterPush(const std::string& contact, const std::string& subscription) {
  return [contact, subscription](const xml::Stanza& s) {
    return s.name == "iq" && s.type == "set" && s.bytes.find("jid='" + contact + "'") != std::string::npos &&
           s.bytes.find("subscription='" + subscription + "'") != std::string::npos;
  };
}

// Message bodies are "<sender>:<seq>", and "<sender>:end" after a sender's last one.
void sendSeq(User& from, const User& to, int seq) {
  from.client->sendMessage(to.bare(), from.name + ":" + std::to_string(seq));
}
void sendEnd(User& from, const User& to) { from.client->sendMessage(to.bare(), from.name + ":end"); }

// Reads `u`'s messages until every sender in `senders` sent its end marker: the sequence
// numbers per sender, in arrival order. A sender's stanzas keep their order end to end,
// so anything lost shows up as a gap and anything duplicated as a repeat before "end".
std::map<std::string, std::vector<int>> readUntilEnd(User& u, const std::vector<std::string>& senders,
                                                     int timeoutMs = kTimeoutMs) {
  std::map<std::string, std::vector<int>> got;
  std::set<std::string> open(senders.begin(), senders.end());
  while (!open.empty()) {
    auto s = u.take(isMessage, timeoutMs);
    if (!s) {
      ADD_FAILURE() << u.name << " timed out waiting for the end from " << *open.begin();
      return got;
    }
    EXPECT_NE(s->type, "error") << u.name << " got an error: " << s->bytes;
    std::string body = bodyOf(*s);
    auto colon = body.find(':');
    std::string sender = body.substr(0, colon);
    EXPECT_EQ(s->from, sender + "@localhost/r") << "from not stamped by the sender's node";
    EXPECT_EQ(s->to.rfind(u.bare(), 0), 0u) << s->bytes;
    std::string rest = colon == std::string::npos ? std::string() : body.substr(colon + 1);
    if (rest == "end") {
      EXPECT_EQ(open.erase(sender), 1u) << u.name << ": unexpected or second end from " << sender;
      continue;
    }
    EXPECT_TRUE(open.count(sender)) << u.name << ": message after the end from " << sender;
    got[sender].push_back(std::stoi(rest));
  }
  return got;
}

std::vector<int> range(int first, int end, int step = 1) {
  std::vector<int> v;
  for (int i = first; i < end; i += step) v.push_back(i);
  return v;
}

std::vector<std::string> namesOf(const std::vector<User>& users) {
  std::vector<std::string> v;
  for (const auto& u : users) v.push_back(u.name);
  return v;
}

uint64_t crossLoopSent(router::Node& n, uint32_t loop) {
  return n.loop(loop).statsView().crossLoopSent.load(std::memory_order_relaxed);
}

class MeshNodeTest : public ::testing::Test {
 protected:
  // Logs `name` in on node `node`. With `loop`, reconnects until the kernel's
  // SO_REUSEPORT spread lands the connection on that loop (told by the loops' accept
  // counters; this test is the only one connecting to the node meanwhile).
  User login(const std::string& name, size_t node, std::optional<uint32_t> loop = std::nullopt) {
    router::Node& n = mesh_->node(node);
    auto accepted = [&n] {
      std::vector<uint64_t> v;
      for (uint32_t l = 0; l < n.loopCount(); ++l)
        v.push_back(n.loop(l).statsView().connectionsAccepted.load(std::memory_order_relaxed));
      return v;
    };
    for (int attempt = 0; attempt < 64; ++attempt) {
      std::vector<uint64_t> before = accepted();
      auto c = std::make_unique<XmppTestClient>();
      if (!c->connect(mesh_->c2sPort(node)) || !c->openStream())
        throw std::runtime_error(name + ": " + c->lastError());
      // The stream features came back: the accepting loop has counted the connection.
      std::vector<uint64_t> after = accepted();
      std::optional<uint32_t> landed;
      for (uint32_t l = 0; l < after.size(); ++l)
        if (after[l] != before[l]) landed = l;
      if (!landed) throw std::runtime_error(name + ": no loop counted the connection");
      if (loop && *landed != *loop) continue;  // closed by the destructor; try again
      if (!c->startTls() || !c->authScram(name, NodeFixture::password(name)) || !c->bind("r"))
        throw std::runtime_error(name + " on " + MeshFixture::nodeId(node) + ": " + c->lastError());
      User u;
      u.name = name;
      u.node = node;
      u.loop = *landed;
      u.client = std::move(c);
      return u;
    }
    throw std::runtime_error(name + ": never landed on loop " + std::to_string(*loop));
  }

  // A round trip through the session: everything `u` sent before has been handled.
  static void sync(User& u) {
    static std::atomic<int> counter{0};
    std::string id = "sync" + std::to_string(++counter);
    u.client->sendRaw("<iq type='get' id='" + id + "'><ping xmlns='urn:xmpp:ping'/></iq>");
    if (!u.take([&id](const xml::Stanza& s) { return s.name == "iq" && s.id == id; }))
      throw std::runtime_error(u.name + ": no answer to " + id);
  }

  // Initial presence (a bare-JID message reaches available resources only), then a
  // round trip so the directory has it before anyone sends.
  static void available(User& u) {
    u.client->sendPresence();
    sync(u);
  }

  std::unique_ptr<MeshFixture> mesh_;
};

// ---------------------------------------------------------------- 1. messages

class MeshMessagingTest : public MeshNodeTest, public ::testing::WithParamInterface<bool> {};

TEST_P(MeshMessagingTest, MessagesBothWaysAndABurstArriveInOrderAcrossLoopsAndNodes) {
  mesh_ = std::make_unique<MeshFixture>(MeshOptions{.nodes = 2, .secure = GetParam()});
  for (int i = 0; i < 4; ++i) {
    mesh_->addUser("a" + std::to_string(i), 0);
    mesh_->addUser("b" + std::to_string(i), 1);
  }
  mesh_->start();
  // a0, a2 / b0, b2 on loop 0 (the mesh loop); a1, a3 / b1, b3 on loop 1.
  std::vector<User> as, bs;
  for (uint32_t i = 0; i < 4; ++i) as.push_back(login("a" + std::to_string(i), 0, i % 2));
  for (uint32_t i = 0; i < 4; ++i) bs.push_back(login("b" + std::to_string(i), 1, i % 2));
  for (auto& u : as) available(u);
  for (auto& u : bs) available(u);

  // Every pair, both ways.
  constexpr int kPerPair = 5;
  for (int k = 0; k < kPerPair; ++k)
    for (auto& a : as)
      for (auto& b : bs) {
        sendSeq(a, b, k);
        sendSeq(b, a, k);
      }
  for (auto& a : as)
    for (auto& b : bs) {
      sendEnd(a, b);
      sendEnd(b, a);
    }
  for (auto* side : {&as, &bs}) {
    const std::vector<User>& senders = side == &as ? bs : as;
    for (auto& u : *side) {
      auto got = readUntilEnd(u, namesOf(senders));
      for (const auto& s : senders) EXPECT_EQ(got[s.name], range(0, kPerPair)) << s.name << " -> " << u.name;
    }
  }

  // A burst: 4 senders on n1 (both loops), 500 messages each, round-robin over the 4
  // receivers on n2 (both loops), sent interleaved so every path is busy at once.
  const uint64_t forwarded = mesh_->metric(0, "xmesh_mesh_forwarded_total");
  const uint64_t refused = mesh_->metric(0, "xmesh_mesh_forward_refused_total");
  const uint64_t received = mesh_->metric(1, "xmesh_mesh_received_total");
  const uint64_t hopsToMeshLoop = crossLoopSent(mesh_->node(0), 1);
  const uint64_t hopsFromMeshLoop = crossLoopSent(mesh_->node(1), 0);
  constexpr int kBurst = 500;
  for (int k = 0; k < kBurst; ++k)
    for (auto& a : as) sendSeq(a, bs[static_cast<size_t>(k) % bs.size()], k);
  for (auto& a : as)
    for (auto& b : bs) sendEnd(a, b);
  for (size_t j = 0; j < bs.size(); ++j) {
    auto got = readUntilEnd(bs[j], namesOf(as), 30000);
    for (const auto& a : as)
      EXPECT_EQ(got[a.name], range(static_cast<int>(j), kBurst, 4)) << a.name << " -> " << bs[j].name;
  }
  // Conservation over the burst: every stanza sent went into the link once and came out
  // of it once (2,000 messages + 16 end markers).
  constexpr uint64_t kSent = 4 * kBurst + 16;
  EXPECT_EQ(mesh_->metric(0, "xmesh_mesh_forwarded_total") - forwarded, kSent);
  EXPECT_EQ(mesh_->metric(0, "xmesh_mesh_forward_refused_total") - refused, 0u);
  EXPECT_EQ(mesh_->metric(1, "xmesh_mesh_received_total") - received, kSent);
  // The loop-1 senders' stanzas went to the mesh loop through the loop queues, and the
  // loop-1 receivers' ones came from the peer's mesh loop through them (>= a1+a3's
  // 1,000 and b1+b3's 1,000; other tasks use the queues too).
  EXPECT_GE(crossLoopSent(mesh_->node(0), 1) - hopsToMeshLoop, 2u * kBurst);
  EXPECT_GE(crossLoopSent(mesh_->node(1), 0) - hopsFromMeshLoop, 2u * kBurst);
}

// The link's transport is cut (as a network reset would) between chunks of traffic both
// ways, alternately from each side: the r2r acknowledgements and resends must deliver
// every stanza exactly once and in order across the reconnects.
TEST_P(MeshMessagingTest, LinkResetsBetweenChunksLoseAndDuplicateNothing) {
  mesh_ = std::make_unique<MeshFixture>(MeshOptions{.nodes = 2, .secure = GetParam()});
  mesh_->addUser("a", 0);
  mesh_->addUser("b", 1);
  mesh_->start();
  std::vector<User> users;
  users.push_back(login("a", 0, 1));
  users.push_back(login("b", 1, 1));
  for (auto& u : users) available(u);
  constexpr int kChunks = 5, kPerChunk = 200;
  const uint64_t connections = mesh_->metric(0, "xmesh_r2r_connections_total");
  int seq = 0;
  for (int chunk = 0; chunk < kChunks; ++chunk) {
    for (int k = 0; k < kPerChunk; ++k, ++seq) {
      sendSeq(users[0], users[1], seq);
      sendSeq(users[1], users[0], seq);
    }
    if (chunk == kChunks - 1) break;
    const size_t resetter = static_cast<size_t>(chunk) % 2;
    const uint64_t before = mesh_->metric(0, "xmesh_r2r_connections_total");
    ASSERT_TRUE(mesh_->node(resetter).mesh()->resetLink(MeshFixture::nodeId(1 - resetter)));
    ASSERT_TRUE(waitUntil([&] {
      return mesh_->metric(0, "xmesh_r2r_connections_total") > before && mesh_->metric(0, "xmesh_r2r_link_up") == 1 &&
             mesh_->metric(1, "xmesh_r2r_link_up") == 1;
    })) << "the link did not come back after reset " << chunk;
  }
  sendEnd(users[0], users[1]);
  sendEnd(users[1], users[0]);
  EXPECT_EQ(readUntilEnd(users[1], {"a"})["a"], range(0, seq));
  EXPECT_EQ(readUntilEnd(users[0], {"b"})["b"], range(0, seq));
  EXPECT_GE(mesh_->metric(0, "xmesh_r2r_connections_total"), connections + kChunks - 1);
  EXPECT_EQ(mesh_->metric(0, "xmesh_mesh_forward_refused_total") + mesh_->metric(1, "xmesh_mesh_forward_refused_total"), 0u);
}

INSTANTIATE_TEST_SUITE_P(Transport, MeshMessagingTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "Tls" : "Plain"; });

// ---------------------------------------------------------------- 2. presence

TEST_F(MeshNodeTest, SubscriptionHandshakeAndPresenceAcrossNodes) {
  mesh_ = std::make_unique<MeshFixture>(MeshOptions{.nodes = 2, .secure = true});
  mesh_->addUser("alice", 0);
  mesh_->addUser("bob", 1);
  mesh_->start();
  User alice = login("alice", 0, 1);
  User bob = login("bob", 1, 1);
  for (User* u : {&alice, &bob}) {
    u->client->sendRaw("<iq type='get' id='roster1'><query xmlns='jabber:iq:roster'/></iq>");
    ASSERT_TRUE(u->take([](const xml::Stanza& s) { return s.id == "roster1"; })) << u->name;
    available(*u);
  }

  alice.client->sendRaw("<presence to='bob@localhost' type='subscribe'/>");
  auto req = bob.take(presenceFrom("alice@localhost", "subscribe"));
  ASSERT_TRUE(req) << "the subscription request did not cross to bob's node";
  bob.client->sendRaw("<presence to='alice@localhost' type='subscribed'/>");
  EXPECT_TRUE(bob.take(rosterPush("alice@localhost", "from"))) << "bob's roster push (from)";
  EXPECT_TRUE(alice.take(rosterPush("bob@localhost", "to"))) << "alice's roster push (to)";
  EXPECT_TRUE(alice.take(presenceFrom("bob@localhost", "subscribed"))) << "the approval crossed back";
  EXPECT_TRUE(alice.take(presenceFrom(bob.full(), ""))) << "bob's available presence after approval";

  // Each side's roster went to its own home's store.
  auto rosterSub = [this](size_t node, const std::string& user, const std::string& contact) {
    auto st = store::openSqlite(store::SqliteOptions{.path = mesh_->fixture(node).config().resolvedStorePath()});
    if (!st.isOk()) return std::optional<store::Sub>();
    auto roster = st.value()->getRoster(user);
    if (!roster.isOk()) return std::optional<store::Sub>();
    for (const auto& item : roster.value())
      if (item.contact == contact) return std::optional<store::Sub>(item.sub);
    return std::optional<store::Sub>();
  };
  EXPECT_TRUE(waitUntil([&] { return rosterSub(0, "alice", "bob@localhost") == store::Sub::To; }));
  EXPECT_TRUE(waitUntil([&] { return rosterSub(1, "bob", "alice@localhost") == store::Sub::From; }));

  bob.client->sendRaw("<presence><show>away</show></presence>");
  auto away = alice.take([](const xml::Stanza& s) {
    return s.name == "presence" && s.from == "bob@localhost/r" && s.type.empty() &&
           s.bytes.find("<show>away</show>") != std::string::npos;
  });
  EXPECT_TRUE(away) << "bob's presence change did not reach alice";

  // Bob's connection dies: his node broadcasts unavailable for him, across the mesh.
  bob.client->dropConnection();
  EXPECT_TRUE(alice.take(presenceFrom(bob.full(), "unavailable"))) << "no unavailable after bob's disconnect";
}

TEST_F(MeshNodeTest, PresenceFansOutOnceToEverySubscriberOnThePeerNode) {
  mesh_ = std::make_unique<MeshFixture>(MeshOptions{.nodes = 2, .secure = false});
  mesh_->addUser("pub", 0);
  mesh_->addUser("near", 0);
  std::vector<std::string> far{"s0", "s1", "s2", "s3"};
  for (const auto& s : far) mesh_->addUser(s, 1);
  // Subscriptions provisioned in each user's home store: pub is seen by near and s0..s3.
  auto item = [](const std::string& contact, store::Sub sub) {
    store::RosterItem i;
    i.contact = contact + "@localhost";
    i.sub = sub;
    return i;
  };
  mesh_->putRosterItem(0, "near", item("pub", store::Sub::To));
  mesh_->putRosterItem(0, "pub", item("near", store::Sub::From));
  for (const auto& s : far) {
    mesh_->putRosterItem(0, "pub", item(s, store::Sub::From));
    mesh_->putRosterItem(1, s, item("pub", store::Sub::To));
  }
  mesh_->start();
  std::vector<User> subs;
  subs.push_back(login("near", 0, 1));
  for (uint32_t i = 0; i < far.size(); ++i) subs.push_back(login(far[i], 1, i % 2));
  for (auto& s : subs) available(s);
  User pub = login("pub", 0, 1);

  const uint64_t sent = mesh_->metric(0, "xmesh_mesh_fanouts_sent_total");
  const uint64_t received = mesh_->metric(1, "xmesh_mesh_fanouts_received_total");
  pub.client->sendPresence();
  for (auto& s : subs) EXPECT_TRUE(s.take(presenceFrom(pub.full(), ""))) << s.name << ": no available presence";
  EXPECT_EQ(mesh_->metric(0, "xmesh_mesh_fanouts_sent_total") - sent, 1u) << "one copy per node";
  EXPECT_EQ(mesh_->metric(1, "xmesh_mesh_fanouts_received_total") - received, 1u);

  pub.client->sendRaw("<presence><show>away</show></presence>");
  pub.client->dropConnection();
  // Each subscriber sees exactly: available, away, unavailable (no copy lost or doubled).
  for (auto& s : subs) {
    std::vector<std::string> seen;
    while (seen.empty() || seen.back() != "unavailable") {
      auto p = s.take([&pub](const xml::Stanza& x) { return x.name == "presence" && x.from == pub.full(); });
      if (!p) break;
      seen.push_back(p->type.empty() ? (p->bytes.find("<show>away</show>") != std::string::npos ? "away" : "available")
                                     : p->type);
    }
    EXPECT_EQ(seen, (std::vector<std::string>{"away", "unavailable"})) << s.name;
  }
  EXPECT_EQ(mesh_->metric(0, "xmesh_mesh_fanouts_sent_total") - sent, 3u);
  EXPECT_EQ(mesh_->metric(1, "xmesh_mesh_fanouts_received_total") - received, 3u);
}

// ---------------------------------------------------------------- 3. redirects

// The c2s endpoint named by a <see-other-host/> stream error the client's login ended on
// (the test client keeps the server's last element in lastError()).
std::string seeOtherHostTarget(const XmppTestClient& c) {
  const std::string& e = c.lastError();
  size_t at = e.find("<see-other-host");
  if (at == std::string::npos) return {};
  size_t open = e.find('>', at);
  size_t close = e.find('<', open);
  if (open == std::string::npos || close == std::string::npos) return {};
  return e.substr(open + 1, close - open - 1);
}

TEST_F(MeshNodeTest, LoginOnTheWrongNodeIsSentToTheHomeNodeOfThreeAndRoutesThere) {
  mesh_ = std::make_unique<MeshFixture>(MeshOptions{.nodes = 3, .secure = false});
  mesh_->addUser("erin", 0);
  mesh_->addUser("carol", 1);
  mesh_->addUser("dave", 2);
  // n1's store also holds carol's and dave's records (a node authenticates a user from
  // its cluster's store before it can tell where the user is homed).
  mesh_->addUserRecord("carol", 1, 0);
  mesh_->addUserRecord("dave", 2, 0);
  mesh_->start();

  std::vector<User> users;
  users.push_back(login("erin", 0));  // homed here: served here
  for (auto [name, home] : {std::pair<std::string, size_t>{"carol", 1}, {"dave", 2}}) {
    XmppTestClient c;
    ASSERT_TRUE(c.connect(mesh_->c2sPort(0)));
    ASSERT_TRUE(c.openStream() && c.startTls()) << c.lastError();
    EXPECT_FALSE(c.authScram(name, NodeFixture::password(name)));
    EXPECT_EQ(c.streamError(), "see-other-host") << name << ": " << c.lastError();
    const std::string target = seeOtherHostTarget(c);
    EXPECT_EQ(target, "127.0.0.1:" + std::to_string(mesh_->c2sPort(home))) << name;
    EXPECT_TRUE(c.waitClosed()) << "the redirecting node closes the stream";
    // Follow the redirect.
    size_t colon = target.rfind(':');
    ASSERT_NE(colon, std::string::npos) << name << ": " << c.lastError();
    int port = std::stoi(target.substr(colon + 1));
    size_t node = 0;
    while (node < mesh_->size() && mesh_->c2sPort(node) != port) ++node;
    ASSERT_LT(node, mesh_->size()) << target;
    users.push_back(login(name, node));
  }
  EXPECT_EQ(mesh_->metric(0, "xmesh_errors_total{reason=\"see-other-host\"}"), 2u);

  // Messages between every pair of the three nodes.
  for (auto& u : users) available(u);
  constexpr int kPerPair = 3;
  for (int k = 0; k < kPerPair; ++k)
    for (auto& from : users)
      for (auto& to : users)
        if (&from != &to) sendSeq(from, to, k);
  for (auto& from : users)
    for (auto& to : users)
      if (&from != &to) sendEnd(from, to);
  for (auto& u : users) {
    std::vector<std::string> senders;
    for (const auto& o : users)
      if (&o != &u) senders.push_back(o.name);
    auto got = readUntilEnd(u, senders);
    for (const auto& s : senders) EXPECT_EQ(got[s], range(0, kPerPair)) << s << " -> " << u.name;
  }
}

// ---------------------------------------------------------------- 4. shutdown

// Param: secure links; which node stops first (0 = n1, the dialer; 1 = n2, the acceptor).
class MeshShutdownTest : public MeshNodeTest, public ::testing::WithParamInterface<std::tuple<bool, size_t>> {};

TEST_P(MeshShutdownTest, StoppingOneNodeMidTrafficThenTheOtherIsClean) {
  const auto [secure, first] = GetParam();
  const size_t second = 1 - first;
  mesh_ = std::make_unique<MeshFixture>(MeshOptions{.nodes = 2, .secure = secure});
  for (const char* name : {"a0", "a1"}) mesh_->addUser(name, 0);
  for (const char* name : {"b0", "b1"}) mesh_->addUser(name, 1);
  // Mutual subscriptions across the two nodes: the sessions that close during the
  // shutdowns fan their unavailable presence out to the other node, from loop 1 through
  // the mesh loop, while that loop and its links are going down.
  for (const char* a : {"a0", "a1"})
    for (const char* b : {"b0", "b1"}) {
      store::RosterItem toB, toA;
      toB.contact = std::string(b) + "@localhost";
      toB.sub = store::Sub::Both;
      toA.contact = std::string(a) + "@localhost";
      toA.sub = store::Sub::Both;
      mesh_->putRosterItem(0, a, toB);
      mesh_->putRosterItem(1, b, toA);
    }
  mesh_->start();
  std::vector<User> users;
  users.push_back(login("a0", 0, 1));  // sends to b1
  users.push_back(login("a1", 0, 1));  // receives from b0
  users.push_back(login("b0", 1, 1));  // sends to a1
  users.push_back(login("b1", 1, 1));  // receives from a0
  for (auto& u : users) available(u);

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> delivered{0};
  // Each client is used by its own thread only, from here until the join.
  auto sender = [&stop](XmppTestClient* c, std::string to) {
    for (uint64_t k = 0; !stop.load(); ++k) {
      c->sendMessage(to, "x:" + std::to_string(k));
      if (k % 100 == 99 && c->waitClosed(1)) return;  // its node is gone
    }
  };
  auto receiver = [&stop, &delivered](XmppTestClient* c) {
    while (!stop.load()) {
      auto s = c->next(50);
      if (s && s->name == "message") delivered.fetch_add(1);
      if (!s && c->waitClosed(1)) return;
    }
  };
  std::vector<std::thread> threads;
  threads.emplace_back(sender, users[0].client.get(), "b1@localhost");
  threads.emplace_back(sender, users[2].client.get(), "a1@localhost");
  threads.emplace_back(receiver, users[1].client.get());
  threads.emplace_back(receiver, users[3].client.get());

  // Both link directions are busy (the status pages are read meanwhile, as the admin
  // thread would).
  EXPECT_TRUE(waitUntil([&] {
    for (size_t i = 0; i < 2; ++i) (void)mesh_->node(i).renderStatus();
    return mesh_->metric(0, "xmesh_mesh_received_total") >= 300 && mesh_->metric(1, "xmesh_mesh_received_total") >= 300;
  }, 20000)) << "traffic never got going";
  EXPECT_GT(delivered.load(), 0u);

  mesh_->stop(first);
  // The survivor sees the link go, and queues what its sender still sends to the
  // stopped node on the link (kept for a reconnect that never comes).
  EXPECT_TRUE(waitUntil([&] { return mesh_->metric(second, "xmesh_r2r_link_up") == 0; }))
      << "the survivor never noticed its peer stopped";
  const uint64_t queued = mesh_->metric(second, "xmesh_mesh_forwarded_total");
  EXPECT_TRUE(waitUntil([&] { return mesh_->metric(second, "xmesh_mesh_forwarded_total") >= queued + 50; }))
      << "the survivor stopped forwarding to its down link";
  mesh_->stop(second);

  stop.store(true);
  for (auto& t : threads) t.join();
}

// Links still connecting (TCP connect, TLS handshake, hello, first directory sync) when
// the nodes stop: every stage of a link's set-up is interrupted by some iteration.
TEST_P(MeshShutdownTest, StoppingWhileLinksAreStillComingUpIsClean) {
  const auto [secure, first] = GetParam();
  for (int step = 0; step < 8; ++step) {
    MeshFixture mesh(MeshOptions{.nodes = 2, .secure = secure, .scramIterations = 64});
    mesh.addUser("a", 0);
    mesh.addUser("b", 1);
    mesh.startNodes();
    std::this_thread::sleep_for(std::chrono::microseconds(500 * step));
    mesh.stop(first);
    mesh.stop(1 - first);
  }
}

INSTANTIATE_TEST_SUITE_P(Shutdown, MeshShutdownTest,
                         ::testing::Values(std::make_tuple(true, size_t{1}), std::make_tuple(false, size_t{0})),
                         [](const ::testing::TestParamInfo<std::tuple<bool, size_t>>& p) {
                           return std::string(std::get<0>(p.param) ? "Tls" : "Plain") +
                                  (std::get<1>(p.param) == 0 ? "DialerFirst" : "AcceptorFirst");
                         });

// ---------------------------------------------------------------- known bugs

size_t openFds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Pins a bug (not fixed yet; enable with the fix): when Node::init() fails after the loops
// exist (here: the r2r port is taken), ~Node never closes the loops' handles. Every loop's
// epoll fd, wake-up fd and c2s listener stay open -- the dead node's c2s port keeps
// accepting TCP connections that nobody serves -- and uv_loop_close() fails with
// UV_EBUSY, leaking libuv's loop internals (LeakSanitizer reports them at exit).
TEST_F(MeshNodeTest, FailedInitReleasesEverySocket) {
  mesh_ = std::make_unique<MeshFixture>(MeshOptions{.nodes = 2, .secure = false, .scramIterations = 64});
  mesh_->addUser("a", 0);
  int taken = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(mesh_->topology().node(0).r2r.port));
  ASSERT_EQ(::bind(taken, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(taken, 1), 0);
  auto failInit = [&] {
    router::Node node(mesh_->fixture(0).config());
    node.setTopology(mesh_->sharedTopology());
    Status s = node.init();
    EXPECT_FALSE(s.isOk());
  };
  // The first attempt may open process-wide descriptors for good (the RNG's
  // /dev/urandom, ...) when this test runs alone in its process, as under ctest: compare
  // the second attempt with the first, so only a per-attempt leak shows.
  failInit();
  const size_t before = openFds();
  failInit();
  failInit();
  EXPECT_EQ(openFds(), before) << "descriptors of the failed node are still open";
  XmppTestClient c;
  EXPECT_FALSE(c.connect(mesh_->c2sPort(0))) << "the failed node's c2s port still accepts connections";
  ::close(taken);
}

}  // namespace
}  // namespace xmesh::testing
