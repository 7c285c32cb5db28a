#include "loadgen/worker.h"

#include <arpa/inet.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "loadgen/connection.h"

namespace xmesh::loadgen {
namespace {

double cpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

void writeAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the coordinator is gone; nothing useful to do
    off += static_cast<size_t>(n);
  }
}

uint64_t edgeKey(uint64_t edge, uint32_t seq) { return (edge << 32) | seq; }

}  // namespace

uint64_t Worker::monotonicUs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

uint64_t Worker::realtimeUs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

Worker::Worker(WorkerConfig config) : config_(std::move(config)), rng_(0x9e3779b97f4a7c15ULL ^ config_.id) {
  readBuf_.reset(new char[kReadBufSize]);
}

Worker::~Worker() = default;

Status Worker::init() {
  const Scenario& sc = config_.scenario;
  tls::ClientOptions to;
  to.insecureSkipVerify = true;
  // No SNI-keyed cache (all users share one name): without tls_resumption every login
  // is a full handshake, as after a server restart; with it each user keeps its own.
  to.sessionCacheSize = 0;
  auto ctx = tls::TlsContext::client(to);
  if (!ctx.isOk()) return Status::fail(ctx.error().reason, ctx.error().detail);
  tls_ = ctx.value();
  if (sc.tlsResumption)
    tlsSessions_ = std::make_unique<TlsSessionCache>(config_.shardFirst, config_.shardCount);
  warming_ = sc.warmupLogins;
  if (config_.targets.empty()) return Status::fail("targets", "no target to connect to");
  onlineAt_.assign(config_.targets.size(), 0);
  redirectsTo_.assign(config_.targets.size(), 0);
  size_t edges = config_.population->edgeCount();
  sendSeq_.reset(new uint32_t[edges + 1]());
  recvNext_.reset(new uint32_t[edges + 1]());
  recvMax_.reset(new uint32_t[edges + 1]());
  // Per shard user, the positions of its contacts that are inside the simulated range.
  const Population& pop = *config_.population;
  sendableOffsets_.assign(1, 0);
  for (uint32_t i = 0; i < config_.shardCount; ++i) {
    auto row = pop.contactsOf(config_.shardFirst + i);
    for (uint32_t k = 0; k < row.size(); ++k)
      if (pop.contains(row[k]) && row[k] - sc.first < sc.users) sendable_.push_back(k);
    sendableOffsets_.push_back(static_cast<uint32_t>(sendable_.size()));
  }
  conns_.assign(config_.shardCount, nullptr);
  onlinePos_.assign(config_.shardCount, -1);
  onlineTarget_.assign(config_.shardCount, 0);
  initDrill();
  onlineList_.reserve(config_.shardCount);

  uv_loop_init(&loop_);
  loop_.data = this;
  for (uv_timer_t* t : {&loginTimer_, &sendTimer_, &tickTimer_, &drillTimer_}) {
    uv_timer_init(&loop_, t);
    t->data = this;
  }
  uv_check_init(&loop_, &check_);
  check_.data = this;
  uv_idle_init(&loop_, &sendIdle_);
  sendIdle_.data = this;
  uv_check_start(&check_, onCheck);
  if (config_.controlFd >= 0) {
    uv_pipe_init(&loop_, &control_, 0);
    control_.data = this;
    if (uv_pipe_open(&control_, config_.controlFd) == 0) {
      controlOpen_ = true;
      uv_read_start(reinterpret_cast<uv_stream_t*>(&control_), onControlAlloc, onControlRead);
    } else {
      uv_close(reinterpret_cast<uv_handle_t*>(&control_), nullptr);
    }
  }
  return Status::ok();
}

int Worker::run() {
  Status st = init();
  if (!st) {
    counters_.failures["init:" + st.error().reason + ":" + st.error().detail]++;
    report("done");
    return 2;
  }
  loginStartUs_ = monotonicUs();
  uv_timer_start(&loginTimer_, onLoginTimer, 0, 2);
  uv_timer_start(&tickTimer_, onTickTimer, 1000, 1000);
  if (!drillUsers_.empty()) uv_timer_start(&drillTimer_, onDrillTimer, 10, 10);
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
  return 0;
}

