// What a node does while its database is down (issue 6 item 2): logins fail with a
// temporary SASL error, offline messages are held and written once it is back (or
// refused with a 'wait' error; never taken and dropped), subscription requests to
// offline contacts are refused with a 'wait' error, and routing between online users
// goes on. The FakeEnv's store fails on demand (tests/support/failing_store.h)
// with the reasons a real backend gives: "unavailable", "busy", "io".
#include <gtest/gtest.h>

#include <string>

#include "core/stats.h"
#include "tests/session/session_client.h"
#include "tests/support/fake_env.h"

namespace xmesh::testing {
namespace {

constexpr const char* kTemporaryAuthFailure =
    "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><temporary-auth-failure/>"
    "<text xml:lang='en'>store unavailable</text></failure>";

uint64_t errors(FakeEnv& env, ErrorReason r) { return env.stats_.errors[static_cast<size_t>(r)].load(); }

std::string plainAuth(const std::string& user, const std::string& pw) {
  return "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
         sasl::base64Encode(std::string(1, '\0') + user + std::string(1, '\0') + pw) + "</auth>";
}

class StoreOutageTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    env_.addUser("alice", "secret");
    env_.addUser("bob", "secret");
  }
  FailingStore& db() { return env_.storeFaults(); }
  FakeEnv env_;
};

TEST_P(StoreOutageTest, ScramLoginIsATemporaryAuthFailureThenSucceedsOnRetry) {
  Client c(env_);
  c.toTls();
  db().failWith(GetParam(), {"getUser"});
  std::string r = c.scram("alice", "secret");
  EXPECT_EQ(r, kTemporaryAuthFailure);
  EXPECT_FALSE(c.transport().closed);
  EXPECT_EQ(env_.stats_.authFailure.load(), 0u) << "not counted as a wrong password";
  ErrorReason counted = GetParam() == "busy" ? ErrorReason::StoreBusy : ErrorReason::InternalError;
  EXPECT_EQ(errors(env_, counted), 1u);
  db().heal();
  EXPECT_TRUE(has(c.scram("alice", "secret"), "<success")) << "the same stream may retry";
}

TEST_P(StoreOutageTest, PlainLoginIsATemporaryAuthFailure) {
  Client c(env_);
  c.toTls();
  db().failWith(GetParam(), {"getUser"});
  EXPECT_EQ(c.feed(plainAuth("alice", "secret")), kTemporaryAuthFailure);
  EXPECT_EQ(env_.stats_.authFailure.load(), 0u);
  db().heal();
  EXPECT_TRUE(has(c.feed(plainAuth("alice", "secret")), "<success"));
}

