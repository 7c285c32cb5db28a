#include "tls/context.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>

#include "tls/session.h"
#include "tls/ssl_error.h"

namespace xmesh::tls {
namespace {

constexpr std::string_view kReason = "tls-config";

// TLS 1.2 suites: forward secrecy and AEAD only. TLS 1.3 suites are not configurable
// in BoringSSL and are all fine.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";

// Distinguishes our sessions from other users of an SSL_CTX's session space; BoringSSL
// also refuses to resume verified sessions without one.
constexpr unsigned char kSessionIdContext[] = "xmesh";

Error configError(std::string_view context) {
  return Error{std::string(kReason), takeSslErrors(context)};
}

uint16_t wireVersion(TlsVersion v) {
  return v == TlsVersion::Tls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
}

// Encodes ALPN names as the TLS wire list (each name prefixed by its length).
Result<std::string> alpnWire(const std::vector<std::string>& names) {
  std::string wire;
  for (const auto& name : names) {
    if (name.empty() || name.size() > 255) {
      return Error{std::string(kReason), "invalid ALPN protocol name '" + name + "'"};
    }
    wire.push_back(static_cast<char>(name.size()));
    wire += name;
  }
  return wire;
}

int alpnSelectCallback(SSL*, const uint8_t** out, uint8_t* outLen, const uint8_t* in,
                       unsigned inLen, void* arg) {
  const auto* context = static_cast<const TlsContext*>(arg);
  return context->selectAlpn(in, inLen, out, outLen) ? SSL_TLSEXT_ERR_OK
                                                      : SSL_TLSEXT_ERR_NOACK;
}

int contextIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Client side: a new resumable session (TLS 1.2 handshake, or a TLS 1.3 ticket).
// Returning 1 takes BoringSSL's reference.
int newSessionCallback(SSL* ssl, SSL_SESSION* session) {
  // A session from connectResuming() keeps it for its owner.
  if (TlsSession::adoptNewSession(ssl, session)) return 1;
  const auto* context =
      static_cast<const TlsContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), contextIndex()));
  // Keyed by SNI: connections made to an IP literal send none and are not cached.
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (context == nullptr || name == nullptr || !context->cachesSessions()) return 0;
  context->storeSession(name, bssl::UniquePtr<SSL_SESSION>(session));
  return 1;
}

}  // namespace

bool parseTlsVersion(std::string_view text, TlsVersion* out) {
  std::string t;
  for (char c : text) t.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (t.starts_with("tlsv")) t.erase(0, 4);
  else if (t.starts_with("tls")) t.erase(0, 3);
  if (t == "1.2") {
    *out = TlsVersion::Tls12;
    return true;
  }
  if (t == "1.3") {
    *out = TlsVersion::Tls13;
    return true;
  }
  return false;
}

TlsContext::TlsContext(SSL_CTX* ctx, bool isServer) : ctx_(ctx), isServer_(isServer) {
  SSL_CTX_set_ex_data(ctx_, contextIndex(), this);
}

TlsContext::~TlsContext() {
  // Every TlsSession holds a shared_ptr to us, so no SSL of this context is alive and
  // no callback can observe the cleared pointer.
  SSL_CTX_set_ex_data(ctx_, contextIndex(), nullptr);
  SSL_CTX_free(ctx_);
}

Status TlsContext::setVersions(SSL_CTX* ctx, TlsVersion min, TlsVersion max) {
  if (wireVersion(min) > wireVersion(max)) {
    return Status::fail(std::string(kReason), "minVersion is above maxVersion");
  }
  if (!SSL_CTX_set_min_proto_version(ctx, wireVersion(min)) ||
      !SSL_CTX_set_max_proto_version(ctx, wireVersion(max)) ||
      !SSL_CTX_set_strict_cipher_list(ctx, kTls12Ciphers)) {
    auto e = configError("setting versions/ciphers");
    return Status::fail(e.reason, e.detail);
  }
  return Status::ok();
}

