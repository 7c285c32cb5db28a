#include "router/connection.h"

#include <arpa/inet.h>

#include "core/log.h"
#include "router/loop.h"

namespace xmesh::router {

Connection::Connection(Loop& loop, bool directTls) : loop_(loop), directTls_(directTls) {
  uv_tcp_init(loop.uvLoop(), &tcp_);
  tcp_.data = this;
  writeReq_.data = this;
}

Connection::~Connection() = default;

bool Connection::start() {
  sockaddr_storage addr{};
  int len = sizeof addr;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    char ip[INET6_ADDRSTRLEN] = {0};
    if (addr.ss_family == AF_INET)
      uv_ip4_name(reinterpret_cast<sockaddr_in*>(&addr), ip, sizeof ip);
    else
      uv_ip6_name(reinterpret_cast<sockaddr_in6*>(&addr), ip, sizeof ip);
    peer_ = ip;
  }
  uv_tcp_nodelay(&tcp_, 1);
  if (directTls_) {
    auto t = tls::TlsSession::accept(loop_.tlsContext());
    if (!t.isOk()) return false;
    tls_ = std::move(t.value());
    tlsStartMs_ = loop_.nowMs();
  }
  session_ = loop_.createSession(this, directTls_);
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), onAlloc, onRead) != 0) return false;
  return true;
}

void Connection::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(h->data);
  // One read buffer per loop: input is consumed synchronously inside onRead.
  *buf = self->loop_.readBuffer();
}

void Connection::onRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(s->data);
  if (n > 0) {
    LoopStats::add(self->loop_.stats().bytesIn, static_cast<uint64_t>(n));
    self->handleInput(std::string_view(buf->base, static_cast<size_t>(n)));
    return;
  }
  if (n == UV_EOF) {
    // Half-close after </stream:stream>: our reply (queued) still goes out.
    self->closeAfterFlush();
  } else if (n < 0) {
    self->closeNow();
  }
}

void Connection::handleInput(std::string_view bytes) {
  if (closed_) return;
  if (!tls_) {
    if (session_) session_->onBytes(bytes);
    return;
  }
  plainIn_.clear();
  Status st = tls_->feed(bytes, plainIn_);
  if (tls_->hasPendingCiphertext()) {
    takeCiphertext();
    markDirty();
  }
  if (!st.isOk()) {
    // Plaintext injected after STARTTLS, or a broken handshake: no XMPP error can be
    // sent on a stream that is not TLS any more; close after the alert. Input arriving
    // after we began closing (our close_notify is out) is not a failure worth counting.
    log::debug("c2s", "tls-failed", {{"peer", peer_}, {"detail", st.error().detail}});
    if (!closing_) loop_.stats().error(ErrorReason::TlsFailed);
    closeAfterFlush();
    return;
  }
  if (tls_->handshakeDone() && !tlsHandshakeReported_) {
    tlsHandshakeReported_ = true;
    if (session_) session_->onTlsEstablished();
  }
  if (!plainIn_.empty() && session_) {
    std::string plain;
    plain.swap(plainIn_);  // the session may re-enter send(); keep our scratch free
    session_->onBytes(plain);
    if (plainIn_.empty() && plain.capacity() <= 16384) {
      plain.clear();
      plainIn_.swap(plain);
    }
  }
  if (plainIn_.capacity() > 16384) std::string().swap(plainIn_);
  if (tls_ && tls_->peerClosed()) closeAfterFlush();
}

void Connection::send(std::string_view plaintext) {
  if (closed_) return;
  if (tls_)
    plainOut_.append(plaintext);
  else
    wireOut_.append(plaintext);
  markDirty();
}

void Connection::startTls() {
  auto t = tls::TlsSession::accept(loop_.tlsContext());
  if (!t.isOk()) {
    // Called from inside the session: close later, never under its stack.
    loop_.stats().error(ErrorReason::TlsFailed);
    closeAfterFlush();
    return;
  }
  tls_ = std::move(t.value());
  tlsStartMs_ = loop_.nowMs();
}

void Connection::takeCiphertext() {
  // Move, not copy-and-clear: an idle TLS session must not keep a grown buffer.
  std::string& pending = tls_->pendingCiphertext();
  if (wireOut_.empty()) {
    wireOut_.swap(pending);
  } else {
    wireOut_.append(pending);
  }
  std::string().swap(pending);
}