void Worker::onLoginTimer(uv_timer_t* t) { static_cast<Worker*>(t->data)->startLogins(); }

void Worker::startLogins() {
  const Scenario& sc = config_.scenario;
  uint64_t allowed = config_.shardCount;
  if (sc.loginRate > 0) {
    double share = sc.loginRate * config_.shardCount / std::max<double>(1, sc.users);
    double elapsed = static_cast<double>(monotonicUs() - loginStartUs_) / 1e6;
    allowed = std::min<uint64_t>(allowed, static_cast<uint64_t>(share * elapsed) + 1);
  }
  while (nextLogin_ < allowed && inFlight_ < std::max<uint32_t>(1, sc.loginConcurrency) && !finishing_)
    startOne(config_.shardFirst + nextLogin_++);
  if (nextLogin_ >= config_.shardCount) uv_timer_stop(&loginTimer_);
}

void Worker::startOne(uint32_t user) {
  ++inFlight_;
  ++counters_.connectsStarted;
  if (firstConnectRealUs_ == 0) firstConnectRealUs_ = realtimeUs();
  const auto* first = config_.userTarget;
  uint16_t target = first ? (*first)[user - config_.scenario.first] : 0;
  launch(user, target, monotonicUs(), false);
}

ClientOptions Worker::clientOptions(uint32_t user) const {
  const Scenario& sc = config_.scenario;
  ClientOptions o;
  o.domain = sc.domain;
  o.username = sc.userName(user);
  o.password = sc.passwordFor(o.username);
  o.mechanism = sc.mechanism;
  o.rosterGet = sc.roster;
  o.initialPresence = sc.presence;
  o.streamManagement = sc.sm;
  o.dualQuery = sc.drill.dual;
  return o;
}

void Worker::launch(uint32_t user, uint16_t target, uint64_t loginStartUs, bool redirected, bool relogin) {
  connectInto(&conns_[local(user)], user, target, clientOptions(user), loginStartUs, redirected, relogin);
}

void Worker::connectInto(Connection** slot, uint32_t user, uint16_t target, ClientOptions o, uint64_t startUs,
                         bool redirected, bool relogin) {
  const Scenario& sc = config_.scenario;
  auto* c = new Connection(*this, user, target, std::move(o), startUs, redirected);
  if (relogin) c->setRelogin();
  *slot = c;
  ++liveConnections_;
  // Spread loopback connections over 127.0.0.1..N (more source ports than one address
  // has); elsewhere the kernel picks the source.
  const sockaddr_in& dest = config_.targets[target].addr;
  bool loopback = (ntohl(dest.sin_addr.s_addr) >> 24) == 127;
  sockaddr_in src{};
  if (loopback) {
    std::string ip = "127.0.0." + std::to_string(1 + sourceCursor_++ % sc.sourceAddresses);
    uv_ip4_addr(ip.c_str(), 0, &src);
  }
  int r = c->connect(dest, loopback ? &src : nullptr);
  if (r != 0) c->session().fail(std::string("connect:") + uv_err_name(r));
}

std::string Worker::followRedirect(Connection& c) {
  if (c.redirected()) return "see-other-host-again";
  auto target = redirectTarget(c.session().seeOtherHost());
  if (!target) return "see-other-host-bad-target";
  ++counters_.redirects;
  ++redirectsTo_[*target];
  launch(c.user(), *target, c.startUs(), true);
  return {};
}

std::optional<uint16_t> Worker::redirectTarget(const std::string& hostPort) {
  if (auto it = redirectCache_.find(hostPort); it != redirectCache_.end()) return it->second;
  std::string host;
  int port = 0;
  sockaddr_in addr{};
  if (!ClientSession::parseHostPort(hostPort, &host, &port) || !resolveIpv4(host, port, &addr)) return std::nullopt;
  auto& targets = config_.targets;
  size_t i = 0;
  while (i < targets.size() && !(targets[i].addr.sin_addr.s_addr == addr.sin_addr.s_addr &&
                                 targets[i].addr.sin_port == addr.sin_port))
    ++i;
  if (i == targets.size()) {
    if (i >= UINT16_MAX) return std::nullopt;
    targets.push_back({hostPort, addr});
    onlineAt_.push_back(0);
    redirectsTo_.push_back(0);
  }
  auto index = static_cast<uint16_t>(i);
  redirectCache_.emplace(hostPort, index);
  return index;
}

