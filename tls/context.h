// TlsContext: the configuration every TLS session of a listener or an outgoing link
// shares — certificates, trust anchors, versions, ALPN, session tickets. It wraps one
// SSL_CTX. Build it once at start-up (or on certificate reload) and hand the same
// shared_ptr to every loop: BoringSSL's SSL_CTX is thread-safe for concurrent session
// creation, and sharing it is what makes ticket keys and the client session cache work
// across connections. Sessions keep their context alive (see TlsSession), so dropping
// the last outside reference during a reload is safe.
#pragma once
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <openssl/ssl.h>

#include "core/status.h"
#include "tls/ticket_keys.h"

namespace xmesh::tls {

enum class TlsVersion { Tls12, Tls13 };

// Parses the config spelling ("1.2", "1.3"; "tls1.2"/"TLSv1.3" accepted too).
bool parseTlsVersion(std::string_view text, TlsVersion* out);

struct ServerOptions {
  std::string certChainFile;  // PEM: leaf first, then intermediates
  std::string keyFile;        // PEM private key matching the leaf
  TlsVersion minVersion = TlsVersion::Tls12;  // r2r links use Tls13
  TlsVersion maxVersion = TlsVersion::Tls13;
  // Trust anchors for client certificates. Set: a client certificate is requested and,
  // if presented, must verify. Empty: no certificate is requested.
  std::string caFile;
  // Mutual TLS: a handshake without a verifying client certificate fails. Needs caFile.
  bool requireClientCert = false;
  // ALPN protocols in preference order, e.g. {"xmpp-client"} for XEP-0368 direct TLS.
  // A client offering none of them still connects, without ALPN.
  std::vector<std::string> alpn;
  // Stateless resumption tickets (keys live in the SSL_CTX, rotated by BoringSSL every
  // 48 h), one per handshake (~50 k instructions to mint). They make reconnect storms
  // cheaper: a TLS 1.3 resumption costs the server ~1.4 M instructions instead of
  // ~2.1 M (no signature; the X25519 exchange remains, BoringSSL only does psk_dhe_ke),
  // a TLS 1.2 one ~0.18 M. Lifetimes are BoringSSL's: 2 days for TLS 1.3, 2 hours for
  // TLS 1.2 (without fresh key material). The server keeps no per-session cache.
  // Tickets only resume on a context with the same keys: a restarted node or another
  // node of the mesh does a full handshake.
  bool sessionTickets = true;
  // Non-empty (at least 32 bytes): ticket keys derived from this secret instead, the
  // same on every server given it, so a ticket from one node of a redundancy pair
  // resumes on the other (tls/ticket_keys.h).
  std::string ticketKeySecret;
  // Key exchange groups, in server preference order (BoringSSL's curves-list syntax).
  // X25519 first because it is the cheapest here (perf/tls_handshake_cost.sh: a full
  // TLS 1.3 handshake costs the server 2.1 M instructions with X25519, 3.4 M with P-256)
  // and every current client offers it with a key share (OpenSSL 1.1.1+/3.x, BoringSSL,
  // Apple, Java 11+, Go). Server preference is deliberate: a client that sends a P-256
  // share but supports X25519 gets a HelloRetryRequest (one round trip more for it,
  // 2.1 M instead of 3.4 M instructions for us); a client without X25519 (FIPS-only)
  // gets P-256 directly. Pinned rather than left to the library so an upgrade does not
  // change the cost silently; revisit when X25519MLKEM768 is available here.
  std::string groups = "X25519:P-256:P-384";
};

struct ClientOptions {
  // Trust anchors for the server certificate. Required unless insecureSkipVerify.
  std::string caFile;
  // Load tests only: accept any server certificate. peerVerified() stays false.
  bool insecureSkipVerify = false;
  // Optional client certificate for mutual TLS (r2r mesh).
  std::string certChainFile;
  std::string keyFile;
  TlsVersion minVersion = TlsVersion::Tls12;
  TlsVersion maxVersion = TlsVersion::Tls13;
  std::vector<std::string> alpn;
  // Remember the latest session per SNI name and offer it on the next connect, so a
  // reconnect resumes instead of doing a full handshake. 0 disables the cache.
  // TlsSession::connectResuming bypasses it (the caller keeps sessions itself).
  size_t sessionCacheSize = 1024;
  // Key exchange groups in preference order; a key share is sent for the first only.
  std::string groups = "X25519:P-256:P-384";
};

class TlsContext : public std::enable_shared_from_this<TlsContext> {
 public:
  // Errors carry reason "tls-config" and a detail naming the file or setting.
  static Result<std::shared_ptr<TlsContext>> server(const ServerOptions& options);
  static Result<std::shared_ptr<TlsContext>> client(const ClientOptions& options);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  bool isServer() const { return isServer_; }
  // True when sessions verify the peer's certificate chain (client: unless
  // insecureSkipVerify; server: when caFile is set).
  bool verifiesPeer() const { return verifiesPeer_; }
  // For TlsSession; SSL_CTX is internally synchronized, hence usable through const.
  SSL_CTX* native() const { return ctx_; }

  // Client session cache, used by TlsSession::connect. take() hands out the cached
  // session for `name` (removing it when it is single-use, as TLS 1.3 tickets are).
  bssl::UniquePtr<SSL_SESSION> takeSession(const std::string& name) const;
  void storeSession(const std::string& name, bssl::UniquePtr<SSL_SESSION> session) const;
  bool cachesSessions() const { return sessionCacheSize_ > 0; }

  // Selects our most preferred ALPN protocol that the client offered (server side).
  bool selectAlpn(const uint8_t* offered, unsigned offeredLen, const uint8_t** out,
                  uint8_t* outLen) const;

 private:
  TlsContext(SSL_CTX* ctx, bool isServer);
  static Status setVersions(SSL_CTX* ctx, TlsVersion min, TlsVersion max);
  static Status loadKeyPair(SSL_CTX* ctx, const std::string& chain, const std::string& key);
  static Status setGroups(SSL_CTX* ctx, const std::string& groups);

  std::unique_ptr<SharedTicketKeys> ticketKeys_;  // with ServerOptions::ticketKeySecret
  SSL_CTX* ctx_;
  bool isServer_;
  bool verifiesPeer_ = false;
  std::string alpnWire_;  // length-prefixed protocol list, server preference order
  size_t sessionCacheSize_ = 0;
  mutable std::mutex cacheMutex_;
  mutable std::unordered_map<std::string, bssl::UniquePtr<SSL_SESSION>> sessionCache_;
};

using TlsContextPtr = std::shared_ptr<TlsContext>;

}  // namespace xmesh::tls