void Connection::releaseIdleBuffers() {
  // Idle sessions dominate memory at scale: give back buffers a burst left behind.
  constexpr size_t kKeep = 1024;
  if (plainOut_.empty() && plainOut_.capacity() > kKeep) std::string().swap(plainOut_);
  if (wireOut_.empty() && wireOut_.capacity() > kKeep) std::string().swap(wireOut_);
  if (inflight_.empty() && inflight_.capacity() > kKeep) std::string().swap(inflight_);
  if (plainIn_.empty() && plainIn_.capacity() > kKeep) std::string().swap(plainIn_);
}

void Connection::markDirty() {
  if (dirty_) return;
  dirty_ = true;
  loop_.markDirty(this);
}

void Connection::flush() {
  dirty_ = false;
  if (closed_) return;
  if (tls_ && !plainOut_.empty()) {
    Status st = tls_->write(plainOut_);
    plainOut_.clear();
    if (!st.isOk()) {
      // The peer already sent close_notify (a client closing its stream): our reply
      // cannot go out, which is the normal end of a connection, not a TLS failure.
      if (closing_ || tls_->peerClosed()) return closeNow();
      return abort(ErrorReason::TlsFailed);
    }
  }
  if (tls_ && closing_ && !tlsShutdownSent_) {
    tlsShutdownSent_ = true;
    tls_->shutdown();
  }
  if (tls_ && tls_->hasPendingCiphertext()) takeCiphertext();
  if (queuedBytes() > loop_.config().limits.outputHardLimit) {
    log::info("c2s", "slow-consumer", {{"peer", peer_}, {"queued", std::to_string(queuedBytes())}});
    return abort(ErrorReason::SlowConsumer);
  }
  applyBackpressure();
  if (!writing_ && !wireOut_.empty()) startWrite();
  if (closing_ && !writing_ && wireOut_.empty()) closeNow();
}

void Connection::applyBackpressure() {
  const auto& l = loop_.config().limits;
  size_t q = queuedBytes();
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  if (!readPaused_ && q > l.outputHighWatermark) {
    readPaused_ = true;
    uv_read_stop(stream);
  } else if (readPaused_ && q <= l.outputLowWatermark && !closing_) {
    readPaused_ = false;
    uv_read_start(stream, onAlloc, onRead);
  }
}

void Connection::startWrite() {
  inflight_.swap(wireOut_);
  wireOut_.clear();
  uv_buf_t buf = uv_buf_init(inflight_.data(), static_cast<unsigned>(inflight_.size()));
  LoopStats::add(loop_.stats().bytesOut, inflight_.size());
  int r = uv_write(&writeReq_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, onWrite);
  if (r != 0) {
    inflight_.clear();
    closeNow();
    return;
  }
  writing_ = true;
}

void Connection::onWrite(uv_write_t* req, int status) {
  auto* self = static_cast<Connection*>(req->data);
  self->writing_ = false;
  self->inflight_.clear();
  self->releaseIdleBuffers();
  if (status < 0 || self->closed_) {
    self->closeNow();
    return;
  }
  self->flush();
}

void Connection::closeAfterFlush() {
  if (closed_ || closing_) return;
  closing_ = true;
  // close_notify goes out in flush(), after the queued plaintext (a stream error) is
  // encrypted: shutting TLS down here would drop it.
  if (!readPaused_) {
    readPaused_ = true;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  }
  markDirty();
}

void Connection::rejectWithStreamError(std::string_view condition, std::string_view text) {
  if (session_) session_->failStream(condition, text);
  closeAfterFlush();
}

void Connection::abort(ErrorReason why) {
  loop_.stats().error(why);
  closeNow();
}

void Connection::sweep(int64_t nowMs) {
  if (closed_ || !tls_ || tls_->handshakeDone()) return;
  if (nowMs - tlsStartMs_ > int64_t{loop_.config().limits.tlsHandshakeTimeoutSeconds} * 1000) {
    abort(ErrorReason::ConnectionTimeout);
  }
}

void Connection::closeNow() {
  if (closed_) return;
  closed_ = true;
  if (session_) {
    session::C2sSession* s = session_;
    session_ = nullptr;
    s->onDisconnect();
    loop_.connectionDetached(s);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), onClose);
}

void Connection::onClose(uv_handle_t* h) {
  auto* self = static_cast<Connection*>(h->data);
  self->loop_.connectionClosed(self);
}

}  // namespace xmesh::router
