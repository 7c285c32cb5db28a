// The receiving side of replication: what a PRG peer's records leave for an activation
// here, and what a takeover nobody activates routes again.
#include "router/replica_store.h"

#include <gtest/gtest.h>

namespace xmesh::router {
namespace {

using replica::Op;
using replica::Record;

const jid::Jid& alice() {
  static const jid::Jid j = jid::Jid::parse("alice@example.com/laptop").value();
  return j;
}

std::string msg(int n) {
  return "<message from='bob@example.com/x' to='alice@example.com/laptop' id='m" + std::to_string(n) +
         "'><body>" + std::to_string(n) + "</body></message>";
}

class ReplicaStoreTest : public ::testing::Test {
 protected:
  ReplicaStore store{100};
  void open(bool dual, const std::string& home = "n1", const std::string& jid = "alice@example.com/laptop") {
    store.apply(Record{.op = Op::Open, .jid = jid, .home = home, .dual = dual});
  }
  void out(uint32_t seq, int64_t offlineId = 0, const std::string& jid = "alice@example.com/laptop") {
    store.apply(Record{.op = Op::Out, .jid = jid, .seq = seq, .cls = StanzaClass::Message,
                       .offlineId = offlineId, .stanza = offlineId ? "" : msg(static_cast<int>(seq))});
  }
  void ack(uint32_t h) { store.apply(Record{.op = Op::Ack, .jid = "alice@example.com/laptop", .seq = h}); }
  static std::vector<std::string> bodies(const ReplicaSource::Taken& t) {
    std::vector<std::string> v;
    for (const auto& p : t.pending) v.push_back(*p.bytes);
    return v;
  }
};

TEST_F(ReplicaStoreTest, ActivationGetsPresenceAndExactlyWhatFollowsTheClientsH) {
  open(true);
  store.apply(Record{.op = Op::Presence, .jid = "alice@example.com/laptop", .priority = 5, .available = true,
                     .stanza = "<presence from='alice@example.com/laptop'/>"});
  for (uint32_t s = 1; s <= 6; ++s) out(s);
  ack(2);  // the old node saw the client acknowledge two
  EXPECT_EQ(store.stanzas(), 4u);
  // The client handled four before its stream broke: 5 and 6 come again, nothing else.
  auto t = store.takeForActivation(alice(), 4);
  ASSERT_TRUE(t.presence);
  EXPECT_EQ(t.priority, 5);
  EXPECT_EQ(bodies(t), (std::vector<std::string>{msg(5), msg(6)}));
  EXPECT_EQ(store.sessions(), 0u);  // taken once
  EXPECT_TRUE(store.takeForActivation(alice(), 0).pending.empty());
}

TEST_F(ReplicaStoreTest, StoredMessagesAreDeletedWhenHandledAndLeftToTheOfflineFlushOtherwise) {
  open(true);
  out(1, /*offlineId=*/41);
  out(2, /*offlineId=*/42);
  out(3);
  auto t = store.takeForActivation(alice(), 1);
  EXPECT_EQ(t.offlineHandled, (std::vector<int64_t>{41}));  // handled, never acked: delete
  EXPECT_EQ(bodies(t), (std::vector<std::string>{msg(3)}));  // 42 is still stored: the flush brings it
}

TEST_F(ReplicaStoreTest, RepeatedAndOutOfOrderRecordsKeepOneCopyInStreamOrder) {
  open(true);
  out(1);
  out(3);
  out(2);
  out(3);  // a snapshot repeats what the stream already sent
  ack(1);
  out(1);  // acknowledged already: ignored
  EXPECT_EQ(store.stanzas(), 2u);
  EXPECT_EQ(bodies(store.takeForActivation(alice(), 0)), (std::vector<std::string>{msg(2), msg(3)}));
}

TEST_F(ReplicaStoreTest, CountsWrapAroundLikeXep0198) {
  open(true);
  out(4294967295u);
  out(0);
  out(1);
  ack(4294967295u);
  auto t = store.takeForActivation(alice(), 0);
  EXPECT_EQ(bodies(t), (std::vector<std::string>{msg(1)}));
}

TEST_F(ReplicaStoreTest, CloseDropsUnlessHandedOverAndResetForgetsOnlyTheLiveOnes) {
  open(true);
  out(1);
  store.apply(Record{.op = Op::Close, .jid = "alice@example.com/laptop", .keep = false});
  EXPECT_EQ(store.sessions(), 0u);

  open(true);
  out(1);
  store.apply(Record{.op = Op::Close, .jid = "alice@example.com/laptop", .keep = true});
  EXPECT_EQ(store.sessions(), 1u);

  open(false, "n1", "carol@example.com/phone");
  EXPECT_TRUE(store.claim("n1", /*peerGone=*/false, 0, 1000).empty());
  open(true, "n2", "dave@example.com/pc");
  store.apply(Record{.op = Op::Reset});  // the peer restarted: its live picture is gone
  EXPECT_EQ(store.sessions(), 2u);       // what we took over stays ours
}

TEST_F(ReplicaStoreTest, ClaimHoldsDualSessionsAndReleasesPlainOnesOfADeadPeer) {
  open(true);
  out(1);
  open(false, "n1", "carol@example.com/phone");
  out(1, 0, "carol@example.com/phone");
  store.apply(Record{.op = Op::Out, .jid = "carol@example.com/phone", .seq = 2, .cls = StanzaClass::Presence,
                     .stanza = "<presence from='bob@example.com/x'/>"});
  open(true, "n2", "dave@example.com/pc");  // the other home: not claimed

  auto released = store.claim("n1", /*peerGone=*/true, 1000, 5000);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].jid, "carol@example.com/phone");
  EXPECT_EQ(released[0].messages.size(), 1u);  // messages only: presence is a moment gone
  EXPECT_EQ(store.sessions(), 2u);

  // Acks of the old stream still trim a held entry (a demoted session acks at its node).
  ack(1);
  EXPECT_TRUE(store.expire(5999).empty());
  released = store.expire(6000);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].jid, "alice@example.com/laptop");
  EXPECT_TRUE(released[0].messages.empty());
  EXPECT_EQ(store.sessions(), 1u);  // dave, live
}

TEST_F(ReplicaStoreTest, APeerServingTheSessionAgainTakesItBackFromTheClaim) {
  open(true);
  out(1);
  (void)store.claim("n1", false, 0, 1000);
  open(true);  // the peer serves alice again (a quick back-and-forth)
  EXPECT_TRUE(store.expire(5000).empty());
  EXPECT_EQ(bodies(store.takeForActivation(alice(), 0)), (std::vector<std::string>{msg(1)}));
}

TEST_F(ReplicaStoreTest, APeerPastItsOwnLimitLosesTheOldestHeld) {
  ReplicaStore small(3);
  small.apply(Record{.op = Op::Open, .jid = "alice@example.com/laptop", .home = "n1", .dual = true});
  for (uint32_t s = 1; s <= 5; ++s)
    small.apply(Record{.op = Op::Out, .jid = "alice@example.com/laptop", .seq = s, .stanza = msg(static_cast<int>(s))});
  EXPECT_EQ(small.stanzas(), 3u);
  EXPECT_EQ(small.dropped(), 2u);
}

}  // namespace
}  // namespace xmesh::router
