#include "mesh/link_set.h"

#include <netdb.h>

#include <algorithm>
#include <cassert>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <utility>

#include "core/log.h"
#include "mesh/backoff.h"

namespace xmesh::mesh {
namespace {

constexpr size_t kReadBufferSize = 64 * 1024;
constexpr std::string_view kLog = "mesh";
constexpr int kListenBacklog = 128;

std::string randomEpoch(std::mt19937_64& rng) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, static_cast<uint64_t>(rng()));
  return buf;
}

std::string reasonText(std::string_view reason, std::string_view detail) {
  std::string text(reason);
  if (!detail.empty()) {
    text += ": ";
    text += detail;
  }
  return text;
}

std::string joinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ',';
    out += n;
  }
  return out;
}

// An IP literal at once; a DNS name through a blocking lookup (start-up only).
Status resolveBind(const topology::Endpoint& ep, sockaddr_storage* out) {
  if (uv_ip4_addr(ep.address.c_str(), ep.port, reinterpret_cast<sockaddr_in*>(out)) == 0 ||
      uv_ip6_addr(ep.address.c_str(), ep.port, reinterpret_cast<sockaddr_in6*>(out)) == 0) {
    return Status::ok();
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(ep.port);
  if (::getaddrinfo(ep.address.c_str(), service.c_str(), &hints, &res) != 0 || res == nullptr) {
    return Status::fail("r2r-listen", "cannot resolve " + ep.address);
  }
  std::memcpy(out, res->ai_addr, res->ai_addrlen);
  ::freeaddrinfo(res);
  return Status::ok();
}

}  // namespace

// Per peer node: its Link for the LinkSet's whole life, and the connection under it.
struct LinkSet::Peer {
  Peer(topology::NodeIndex i, bool weDial, const LinkSetOptions& o, uint64_t seed)
      : index(i), dialer(weDial), backoff(o.reconnectMinMs, o.reconnectMaxMs, seed) {}

  topology::NodeIndex index;
  bool dialer;
  std::unique_ptr<PeerEvents> linkEvents;
  std::unique_ptr<r2r::Link> link;
  PeerTransport* transport = nullptr;  // the current connection; freed by onTransportFreed
  bool linkOpen = false;     // link->connectionOpened() was called for `transport`
  bool established = false;  // onEstablished was reported for `transport`
  Backoff backoff;
  int64_t nextDialMs = 0;
  uint64_t dials = 0;
  uint64_t transportErrors = 0;
  uint64_t lastBytesIn = 0;  // Link bytesIn at the previous tick (idle detection)
  std::string lastError;
  int64_t establishedAtMs = 0;
};

// The Link's callbacks for one peer, forwarded to the LinkSet.
class LinkSet::PeerEvents final : public r2r::Link::Events {
 public:
  PeerEvents(LinkSet& set, Peer& peer) : set_(set), peer_(peer) {}

  // The connection was already tied to this peer (certificate or stream header); the
  // hello must agree with that identity and with the topology's cluster.
  Status checkPeer(const r2r::PeerHello& hello) override {
    const topology::Node& node = set_.topo_.node(peer_.index);
    if (hello.node != node.id) {
      return Status::fail("identity-mismatch",
                          "hello names '" + hello.node + "', connection is for '" + node.id + "'");
    }
    const std::string& cluster = set_.topo_.clusterOf(peer_.index).id;
    if (hello.cluster != cluster) {
      return Status::fail("wrong-cluster", "hello names cluster '" + hello.cluster +
                                               "', the topology says '" + cluster + "'");
    }
    return Status::ok();
  }
  void onEstablished(const r2r::PeerHello& hello) override {
    set_.onLinkEstablished(peer_, hello);
  }
  void onUnit(r2r::Unit&& unit) override { set_.events_.onUnit(peer_.index, std::move(unit)); }
  // The Link counts its own errors and deaths.
  void onLinkError(const Error& error) override {
    set_.lose(peer_, error.reason, error.detail, CloseMode::Flush, /*countError=*/false);
  }
  void onDead() override {
    set_.lose(peer_, "dead",
              "nothing received for " + std::to_string(set_.options_.deadAfterMs) + " ms",
              CloseMode::Abort, /*countError=*/false);
  }
  void onWritable() override { set_.events_.onWritable(peer_.index); }

