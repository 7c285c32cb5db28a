#include "loadgen/coordinator.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include "loadgen/connection.h"
#include "loadgen/html_report.h"
#include "loadgen/report_summary.h"
#include "loadgen/worker.h"
#include "topology/loader.h"

namespace xmesh::loadgen {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;
void onInterrupt(int) { g_interrupted = 1; }

Status setCpuList(const std::string& list) {
  if (list.empty()) return Status::ok();
  cpu_set_t set;
  CPU_ZERO(&set);
  std::stringstream ss(list);
  std::string part;
  while (std::getline(ss, part, ',')) {
    int a = 0, b = 0;
    if (std::sscanf(part.c_str(), "%d-%d", &a, &b) == 2) {
      for (int c = a; c <= b; ++c) CPU_SET(c, &set);
    } else if (std::sscanf(part.c_str(), "%d", &a) == 1) {
      CPU_SET(a, &set);
    } else {
      return Status::fail("scenario", "bad cpu_list " + list);
    }
  }
  if (sched_setaffinity(0, sizeof set, &set) != 0) return Status::fail("scenario", "sched_setaffinity failed");
  return Status::ok();
}

double selfChildrenCpu() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

nlohmann::json percentiles(const Histogram& h) {
  return {{"count", h.count()}, {"min", h.min()}, {"mean", std::round(h.mean())},
          {"p50", h.percentile(50)}, {"p90", h.percentile(90)}, {"p99", h.percentile(99)},
          {"p99_9", h.percentile(99.9)}, {"max", h.max()}};
}

std::string ms(uint64_t us) { return formatMs(us); }

double loadAverage() {
  double l = 0;
  std::ifstream f("/proc/loadavg");
  f >> l;
  return l;
}

std::string utcNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

uint64_t realtimeUs() { return Worker::realtimeUs(); }

}  // namespace

