#include "tls/session.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>

#include "tls/ssl_error.h"

namespace xmesh::tls {
namespace {

bool isIpLiteral(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

// Appends an ASN.1 string as UTF-8, refusing embedded NULs (a classic way to make
// "good.example\0.evil.example" look like "good.example" to C-string code).
void appendName(const ASN1_STRING* value, std::vector<std::string>& names) {
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, value);
  if (len < 0) return;
  std::string name(reinterpret_cast<const char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  if (!name.empty() && name.find('\0') == std::string::npos) names.push_back(std::move(name));
}

// Our TlsSession, reachable from its SSL in BoringSSL's callbacks.
int sessionIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

// ---- custom BIO ----------------------------------------------------------------------

const BIO_METHOD* TlsSession::bioMethod() {
  // Created once per process and never freed: BIOs of live sessions point at it.
  static const BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "xmesh-tls");
    if (m == nullptr) return m;
    BIO_meth_set_read(m, &TlsSession::bioRead);
    BIO_meth_set_write(m, &TlsSession::bioWrite);
    BIO_meth_set_ctrl(m, &TlsSession::bioCtrl);
    return m;
  }();
  return method;
}

int TlsSession::bioRead(BIO* bio, char* out, int len) {
  auto* self = static_cast<TlsSession*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (self->inLen_ == 0) {
    // Not EOF: "come back with more bytes". feed() returns and waits for the socket.
    BIO_set_retry_read(bio);
    return -1;
  }
  size_t n = std::min(self->inLen_, static_cast<size_t>(std::max(len, 0)));
  std::copy_n(self->in_, n, out);
  self->in_ += n;
  self->inLen_ -= n;
  return static_cast<int>(n);
}

int TlsSession::bioWrite(BIO* bio, const char* in, int len) {
  auto* self = static_cast<TlsSession*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  // Never blocks: the caller's output buffer limits (watermarks) apply to what it
  // drains from pendingCiphertext(), one layer up.
  self->out_.append(in, static_cast<size_t>(std::max(len, 0)));
  return len;
}

long TlsSession::bioCtrl(BIO*, int cmd, long, void*) {  // NOLINT(runtime/int)
  // BoringSSL flushes after each flight; our writes are already "sent".
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

// ---- construction --------------------------------------------------------------------

TlsSession::TlsSession(std::shared_ptr<const TlsContext> context, SSL* ssl)
    : context_(std::move(context)), ssl_(ssl) {}

TlsSession::~TlsSession() { SSL_free(ssl_); }  // also frees the BIO

Result<std::unique_ptr<TlsSession>> TlsSession::create(const TlsContext& context) {
  clearSslErrors();
  const BIO_METHOD* method = bioMethod();
  SSL* ssl = SSL_new(context.native());
  if (method == nullptr || ssl == nullptr) {
    SSL_free(ssl);
    return Error{"tls-error", takeSslErrors("creating session")};
  }
  // The session's address must be stable for the BIO: hence unique_ptr, no moves.
  std::unique_ptr<TlsSession> session(new TlsSession(context.shared_from_this(), ssl));
  BIO* bio = BIO_new(method);
  if (bio == nullptr) return Error{"tls-error", takeSslErrors("creating BIO")};
  BIO_set_data(bio, session.get());
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl, bio, bio);  // one reference, owned by the SSL
  SSL_set_ex_data(ssl, sessionIndex(), session.get());
  // Drop certificate/cipher configuration once the handshake is done: it is never
  // needed again (no renegotiation) and is a large part of an idle session.
  SSL_set_shed_handshake_config(ssl, 1);
  return session;
}

Result<std::unique_ptr<TlsSession>> TlsSession::accept(const TlsContext& context) {
  if (!context.isServer()) return Error{"tls-config", "accept() needs a server context"};
  auto session = create(context);
  if (!session) return session;
  SSL_set_accept_state((*session)->ssl_);
  return session;
}

Result<std::unique_ptr<TlsSession>> TlsSession::connect(const TlsContext& context,
                                                        std::string_view sni) {
  return startClient(context, sni, /*ownSessions=*/false, nullptr);
}

Result<std::unique_ptr<TlsSession>> TlsSession::connectResuming(
    const TlsContext& context, std::string_view sni, bssl::UniquePtr<SSL_SESSION> resume) {
  return startClient(context, sni, /*ownSessions=*/true, std::move(resume));
}

bool TlsSession::adoptNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* self = static_cast<TlsSession*>(SSL_get_ex_data(ssl, sessionIndex()));
  if (self == nullptr || !self->ownSessions_) return false;
  self->newest_.reset(session);  // newest wins: the server may send several tickets
  return true;
}