 private:
  LinkSet& set_;
  Peer& peer_;
};

// ---- Construction and start ---------------------------------------------------------------

LinkSet::LinkSet(uv_loop_t* loop, LinkSetOptions options, Events& events)
    : loop_(loop),
      options_(std::move(options)),
      events_(events),
      topo_(*options_.topology),
      rng_(std::random_device{}()) {
  epoch_ = options_.epoch.empty() ? randomEpoch(rng_) : options_.epoch;
  const topology::NodeIndex self = options_.self;
  peers_.resize(topo_.nodes().size());
  acceptable_.assign(topo_.nodes().size(), false);
  for (topology::NodeIndex n : topo_.acceptsFrom(self)) acceptable_[n] = true;
  for (topology::NodeIndex n : topo_.peersOf(self)) {
    auto p = std::make_unique<Peer>(n, topo_.dials(self, n), options_, rng_());
    r2r::LinkConfig config;
    config.selfNode = topo_.node(self).id;
    config.selfCluster = topo_.clusterOf(self).id;
    config.peerNode = topo_.node(n).id;
    config.epoch = epoch_;
    config.heartbeatIntervalMs = options_.heartbeatIntervalMs;
    config.deadAfterMs = options_.deadAfterMs;
    config.maxUnackedBytes = options_.maxUnackedBytes;
    config.controlKinds = options_.controlKinds;
    config.volatileKinds = options_.volatileKinds;
    config.gatedAcks = options_.gatedAcks;
    p->linkEvents = std::make_unique<PeerEvents>(*this, *p);
    p->link = std::make_unique<r2r::Link>(std::move(config), *p->linkEvents);
    peers_[n] = std::move(p);
  }
  refreshSnapshot();
}

LinkSet::~LinkSet() {
  // Belief: handles and transports point back at us until their close callbacks ran.
  assert(closed_ || !started_);
}

Status LinkSet::start() {
  if (started_ || closing_) return Status::fail("r2r-start", "start() called twice");
  started_ = true;
  readBuf_ = std::make_unique<char[]>(kReadBufferSize);
  if (topo_.security().secure) {
    if (Status st = buildTlsContexts(); !st) return st;
  }
  uv_timer_init(loop_, &tick_);
  trackHandle(reinterpret_cast<uv_handle_t*>(&tick_));
  uv_prepare_init(loop_, &prepare_);
  trackHandle(reinterpret_cast<uv_handle_t*>(&prepare_));
  uv_check_init(loop_, &check_);
  trackHandle(reinterpret_cast<uv_handle_t*>(&check_));
  if (Status st = listen(); !st) return st;
  const auto period = static_cast<uint64_t>(std::max<int64_t>(1, options_.tickMs));
  uv_timer_start(&tick_, onTick, period, period);
  uv_prepare_start(&prepare_, onFlushHandle);
  uv_check_start(&check_, onCheck);
  for (auto& p : peers_) {
    if (p && p->dialer) dial(*p);
  }
  log::info(kLog, "started",
            {{"node", topo_.node(options_.self).id},
             {"epoch", epoch_},
             {"security", topo_.security().secure ? "tls" : "plain"}});
  refreshSnapshot();
  return Status::ok();
}