// A database that is down or overloaded ("unavailable", "busy"): the message was taken
// from its sender, so it is held (no error) and written once the database is back, with
// the time the node took it as its delay stamp. A lasting store error ("io") is refused
// at once with a wait-type error.
TEST_P(StoreOutageTest, OfflineMessageIsHeldUntilTheDatabaseIsBackOrRefusedIfItFailsForGood) {
  const bool transient = GetParam() != "io";
  Client a(env_);
  a.login("alice", "secret");
  db().failWith(GetParam(), {"pushOffline"});
  std::string r = a.feed("<message to='bob@localhost' id='m1' type='chat'><body>later</body></message>");
  EXPECT_TRUE(env_.store().peekOffline("bob", 10)->empty());
  if (!transient) {
    EXPECT_EQ(r, "<message from='bob@localhost' to='alice@localhost/r' id='m1' type='error'>"
                 "<error type='wait'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                 "</error></message>");
    EXPECT_EQ(env_.stats_.offlineHeld.load(), 0u);
    env_.retryOfflineWrites();
    EXPECT_EQ(db().failures(), 1u) << "a refused message is not tried again";
    return;
  }
  EXPECT_EQ(r, "") << "held, not refused";
  EXPECT_EQ(env_.stats_.offlineHeld.load(), 1u);
  env_.advance(1000);
  env_.retryOfflineWrites();
  EXPECT_EQ(db().failures(), 2u) << "tried again while the database is still down";
  EXPECT_EQ(env_.stats_.offlineHeld.load(), 1u);
  EXPECT_EQ(env_.stats_.offlineStored.load(), 0u);
  db().heal();
  env_.advance(59000);
  env_.retryOfflineWrites();
  auto stored = env_.store().peekOffline("bob", 10);
  ASSERT_EQ(stored->size(), 1u) << "stored once the database is back";
  EXPECT_TRUE(has(stored->front().bytes, "<body>later</body>"));
  EXPECT_TRUE(has(stored->front().bytes, "stamp='1970-01-01T00:16:40Z'")) << "when it was taken: "
                                                                            << stored->front().bytes;
  EXPECT_EQ(env_.stats_.offlineHeld.load(), 0u);
  EXPECT_EQ(env_.stats_.offlineStored.load(), 1u);
  EXPECT_EQ(a.take(), "") << "no error reached the sender";
}

TEST_P(StoreOutageTest, OfflineMessageWhoseRecipientCannotBeLookedUpIsHeldOrRefused) {
  Client a(env_);
  a.login("alice", "secret");
  db().failWith(GetParam(), {"getUser"});
  std::string r = a.feed("<message to='bob@localhost' id='m1'><body>x</body></message>");
  if (GetParam() == "io") {
    EXPECT_TRUE(has(r, "<error type='wait'><internal-server-error")) << r;
    return;
  }
  EXPECT_EQ(r, "");
  db().heal();
  env_.retryOfflineWrites();
  EXPECT_EQ(env_.store().peekOffline("bob", 10)->size(), 1u);
}

TEST_P(StoreOutageTest, SubscriptionToAnOfflineContactIsRefusedWithAWaitError) {
  Client a(env_);
  a.login("alice", "secret");
  a.feed("<presence/>");
  db().failWith(GetParam());
  std::string r = a.feed("<presence to='bob@localhost' type='subscribe' id='s1'/>");
  EXPECT_TRUE(has(r, "<presence from='bob@localhost' to='alice@localhost' id='s1' type='error'>"
                     "<error type='wait'><internal-server-error"))
      << r;
  db().heal();
  r = a.feed("<presence to='bob@localhost' type='subscribe' id='s2'/>");
  EXPECT_FALSE(has(r, "type='error'")) << r;
  auto bobs = env_.store().getRoster("bob");
  ASSERT_EQ(bobs->size(), 1u);
  EXPECT_TRUE(bobs->front().pendingIn) << "the request waits in bob's roster once the database is back";
}

INSTANTIATE_TEST_SUITE_P(Reasons, StoreOutageTest, ::testing::Values("unavailable", "busy", "io"),
                         [](const auto& p) { return p.param; });

class StoreDownTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.addUser("alice", "secret");
    env_.addUser("bob", "secret");
  }
  FailingStore& db() { return env_.storeFaults(); }
  // alice logs in with XEP-0198 on and, while offline writes fail with `reason`, sends
  // offline bob a message (id m1) followed by an ack request; returns what she got
  // before the write was tried (the ack).
  std::string sendToOfflineBobWithAck(Client& a, const char* reason, const std::string& body) {
    a.login("alice", "secret");
    EXPECT_TRUE(has(a.feed("<enable xmlns='urn:xmpp:sm:3'/>"), "<enabled"));
    db().failWith(reason, {"pushOffline"});
    a.session().onBytes("<message to='bob@localhost' id='m1' type='chat'><body>" + body +
                        "</body></message><r xmlns='urn:xmpp:sm:3'/>");
    return a.transport().take();
  }
  FakeEnv env_;
};

TEST_F(StoreDownTest, TemporaryFailuresDoNotFeedTheAuthBackoff) {
  NodeConfig cfg = FakeEnv::defaultConfig();
  cfg.limits.authFailuresBeforeBackoff = 2;
  FakeEnv env(cfg);
  env.addUser("alice", "secret");
  env.storeFaults().failWith("unavailable");
  for (int i = 0; i < 3; ++i) {
    Client c(env, "198.51.100.9");
    c.toTls();
    EXPECT_EQ(c.scram("alice", "secret"), kTemporaryAuthFailure);
  }
  env.storeFaults().heal();
  Client c(env, "198.51.100.9");
  c.toTls();
  EXPECT_TRUE(has(c.scram("alice", "secret"), "<success")) << "the address was not throttled";
}

TEST_F(StoreDownTest, BindWhoseRosterCannotBeLoadedGetsAWaitErrorAndMayRetry) {
  Client c(env_);
  c.toTls();
  ASSERT_TRUE(has(c.scram("alice", "secret"), "<success"));
  c.feed(kHeader);
  db().failWith("unavailable", {"getRoster"});
  const std::string bind = "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>";
  std::string r = c.feed(bind);
  EXPECT_TRUE(has(r, "type='error'") && has(r, "<error type='wait'><internal-server-error")) << r;
  db().heal();
  EXPECT_TRUE(has(c.feed(bind), "<jid>alice@localhost/"));
}

TEST_F(StoreDownTest, RoutingBetweenOnlineUsersGoesOn) {
  Client a(env_), b(env_);
  a.login("alice", "secret");
  b.login("bob", "secret");
  b.feed("<presence/>");
  db().failWith("unavailable");
  a.feed("<message to='bob@localhost' id='m1' type='chat'><body>still here</body></message>");
  EXPECT_TRUE(has(b.take(), "<body>still here</body>"));
  a.feed("<message to='bob@localhost/r' id='m2'><body>full jid</body></message>");
  EXPECT_TRUE(has(b.take(), "<body>full jid</body>"));
}

