// report.html building blocks: escaping, scales, the SVG path builder, ticks, number
// formatting, and the rendered page from a small synthetic report.
#include "loadgen/html_report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>

#include "loadgen/histogram.h"
#include "loadgen/report_summary.h"
#include "loadgen/stats.h"

namespace xmesh::loadgen::html {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(HtmlEscape, EscapesMarkupAndQuotes) {
  EXPECT_EQ(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(escape("plain text 1.2 ms"), "plain text 1.2 ms");
  EXPECT_EQ(escape(""), "");
  EXPECT_EQ(escape("\xC2\xB5s"), "\xC2\xB5s");  // UTF-8 passes through
}

TEST(HtmlScale, LinearAndLog) {
  Scale lin{0, 10, 100, 200};
  EXPECT_DOUBLE_EQ(lin(0), 100);
  EXPECT_DOUBLE_EQ(lin(5), 150);
  EXPECT_DOUBLE_EQ(lin(10), 200);
  Scale inverted{0, 100, 240, 40};  // SVG y grows downwards
  EXPECT_DOUBLE_EQ(inverted(25), 190);
  Scale lg{1, 1000, 0, 300, true};
  EXPECT_NEAR(lg(10), 100, 1e-9);
  EXPECT_NEAR(lg(100), 200, 1e-9);
  EXPECT_TRUE(std::isnan(lg(0)));
  EXPECT_TRUE(std::isnan(lg(-1)));
  Scale flat{3, 3, 0, 10};
  EXPECT_DOUBLE_EQ(flat(3), 5);
}

TEST(HtmlSvgPath, MovesThenLines) {
  Scale x{0, 10, 0, 100}, y{0, 10, 100, 0};
  EXPECT_EQ(svgPath({{0, 0}, {5, 5}, {10, 10}}, x, y), "M0,100 L50,50 L100,0");
  EXPECT_EQ(svgPath({}, x, y), "");
  EXPECT_EQ(svgPath({{1.25, 3.333}}, x, y), "M12.5,66.7");
}

TEST(HtmlSvgPath, NonFinitePointsBreakTheLine) {
  Scale x{0, 10, 0, 100}, y{0, 10, 100, 0};
  EXPECT_EQ(svgPath({{0, 0}, {1, kNaN}, {2, 2}, {3, 3}}, x, y), "M0,100 M20,80 L30,70");
  EXPECT_EQ(svgPath({{kNaN, 1}, {2, 2}}, x, y), "M20,80");
  Scale lg{1, 100, 100, 0, true};
  EXPECT_EQ(svgPath({{1, 10}, {2, 0}, {3, 100}}, x, lg), "M10,50 M30,0");  // log(0) is a gap
}

TEST(HtmlTicks, LinearStepsAreRound) {
  EXPECT_EQ(niceTicks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(niceTicks(0, 3000, 5), (std::vector<double>{0, 1000, 2000, 3000}));
  EXPECT_EQ(niceTicks(0.5, 2.2, 4), (std::vector<double>{0.5, 1, 1.5, 2}));
  EXPECT_EQ(niceTicks(7, 7, 5), (std::vector<double>{7}));
  EXPECT_TRUE(niceTicks(kNaN, 1, 5).empty());
}

TEST(HtmlTicks, LogPowersOfTen) {
  EXPECT_EQ(niceTicks(0.01, 100, 5, true), (std::vector<double>{0.01, 0.1, 1, 10, 100}));
  auto few = niceTicks(1, 10, 5, true);  // adds 2x and 5x when there are few decades
  EXPECT_EQ(few, (std::vector<double>{1, 2, 5, 10}));
}

TEST(HtmlCompact, Numbers) {
  EXPECT_EQ(compact(0), "0");
  EXPECT_EQ(compact(1234), "1.2k");
  EXPECT_EQ(compact(20000), "20k");
  EXPECT_EQ(compact(3e6), "3M");
  EXPECT_EQ(compact(150), "150");
  EXPECT_EQ(compact(2.5), "2.5");
  EXPECT_EQ(compact(0.25), "0.25");
  EXPECT_EQ(compact(-1500), "-1.5k");
}

TEST(HtmlChart, SeriesLegendBandsAndNoData) {
  Chart c;
  c.title = "Rates <per> second";
  c.xLabel = "s";
  c.yLabel = "msgs/s";
  c.series.push_back({"sent", "#123456", {{1, 10}, {2, 20}, {3, 30}}});
  c.bands.push_back({0, 2, "login", "#eeeeee"});
  c.hLines.emplace_back(25, "bound");
  std::string svg = renderChart(c);
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("Rates &lt;per&gt; second"), std::string::npos);
  EXPECT_NE(svg.find("stroke=\"#123456\""), std::string::npos);
  EXPECT_NE(svg.find("<path d=\"M"), std::string::npos);
  EXPECT_NE(svg.find(">login</text>"), std::string::npos);
  EXPECT_NE(svg.find(">bound</text>"), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  Chart empty;
  empty.title = "nothing";
  empty.series.push_back({"x", "", {{1, kNaN}}});
  EXPECT_NE(renderChart(empty).find("no data"), std::string::npos);
}

nlohmann::json sampleReport() {
  Histogram msg, login;
  for (uint64_t v = 100; v < 5000; v += 7) msg.record(v);
  msg.record(250000);
  login.record(2000000, 10);
  nlohmann::json pct = {{"count", 1}, {"min", 1}, {"mean", 1}, {"p50", 1}, {"p90", 1}, {"p99", 1}, {"p99_9", 1}, {"max", 1}};
  nlohmann::json r;
  r["scenario"] = {{"name", "demo<1>"}, {"kind", "saturation"}, {"users", "10"}, {"host", "127.0.0.1"},
                   {"port", "5222"}, {"server_pid", "42"}, {"duration", "5"}, {"sat_step_rate", "1000"}};
  r["workers"] = 2;
  r["wall_s"] = 12.5;
  r["started_at"] = "2024-01-01T00:00:00Z";
  r["login"] = {{"users", 10}, {"online", 10}, {"logins", 10}, {"failures", 0}, {"dropped_later", 0},
                {"failure_reasons", nlohmann::json::object()}, {"time_to_last_login_s", 1.0}, {"all_online", true},
                {"logins_per_s", 10.0}, {"latency_us", pct}, {"latency_histogram", histogramReport(login)},
                {"loadgen_cpu_s", 0.1}, {"server_cpu_s", 0.2},
                {"scram_cache", {{"preloaded_users", 10}, {"hits", 10}, {"misses", 0}}}};
  r["messages"] = {{"sent", msg.count()}, {"delivered", msg.count()}, {"lost", 0}, {"duplicated", 0},
                   {"out_of_order", 0}, {"main_phase_s", 5.0}, {"sent_per_s", 100.0}, {"delivered_per_s", 100.0},
                   {"latency_us", pct}, {"latency_histogram", histogramReport(msg)}};
  r["presence"] = {{"sent", 0}, {"received", 0}};
  r["cpu"] = {{"loadgen_main_s", 0.1}, {"server_main_s", 0.1}, {"loadgen_total_s", 0.3}, {"coordinator_s", 0.01}};
  r["saturation"] = {{"p99_bound_ms", 10.0}, {"highest_rate_held", 1000.0},
                     {"steps", {{{"target", 1000.0}, {"seconds", 5.0}, {"sent_per_s", 1000.0}, {"delivered_per_s", 1000.0},
                                 {"p50_us", 300}, {"p99_us", 900}, {"p99_9_us", 1000}, {"max_us", 2000}, {"held", true},
                                 {"generator_limited", false}},
                                {{"target", 2000.0}, {"seconds", 5.0}, {"sent_per_s", 2000.0}, {"delivered_per_s", 1500.0},
                                 {"p50_us", 3000}, {"p99_us", 25000}, {"p99_9_us", 30000}, {"max_us", 40000}, {"held", false},
                                 {"generator_limited", false}}}}};
  r["timeline"] = nlohmann::json::array();
  for (int t = 1; t <= 6; ++t)
    r["timeline"].push_back({{"t", t}, {"phase", t <= 2 ? "login" : "main"}, {"online", 10}, {"logins", t <= 2 ? 5 : 0},
                             {"failures", 0}, {"sent", t > 2 ? 100 : 0}, {"delivered", t > 2 ? 100 : 0},
                             {"presence_sent", 0}, {"presence_received", 0}, {"p50_us", t > 2 ? 300 : 0},
                             {"p99_us", t > 2 ? 900 : 0}, {"max_us", t > 2 ? 2000 : 0}, {"loadgen_cpu", 0.2},
                             {"server_cpu", 0.3}, {"server_rss_kib", 20480}});
  return r;
}

TEST(HtmlReport, SelfContainedPageWithAllSections) {
  std::string page = renderHtmlReport(sampleReport());
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("demo&lt;1&gt;"), std::string::npos);  // scenario name escaped
  EXPECT_EQ(page.find("demo<1>"), std::string::npos);
  for (const char* part : {"Summary", "Logins per second", "Users online", "Messages per second", "Presence per second",
                           "Message latency per second", "CPU (% of one core)", "Server RSS",
                           "Message latency histogram", "Latency by percentile", "Saturation: p99 per step",
                           "bound 10 ms", "SCRAM salted passwords preloaded for 10 users", "OK: all users online"})
    EXPECT_NE(page.find(part), std::string::npos) << part;
  // No network: nothing is fetched.
  EXPECT_EQ(page.find("http://"), page.find("http://www.w3.org/2000/svg"));
  EXPECT_EQ(page.find("https://"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("nan"), std::string::npos);
  EXPECT_EQ(page.find("inf\""), std::string::npos);
}

TEST(HtmlReport, HistogramReportIsExactAndBarsMatchBuckets) {
  Histogram h;
  h.record(5, 3);
  h.record(1000, 2);
  auto j = histogramReport(h);
  ASSERT_EQ(j["buckets"].size(), 2u);
  EXPECT_EQ(j["buckets"][0], nlohmann::json({5, 5, 3}));
  EXPECT_EQ(j["buckets"][1][0].get<uint64_t>(), Histogram::lowestIn(Histogram::bucketOf(1000)));
  EXPECT_EQ(j["buckets"][1][1].get<uint64_t>(), Histogram::highestIn(Histogram::bucketOf(1000)));
  EXPECT_EQ(j["count"], 5);
  std::string svg = renderDistribution(j, "d");
  size_t bars = 0;
  for (size_t p = svg.find("<rect"); p != std::string::npos; p = svg.find("<rect", p + 1)) ++bars;
  EXPECT_EQ(bars, 2u);
  EXPECT_NE(svg.find("5-5 \xC2\xB5s: 3 (60%)"), std::string::npos);
  EXPECT_NE(renderDistribution(nlohmann::json::object(), "d").find("no data"), std::string::npos);
}

TEST(HtmlReport, ProblemsAreFlagged) {
  auto r = sampleReport();
  r["messages"]["lost"] = 3;
  std::string page = renderHtmlReport(r);
  EXPECT_NE(page.find("PROBLEMS"), std::string::npos);
  EXPECT_NE(page.find("badrow"), std::string::npos);
  auto sum = summarize(r);
  EXPECT_EQ(sum.heading, "demo<1> (saturation): 10 users, 2 workers");
}


// A mesh run: the summary lists each target node with its online users and redirects,
// and when the main phase started.
TEST(HtmlReport, SummaryShowsNodesRedirectsAndMainStart) {
  auto r = sampleReport();
  r["login"]["redirects"] = 7;
  r["login"]["nodes"] = {{{"node", "a1"}, {"address", "127.0.0.1:15001"}, {"online", 6}, {"redirected_here", 3}},
                         {{"node", "a2"}, {"address", "127.0.0.1:15002"}, {"online", 4}, {"redirected_here", 4}}};
  r["phases"] = {{"login_resolved_s", 2.5}, {"logins_expired", false}, {"settle_s", 1.0}, {"main_started_s", 3.5},
                 {"main_started_at", "2024-01-01T00:00:03Z"}, {"main_ended_s", 8.5}};
  Summary sum = summarize(r);
  std::map<std::string, std::string> rows;
  for (const auto& sec : sum.sections)
    for (const auto& [k, v] : sec.rows) rows[k] = v;
  EXPECT_EQ(rows["  online on a1 (127.0.0.1:15001)"], "6 (3 redirected here)");
  EXPECT_EQ(rows["  online on a2 (127.0.0.1:15002)"], "4 (4 redirected here)");
  EXPECT_EQ(rows["redirects (see-other-host)"], "7");
  EXPECT_EQ(rows["main phase started"],
            "at 3.5 s (2024-01-01T00:00:03Z): all logins resolved at 2.5 s, then settle 1.0 s");
  // Old reports (no nodes, no phases) still render.
  EXPECT_NE(renderHtmlReport(sampleReport()).find("Summary"), std::string::npos);
}

}  // namespace
}  // namespace xmesh::loadgen::html

namespace xmesh::loadgen::html {
namespace {

// A drill run: the page has the drill section (users down over time with the commands,
// downtime distributions), its rows are in the summary, and users not back fail the verdict.
TEST(HtmlReport, DrillSectionAndVerdict) {
  auto r = sampleReport();
  Histogram down;
  down.record(150000, 9);
  nlohmann::json pct = {{"count", 9}, {"min", 1}, {"mean", 1}, {"p50", 150000}, {"p90", 1}, {"p99", 150000},
                        {"p99_9", 1}, {"max", 150000}};
  nlohmann::json step = {{"command", "kill -9 42"}, {"ran", true}, {"ran_at_s", 4.0}, {"exit_code", 0},
                         {"command_s", 0.01}, {"users_affected", 10}, {"users_back", 9}, {"users_not_back", 1},
                         {"users_back_late", 0}, {"moved_without_downtime", 0}, {"downtime_us", pct},
                         {"downtime_histogram", histogramReport(down)}, {"last_user_back_s", nullptr},
                         {"messages", {{"sent", 50}, {"delivered", 50}, {"lost", 0}, {"in_doubt", 0},
                                       {"duplicated", 0}, {"out_of_order", 0}}}};
  r["drill"] = {{"dual", true}, {"sm", true}, {"timeout_s", 10.0}, {"reconnect", "backup"},
                {"standby_bound_at_failover", 10}, {"failover", step},
                {"clients", {{"relogins", 0}, {"relogin_attempts", 0}, {"standby_binds", 10}, {"standby_bound_at_end", 0},
                             {"standby_failures", 0}, {"activations", 9}, {"activate_refused", 2},
                             {"failover_notices", 9}, {"fallback_notices", 0}, {"deactivations", 0},
                             {"dual_unsupported", 0}, {"down_at_end", 1}}}};
  for (auto& e : r["timeline"]) {
    e["down"] = e["t"].get<int>() >= 4 ? 1 : 0;
    e["inactive"] = 10;
  }
  std::string page = renderHtmlReport(r);
  for (const char* part : {"Failover drill", "Users without an active session", "Downtime per user (failover)",
                           "failover drill (dual connections)", "never: 1 users not back", "kill -9 42",
                           "PROBLEMS", "the failover drill found problems"})
    EXPECT_NE(page.find(part), std::string::npos) << part;
  EXPECT_EQ(page.find("nan"), std::string::npos);
  r["drill"]["failover"]["users_not_back"] = 0;
  r["drill"]["failover"]["last_user_back_s"] = 1.25;
  std::string fine = renderHtmlReport(r);
  EXPECT_NE(fine.find("OK: all users online"), std::string::npos);
  EXPECT_NE(fine.find("1.250 s"), std::string::npos);
}

}  // namespace
}  // namespace xmesh::loadgen::html