Status LinkSet::buildTlsContexts() {
  const topology::Security& sec = topo_.security();
  const std::string& id = topo_.node(options_.self).id;
  tls::ServerOptions so;
  so.certChainFile = sec.certFileFor(id);
  so.keyFile = sec.keyFileFor(id);
  so.caFile = sec.caFile;
  so.requireClientCert = true;
  so.minVersion = so.maxVersion = tls::TlsVersion::Tls13;
  so.alpn = {std::string(kR2rAlpn)};
  auto server = tls::TlsContext::server(so);
  if (!server) return Status::fail(server.error().reason, server.error().detail);
  tls::ClientOptions co;
  co.caFile = sec.caFile;
  co.certChainFile = so.certChainFile;
  co.keyFile = so.keyFile;
  co.minVersion = co.maxVersion = tls::TlsVersion::Tls13;
  co.alpn = so.alpn;
  auto client = tls::TlsContext::client(co);
  if (!client) return Status::fail(client.error().reason, client.error().detail);
  serverTls_ = std::move(server.value());
  clientTls_ = std::move(client.value());
  return Status::ok();
}

// libuv sets SO_REUSEADDR on every TCP bind, so a restarted node gets its port back
// while old connections sit in TIME_WAIT.
Status LinkSet::listen() {
  const topology::Endpoint ep = options_.listenOverride.value_or(topo_.node(options_.self).r2r);
  sockaddr_storage addr{};
  if (Status st = resolveBind(ep, &addr); !st) return st;
  uv_tcp_init(loop_, &listener_);
  trackHandle(reinterpret_cast<uv_handle_t*>(&listener_));
  const std::string where = ep.address + ":" + std::to_string(ep.port);
  if (int r = uv_tcp_bind(&listener_, reinterpret_cast<sockaddr*>(&addr), 0); r != 0) {
    return Status::fail("r2r-listen", where + ": " + uv_strerror(r));
  }
  if (int r = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), kListenBacklog, onConnection);
      r != 0) {
    return Status::fail("r2r-listen", where + ": " + uv_strerror(r));
  }
  return Status::ok();
}

void LinkSet::trackHandle(uv_handle_t* handle) {
  handle->data = this;
  handles_.push_back(handle);
  ++openHandles_;
}

// ---- Public operations ------------------------------------------------------------------

r2r::Link* LinkSet::link(topology::NodeIndex peer) {
  return peer < peers_.size() && peers_[peer] ? peers_[peer]->link.get() : nullptr;
}

void LinkSet::flush() {
  for (auto& p : peers_) {
    if (p) flushPeer(*p);
  }
}

void LinkSet::dropConnection(topology::NodeIndex peer) {
  if (peer >= peers_.size() || !peers_[peer] || !peers_[peer]->transport) return;
  lose(*peers_[peer], "dropped", "connection dropped on request", CloseMode::Reset,
       /*countError=*/false);
}

void LinkSet::close(std::function<void()> onClosed) {
  if (closing_) {
    if (onClosed && closed_) onClosed();
    else if (onClosed) onClosed_ = std::move(onClosed);
    return;
  }
  closing_ = true;
  onClosed_ = std::move(onClosed);
  for (auto& p : peers_) {
    if (!p) continue;
    if (PeerTransport* t = std::exchange(p->transport, nullptr)) t->abort();
    if (p->linkOpen) {
      p->linkOpen = false;
      p->link->connectionClosed();
    }
    p->established = false;
    p->establishedAtMs = 0;
  }
  peeks_.clear();
  std::vector<PeerTransport*> all(transports_.begin(), transports_.end());
  for (PeerTransport* t : all) t->abort();
  for (uv_handle_t* h : handles_) {
    if (!uv_is_closing(h)) uv_close(h, onHandleClosed);
  }
  refreshSnapshot();
  log::info(kLog, "closed", {{"node", topo_.node(options_.self).id}});
  maybeFinishClose();  // last: the callback may destroy us
}

void LinkSet::onHandleClosed(uv_handle_t* handle) {
  auto* self = static_cast<LinkSet*>(handle->data);
  --self->openHandles_;
  self->maybeFinishClose();
}

