// A client TCP connection on one loop: socket reads and writes, the TLS layer over it,
// output coalescing and back-pressure. It implements the session's Transport; the
// session never sees libuv or TLS.
//
// Write discipline (h2o, Redis): the session appends plaintext; once per loop iteration
// (uv_check) pending plaintext is encrypted as one batch and at most one uv_write is in
// flight. Above the high watermark reading stops (the client is the producer of its own
// replies); above the hard limit the connection is dropped as a slow consumer.
//
// Lifetime: the object embeds its uv_tcp_t and is deleted only from the close callback.
#pragma once
#include <uv.h>

#include <memory>
#include <string>

#include "session/c2s_session.h"
#include "session/transport.h"
#include "tls/session.h"

namespace xmesh::router {

class Loop;

class Connection final : public session::Transport {
 public:
  Connection(Loop& loop, bool directTls);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Called once after uv_accept succeeded: starts reading and creates the session.
  bool start();
  uv_tcp_t* handle() { return &tcp_; }

  // session::Transport
  void send(std::string_view plaintext) override;
  void startTls() override;
  bool tlsActive() const override { return tls_ != nullptr; }
  void closeAfterFlush() override;
  const std::string& peerAddress() const override { return peer_; }

  // Loop hooks.
  void flush();                // from the loop's uv_check
  void sweep(int64_t nowMs);   // 1 Hz: TLS handshake timeout
  void abort(ErrorReason why); // close now, dropping queued output
  void rejectWithStreamError(std::string_view condition, std::string_view text);
  bool dirty() const { return dirty_; }
  // Counted against limits.max_connections_per_address (released on close only if so).
  void setAdmitted() { admitted_ = true; }
  bool admitted() const { return admitted_; }
  size_t queuedBytes() const { return wireOut_.size() + plainOut_.size() + inflight_.size(); }

 private:
  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void onWrite(uv_write_t* req, int status);
  static void onClose(uv_handle_t* h);
  void handleInput(std::string_view bytes);
  void markDirty();
  void takeCiphertext();
  void releaseIdleBuffers();
  void startWrite();
  void closeNow();
  void applyBackpressure();

  Loop& loop_;
  uv_tcp_t tcp_{};
  uv_write_t writeReq_{};
  std::string peer_;
  std::unique_ptr<tls::TlsSession> tls_;
  session::C2sSession* session_ = nullptr;  // owned by the loop; may outlive us (XEP-0198)
  std::string plainOut_;  // plaintext waiting for encryption (TLS active)
  std::string wireOut_;   // bytes ready for the socket
  std::string inflight_;  // bytes of the uv_write in flight
  std::string plainIn_;   // scratch for decrypted input
  int64_t tlsStartMs_ = 0;
  bool directTls_ = false;
  bool writing_ = false;
  bool dirty_ = false;
  bool closing_ = false;      // closeAfterFlush requested
  bool closed_ = false;       // uv_close called
  bool readPaused_ = false;
  bool tlsHandshakeReported_ = false;
  bool tlsShutdownSent_ = false;
  bool admitted_ = false;
};

}  // namespace xmesh::router