Status TlsContext::loadKeyPair(SSL_CTX* ctx, const std::string& chain, const std::string& key) {
  if (!SSL_CTX_use_certificate_chain_file(ctx, chain.c_str())) {
    auto e = configError("loading certificate chain " + chain);
    return Status::fail(e.reason, e.detail);
  }
  if (!SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM)) {
    auto e = configError("loading private key " + key);
    return Status::fail(e.reason, e.detail);
  }
  if (!SSL_CTX_check_private_key(ctx)) {
    auto e = configError("private key " + key + " does not match certificate " + chain);
    return Status::fail(e.reason, e.detail);
  }
  return Status::ok();
}

Status TlsContext::setGroups(SSL_CTX* ctx, const std::string& groups) {
  if (!SSL_CTX_set1_curves_list(ctx, groups.c_str())) {
    auto e = configError("key exchange groups '" + groups + "'");
    return Status::fail(e.reason, e.detail);
  }
  return Status::ok();
}

Result<std::shared_ptr<TlsContext>> TlsContext::server(const ServerOptions& options) {
  clearSslErrors();
  if (options.certChainFile.empty() || options.keyFile.empty()) {
    return Error{std::string(kReason), "server needs certChainFile and keyFile"};
  }
  if (options.requireClientCert && options.caFile.empty()) {
    return Error{std::string(kReason), "requireClientCert needs caFile"};
  }
  auto wire = alpnWire(options.alpn);
  if (!wire) return wire.error();

  SSL_CTX* raw = SSL_CTX_new(TLS_method());
  if (raw == nullptr) return configError("SSL_CTX_new");
  std::shared_ptr<TlsContext> context(new TlsContext(raw, /*isServer=*/true));
  SSL_CTX* ctx = context->ctx_;

  if (auto s = setVersions(ctx, options.minVersion, options.maxVersion); !s) return s.error();
  if (auto s = loadKeyPair(ctx, options.certChainFile, options.keyFile); !s) return s.error();
  if (auto s = setGroups(ctx, options.groups); !s) return s.error();
  // Our order for TLS 1.2 suites and, in BoringSSL, for key exchange groups too.
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);

  if (!options.caFile.empty()) {
    if (!SSL_CTX_load_verify_locations(ctx, options.caFile.c_str(), nullptr)) {
      return configError("loading client CA file " + options.caFile);
    }
    // Tell clients which CAs we accept, so a node with several certificates picks
    // the mesh one.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.caFile.c_str());
    if (names == nullptr) return configError("reading CA names from " + options.caFile);
    SSL_CTX_set_client_CA_list(ctx, names);
    int mode = SSL_VERIFY_PEER;
    if (options.requireClientCert) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, nullptr);
    context->verifiesPeer_ = true;
  }

  if (!SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof(kSessionIdContext) - 1)) {
    return configError("session id context");
  }
  // No server-side session cache: tickets carry the state, so memory stays flat no
  // matter how many clients reconnect. BoringSSL generates and rotates the ticket keys.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (options.sessionTickets) {
    // One ticket per handshake is enough: a resumption hands out a fresh one, and each
    // extra ticket costs every client a few hundred bytes on the wire.
    SSL_CTX_set_num_tickets(ctx, 1);
    if (!options.ticketKeySecret.empty()) {
      if (options.ticketKeySecret.size() < SharedTicketKeys::kMinSecretBytes)
        return configError("the ticket key secret must be at least 32 bytes");
      context->ticketKeys_ = std::make_unique<SharedTicketKeys>(options.ticketKeySecret);
      context->ticketKeys_->install(ctx);
    }
  } else {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
  }

  if (!wire->empty()) {
    context->alpnWire_ = std::move(*wire);
    SSL_CTX_set_alpn_select_cb(ctx, alpnSelectCallback, context.get());
  }
  return context;
}

