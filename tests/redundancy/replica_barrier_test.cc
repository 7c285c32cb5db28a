// XEP-0198 acks after replication: a barrier completes only once the peers acknowledged
// every unit queued before its last token (router/replica_barrier.h), over real Links.
#include "router/replica_barrier.h"

#include <gtest/gtest.h>

#include "tests/r2r/link_harness.h"

namespace xmesh::router {
namespace {

using r2r::test::LinkPair;
using r2r::test::rawMessage;

class ReplicaBarrierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pair.open();
    pair.pump();
    ASSERT_EQ(pair.a.state(), r2r::LinkState::Established);
  }
  std::shared_ptr<Barriers::Barrier> barrier(uint32_t tokens) {
    auto b = std::make_shared<Barriers::Barrier>();
    b->tokensLeft = tokens;
    b->origin = 1;
    b->done = [this] { ++done; };
    return b;
  }
  void send(int n) { ASSERT_EQ(pair.a.sendStanza(rawMessage(n)), r2r::SendResult::Queued); }

  LinkPair pair;
  std::vector<uint32_t> postedTo;
  Barriers barriers{{&pair.a}, [this](uint32_t loop, std::function<void()> fn) {
                      postedTo.push_back(loop);
                      fn();
                    }};
  int done = 0;
};

TEST_F(ReplicaBarrierTest, WaitsForThePeersAckOfWhatWasQueuedBeforeTheLastToken) {
  auto b = barrier(2);
  send(1);
  barriers.tokenArrived(b);
  send(2);  // still before the last token: waited for
  barriers.tokenArrived(b);
  barriers.check();
  EXPECT_EQ(done, 0) << "the peer has acknowledged nothing yet";
  EXPECT_FALSE(barriers.idle());
  send(3);  // after the last token: not waited for
  // The barrier asked the peer for an ack (<m:r/>); its answer completes it.
  pair.pump();
  ASSERT_GE(pair.a.ackedSeq(), 2u);
  barriers.check();
  EXPECT_EQ(done, 1);
  EXPECT_EQ(postedTo, (std::vector<uint32_t>{1}));  // on the loop that asked
  EXPECT_TRUE(barriers.idle());
}

TEST_F(ReplicaBarrierTest, NothingUnacknowledgedCompletesAtOnce) {
  send(1);
  pair.pump();
  pair.tick(100);  // the peer acks what it received on its tick
  pair.pump();
  ASSERT_EQ(pair.a.ackedSeq(), pair.a.sentSeq());
  barriers.tokenArrived(barrier(1));
  EXPECT_EQ(done, 1);
}

TEST_F(ReplicaBarrierTest, ALinkThatGoesDownIsNotWaitedFor) {
  send(1);
  barriers.tokenArrived(barrier(1));
  EXPECT_EQ(done, 0);
  pair.close();  // the unit stays in the journal for the peer's same incarnation
  barriers.check();
  EXPECT_EQ(done, 1);
}

TEST_F(ReplicaBarrierTest, BarriersCompleteInOrderAsAcksArrive) {
  send(1);
  auto first = barrier(1);
  barriers.tokenArrived(first);
  std::string toB = std::move(pair.a.output());  // held back: the peer sees nothing yet
  pair.a.output().clear();
  send(2);
  auto second = barrier(1);
  second->done = [this] { done += 10; };
  barriers.tokenArrived(second);
  barriers.check();
  EXPECT_EQ(done, 0);
  pair.b.feed(toB, pair.now);  // unit 1 and the first ack request
  pair.pump();
  barriers.check();
  EXPECT_EQ(done, 11) << "the peer acknowledged both once it read them";
}

}  // namespace
}  // namespace xmesh::router
