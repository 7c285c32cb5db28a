#include "router/mesh_node.h"

#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <unordered_map>
#include <utility>

#include "core/log.h"
#include "router/node.h"
#include "router/redundancy.h"
#include "store/store.h"

namespace xmesh::router {
namespace {

// A stanza for the router from a parsed one whose addresses are already checked; `bytes`
// is its wire form with `from`.
std::shared_ptr<RoutedStanza> routedStanza(xml::Stanza&& st, StanzaKind kind, jid::Jid from, jid::Jid to,
                                           SharedBytes bytes) {
  auto rs = std::make_shared<RoutedStanza>();
  rs->kind = kind;
  rs->name = std::move(st.name);
  rs->type = std::move(st.type);
  rs->id = std::move(st.id);
  rs->bytes = std::move(bytes);
  rs->from = std::move(from);
  rs->to = std::move(to);
  return rs;
}

constexpr int64_t kTickMs = 50;
constexpr int64_t kStorePollMs = 1000;
// How long sessions taken over wait for their client's activation before what they
// held is routed again (the drill's dual clients activate within about 2 s).
constexpr int64_t kReplicaHoldMs = 15000;
// Directory batches per tick, over all peers: 8 × 1,000 users every 50 ms is 160,000
// users/s, fast enough for a 45,000-user cluster in well under a second while leaving
// the mesh loop free for stanzas between batches.
constexpr size_t kSyncBatchesPerTick = 8;
constexpr size_t kHomesPage = 10000;
constexpr int64_t kDirectoryRetryMs = 250;
// A stanza withdrawn from a dead node's link, sent to the node that serves its recipient
// now: <m:reroute via='dead' epoch='our incarnation' seq='its number towards dead'>.
constexpr std::string_view kRerouteKind = "reroute";
// The longest an ack gate round waits for the database workers.
constexpr int64_t kStoreWaitMs = 1000;

std::string randomEpoch() {
  std::random_device rd;
  uint64_t v = (static_cast<uint64_t>(rd()) << 32) | rd();
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

struct StoreHomes {
  bool ok = false;
  int64_t version = -1;
  std::vector<store::UserHomeRow> rows;
};

StoreHomes readHomes(store::Store& st) {
  StoreHomes out;
  auto v = st.directoryVersion();
  if (!v.isOk()) return out;
  out.version = v.value();
  std::string after;
  for (;;) {
    auto page = st.listHomes(kHomesPage, after);
    if (!page.isOk()) return out;
    bool last = page->size() < kHomesPage;
    if (!page->empty()) after = page->back().username;
    for (auto& r : page.value()) out.rows.push_back(std::move(r));
    if (last) break;
  }
  out.ok = true;
  return out;
}

}  // namespace

MeshNode::MeshNode(Node& node, std::shared_ptr<const topology::Topology> topology,
                   topology::NodeIndex self, uint32_t meshLoop,
                   std::optional<topology::Endpoint> listenOverride)
    : node_(node),
      topology_(std::move(topology)),
      self_(self),
      meshLoop_(meshLoop),
      listenOverride_(std::move(listenOverride)),
      claims_(*topology_) {}

MeshNode::~MeshNode() {
  // Normally close() ran and the loop's teardown finished the closes; after a failed
  // start-up the loop never ran, so finish them here (no loop thread exists by now).
  if (links_ && !links_->closed()) {
    close();
    uv_run(node_.loop(meshLoop_).uvLoop(), UV_RUN_NOWAIT);
  }
}

RouterEnv& MeshNode::env() { return node_.loop(meshLoop_); }

Status MeshNode::start() {
  // The users' homes as the store knows them (this cluster's users), before any link.
  std::promise<StoreHomes> done;
  auto fut = done.get_future();
  if (!node_.store().submit([&done](store::Store& st) { done.set_value(readHomes(st)); }))
    return Status::fail("store-busy", "could not read the users' homes");
  StoreHomes homes = fut.get();
  if (!homes.ok) return Status::fail("store", "could not read the users' homes");
  storeVersion_ = homes.version;

  mesh::LinkSetOptions opts;
  opts.topology = topology_;
  opts.self = self_;
  opts.epoch = epoch_ = randomEpoch();
  opts.listenOverride = listenOverride_;
  // With a PRG peer to replicate to, acks say "handled and replicated" (router/ack_gate.h).
  opts.gatedAcks = topology_->backupOf(self_).has_value();
  links_ = std::make_unique<mesh::LinkSet>(node_.loop(meshLoop_).uvLoop(), std::move(opts), *this);
  sync_ = std::make_unique<DirectorySync>(*topology_, self_, homes_,
                                          [this](topology::NodeIndex p) { return links_->link(p); });
  std::vector<std::string> own;
  std::vector<std::pair<std::string, topology::NodeIndex>> cluster;
  for (auto& r : homes.rows) {
    auto idx = topology_->nodeIndex(r.homeNode);
    if (!idx) continue;
    if (*idx == self_) own.push_back(r.username);
    else cluster.emplace_back(std::move(r.username), *idx);
  }
  applyStoreHomes(std::move(own), std::move(cluster));
  {
    std::lock_guard lock(snapMu_);
    syncSnap_.assign(topology_->nodes().size(), PeerSyncStatus{});
  }
  if (Status s = links_->start(); !s) return s;
  if (auto peer = topology_->backupOf(self_)) {
    replicas_ = std::make_unique<ReplicaStore>(node_.config().limits.smMaxUnacked);
    node_.router().setReplicaSource(replicas_.get());
    if (r2r::Link* link = links_->link(*peer))
      replicator_ = std::make_unique<Replicator>(node_, meshLoop_, topology_->node(self_).id,
                                                 topology_->node(*peer).id, *link);
    std::vector<r2r::Link*> links;
    for (topology::NodeIndex p : topology_->peersOf(self_))
      if (r2r::Link* l = links_->link(p)) links.push_back(l);
    barriers_ = std::make_unique<Barriers>(std::move(links), [this](uint32_t loop, std::function<void()> fn) {
      env().runOn(loop, std::move(fn));
    });
    startAckGate(*peer);
    redundancy_ = std::make_unique<Redundancy>(node_, *this, topology_, self_, *peer, node_.loop(meshLoop_).uvLoop());
    if (Status s = redundancy_->start(); !s) return s;
  }
  uv_timer_init(node_.loop(meshLoop_).uvLoop(), &timer_);
  timer_.data = this;
  uv_timer_start(&timer_, onTimer, kTickMs, kTickMs);
  timerStarted_ = true;
  log::info("mesh", "started", {{"node", topology_->node(self_).id},
                                 {"peers", std::to_string(topology_->peersOf(self_).size())},
                                 {"own_users", std::to_string(sync_->ownUsers().size())},
                                 {"directory_users", std::to_string(homes_.size())}});
  return Status::ok();
}

void MeshNode::shutdown() {
  if (redundancy_) redundancy_->shutdown();
}

void MeshNode::close() {
  if (redundancy_) redundancy_->close();
  if (timerStarted_ && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&timer_)))
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  if (links_) links_->close();
}

