#include "mesh/peer_transport.h"

#include <arpa/inet.h>

#include <cassert>
#include <utility>

namespace xmesh::mesh {
namespace {

constexpr size_t kKeepCapacity = 64 * 1024;  // larger idle buffers are given back

std::string addressName(const sockaddr* addr) {
  char ip[INET6_ADDRSTRLEN] = {0};
  int port = 0;
  if (addr->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    uv_ip4_name(in, ip, sizeof ip);
    port = ntohs(in->sin_port);
  } else if (addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    uv_ip6_name(in6, ip, sizeof ip);
    port = ntohs(in6->sin6_port);
  }
  return std::string(ip) + ":" + std::to_string(port);
}

void releaseIfLarge(std::string& s) {
  if (s.empty() && s.capacity() > kKeepCapacity) std::string().swap(s);
}

}  // namespace

std::string_view PeerTransport::stateName(State state) {
  switch (state) {
    case State::Idle: return "idle";
    case State::Resolving: return "resolving";
    case State::Connecting: return "connecting";
    case State::Handshaking: return "tls";
    case State::Open: return "open";
    case State::Closing: return "closing";
    case State::Closed: return "closed";
  }
  return "unknown";
}

PeerTransport::PeerTransport(uv_loop_t* loop, Owner& owner) : loop_(loop), owner_(owner) {
  uv_tcp_init(loop_, &tcp_);
  tcp_.data = this;
  connectReq_.data = this;
  resolveReq_.data = this;
  writeReq_.data = this;
  startedMs_ = nowMs();
}

PeerTransport::~PeerTransport() {
  // Belief: only onTransportFreed deletes us, after every libuv callback has run.
  assert(freed_);
}

// ---- Setting up ---------------------------------------------------------------------------

Status PeerTransport::dial(const std::string& host, int port, const tls::TlsContext* tls,
                           std::string serverName) {
  if (state_ != State::Idle) return Status::fail("dial-failed", "transport already in use");
  tlsContext_ = tls;
  serverName_ = std::move(serverName);
  remote_ = host + ":" + std::to_string(port);
  sockaddr_storage addr{};
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) == 0 ||
      uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) == 0) {
    return connectTo(sa);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  const std::string service = std::to_string(port);
  int r = uv_getaddrinfo(loop_, &resolveReq_, onResolved, host.c_str(), service.c_str(), &hints);
  if (r != 0) return Status::fail("resolve-failed", host + ": " + uv_strerror(r));
  resolving_ = true;
  state_ = State::Resolving;
  return Status::ok();
}

void PeerTransport::onResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  auto* self = static_cast<PeerTransport*>(req->data);
  self->resolving_ = false;
  if (self->state_ != State::Resolving) {  // closed meanwhile
    if (res != nullptr) uv_freeaddrinfo(res);
    self->maybeFree();
    return;
  }
  if (status < 0 || res == nullptr) {
    if (res != nullptr) uv_freeaddrinfo(res);
    self->fail("resolve-failed", uv_strerror(status), /*flush=*/false);
    return;
  }
  self->remote_ = addressName(res->ai_addr);
  Status st = self->connectTo(res->ai_addr);
  uv_freeaddrinfo(res);
  if (!st) self->fail(st.error().reason, st.error().detail, /*flush=*/false);
}

Status PeerTransport::connectTo(const sockaddr* addr) {
  int r = uv_tcp_connect(&connectReq_, &tcp_, addr, onConnect);
  if (r != 0) {
    state_ = State::Idle;
    return Status::fail("connect-failed", remote_ + ": " + uv_strerror(r));
  }
  state_ = State::Connecting;
  return Status::ok();
}

void PeerTransport::onConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<PeerTransport*>(req->data);
  if (self->state_ != State::Connecting) return;  // closed meanwhile (UV_ECANCELED)
  if (status < 0) {
    self->fail("connect-failed", self->remote_ + ": " + uv_strerror(status), /*flush=*/false);
    return;
  }
  self->connected();
}

void PeerTransport::connected() {
  uv_tcp_nodelay(&tcp_, 1);
  if (Status st = startReading(); !st) return fail(st.error().reason, st.error().detail, false);
  if (tlsContext_ == nullptr) {
    state_ = State::Open;
    owner_.onTransportOpen(*this);
    return;
  }
  auto session = tls::TlsSession::connect(*tlsContext_, serverName_);
  tlsContext_ = nullptr;
  if (!session) return fail(session.error().reason, session.error().detail, false);
  tls_ = std::move(session.value());
  state_ = State::Handshaking;
  takeCiphertext();  // the ClientHello
  startWrite();
}

Status PeerTransport::accept(uv_stream_t* server, const tls::TlsContext* tls) {
  if (state_ != State::Idle) return Status::fail("accept-failed", "transport already in use");
  if (int r = uv_accept(server, reinterpret_cast<uv_stream_t*>(&tcp_)); r != 0) {
    return Status::fail("accept-failed", uv_strerror(r));
  }
  sockaddr_storage addr{};
  int len = sizeof addr;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    remote_ = addressName(reinterpret_cast<sockaddr*>(&addr));
  }
  uv_tcp_nodelay(&tcp_, 1);
  if (tls != nullptr) {
    auto session = tls::TlsSession::accept(*tls);
    if (!session) return Status::fail(session.error().reason, session.error().detail);
    tls_ = std::move(session.value());
  }
  if (Status st = startReading(); !st) return st;
  state_ = tls_ ? State::Handshaking : State::Open;
  return Status::ok();
}

Status PeerTransport::startReading() {
  int r = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), onAlloc, onRead);
  return r == 0 ? Status::ok() : Status::fail("read-failed", uv_strerror(r));
}