void Worker::setOnline(uint32_t user, bool on, uint16_t target) {
  int32_t& pos = onlinePos_[local(user)];
  uint16_t& at = onlineTarget_[local(user)];
  if (on && pos < 0) {
    pos = static_cast<int32_t>(onlineList_.size());
    onlineList_.push_back(user);
    ++onlineAt_[target];
    at = target;
  } else if (on && at != target) {  // moved to another node without going offline (dual)
    --onlineAt_[at];
    ++onlineAt_[target];
    at = target;
  } else if (!on && pos >= 0) {
    target = at;
    uint32_t last = onlineList_.back();
    onlineList_[static_cast<size_t>(pos)] = last;
    onlinePos_[local(last)] = pos;
    onlineList_.pop_back();
    pos = -1;
    --onlineAt_[target];
  }
  counters_.online = onlineList_.size();
}

void Worker::onOnline(Connection& c) {
  if (c.relogin()) return onRelogin(c);
  --inFlight_;
  if (warming_) {
    ++counters_.warmupLogins;
    c.logout();  // the user is resolved when the connection has closed
    return;
  }
  ++counters_.logins;
  setOnline(c.user(), true, c.target());
  loginLatency_.record(monotonicUs() - c.startUs());
  lastLoginRealUs_ = realtimeUs();
  maybeReportLoginsResolved();
}

void Worker::maybeReportLoginsResolved() {
  // Tell the coordinator at once, not at the next tick: time-to-all-online matters.
  if (resolvedReported_ || counters_.logins + counters_.loginFailures < config_.shardCount) return;
  resolvedReported_ = true;
  report("tick");
}

void Worker::onConnectionFailed(Connection& c, std::string_view reason) {
  if (!drillUsers_.empty() && drillHandlesFailure(c, reason)) return;
  if (c.everOnline()) {
    ++counters_.dropped;
    setOnline(c.user(), false, c.target());
    counters_.failures["dropped:" + std::string(reason)]++;
    return c.close();
  }
  std::string why;
  if (!c.session().seeOtherHost().empty() && !finishing_) {
    why = followRedirect(c);
    if (why.empty()) return c.close();  // the login goes on at the new target
    reason = why;
  }
  --inFlight_;
  if (warming_) {
    ++counters_.warmupFailures;
    counters_.failures["warmup:" + std::string(reason)]++;
    return c.close();
  }
  ++counters_.loginFailures;
  counters_.failures[std::string(reason)]++;
  c.close();
  maybeReportLoginsResolved();
}

void Worker::maybeReportWarm() {
  if (!warming_ || warmReported_ || finishing_ || liveConnections_ > 0 ||
      counters_.warmupLogins + counters_.warmupFailures < config_.shardCount)
    return;
  warmReported_ = true;
  report("warm");
}

void Worker::startStorm() {
  if (!warming_ || !warmReported_ || finishing_) return;
  // The login phase starts from scratch; only the warmup counters and the users' TLS
  // sessions carry over.
  warming_ = false;
  nextLogin_ = 0;
  inFlight_ = 0;
  counters_.connectsStarted = 0;
  counters_.redirects = 0;
  counters_.redirectsByNode.clear();
  std::fill(redirectsTo_.begin(), redirectsTo_.end(), 0);
  counters_.tlsOffered = counters_.tlsResumed = counters_.tlsFull = 0;
  firstConnectRealUs_ = lastLoginRealUs_ = 0;
  loginLatency_.reset();
  loginStartUs_ = monotonicUs();
  uv_timer_start(&loginTimer_, onLoginTimer, 0, 2);
}

