#include "router/redundancy.h"

#include <chrono>
#include <future>

#include "core/log.h"
#include "core/wall_clock.h"
#include "router/mesh_node.h"
#include "router/node.h"
#include "router/srm_wire.h"

namespace xmesh::router {
namespace {

srm::Options optionsFor(const topology::Topology& t, topology::NodeIndex self) {
  srm::Options o;
  o.params = t.clusterOf(self).srm;
  o.ha = t.groupOf(self).ha;
  // A move is a few messages between two nodes; give it several heartbeat timeouts.
  o.transitionTimeout = std::max(std::chrono::milliseconds(2'000), 2 * o.params.heartbeatTimeout);
  return o;
}

}  // namespace

Redundancy::Redundancy(Node& node, MeshNode& mesh, std::shared_ptr<const topology::Topology> topology,
                       topology::NodeIndex self, topology::NodeIndex peer, uv_loop_t* loop)
    : node_(node),
      mesh_(mesh),
      topology_(std::move(topology)),
      self_(self),
      peer_(peer),
      loop_(loop),
      srm_(optionsFor(*topology_, self)) {}

Redundancy::~Redundancy() = default;

int64_t Redundancy::now() const { return static_cast<int64_t>(uv_hrtime() / 1'000'000); }

Status Redundancy::start() {
  // The durable role (a restarted node comes back Idle / in backup mode as it left).
  std::promise<Result<std::optional<store::NodeStatusRow>>> done;
  auto fut = done.get_future();
  const std::string selfId = topology_->node(self_).id;
  if (!node_.srmStore().submit([&done, selfId](store::Store& st) { done.set_value(st.getNodeStatus(selfId)); }))
    return Status::fail("store-busy", "could not read the node's SRM role");
  auto row = fut.get();
  if (!row) return Status::fail(row.error().reason, "reading the SRM role: " + row.error().detail);
  srm::Role role = srm::Role::Home;
  if (row.value()) {
    if (auto r = srm::roleFromSlug(row.value()->role)) role = *r;
  }
  // A later start must have a larger incarnation than any earlier one of this node.
  incarnation_ = static_cast<uint64_t>(wallClockMs());
  if (row.value() && row.value()->incarnation >= incarnation_) incarnation_ = row.value()->incarnation + 1;

  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  timerStarted_ = true;
  srm_.start(now(), incarnation_, role);
  log::info("srm", "started", {{"node", selfId},
                               {"peer", topology_->node(peer_).id},
                               {"role", std::string(srm::slug(role))},
                               {"incarnation", std::to_string(incarnation_)}});
  afterEvent();
  return Status::ok();
}

void Redundancy::shutdown() {
  if (shutDown_) return;
  shutDown_ = true;
  srm_.shutdown(now());
  afterEvent();
}

void Redundancy::close() {
  if (timerStarted_ && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&timer_)))
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

void Redundancy::onTimer(uv_timer_t* t) {
  auto* self = static_cast<Redundancy*>(t->data);
  self->srm_.onTick(self->now());
  self->afterEvent();
}

void Redundancy::onHeartbeat(const r2r::Unit& unit) {
  auto hb = decodeHeartbeat(unit.attrs);
  if (!hb) {
    counters_.heartbeatsRefused.fetch_add(1, std::memory_order_relaxed);
    log::warn("srm", "heartbeat-refused", {{"peer", topology_->node(peer_).id}, {"detail", hb.error().detail}});
    return;
  }
  counters_.heartbeatsReceived.fetch_add(1, std::memory_order_relaxed);
  srm_.onPeerHeartbeat(now(), hb.value());
  afterEvent();
}

void Redundancy::onPeerLinkUp() {
  // The peer learns our state without waiting for the next interval.
  sendHeartbeat();
}

void Redundancy::afterEvent() {
  const srm::State before = report_.state;
  for (srm::Action a : srm_.takeActions()) execute(a);
  const int64_t t = now();
  leaseUntilMs_.store(srm_.leaseUntilMs(), std::memory_order_release);
  // The witness beats every heartbeat interval (its own clock: the SRM's deadlines do
  // not include it).
  const int64_t interval = topology_->clusterOf(self_).srm.heartbeatInterval.count();
  if (!shutDown_ && !witnessInFlight_ && (t - lastWitnessMs_ >= interval || t >= peerStampExpiresMs_)) {
    peerStampExpiresMs_ = INT64_MAX;
    beatWitness();
  }
  int64_t next = srm_.nextTickMs();
  int64_t witnessDue = std::min(lastWitnessMs_ + interval, peerStampExpiresMs_);
  if (!shutDown_ && witnessDue < next) next = witnessDue;
  int64_t delay = std::clamp<int64_t>(next - t, 1, 1'000);
  if (timerStarted_) uv_timer_start(&timer_, onTimer, static_cast<uint64_t>(delay), 0);
  refreshSnapshot();
  if (report_.state != before) counters_.transitions.fetch_add(1, std::memory_order_relaxed);
}

void Redundancy::execute(srm::Action a) {
  switch (a) {
    case srm::Action::SendHeartbeat:
      return sendHeartbeat();
    case srm::Action::StartServingMyUsers:
    case srm::Action::StopServingMyUsers: {
      const bool on = a == srm::Action::StartServingMyUsers;
      served_.myUsers = on;
      servesMine_.store(on, std::memory_order_release);
      announce(true);
      node_.servingChanged(self_, on);
      log::info("srm", on ? "serving-own-users" : "released-own-users",
                {{"node", topology_->node(self_).id}, {"state", std::string(srm::slug(srm_.state()))}});
      if (on && srm_.state() == srm::State::TakingBack) {
        if (Status s = srm_.takebackComplete(now()); !s)
          log::warn("srm", "takeback-complete-refused", {{"detail", s.error().detail}});
      }
      return;
    }
    case srm::Action::StartServingPeerUsers:
    case srm::Action::StopServingPeerUsers: {
      const bool on = a == srm::Action::StartServingPeerUsers;
      served_.peerUsers = on;
      servesPeer_.store(on, std::memory_order_release);
      announce(false);
      node_.servingChanged(peer_, on);
      log::info("srm", on ? "serving-peer-users" : "released-peer-users",
                {{"node", topology_->node(self_).id}, {"peer", topology_->node(peer_).id},
                 {"state", std::string(srm::slug(srm_.state()))}});
      // The move is this node's routing view plus the sessions' notices, both posted
      // by now: the takeover is complete as far as the SRM is concerned.
      if (on && srm_.state() == srm::State::TakingOver) {
        if (Status s = srm_.takeoverComplete(now()); !s)
          log::warn("srm", "takeover-complete-refused", {{"detail", s.error().detail}});
      }
      return;
    }
    case srm::Action::PersistRole:
      // The role travels in the node's witness row; write it now, not at the next beat.
      if (!witnessInFlight_) beatWitness();
      return;
    case srm::Action::StateChanged:
      log::info("srm", "state", {{"node", topology_->node(self_).id},
                                 {"state", std::string(srm::slug(srm_.state()))},
                                 {"reason", std::string(srm::slug(srm_.reason()))}});
      // Operators see the state in the claims too.
      announce(true);
      announce(false);
      return;
    case srm::Action::kCount:
      return;
  }
}

void Redundancy::sendHeartbeat() {
  r2r::Link* link = mesh_.linkTo(peer_);
  // Volatile: only over an established link and never resent. A heartbeat replayed
  // after a reconnect would describe a past state (e.g. "Normal, not serving your
  // users" reaching the peer's next incarnation after a takeover); the SRM's timers
  // handle the silence instead.
  if (!link || link->state() != r2r::LinkState::Established) return;
  srm::Heartbeat hb = srm_.makeHeartbeat(now());
  if (link->sendVolatile(kSrmKind, encodeHeartbeat(hb)) == r2r::SendResult::Queued)
    counters_.heartbeatsSent.fetch_add(1, std::memory_order_relaxed);
}

void Redundancy::announce(bool mine) {
  const srm::Report r = srm_.report(now());
  ServingClaim c;
  c.home = topology_->node(mine ? self_ : peer_).id;
  c.by = topology_->node(self_).id;
  c.serving = mine ? served_.myUsers : served_.peerUsers;
  // An on-claim carries its own epoch (a takeover's is larger than the stale claim of
  // the node it replaced); an off-claim needs none.
  c.epoch = c.serving ? srm_.claimEpoch(mine) : r.epoch;
  c.state = std::string(srm::slug(r.state));
  c.reason = std::string(srm::slug(r.reason));
  mesh_.announceClaim(c);
}

void Redundancy::beatWitness() {
  witnessInFlight_ = true;
  lastWitnessMs_ = now();
  const srm::Report r = srm_.report(lastWitnessMs_);
  store::NodeStatusRow row;
  row.node = topology_->node(self_).id;
  row.incarnation = incarnation_;
  row.state = std::string(srm::slug(r.state));
  row.reason = std::string(srm::slug(r.reason));
  row.role = std::string(srm::slug(srm_.role()));
  row.servesOwn = served_.myUsers;
  row.servesPeer = served_.peerUsers;
  const std::string peerId = topology_->node(peer_).id;
  const int64_t aliveFor = topology_->clusterOf(self_).srm.heartbeatTimeout.count() + kWitnessMarginMs;
  RouterEnv& env = mesh_.meshEnv();
  bool queued = node_.srmStore().submit([this, &env, row, peerId, aliveFor](store::Store& st) mutable {
    row.beatMs = wallClockMs();
    Status w = st.putNodeStatus(row);
    bool peerAlive = true;
    int64_t peerAgeMs = -1;
    if (w) {
      auto peer = st.getNodeStatus(peerId);
      if (!peer) {
        w = Status::fail(peer.error().reason, peer.error().detail);
      } else if (peer.value()) {
        peerAgeMs = wallClockMs() - peer.value()->beatMs;
        peerAlive = peerAgeMs < aliveFor;
      } else {
        peerAlive = false;
      }
    }
    const bool ok = static_cast<bool>(w);
    env.post([this, ok, peerAlive, peerAgeMs] { onWitnessResult(ok, peerAlive, peerAgeMs); });
  });
  if (!queued) onWitnessResult(false, true, -1);
}

void Redundancy::onWitnessResult(bool reachable, bool peerAlive, int64_t peerAgeMs) {
  witnessInFlight_ = false;
  if (shutDown_) return;
  const int64_t aliveFor = topology_->clusterOf(self_).srm.heartbeatTimeout.count() + kWitnessMarginMs;
  peerStampExpiresMs_ = reachable && peerAlive && peerAgeMs >= 0 ? now() + (aliveFor - peerAgeMs) + 1 : INT64_MAX;
  (reachable ? counters_.witnessBeats : counters_.witnessFailures).fetch_add(1, std::memory_order_relaxed);
  const int64_t t = now();
  srm_.onCriticalService(t, srm::Service::Store, reachable);
  srm_.onWitness(t, srm::WitnessView{reachable, peerAlive});
  afterEvent();
}

bool Redundancy::servesMyUsers() const {
  return servesMine_.load(std::memory_order_acquire) && now() < leaseUntilMs_.load(std::memory_order_acquire);
}

bool Redundancy::servesPeerUsers() const {
  return servesPeer_.load(std::memory_order_acquire) && now() < leaseUntilMs_.load(std::memory_order_acquire);
}

Status Redundancy::runCommand(std::string_view name) {
  const int64_t t = now();
  Status s = name == "failover"   ? srm_.requestFailover(t)
             : name == "fallback" ? srm_.requestFallback(t)
             : name == "recover"  ? srm_.requestRecover(t)
                                  : Status::fail("unknown-command", std::string(name));
  log::info("srm", "admin-command", {{"command", std::string(name)},
                                     {"result", s ? "accepted" : s.error().reason + ": " + s.error().detail}});
  afterEvent();
  return s;
}

Status Redundancy::command(std::string_view name) {
  auto done = std::make_shared<std::promise<Status>>();
  auto fut = done->get_future();
  std::string cmd(name);
  mesh_.meshEnv().post([this, done, cmd] { done->set_value(runCommand(cmd)); });
  if (fut.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
    return Status::fail("timeout", "the mesh loop did not answer");
  return fut.get();
}

void Redundancy::refreshSnapshot() {
  srm::Report r = srm_.report(now());
  std::lock_guard lock(snapMu_);
  report_ = r;
}

void Redundancy::renderMetrics(std::string& out) const {
  srm::Report r;
  {
    std::lock_guard lock(snapMu_);
    r = report_;
  }
  const Counters& c = counters_;
  out += "# HELP xmesh_srm_state Server Recovery Manager state of this node (1 = current).\n"
         "# TYPE xmesh_srm_state gauge\n";
  for (size_t i = 0; i < static_cast<size_t>(srm::State::kCount); ++i) {
    auto s = static_cast<srm::State>(i);
    out += "xmesh_srm_state{state=\"" + std::string(srm::slug(s)) + "\"} " + (s == r.state ? "1" : "0") + "\n";
  }
  auto line = [&out](const char* name, const char* type, const char* help, uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
           std::to_string(v) + "\n";
  };
  line("xmesh_srm_serving_own_users", "gauge", "This node serves its own home users.", r.serving.myUsers);
  line("xmesh_srm_serving_peer_users", "gauge", "This node serves its PRG peer's users.", r.serving.peerUsers);
  line("xmesh_srm_peer_reachable", "gauge", "A peer heartbeat arrived within the timeout.", r.peerReachable);
  line("xmesh_srm_lease_valid", "gauge", "The split-brain lease is held.", r.leaseValid);
  line("xmesh_srm_heartbeats_sent_total", "counter", "SRM heartbeats sent to the peer.", c.heartbeatsSent.load());
  line("xmesh_srm_heartbeats_received_total", "counter", "SRM heartbeats received.", c.heartbeatsReceived.load());
  line("xmesh_srm_witness_failures_total", "counter", "Witness beats the store refused.", c.witnessFailures.load());
  line("xmesh_srm_transitions_total", "counter", "SRM state changes.", c.transitions.load());
}

void Redundancy::renderStatus(nlohmann::json& out) const {
  srm::Report r;
  {
    std::lock_guard lock(snapMu_);
    r = report_;
  }
  auto server = [](srm::Server s) { return s == srm::Server::Me ? "me" : s == srm::Server::Peer ? "peer" : "nobody"; };
  out["srm"] = {{"state", srm::name(r.state)},
                {"state_slug", srm::slug(r.state)},
                {"reason", srm::name(r.reason)},
                {"reason_slug", srm::slug(r.reason)},
                {"role", srm::slug(r.role)},
                {"peer", topology_->node(peer_).id},
                {"peer_state", srm::slug(r.peerState)},
                {"peer_reason", srm::slug(r.peerReason)},
                {"peer_reachable", r.peerReachable},
                {"lease_valid", r.leaseValid},
                {"isolated", r.isolated},
                {"critical_services_ok", r.criticalServicesOk},
                {"witness_reachable", r.witnessReachable},
                {"serving_own_users", r.serving.myUsers},
                {"serving_peer_users", r.serving.peerUsers},
                {"own_users_served_by", server(r.myUsersServedBy)},
                {"epoch", r.epoch}};
}

}  // namespace xmesh::router
