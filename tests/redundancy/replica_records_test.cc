#include "router/replica_records.h"

#include <gtest/gtest.h>

namespace xmesh::router::replica {
namespace {

Record roundTrip(const Record& r) {
  auto back = decode(encode(r), r.stanza);
  EXPECT_TRUE(back.isOk()) << (back.isOk() ? "" : back.error().detail);
  return back.isOk() ? back.value() : Record{};
}

TEST(ReplicaRecords, EveryOpRoundTrips) {
  Record open{.op = Op::Open, .jid = "alice@example.com/laptop", .home = "n1", .dual = true};
  Record back = roundTrip(open);
  EXPECT_EQ(back.op, Op::Open);
  EXPECT_EQ(back.jid, open.jid);
  EXPECT_EQ(back.home, "n1");
  EXPECT_TRUE(back.dual);

  Record presence{.op = Op::Presence, .jid = "alice@example.com/laptop", .priority = -3, .available = true,
                  .stanza = "<presence from='alice@example.com/laptop'><show>away</show></presence>"};
  back = roundTrip(presence);
  EXPECT_EQ(back.priority, -3);
  EXPECT_TRUE(back.available);
  EXPECT_EQ(back.stanza, presence.stanza);

  Record out{.op = Op::Out, .jid = "a@example.com/r", .seq = 4294967295u, .cls = StanzaClass::Iq,
             .stanza = "<iq type='get' id='1'/>"};
  back = roundTrip(out);
  EXPECT_EQ(back.seq, 4294967295u);
  EXPECT_EQ(back.cls, StanzaClass::Iq);
  EXPECT_EQ(back.offlineId, 0);

  Record stored{.op = Op::Out, .jid = "a@example.com/r", .seq = 9, .offlineId = 77};
  back = roundTrip(stored);
  EXPECT_EQ(back.offlineId, 77);
  EXPECT_TRUE(back.stanza.empty());

  back = roundTrip(Record{.op = Op::Ack, .jid = "a@example.com/r", .seq = 12});
  EXPECT_EQ(back.op, Op::Ack);
  EXPECT_EQ(back.seq, 12u);

  back = roundTrip(Record{.op = Op::Close, .jid = "a@example.com/r", .keep = true});
  EXPECT_TRUE(back.keep);
  EXPECT_EQ(roundTrip(Record{.op = Op::Reset}).op, Op::Reset);
}

TEST(ReplicaRecords, MalformedRecordsNameEveryBadField) {
  auto r = decode({{"op", "frobnicate"}}, "");
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.error().reason, "bad-rep");

  r = decode({{"op", "out"}, {"jid", "a@b/c"}, {"seq", "-1"}, {"cls", "chat"}}, "");
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.error().detail.find("seq"), std::string::npos);
  EXPECT_NE(r.error().detail.find("cls"), std::string::npos);
  EXPECT_NE(r.error().detail.find("stanza"), std::string::npos);  // no bytes and no offline row

  r = decode({{"op", "open"}, {"dual", "yes"}}, "");
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.error().detail.find("jid"), std::string::npos);
  EXPECT_NE(r.error().detail.find("home"), std::string::npos);
  EXPECT_NE(r.error().detail.find("dual"), std::string::npos);

  // An available presence needs its stanza; an unavailable one has none.
  EXPECT_FALSE(decode({{"op", "presence"}, {"jid", "a@b/c"}, {"prio", "0"}, {"avail", "1"}}, "").isOk());
  EXPECT_TRUE(decode({{"op", "presence"}, {"jid", "a@b/c"}, {"prio", "0"}, {"avail", "0"}}, "").isOk());
  EXPECT_FALSE(decode({{"op", "ack"}, {"jid", "a@b/c"}, {"h", "4294967296"}}, "").isOk());
}

}  // namespace
}  // namespace xmesh::router::replica