void MeshNode::applyStoreHomes(std::vector<std::string> own,
                               std::vector<std::pair<std::string, topology::NodeIndex>> cluster) {
  // Users of other nodes found in the shared store are known before those nodes'
  // announcements arrive (generation 0: their next full sync confirms or drops them).
  for (auto& [user, idx] : cluster)
    if (!homes_.homeOf(user)) homes_.set(user, idx, 0);
  sync_->setOwnUsers(std::move(own));
}

void MeshNode::onTimer(uv_timer_t* t) { static_cast<MeshNode*>(t->data)->tick(); }

void MeshNode::retryLater(RouterEnv& env, std::shared_ptr<const RoutedStanza> s) {
  counters_.directoryRetries.fetch_add(1, std::memory_order_relaxed);
  env.runOn(meshLoop_, [this, s = std::move(s)]() mutable {
    retries_.emplace_back(this->env().nowMs() + kDirectoryRetryMs, std::move(s));
  });
}

void MeshNode::tick() {
  sync_->pump(kSyncBatchesPerTick);
  int64_t now = env().nowMs();
  while (!retries_.empty() && retries_.front().first <= now) {
    auto s = std::move(retries_.front().second);
    retries_.pop_front();
    node_.router().route(env(), std::move(s));
  }
  if (replicas_) rerouteReleased(replicas_->expire(now));
  for (topology::NodeIndex p : topology_->peersOf(self_))
    if (node_.failover().failedOver(p)) withdrawFrom(p);
  for (auto pending = std::exchange(pendingReroutes_, {}); !pending.empty(); pending.pop_front())
    rerouteWithdrawn(pending.front().first, std::move(pending.front().second));
  while (!storeWaits_.empty() && storeWaits_.front().first <= now) {
    auto fire = std::move(storeWaits_.front().second);
    storeWaits_.pop_front();
    fire();  // no-op when the database answered in time
  }
  if (now - lastPollMs_ >= kStorePollMs) {
    lastPollMs_ = now;
    pollStore();
    refreshSnapshot();
  }
}

void MeshNode::pollStore() {
  if (pollInFlight_) return;
  pollInFlight_ = true;
  int64_t known = storeVersion_;
  Loop* loop = &node_.loop(meshLoop_);
  std::string selfId = topology_->node(self_).id;
  bool queued = node_.store().submit([this, known, loop, selfId](store::Store& st) {
    auto v = st.directoryVersion();
    if (v.isOk() && v.value() == known) {
      loop->post([this] { pollInFlight_ = false; });
      return;
    }
    auto homes = std::make_shared<StoreHomes>(readHomes(st));
    loop->post([this, homes] {
      pollInFlight_ = false;
      if (!homes->ok) return;
      storeVersion_ = homes->version;
      std::vector<std::string> own;
      std::vector<std::pair<std::string, topology::NodeIndex>> cluster;
      for (auto& r : homes->rows) {
        auto idx = topology_->nodeIndex(r.homeNode);
        if (!idx) continue;
        if (*idx == self_) own.push_back(std::move(r.username));
        else cluster.emplace_back(std::move(r.username), *idx);
      }
      log::info("mesh", "directory-changed-in-store", {{"version", std::to_string(homes->version)},
                                                       {"own_users", std::to_string(own.size())}});
      applyStoreHomes(std::move(own), std::move(cluster));
    });
  });
  if (!queued) pollInFlight_ = false;
}

std::optional<topology::NodeIndex> MeshNode::remoteServer(std::string_view user) const {
  auto home = homes_.homeOf(user);
  if (!home) return std::nullopt;
  auto serving = node_.failover().servingNode(*home);
  // Nobody serves the user (both nodes of its group failed): its home is the best bet
  // (it stores offline, or refuses); never this node by default.
  if (!serving) serving = home;
  if (*serving == self_) return std::nullopt;
  return serving;
}

