#include "router/node.h"

#include <sys/stat.h>
#include <uv.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/log.h"
#include "router/mesh_node.h"
#include "router/redundancy.h"
#include "sasl/scram.h"
#include "store/open_store.h"
#include "tls/selfsigned.h"

namespace xmesh::router {

Node::Node(NodeConfig config)
    : config_(std::move(config)),
      router_(config_, directory_),
      throttle_(config_.limits.authFailuresBeforeBackoff, config_.limits.authBackoffSeconds) {
  if (config_.loops <= 0) config_.loops = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

Node::~Node() {
  // Store jobs post to loops: stop the store before the loops go away.
  if (srmStore_) srmStore_->shutdown();
  if (store_) store_->shutdown();
  // init() failed, or start() never ran: no thread ever ran the loops, so close their
  // handles (listeners, wake-ups, the mesh's links) here, as join() would.
  if (!threadsStarted_ && !loops_.empty()) {
    for (auto& l : loops_) l->markClosed();
    if (mesh_) mesh_->close();
    for (auto& l : loops_) l->teardown();
  }
  mesh_.reset();
  loops_.clear();
}

Status Node::prepareTls() {
  std::string cert = config_.tls.certFile;
  std::string key = config_.tls.keyFile;
  if (cert.empty()) {
    // Local runs: a self-signed certificate for the domain, made once in the data dir.
    cert = config_.dataDir + "/selfsigned.crt";
    key = config_.dataDir + "/selfsigned.key";
    if (!std::filesystem::exists(cert) || !std::filesystem::exists(key)) {
      Status s = tls::generateSelfSigned(cert, key, {config_.domain}, 365);
      if (!s) return s;
      log::info("node", "generated-self-signed-certificate", {{"path", cert}});
    }
  }
  tls::ServerOptions opts;
  opts.certChainFile = cert;
  opts.keyFile = key;
  if (!tls::parseTlsVersion(config_.tls.minVersion, &opts.minVersion))
    return Status::fail("config-invalid", "tls.min_version must be 1.2 or 1.3");
  opts.alpn = {"xmpp-client"};
  if (!config_.tls.ticketKeyFile.empty()) {
    std::ifstream in(config_.tls.ticketKeyFile, std::ios::binary);
    std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof())
      return Status::fail("config-invalid", "tls.ticket_key_file: cannot read " + config_.tls.ticketKeyFile);
    if (secret.size() < tls::SharedTicketKeys::kMinSecretBytes)
      return Status::fail("config-invalid", "tls.ticket_key_file: " + config_.tls.ticketKeyFile +
                                                " must hold at least 32 bytes (head -c 32 /dev/urandom)");
    opts.ticketKeySecret = std::move(secret);
  }
  auto ctx = tls::TlsContext::server(opts);
  if (!ctx.isOk()) return Status::fail(ctx.error().reason, ctx.error().detail);
  tls_ = std::move(ctx.value());
  return Status::ok();
}

Status Node::init() {
  std::error_code ec;
  std::filesystem::create_directories(config_.dataDir, ec);
  if (ec) return Status::fail("data-dir", ec.message());
  // Unknown users get a fake SCRAM salt shaped like a real one (no enumeration).
  sasl::setUnknownUserPolicy(sasl::UnknownUserPolicy{
      .secret = sasl::randomBytes(32), .saltLength = 16,
      .iterations = static_cast<uint32_t>(config_.scramIterations)});
  Status s = prepareTls();
  if (!s) return s;
  // PostgreSQL or SQLite by the spec's form (store/open_store.h); one connection per worker.
  store::StoreFactory openStore =
      store::storeFactory(config_.resolvedStoreSpec(), store::OpenOptions{.domain = config_.domain});
  log::info("node", "store", {{"spec", store::redactedSpec(config_.resolvedStoreSpec())}});
  auto st = store::AsyncStore::start(
      openStore,
      store::AsyncStoreOptions{.threads = static_cast<size_t>(std::max(1, config_.storeThreads))});
  if (!st.isOk()) return Status::fail(st.error().reason, st.error().detail);
  store_ = std::move(st.value());
  bool haNode = false;
  if (topology_) {
    auto self = topology_->nodeIndex(config_.nodeId);
    if (self && topology_->backupOf(*self)) {
      haNode = true;
      // The SRM's witness beats get a connection and a thread of their own: queued
      // behind a burst of offline writes or roster loads they would arrive late and
      // the node would fence itself under load.
      auto srm = store::AsyncStore::start(openStore, store::AsyncStoreOptions{.threads = 1});
      if (!srm.isOk()) return Status::fail(srm.error().reason, srm.error().detail);
      srmStore_ = std::move(srm.value());
    }
  }
  // An HA node's r2r links (and with them the SRM's heartbeats) get a loop of their own,
  // without clients: a login storm keeping the client loops busy for seconds must not
  // delay heartbeats past the timeout, or the node loses its lease and fences itself.
  const bool ownMeshLoop = haNode && topology_->nodes().size() > 1;
  const auto total = static_cast<uint32_t>(config_.loops + (ownMeshLoop ? 1 : 0));
  meshLoop_ = ownMeshLoop ? total - 1 : 0;
  for (uint32_t i = 0; i < total; ++i) loops_.push_back(std::make_unique<Loop>(*this, i, total));
  for (auto& l : loops_) {
    if (l->loopIndex() != meshLoop_ || meshLoop_ == 0) s = l->listen();
    if (!s) return s;
  }
  if (topology_ && topology_->nodes().size() > 1) {
    auto self = topology_->nodeIndex(config_.nodeId);
    if (!self) return Status::fail("topology-invalid", "node '" + config_.nodeId + "' is not in the topology");
    mesh_ = std::make_unique<MeshNode>(*this, topology_, *self, meshLoop_, r2rListen_);
    if (s = mesh_->start(); !s) return s;
    router_.setMesh(mesh_.get());
  }
  return Status::ok();
}

void Node::start() {
  startedAtMs_ = static_cast<int64_t>(uv_hrtime() / 1000000);
  threadsStarted_ = true;
  for (auto& l : loops_) l->start();
  log::info("node", "started", {{"node", config_.nodeId}, {"domain", config_.domain},
                                 {"loops", std::to_string(loops_.size())},
                                 {"c2s_port", std::to_string(config_.listen.c2sPort)}});
}

void Node::stop() {
  // Once: a second stop (a second SIGTERM) would run its stop task inside teardown and
  // cut teardown's close callbacks short.
  if (stopRequested_.exchange(true)) return;
  // An HA node says goodbye first, so its peer takes its users over at once (Peer
  // Reboot) instead of after the heartbeat timeout; the heartbeat needs a moment on
  // the wire before the loops close their links.
  if (mesh_ && mesh_->redundancy() && threadsStarted_) {
    MeshNode* mesh = mesh_.get();
    loops_[meshLoop_]->post([mesh] { mesh->shutdown(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  for (auto& l : loops_) l->stopAsync();
}

void Node::join() {
  for (auto& l : loops_) l->joinThread();
  for (auto& l : loops_) l->markClosed();
  if (mesh_) mesh_->close();
  for (auto& l : loops_) l->teardown();
}

std::string Node::seeOtherHost(std::string_view homeNode) const {
  if (!topology_ || homeNode.empty()) return {};
  auto home = topology_->nodeIndex(homeNode);
  if (!home) {
    log::warn("node", "unknown-home-node", {{"home", std::string(homeNode)}});
    return {};
  }
  if (servesHome(homeNode)) return {};
  auto serving = failover_.servingNode(*home);
  auto self = topology_->nodeIndex(config_.nodeId);
  // This node is in the user's group and does not serve it now (failed over, or in a
  // move whose claim has not reached the view yet): the other node of the group will.
  if (!serving || serving == self) {
    auto other = dualPeerFor(homeNode);
    if (!other) return {};
    return other->host + ":" + std::to_string(other->c2sPort);
  }
  const topology::Node& n = topology_->node(*serving);
  return n.reachable(n.c2s) + ":" + std::to_string(n.c2s.port);
}

std::optional<Node::DualPeer> Node::dualPeerFor(std::string_view homeNode) const {
  if (!topology_ || homeNode.empty()) return std::nullopt;
  auto home = topology_->nodeIndex(homeNode);
  auto self = topology_->nodeIndex(config_.nodeId);
  if (!home || !self) return std::nullopt;
  const topology::Group& g = topology_->groupOf(*home);
  if (!g.ha || g.nodes.size() != 2) return std::nullopt;
  if (g.nodes[0] != *self && g.nodes[1] != *self) return std::nullopt;
  const topology::Node& other = topology_->node(g.nodes[0] == *self ? g.nodes[1] : g.nodes[0]);
  const topology::SrmParams& p = topology_->clusterOf(*home).srm;
  return DualPeer{other.id, other.reachable(other.c2s), other.c2s.port, p.reloginLowerLimit.count(),
                  p.reloginUpperLimit.count()};
}

int64_t Node::activationHoldMs(std::string_view homeNode) const {
  if (!mayHoldInactive(homeNode)) return 0;
  auto home = topology_->nodeIndex(homeNode);
  if (!home) return 0;
  constexpr int64_t kDetectionSlackMs = 500, kMaxHoldMs = 5000;
  const int64_t timeoutMs = topology_->clusterOf(*home).srm.heartbeatTimeout.count();
  return std::min(timeoutMs + kDetectionSlackMs, kMaxHoldMs);
}

bool Node::mayHoldInactive(std::string_view homeNode) const {
  if (!topology_ || homeNode.empty()) return false;
  if (homeNode == config_.nodeId) return true;
  return dualPeerFor(homeNode).has_value();
}

bool Node::servesHome(std::string_view homeNode) const {
  if (!topology_ || homeNode.empty()) return true;
  auto home = topology_->nodeIndex(homeNode);
  if (!home) return true;
  // In this node's own HA group the SRM decides, lease-checked at this moment.
  if (const Redundancy* red = mesh_ ? mesh_->redundancy() : nullptr) {
    if (homeNode == config_.nodeId) return red->servesMyUsers();
    if (dualPeerFor(homeNode)) return red->servesPeerUsers();
  }
  auto serving = failover_.servingNode(*home);
  return serving && topology_->node(*serving).id == config_.nodeId;
}

void Node::servingChanged(topology::NodeIndex home, bool servedHere) {
  if (!topology_) return;
  std::string homeId = topology_->node(home).id;
  // First the replicas (mesh loop, where the SRM acts): the activations that the loops'
  // notices bring find the peer's sessions held for them.
  if (servedHere && mesh_) mesh_->onServingStarted(homeId);
  for (auto& l : loops_) {
    Loop* loop = l.get();
    loop->post([loop, homeId, servedHere] { loop->onServingChanged(homeId, servedHere); });
  }
}

bool Node::admitAddress(const std::string& address) {
  std::lock_guard lock(addrMu_);
  int& n = perAddress_[address];
  ++n;
  int limit = config_.limits.maxConnectionsPerAddress;
  return limit <= 0 || n <= limit;
}

void Node::releaseAddress(const std::string& address) {
  std::lock_guard lock(addrMu_);
  auto it = perAddress_.find(address);
  if (it == perAddress_.end()) return;
  if (--it->second <= 0) perAddress_.erase(it);
}

namespace {
uint64_t load(const Counter& c) { return c.load(std::memory_order_relaxed); }

struct Totals {
  std::array<uint64_t, static_cast<size_t>(StanzaClass::kCount)> in{}, out{};
  std::array<uint64_t, static_cast<size_t>(ErrorReason::kCount)> errors{};
  uint64_t bytesIn = 0, bytesOut = 0, accepted = 0, closed = 0, authOk = 0, authFail = 0,
           offlineStored = 0, offlineDelivered = 0, crossLoop = 0, overflow = 0, resumed = 0,
           connections = 0, negotiating = 0, active = 0, inactive = 0, detached = 0, queued = 0, offlineHeld = 0;
};

Totals sum(const std::vector<std::unique_ptr<Loop>>& loops) {
  Totals t;
  for (const auto& l : loops) {
    const LoopStats& s = l->statsView();
    for (size_t i = 0; i < t.in.size(); ++i) {
      t.in[i] += load(s.stanzasIn[i]);
      t.out[i] += load(s.stanzasOut[i]);
    }
    for (size_t i = 0; i < t.errors.size(); ++i) t.errors[i] += load(s.errors[i]);
    t.bytesIn += load(s.bytesIn);
    t.bytesOut += load(s.bytesOut);
    t.accepted += load(s.connectionsAccepted);
    t.closed += load(s.connectionsClosed);
    t.authOk += load(s.authSuccess);
    t.authFail += load(s.authFailure);
    t.offlineStored += load(s.offlineStored);
    t.offlineDelivered += load(s.offlineDelivered);
    t.crossLoop += load(s.crossLoopSent);
    t.overflow += load(s.crossLoopOverflow);
    t.resumed += load(s.smResumed);
    t.connections += load(s.connections);
    t.negotiating += load(s.sessionsNegotiating);
    t.active += load(s.sessionsActive);
    t.inactive += load(s.sessionsInactive);
    t.detached += load(s.sessionsDetached);
    t.queued += load(s.outputQueuedBytes);
    t.offlineHeld += load(s.offlineHeld);
  }
  return t;
}
}  // namespace

std::string Node::renderMetrics() const {
  Totals t = sum(loops_);
  std::ostringstream o;
  auto metric = [&](const char* name, const char* type, const char* help, uint64_t v) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << ' ' << v << '\n';
  };
  o << "# HELP xmesh_sessions Client sessions by state.\n# TYPE xmesh_sessions gauge\n";
  o << "xmesh_sessions{state=\"negotiating\"} " << t.negotiating << '\n';
  o << "xmesh_sessions{state=\"active\"} " << t.active << '\n';
  o << "xmesh_sessions{state=\"inactive\"} " << t.inactive << '\n';
  o << "xmesh_sessions{state=\"detached\"} " << t.detached << '\n';
  // The seeds' counters (IM and Presence JSM counters). Until dual connections exist
  // every bound session is a client session of this node's own users.
  metric("xmesh_ActiveJsmSessions", "gauge", "Active JSM sessions (seed counter).", t.active);
  metric("xmesh_InactiveJsmSessions", "gauge", "Inactive JSM sessions (seed counter).", t.inactive);
  metric("xmesh_JsmSessionsClient", "gauge", "Client sessions active on this node.", t.active);
  metric("xmesh_JsmSessionsClientInactive", "gauge", "Inactive client sessions on this node.", t.inactive);
  metric("xmesh_JsmSessionsComposed", "gauge", "Active plus inactive client sessions.", t.active + t.inactive);
  o << "# HELP xmesh_stanzas_in_total Stanzas received from clients.\n# TYPE xmesh_stanzas_in_total counter\n";
  for (size_t i = 0; i < t.in.size(); ++i)
    o << "xmesh_stanzas_in_total{kind=\"" << stanzaClassName(static_cast<StanzaClass>(i)) << "\"} " << t.in[i] << '\n';
  o << "# HELP xmesh_stanzas_out_total Stanzas delivered to clients.\n# TYPE xmesh_stanzas_out_total counter\n";
  for (size_t i = 0; i < t.out.size(); ++i)
    o << "xmesh_stanzas_out_total{kind=\"" << stanzaClassName(static_cast<StanzaClass>(i)) << "\"} " << t.out[i] << '\n';
  o << "# HELP xmesh_errors_total Errors sent or connections closed, by reason.\n# TYPE xmesh_errors_total counter\n";
  for (size_t i = 0; i < t.errors.size(); ++i)
    o << "xmesh_errors_total{reason=\"" << errorReasonName(static_cast<ErrorReason>(i)) << "\"} " << t.errors[i] << '\n';
  metric("xmesh_bytes_in_total", "counter", "Bytes read from client sockets.", t.bytesIn);
  metric("xmesh_bytes_out_total", "counter", "Bytes written to client sockets.", t.bytesOut);
  metric("xmesh_connections", "gauge", "Open client connections.", t.connections);
  metric("xmesh_connections_accepted_total", "counter", "Accepted client connections.", t.accepted);
  metric("xmesh_auth_success_total", "counter", "Successful SASL authentications.", t.authOk);
  metric("xmesh_auth_failure_total", "counter", "Failed SASL authentications.", t.authFail);
  metric("xmesh_offline_stored_total", "counter", "Messages stored for offline users.", t.offlineStored);
  metric("xmesh_offline_held", "gauge",
         "Offline messages held in memory until the database takes them (it is down).", t.offlineHeld);
  metric("xmesh_offline_delivered_total", "counter", "Offline messages delivered.", t.offlineDelivered);
  metric("xmesh_crossloop_sent_total", "counter", "Envelopes handed to another loop.", t.crossLoop);
  metric("xmesh_crossloop_overflow_total", "counter", "Envelopes that waited for a full queue.", t.overflow);
  metric("xmesh_sm_resumed_total", "counter", "XEP-0198 resumptions.", t.resumed);
  metric("xmesh_output_queued_bytes", "gauge", "Bytes queued for client sockets.", t.queued);
  metric("xmesh_store_queue_depth", "gauge", "Store jobs waiting.", store_ ? store_->queueDepth() : 0);
  o << "# HELP xmesh_crossloop_queue_depth Envelopes waiting in a loop's inbound queues.\n"
       "# TYPE xmesh_crossloop_queue_depth gauge\n";
  for (uint32_t d = 0; d < loops_.size(); ++d) {
    size_t depth = 0;
    for (uint32_t src = 0; src < loops_.size(); ++src) depth += loops_[d]->inboxFrom(src).sizeApprox();
    o << "xmesh_crossloop_queue_depth{loop=\"" << d << "\"} " << depth << '\n';
  }
  metric("xmesh_online_users", "gauge", "Users with at least one session.", directory_.onlineUsersApprox());
  std::string out = o.str();
  if (mesh_) mesh_->renderMetrics(out);
  return out;
}

std::string Node::renderStatus() const {
  Totals t = sum(loops_);
  nlohmann::json j;
  j["node"] = config_.nodeId;
  j["domain"] = config_.domain;
  j["loops"] = loops_.size();
  j["sessions"] = {{"negotiating", t.negotiating}, {"active", t.active}, {"inactive", t.inactive},
                   {"detached", t.detached}};
  j["counters"] = {{"ActiveJsmSessions", t.active}, {"InactiveJsmSessions", t.inactive},
                   {"JsmSessionsClient", t.active}, {"JsmSessionsClientInactive", t.inactive},
                   {"JsmSessionsComposed", t.active + t.inactive}};
  j["connections"] = t.connections;
  j["online_users"] = directory_.onlineUsersApprox();
  j["stanzas_in"] = t.in[0] + t.in[1] + t.in[2];
  j["stanzas_out"] = t.out[0] + t.out[1] + t.out[2];
  j["store_queue_depth"] = store_ ? store_->queueDepth() : 0;
  j["output_queued_bytes"] = t.queued;
  if (mesh_) mesh_->renderStatus(j);
  return j.dump();
}

}  // namespace xmesh::router