void Worker::connectionClosed(Connection* c) {
  std::erase(dirty_, c);
  uint32_t l = local(c->user());
  if (l < conns_.size() && conns_[l] == c) conns_[l] = nullptr;
  if (l < drillUsers_.size() && drillUsers_[l].standby == c) {
    setStandbyBound(l, false);
    drillUsers_[l].standby = nullptr;
  }
  --liveConnections_;
  delete c;
  if (finishing_ && liveConnections_ == 0) closeHandles();
  else maybeReportWarm();
}

void Worker::onLgMessage(Connection& c, const LgMessage& m) {
  int64_t edge = config_.population->edgeOf(c.user(), m.sender);
  bool duplicate = false;
  if (edge >= 0) {
    auto e = static_cast<uint64_t>(edge);
    uint32_t expected = recvNext_[e] + 1;
    if (m.seq < expected) {
      duplicate = true;
    } else if (m.seq == expected) {
      ++recvNext_[e];
      while (!recvAhead_.empty() && recvAhead_.erase(edgeKey(e, recvNext_[e] + 1))) ++recvNext_[e];
    } else {
      duplicate = !recvAhead_.insert(edgeKey(e, m.seq)).second;
    }
    if (!duplicate) {
      if (m.seq < recvMax_[e]) ++counters_.msgsOutOfOrder;
      recvMax_[e] = std::max(recvMax_[e], m.seq);
    }
  }
  // The drill's windows count by send time (downtime.h).
  int w = drillWindow(m.sentUs);
  DrillWindowStats* win = w >= 0 ? &counters_.drill.windows[static_cast<size_t>(w)] : nullptr;
  if (duplicate) {
    ++counters_.msgsDuplicated;
    if (win) ++win->duplicated;
    return;
  }
  ++counters_.msgsDelivered;
  if (win) {
    ++win->delivered;
    if (edge >= 0 && m.seq < recvMax_[static_cast<uint64_t>(edge)]) ++win->outOfOrder;
  }
  uint64_t now = realtimeUs();
  latency_.record(now > m.sentUs ? now - m.sentUs : 0);
}

void Worker::onSendTimer(uv_timer_t* t) { static_cast<Worker*>(t->data)->sendDue(); }
void Worker::onSendIdle(uv_idle_t* h) { static_cast<Worker*>(h->data)->sendDue(); }

void Worker::sendDue() {
  double elapsed = static_cast<double>(monotonicUs() - rateStartUs_) / 1e6;
  auto dueOf = [&](double rate, uint64_t done) -> uint64_t {
    double target = rate * elapsed;
    if (target <= static_cast<double>(done)) return 0;
    // Catch up, but in bounded bursts: a generator that falls behind shows it as a
    // lower achieved rate instead of a flood.
    uint64_t cap = std::max<uint64_t>(64, static_cast<uint64_t>(rate * 0.02));
    return std::min<uint64_t>(cap, static_cast<uint64_t>(target - static_cast<double>(done)));
  };
  uint64_t msgs = dueOf(msgRate_, msgsThisRate_);
  uint64_t pres = dueOf(presenceRate_, presenceThisRate_);
  for (uint64_t i = 0; i < msgs; ++i) sendOneMessage();
  for (uint64_t i = 0; i < pres; ++i) sendOnePresence();
  msgsThisRate_ += msgs;
  presenceThisRate_ += pres;
  // Flush now: the check handle only runs after the next poll, which may block for the
  // timer interval and would add up to a millisecond to every measured latency.
  flushDirty();
}

