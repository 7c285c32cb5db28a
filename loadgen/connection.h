// One simulated user's TCP connection on a worker's loop: the glue between a libuv TCP
// handle, the optional TLS layer (TlsSession over memory, started on <proceed/>) and the
// sans-IO ClientSession. One write in flight; output produced during a loop iteration is
// coalesced and flushed from the worker's check handle (like the server's connections).
//
// Lifetime: created by the worker, closed with close(), freed in the close callback
// (never while one of its callbacks is on the stack).
#pragma once
#include <netinet/in.h>
#include <uv.h>

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "core/status.h"
#include "loadgen/client_session.h"
#include "loadgen/downtime.h"
#include "tls/session.h"

namespace xmesh::loadgen {

class Worker;

// host (IPv4 literal or a name, resolved to its first IPv4 address) and port to an
// address. Blocking for names: call at start-up or cache the result. Error "resolve".
Status resolveIpv4(const std::string& host, int port, sockaddr_in* out);

class Connection final : public ClientTransport, public ClientListener {
 public:
  // `target` indexes the worker's targets; `loginStartUs` (monotonic) is when the user's
  // login began, earlier than now for a connection that follows a redirect.
  Connection(Worker& worker, uint32_t user, uint16_t target, ClientOptions options, uint64_t loginStartUs,
             bool redirected);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts a non-blocking connect, from `source` when not null (port 0; the port is
  // picked at connect time with IP_BIND_ADDRESS_NO_PORT so a source address serves many
  // destinations). Returns a libuv error code; on error the caller must still call close().
  int connect(const sockaddr_in& dest, const sockaddr_in* source);
  // Idempotent. The worker's connectionClosed() runs from the close callback. With
  // tls_resumption, hands the connection's newest TLS session to the user's cache.
  void close();
  // Graceful logout of an online user: sends </stream:stream> and close_notify, then
  // closes when the server has closed its side (EOF, its close_notify or an error).
  void logout();
  bool loggingOut() const { return loggingOut_; }
  uint64_t logoutStartUs() const { return logoutStartUs_; }
  // Encrypts pending plaintext and starts a write if none is in flight.
  void flush();

  ClientSession& session() { return session_; }
  uint32_t user() const { return user_; }
  uint16_t target() const { return target_; }
  bool redirected() const { return redirected_; }
  uint64_t startUs() const { return startUs_; }
  bool closing() const { return closing_; }
  // Online after a login, or bound as an inactive session (dual).
  bool everOnline() const { return everOnline_; }
  // The failover drill: a re-login after the user's active session broke (not counted as
  // a login, never a login failure).
  void setRelogin() { relogin_ = true; }
  bool relogin() const { return relogin_; }
  uint64_t activateSentUs() const { return activateSentUs_; }
  void noteActivateSent();

  // XEP-0198 bookkeeping of load messages for the drill: a message written in drill window
  // `window` (-1 = none) is remembered until the server acknowledges it; unacked() gives,
  // per window, those still unacknowledged (in doubt if the stream breaks now).
  void noteMessageSent(int window);
  std::array<uint64_t, kDrillWindows> unacked();

  // ClientTransport
  void send(std::string_view plaintext) override;
  void startTls() override;

 private:
  // ClientListener
  void onOnline(ClientSession& session) override;
  void onLgMessage(ClientSession& session, const LgMessage& message) override;
  void onPresenceReceived(ClientSession& session) override;
  void onFailure(ClientSession& session, std::string_view reason) override;
  void onDualInfo(ClientSession& session, const DualInfo& info) override;
  void onInactive(ClientSession& session) override;
  void onActivated(ClientSession& session, const ActivatedInfo& info) override;
  void onActivateRefused(ClientSession& session, std::string_view condition) override;
  void onFailoverNotice(ClientSession& session, std::string_view fromNode) override;
  void onFallbackNotice(ClientSession& session, std::string_view toNode) override;
  void onDeactivated(ClientSession& session) override;
  void pruneAcked();

  static void onConnect(uv_connect_t* req, int status);
  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf);
  static void onWrite(uv_write_t* req, int status);
  static void onClose(uv_handle_t* handle);
  void handleInput(std::string_view bytes);
  void countHandshake();
  void startWrite();
  void markDirty();

  Worker& worker_;
  uint32_t user_;
  uint16_t target_;
  bool redirected_;
  ClientSession session_;
  uv_tcp_t tcp_{};
  uv_connect_t connectReq_{};
  uv_write_t writeReq_{};
  tls::TlsSessionPtr tls_;
  std::string plainOut_;
  std::string wireOut_;
  std::string inflight_;
  uint64_t startUs_ = 0;
  uint64_t logoutStartUs_ = 0;
  bool handleInit_ = false;
  bool tlsCounted_ = false;  // this connection's handshake is in the TLS counters
  bool loggingOut_ = false;
  bool writing_ = false;
  bool dirty_ = false;
  bool closing_ = false;
  bool everOnline_ = false;
  bool relogin_ = false;
  uint64_t activateSentUs_ = 0;
  std::deque<std::pair<uint32_t, int8_t>> unacked_;  // (our stanza count after it, window)
};

}  // namespace xmesh::loadgen
