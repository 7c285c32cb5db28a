#include "loadgen/connection.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "loadgen/worker.h"

namespace xmesh::loadgen {

Status resolveIpv4(const std::string& host, int port, sockaddr_in* out) {
  if (uv_ip4_addr(host.c_str(), port, out) == 0) return Status::ok();
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || !res)
    return Status::fail("resolve", "cannot resolve " + host + " (IPv4)");
  *out = *reinterpret_cast<sockaddr_in*>(res->ai_addr);
  out->sin_port = htons(static_cast<uint16_t>(port));
  freeaddrinfo(res);
  return Status::ok();
}

Connection::Connection(Worker& worker, uint32_t user, uint16_t target, ClientOptions options,
                       uint64_t loginStartUs, bool redirected)
    : worker_(worker),
      user_(user),
      target_(target),
      redirected_(redirected),
      session_(std::move(options), *this, *this, &worker.saltedCache()),
      startUs_(loginStartUs) {
  tcp_.data = this;
  connectReq_.data = this;
  writeReq_.data = this;
}

Connection::~Connection() = default;

int Connection::connect(const sockaddr_in& dest, const sockaddr_in* source) {
  int r = uv_tcp_init_ex(worker_.loop(), &tcp_, AF_INET);
  if (r != 0) return r;
  handleInit_ = true;
  if (source) {
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) == 0) {
      int one = 1;
#ifdef IP_BIND_ADDRESS_NO_PORT
      setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
    }
    r = uv_tcp_bind(&tcp_, reinterpret_cast<const sockaddr*>(source), 0);
    if (r != 0) return r;
  }
  uv_tcp_nodelay(&tcp_, 1);
  return uv_tcp_connect(&connectReq_, &tcp_, reinterpret_cast<const sockaddr*>(&dest), onConnect);
}

void Connection::onConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<Connection*>(req->data);
  if (self->closing_) return;
  if (status < 0) return self->session_.fail(std::string("connect:") + uv_err_name(status));
  int r = uv_read_start(reinterpret_cast<uv_stream_t*>(&self->tcp_), onAlloc, onRead);
  if (r != 0) return self->session_.fail(std::string("read:") + uv_err_name(r));
  self->session_.start();
}

void Connection::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(handle->data);
  *buf = self->worker_.readBuffer();
}

void Connection::onRead(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(stream->data);
  if (n > 0) {
    self->worker_.counters().bytesIn += static_cast<uint64_t>(n);
    self->handleInput(std::string_view(buf->base, static_cast<size_t>(n)));
  } else if (n < 0) {
    if (self->loggingOut_) return self->close();  // the server closed its side
    self->session_.fail(n == UV_EOF ? std::string("eof") : std::string("read:") + uv_err_name(static_cast<int>(n)));
  }
}

void Connection::handleInput(std::string_view bytes) {
  if (closing_) return;
  if (!tls_) return session_.onBytes(bytes);
  std::string& plain = worker_.plainScratch();
  plain.clear();
  Status st = tls_->feed(bytes, plain);
  if (tls_->hasPendingCiphertext()) markDirty();
  if (!tlsCounted_ && tls_->handshakeDone()) countHandshake();
  if (loggingOut_ && (!st.isOk() || tls_->peerClosed())) return close();
  if (!st.isOk()) return session_.fail("tls:" + st.error().reason);
  if (!plain.empty()) session_.onBytes(plain);
  if (!closing_ && tls_ && tls_->peerClosed()) session_.fail("tls-closed");
}

void Connection::countHandshake() {
  tlsCounted_ = true;
  if (tls_->resumed()) ++worker_.counters().tlsResumed;
  else ++worker_.counters().tlsFull;
}

void Connection::send(std::string_view plaintext) {
  if (closing_) return;
  plainOut_.append(plaintext);
  markDirty();
}

void Connection::startTls() {
  // Plaintext queued so far (<starttls/>) must leave unencrypted, before the ClientHello.
  wireOut_.append(plainOut_);
  plainOut_.clear();
  // With tls_resumption, as a real client: offer this user's session from its last
  // connection, if it has one.
  TlsSessionCache* cache = worker_.tlsSessions();
  bssl::UniquePtr<SSL_SESSION> offer = cache ? cache->take(user_) : nullptr;
  if (offer) ++worker_.counters().tlsOffered;
  auto t = cache ? tls::TlsSession::connectResuming(worker_.tlsContext(), worker_.sni(),
                                                    std::move(offer))
                 : tls::TlsSession::connect(worker_.tlsContext(), worker_.sni());
  if (!t.isOk()) return session_.fail("tls:" + t.error().reason);
  tls_ = std::move(t.value());
  markDirty();
}

void Connection::markDirty() {
  if (dirty_ || closing_) return;
  dirty_ = true;
  worker_.markDirty(this);
}