void MeshNode::forward(RouterEnv& env, topology::NodeIndex node, std::shared_ptr<const RoutedStanza> s) {
  if (env.loopIndex() == meshLoop_) return sendStanza(node, s);
  env.runOn(meshLoop_, [this, node, s = std::move(s)] { sendStanza(node, s); });
}

void MeshNode::forwardFanout(RouterEnv& env, topology::NodeIndex node, std::vector<std::string> recipients,
                             SharedBytes presence) {
  if (env.loopIndex() == meshLoop_) return sendFanout(node, recipients, presence);
  env.runOn(meshLoop_, [this, node, r = std::move(recipients), p = std::move(presence)] { sendFanout(node, r, p); });
}

void MeshNode::sendStanza(topology::NodeIndex node, const std::shared_ptr<const RoutedStanza>& s) {
  r2r::Link* link = links_->link(node);
  r2r::SendResult r = link ? link->sendStanza(*s->bytes) : r2r::SendResult::Invalid;
  if (r == r2r::SendResult::Queued) {
    counters_.forwarded.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  counters_.forwardRefused.fetch_add(1, std::memory_order_relaxed);
  log::warn("mesh", "forward-refused", {{"peer", topology_->node(node).id},
                                         {"result", std::string(r2r::sendResultName(r))},
                                         {"to", s->to.full()}});
  node_.router().bounceWith(env(), *s, r == r2r::SendResult::Full ? "resource-constraint" : "internal-server-error");
}

void MeshNode::sendFanout(topology::NodeIndex node, const std::vector<std::string>& recipients,
                          const SharedBytes& presence) {
  r2r::Link* link = links_->link(node);
  r2r::SendResult r = link ? link->sendFanout(recipients, *presence) : r2r::SendResult::Invalid;
  if (r == r2r::SendResult::Queued) {
    counters_.fanoutsSent.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // Presence is a state broadcast, not a message: a later one supersedes it.
  counters_.forwardRefused.fetch_add(1, std::memory_order_relaxed);
  log::warn("mesh", "fanout-refused", {{"peer", topology_->node(node).id},
                                        {"result", std::string(r2r::sendResultName(r))}});
}

void MeshNode::onEstablished(topology::NodeIndex peer, const r2r::PeerHello& hello) {
  bool full = !hello.knowsUs || hello.peerRestarted;
  sync_->onEstablished(peer, full);
  log::info("mesh", "link-established", {{"peer", topology_->node(peer).id},
                                          {"full_sync", full ? "yes" : "no"},
                                          {"peer_restarted", hello.peerRestarted ? "yes" : "no"}});
  sync_->pump(kSyncBatchesPerTick);
  // Every node learns who serves what from the claims; a new link gets ours at once.
  if (r2r::Link* link = links_->link(peer)) {
    for (const ServingClaim& c : claims_.claimsBy(self_)) sendClaim(peer, *link, encodeClaim(c));
  }
  if (redundancy_ && topology_->backupOf(self_) == peer) redundancy_->onPeerLinkUp();
  if (replicator_ && topology_->backupOf(self_) == peer) replicator_->onLinkUp(full);
}

void MeshNode::onDown(topology::NodeIndex peer, std::string_view reason) {
  log::info("mesh", "link-down", {{"peer", topology_->node(peer).id}, {"reason", std::string(reason)}});
  if (replicator_ && topology_->backupOf(self_) == peer) replicator_->onLinkDown();
  withdrawFrom(peer);
}

void MeshNode::onWritable(topology::NodeIndex peer) {
  sync_->pump(kSyncBatchesPerTick);
  if (replicator_ && topology_->backupOf(self_) == peer) replicator_->onWritable();
}

void MeshNode::onUnit(topology::NodeIndex peer, r2r::Unit&& unit) {
  // A rerouted stanza is routed here like any other: the gate holds its ack too.
  const r2r::UnitKind kind =
      unit.kind == r2r::UnitKind::Control && unit.name() == kRerouteKind ? r2r::UnitKind::Stanza : unit.kind;
  const uint64_t seq = unit.seq;
  handleUnit(peer, std::move(unit));
  if (ackGate_) ackGate_->onUnit(peer, kind, seq);
}

void MeshNode::handleUnit(topology::NodeIndex peer, r2r::Unit&& unit) {
  switch (unit.kind) {
    case r2r::UnitKind::Stanza:
      counters_.received.fetch_add(1, std::memory_order_relaxed);
      return handleStanza(peer, std::move(unit.stanza));
    case r2r::UnitKind::Fanout:
      counters_.fanoutsReceived.fetch_add(1, std::memory_order_relaxed);
      return handleFanout(peer, std::move(unit));
    case r2r::UnitKind::Control:
      if (unit.name() == "dir") {
        if (Status s = sync_->onRecord(peer, unit); !s) refuse(peer, s.error().reason, s.error().detail);
        if (unit.attr("op") == "end") syncComplete_.store(sync_->complete(), std::memory_order_relaxed);
        return;
      }
      if (unit.name() == kSrmKind) {
        if (redundancy_ && topology_->backupOf(self_) == peer) return redundancy_->onHeartbeat(unit);
        return refuse(peer, "srm-not-my-peer", topology_->node(peer).id);
      }
      if (unit.name() == kFailoverKind) return handleClaim(peer, unit);
      if (unit.name() == replica::kKind) return handleReplica(peer, unit);
      if (unit.name() == kRerouteKind) return handleReroute(peer, unit);
      log::debug("mesh", "control-ignored", {{"peer", topology_->node(peer).id}, {"kind", unit.name()}});
      return;
  }
}

bool MeshNode::maySpeakFor(topology::NodeIndex peer, std::string_view user) const {
  if (user.empty()) return true;  // the domain itself (server-generated errors)
  auto home = homes_.homeOf(user);
  if (!home) return true;  // not announced yet: units are ordered, announcements may follow
  auto serving = node_.failover().servingNode(*home);
  if (!serving || *serving == peer) return true;
  // During a move the two nodes of the user's group may both still speak for it.
  auto backup = topology_->backupOf(*home);
  return peer == *home || (backup && *backup == peer);
}

bool MeshNode::servedHereOrUnknown(std::string_view user) const {
  if (user.empty()) return true;
  return !remoteServer(user).has_value();
}

void MeshNode::handleStanza(topology::NodeIndex peer, xml::Stanza&& st) {
  StanzaKind kind = kindOf(st.name);
  if (kind == StanzaKind::Other) return refuse(peer, "not-a-stanza", st.name);
  auto from = jid::Jid::parse(st.from);
  auto to = jid::Jid::parse(st.to);
  if (!from.isOk() || !to.isOk()) return refuse(peer, "bad-address", st.from + " -> " + st.to);
  const std::string& domain = node_.config().domain;
  if (from->domain() != domain || to->domain() != domain)
    return refuse(peer, "foreign-domain", st.from + " -> " + st.to);
  if (!maySpeakFor(peer, from->local()))
    return refuse(peer, "from-not-served-by-peer", from->full());
  if (!servedHereOrUnknown(to->local())) {
    // Our directory and the peer's disagree (a move in flight): handle it here rather
    // than bounce it between nodes; route() never forwards a stanza from the mesh.
    counters_.misrouted.fetch_add(1, std::memory_order_relaxed);
    log::debug("mesh", "misrouted", {{"peer", topology_->node(peer).id}, {"to", to->full()}});
  }
  SharedBytes bytes = makeShared(st.withFrom(st.from));
  auto rs = routedStanza(std::move(st), kind, std::move(from.value()), std::move(to.value()), std::move(bytes));
  rs->viaNode = static_cast<int16_t>(peer);
  node_.router().route(env(), std::move(rs));
}

void MeshNode::handleFanout(topology::NodeIndex peer, r2r::Unit&& unit) {
  auto from = jid::Jid::parse(unit.stanza.from);
  const std::string& domain = node_.config().domain;
  if (!from.isOk() || from->domain() != domain) return refuse(peer, "bad-address", unit.stanza.from);
  if (!maySpeakFor(peer, from->local())) return refuse(peer, "from-not-served-by-peer", from->full());
  std::vector<std::string> recipients;
  recipients.reserve(unit.recipients.size());
  for (auto& r : unit.recipients) {
    size_t at = r.find('@');
    if (at == std::string::npos || std::string_view(r).substr(at + 1) != domain) {
      refuse(peer, "bad-recipient", r);
      continue;
    }
    if (!servedHereOrUnknown(std::string_view(r).substr(0, at)))
      counters_.misrouted.fetch_add(1, std::memory_order_relaxed);
    recipients.push_back(std::move(r));
  }
  node_.router().deliverFanout(env(), recipients, makeShared(unit.stanza.withFrom(unit.stanza.from)));
}

bool MeshNode::resetLink(std::string_view peerId) {
  auto idx = topology_->nodeIndex(peerId);
  if (!idx || *idx == self_) return false;
  topology::NodeIndex peer = *idx;
  node_.loop(meshLoop_).post([this, peer] {
    log::info("mesh", "link-reset-requested", {{"peer", topology_->node(peer).id}});
    links_->dropConnection(peer);
  });
  return true;
}

void MeshNode::announceClaim(const ServingClaim& claim) {
  applyClaim(self_, claim);
  if (!links_) return;
  r2r::Attrs attrs = encodeClaim(claim);
  for (topology::NodeIndex p : topology_->peersOf(self_))
    if (r2r::Link* link = links_->link(p)) sendClaim(p, *link, attrs);
}

void MeshNode::sendClaim(topology::NodeIndex peer, r2r::Link& link, const r2r::Attrs& attrs) {
  // Claims are a few per failover and queue while a link is down; a refusal means the
  // link's journal is full, and the claim goes out again when the link re-establishes.
  r2r::SendResult r = link.sendControl(kFailoverKind, attrs);
  if (r != r2r::SendResult::Queued)
    log::warn("mesh", "claim-not-queued", {{"peer", topology_->node(peer).id},
                                           {"result", std::string(r2r::sendResultName(r))}});
}

void MeshNode::handleClaim(topology::NodeIndex peer, const r2r::Unit& unit) {
  auto claim = decodeClaim(unit.attrs);
  if (!claim) return refuse(peer, claim.error().reason, claim.error().detail);
  counters_.claimsReceived.fetch_add(1, std::memory_order_relaxed);
  applyClaim(peer, claim.value());
}

void MeshNode::applyClaim(topology::NodeIndex announcer, const ServingClaim& claim) {
  bool changed = false;
  if (Status s = claims_.apply(announcer, claim, &changed); !s)
    return refuse(announcer, s.error().reason, s.error().detail);
  auto home = topology_->nodeIndex(claim.home);
  const bool failed = claims_.failedOver(*home);
  node_.failover().set(*home, failed);
  if (failed && *home != self_) withdrawFrom(*home);
  if (changed)
    log::info("mesh", failed ? "failed-over" : "failed-back",
              {{"home", claim.home}, {"served_by", failed ? topology_->node(*topology_->backupOf(*home)).id : claim.home},
               {"announced_by", claim.by}, {"epoch", std::to_string(claim.epoch)}});
}

void MeshNode::refuse(topology::NodeIndex peer, std::string_view reason, std::string_view detail) {
  counters_.refused.fetch_add(1, std::memory_order_relaxed);
  log::warn("mesh", "refused", {{"peer", topology_->node(peer).id}, {"reason", std::string(reason)},
                                {"detail", std::string(detail)}});
}

void MeshNode::refreshSnapshot() {
  std::vector<PeerSyncStatus> snap(topology_->nodes().size());
  for (topology::NodeIndex i = 0; i < snap.size(); ++i)
    if (i != self_) snap[i] = sync_->status(i);
  syncComplete_.store(sync_->complete(), std::memory_order_relaxed);
  std::lock_guard lock(snapMu_);
  syncSnap_ = std::move(snap);
}

void MeshNode::handleReplica(topology::NodeIndex peer, const r2r::Unit& unit) {
  // Only the PRG peer serves users whose sessions we may take over.
  if (!replicas_ || topology_->backupOf(self_) != peer) return refuse(peer, "rep-not-my-peer", topology_->node(peer).id);
  auto record = replica::decode(unit.attrs, unit.children);
  if (!record) return refuse(peer, record.error().reason, record.error().detail);
  if (record->op == replica::Op::Mark) {
    auto origin = topology_->nodeIndex(record->node);
    if (!origin) return refuse(peer, "bad-rep", "mark for unknown node " + record->node);
    HandledMark& m = marks_[*origin];
    if (m.epoch != record->epoch) m = HandledMark{record->epoch, 0};
    m.h = std::max(m.h, record->h);
    return;
  }
  // The peer starts over: what it said it handled is said again after its snapshot.
  if (record->op == replica::Op::Reset) marks_.assign(marks_.size(), HandledMark{});
  replicas_->apply(std::move(record.value()));
}

void MeshNode::startAckGate(topology::NodeIndex peer) {
  marks_.assign(topology_->nodes().size(), HandledMark{});
  std::vector<r2r::Link*> links(topology_->nodes().size(), nullptr);
  for (topology::NodeIndex p : topology_->peersOf(self_)) links[p] = links_->link(p);
  AckGate::Hooks hooks;
  hooks.replicationGeneration = [this]() -> std::optional<uint64_t> {
    if (!replicator_ || !replicator_->streaming()) return std::nullopt;
    return replicator_->snapshots();
  };
  hooks.roundTrip = [this](std::function<void()> done) {
    // Behind the stanzas this loop routed to each loop, then behind the records each
    // loop published (Replicator::publish goes through the same queues), then behind
    // the database writes they asked for (offline messages: the peer reads the same
    // store).
    auto left = std::make_shared<uint32_t>(node_.loopCount());
    auto shared = std::make_shared<std::function<void()>>(std::move(done));
    Loop& mesh = node_.loop(meshLoop_);
    auto allBack = [this, &mesh, shared] {
      auto fired = std::make_shared<bool>(false);  // mesh loop only
      auto fire = [shared, fired] {
        if (*fired) return;
        *fired = true;
        (*shared)();
      };
      if (!node_.store().afterQueued([&mesh, fire] { mesh.post(fire); })) return fire();  // shutting down
      storeWaits_.emplace_back(env().nowMs() + kStoreWaitMs, fire);
    };
    for (uint32_t j = 0; j < node_.loopCount(); ++j) {
      Loop* via = &node_.loop(j);
      mesh.runOn(j, [via, meshLoop = meshLoop_, left, allBack] {
        via->runOn(meshLoop, [left, allBack] {
          if (--*left == 0) allBack();
        });
      });
    }
  };
  hooks.publishMark = [this](topology::NodeIndex origin, const std::string& epoch, uint64_t h) {
    replica::Record r;
    r.op = replica::Op::Mark;
    r.node = topology_->node(origin).id;
    r.epoch = epoch;
    r.h = h;
    replicator_->publish(env(), std::move(r));
  };
  ackGate_ = std::make_unique<AckGate>(std::move(links), peer, std::move(hooks));
}

bool MeshNode::handledByPeer(topology::NodeIndex via, topology::NodeIndex origin, std::string_view epoch,
                             uint64_t seq) const {
  if (topology_->backupOf(self_) != via || origin >= marks_.size()) return false;
  const HandledMark& m = marks_[origin];
  return !m.epoch.empty() && m.epoch == epoch && seq <= m.h;
}

namespace {
// The bare user a routed unit is for: a stanza's `to`, a fan-out's first recipient.
std::optional<std::string> unitRecipient(r2r::UnitKind kind, std::string_view bytes) {
  if (kind == r2r::UnitKind::Stanza) {
    auto st = r2r::wire::stanzaFromCanonical(bytes);
    if (!st) return std::nullopt;
    auto to = jid::Jid::parse(st->to);
    if (!to.isOk()) return std::nullopt;
    return std::string(to->local());
  }
  auto scanned = r2r::wire::scanElement(bytes);
  if (!scanned) return std::nullopt;
  auto recipients = r2r::wire::splitRecipients(r2r::wire::findAttr(scanned->attrs, "to"));
  if (recipients.empty()) return std::nullopt;
  return recipients.front().substr(0, recipients.front().find('@'));
}
}  // namespace

void MeshNode::withdrawFrom(topology::NodeIndex dead) {
  r2r::Link* link = links_ ? links_->link(dead) : nullptr;
  if (!link || link->state() == r2r::LinkState::Established || link->unackedCount() == 0) return;
  if (!node_.failover().failedOver(dead)) return;
  // Only what someone else serves now; the rest waits for the node, as before.
  auto units = link->withdrawRouted([&](r2r::UnitKind kind, std::string_view bytes) {
    auto user = unitRecipient(kind, bytes);
    return user && remoteServer(*user) != dead;
  });
  if (units.empty()) return;
  counters_.withdrawn.fetch_add(units.size(), std::memory_order_relaxed);
  log::info("mesh", "units-withdrawn", {{"peer", topology_->node(dead).id}, {"units", std::to_string(units.size())}});
  for (r2r::WithdrawnUnit& u : units) rerouteWithdrawn(dead, std::move(u));
}

void MeshNode::rerouteWithdrawn(topology::NodeIndex dead, r2r::WithdrawnUnit&& unit) {
  if (unit.kind == r2r::UnitKind::Fanout) {
    // Presence is state, not a message: no deduplication, each recipient where it is now.
    auto scanned = r2r::wire::scanElement(unit.bytes);
    if (!scanned) return;
    std::vector<std::string> here;
    std::unordered_map<topology::NodeIndex, std::vector<std::string>> elsewhere;
    for (std::string& bare : r2r::wire::splitRecipients(r2r::wire::findAttr(scanned->attrs, "to"))) {
      auto server = remoteServer(std::string_view(bare).substr(0, bare.find('@')));
      if (server) elsewhere[*server].push_back(std::move(bare));
      else here.push_back(std::move(bare));
    }
    auto presence = makeShared(std::move(scanned->children));
    if (!here.empty()) node_.router().deliverFanout(env(), here, presence);
    for (auto& [n, recipients] : elsewhere) sendFanout(n, recipients, presence);
    return;
  }
  auto st = r2r::wire::stanzaFromCanonical(unit.bytes);
  if (!st) return;
  auto to = jid::Jid::parse(st->to);
  if (!to.isOk()) return;
  if (auto server = remoteServer(to->local())) {
    r2r::Link* link = links_->link(*server);
    const r2r::Attrs attrs{{"via", topology_->node(dead).id}, {"epoch", epoch_}, {"seq", std::to_string(unit.seq)}};
    r2r::SendResult r = link ? link->sendControl(kRerouteKind, attrs, {}, unit.bytes) : r2r::SendResult::Invalid;
    if (r == r2r::SendResult::Queued) {
      counters_.reroutesSent.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    log::warn("mesh", "reroute-refused", {{"peer", topology_->node(*server).id},
                                          {"result", std::string(r2r::sendResultName(r))}, {"to", st->to}});
    if (r == r2r::SendResult::Full) {
      pendingReroutes_.emplace_back(dead, std::move(unit));  // again at the next tick
      return;
    }
    // Nowhere else to send it: handled here (stored offline, or an error to its sender).
  } else if (handledByPeer(dead, self_, epoch_, unit.seq)) {
    // Served here now (we are the dead node's PRG peer), and it had handled it.
    counters_.reroutesDeduplicated.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto from = jid::Jid::parse(st->from);
  if (!from.isOk()) return;
  const StanzaKind kind = kindOf(st->name);
  auto rs = routedStanza(std::move(st.value()), kind, std::move(from.value()), std::move(to.value()),
                         makeShared(std::move(unit.bytes)));
  rs->viaNode = static_cast<int16_t>(dead);  // never forwarded again
  node_.router().route(env(), std::move(rs));
}

void MeshNode::handleReroute(topology::NodeIndex peer, const r2r::Unit& unit) {
  auto via = topology_->nodeIndex(unit.attr("via"));
  uint64_t seq = 0;
  if (!via || unit.attr("epoch").empty() || !r2r::wire::parseUint64(unit.attr("seq"), &seq))
    return refuse(peer, "bad-reroute", "reroute lacks via, epoch or seq");
  auto st = r2r::wire::stanzaFromCanonical(unit.children);
  if (!st || kindOf(st->name) == StanzaKind::Other) return refuse(peer, "bad-reroute", "reroute without a stanza");
  counters_.reroutesReceived.fetch_add(1, std::memory_order_relaxed);
  if (handledByPeer(*via, peer, unit.attr("epoch"), seq)) {
    counters_.reroutesDeduplicated.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  handleStanza(peer, std::move(st.value()));
}

void MeshNode::onServingStarted(const std::string& home) {
  if (!replicas_) return;
  // A peer that is gone cannot hand its plain sessions over any more (their clients log
  // in again): their stanzas are routed again now. Dual sessions wait for the activation.
  auto peer = topology_->backupOf(self_);
  r2r::Link* link = peer ? links_->link(*peer) : nullptr;
  bool peerGone = !link || link->state() != r2r::LinkState::Established;
  rerouteReleased(replicas_->claim(home, peerGone, env().nowMs(), kReplicaHoldMs));
}

void MeshNode::rerouteReleased(std::vector<ReplicaStore::Released> released) {
  for (ReplicaStore::Released& r : released) {
    for (SharedBytes& bytes : r.messages) {
      auto st = r2r::wire::stanzaFromCanonical(*bytes);
      if (!st) continue;
      auto from = jid::Jid::parse(st->from);
      auto to = jid::Jid::parse(st->to);
      if (!from.isOk() || !to.isOk()) continue;
      // The full JID's session is gone: RFC 6121 treats it as the bare JID (another
      // resource, or offline storage).
      node_.router().route(env(), routedStanza(std::move(st.value()), StanzaKind::Message, std::move(from.value()),
                                               std::move(to.value()), std::move(bytes)));
      replicaRerouted_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

void MeshNode::renderMetrics(std::string& out) const {
  auto peers = links_ ? links_->snapshot() : std::vector<mesh::PeerStatus>{};
  std::vector<PeerSyncStatus> sync;
  {
    std::lock_guard lock(snapMu_);
    sync = syncSnap_;
  }
  auto header = [&](const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
  };
  auto perPeer = [&](const char* name, const char* type, const char* help, auto value) {
    header(name, type, help);
    for (const auto& p : peers) {
      out += name;
      out += "{peer=\"" + p.node + "\",cluster=\"" + p.cluster + "\"} ";
      out += std::to_string(value(p));
      out += '\n';
    }
  };
  perPeer("xmesh_r2r_link_up", "gauge", "1 when the r2r link to the peer is established.",
          [](const mesh::PeerStatus& p) { return p.state == "established" ? 1 : 0; });
  perPeer("xmesh_r2r_queue_units", "gauge", "Units sent to the peer and not yet acknowledged.",
          [](const mesh::PeerStatus& p) { return p.unackedUnits; });
  perPeer("xmesh_r2r_queue_bytes", "gauge", "Bytes of units not yet acknowledged by the peer.",
          [](const mesh::PeerStatus& p) { return p.unackedBytes; });
  perPeer("xmesh_r2r_units_sent_total", "counter", "Units (stanzas, fan-outs, records) sent to the peer.",
          [](const mesh::PeerStatus& p) { return p.unitsSent; });
  perPeer("xmesh_r2r_units_received_total", "counter", "Units received from the peer.",
          [](const mesh::PeerStatus& p) { return p.unitsReceived; });
  perPeer("xmesh_r2r_units_resent_total", "counter", "Units written again after a reconnect.",
          [](const mesh::PeerStatus& p) { return p.unitsResent; });
  perPeer("xmesh_r2r_duplicates_dropped_total", "counter", "Units received twice and dropped.",
          [](const mesh::PeerStatus& p) { return p.duplicatesDropped; });
  perPeer("xmesh_r2r_units_withdrawn_total", "counter", "Routed units taken back from a dead peer's queue and routed to the node serving its users.",
          [](const mesh::PeerStatus& p) { return p.unitsWithdrawn; });
  perPeer("xmesh_r2r_voids_received_total", "counter", "Units the peer withdrew (counted, not delivered).",
          [](const mesh::PeerStatus& p) { return p.voidsReceived; });
  perPeer("xmesh_r2r_bytes_sent_total", "counter", "Bytes written to the peer (link layer).",
          [](const mesh::PeerStatus& p) { return p.bytesOut; });
  perPeer("xmesh_r2r_bytes_received_total", "counter", "Bytes read from the peer (link layer).",
          [](const mesh::PeerStatus& p) { return p.bytesIn; });
  perPeer("xmesh_r2r_connections_total", "counter", "Transport connections made to/from the peer.",
          [](const mesh::PeerStatus& p) { return p.connections; });
  perPeer("xmesh_r2r_errors_total", "counter", "Link errors and dead-peer detections.",
          [](const mesh::PeerStatus& p) { return p.errors + p.deaths; });
  perPeer("xmesh_r2r_peer_restarts_total", "counter", "New incarnations of the peer seen.",
          [](const mesh::PeerStatus& p) { return p.peerRestarts; });
  auto syncOf = [&](const mesh::PeerStatus& p) -> const PeerSyncStatus& {
    static const PeerSyncStatus none{};
    return p.index < sync.size() ? sync[p.index] : none;
  };
  perPeer("xmesh_r2r_sync_sent_users", "gauge", "Users sent in the current/last full directory sync.",
          [&](const mesh::PeerStatus& p) { return syncOf(p).sentUsers; });
  perPeer("xmesh_r2r_sync_total_users", "gauge", "Users in the current/last full directory sync to the peer.",
          [&](const mesh::PeerStatus& p) { return syncOf(p).totalUsers; });
  perPeer("xmesh_r2r_sync_received_users", "gauge", "Users received in the peer's current full sync.",
          [&](const mesh::PeerStatus& p) { return syncOf(p).receivedUsers; });
  perPeer("xmesh_r2r_sync_complete", "gauge", "1 once a full directory sync from the peer has ended.",
          [&](const mesh::PeerStatus& p) { return syncOf(p).receivedComplete ? 1 : 0; });
  auto metric = [&](const char* name, const char* type, const char* help, uint64_t v) {
    header(name, type, help);
    out += name;
    out += ' ' + std::to_string(v) + '\n';
  };
  metric("xmesh_mesh_directory_users", "gauge", "Users of the mesh whose home this node knows.", homes_.size());
  metric("xmesh_mesh_forwarded_total", "counter", "Stanzas handed to r2r links.", counters_.forwarded.load());
  metric("xmesh_mesh_fanouts_sent_total", "counter", "Presence fan-outs handed to r2r links.", counters_.fanoutsSent.load());
  metric("xmesh_mesh_forward_refused_total", "counter", "Stanzas or fan-outs a full link refused.", counters_.forwardRefused.load());
  metric("xmesh_mesh_received_total", "counter", "Stanzas received from other nodes.", counters_.received.load());
  metric("xmesh_mesh_fanouts_received_total", "counter", "Fan-outs received from other nodes.", counters_.fanoutsReceived.load());
  metric("xmesh_mesh_refused_total", "counter", "Units from peers refused (from/home checks).", counters_.refused.load());
  metric("xmesh_mesh_directory_retries_total", "counter", "Stanzas held for a recipient the directory did not know yet.", counters_.directoryRetries.load());
  metric("xmesh_mesh_failover_claims_received_total", "counter", "Serving claims (failover records) received.", counters_.claimsReceived.load());
  metric("xmesh_mesh_failed_over_nodes", "gauge", "Nodes whose users their backup serves now.", node_.failover().snapshot().size());
  if (redundancy_) redundancy_->renderMetrics(out);
  if (replicator_) {
    metric("xmesh_replica_records_sent_total", "counter", "Replication records queued to the PRG peer.", replicator_->sent());
    metric("xmesh_replica_records_dropped_total", "counter", "Replication records not sent (link down or full; a snapshot follows).", replicator_->dropped());
    metric("xmesh_replica_snapshots_total", "counter", "Full snapshots of the active sessions sent to the PRG peer.", replicator_->snapshots());
  }
  if (replicas_) {
    metric("xmesh_replica_sessions", "gauge", "Sessions of the PRG peer replicated here (live and taken over).", replicas_->sessions());
    metric("xmesh_replica_stanzas", "gauge", "Unacknowledged stanzas of those sessions held here.", replicas_->stanzas());
    metric("xmesh_replica_rerouted_total", "counter", "Replicated messages routed again after a takeover nobody activated.", replicaRerouted_.load());
  }
  metric("xmesh_mesh_units_withdrawn_total", "counter", "Routed units taken back from dead nodes' queues.", counters_.withdrawn.load());
  metric("xmesh_mesh_reroutes_sent_total", "counter", "Withdrawn stanzas sent to the node serving their recipient now.", counters_.reroutesSent.load());
  metric("xmesh_mesh_reroutes_received_total", "counter", "Withdrawn stanzas other nodes sent here.", counters_.reroutesReceived.load());
  metric("xmesh_mesh_reroutes_deduplicated_total", "counter", "Withdrawn stanzas dropped: the dead node had handled them (its marks).", counters_.reroutesDeduplicated.load());
  if (ackGate_) {
    metric("xmesh_r2r_ack_rounds_total", "counter", "Rounds of the r2r ack gate (acks after replication).", ackGate_->rounds());
    metric("xmesh_r2r_ack_rounds_voided_total", "counter", "Ack gate rounds started again because a replication snapshot began meanwhile.", ackGate_->roundsVoided());
    metric("xmesh_replica_marks_sent_total", "counter", "Handled-unit marks sent to the PRG peer.", ackGate_->marksPublished());
  }
  metric("xmesh_mesh_misrouted_total", "counter", "Stanzas for users this node's directory places elsewhere.", counters_.misrouted.load());
}

void MeshNode::renderStatus(nlohmann::json& j) const {
  auto peers = links_ ? links_->snapshot() : std::vector<mesh::PeerStatus>{};
  std::vector<PeerSyncStatus> sync;
  {
    std::lock_guard lock(snapMu_);
    sync = syncSnap_;
  }
  nlohmann::json links = nlohmann::json::array();
  for (const auto& p : peers) {
    PeerSyncStatus s = p.index < sync.size() ? sync[p.index] : PeerSyncStatus{};
    links.push_back({{"peer", p.node}, {"cluster", p.cluster}, {"state", p.state}, {"dialer", p.dialer},
                     {"unacked_units", p.unackedUnits}, {"unacked_bytes", p.unackedBytes},
                     {"units_sent", p.unitsSent}, {"units_received", p.unitsReceived},
                     {"units_resent", p.unitsResent}, {"bytes_out", p.bytesOut}, {"bytes_in", p.bytesIn},
                     {"connections", p.connections}, {"errors", p.errors + p.deaths},
                     {"last_error", p.lastError},
                     {"sync", {{"sending", s.sending}, {"sent_users", s.sentUsers}, {"total_users", s.totalUsers},
                               {"received_users", s.receivedUsers}, {"received_complete", s.receivedComplete}}}});
  }
  j["mesh"] = {{"node", topology_->node(self_).id},
               {"cluster", topology_->clusterOf(self_).id},
               {"links", links},
               {"directory_users", homes_.size()},
               {"directory_complete", syncComplete_.load()},
               {"forwarded", counters_.forwarded.load()},
               {"received", counters_.received.load()},
               {"refused", counters_.refused.load()}};
  nlohmann::json failed = nlohmann::json::array();
  auto set = node_.failover().snapshot();
  for (topology::NodeIndex n = 0; n < topology_->nodes().size(); ++n)
    if (set.contains(n)) failed.push_back(topology_->node(n).id);
  j["mesh"]["failed_over"] = failed;
  if (redundancy_) redundancy_->renderStatus(j);
  if (replicas_ && replicator_)
    j["replica"] = {{"sent", replicator_->sent()}, {"dropped", replicator_->dropped()},
                    {"snapshots", replicator_->snapshots()}, {"held_sessions", replicas_->sessions()},
                    {"held_stanzas", replicas_->stanzas()}, {"rerouted", replicaRerouted_.load()}};
}

}  // namespace xmesh::router
