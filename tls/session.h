// TlsSession: one TLS connection as a sans-IO byte transformer. The connection code
// feeds it ciphertext read from the socket and gets plaintext back; it writes plaintext
// and drains ciphertext to send. It never touches a socket or the loop, so handshakes,
// failures and hostile byte streams are unit-tested by pumping bytes between two
// sessions in memory.
//
// Underneath is a custom BIO instead of a BIO pair: BoringSSL reads straight from the
// span passed to feed() and writes straight into pendingCiphertext(), so there is no
// second copy and no per-session BIO buffer. Together with BoringSSL releasing its
// record buffers when idle and shedding handshake configuration, an idle established
// session costs a few KiB (tests/tls/memory_test.cc measures it).
//
// Not thread-safe: a session lives on one loop. Different sessions may run on
// different threads concurrently (the shared TlsContext is safe for that).
#pragma once
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>

#include "core/status.h"
#include "tls/context.h"

namespace xmesh::tls {

class TlsSession {
 public:
  // Largest TLS plaintext record. write(span) fills records up to this size.
  static constexpr size_t kMaxRecordPlaintext = 16384;

  // Server side: waits for the ClientHello in feed(). `context` must be a server
  // context; the session keeps it alive.
  static Result<std::unique_ptr<TlsSession>> accept(const TlsContext& context);
  // Client side: the ClientHello is ready in pendingCiphertext() on return. `sni` is
  // sent as SNI and is the name the server certificate must match (an IP literal is
  // matched against IP SANs and not sent as SNI). Required when the context verifies.
  static Result<std::unique_ptr<TlsSession>> connect(const TlsContext& context,
                                                     std::string_view sni);
  // Client side with resumption managed by the caller, for a client that keeps a
  // session per account rather than per server name (the load generator's simulated
  // users): offers `resume` if not null (it is used up: a TLS 1.3 ticket is single-use,
  // see SSL_SESSION_should_be_single_use), never touches the context's SNI cache, and
  // keeps the sessions the server issues for takeSession().
  static Result<std::unique_ptr<TlsSession>> connectResuming(const TlsContext& context,
                                                             std::string_view sni,
                                                             bssl::UniquePtr<SSL_SESSION> resume);

  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Feeds ciphertext received from the network (any split: one byte or many records).
  // All of it is consumed; decrypted plaintext is APPENDED to `plaintextOut`. Drives the
  // handshake as needed, and flushes writes buffered before it completed. Any bytes to
  // send (handshake flights, tickets, alerts) land in pendingCiphertext().
  // On a fatal error returns reason "tls-handshake-failed" (before the handshake
  // completed) or "tls-error" (after), detail from BoringSSL's error queue; the session
  // is then dead. Send pendingCiphertext() (it may hold an alert) and close.
  // A close_notify from the peer sets peerClosed(); later input is ignored.
  Status feed(std::string_view ciphertext, std::string& plaintextOut);

  // Encrypts application data into pendingCiphertext(). Before the handshake
  // completes the plaintext is buffered and sent right after it. One call produces at
  // least one TLS record (~22 bytes of overhead, one AEAD seal), so when a loop
  // iteration produces many small stanzas, prefer the span overload or concatenate
  // first. Fails with "tls-closed" after shutdown() or a fatal error.
  Status write(std::string_view plaintext);
  // Coalescing write: concatenates `pieces` into as few records as possible (each up to
  // kMaxRecordPlaintext bytes), so N queued stanzas cost ceil(total/16 KiB) records.
  Status write(std::span<const std::string_view> pieces);

  // Ciphertext produced so far. The caller moves it out (std::move or swap) and sends
  // it; moving rather than clear() also returns its memory, keeping idle sessions small.
  std::string& pendingCiphertext() { return out_; }
  bool hasPendingCiphertext() const { return !out_.empty(); }

  bool handshakeDone() const { return handshakeDone_; }
  // The peer sent close_notify: no more plaintext will come (an EOF without it may be
  // a truncation attack).
  bool peerClosed() const { return peerClosed_; }
  // Queues close_notify (if the handshake completed); further writes fail.
  void shutdown();

  // Negotiated parameters; empty before the handshake completes.
  std::string_view version() const;  // "TLSv1.3"
  std::string_view cipher() const;   // "TLS_AES_128_GCM_SHA256"
  std::string_view alpn() const;     // "xmpp-client", or empty if none was agreed
  std::string_view group() const;    // key exchange group: "X25519", "P-256"
  // Server side: the SNI name the client asked for (virtual hosting); empty if none.
  std::string_view serverName() const;
  // True when the handshake resumed a previous session (ticket).
  bool resumed() const;
  // TLS 1.3: the server asked the client for a key share of another group (one extra
  // round trip, and a wasted key share on the client).
  bool usedHelloRetry() const;

  // connectResuming() sessions: the newest resumable session the server issued on this
  // connection (TLS 1.2: at the handshake; TLS 1.3: a ticket, which arrives with the
  // first bytes after the handshake), or null if none came yet. Moves it out.
  bssl::UniquePtr<SSL_SESSION> takeSession() { return std::move(newest_); }
  // For TlsContext's new-session callback: stores `session` in the TlsSession of `ssl`
  // and returns true (reference taken) if that session came from connectResuming().
  static bool adoptNewSession(SSL* ssl, SSL_SESSION* session);

  // Subject CN and DNS SANs of the peer certificate, if it was verified against the
  // context's CA file (for a client, the hostname check passed too). Empty otherwise.
  std::vector<std::string> peerNames() const;
  bool peerVerified() const;

 private:
  TlsSession(std::shared_ptr<const TlsContext> context, SSL* ssl);
  static Result<std::unique_ptr<TlsSession>> create(const TlsContext& context);
  static Result<std::unique_ptr<TlsSession>> startClient(const TlsContext& context,
                                                         std::string_view sni, bool ownSessions,
                                                         bssl::UniquePtr<SSL_SESSION> resume);
  static int bioRead(BIO* bio, char* out, int len);
  static int bioWrite(BIO* bio, const char* in, int len);
  static long bioCtrl(BIO* bio, int cmd, long larg, void* parg);  // NOLINT(runtime/int)
  static const BIO_METHOD* bioMethod();

  Status advanceHandshake();
  Status readPlaintext(std::string& plaintextOut);
  Status sealRecord(const char* data, size_t len);
  Status flushEarlyWrites();
  Status fail(std::string_view reason, int ret);

  std::shared_ptr<const TlsContext> context_;
  SSL* ssl_;
  std::string out_;    // ciphertext waiting for the caller
  std::string early_;  // plaintext written before the handshake completed
  bssl::UniquePtr<SSL_SESSION> newest_;  // connectResuming(): for takeSession()
  // The ciphertext span of the feed() in progress; bioRead consumes from it.
  const char* in_ = nullptr;
  size_t inLen_ = 0;
  bool handshakeDone_ = false;
  bool peerClosed_ = false;
  bool closed_ = false;  // shutdown() called or fatal error: no more writes
  bool failed_ = false;  // fatal error: no more input either
  bool ownSessions_ = false;  // connectResuming(): new sessions go to newest_
};

using TlsSessionPtr = std::unique_ptr<TlsSession>;

}  // namespace xmesh::tls