ProcReading readProc(int pid) {
  ProcReading r;
  if (pid <= 0) return r;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) r.rssKiB = std::strtoull(line.c_str() + 6, nullptr, 10);
  std::ifstream statFile("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(statFile)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  if (paren != std::string::npos) {
    std::istringstream in(stat.substr(paren + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;  // NOLINT(runtime/int)
    for (int i = 3; i <= 15 && in >> field; ++i) {
      if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
      if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
    }
    r.cpuSeconds = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  return r;
}

Coordinator::Coordinator(CoordinatorOptions options)
    : options_(std::move(options)), sc_(options_.scenario) {}

double Coordinator::now() const { return static_cast<double>(realtimeUs() - startUs_) / 1e6; }

Counters Coordinator::total() const {
  Counters t;
  for (const auto& w : workers_) t.add(w.counters);
  return t;
}

Status Coordinator::prepare() {
  if (!sc_.population.empty()) {
    auto p = Population::load(sc_.population, sc_.userPattern, sc_.first, sc_.users);
    if (!p.isOk()) return Status::fail(p.error().reason, p.error().detail);
    population_ = std::move(p.value());
  } else {
    population_ = Population::ring(sc_.first, sc_.users, sc_.ringContacts);
  }
  if (!sc_.keys.empty()) {
    Status s = cache_.loadFile(sc_.keys);
    if (!s) return s;
  }
  if (Status s = prepareTargets(); !s) return s;
  Status s = setCpuList(sc_.cpuList);
  if (!s) return s;
  uint32_t n = sc_.workers ? sc_.workers : std::max(1u, std::thread::hardware_concurrency());
  n = std::max(n, (sc_.users + kMaxUsersPerWorker - 1) / kMaxUsersPerWorker);
  n = std::min(n, sc_.users);
  workers_.resize(n);
  std::error_code ec;
  std::filesystem::create_directories(options_.outDir, ec);
  return Status::ok();
}

Status Coordinator::prepareTargets() {
  if (sc_.topology.empty()) {
    Target t;
    t.name = sc_.host + ":" + std::to_string(sc_.port);
    if (Status s = resolveIpv4(sc_.host, sc_.port, &t.addr); !s) return s;
    targetAddresses_.push_back(t.name);
    targets_.push_back(std::move(t));
    return Status::ok();  // homes in the population, if any, are the server's business
  }
  auto topo = topology::loadTopology(sc_.topology);
  if (!topo) return Status::fail(topo.error().reason, sc_.topology + ": " + topo.error().detail);
  for (const topology::Node& n : topo->nodes()) {
    Target t;
    t.name = n.id;
    std::string host = n.reachable(n.c2s);
    if (Status s = resolveIpv4(host, n.c2s.port, &t.addr); !s)
      return Status::fail("resolve", "node '" + n.id + "': " + s.error().detail);
    targetAddresses_.push_back(host + ":" + std::to_string(n.c2s.port));
    targets_.push_back(std::move(t));
  }
  auto nodes = static_cast<uint32_t>(targets_.size());
  // Where a node's users go when it fails (plain clients' re-logins in a drill).
  for (topology::NodeIndex n = 0; n < nodes; ++n) {
    auto b = topo->backupOf(n);
    if (!b) b = topo->prgPeer(n);
    backupOf_.push_back(b ? static_cast<int32_t>(*b) : -1);
  }
  if (sc_.connect == ConnectMode::Wrong && nodes < 2)
    return Status::fail("scenario", "connect = wrong needs a topology of at least 2 nodes");
  // Every home the population names must be a node of this topology: mismatched files
  // would silently measure something else.
  for (size_t h = 1; h < population_.homeNames().size(); ++h)
    if (!topo->nodeIndex(population_.homeNames()[h]))
      return Status::fail("population", "home node '" + population_.homeNames()[h] + "' of " + sc_.population +
                                            " is not in the topology " + sc_.topology);
  userTarget_.resize(sc_.users);
  uint32_t roundRobin = 0;
  for (uint32_t i = 0; i < sc_.users; ++i) {
    const std::string& home = population_.homeOf(sc_.first + i);
    int64_t h = -1;  // the home's node index, -1 without one
    if (!home.empty()) h = topo->nodeIndex(home).value_or(0);
    uint32_t t = 0;
    switch (sc_.connect) {
      case ConnectMode::Home: t = h >= 0 ? static_cast<uint32_t>(h) : roundRobin++ % nodes; break;
      case ConnectMode::Wrong: t = h >= 0 ? static_cast<uint32_t>(h + 1) % nodes : roundRobin++ % nodes; break;
      case ConnectMode::Spread: t = i % nodes; break;
    }
    userTarget_[i] = static_cast<uint16_t>(t);
  }
  return Status::ok();
}

Status Coordinator::spawn() {
  uint32_t n = static_cast<uint32_t>(workers_.size());
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t lo = static_cast<uint32_t>(uint64_t{sc_.users} * i / n);
    uint32_t hi = static_cast<uint32_t>(uint64_t{sc_.users} * (i + 1) / n);
    int rep[2], ctl[2];
    if (pipe2(rep, O_CLOEXEC) != 0 || pipe2(ctl, O_CLOEXEC) != 0) return Status::fail("spawn", "pipe failed");
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid < 0) return Status::fail("spawn", "fork failed");
    if (pid == 0) {
      signal(SIGINT, SIG_IGN);  // the coordinator decides when to stop
      ::close(rep[0]);
      ::close(ctl[1]);
      for (uint32_t k = 0; k < i; ++k) {
        ::close(workers_[k].reportFd);
        ::close(workers_[k].controlFd);
      }
      WorkerConfig wc;
      wc.scenario = sc_;
      wc.id = i;
      wc.shardFirst = sc_.first + lo;
      wc.shardCount = hi - lo;
      wc.reportFd = rep[1];
      wc.controlFd = ctl[0];
      wc.population = &population_;
      wc.cache = &cache_;
      wc.targets = targets_;
      wc.backupOf = backupOf_;
      wc.userTarget = userTarget_.empty() ? nullptr : &userTarget_;
      int code = 0;
      {
        Worker worker(std::move(wc));
        code = worker.run();
      }
      std::fflush(nullptr);
      _exit(code);
    }
    ::close(rep[1]);
    ::close(ctl[0]);
    workers_[i].pid = pid;
    workers_[i].reportFd = rep[0];
    workers_[i].controlFd = ctl[1];
    workers_[i].shardCount = hi - lo;
    workers_[i].rateBaseUs = startUs_;
  }
  return Status::ok();
}

void Coordinator::pump(int timeoutMs) {
  std::vector<pollfd> fds;
  std::vector<size_t> who;
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (workers_[i].eof) continue;
    fds.push_back({workers_[i].reportFd, POLLIN, 0});
    who.push_back(i);
  }
  if (fds.empty()) {
    usleep(static_cast<useconds_t>(timeoutMs) * 1000);
    return;
  }
  int r = poll(fds.data(), fds.size(), timeoutMs);
  if (r <= 0) return;
  char buf[65536];
  for (size_t k = 0; k < fds.size(); ++k) {
    if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    WorkerProc& w = workers_[who[k]];
    ssize_t n = ::read(w.reportFd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      w.eof = true;
      ::close(w.reportFd);
      continue;
    }
    w.buffer.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = w.buffer.find('\n')) != std::string::npos) {
      std::string line = w.buffer.substr(0, nl);
      w.buffer.erase(0, nl + 1);
      handleLine(w, line);
    }
  }
}