void Connection::flush() {
  dirty_ = false;
  if (closing_) return;
  if (tls_) {
    if (!plainOut_.empty()) {
      Status st = tls_->write(plainOut_);
      plainOut_.clear();
      if (!st.isOk()) return loggingOut_ ? close() : session_.fail("tls:" + st.error().reason);
    }
    if (loggingOut_) tls_->shutdown();  // close_notify after </stream:stream>; idempotent
    if (tls_->hasPendingCiphertext()) {
      if (wireOut_.empty()) wireOut_.swap(tls_->pendingCiphertext());
      else wireOut_.append(tls_->pendingCiphertext());
      tls_->pendingCiphertext().clear();
    }
  } else if (!plainOut_.empty()) {
    wireOut_.append(plainOut_);
    plainOut_.clear();
  }
  if (!writing_ && !wireOut_.empty()) startWrite();
}

void Connection::startWrite() {
  inflight_.swap(wireOut_);
  wireOut_.clear();
  worker_.counters().bytesOut += inflight_.size();
  uv_buf_t buf = uv_buf_init(inflight_.data(), static_cast<unsigned>(inflight_.size()));
  int r = uv_write(&writeReq_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, onWrite);
  if (r != 0) {
    inflight_.clear();
    return session_.fail(std::string("write:") + uv_err_name(r));
  }
  writing_ = true;
}

void Connection::onWrite(uv_write_t* req, int status) {
  auto* self = static_cast<Connection*>(req->data);
  self->writing_ = false;
  std::string().swap(self->inflight_);  // release: idle connections stay small
  if (self->closing_) return;
  if (status < 0 && self->loggingOut_) return self->close();  // the server closed first
  if (status < 0) return self->session_.fail(std::string("write:") + uv_err_name(status));
  if (!self->wireOut_.empty()) self->startWrite();
}

void Connection::logout() {
  if (closing_ || loggingOut_) return;
  loggingOut_ = true;
  logoutStartUs_ = Worker::monotonicUs();
  session_.close();  // queues </stream:stream>
  markDirty();
}

void Connection::close() {
  if (closing_) return;
  closing_ = true;
  session_.close();
  if (TlsSessionCache* cache = worker_.tlsSessions(); cache && tls_) {
    cache->store(user_, tls_->takeSession());
  }
  if (!handleInit_) {
    worker_.connectionClosed(this);  // deletes this
    return;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), onClose);
}

void Connection::onClose(uv_handle_t* handle) {
  auto* self = static_cast<Connection*>(handle->data);
  self->worker_.connectionClosed(self);
}

void Connection::onOnline(ClientSession&) {
  everOnline_ = true;
  worker_.onOnline(*this);
}

void Connection::onLgMessage(ClientSession&, const LgMessage& message) {
  worker_.onLgMessage(*this, message);
}

void Connection::onPresenceReceived(ClientSession&) { worker_.counters().presenceReceived++; }

void Connection::onFailure(ClientSession&, std::string_view reason) {
  worker_.onConnectionFailed(*this, reason);
}

void Connection::onDualInfo(ClientSession&, const DualInfo& info) { worker_.onDualInfo(*this, info); }

void Connection::onInactive(ClientSession&) {
  everOnline_ = true;  // bound: the login part is over
  worker_.onInactive(*this);
}

void Connection::onActivated(ClientSession&, const ActivatedInfo& info) { worker_.onActivated(*this, info); }

void Connection::onActivateRefused(ClientSession&, std::string_view condition) {
  worker_.onActivateRefused(*this, condition);
}

void Connection::onFailoverNotice(ClientSession&, std::string_view) { worker_.onFailoverNotice(*this); }

void Connection::onFallbackNotice(ClientSession&, std::string_view) { worker_.onFallbackNotice(*this); }

void Connection::onDeactivated(ClientSession&) { worker_.onDeactivated(*this); }

void Connection::noteActivateSent() { activateSentUs_ = Worker::monotonicUs(); }

void Connection::pruneAcked() {
  // Stanza counts are 32-bit and wrap (XEP-0198 h is mod 2^32): compare by difference.
  uint32_t acked = session_.smAckedByServer();
  while (!unacked_.empty() && static_cast<int32_t>(acked - unacked_.front().first) >= 0) unacked_.pop_front();
}

void Connection::noteMessageSent(int window) {
  if (!session_.smEnabled()) return;  // without XEP-0198 nothing is ever acknowledged
  pruneAcked();
  unacked_.emplace_back(session_.smSent(), static_cast<int8_t>(window));
}

std::array<uint64_t, kDrillWindows> Connection::unacked() {
  pruneAcked();
  std::array<uint64_t, kDrillWindows> out{};
  for (const auto& [count, window] : unacked_)
    if (window >= 0 && window < kDrillWindows) ++out[static_cast<size_t>(window)];
  return out;
}

}  // namespace xmesh::loadgen