void Worker::sendOneMessage() {
  // A random online user writes to a random roster contact inside the simulated range
  // (the population may be larger than the users driven); a few tries, then give up.
  const Population& pop = *config_.population;
  for (int attempt = 0; attempt < 8 && !onlineList_.empty(); ++attempt) {
    uint32_t u = onlineList_[rng_() % onlineList_.size()];
    uint32_t l = local(u);
    uint32_t n = sendableOffsets_[l + 1] - sendableOffsets_[l];
    if (n == 0) continue;
    uint32_t k = sendable_[sendableOffsets_[l] + rng_() % n];
    uint32_t to = pop.contactsOf(u)[k];
    uint64_t e = pop.edgeAt(u, k);
    Connection* c = conns_[l];
    std::string jid = config_.scenario.userName(to);
    jid += '@';
    jid += config_.scenario.domain;
    // Without available presence a bare JID means offline storage (RFC 6121 8.5.2.2):
    // address the full JID then.
    if (!config_.scenario.presence) jid += "/lg";
    uint64_t now = realtimeUs();
    if (c && c->session().sendChat(jid, u, sendSeq_[e] + 1, now)) {
      ++sendSeq_[e];
      ++counters_.msgsSent;
      if (!drillUsers_.empty()) {
        int w = drillWindow(now);
        if (w >= 0) ++counters_.drill.windows[static_cast<size_t>(w)].sent;
        // With XEP-0198, ask for the ack at once: what is unacked when a stream breaks
        // is in doubt, so the window of doubt is kept to one round trip.
        c->noteMessageSent(w);
        c->session().sendAckRequest();
      }
      return;
    }
  }
}

void Worker::sendOnePresence() {
  if (onlineList_.empty()) return;
  uint32_t u = onlineList_[rng_() % onlineList_.size()];
  Connection* c = conns_[local(u)];
  if (c && c->session().sendPresence(rng_() % 2 ? "away" : "")) ++counters_.presenceSent;
}

void Worker::onTickTimer(uv_timer_t* t) { static_cast<Worker*>(t->data)->tick(); }

void Worker::tick() {
  sweepLoginTimeouts();
  if (!drillUsers_.empty())
    sweepDrill(monotonicUs(), static_cast<uint64_t>(config_.scenario.loginTimeout * 1e6));
  report("tick");
}

void Worker::sweepLoginTimeouts() {
  uint64_t now = monotonicUs();
  auto limit = static_cast<uint64_t>(config_.scenario.loginTimeout * 1e6);
  for (Connection* c : conns_) {
    if (!c || c->closing()) continue;
    if (c->loggingOut()) {
      // A warmup logout the server never closed: give up on it the same way.
      if (now - c->logoutStartUs() > limit) c->close();
      continue;
    }
    if (c->everOnline()) continue;
    if (now - c->startUs() > limit) c->session().fail("timeout");
  }
}

void Worker::expireLogins() {
  uv_timer_stop(&loginTimer_);
  uint32_t notStarted = config_.shardCount - nextLogin_;
  nextLogin_ = config_.shardCount;
  if (notStarted > 0) {
    counters_.loginFailures += notStarted;
    counters_.failures["not-started"] += notStarted;
  }
  // fail() may close and free a connection (conns_ entries are nulled, never moved).
  for (size_t i = 0; i < conns_.size(); ++i) {
    Connection* c = conns_[i];
    if (c && !c->closing() && !c->everOnline() && !c->relogin()) c->session().fail("timeout");
  }
  maybeReportLoginsResolved();
}

void Worker::countUnresolvedLogins() {
  if (warming_) {  // stopped during the warmup: the login phase never began
    counters_.loginFailures += config_.shardCount;
    counters_.failures["not-started"] += config_.shardCount;
    nextLogin_ = config_.shardCount;
    inFlight_ = 0;
    return;
  }
  uint64_t notStarted = config_.shardCount - nextLogin_, pending = 0;
  nextLogin_ = config_.shardCount;
  for (Connection* c : conns_)
    if (c && !c->closing() && !c->everOnline() && !c->relogin()) ++pending;
  counters_.loginFailures += notStarted + pending;
  if (notStarted) counters_.failures["not-started"] += notStarted;
  if (pending) counters_.failures["unfinished"] += pending;
  inFlight_ = 0;
}