void LinkSet::maybeFinishClose() {
  if (!closing_ || closed_ || openHandles_ > 0 || !transports_.empty()) return;
  closed_ = true;
  if (auto done = std::move(onClosed_)) done();  // may destroy us: nothing after this
}

// ---- Loop hooks ---------------------------------------------------------------------------

void LinkSet::onTick(uv_timer_t* timer) { static_cast<LinkSet*>(timer->data)->tick(); }
void LinkSet::onFlushHandle(uv_prepare_t* prepare) {
  static_cast<LinkSet*>(prepare->data)->flush();
}
void LinkSet::onCheck(uv_check_t* check) { static_cast<LinkSet*>(check->data)->flush(); }

uv_buf_t LinkSet::readBuffer() { return uv_buf_init(readBuf_.get(), kReadBufferSize); }

void LinkSet::tick() {
  if (closing_) return;
  const int64_t now = nowMs();
  for (auto& pp : peers_) {
    if (!pp) continue;
    Peer& p = *pp;
    p.link->onTick(now);  // heartbeats, acks; onDead() → lose()
    if (p.transport && !p.established &&
        now - p.transport->startedMs() >= options_.handshakeTimeoutMs) {
      lose(p, "handshake-timeout",
           "no hello within " + std::to_string(options_.handshakeTimeoutMs) + " ms (" +
               std::string(PeerTransport::stateName(p.transport->state())) + ")",
           CloseMode::Abort, /*countError=*/true);
    }
    if (p.dialer && !p.transport && now >= p.nextDialMs) dial(p);
    const uint64_t bytesIn = p.link->stats().bytesIn;
    if (p.linkOpen && bytesIn == p.lastBytesIn) p.link->releaseIdle();
    p.lastBytesIn = bytesIn;
  }
  sweepTransports(now);
  refreshSnapshot();
}

// Connections not tied to a peer: unidentified accepted ones past the handshake timeout,
// and closing ones whose last flush does not drain (a peer that stopped reading).
void LinkSet::sweepTransports(int64_t now) {
  std::vector<PeerTransport*> stuck, unidentified;
  for (PeerTransport* t : transports_) {
    if (t->state() == PeerTransport::State::Closing &&
        now - t->closingSinceMs() >= options_.handshakeTimeoutMs) {
      stuck.push_back(t);
    } else if (t->peer() == PeerTransport::kNoPeer && !t->closing() &&
               now - t->startedMs() >= options_.handshakeTimeoutMs) {
      unidentified.push_back(t);
    }
  }
  for (PeerTransport* t : stuck) t->abort();
  for (PeerTransport* t : unidentified) {
    refuse(*t, "handshake-timeout", "peer not identified within " +
                                        std::to_string(options_.handshakeTimeoutMs) + " ms");
  }
}

// ---- Dialing ------------------------------------------------------------------------------

void LinkSet::dial(Peer& p) {
  const topology::Node& node = topo_.node(p.index);
  topology::Endpoint target{node.reachable(node.r2r), node.r2r.port};
  if (auto it = options_.dialOverrides.find(p.index); it != options_.dialOverrides.end()) {
    target = it->second;
  }
  ++p.dials;
  auto* t = new PeerTransport(loop_, *this);
  transports_.insert(t);
  t->setPeer(p.index);
  p.transport = t;
  Status st = t->dial(target.address, target.port, clientTls_.get(), node.id);
  if (!st) {
    p.transport = nullptr;
    t->abort();
    ++p.transportErrors;
    p.lastError = reasonText(st.error().reason, st.error().detail);
    log::warn(kLog, "dial-failed", {{"peer", node.id}, {"detail", p.lastError}});
    scheduleDial(p);
  }
}

void LinkSet::scheduleDial(Peer& p) { p.nextDialMs = nowMs() + p.backoff.next(); }

// ---- Accepting ----------------------------------------------------------------------------