Result<std::unique_ptr<TlsSession>> TlsSession::startClient(const TlsContext& context,
                                                            std::string_view sni,
                                                            bool ownSessions,
                                                            bssl::UniquePtr<SSL_SESSION> resume) {
  if (context.isServer()) return Error{"tls-config", "connect() needs a client context"};
  std::string name(sni);
  if (name.find('\0') != std::string::npos) return Error{"tls-config", "NUL in server name"};
  if (name.empty() && context.verifiesPeer()) {
    // Verifying a chain without checking whose it is would accept any CA-issued cert.
    return Error{"tls-config", "connect() needs the server name to verify against"};
  }
  auto result = create(context);
  if (!result) return result;
  TlsSession& session = **result;
  session.ownSessions_ = ownSessions;
  SSL* ssl = session.ssl_;
  SSL_set_connect_state(ssl);
  bool ip = !name.empty() && isIpLiteral(name);
  if (!name.empty() && !ip && !SSL_set_tlsext_host_name(ssl, name.c_str())) {
    return Error{"tls-config", takeSslErrors("setting SNI")};
  }
  if (context.verifiesPeer() && !name.empty()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                : X509_VERIFY_PARAM_set1_host(param, name.data(), name.size());
    if (!ok) return Error{"tls-config", takeSslErrors("setting verification name")};
  }
  if (ownSessions) {
    if (resume && !SSL_set_session(ssl, resume.get())) {
      return Error{"tls-config", takeSslErrors("offering a session")};
    }
  } else if (!ip && !name.empty()) {
    if (auto cached = context.takeSession(name)) SSL_set_session(ssl, cached.get());
  }
  // Produce the ClientHello now so the caller can send it right away.
  if (auto s = session.advanceHandshake(); !s) return s.error();
  return result;
}

// ---- data path -----------------------------------------------------------------------

Status TlsSession::fail(std::string_view reason, int ret) {
  int code = SSL_get_error(ssl_, ret);
  std::string detail = takeSslErrors(code == SSL_ERROR_ZERO_RETURN ? "peer closed" : "");
  if (detail.starts_with(": ")) detail.erase(0, 2);
  if (context_->verifiesPeer()) {
    long verify = SSL_get_verify_result(ssl_);  // NOLINT(runtime/int)
    if (verify != X509_V_OK) {
      detail += detail.empty() ? "" : "; ";
      detail += "certificate verify failed: ";
      detail += X509_verify_cert_error_string(verify);
    }
  }
  if (detail.empty()) detail = "SSL error " + std::to_string(code);
  failed_ = true;
  closed_ = true;
  early_.clear();
  return Status::fail(std::string(reason), std::move(detail));
}

Status TlsSession::advanceHandshake() {
  int ret = SSL_do_handshake(ssl_);
  if (ret == 1) {
    handshakeDone_ = true;
    if (context_->isServer()) {
      // BoringSSL holds TLS 1.3 session tickets back until the server's next write
      // (so a client that never reads cannot stall a server with a full socket
      // buffer). Our output never blocks, so flush them now with a zero-byte write:
      // the client gets its ticket even if we stay silent, and the queued flight is
      // freed instead of sitting in an idle session.
      if (SSL_write(ssl_, "", 0) < 0) return fail("tls-handshake-failed", -1);
    }
    return flushEarlyWrites();
  }
  if (SSL_get_error(ssl_, ret) == SSL_ERROR_WANT_READ) return Status::ok();
  return fail("tls-handshake-failed", ret);
}

Status TlsSession::readPlaintext(std::string& plaintextOut) {
  // One record at a time into a stack buffer, appended to the caller's string: no
  // per-read zero-filling of a large resize, and only real bytes are copied.
  char buf[kMaxRecordPlaintext];
  for (;;) {
    int n = SSL_read(ssl_, buf, sizeof(buf));
    if (n > 0) {
      plaintextOut.append(buf, static_cast<size_t>(n));
      continue;
    }
    int code = SSL_get_error(ssl_, n);
    if (code == SSL_ERROR_WANT_READ) return Status::ok();
    if (code == SSL_ERROR_ZERO_RETURN) {
      peerClosed_ = true;
      return Status::ok();
    }
    return fail("tls-error", n);
  }
}

Status TlsSession::feed(std::string_view ciphertext, std::string& plaintextOut) {
  if (failed_) return Status::fail("tls-error", "session already failed");
  if (peerClosed_) return Status::ok();  // nothing may follow close_notify; drop it
  clearSslErrors();
  in_ = ciphertext.data();
  inLen_ = ciphertext.size();
  Status status;
  if (!handshakeDone_) status = advanceHandshake();
  // Bytes after the peer's last handshake flight (tickets, app data) are in the same
  // span, so read even right after the handshake completed.
  if (status && handshakeDone_) status = readPlaintext(plaintextOut);
  // Belief: BoringSSL stops only on WANT_READ (input exhausted) or an error, so a
  // live session consumed everything. Never keep a pointer into the caller's buffer.
  in_ = nullptr;
  inLen_ = 0;
  return status;
}