void Coordinator::handleLine(WorkerProc& w, const std::string& line) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const std::exception&) {
    return;
  }
  if (j.contains("c")) w.counters = countersFromJson(j["c"]);
  auto tUs = j.value("t_us", uint64_t{0});
  if (tUs >= w.rateBaseUs + 500000) {
    double dt = static_cast<double>(tUs - w.rateBaseUs) / 1e6;
    const Counters& a = w.rateBase;
    const Counters& b = w.counters;
    // Warmup logins show as logins/s too while they run (the phase column says which).
    w.loginsPerS = static_cast<double>(b.logins + b.warmupLogins - a.logins - a.warmupLogins) / dt;
    w.sentPerS = static_cast<double>(b.msgsSent - a.msgsSent) / dt;
    w.deliveredPerS = static_cast<double>(b.msgsDelivered - a.msgsDelivered) / dt;
    w.presencePerS = static_cast<double>(b.presenceReceived - a.presenceReceived) / dt;
    w.presenceSentPerS = static_cast<double>(b.presenceSent - a.presenceSent) / dt;
    w.cpuPerS = (b.cpuSeconds - a.cpuSeconds) / dt;
    w.rateBase = w.counters;
    w.rateBaseUs = tUs;
  }
  w.firstConnectUs = j.value("first_connect_us", w.firstConnectUs);
  w.lastLoginUs = j.value("last_login_us", w.lastLoginUs);
  auto epoch = j.value("epoch", uint32_t{0});
  if (j.value("boundary", false)) w.boundary[epoch] = w.counters;
  if (j.contains("lat")) {
    Histogram h;
    mergeJson(h, j["lat"]);
    msgLatency_.merge(h);
    secondLatency_.merge(h);
    epochLatency_[epoch].merge(h);
  }
  if (j.contains("login")) mergeJson(loginLatency_, j["login"]);
  if (j.value("type", "") == "done") w.done = true;
  if (j.value("type", "") == "warm") w.warm = true;
}

void Coordinator::sendAll(const std::string& line) {
  for (auto& w : workers_) {
    if (w.controlFd < 0) continue;
    if (::write(w.controlFd, line.data(), line.size()) < 0) {
      ::close(w.controlFd);
      w.controlFd = -1;
    }
  }
}

void Coordinator::sendRates(double msgs, double presence) {
  ++epoch_;
  epochStart_.push_back(now());
  epochRate_.push_back(msgs);
  Counters t = total();
  for (auto& w : workers_) {
    if (w.controlFd < 0) continue;
    double share = t.online ? static_cast<double>(w.counters.online) / static_cast<double>(t.online) : 0;
    char line[128];
    std::snprintf(line, sizeof line, "send %.3f %.3f\n", msgs * share, presence * share);
    if (::write(w.controlFd, line, std::strlen(line)) < 0) {
      ::close(w.controlFd);
      w.controlFd = -1;
    }
  }
}

bool Coordinator::haveBoundary(uint32_t epoch) const {
  return std::all_of(workers_.begin(), workers_.end(),
                     [&](const WorkerProc& w) { return w.eof || w.boundary.count(epoch); });
}

Counters Coordinator::boundaryTotal(uint32_t epoch) const {
  Counters t;
  for (const auto& w : workers_) {
    auto it = w.boundary.find(epoch);
    t.add(it != w.boundary.end() ? it->second : w.counters);
  }
  return t;
}

// warmup_logins: every worker logged its users in and out; all start the login phase
// now, and its deadlines and server CPU reading start here.
void Coordinator::startStorm() {
  double t = now();
  stormStart_ = t;
  atStormStart_ = total();
  procAtStart_ = readProc(sc_.serverPid);
  loginDeadline_ = t + (sc_.loginRate > 0 ? sc_.users / sc_.loginRate : 0) + sc_.loginTimeout + 5;
  lastProgressAt_ = t;
  sendAll("storm\n");
  phase_ = Phase::Login;
}

void Coordinator::startMain() {
  phase_ = Phase::Main;
  mainStarted_ = true;
  mainStartedAt_ = utcNow();
  mainStart_ = stepStart_ = now();
  atLoginEnd_ = total();
  procAtMainStart_ = readProc(sc_.serverPid);
  double online = static_cast<double>(atLoginEnd_.online);
  if (sc_.kind == ScenarioKind::Steady) {
    sendRates(sc_.msgsPerUserHour * online / 3600.0, sc_.presencePerUserHour * online / 3600.0);
  } else if (sc_.kind == ScenarioKind::Saturation) {
    satRate_ = sc_.satStartRate;
    sendRates(satRate_, 0);
  } else {
    sendRates(0, 0);  // marks the login/main boundary with exact counters
  }
}