void LinkSet::onConnection(uv_stream_t* server, int status) {
  auto* self = static_cast<LinkSet*>(server->data);
  if (status < 0) {
    log::warn(kLog, "accept-failed", {{"detail", uv_strerror(status)}});
    return;
  }
  self->acceptOne();
}

void LinkSet::acceptOne() {
  auto* t = new PeerTransport(loop_, *this);
  transports_.insert(t);
  ++listenerStatus_.accepted;
  if (Status st = t->accept(reinterpret_cast<uv_stream_t*>(&listener_), serverTls_.get()); !st) {
    ++listenerStatus_.refused;
    listenerStatus_.lastError = reasonText(st.error().reason, st.error().detail);
    t->abort();
    return;
  }
  if (!serverTls_) peeks_.emplace(t, StreamPeek(options_.maxPeekBytes));
}

// Secure mode: the verified client certificate names the peer.
void LinkSet::identifyTls(PeerTransport& t) {
  const tls::TlsSession& session = *t.tls();
  if (session.alpn() != kR2rAlpn) {
    return refuse(t, "alpn-mismatch", "the client did not offer " + std::string(kR2rAlpn));
  }
  const std::vector<std::string> names = session.peerNames();
  if (names.empty()) return refuse(t, "unknown-peer", "no verified client certificate");
  std::optional<topology::NodeIndex> match;
  for (const std::string& name : names) {
    auto index = topo_.nodeIndex(name);
    if (!index || !acceptable_[*index]) continue;
    if (match && *match != *index) {
      return refuse(t, "identity-mismatch", "certificate names several nodes: " + joinNames(names));
    }
    match = index;
  }
  if (!match) return refuse(t, "unknown-peer", "certificate names " + joinNames(names));
  attach(t, *match, {});
}

// Plain mode: the stream header's `from` names the peer (trusted, see StreamPeek).
void LinkSet::identifyPlain(PeerTransport& t, std::string_view bytes) {
  auto it = peeks_.find(&t);
  if (it == peeks_.end()) return;
  StreamPeek& peek = it->second;
  const StreamPeek::State state = peek.feed(bytes);
  if (state == StreamPeek::State::NeedMore) return;
  if (state == StreamPeek::State::Invalid) return refuse(t, "bad-stream-header", peek.error());
  const std::string buffered = std::move(peek.buffered());
  const std::string from = peek.from();
  peeks_.erase(it);
  auto index = topo_.nodeIndex(from);
  if (!index || !acceptable_[*index]) {
    return refuse(t, "unknown-peer", "stream from '" + log::sanitize(from, 64) + "'");
  }
  attach(t, *index, buffered);
}

// The accepted connection `t` belongs to `peer`: it replaces any connection the peer had.
void LinkSet::attach(PeerTransport& t, topology::NodeIndex peer, std::string_view buffered) {
  Peer& p = *peers_[peer];
  if (p.transport) {
    lose(p, "replaced", "a new connection from the peer replaced this one", CloseMode::Abort,
         /*countError=*/false);
  }
  t.setPeer(peer);
  p.transport = &t;
  log::debug(kLog, "accepted", {{"peer", topo_.node(peer).id}, {"remote", t.remote()}});
  openLink(p);
  if (!buffered.empty() && p.transport == &t) p.link->feed(buffered, nowMs());
}

void LinkSet::refuse(PeerTransport& t, std::string_view reason, std::string_view detail) {
  ++listenerStatus_.refused;
  listenerStatus_.lastError = reasonText(reason, detail);
  log::warn(kLog, "refused", {{"remote", t.remote()}, {"reason", std::string(reason)},
                              {"detail", std::string(detail)}});
  peeks_.erase(&t);
  t.closeAfterFlush();
}

// ---- Transport callbacks ------------------------------------------------------------------

LinkSet::Peer* LinkSet::peerFor(const PeerTransport& t) {
  const uint32_t index = t.peer();
  if (index >= peers_.size() || !peers_[index] || peers_[index]->transport != &t) return nullptr;
  return peers_[index].get();
}

