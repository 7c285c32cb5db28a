#include "router/loop.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include "core/log.h"
#include "router/connection.h"
#include "router/mesh_node.h"
#include "router/node.h"

namespace xmesh::router {

namespace {
constexpr size_t kQueueCapacity = 8192;  // per (source, destination) pair
}

Loop::Loop(Node& node, uint32_t index, uint32_t loopCount) : node_(node), index_(index) {
  uv_loop_init(&loop_);
  loop_.data = this;
  uv_async_init(&loop_, &wake_, onWake);
  wake_.data = this;
  uv_check_init(&loop_, &check_);
  check_.data = this;
  uv_check_start(&check_, onCheck);
  uv_timer_init(&loop_, &sweepTimer_);
  sweepTimer_.data = this;
  readBuf_.reset(new char[kReadBufSize]);
  const uint32_t n = loopCount;
  for (uint32_t i = 0; i < n; ++i) inbox_.push_back(std::make_unique<SpscQueue<Envelope>>(kQueueCapacity));
  overflow_.resize(n);
  wakePending_.assign(n, false);
}

Loop::~Loop() {
  owned_.clear();
  uv_loop_close(&loop_);
}

const tls::TlsContext& Loop::tlsContext() const { return node_.tlsContext(); }
const NodeConfig& Loop::config() const { return node_.config(); }
StanzaRouter& Loop::router() { return node_.router(); }
session::AuthThrottle& Loop::authThrottle() { return node_.authThrottle(); }
session::SessionEnv& Loop::envOf(uint32_t loop) { return node_.loop(loop); }
uint32_t Loop::loopCount() const { return node_.loopCount(); }
std::string Loop::seeOtherHost(std::string_view homeNode) const { return node_.seeOtherHost(homeNode); }
// Node::mayHoldInactive(own id) holds exactly when the node has a topology.
bool Loop::dualEnabled() const { return node_.mayHoldInactive(node_.config().nodeId); }
bool Loop::mayHoldInactive(std::string_view homeNode) const { return node_.mayHoldInactive(homeNode); }
bool Loop::servesHome(std::string_view homeNode) const { return node_.servesHome(homeNode); }
int64_t Loop::activationHoldMs(std::string_view homeNode) const { return node_.activationHoldMs(homeNode); }

std::optional<session::dual::Backup> Loop::dualBackupFor(std::string_view homeNode) const {
  auto peer = node_.dualPeerFor(homeNode);
  if (!peer) return std::nullopt;
  // The wire carries the re-login window in seconds (docs/dual-connections.md §2).
  return session::dual::Backup{peer->nodeId, peer->host, peer->c2sPort, peer->reloginMinMs / 1000,
                               peer->reloginMaxMs / 1000};
}

void Loop::onServingChanged(const std::string& homeNode, bool servedHere) {
  // Ids first: a session may finish (and a detached one be released) while we walk.
  std::vector<uint64_t> ids;
  ids.reserve(registry_.size());
  for (const auto& [id, s] : registry_)
    if (s->homeNode() == homeNode) ids.push_back(id);
  for (uint64_t id : ids)
    if (session::C2sSession* s = findSession(id)) s->onServingChanged(servedHere);
}

void Loop::publishReplicaSnapshot() {
  for (const auto& [id, s] : registry_) s->publishReplicaSnapshot();
}

bool Loop::whenReplicated(std::function<void()> done) {
  MeshNode* mesh = node_.mesh();
  if (!mesh || !mesh->replicating()) return false;
  barrierWaiting_.push_back(std::move(done));
  if (!barrierInFlight_) startBarrier();
  return true;
}

void Loop::startBarrier() {
  MeshNode* mesh = node_.mesh();
  barrierInFlight_ = true;
  auto b = std::make_shared<Barriers::Barrier>();
  b->origin = index_;
  b->tokensLeft = loopCount();
  b->done = [this, waiting = std::move(barrierWaiting_)] {
    barrierInFlight_ = false;
    for (const auto& fn : waiting) fn();
    if (!barrierWaiting_.empty()) startBarrier();
  };
  barrierWaiting_.clear();
  // Behind whatever this loop handed to each loop, then behind what that loop handed to
  // the mesh loop.
  const uint32_t meshLoop = mesh->meshLoop();
  for (uint32_t j = 0; j < loopCount(); ++j) {
    Loop* via = &node_.loop(j);
    runOn(j, [via, mesh, meshLoop, b] { via->runOn(meshLoop, [mesh, b] { mesh->barrierToken(b); }); });
  }
}

ReplicaSink* Loop::replicaSink() {
  MeshNode* mesh = node_.mesh();
  return mesh ? mesh->replicator() : nullptr;
}

int64_t Loop::nowMs() const { return static_cast<int64_t>(uv_now(const_cast<uv_loop_t*>(&loop_))); }

Status Loop::listenOn(uv_tcp_t* handle, const std::string& address, int port, bool directTls) {
  sockaddr_storage addr{};
  if (uv_ip4_addr(address.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(address.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0)
    return Status::fail("listen", "bad address " + address);
  // SO_REUSEPORT on a socket of our own: every loop binds the same port and the kernel
  // shards incoming connections across them, with no accept hand-off.
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::fail("listen", "socket failed");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  socklen_t len = addr.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    close(fd);
    return Status::fail("listen", "cannot bind " + address + ":" + std::to_string(port));
  }
  uv_tcp_init(&loop_, handle);
  handle->data = this;
  uv_tcp_open(handle, fd);
  int r = uv_listen(reinterpret_cast<uv_stream_t*>(handle), 4096, onConnection);
  if (r != 0) return Status::fail("listen", uv_strerror(r));
  // Tag the handle so onConnection knows which kind of listener fired.
  handle->data = directTls ? static_cast<void*>(&tlsListener_) : static_cast<void*>(this);
  return Status::ok();
}

Status Loop::listen() {
  const auto& l = node_.config().listen;
  Status s = listenOn(&c2sListener_, l.c2sAddress, l.c2sPort, false);
  if (!s) return s;
  c2sListening_ = true;
  if (l.directTlsPort > 0) {
    s = listenOn(&tlsListener_, l.c2sAddress, l.directTlsPort, true);
    if (!s) return s;
    tlsListening_ = true;
  }
  return Status::ok();
}

void Loop::start() {
  uv_timer_start(&sweepTimer_, onSweep, 1000, 1000);
  thread_ = std::thread([this] {
    uv_run(&loop_, UV_RUN_DEFAULT);
  });
}

void Loop::stopAsync() {
  post([this] {
    stopping_ = true;
    // Clients learn why (RFC 6120 4.9.3.22) and reconnect elsewhere at once, instead of
    // waiting for a TCP reset or a timeout.
    for (uint64_t id : std::vector<uint64_t>(attached_.begin(), attached_.end()))
      if (auto it = registry_.find(id); it != registry_.end() && !it->second->finished())
        it->second->failStream("system-shutdown");
    for (Connection* c : connections_) c->closeAfterFlush();
    auto closeIf = [](uv_handle_t* h) {
      if (!uv_is_closing(h)) uv_close(h, nullptr);
    };
    if (c2sListening_) closeIf(reinterpret_cast<uv_handle_t*>(&c2sListener_));
    if (tlsListening_) closeIf(reinterpret_cast<uv_handle_t*>(&tlsListener_));
    uv_timer_stop(&sweepTimer_);
    closeIf(reinterpret_cast<uv_handle_t*>(&sweepTimer_));
    // Give pending writes one loop turn, then close the rest.
    uv_stop(&loop_);
  });
}

void Loop::joinThread() {
  if (thread_.joinable()) thread_.join();
}

void Loop::markClosed() { closed_.store(true, std::memory_order_release); }

// Runs on the main thread once every loop thread has exited and every loop is marked
// closed, so nothing wakes a handle that is being closed here.
void Loop::teardown() {
  // Envelopes already queued to us still reach their sessions (SM-detached sessions keep
  // them and send them to offline storage when released below).
  drainInboxes();
  for (Connection* c : std::vector<Connection*>(connections_.begin(), connections_.end()))
    c->abort(ErrorReason::ConnectionTimeout);
  auto closeIf = [](uv_handle_t* h) {
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  };
  closeIf(reinterpret_cast<uv_handle_t*>(&wake_));
  closeIf(reinterpret_cast<uv_handle_t*>(&check_));
  closeIf(reinterpret_cast<uv_handle_t*>(&sweepTimer_));
  if (c2sListening_) closeIf(reinterpret_cast<uv_handle_t*>(&c2sListener_));
  if (tlsListening_) closeIf(reinterpret_cast<uv_handle_t*>(&tlsListener_));
  uv_run(&loop_, UV_RUN_DEFAULT);
  for (auto& [id, s] : owned_) s->onDisconnect();
  owned_.clear();
}

void Loop::onConnection(uv_stream_t* server, int status) {
  auto* tag = server->data;
  Loop* self = static_cast<Loop*>(server->loop->data);
  bool directTls = tag == static_cast<void*>(&self->tlsListener_);
  if (status < 0 || self->stopping_) return;
  auto* conn = new Connection(*self, directTls);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(conn->handle())) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(conn->handle()),
             [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
    return;
  }
  self->connections_.insert(conn);
  LoopStats::add(self->stats_.connectionsAccepted);
  LoopStats::add(self->stats_.connections);
  if (!conn->start()) {
    conn->abort(ErrorReason::InternalError);
    return;
  }
  conn->setAdmitted();  // counted from here on, whether or not within the limit
  if (!self->node_.admitAddress(conn->peerAddress())) {
    // Over the per-address limit: the RFC 6120 answer is a stream error (the session
    // writes a header first), then close.
    self->stats_.error(ErrorReason::TooManyConnections);
    conn->rejectWithStreamError("policy-violation", "too many connections from your address");
  }
}

session::C2sSession* Loop::createSession(Connection* conn, bool directTls) {
  auto s = std::make_unique<session::C2sSession>(*this, conn, directTls);
  session::C2sSession* raw = s.get();
  attached_.insert(raw->ref().id);
  owned_.emplace(raw->ref().id, std::move(s));
  return raw;
}

void Loop::connectionDetached(session::C2sSession* s) {
  uint64_t id = s->ref().id;
  attached_.erase(id);
  if (s->finished()) owned_.erase(id);
}

void Loop::connectionClosed(Connection* c) {
  connections_.erase(c);
  std::erase(dirty_, c);
  LoopStats::sub(stats_.connections);
  LoopStats::add(stats_.connectionsClosed);
  if (c->admitted()) node_.releaseAddress(c->peerAddress());
  delete c;
}

SessionRef Loop::registerSession(session::C2sSession* s) {
  SessionRef ref{index_, nextSessionId_++};
  registry_.emplace(ref.id, s);
  return ref;
}

void Loop::unregisterSession(const SessionRef& ref) { registry_.erase(ref.id); }

session::C2sSession* Loop::findSession(uint64_t id) {
  auto it = registry_.find(id);
  return it == registry_.end() ? nullptr : it->second;
}

bool Loop::submitStore(std::function<void(store::Store&)> job, std::string_view orderKey) {
  if (orderKey.empty()) return node_.store().submit(std::move(job));
  return node_.store().submit(orderKey, std::move(job));
}

void Loop::post(std::function<void()> fn) {
  if (closed_.load(std::memory_order_acquire)) return;  // shutdown: completions are dropped
  {
    std::lock_guard lock(postMu_);
    posted_.push_back(std::move(fn));
  }
  uv_async_send(&wake_);
}

void Loop::deliver(const SessionRef& to, SharedBytes bytes, StanzaClass cls,
                   std::shared_ptr<const RoutedStanza> fallback) {
  if (to.loop == index_) return deliverLocal(to, bytes, cls, fallback);
  Envelope e;
  e.to = to;
  e.bytes = std::move(bytes);
  e.cls = cls;
  e.fallback = std::move(fallback);
  enqueueRemote(to.loop, std::move(e));
}

void Loop::offlineArrived(const SessionRef& ref) {
  runOn(ref.loop, [this, ref] {
    auto& there = static_cast<Loop&>(envOf(ref.loop));
    if (session::C2sSession* s = there.findSession(ref.id)) s->flushOffline();
  });
}

void Loop::runOn(uint32_t loop, std::function<void()> task) {
  Envelope e;
  e.task = std::move(task);
  if (loop == index_) {
    // Still asynchronous, so callers never re-enter themselves.
    post(std::move(e.task));
    return;
  }
  enqueueRemote(loop, std::move(e));
}

void Loop::enqueueRemote(uint32_t dest, Envelope&& e) {
  LoopStats::add(stats_.crossLoopSent);
  // FIFO per destination: once something overflowed, later items queue behind it.
  if (!overflow_[dest].empty() || !node_.loop(dest).inboxFrom(index_).tryPush(e)) {
    LoopStats::add(stats_.crossLoopOverflow);
    overflow_[dest].push_back(std::move(e));
  }
  wakePending_[dest] = true;
}

void Loop::flushOverflow() {
  for (uint32_t d = 0; d < overflow_.size(); ++d) {
    auto& q = overflow_[d];
    auto& inbox = node_.loop(d).inboxFrom(index_);
    while (!q.empty() && inbox.tryPush(q.front())) q.pop_front();
    if (!q.empty()) wakePending_[d] = true;
  }
  // One wake-up per destination per iteration, however many items were queued.
  for (uint32_t d = 0; d < wakePending_.size(); ++d) {
    if (!wakePending_[d]) continue;
    wakePending_[d] = false;
    node_.loop(d).wake();
  }
}

void Loop::deliverLocal(const SessionRef& to, const SharedBytes& bytes, StanzaClass cls,
                        const std::shared_ptr<const RoutedStanza>& fallback) {
  session::C2sSession* s = findSession(to.id);
  // Not routable any more (gone, or demoted to inactive while the stanza was in flight):
  // handled as for a session that left.
  if (s && s->routable()) {
    s->deliver(bytes, cls);
    return;
  }
  if (!fallback) return;
  if (fallback->kind == StanzaKind::Iq) {
    router().bounceServiceUnavailable(*this, *fallback);
    return;
  }
  // The session left while the stanza was in flight: route it again to the bare JID
  // (another resource, or offline storage).
  auto again = std::make_shared<RoutedStanza>(*fallback);
  again->to = again->to.bare();
  if (++again->reroutes > 1) {
    // Missed twice (e.g. a directory entry mid-resumption): never loop, store it.
    if (again->kind == StanzaKind::Message) router().storeOffline(*this, std::move(again));
    return;
  }
  router().route(*this, std::move(again));
}

void Loop::drainInboxes() {
  for (auto& q : inbox_) {
    q->drain([this](Envelope&& e) { handleEnvelope(std::move(e)); });
  }
  std::vector<std::function<void()>> posted;
  {
    std::lock_guard lock(postMu_);
    posted.swap(posted_);
  }
  for (auto& fn : posted) fn();
}

void Loop::handleEnvelope(Envelope&& e) {
  if (e.task) {
    e.task();
    return;
  }
  deliverLocal(e.to, e.bytes, e.cls, e.fallback);
}

void Loop::onWake(uv_async_t* a) { static_cast<Loop*>(a->data)->drainInboxes(); }

void Loop::onCheck(uv_check_t* c) {
  Loop* self = static_cast<Loop*>(c->data);
  self->flushDirty();
  // Acks from peers arrived in this iteration's reads: complete the barriers they end.
  if (MeshNode* mesh = self->node_.mesh(); mesh && mesh->meshLoop() == self->index_) mesh->checkBarriers();
}

void Loop::flushDirty() {
  // Flush every connection that produced output this iteration: one write each.
  std::vector<Connection*> dirty;
  dirty.swap(dirty_);
  for (Connection* conn : dirty)
    if (connections_.count(conn)) conn->flush();
  flushOverflow();
}

void Loop::onSweep(uv_timer_t* t) { static_cast<Loop*>(t->data)->sweep(); }

void Loop::sweep() {
  int64_t now = nowMs();
  for (Connection* c : std::vector<Connection*>(connections_.begin(), connections_.end())) c->sweep(now);
  std::vector<uint64_t> done;
  uint64_t queued = 0;
  for (auto& [id, s] : owned_) {
    if (s->sweep(now) && !attached_.count(id)) done.push_back(id);
  }
  for (Connection* c : connections_) queued += c->queuedBytes();
  stats_.outputQueuedBytes.store(queued, std::memory_order_relaxed);
  for (uint64_t id : done) owned_.erase(id);
  router().retryOfflineWrites(*this);
  // Output made by the sweep (timeouts, <r/>, releases) goes now, not after the next poll.
  flushDirty();
}

}  // namespace xmesh::router
