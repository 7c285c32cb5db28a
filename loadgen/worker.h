// A worker process of the load generator: one libuv loop driving the connections of a
// contiguous shard of users [shardFirst, shardFirst + shardCount).
//
// It logs its users in at its share of the target rate (with a cap on logins in flight),
// and then does what the coordinator says on the control pipe, one command per line:
//   "send <msgs/s> <presence/s>"  send chats to random roster contacts of random online
//                                 users, and presence changes, at these rates (0 stops);
//   "expire"                      the login phase is over: fail the logins still in
//                                 flight (reason "timeout") and count the users not
//                                 started yet as failed ("not-started");
//   "finish"                      report the final counters and exit (logins still
//                                 unresolved then count as failed, "unfinished");
//   "storm"                       (warmup_logins) start the login phase.
// With warmup_logins the worker first logs each of its users in and gracefully out
// again (counted apart: warmupLogins / warmupFailures), then reports {"type":"warm"}
// and waits for "storm", so all workers start the measured logins together; with
// tls_resumption each user then offers the session its warmup connection got.
// Each "send" command first closes the current epoch with an immediate report marked
// "boundary" (exact counters at the command), so the coordinator measures phases and
// saturation steps from command to command; reports carry their epoch number.
// Once a second it writes a JSON line on the report pipe (see stats.h): {"type":"tick",
// "w":id, "c":counters, "lat":message latency histogram of that second, "login":login
// latency histogram of that second}; at the end {"type":"done", ...}.
//
// Targets: each user connects first to the target the coordinator chose for it (a
// topology node, or the one server address). A login answered with <see-other-host/> is
// retried once at the named host:port (counted as a redirect of that target; a second
// redirect fails the login); its latency and timeout run from the first connect. Every
// user ends the login phase counted once: logins + loginFailures == shard users.
//
// The failover drill (worker_drill.cc; scenario keys in drill_settings.h): the control
// line "drill <k> <realtime µs>" opens drill window k (0 failover, 1 fallback) at that
// time. With a drill configured, a user whose active session breaks is not dropped: it
// goes down (downtime.h) and comes back by activating its inactive session (dual) or by
// logging in again (plain: after drill.reconnect_delay_ms, first at its node's backup or
// the same node, alternating, following see-other-host), until it is active or the run
// ends. Dual users open their inactive session after the re-login delay at the backup
// the server named, and answer <failover/>, <fallback/> and <deactivated/>.
//
// Message accounting: every (sender, receiver) roster edge has its own sequence; the
// receiver keeps the next expected sequence per edge, so duplicates and out-of-order
// arrivals are counted exactly. Lost = sent - delivered, summed by the coordinator.
#pragma once
#include <netinet/in.h>
#include <uv.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <optional>
#include <queue>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "loadgen/histogram.h"
#include "loadgen/population.h"
#include "loadgen/salted_cache.h"
#include "loadgen/scenario.h"
#include "loadgen/stats.h"
#include "loadgen/tls_session_cache.h"
#include "tls/context.h"

namespace xmesh::loadgen {

class Connection;

// Where users connect: a topology node (name = its id) or an address (name "host:port").
struct Target {
  std::string name;
  sockaddr_in addr{};
};

struct WorkerConfig {
  Scenario scenario;
  uint32_t id = 0;
  uint32_t shardFirst = 0;  // global user index
  uint32_t shardCount = 0;
  // By target index: the target of the node that takes over its users (-1: none). From
  // the topology; re-logins of plain clients go there first (drill.reconnect = backup).
  std::vector<int32_t> backupOf;
  int reportFd = -1;
  int controlFd = -1;
  const Population* population = nullptr;
  SaltedCache* cache = nullptr;  // this process's copy
  std::vector<Target> targets;   // at least one
  // First target of each simulated user, by global index - scenario.first; null: all 0.
  const std::vector<uint16_t>* userTarget = nullptr;
};

class Worker {
 public:
  explicit Worker(WorkerConfig config);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs until "finish" (or the control pipe closes). Returns the process exit code.
  int run();

  static uint64_t monotonicUs();
  static uint64_t realtimeUs();