void LinkSet::onTransportOpen(PeerTransport& t) {
  if (Peer* p = peerFor(t)) {  // we dialed it
    if (clientTls_ && t.tls()->alpn() != kR2rAlpn) {
      return lose(*p, "alpn-mismatch", "the server did not select " + std::string(kR2rAlpn),
                  CloseMode::Abort, /*countError=*/true);
    }
    return openLink(*p);
  }
  if (t.peer() == PeerTransport::kNoPeer && serverTls_) identifyTls(t);
}

void LinkSet::onTransportData(PeerTransport& t, std::string_view plaintext) {
  if (Peer* p = peerFor(t)) {
    if (p->linkOpen) p->link->feed(plaintext, nowMs());
    return;
  }
  if (t.peer() == PeerTransport::kNoPeer && !serverTls_) identifyPlain(t, plaintext);
}

void LinkSet::onTransportDown(PeerTransport& t, std::string_view reason, std::string_view detail) {
  if (Peer* p = peerFor(t)) {
    return lose(*p, reason, detail, CloseMode::AlreadyDown, /*countError=*/true);
  }
  if (t.peer() != PeerTransport::kNoPeer) return;  // a connection we had let go
  // Accepted and never identified: a failed handshake (bad certificate, TLS 1.2, ...).
  peeks_.erase(&t);
  ++listenerStatus_.refused;
  listenerStatus_.lastError = reasonText(reason, detail);
  log::warn(kLog, "refused", {{"remote", t.remote()}, {"reason", std::string(reason)},
                              {"detail", std::string(detail)}});
}

void LinkSet::onTransportFreed(PeerTransport& t) {
  transports_.erase(&t);
  peeks_.erase(&t);
  delete &t;
  if (closing_) maybeFinishClose();  // may destroy us: nothing after this
}

// ---- Link lifecycle -----------------------------------------------------------------------

void LinkSet::openLink(Peer& p) {
  p.linkOpen = true;
  p.lastBytesIn = p.link->stats().bytesIn;
  p.link->connectionOpened(nowMs());  // our stream header and hello
  flushPeer(p);
}

void LinkSet::onLinkEstablished(Peer& p, const r2r::PeerHello& hello) {
  p.established = true;
  p.establishedAtMs = nowMs();
  p.backoff.reset();
  const tls::TlsSession* session = p.transport ? p.transport->tls() : nullptr;
  log::info(kLog, "link-up",
            {{"peer", hello.node},
             {"cluster", hello.cluster},
             {"epoch", hello.epoch},
             {"restarted", hello.peerRestarted ? "yes" : "no"},
             {"resent", std::to_string(p.link->unackedCount())},
             {"tls", session ? std::string(session->version()) : "off"},
             {"resumed", session && session->resumed() ? "yes" : "no"}});
  refreshSnapshot();
  events_.onEstablished(p.index, hello);
}

// Ends the peer's current connection: flushes (a stream error) or drops it, closes the
// Link's side, schedules the redial, and reports onDown if it had been established.
void LinkSet::lose(Peer& p, std::string_view reason, std::string_view detail, CloseMode mode,
                   bool countError) {
  PeerTransport* t = std::exchange(p.transport, nullptr);
  const bool wasEstablished = std::exchange(p.established, false);
  p.establishedAtMs = 0;
  if (t != nullptr) {
    switch (mode) {
      case CloseMode::Flush:
        if (p.linkOpen && !p.link->output().empty()) t->send(std::move(p.link->output()));
        t->closeAfterFlush();
        break;
      case CloseMode::Abort: t->abort(); break;
      case CloseMode::Reset: t->abort(/*reset=*/true); break;
      case CloseMode::AlreadyDown: break;
    }
  }
  if (p.linkOpen) {
    p.linkOpen = false;
    p.link->connectionClosed();
  }
  if (countError) ++p.transportErrors;
  p.lastError = reasonText(reason, detail);
  if (p.dialer && !closing_) scheduleDial(p);
  const topology::Node& node = topo_.node(p.index);
  if (wasEstablished) {
    log::info(kLog, "link-down", {{"peer", node.id}, {"reason", std::string(reason)},
                                  {"detail", std::string(detail)}});
  } else if (reason == "connect-failed" || reason == "resolve-failed") {
    log::debug(kLog, "connect-failed", {{"peer", node.id}, {"detail", std::string(detail)}});
  } else {
    log::warn(kLog, "link-failed", {{"peer", node.id}, {"reason", std::string(reason)},
                                    {"detail", std::string(detail)}});
  }
  refreshSnapshot();
  if (wasEstablished) events_.onDown(p.index, reason);
}