// A session that ends while the database is down: the messages it never acknowledged
// (accepted from their senders long ago) are kept and stored once the database is back.
TEST_F(StoreDownTest, UnacknowledgedMessagesOfAnEndingSessionWaitForTheDatabase) {
  Client a(env_), b(env_);
  a.login("alice", "secret");
  b.login("bob", "secret");
  b.feed("<enable xmlns='urn:xmpp:sm:3'/>");
  b.feed("<presence/>");
  a.feed("<message to='bob@localhost' id='m1' type='chat'><body>unacked</body></message>");
  EXPECT_TRUE(has(b.take(), "<body>unacked</body>"));
  db().failWith("unavailable", {"pushOffline"});
  db().healAfter(3);  // back after three failed attempts
  b.session().onDisconnect();  // not resumable: the session ends here
  env_.drain();
  EXPECT_EQ(db().failures(), 3u);
  auto stored = env_.store().peekOffline("bob", 10);
  ASSERT_TRUE(stored.isOk());
  ASSERT_EQ(stored->size(), 1u) << "stored once the database was back";
  EXPECT_TRUE(has(stored->front().bytes, "<body>unacked</body>"));
}

// XEP-0198 semantics: a message is "handled" (counted in h) when the node takes it, before
// the offline write; a write that fails for good later reaches the sender as an error
// bounce.
TEST_F(StoreDownTest, OfflineMessageIsAckedBeforeTheWriteAndRefusedAfter) {
  Client a(env_);
  EXPECT_EQ(sendToOfflineBobWithAck(a, "io", "x"), "<a xmlns='urn:xmpp:sm:3' h='1'/>") << "before the write";
  std::string afterWrite = a.take();
  EXPECT_TRUE(has(afterWrite, "id='m1' type='error'><error type='wait'><internal-server-error")) << afterWrite;
}

// The case holding exists for: the sender was told the message was taken (its ack) and
// left before the write failed, so an error bounce would reach nobody.
TEST_F(StoreDownTest, OfflineMessageOfASenderWhoLeftIsStoredOnceTheDatabaseIsBack) {
  Client a(env_);
  EXPECT_EQ(sendToOfflineBobWithAck(a, "unavailable", "acked"), "<a xmlns='urn:xmpp:sm:3' h='1'/>");
  a.feed("</stream:stream>");  // gone before the write failed
  env_.drain();
  EXPECT_TRUE(env_.store().peekOffline("bob", 10)->empty());
  db().heal();
  env_.retryOfflineWrites();
  auto stored = env_.store().peekOffline("bob", 10);
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_TRUE(has(stored->front().bytes, "<body>acked</body>"));
}

// Messages for a user who already has some held queue behind them: the recipient reads
// them in the order the node took them, even if the database is back before the retry.
TEST_F(StoreDownTest, HeldOfflineMessagesKeepTheirOrder) {
  Client a(env_);
  a.login("alice", "secret");
  db().failWith("busy", {"pushOffline"});
  a.feed("<message to='bob@localhost' id='m1'><body>first</body></message>");
  db().heal();
  a.feed("<message to='bob@localhost' id='m2'><body>second</body></message>");
  EXPECT_TRUE(env_.store().peekOffline("bob", 10)->empty()) << "the second waits behind the first";
  EXPECT_EQ(env_.stats_.offlineHeld.load(), 2u);
  env_.retryOfflineWrites();
  auto stored = env_.store().peekOffline("bob", 10);
  ASSERT_EQ(stored->size(), 2u);
  EXPECT_TRUE(has(stored->at(0).bytes, "<body>first</body>"));
  EXPECT_TRUE(has(stored->at(1).bytes, "<body>second</body>"));
}

// Memory is bounded: past the cap, a message is refused at once with a wait-type error,
// while its sender is there to read it; those already held are still written.
TEST_F(StoreDownTest, TooManyHeldOfflineMessagesRefuseTheNextWithAWaitError) {
  env_.deferredOffline() = router::DeferredOfflineWrites(2);
  Client a(env_);
  a.login("alice", "secret");
  db().failWith("unavailable", {"pushOffline"});
  EXPECT_EQ(a.feed("<message to='bob@localhost' id='m1'><body>1</body></message>"), "");
  EXPECT_EQ(a.feed("<message to='bob@localhost' id='m2'><body>2</body></message>"), "");
  std::string r = a.feed("<message to='bob@localhost' id='m3'><body>3</body></message>");
  EXPECT_TRUE(has(r, "id='m3' type='error'><error type='wait'><resource-constraint")) << r;
  db().heal();
  env_.retryOfflineWrites();
  EXPECT_EQ(env_.store().peekOffline("bob", 10)->size(), 2u);
}

