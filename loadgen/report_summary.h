// The final readable table of a run, built from report.json so the terminal table and
// report.html show the same rows.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace xmesh::loadgen {

struct SummarySection {
  std::string title;  // "" = rows shown without a heading
  std::vector<std::pair<std::string, std::string>> rows;
  std::vector<bool> bad;  // per row: a failure worth highlighting (lost, failed, ...)
};

struct Summary {
  std::string heading;  // "login_storm (login_storm): 15000 users, 2 workers"
  std::vector<SummarySection> sections;
};

Summary summarize(const nlohmann::json& report);
std::string formatMs(uint64_t us);  // "1.23 ms"
// "p50 .. p90 .. p99 .. p99.9 .. max .. (n=..)" from {"p50":us, ...}
std::string formatLatency(const nlohmann::json& percentiles);

}  // namespace xmesh::loadgen