// Moves the Link's pending output to its connection, unless the socket already holds
// more than the high watermark (then it waits in the Link until the socket drains).
void LinkSet::flushPeer(Peer& p) {
  PeerTransport* t = p.transport;
  if (t == nullptr || !p.linkOpen || !t->open()) return;
  std::string& out = p.link->output();
  if (out.empty() || t->queuedBytes() >= options_.socketHighWatermark) return;
  t->send(std::move(out));
  out.clear();
}

// ---- Status -------------------------------------------------------------------------------

PeerStatus LinkSet::statusOf(const Peer& p) const {
  PeerStatus s;
  s.node = topo_.node(p.index).id;
  s.cluster = topo_.clusterOf(p.index).id;
  s.index = p.index;
  s.dialer = p.dialer;
  if (p.transport != nullptr) {
    switch (p.transport->state()) {
      case PeerTransport::State::Idle:
      case PeerTransport::State::Resolving:
      case PeerTransport::State::Connecting: s.state = "connecting"; break;
      case PeerTransport::State::Handshaking: s.state = "tls"; break;
      default: s.state = r2r::linkStateName(p.link->state()); break;
    }
  } else if (p.dialer) {
    s.state = started_ && !closing_ ? "backoff" : "idle";
  } else {
    s.state = r2r::linkStateName(r2r::LinkState::Disconnected);
  }
  const r2r::LinkStats& st = p.link->stats();
  s.unackedUnits = p.link->unackedCount();
  s.unackedBytes = p.link->unackedBytes();
  s.unitsSent = st.unitsSent;
  s.unitsReceived = st.unitsReceived;
  s.unitsResent = st.unitsResent;
  s.duplicatesDropped = st.duplicatesDropped;
  s.unitsWithdrawn = st.unitsWithdrawn;
  s.voidsReceived = st.voidsReceived;
  s.bytesIn = st.bytesIn;
  s.bytesOut = st.bytesOut;
  s.connections = st.connections;
  s.establishments = st.establishments;
  s.peerRestarts = st.peerRestarts;
  s.errors = st.errors + p.transportErrors;
  s.deaths = st.deaths;
  s.reconnectAttempts = p.dials > 0 ? p.dials - 1 : 0;
  s.lastError = p.lastError;
  s.establishedAtMs = p.establishedAtMs;
  return s;
}

void LinkSet::refreshSnapshot() {
  std::vector<PeerStatus> fresh;
  fresh.reserve(peers_.size());
  for (const auto& p : peers_) {
    if (p) fresh.push_back(statusOf(*p));
  }
  std::lock_guard lock(snapshotMutex_);
  snapshot_.swap(fresh);
  listenerSnapshot_ = listenerStatus_;
}

std::vector<PeerStatus> LinkSet::snapshot() const {
  std::lock_guard lock(snapshotMutex_);
  return snapshot_;
}

ListenerStatus LinkSet::listenerStatus() const {
  std::lock_guard lock(snapshotMutex_);
  return listenerSnapshot_;
}

}  // namespace xmesh::mesh