Result<std::shared_ptr<TlsContext>> TlsContext::client(const ClientOptions& options) {
  clearSslErrors();
  if (options.caFile.empty() && !options.insecureSkipVerify) {
    return Error{std::string(kReason), "client needs caFile (or insecureSkipVerify)"};
  }
  if (options.certChainFile.empty() != options.keyFile.empty()) {
    return Error{std::string(kReason), "client certificate needs both certChainFile and keyFile"};
  }
  auto wire = alpnWire(options.alpn);
  if (!wire) return wire.error();

  SSL_CTX* raw = SSL_CTX_new(TLS_method());
  if (raw == nullptr) return configError("SSL_CTX_new");
  std::shared_ptr<TlsContext> context(new TlsContext(raw, /*isServer=*/false));
  SSL_CTX* ctx = context->ctx_;

  if (auto s = setVersions(ctx, options.minVersion, options.maxVersion); !s) return s.error();
  if (auto s = setGroups(ctx, options.groups); !s) return s.error();
  if (!options.certChainFile.empty()) {
    if (auto s = loadKeyPair(ctx, options.certChainFile, options.keyFile); !s) return s.error();
  }
  if (options.insecureSkipVerify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  } else {
    if (!SSL_CTX_load_verify_locations(ctx, options.caFile.c_str(), nullptr)) {
      return configError("loading CA file " + options.caFile);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    context->verifiesPeer_ = true;
  }
  if (!wire->empty() &&
      SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const uint8_t*>(wire->data()),
                              wire->size()) != 0) {  // sic: 0 is success here
    return configError("setting ALPN");
  }
  // New sessions always reach the callback: it feeds the SNI cache (if enabled) or a
  // session from connectResuming().
  context->sessionCacheSize_ = options.sessionCacheSize;
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_new_cb(ctx, newSessionCallback);
  return context;
}

bssl::UniquePtr<SSL_SESSION> TlsContext::takeSession(const std::string& name) const {
  std::lock_guard lock(cacheMutex_);
  auto it = sessionCache_.find(name);
  if (it == sessionCache_.end()) return nullptr;
  if (SSL_SESSION_should_be_single_use(it->second.get())) {
    auto session = std::move(it->second);
    sessionCache_.erase(it);
    return session;
  }
  SSL_SESSION_up_ref(it->second.get());
  return bssl::UniquePtr<SSL_SESSION>(it->second.get());
}

void TlsContext::storeSession(const std::string& name,
                              bssl::UniquePtr<SSL_SESSION> session) const {
  if (sessionCacheSize_ == 0) return;
  std::lock_guard lock(cacheMutex_);
  auto it = sessionCache_.find(name);
  if (it != sessionCache_.end()) {
    it->second = std::move(session);  // newest ticket wins
    return;
  }
  // Bounded: evicting an arbitrary entry only costs that peer a full handshake.
  if (sessionCache_.size() >= sessionCacheSize_) sessionCache_.erase(sessionCache_.begin());
  sessionCache_.emplace(name, std::move(session));
}

bool TlsContext::selectAlpn(const uint8_t* offered, unsigned offeredLen, const uint8_t** out,
                            uint8_t* outLen) const {
  // Server preference order: walk ours, look each up in the client's list.
  for (size_t i = 0; i < alpnWire_.size();) {
    size_t ourLen = static_cast<uint8_t>(alpnWire_[i]);
    std::string_view ours(alpnWire_.data() + i + 1, ourLen);
    for (unsigned j = 0; j < offeredLen;) {
      unsigned len = offered[j];
      if (j + 1 + len > offeredLen) break;  // malformed tail: BoringSSL validates, be safe
      std::string_view theirs(reinterpret_cast<const char*>(offered + j + 1), len);
      if (theirs == ours) {
        *out = offered + j + 1;
        *outLen = static_cast<uint8_t>(len);
        return true;
      }
      j += 1 + len;
    }
    i += 1 + ourLen;
  }
  return false;
}

}  // namespace xmesh::tls