void Coordinator::endMain() {
  mainEnd_ = now();
  procAtMainEnd_ = readProc(sc_.serverPid);
  if (sc_.kind == ScenarioKind::Idle) idleReading_ = procAtMainEnd_;
  sendRates(0, 0);
  mainEndEpoch_ = epoch_;
  phase_ = Phase::Drain;
}

// Judges saturation step `epoch` once every worker closed it: held when the generator
// sent at least 90% of the target, at least 90% of the target was delivered, and the
// p99 of the latencies measured during the step is within the bound.
void Coordinator::evaluateStep(uint32_t epoch) {
  Counters a = boundaryTotal(epoch - 1), b = boundaryTotal(epoch);
  double dur = epochStart_[epoch + 1] - epochStart_[epoch];
  double target = epochRate_[epoch];
  double sent = static_cast<double>(b.msgsSent - a.msgsSent) / dur;
  double delivered = static_cast<double>(b.msgsDelivered - a.msgsDelivered) / dur;
  const Histogram& h = epochLatency_[epoch];
  uint64_t p99 = h.percentile(99);
  bool generatorLimited = sent < 0.9 * target;
  bool held = !generatorLimited && delivered >= 0.9 * target &&
              static_cast<double>(p99) <= sc_.satP99BoundMs * 1000.0;
  steps_.push_back({{"target", target}, {"seconds", dur}, {"sent_per_s", std::round(sent)},
                    {"delivered_per_s", std::round(delivered)}, {"p50_us", h.percentile(50)},
                    {"p99_us", p99}, {"p99_9_us", h.percentile(99.9)}, {"max_us", h.max()},
                    {"held", held}, {"generator_limited", generatorLimited}});
  if (held) highestHeld_ = std::max(highestHeld_, target);
  if (!held) satStopping_ = true;
}

void Coordinator::advance() {
  double t = now();
  Counters c = total();
  switch (phase_) {
    case Phase::Warmup:
      if (warmedAt_ < 0 &&
          std::all_of(workers_.begin(), workers_.end(), [](const WorkerProc& w) { return w.eof || w.warm; })) {
        warmedAt_ = t;
        if (interactive_) std::cout << "\n";
        std::cout << "xmesh-loadgen: warmup done: " << c.warmupLogins << " users logged in and out ("
                  << c.warmupFailures << " failed) in " << std::fixed << std::setprecision(1) << t
                  << std::defaultfloat << " s; logins start in " << sc_.warmupSettle << " s" << std::endl;
      }
      // The pause lets the server finish the logouts' presence work before the storm.
      if (warmedAt_ >= 0 && t - warmedAt_ >= sc_.warmupSettle) startStorm();
      break;
    case Phase::Login: {
      // Resolved: online or failed; a worker that died resolves nothing more.
      uint64_t resolvedUsers = 0;
      for (const auto& w : workers_)
        resolvedUsers += w.eof ? w.shardCount : w.counters.logins + w.counters.loginFailures;
      if (resolvedUsers != lastResolved_) {
        lastResolved_ = resolvedUsers;
        lastProgressAt_ = t;
      }
      if (resolvedUsers < sc_.users) {
        // Every login started resolves within login_timeout, so a phase that stops
        // progressing for longer than that (after the last login should have started)
        // has a stuck worker: expire what it still has.
        bool stalled = t - lastProgressAt_ > sc_.loginTimeout + 5;
        if (expiredAt_ < 0 && t >= loginDeadline_ && stalled) {
          sendAll("expire\n");
          expiredAt_ = t;
        }
        // A worker that has not answered the expiry within 10 s is not waited for.
        if (expiredAt_ < 0 || t - expiredAt_ < 10) break;
      }
      loginDone_ = true;
      loginEndedAt_ = t;
      procAtLoginEnd_ = readProc(sc_.serverPid);
      phase_ = Phase::Settle;
      [[fallthrough]];
    }
    case Phase::Settle:
      if (t - loginEndedAt_ >= sc_.settle && (serverSettled() || t - loginEndedAt_ >= sc_.settleMax)) startMain();
      break;
    case Phase::Main:
      if (sc_.kind != ScenarioKind::Saturation) {
        if (sc_.drill.enabled()) driveDrill();
        if (t - mainStart_ >= mainDuration()) endMain();
        break;
      }
      if (pendingEval_ >= 0 && haveBoundary(static_cast<uint32_t>(pendingEval_))) {
        evaluateStep(static_cast<uint32_t>(pendingEval_));
        pendingEval_ = -1;
        if (satStopping_) {
          endMain();
          break;
        }
      }
      if (pendingEval_ < 0 && t - stepStart_ >= sc_.satStepSeconds) {
        pendingEval_ = epoch_;
        stepStart_ = t;
        if (satRate_ + sc_.satStepRate > sc_.satMaxRate) {
          endMain();  // the drain phase still evaluates the last step below
          break;
        }
        satRate_ += sc_.satStepRate;
        sendRates(satRate_, 0);
      }
      break;
    case Phase::Drain: {
      if (pendingEval_ >= 0 && haveBoundary(static_cast<uint32_t>(pendingEval_))) {
        evaluateStep(static_cast<uint32_t>(pendingEval_));
        pendingEval_ = -1;
      }
      // Senders stopped at mainEnd_; a tick from every worker after that (>1 s) makes
      // the counters final enough to stop early once everything sent was delivered.
      bool messaging = sc_.kind == ScenarioKind::Steady || sc_.kind == ScenarioKind::Saturation;
      double waited = t - mainEnd_;
      bool caughtUp = waited >= 1.2 && c.msgsDelivered >= c.msgsSent;
      if (pendingEval_ < 0 && (!messaging || caughtUp || waited >= sc_.drain)) {
        sendAll("finish\n");
        phase_ = Phase::Finish;
      }
      break;
    }
    case Phase::Finish:
      break;
  }
}