Status TlsSession::sealRecord(const char* data, size_t len) {
  // Our BIO accepts every write, so SSL_write completes in one call (splitting into
  // 16 KiB records itself); there is no partial-write state to carry.
  while (len > 0) {
    int chunk = static_cast<int>(std::min(len, static_cast<size_t>(INT_MAX / 2)));
    int ret = SSL_write(ssl_, data, chunk);
    if (ret <= 0) return fail("tls-error", ret);
    data += ret;
    len -= static_cast<size_t>(ret);
  }
  return Status::ok();
}

Status TlsSession::flushEarlyWrites() {
  if (early_.empty()) return Status::ok();
  std::string pending;
  pending.swap(early_);  // releases the buffer: idle sessions keep no capacity
  if (closed_) return Status::ok();
  return sealRecord(pending.data(), pending.size());
}

Status TlsSession::write(std::string_view plaintext) {
  if (closed_) return Status::fail("tls-closed", "write after shutdown or failure");
  if (plaintext.empty()) return Status::ok();
  if (!handshakeDone_) {
    early_.append(plaintext);
    return Status::ok();
  }
  clearSslErrors();
  return sealRecord(plaintext.data(), plaintext.size());
}

Status TlsSession::write(std::span<const std::string_view> pieces) {
  if (closed_) return Status::fail("tls-closed", "write after shutdown or failure");
  if (!handshakeDone_) {
    for (auto piece : pieces) early_.append(piece);
    return Status::ok();
  }
  clearSslErrors();
  // Fill full records; pieces may straddle records (TLS is a byte stream).
  char record[kMaxRecordPlaintext];
  size_t used = 0;
  for (auto piece : pieces) {
    while (!piece.empty()) {
      size_t n = std::min(piece.size(), sizeof(record) - used);
      std::copy_n(piece.data(), n, record + used);
      used += n;
      piece.remove_prefix(n);
      if (used == sizeof(record)) {
        if (auto s = sealRecord(record, used); !s) return s;
        used = 0;
      }
    }
  }
  return used > 0 ? sealRecord(record, used) : Status::ok();
}

void TlsSession::shutdown() {
  if (closed_) return;
  closed_ = true;
  early_.clear();
  if (!handshakeDone_ || failed_) return;
  clearSslErrors();
  // Queues close_notify; we do not wait for the peer's (the caller closes after
  // flushing), so the return value (0: "not yet received theirs") is expected.
  SSL_shutdown(ssl_);
  clearSslErrors();
}

// ---- introspection -------------------------------------------------------------------

std::string_view TlsSession::version() const {
  return handshakeDone_ ? SSL_get_version(ssl_) : std::string_view();
}

std::string_view TlsSession::cipher() const {
  const SSL_CIPHER* c = handshakeDone_ ? SSL_get_current_cipher(ssl_) : nullptr;
  return c != nullptr ? SSL_CIPHER_get_name(c) : std::string_view();
}

std::string_view TlsSession::alpn() const {
  const uint8_t* data = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_, &data, &len);
  return data != nullptr ? std::string_view(reinterpret_cast<const char*>(data), len)
                         : std::string_view();
}

std::string_view TlsSession::group() const {
  uint16_t id = handshakeDone_ ? SSL_get_curve_id(ssl_) : 0;
  const char* name = id != 0 ? SSL_get_curve_name(id) : nullptr;
  return name != nullptr ? name : std::string_view();
}

std::string_view TlsSession::serverName() const {
  const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
  return name != nullptr ? name : std::string_view();
}

bool TlsSession::resumed() const { return handshakeDone_ && SSL_session_reused(ssl_); }

bool TlsSession::usedHelloRetry() const {
  return handshakeDone_ && SSL_used_hello_retry_request(ssl_);
}

bool TlsSession::peerVerified() const {
  if (!handshakeDone_ || failed_ || !context_->verifiesPeer()) return false;
  if (SSL_get0_peer_certificates(ssl_) == nullptr) return false;  // none presented
  return SSL_get_verify_result(ssl_) == X509_V_OK;
}

std::vector<std::string> TlsSession::peerNames() const {
  std::vector<std::string> names;
  if (!peerVerified()) return names;
  bssl::UniquePtr<X509> cert(SSL_get_peer_certificate(ssl_));
  if (!cert) return names;
  X509_NAME* subject = X509_get_subject_name(cert.get());
  for (int i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) >= 0;) {
    appendName(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)), names);
  }
  bssl::UniquePtr<GENERAL_NAMES> sans(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (size_t i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
    if (gn->type == GEN_DNS) appendName(gn->d.dNSName, names);
  }
  return names;
}

}  // namespace xmesh::tls
