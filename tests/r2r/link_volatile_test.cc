// Volatile control records (LinkConfig::volatileKinds, e.g. SRM heartbeats): delivered in
// order with counted units while the link is up, never counted, journaled or resent.
#include <gtest/gtest.h>

#include "link_harness.h"

namespace xmesh::r2r::test {
namespace {

const std::vector<Attr> kBeat{{"seq", "1"}, {"state", "normal"}};

TEST(R2rVolatile, DeliveredInOrderWithCountedUnitsAndNotCounted) {
  LinkPair p;
  p.open();
  p.pump();
  const std::vector<Attr> dir{{"op", "add"}, {"home", "n3"}};
  ASSERT_EQ(p.a.sendControl("dir", dir, "u1"), SendResult::Queued);
  ASSERT_EQ(p.a.sendVolatile("srm", kBeat), SendResult::Queued);
  ASSERT_EQ(p.a.sendControl("dir", dir, "u2"), SendResult::Queued);
  EXPECT_EQ(p.a.unackedCount(), 2u);  // the volatile record is not journaled
  p.pump();
  ASSERT_EQ(p.rb.units.size(), 3u);
  EXPECT_EQ(p.rb.units[0].seq, 1u);
  EXPECT_EQ(p.rb.units[1].name(), "srm");
  EXPECT_EQ(p.rb.units[1].seq, 0u);
  EXPECT_EQ(p.rb.units[1].attrs, kBeat);
  EXPECT_EQ(p.rb.units[2].seq, 2u);  // numbering skips the volatile record on both sides
  EXPECT_EQ(p.b.receivedSeq(), 2u);
}

TEST(R2rVolatile, NotSentWhileDisconnectedAndNeverResent) {
  LinkPair p;
  EXPECT_EQ(p.a.sendVolatile("srm", kBeat), SendResult::NotSent);  // never connected
  p.open();
  p.pump();
  ASSERT_EQ(p.a.sendVolatile("srm", kBeat), SendResult::Queued);
  const std::vector<Attr> dir{{"op", "add"}, {"home", "n3"}};
  ASSERT_EQ(p.a.sendControl("dir", dir, "u1"), SendResult::Queued);
  p.a.output().clear();  // both written, then lost with the connection
  p.close();
  EXPECT_EQ(p.a.sendVolatile("srm", kBeat), SendResult::NotSent);
  p.open();
  p.pump();
  ASSERT_EQ(p.rb.units.size(), 1u);  // the counted unit is resent, the heartbeat is not
  EXPECT_EQ(p.rb.units[0].name(), "dir");
}

TEST(R2rVolatile, UnknownVolatileKindIsRefusedByThePeer) {
  LinkConfig cb = configFor("b", "a", "eb");
  cb.volatileKinds.clear();
  LinkPair p(configFor("a", "b", "ea"), cb);
  p.open();
  p.pump();
  ASSERT_EQ(p.a.sendVolatile("srm", kBeat), SendResult::Queued);
  p.pump();
  EXPECT_EQ(p.rb.lastError(), "unknown-element");
}

TEST(R2rVolatile, InvalidNamesAreRefused) {
  LinkPair p;
  p.open();
  p.pump();
  EXPECT_EQ(p.a.sendVolatile("hb", kBeat), SendResult::Invalid);  // a link element
  const std::vector<Attr> bad{{"xmlns", "x"}};
  EXPECT_EQ(p.a.sendVolatile("srm", bad), SendResult::Invalid);
}

}  // namespace
}  // namespace xmesh::r2r::test