double Coordinator::mainDuration() const {
  return sc_.drill.enabled() ? std::max(sc_.duration, sc_.drill.endsAfter()) : sc_.duration;
}

// Each step: tell the workers the time first (kArmUs ahead), then run the command then.
void Coordinator::driveDrill() {
  constexpr uint64_t kArmUs = 50'000;
  const DrillSettings& d = sc_.drill;
  for (int k = 0; k < kDrillWindows; ++k) {
    DrillStepRun& step = drillSteps_[static_cast<size_t>(k)];
    DrillCommand& cmd = drillCommands_[static_cast<size_t>(k)];
    double at = k == 0 ? d.at : d.fallbackAt;
    if (at < 0) continue;
    if (!step.scheduled && now() >= mainStart_ + at - static_cast<double>(kArmUs) / 1e6) {
      step.scheduled = true;
      step.command = k == 0 ? d.command : d.fallbackCommand;
      step.ranAtUs = realtimeUs() + kArmUs;
      if (k == 0) standbyAtDrill_ = total().drill.standbyBound;
      sendAll("drill " + std::to_string(k) + " " + std::to_string(step.ranAtUs) + "\n");
    }
    if (step.scheduled && !step.ran && step.error.empty() && realtimeUs() >= step.ranAtUs) {
      const char* name = k == 0 ? "failover" : "fallback";
      Status st = cmd.start(step.command, options_.outDir + "/drill-" + name + ".log");
      step.ranAtUs = realtimeUs();
      step.ranAtS = now();
      if (st) step.ran = true;
      else step.error = st.error().detail;
      if (interactive_) std::cout << "\n";
      std::cout << "xmesh-loadgen: drill " << name << " at " << std::fixed << std::setprecision(1) << step.ranAtS
                << std::defaultfloat << " s: " << (st ? "running" : "cannot run") << " '" << step.command << "'"
                << (st ? "" : ": " + step.error) << std::endl;
    }
    if (step.ran && !step.finished && cmd.poll()) {
      step.finished = true;
      step.exitCode = cmd.exitCode();
    }
    step.commandS = cmd.seconds();
  }
}

int Coordinator::msUntilDrillCommand() const {
  int ms = INT_MAX;
  for (const auto& step : drillSteps_)
    if (step.scheduled && !step.ran && step.error.empty()) {
      uint64_t nowUs = realtimeUs();
      ms = std::min(ms, step.ranAtUs > nowUs ? static_cast<int>((step.ranAtUs - nowUs) / 1000) : 0);
    }
  return ms;
}