  // For connections.
  uv_loop_t* loop() { return &loop_; }
  uv_buf_t readBuffer() { return uv_buf_init(readBuf_.get(), kReadBufSize); }
  std::string& plainScratch() { return plainScratch_; }
  const tls::TlsContext& tlsContext() const { return *tls_; }
  const std::string& sni() const { return config_.scenario.domain; }
  SaltedCache& saltedCache() { return *config_.cache; }
  // The users' TLS sessions; null unless the scenario has tls_resumption.
  TlsSessionCache* tlsSessions() { return tlsSessions_.get(); }
  Counters& counters() { return counters_; }
  void markDirty(Connection* c) { dirty_.push_back(c); }
  void onOnline(Connection& c);
  void onLgMessage(Connection& c, const LgMessage& m);
  void onConnectionFailed(Connection& c, std::string_view reason);
  void connectionClosed(Connection* c);
  // The dual protocol, forwarded by connections (worker_drill.cc).
  void onDualInfo(Connection& c, const DualInfo& info);
  void onInactive(Connection& c);
  void onActivated(Connection& c, const ActivatedInfo& info);
  void onActivateRefused(Connection& c, std::string_view condition);
  void onFailoverNotice(Connection& c);
  void onFallbackNotice(Connection& c);
  void onDeactivated(Connection& c);

 private:
  static constexpr unsigned kReadBufSize = 64 * 1024;

  Status init();
  void startLogins();
  void startOne(uint32_t user);
  void launch(uint32_t user, uint16_t target, uint64_t loginStartUs, bool redirected, bool relogin = false);
  ClientOptions clientOptions(uint32_t user) const;
  // Creates and connects a connection; *slot holds it before connecting, so a connect
  // that fails at once finds it there.
  void connectInto(Connection** slot, uint32_t user, uint16_t target, ClientOptions o, uint64_t startUs,
                   bool redirected, bool relogin);
  // Follows c's <see-other-host/>: "" when a new connection carries the login on, else
  // the failure reason.
  std::string followRedirect(Connection& c);
  std::optional<uint16_t> redirectTarget(const std::string& hostPort);
  void expireLogins();
  void countUnresolvedLogins();
  void sendDue();
  void sendOneMessage();
  void sendOnePresence();
  void tick();
  void sweepLoginTimeouts();
  void report(const char* type, bool boundary = false);
  void handleControlLine(std::string_view line);
  void finish();
  void closeHandles();
  void flushDirty();
  void maybeReportLoginsResolved();
  void maybeReportWarm();
  void startStorm();
  uint32_t local(uint32_t user) const { return user - config_.shardFirst; }
  void setOnline(uint32_t user, bool on, uint16_t target);

  // The failover drill (worker_drill.cc).
  enum class DrillAction : uint8_t { Relogin, OpenStandby, RetryActivate };
  static constexpr int kDrillActions = 3;
  struct DrillUser {
    Connection* standby = nullptr;  // the inactive session (dual), bound or binding
    bool standbyCounted = false;    // in counters_.drill.standbyBound
    int32_t standbyTarget = -1;     // where the inactive session goes (-1: unknown)
    uint16_t lastTarget = 0;        // the node of the last active session
    uint32_t attempts = 0;          // re-login attempts since the last break
    uint32_t pendingH = 0;          // h of the lost active session, for <activate/>
    float reloginMinS = 120, reloginMaxS = 537;  // the server's window
    std::array<uint32_t, kDrillActions> gen{};   // the latest scheduled action of each kind
  };
  struct DueAction {
    uint64_t dueUs;
    uint32_t local, gen;
    DrillAction action;
    bool operator>(const DueAction& o) const { return dueUs > o.dueUs; }
  };
  void initDrill();
  void openDrillWindow(std::string_view line);
  // True when the drill took over the failure of `c` (else the ordinary login/drop path).
  bool drillHandlesFailure(Connection& c, std::string_view reason);
  void standbyLost(uint32_t l, Connection& c);
  void activeLost(uint32_t l, Connection* c, bool broken);
  void recover(uint32_t l);
  void activateStandby(uint32_t l);
  bool awaitingActivation(uint32_t l) const;
  void onRelogin(Connection& c);
  void schedule(uint32_t l, DrillAction a, double delayMs);
  double jittered(double ms);
  double standbyDelayMs(const DrillUser& du);
  void runDue();
  void startRelogin(uint32_t l);
  void openStandby(uint32_t l);
  void setStandbyBound(uint32_t l, bool bound);
  void sweepDrill(uint64_t now, uint64_t limit);
  void closeStandbys();
  int drillWindow(uint64_t realUs) const { return downtime_ ? downtime_->windowOf(realUs) : -1; }
  static void onDrillTimer(uv_timer_t* t);