TEST_F(StoreDownTest, OfflineQuotaStaysAServiceUnavailableCancel) {
  NodeConfig cfg = FakeEnv::defaultConfig();
  cfg.limits.maxOfflinePerUser = 1;
  FakeEnv env(cfg);
  env.addUser("alice", "secret");
  env.addUser("bob", "secret");
  Client a(env);
  a.login("alice", "secret");
  EXPECT_EQ(a.feed("<message to='bob@localhost' id='m1'><body>1</body></message>"), "");
  std::string r = a.feed("<message to='bob@localhost' id='m2'><body>2</body></message>");
  EXPECT_TRUE(has(r, "<error type='cancel'><service-unavailable")) << r;
}

// A roster set (RFC 6121 2.3) is answered once its store write is done: a result means
// the change is stored; a write that fails (the database is down) gets a wait-type
// error the client can retry on.
TEST_F(StoreDownTest, RosterSetIsAnsweredAfterItsWriteWithAWaitErrorIfItFails) {
  Client a(env_);
  a.login("alice", "secret");
  db().failWith("unavailable", {"putRosterItem"});
  std::string r = a.feed("<iq type='set' id='s1'><query xmlns='jabber:iq:roster'>"
                         "<item jid='bob@localhost'/></query></iq>");
  EXPECT_EQ(db().failures(), 1u) << "the write was tried";
  EXPECT_TRUE(has(r, "id='s1'") && has(r, "type='error'")) << r;
  EXPECT_TRUE(has(r, "<error type='wait'><internal-server-error")) << r;
  EXPECT_FALSE(has(r, "type='result'")) << r;
  EXPECT_FALSE(has(r, "<item")) << "no roster push for a change that was not stored: " << r;
  EXPECT_TRUE(env_.store().getRoster("alice")->empty());
  r = a.feed("<iq type='get' id='g1'><query xmlns='jabber:iq:roster'/></iq>");
  EXPECT_FALSE(has(r, "bob@localhost")) << "nor a cached one: " << r;

  db().heal();
  r = a.feed("<iq type='set' id='s2'><query xmlns='jabber:iq:roster'>"
             "<item jid='carol@localhost'/></query></iq>");
  EXPECT_TRUE(has(r, "id='s2'") && has(r, "type='result'")) << r;
  EXPECT_TRUE(has(r, "<item jid='carol@localhost'")) << "the push, once stored: " << r;
  EXPECT_EQ(env_.store().getRoster("alice")->size(), 1u);
}

// A removal the store could not apply leaves the item (cache and store) and its
// subscriptions as they were: the client is told to try again.
TEST_F(StoreDownTest, RosterRemovalThatCannotBeStoredChangesNothing) {
  Client a(env_), b(env_);
  a.login("alice", "secret");
  b.login("bob", "secret");
  b.feed("<presence/>");
  a.feed("<presence/>");
  a.feed("<presence to='bob@localhost' type='subscribe'/>");
  b.feed("<presence to='alice@localhost' type='subscribed'/>");
  b.take();
  a.take();
  db().failWith("unavailable", {"removeRosterItem"});
  std::string r = a.feed("<iq type='set' id='rm'><query xmlns='jabber:iq:roster'>"
                         "<item jid='bob@localhost' subscription='remove'/></query></iq>");
  EXPECT_TRUE(has(r, "id='rm'") && has(r, "<error type='wait'><internal-server-error")) << r;
  EXPECT_FALSE(has(r, "subscription='remove'")) << "no push: " << r;
  EXPECT_FALSE(has(b.take(), "unsubscribe")) << "the subscription stays";
  r = a.feed("<iq type='get' id='g'><query xmlns='jabber:iq:roster'/></iq>");
  EXPECT_TRUE(has(r, "jid='bob@localhost'") && has(r, "subscription='to'")) << r;
  ASSERT_EQ(env_.store().getRoster("alice")->size(), 1u);

  db().heal();
  r = a.feed("<iq type='set' id='rm2'><query xmlns='jabber:iq:roster'>"
             "<item jid='bob@localhost' subscription='remove'/></query></iq>");
  EXPECT_TRUE(has(r, "id='rm2'") && has(r, "type='result'")) << r;
  EXPECT_TRUE(has(r, "subscription='remove'")) << r;
  EXPECT_TRUE(has(b.take(), "type='unsubscribe'"));
  EXPECT_TRUE(env_.store().getRoster("alice")->empty());
}

}  // namespace
}  // namespace xmesh::testing