void Coordinator::everySecond() {
  Counters c = total();
  double t = now();
  ProcReading srv = readProc(sc_.serverPid);
  if (timeline_.empty()) lastSrv_ = procAtStart_;
  double loginsF = 0, sentF = 0, deliveredF = 0, presenceF = 0, presenceSentF = 0, lgCpu = 0;
  for (const auto& w : workers_) {
    if (w.eof) continue;
    loginsF += w.loginsPerS;
    sentF += w.sentPerS;
    deliveredF += w.deliveredPerS;
    presenceF += w.presencePerS;
    presenceSentF += w.presenceSentPerS;
    lgCpu += w.cpuPerS;
  }
  auto logins = static_cast<uint64_t>(std::llround(loginsF));
  auto sent = static_cast<uint64_t>(std::llround(sentF));
  auto delivered = static_cast<uint64_t>(std::llround(deliveredF));
  auto presence = static_cast<uint64_t>(std::llround(presenceF));
  double srvCpu = srv.cpuSeconds - lastSrv_.cpuSeconds;
  lastServerCpuShare_ = srvCpu;
  const char* phaseName = phase_ == Phase::Warmup   ? "warmup"
                          : phase_ == Phase::Login  ? "login"
                          : phase_ == Phase::Settle ? "settle"
                          : phase_ == Phase::Main   ? "main"
                                                    : "drain";
  char line[512];
  std::snprintf(line, sizeof line,
                "[%5.0fs] %-5s online %6llu/%u logins/s %6llu fail %llu | msgs/s sent %7llu dlv %7llu | "
                "presence/s %7llu | p99 %s (all %s) | cpu lg %3.0f%% srv %3.0f%%",
                t, phaseName, static_cast<unsigned long long>(c.online), sc_.users,
                static_cast<unsigned long long>(logins),
                static_cast<unsigned long long>(c.loginFailures + c.dropped),
                static_cast<unsigned long long>(sent), static_cast<unsigned long long>(delivered),
                static_cast<unsigned long long>(presence), ms(secondLatency_.percentile(99)).c_str(),
                ms(msgLatency_.percentile(99)).c_str(), lgCpu * 100, srvCpu * 100);
  std::string drillPart;
  if (sc_.drill.enabled()) {
    // Users without an active session now, and (dual) with a bound inactive one.
    drillPart = " | down " + std::to_string(c.drill.downNow);
    if (sc_.drill.dual) drillPart += " inactive " + std::to_string(c.drill.standbyBound);
  }
  if (interactive_) std::cout << '\r' << line << drillPart << "\033[K" << std::flush;
  else std::cout << line << drillPart << std::endl;
  timeline_.push_back({{"t", std::round(t * 10) / 10}, {"phase", phaseName}, {"online", c.online},
                       {"logins", logins}, {"failures", c.loginFailures + c.dropped}, {"sent", sent},
                       {"delivered", delivered}, {"presence_sent", std::llround(presenceSentF)}, {"presence_received", presence},
                       {"p50_us", secondLatency_.percentile(50)}, {"p99_us", secondLatency_.percentile(99)},
                       {"max_us", secondLatency_.max()}, {"loadgen_cpu", lgCpu}, {"server_cpu", srvCpu},
                       {"server_rss_kib", srv.rssKiB}});
  if (sc_.drill.enabled()) {
    timeline_.back()["down"] = c.drill.downNow;
    timeline_.back()["inactive"] = c.drill.standbyBound;
  }
  secondLatency_.reset();
  lastSecond_ = c;
  lastSrv_ = srv;
}

bool Coordinator::serverSettled() const {
  if (sc_.settleServerCpuBelow <= 0 || sc_.serverPid <= 0) return true;
  // The share over the last whole second (everySecond); none measured yet: not settled.
  return lastServerCpuShare_ >= 0 && lastServerCpuShare_ * 100 < sc_.settleServerCpuBelow;
}

void Coordinator::collect() {
  for (auto& w : workers_)
    if (w.controlFd >= 0) {
      ::close(w.controlFd);
      w.controlFd = -1;
    }
  double deadline = now() + 15;
  for (auto& w : workers_) {
    while (true) {
      int status = 0;
      pid_t r = waitpid(w.pid, &status, WNOHANG);
      if (r == w.pid || r < 0) break;
      if (now() > deadline) {
        kill(w.pid, SIGKILL);
        waitpid(w.pid, &status, 0);
        break;
      }
      usleep(20000);
    }
  }
}