void Worker::report(const char* type, bool boundary) {
  counters_.cpuSeconds = cpuSeconds();
  counters_.scramCacheHits = config_.cache ? config_.cache->hits() : 0;
  counters_.scramCacheMisses = config_.cache ? config_.cache->misses() : 0;
  if (downtime_) {
    downtime_->finalize(counters_.drill.windows);
    counters_.drill.downNow = downtime_->downNow();
  }
  for (size_t t = 0; t < config_.targets.size(); ++t) {
    counters_.onlineByNode[config_.targets[t].name] = onlineAt_[t];
    if (redirectsTo_[t]) counters_.redirectsByNode[config_.targets[t].name] = redirectsTo_[t];
  }
  nlohmann::json j = {{"type", type}, {"w", config_.id}, {"c", toJson(counters_)},
                      {"lat", toJson(latency_)}, {"login", toJson(loginLatency_)},
                      {"first_connect_us", firstConnectRealUs_}, {"last_login_us", lastLoginRealUs_},
                      {"epoch", epoch_}, {"boundary", boundary}, {"t_us", realtimeUs()}};
  latency_.reset();
  loginLatency_.reset();
  std::string line = j.dump();
  line += '\n';
  writeAll(config_.reportFd, line);
}

void Worker::onCheck(uv_check_t* c) { static_cast<Worker*>(c->data)->flushDirty(); }

void Worker::flushDirty() {
  std::vector<Connection*> dirty;
  dirty.swap(dirty_);
  for (Connection* conn : dirty) conn->flush();
}

void Worker::onControlAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Worker*>(h->data);
  *buf = uv_buf_init(self->controlBuf_, sizeof self->controlBuf_);
}

void Worker::onControlRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* self = static_cast<Worker*>(s->data);
  if (n < 0) return self->finish();  // the coordinator is gone
  self->controlLine_.append(buf->base, static_cast<size_t>(n));
  size_t nl;
  while ((nl = self->controlLine_.find('\n')) != std::string::npos) {
    std::string line = self->controlLine_.substr(0, nl);
    self->controlLine_.erase(0, nl + 1);
    self->handleControlLine(line);
  }
}

void Worker::handleControlLine(std::string_view line) {
  if (line == "finish") return finish();
  if (line == "expire") return expireLogins();
  if (line == "storm") return startStorm();
  if (line.substr(0, 6) == "drill ") return openDrillWindow(line);
  if (line.substr(0, 5) == "send ") {
    double m = 0, p = 0;
    if (std::sscanf(std::string(line).c_str(), "send %lf %lf", &m, &p) != 2) return;
    // Close the epoch with exact counters, so the coordinator measures each phase or
    // saturation step from command to command, not from tick to tick.
    report("tick", true);
    ++epoch_;
    msgRate_ = m;
    presenceRate_ = p;
    rateStartUs_ = monotonicUs();
    msgsThisRate_ = presenceThisRate_ = 0;
    uv_timer_stop(&sendTimer_);
    uv_idle_stop(&sendIdle_);
    if (m > 0 || p > 0) {
      if (config_.scenario.spinPacing) uv_idle_start(&sendIdle_, onSendIdle);
      else uv_timer_start(&sendTimer_, onSendTimer, 1, 1);
    }
  }
}

void Worker::finish() {
  if (finishing_) return;
  finishing_ = true;
  uv_timer_stop(&loginTimer_);
  uv_timer_stop(&sendTimer_);
  uv_idle_stop(&sendIdle_);
  uv_timer_stop(&tickTimer_);
  uv_timer_stop(&drillTimer_);
  if (controlOpen_) uv_read_stop(reinterpret_cast<uv_stream_t*>(&control_));
  countUnresolvedLogins();
  report("done");
  std::vector<Connection*> all;
  for (Connection* c : conns_)
    if (c && !c->closing()) all.push_back(c);
  ++liveConnections_;  // keep the handles open while the connections below close
  for (Connection* c : all) c->close();
  closeStandbys();
  --liveConnections_;
  if (liveConnections_ == 0) closeHandles();
}

void Worker::closeHandles() {
  auto closeIf = [](uv_handle_t* h) {
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  };
  for (uv_timer_t* t : {&loginTimer_, &sendTimer_, &tickTimer_, &drillTimer_}) closeIf(reinterpret_cast<uv_handle_t*>(t));
  closeIf(reinterpret_cast<uv_handle_t*>(&check_));
  closeIf(reinterpret_cast<uv_handle_t*>(&sendIdle_));
  if (controlOpen_) closeIf(reinterpret_cast<uv_handle_t*>(&control_));
}

}  // namespace xmesh::loadgen
