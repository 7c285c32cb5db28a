// Downtime accounting of the failover drill (downtime.h) and the report built from it
// (drill_report.h): outages belong to the window they began in, per-user sums, users not
// back, late returns, moves without a gap, honest message counts.
#include "loadgen/downtime.h"

#include <gtest/gtest.h>

#include "loadgen/drill_report.h"

namespace xmesh::loadgen {
namespace {

constexpr uint64_t kT0 = 1'700'000'000'000'000ULL;  // the failover command (realtime µs)
constexpr uint64_t kS = 1'000'000;

TEST(DowntimeTrackerTest, OutagesBeforeTheDrillAreNotTheDrills) {
  DowntimeTracker t(4, 10 * kS);
  t.down(0, kT0 - 5 * kS);
  t.up(0, kT0 - 4 * kS);
  t.openWindow(0, kT0);
  std::array<DrillWindowStats, kDrillWindows> w{};
  t.finalize(w);
  EXPECT_EQ(w[0].affected, 0u);
  EXPECT_EQ(w[0].downtime.count(), 0u);
  EXPECT_EQ(t.downNow(), 0u);
}

TEST(DowntimeTrackerTest, PerUserDowntimeIsTheSumOfItsOutagesInTheWindow) {
  DowntimeTracker t(3, 10 * kS);
  t.openWindow(0, kT0);
  t.down(0, kT0 + 100);
  t.down(0, kT0 + 200);  // already down: the outage began at +100
  t.up(0, kT0 + 1100);   // 1000 µs
  t.down(0, kT0 + 5000);
  t.up(0, kT0 + 5500);   // + 500 µs
  t.down(1, kT0 + 10);
  t.up(1, kT0 + 2 * kS + 10);
  std::array<DrillWindowStats, kDrillWindows> w{};
  t.finalize(w);
  EXPECT_EQ(w[0].affected, 2u);
  EXPECT_EQ(w[0].notBack, 0u);
  ASSERT_EQ(w[0].downtime.count(), 2u);  // one sample per user, not per outage
  EXPECT_EQ(w[0].downtime.min(), 1500u);
  EXPECT_EQ(w[0].downtime.max(), 2 * kS);
  EXPECT_EQ(w[0].lastBackUs, kT0 + 2 * kS + 10);
}

TEST(DowntimeTrackerTest, UsersStillDownAreNotBackAndGiveNoSample) {
  DowntimeTracker t(2, 10 * kS);
  t.openWindow(0, kT0);
  t.down(0, kT0 + 1);
  t.down(1, kT0 + 2);
  t.up(1, kT0 + 3);
  std::array<DrillWindowStats, kDrillWindows> w{};
  t.finalize(w);
  EXPECT_EQ(w[0].affected, 2u);
  EXPECT_EQ(w[0].notBack, 1u);
  EXPECT_EQ(w[0].downtime.count(), 1u);
  EXPECT_EQ(t.downNow(), 1u);
  EXPECT_TRUE(t.isDown(0));
}

TEST(DowntimeTrackerTest, ReturnsAfterTheBoundAreLate) {
  DowntimeTracker t(2, 1 * kS);
  t.openWindow(0, kT0);
  t.down(0, kT0);
  t.up(0, kT0 + kS);  // exactly the bound: in time
  t.down(1, kT0);
  t.up(1, kT0 + kS + 1);
  std::array<DrillWindowStats, kDrillWindows> w{};
  t.finalize(w);
  EXPECT_EQ(w[0].late, 1u);
}

TEST(DowntimeTrackerTest, TheWindowIsThatOfTheBreakEvenIfTheWorkerLearnsItLate) {
  DowntimeTracker t(2, 10 * kS);
  t.down(0, kT0 + 5);  // the kill's effect reached the worker before the control line
  t.openWindow(0, kT0);
  t.openWindow(1, kT0 + 20 * kS);
  t.up(0, kT0 + 21 * kS);  // back only after the fallback began: still the failover's
  t.down(1, kT0 + 20 * kS + 1);
  t.up(1, kT0 + 20 * kS + 301);
  std::array<DrillWindowStats, kDrillWindows> w{};
  t.finalize(w);
  EXPECT_EQ(w[0].affected, 1u);
  EXPECT_EQ(w[0].downtime.max(), 21 * kS - 5);
  EXPECT_EQ(w[1].affected, 1u);
  EXPECT_EQ(w[1].downtime.max(), 300u);
}

TEST(DowntimeTrackerTest, AMoveWithoutAGapCountsAsZeroDowntime) {
  DowntimeTracker t(2, 10 * kS);
  t.openWindow(0, kT0);
  t.openWindow(1, kT0 + 10 * kS);
  t.moved(0, kT0 + 11 * kS);  // dual fallback: activated on the home before deactivation
  t.down(1, kT0 + 11 * kS);   // the other user was deactivated first ...
  t.moved(1, kT0 + 11 * kS + 40);  // ... then activated: 40 µs down
  std::array<DrillWindowStats, kDrillWindows> w{};
  t.finalize(w);
  EXPECT_EQ(w[1].affected, 2u);
  EXPECT_EQ(w[1].moved, 1u);
  EXPECT_EQ(w[1].downtime.min(), 0u);
  EXPECT_EQ(w[1].downtime.max(), 40u);
  EXPECT_EQ(w[0].affected, 0u);
}

TEST(DowntimeTrackerTest, FinalizeCanBeCalledAtEveryReport) {
  DowntimeTracker t(1, 10 * kS);
  t.openWindow(0, kT0);
  t.down(0, kT0 + 1);
  t.up(0, kT0 + 11);
  std::array<DrillWindowStats, kDrillWindows> w{};
  w[0].sent = 7;  // message counts are the worker's: finalize leaves them
  t.finalize(w);
  t.finalize(w);
  EXPECT_EQ(w[0].affected, 1u);
  EXPECT_EQ(w[0].downtime.count(), 1u);
  EXPECT_EQ(w[0].sent, 7u);
}

TEST(DrillCountersTest, JsonRoundTripAndMerge) {
  DrillCounters a;
  a.relogins = 3;
  a.standbyBound = 2;
  a.activations = 5;
  a.windows[0].affected = 4;
  a.windows[0].sent = 100;
  a.windows[0].inDoubt = 2;
  a.windows[0].lastBackUs = kT0 + 9;
  a.windows[0].downtime.record(1234);
  a.windows[1].duplicated = 1;
  DrillCounters b = drillCountersFromJson(toJson(a));
  EXPECT_EQ(b.relogins, 3u);
  EXPECT_EQ(b.activations, 5u);
  EXPECT_EQ(b.windows[0].inDoubt, 2u);
  EXPECT_EQ(b.windows[0].downtime.count(), 1u);
  EXPECT_EQ(b.windows[1].duplicated, 1u);
  b.windows[0].lastBackUs = kT0 + 3;
  a.add(b);
  EXPECT_EQ(a.relogins, 6u);
  EXPECT_EQ(a.windows[0].affected, 8u);
  EXPECT_EQ(a.windows[0].downtime.count(), 2u);
  EXPECT_EQ(a.windows[0].lastBackUs, kT0 + 9);  // the latest return, not a sum
}

Counters drillTotals(uint64_t notBack) {
  Counters c;
  DrillWindowStats& w = c.drill.windows[0];
  w.affected = 10;
  w.notBack = notBack;
  w.downtime.record(200'000, 10 - notBack);
  w.lastBackUs = kT0 + 1'500'000;
  w.sent = 100;
  w.delivered = 95;
  w.inDoubt = 3;
  return c;
}

TEST(DrillReportTest, LostExcludesInDoubtAndLastBackIsFromTheCommand) {
  auto sc = Scenario::load("", {"kind=steady", "drill.at=1", "drill.command=true", "sm=true"});
  ASSERT_TRUE(sc.isOk());
  std::array<DrillStepRun, kDrillWindows> steps{};
  steps[0] = {"kill -9 1", true, true, 12.0, kT0, true, 0, 0.01, ""};
  nlohmann::json r = {{"drill", drillReport(*sc, drillTotals(0), steps, 10)}};
  const auto& f = r["drill"]["failover"];
  EXPECT_EQ(f["messages"]["lost"], 2u);  // 100 sent - 95 delivered - 3 in doubt
  EXPECT_EQ(f["users_back"], 10u);
  EXPECT_DOUBLE_EQ(f["last_user_back_s"].get<double>(), 1.5);
  EXPECT_FALSE(r["drill"].contains("fallback"));
  EXPECT_TRUE(drillHasProblems(r));  // 2 lost
  std::vector<SummarySection> sections;
  summarizeDrill(r, sections);
  ASSERT_GE(sections.size(), 2u);
  EXPECT_NE(sections[0].title.find("failover"), std::string::npos);
}

TEST(DrillReportTest, UsersNotBackLeaveTheLastReturnUnknown) {
  auto sc = Scenario::load("", {"kind=steady", "drill.at=1", "drill.command=true"});
  ASSERT_TRUE(sc.isOk());
  std::array<DrillStepRun, kDrillWindows> steps{};
  steps[0] = {"true", true, true, 12.0, kT0, true, 0, 0.01, ""};
  Counters c = drillTotals(2);
  c.drill.windows[0].delivered = 100;
  c.drill.windows[0].inDoubt = 0;
  nlohmann::json r = {{"drill", drillReport(*sc, c, steps, 0)}};
  const auto& f = r["drill"]["failover"];
  EXPECT_TRUE(f["last_user_back_s"].is_null());
  EXPECT_EQ(f["users_not_back"], 2u);
  EXPECT_EQ(f["messages"]["lost"], 0u);
  EXPECT_TRUE(drillHasProblems(r));
  c.drill.windows[0].notBack = 0;
  nlohmann::json ok = {{"drill", drillReport(*sc, c, steps, 0)}};
  EXPECT_FALSE(drillHasProblems(ok));
}

}  // namespace
}  // namespace xmesh::loadgen