int Coordinator::run() {
  interactive_ = isatty(STDOUT_FILENO);
  Status s = prepare();
  if (!s) {
    std::cerr << "xmesh-loadgen: " << s.error().reason << ": " << s.error().detail << "\n";
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, onInterrupt);
  signal(SIGTERM, onInterrupt);
  std::string where = sc_.topology.empty()
                          ? sc_.host + ":" + std::to_string(sc_.port)
                          : "topology " + sc_.topology + " (" + std::to_string(targets_.size()) + " nodes, connect " +
                                std::string(connectModeName(sc_.connect)) + ")";
  std::cout << "xmesh-loadgen: scenario " << sc_.name << " (" << scenarioKindName(sc_.kind) << "), "
            << sc_.users << " users, " << workers_.size() << " workers, " << where
            << ", " << mechanismText(sc_.mechanism) << ", salted-password cache "
            << (cache_.size() ? std::to_string(cache_.size()) + " users preloaded" : std::string("in-process"))
            << std::endl;
  procAtStart_ = readProc(sc_.serverPid);
  startUs_ = realtimeUs();
  startedAt_ = utcNow();
  loginDeadline_ = (sc_.loginRate > 0 ? sc_.users / sc_.loginRate : 0) + sc_.loginTimeout + 5;
  phase_ = sc_.warmupLogins ? Phase::Warmup : Phase::Login;
  loadAtStart_ = loadAverage();
  s = spawn();
  if (!s) {
    std::cerr << "xmesh-loadgen: " << s.error().reason << ": " << s.error().detail << "\n";
    sendAll("finish\n");
    collect();
    return 2;
  }
  bool interruptedOnce = false;
  while (true) {
    bool allFinished = std::all_of(workers_.begin(), workers_.end(),
                                   [](const WorkerProc& w) { return w.eof || w.done; });
    if (allFinished && (phase_ == Phase::Finish || std::all_of(workers_.begin(), workers_.end(),
                                                               [](const WorkerProc& w) { return w.eof; })))
      break;
    double t = now();
    int wait = static_cast<int>(std::clamp((nextSecond_ - t) * 1000.0, 1.0, 100.0));
    wait = std::max(1, std::min(wait, msUntilDrillCommand()));
    pump(wait);
    if (g_interrupted && !interruptedOnce) {
      interruptedOnce = true;
      if (phase_ == Phase::Main) endMain();
      sendAll("finish\n");
      phase_ = Phase::Finish;
    }
    if (now() >= nextSecond_) {
      everySecond();
      nextSecond_ += 1;
    }
    advance();
  }
  if (interactive_) std::cout << "\n";
  for (size_t k = 0; k < drillCommands_.size(); ++k) {  // a hung command does not outlive the run
    DrillStepRun& step = drillSteps_[k];
    if (!step.ran || step.finished) continue;
    drillCommands_[k].kill();
    step.commandS = drillCommands_[k].seconds();
  }
  collect();
  nlohmann::json report = buildReport();
  std::string path = options_.outDir + "/report.json";
  std::ofstream out(path, std::ios::trunc);
  out << report.dump(2) << "\n";
  out.close();
  std::string htmlPath = options_.outDir + "/report.html";
  std::ofstream html(htmlPath, std::ios::trunc);
  html << html::renderHtmlReport(report);
  html.close();
  printTable(report);
  std::error_code ec;
  std::cout << "report: " << std::filesystem::absolute(path, ec).string() << "\n"
            << "html report: " << std::filesystem::absolute(htmlPath, ec).string() << std::endl;
  return out && html ? 0 : 2;
}

