// The load generator's parent process: loads the scenario, population, salted-password
// keys and topology, decides each user's first target node, forks the worker processes
// (users sharded in contiguous ranges, each worker under the per-process open-file
// limit), merges their per-second reports, prints a live progress line, drives the
// phases ([warmup ->] login -> settle -> steady / saturation steps / idle -> drain ->
// finish) over the workers' control pipes, and writes the final table, report.json and
// report.html (html_report.h). The warmup (warmup_logins) ends when every worker has
// logged its users in and out once; then all start the login phase together.
//
// The login phase ends only when every user is resolved: online, or definitively failed
// (each login times out login_timeout after its first connect; see worker.h). As a
// safety net against a stuck worker, when no user has been resolved for login_timeout +
// 5 s and users/login_rate + login_timeout + 5 s have passed, the workers are told to
// expire what is still pending (reason "timeout", or "not-started"). Then `settle`
// seconds pass (the server works off the presence fan-out of the storm) before the main
// phase; the report gives when each phase began ("phases").
//
// The failover drill (drill.* keys) runs inside the main phase: 50 ms before a step's
// command runs, the workers are told the exact time ("drill <k> <realtime µs>") so they
// attribute every outage and message on the right side of it; then the command runs
// (drill_command.h). The main phase lasts at least until the last command + drill.timeout.
#pragma once
#include <array>
#include <climits>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "loadgen/drill_command.h"
#include "loadgen/drill_report.h"
#include "loadgen/histogram.h"
#include "loadgen/population.h"
#include "loadgen/salted_cache.h"
#include "loadgen/scenario.h"
#include "loadgen/stats.h"
#include "loadgen/worker.h"

namespace xmesh::loadgen {

struct CoordinatorOptions {
  Scenario scenario;
  std::string outDir = ".";
};

// Server-side readings from /proc (zeros when the pid is unknown or gone).
struct ProcReading {
  uint64_t rssKiB = 0;
  double cpuSeconds = 0;
};
ProcReading readProc(int pid);

class Coordinator {
 public:
  explicit Coordinator(CoordinatorOptions options);
  int run();

  // Files per process the workers may open; shards are sized under it.
  static constexpr uint32_t kMaxUsersPerWorker = 19000;

 private:
  struct WorkerProc {
    int pid = -1;
    int reportFd = -1;
    int controlFd = -1;
    std::string buffer;
    Counters counters;
    uint64_t firstConnectUs = 0, lastLoginUs = 0;
    uint32_t shardCount = 0;
    std::map<uint32_t, Counters> boundary;  // counters at the end of each epoch
    // Rates over the worker's own last reporting interval (>= 0.5 s), so the progress
    // line does not jitter when a tick lands on the other side of a second boundary.
    Counters rateBase;
    uint64_t rateBaseUs = 0;
    double loginsPerS = 0, sentPerS = 0, deliveredPerS = 0, presencePerS = 0, presenceSentPerS = 0, cpuPerS = 0;
    bool done = false;
    bool eof = false;
    bool warm = false;  // warmup_logins: its users logged in and out once
  };
  enum class Phase { Warmup, Login, Settle, Main, Drain, Finish };

  Status prepare();
  Status prepareTargets();
  Status spawn();
  void pump(int timeoutMs);
  void handleLine(WorkerProc& w, const std::string& line);
  void everySecond();
  void advance();
  void sendAll(const std::string& line);
  void sendRates(double msgsPerSec, double presencePerSec);
  void startStorm();
  void startMain();
  void endMain();
  bool haveBoundary(uint32_t epoch) const;
  Counters boundaryTotal(uint32_t epoch) const;
  void evaluateStep(uint32_t epoch);
  void driveDrill();
  double mainDuration() const;
  int msUntilDrillCommand() const;  // INT32_MAX when none is pending
  void collect();
  Counters total() const;
  double now() const;  // seconds since start
  nlohmann::json buildReport() const;
  void printTable(const nlohmann::json& report) const;

  CoordinatorOptions options_;
  const Scenario& sc_;
  Population population_;
  SaltedCache cache_;
  std::vector<Target> targets_;       // topology nodes in index order, or the one address
  std::vector<std::string> targetAddresses_;  // "host:port" of each target
  std::vector<uint16_t> userTarget_;  // first target per user offset; empty: all target 0
  std::vector<int32_t> backupOf_;     // by target: its HA backup's target (-1 none)
  std::vector<WorkerProc> workers_;
  uint64_t startUs_ = 0;
  std::string startedAt_;  // UTC, ISO 8601
  double loadAtStart_ = 0;  // 1-minute load average (the machine may be shared)
  Phase phase_ = Phase::Login;
  double phaseStart_ = 0;
  double nextSecond_ = 1;

  Histogram msgLatency_, loginLatency_, secondLatency_;
  nlohmann::json timeline_ = nlohmann::json::array();
  Counters lastSecond_;

  // warmup_logins: when the login phase began (seconds since start; 0 without warmup)
  // and the counters then (the login phase's CPU excludes the warmup's).
  double stormStart_ = 0;
  double warmedAt_ = -1;  // when every worker had reported warm (-1: not yet)
  Counters atStormStart_;
  // Login phase results.
  bool loginDone_ = false;
  double loginEndedAt_ = 0;
  double loginDeadline_ = 0;  // then pending logins are expired
  bool mainStarted_ = false;
  std::string mainStartedAt_;  // UTC, ISO 8601
  double expiredAt_ = -1;     // when "expire" was sent (-1: never)
  uint64_t lastResolved_ = 0;  // users online or failed at the last change
  double lastProgressAt_ = 0;
  ProcReading procAtStart_, procAtLoginEnd_, procAtMainStart_, procAtMainEnd_;
  // Epochs: each "send" command to the workers starts one (login phase = 0). Workers
  // close an epoch with an exact counter report, and tag latencies with their epoch.
  uint32_t epoch_ = 0;
  std::vector<double> epochStart_{0};
  std::vector<double> epochRate_{0};
  std::map<uint32_t, Histogram> epochLatency_;
  // Main phase: epochs [1, mainEndEpoch_).
  double mainStart_ = 0, mainEnd_ = 0;
  uint32_t mainEndEpoch_ = 0;
  Counters atLoginEnd_;
  // Saturation.
  double satRate_ = 0;
  double stepStart_ = 0;
  int64_t pendingEval_ = -1;
  bool satStopping_ = false;
  nlohmann::json steps_ = nlohmann::json::array();
  double highestHeld_ = 0;
  // The drill: per step (failover, fallback), when the workers were told and the command.
  std::array<DrillStepRun, kDrillWindows> drillSteps_{};
  std::array<DrillCommand, kDrillWindows> drillCommands_;
  uint64_t standbyAtDrill_ = 0;
  // Idle.
  ProcReading idleReading_;
  ProcReading lastSrv_;
  double lastServerCpuShare_ = -1;  // server CPU over the last second (1 = a core); -1 unknown
  bool serverSettled() const;
  bool interactive_ = false;
};

}  // namespace xmesh::loadgen