// ---- Reading ------------------------------------------------------------------------------

void PeerTransport::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  *buf = static_cast<PeerTransport*>(h->data)->owner_.readBuffer();
}

void PeerTransport::onRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* self = static_cast<PeerTransport*>(s->data);
  if (n > 0) {
    self->handleInput(std::string_view(buf->base, static_cast<size_t>(n)));
  } else if (n == UV_EOF) {
    self->fail("eof", "connection closed by the peer", /*flush=*/false);
  } else if (n < 0) {
    self->fail("read-failed", uv_strerror(static_cast<int>(n)), /*flush=*/false);
  }
}

void PeerTransport::handleInput(std::string_view bytes) {
  if (state_ != State::Open && state_ != State::Handshaking) return;
  if (!tls_) {
    owner_.onTransportData(*this, bytes);
    return;
  }
  plainIn_.clear();
  Status st = tls_->feed(bytes, plainIn_);
  takeCiphertext();
  if (!st) {
    // The alert (if any) goes out before the close.
    fail(st.error().reason, st.error().detail, /*flush=*/true);
    return;
  }
  if (state_ == State::Handshaking && tls_->handshakeDone()) {
    state_ = State::Open;
    owner_.onTransportOpen(*this);
  }
  // The owner may have closed us from a callback: every step re-checks the state.
  if (state_ == State::Open && !plainIn_.empty()) owner_.onTransportData(*this, plainIn_);
  if (state_ == State::Open && tls_->peerClosed()) {
    fail("peer-closed", "TLS close_notify", /*flush=*/false);
    return;
  }
  plainIn_.clear();
  releaseIfLarge(plainIn_);
  if (state_ == State::Open || state_ == State::Handshaking) startWrite();
}

// ---- Writing ------------------------------------------------------------------------------

void PeerTransport::send(std::string&& plaintext) {
  if (state_ != State::Open || plaintext.empty()) return;
  if (tls_) {
    if (Status st = tls_->write(plaintext); !st) {
      return fail(st.error().reason, st.error().detail, /*flush=*/false);
    }
    takeCiphertext();
  } else if (wireOut_.empty()) {
    wireOut_.swap(plaintext);
  } else {
    wireOut_.append(plaintext);
  }
  startWrite();
}

void PeerTransport::takeCiphertext() {
  if (!tls_ || !tls_->hasPendingCiphertext()) return;
  std::string& pending = tls_->pendingCiphertext();
  if (wireOut_.empty()) {
    wireOut_.swap(pending);
  } else {
    wireOut_.append(pending);
  }
  std::string().swap(pending);  // an idle session keeps no grown buffer
}

// Starts the one write in flight with everything pending; a no-op while one is in flight
// (onWrite starts the next). When Closing and everything is out, closes.
void PeerTransport::startWrite() {
  if (state_ == State::Closed || writing_) return;
  if (wireOut_.empty()) {
    if (state_ == State::Closing) closeNow();
    return;
  }
  inflight_.swap(wireOut_);
  wireOut_.clear();
  uv_buf_t buf = uv_buf_init(inflight_.data(), static_cast<unsigned>(inflight_.size()));
  int r = uv_write(&writeReq_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, onWrite);
  if (r != 0) {
    inflight_.clear();
    fail("write-failed", uv_strerror(r), /*flush=*/false);
    if (state_ == State::Closing) closeNow();
    return;
  }
  writing_ = true;
}

void PeerTransport::onWrite(uv_write_t* req, int status) {
  auto* self = static_cast<PeerTransport*>(req->data);
  self->writing_ = false;
  self->inflight_.clear();
  releaseIfLarge(self->inflight_);
  releaseIfLarge(self->wireOut_);
  if (self->state_ == State::Closed) return;
  if (status < 0) {
    self->fail("write-failed", uv_strerror(status), /*flush=*/false);
    if (self->state_ == State::Closing) self->closeNow();
    return;
  }
  self->startWrite();
}

// ---- Closing ------------------------------------------------------------------------------

void PeerTransport::fail(std::string_view reason, std::string_view detail, bool flush) {
  if (closing()) return;
  owner_.onTransportDown(*this, reason, detail);
  if (closing()) return;  // the owner closed us from the callback
  if (flush) {
    closeAfterFlush();
  } else {
    closeNow();
  }
}

void PeerTransport::closeAfterFlush() {
  if (closing()) return;
  if (state_ != State::Open && state_ != State::Handshaking) return closeNow();
  if (tls_ && state_ == State::Open) {
    tls_->shutdown();  // close_notify after what is queued
    takeCiphertext();
  }
  state_ = State::Closing;
  closingSinceMs_ = nowMs();
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  startWrite();
}

void PeerTransport::abort(bool reset) {
  if (state_ == State::Closed) return;
  const bool connectedState = state_ == State::Open || state_ == State::Handshaking ||
                              state_ == State::Closing;
  if (reset && connectedState && uv_tcp_close_reset(&tcp_, onClose) == 0) {
    state_ = State::Closed;
    return;
  }
  closeNow();
}

void PeerTransport::closeNow() {
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  if (resolving_) uv_cancel(reinterpret_cast<uv_req_t*>(&resolveReq_));
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), onClose);
}

void PeerTransport::onClose(uv_handle_t* h) {
  auto* self = static_cast<PeerTransport*>(h->data);
  self->handleClosed_ = true;
  self->maybeFree();
}

void PeerTransport::maybeFree() {
  if (!handleClosed_ || resolving_ || freed_) return;
  freed_ = true;
  owner_.onTransportFreed(*this);  // deletes us
}

}  // namespace xmesh::mesh
