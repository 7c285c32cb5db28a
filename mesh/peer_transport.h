// One r2r connection on a uv loop: TCP, dialed or accepted, with TLS over it or not, and
// plaintext in and out. The owner (LinkSet) decides what the bytes mean and which peer
// the connection belongs to; the transport only moves bytes.
//
// Write discipline (as router/connection.cc): send() encrypts at once into one pending
// buffer; at most one uv_write is in flight, and it carries everything pending when it
// starts. The owner calls send() once per loop iteration with everything a Link produced,
// and checks queuedBytes() before pulling more (the socket-side bound).
//
// Callbacks to the owner: onTransportOpen (plaintext may flow: TCP connected for a plain
// dialer, TLS handshake done otherwise), onTransportData, and onTransportDown (the
// transport failed by itself: connect error, EOF, reset, TLS error) at most once. After
// the owner calls closeAfterFlush() or abort(), no callback but onTransportFreed follows.
// Any callback may call send(), closeAfterFlush() or abort() on the transport.
//
// Lifetime: heap-allocated and embedding its handles; the owner deletes it only from
// onTransportFreed (after uv_close's callback and any pending getaddrinfo callback).
#pragma once
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "tls/context.h"
#include "tls/session.h"

namespace xmesh::mesh {

class PeerTransport {
 public:
  class Owner {
   public:
    virtual void onTransportOpen(PeerTransport& t) = 0;
    virtual void onTransportData(PeerTransport& t, std::string_view plaintext) = 0;
    virtual void onTransportDown(PeerTransport& t, std::string_view reason,
                                 std::string_view detail) = 0;
    virtual void onTransportFreed(PeerTransport& t) = 0;
    // One read buffer shared by the owner's transports: input is consumed synchronously.
    virtual uv_buf_t readBuffer() = 0;

   protected:
    ~Owner() = default;
  };

  enum class State : uint8_t {
    Idle,         // created, neither dialing nor accepted
    Resolving,    // dialer: getaddrinfo in progress
    Connecting,   // dialer: TCP connect in progress
    Handshaking,  // TLS handshake in progress
    Open,         // plaintext flows
    Closing,      // flushing the last bytes (stream error, close_notify), then closes
    Closed,       // uv_close called; freed once the callbacks have run
  };
  static std::string_view stateName(State state);

  static constexpr uint32_t kNoPeer = UINT32_MAX;

  PeerTransport(uv_loop_t* loop, Owner& owner);
  ~PeerTransport();
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;

  // Dialer: resolves `host` (IP literal at once, else getaddrinfo), connects, and when
  // `tls` is set runs a TLS client handshake verifying the server against `serverName`.
  // An error return means nothing started (no callback follows): abort() to free.
  Status dial(const std::string& host, int port, const tls::TlsContext* tls,
              std::string serverName);
  // Acceptor: takes the pending connection of `server`. Without `tls` the transport is
  // Open on return (no onTransportOpen); with it, onTransportOpen follows the handshake.
  // An error return means nothing started: abort() to free.
  Status accept(uv_stream_t* server, const tls::TlsContext* tls);

  // Queues plaintext (encrypted now when TLS is on) and starts a write if none is in
  // flight. Ignored unless Open.
  void send(std::string&& plaintext);
  // Graceful: stops reading, sends what is queued plus close_notify, then closes.
  // Bounded by the owner through closingSinceMs() and abort().
  void closeAfterFlush();
  // Now, dropping queued bytes. `reset`: send a TCP RST instead of a FIN.
  void abort(bool reset = false);

  State state() const { return state_; }
  bool open() const { return state_ == State::Open; }
  bool closing() const { return state_ == State::Closing || state_ == State::Closed; }
  size_t queuedBytes() const { return wireOut_.size() + inflight_.size(); }
  int64_t startedMs() const { return startedMs_; }
  int64_t closingSinceMs() const { return closingSinceMs_; }
  const tls::TlsSession* tls() const { return tls_.get(); }
  const std::string& remote() const { return remote_; }  // "ip:port", for logs

  // The owner's tag: which peer this connection serves (kNoPeer until known).
  uint32_t peer() const { return peer_; }
  void setPeer(uint32_t peer) { peer_ = peer; }

 private:
  static void onResolved(uv_getaddrinfo_t* req, int status, addrinfo* res);
  static void onConnect(uv_connect_t* req, int status);
  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void onWrite(uv_write_t* req, int status);
  static void onClose(uv_handle_t* h);

  Status connectTo(const sockaddr* addr);
  void connected();
  Status startReading();
  void handleInput(std::string_view bytes);
  void takeCiphertext();
  void startWrite();
  void fail(std::string_view reason, std::string_view detail, bool flush);
  void closeNow();
  void maybeFree();
  int64_t nowMs() const { return static_cast<int64_t>(uv_now(loop_)); }

  uv_loop_t* loop_;
  Owner& owner_;
  uv_tcp_t tcp_{};
  uv_connect_t connectReq_{};
  uv_getaddrinfo_t resolveReq_{};
  uv_write_t writeReq_{};
  State state_ = State::Idle;
  std::unique_ptr<tls::TlsSession> tls_;
  const tls::TlsContext* tlsContext_ = nullptr;  // dialer, until connected
  std::string serverName_;
  std::string remote_;
  std::string wireOut_;   // bytes ready for the socket
  std::string inflight_;  // bytes of the uv_write in flight
  std::string plainIn_;   // scratch for decrypted input
  int64_t startedMs_ = 0;
  int64_t closingSinceMs_ = 0;
  uint32_t peer_ = kNoPeer;
  bool writing_ = false;
  bool resolving_ = false;  // a getaddrinfo callback is owed
  bool handleClosed_ = false;
  bool freed_ = false;
};

}  // namespace xmesh::mesh