nlohmann::json Coordinator::buildReport() const {
  Counters c = total();
  nlohmann::json r;
  r["scenario"] = sc_.settings();
  r["workers"] = workers_.size();
  r["started_at"] = startedAt_;
  r["machine"] = {{"cores", std::thread::hardware_concurrency()}, {"loadavg_at_start", loadAtStart_},
                  {"loadavg_at_end", loadAverage()}};
  r["wall_s"] = now();
  uint64_t firstConnect = UINT64_MAX, lastLogin = 0;
  for (const auto& w : workers_) {
    if (w.firstConnectUs) firstConnect = std::min(firstConnect, w.firstConnectUs);
    lastLogin = std::max(lastLogin, w.lastLoginUs);
  }
  double allOnline = (lastLogin > 0 && firstConnect != UINT64_MAX && lastLogin >= firstConnect)
                         ? static_cast<double>(lastLogin - firstConnect) / 1e6 : 0;
  Counters atMainStart = boundaryTotal(0);
  Counters atMainEnd = mainEndEpoch_ ? boundaryTotal(mainEndEpoch_ - 1) : c;
  uint64_t online = atMainStart.online;
  nlohmann::json login = {
      {"users", sc_.users}, {"online", online}, {"logins", c.logins}, {"failures", c.loginFailures},
      {"dropped_later", c.dropped}, {"failure_reasons", c.failures},
      {"time_to_last_login_s", allOnline},
      {"all_online", online == sc_.users},
      {"logins_per_s", allOnline > 0 ? static_cast<double>(atMainStart.logins) / allOnline : 0},
      {"target_rate", sc_.loginRate}, {"latency_us", percentiles(loginLatency_)},
      {"latency_histogram", histogramReport(loginLatency_)},
      {"loadgen_cpu_s", atMainStart.cpuSeconds - atStormStart_.cpuSeconds},
      {"server_cpu_s", procAtLoginEnd_.cpuSeconds - procAtStart_.cpuSeconds},
      {"scram_cache", {{"preloaded_users", cache_.size()}, {"hits", c.scramCacheHits}, {"misses", c.scramCacheMisses}}},
      {"redirects", c.redirects}};
  // Per target node, in topology order, then addresses only redirects named.
  nlohmann::json nodes = nlohmann::json::array();
  nlohmann::json onlineByNode = nlohmann::json::object();
  auto addNode = [&](const std::string& name, const std::string& address) {
    auto on = atMainStart.onlineByNode.find(name);
    auto red = c.redirectsByNode.find(name);
    uint64_t there = on != atMainStart.onlineByNode.end() ? on->second : 0;
    nodes.push_back({{"node", name}, {"address", address}, {"online", there},
                     {"redirected_here", red != c.redirectsByNode.end() ? red->second : 0}});
    onlineByNode[name] = there;
  };
  for (size_t i = 0; i < targets_.size(); ++i) addNode(targets_[i].name, targetAddresses_[i]);
  for (const auto& [name, n] : c.onlineByNode)
    if (!onlineByNode.contains(name)) addNode(name, name);
  // Which handshakes the measured logins did: resumed (a session kept from the user's
  // previous connection) or full.
  login["tls"] = {{"resumption", sc_.tlsResumption}, {"sessions_offered", c.tlsOffered},
                  {"resumed", c.tlsResumed}, {"full", c.tlsFull}};
  login["warmup"] = {{"enabled", sc_.warmupLogins}, {"logins", c.warmupLogins},
                     {"failures", c.warmupFailures}, {"seconds", stormStart_}};
  login["nodes"] = nodes;
  login["online_by_node"] = onlineByNode;
  r["login"] = login;
  // When each phase began, in seconds since the start (the main phase waits for every
  // login to be resolved, then `settle`).
  nlohmann::json phases = {{"login_resolved_s", loginDone_ ? nlohmann::json(loginEndedAt_) : nlohmann::json()},
                           {"logins_expired", expiredAt_ >= 0},
                           {"settle_s", sc_.settle},
                           {"settle_server_cpu_below", sc_.settleServerCpuBelow}};
  if (mainStarted_) {
    phases["main_started_s"] = mainStart_;
    phases["main_started_at"] = mainStartedAt_;
    phases["main_ended_s"] = mainEnd_;
  }
  r["phases"] = phases;
  double mainDur = mainEndEpoch_ > 1 ? epochStart_[mainEndEpoch_] - epochStart_[1] : 0;
  uint64_t sent = c.msgsSent, delivered = c.msgsDelivered;
  r["messages"] = {
      {"sent", sent}, {"delivered", delivered}, {"lost", sent > delivered ? sent - delivered : 0},
      {"duplicated", c.msgsDuplicated}, {"out_of_order", c.msgsOutOfOrder},
      {"main_phase_s", mainDur},
      {"sent_per_s", mainDur > 0 ? static_cast<double>(atMainEnd.msgsSent - atMainStart.msgsSent) / mainDur : 0},
      {"delivered_per_s", mainDur > 0 ? static_cast<double>(atMainEnd.msgsDelivered - atMainStart.msgsDelivered) / mainDur : 0},
      {"latency_us", percentiles(msgLatency_)}, {"latency_histogram", histogramReport(msgLatency_)}};
  r["presence"] = {{"sent", c.presenceSent}, {"received", c.presenceReceived}};
  r["cpu"] = {{"loadgen_main_s", atMainEnd.cpuSeconds - atMainStart.cpuSeconds},
              {"server_main_s", procAtMainEnd_.cpuSeconds - procAtMainStart_.cpuSeconds},
              {"loadgen_total_s", c.cpuSeconds}, {"coordinator_s", selfChildrenCpu()}};
  r["traffic"] = {{"bytes_in", c.bytesIn}, {"bytes_out", c.bytesOut}};
  if (sc_.kind == ScenarioKind::Saturation)
    r["saturation"] = {{"p99_bound_ms", sc_.satP99BoundMs}, {"steps", steps_}, {"highest_rate_held", highestHeld_}};
  if (sc_.kind == ScenarioKind::Idle) {
    uint64_t sessions = atMainEnd.online;
    double perSession = sessions ? (static_cast<double>(idleReading_.rssKiB) - static_cast<double>(procAtStart_.rssKiB)) * 1024.0 / static_cast<double>(sessions) : 0;
    r["idle"] = {{"server_pid", sc_.serverPid}, {"sessions", sessions},
                 {"rss_before_kib", procAtStart_.rssKiB}, {"rss_online_kib", idleReading_.rssKiB},
                 {"bytes_per_session", std::round(perSession)},
                 {"rss_per_session_total_bytes",
                  sessions ? std::round(static_cast<double>(idleReading_.rssKiB) * 1024.0 / static_cast<double>(sessions)) : 0}};
  }
  if (sc_.drill.enabled()) r["drill"] = drillReport(sc_, c, drillSteps_, standbyAtDrill_);
  r["timeline"] = timeline_;
  return r;
}

void Coordinator::printTable(const nlohmann::json& r) const {
  Summary sum = summarize(r);
  std::printf("\n== %s ==\n", sum.heading.c_str());
  for (const auto& sec : sum.sections) {
    if (!sec.title.empty()) std::printf("%s\n", sec.title.c_str());
    for (const auto& [k, v] : sec.rows) std::printf("  %-34s %s\n", k.c_str(), v.c_str());
  }
  std::fflush(stdout);
}

}  // namespace xmesh::loadgen