  static void onLoginTimer(uv_timer_t* t);
  static void onSendTimer(uv_timer_t* t);
  static void onSendIdle(uv_idle_t* h);
  static void onTickTimer(uv_timer_t* t);
  static void onCheck(uv_check_t* c);
  static void onControlAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void onControlRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);

  WorkerConfig config_;
  uv_loop_t loop_{};
  uv_timer_t loginTimer_{}, sendTimer_{}, tickTimer_{}, drillTimer_{};
  uv_check_t check_{};
  uv_idle_t sendIdle_{};  // spin_pacing: sendDue() every loop iteration
  uv_pipe_t control_{};
  bool controlOpen_ = false;
  std::unique_ptr<char[]> readBuf_;
  char controlBuf_[4096];
  std::string controlLine_;
  std::string plainScratch_;
  std::shared_ptr<tls::TlsContext> tls_;
  std::unique_ptr<TlsSessionCache> tlsSessions_;
  bool warming_ = false;        // warmup_logins: before "storm"
  bool warmReported_ = false;
  uint32_t sourceCursor_ = 0;
  // By target index (config_.targets, grown by redirects to addresses it did not list).
  std::vector<uint64_t> onlineAt_, redirectsTo_;
  std::unordered_map<std::string, uint16_t> redirectCache_;  // see-other-host text -> target

  std::vector<Connection*> conns_;  // by local index; null when none
  std::vector<Connection*> dirty_;
  size_t liveConnections_ = 0;
  std::vector<uint32_t> onlineList_;   // global indexes of online users
  std::vector<int32_t> onlinePos_;     // by local index, -1 when offline
  std::vector<uint16_t> onlineTarget_;  // by local index: where it is online
  uint32_t nextLogin_ = 0;             // local index of the next user to log in
  uint32_t inFlight_ = 0;              // logins started, not yet online or failed
  uint64_t loginStartUs_ = 0;
  uint64_t firstConnectRealUs_ = 0;  // CLOCK_REALTIME, comparable across workers
  uint64_t lastLoginRealUs_ = 0;
  bool resolvedReported_ = false;

  double msgRate_ = 0, presenceRate_ = 0;
  uint64_t rateStartUs_ = 0;
  uint64_t msgsAtRateStart_ = 0, presenceAtRateStart_ = 0;
  uint64_t msgsThisRate_ = 0, presenceThisRate_ = 0;
  bool finishing_ = false;
  uint32_t epoch_ = 0;  // number of "send" commands received

  // Per-edge sequence state (global edge numbers of the population, shard rows only).
  std::vector<uint32_t> sendable_;         // contact positions (k) inside the user range
  std::vector<uint32_t> sendableOffsets_;  // by local index, CSR into sendable_
  std::unique_ptr<uint32_t[]> sendSeq_;
  std::unique_ptr<uint32_t[]> recvNext_;  // next expected seq (all below received)
  std::unique_ptr<uint32_t[]> recvMax_;
  std::unordered_set<uint64_t> recvAhead_;  // (edge << 32 | seq) received above recvNext_

  // The drill: per local user, pending actions (one timer, not one per user), downtime.
  std::vector<DrillUser> drillUsers_;  // empty without a drill
  std::priority_queue<DueAction, std::vector<DueAction>, std::greater<>> due_;
  std::unique_ptr<DowntimeTracker> downtime_;

  Counters counters_;
  Histogram latency_;       // this second's message latencies (µs)
  Histogram loginLatency_;  // this second's login latencies (µs)
  std::mt19937_64 rng_;
};

}  // namespace xmesh::loadgen
