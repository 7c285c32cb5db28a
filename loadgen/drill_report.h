// The failover drill's part of report.json and of the readable table (report_summary.h):
// per step (failover, fallback) the command and when it ran, per-user downtime
// percentiles from the merged histogram, the time from the command until the last user
// was active again, users never back (or back after the bound), and the messages sent in
// the step's window: delivered, lost, in doubt, duplicated, out of order.
//
// Lost is counted honestly: a message a sender skipped while it was down was never sent
// and is not lost. With XEP-0198 (sm = true) a message written on a stream that broke
// before the server acknowledged it is "in doubt" (the client cannot know whether the
// server took it) and lost = sent - delivered - in doubt: the acknowledged messages that
// never arrived (exact when no in-doubt message arrived; otherwise it undercounts by at
// most in doubt). Without XEP-0198 nothing is acknowledged: lost = sent - delivered.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "loadgen/report_summary.h"
#include "loadgen/scenario.h"
#include "loadgen/stats.h"

namespace xmesh::loadgen {

// What the coordinator knows of one drill step's command.
struct DrillStepRun {
  std::string command;
  bool scheduled = false;   // the scenario has this step
  bool ran = false;         // the command was started
  double ranAtS = 0;        // seconds since the start of the run
  uint64_t ranAtUs = 0;     // CLOCK_REALTIME
  bool finished = false;
  int exitCode = -1;
  double commandS = 0;      // how long the command ran
  std::string error;        // it could not be started
};

// r["drill"]; `standbyAtDrill`: users with a bound inactive session when the failover
// command ran.
nlohmann::json drillReport(const Scenario& sc, const Counters& total, const std::array<DrillStepRun, kDrillWindows>& steps,
                           uint64_t standbyAtDrill);
// The table's drill sections (empty without r["drill"]).
void summarizeDrill(const nlohmann::json& report, std::vector<SummarySection>& out);
// True when the drill found a problem: users not back (or late), lost or duplicated
// messages, a command that failed.
bool drillHasProblems(const nlohmann::json& report);

}  // namespace xmesh::loadgen
