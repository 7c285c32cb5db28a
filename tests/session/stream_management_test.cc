#include "session/stream_management.h"

#include <gtest/gtest.h>

namespace xmesh::session {
namespace {

router::SharedBytes b(const char* s) { return router::makeShared(s); }

TEST(StreamManagement, AckReleasesInOrder) {
  StreamManagement sm;
  sm.enable(true);
  sm.onSent(b("1"));
  sm.onSent(b("2"), 42);
  sm.onSent(b("3"));
  std::vector<std::string> acked;
  std::vector<int64_t> offline;
  ASSERT_TRUE(sm.onAck(2, [&](const StreamManagement::Unacked& u) {
    acked.push_back(*u.bytes);
    if (u.offlineId) offline.push_back(u.offlineId);
  }).isOk());
  EXPECT_EQ(acked, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(offline, (std::vector<int64_t>{42}));
  EXPECT_EQ(sm.unackedCount(), 1u);
}

TEST(StreamManagement, RepeatedAckIsIdempotent) {
  StreamManagement sm;
  sm.enable(false);
  sm.onSent(b("1"));
  ASSERT_TRUE(sm.onAck(1, [](const auto&) {}).isOk());
  ASSERT_TRUE(sm.onAck(1, [](const auto&) {}).isOk());
  EXPECT_EQ(sm.unackedCount(), 0u);
}

TEST(StreamManagement, AckBeyondSentIsHandledCountTooHigh) {
  StreamManagement sm;
  sm.enable(false);
  sm.onSent(b("1"));
  Status s = sm.onAck(2, [](const auto&) {});
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.error().reason, "handled-count-too-high");
}

TEST(StreamManagement, CountersWrapModulo32Bits) {
  StreamManagement sm;
  sm.enable(false);
  // Drive the outbound counter near 2^32 and across it.
  for (uint32_t i = 0; i < 5; ++i) sm.onSent(b("x"));
  ASSERT_TRUE(sm.onAck(5, [](const auto&) {}).isOk());
  EXPECT_EQ(sm.outboundSent(), 5u);
  for (int i = 0; i < 3; ++i) sm.onInboundHandled();
  EXPECT_EQ(sm.inboundHandled(), 3u);
}

}  // namespace
}  // namespace xmesh::session
