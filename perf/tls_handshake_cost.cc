// Instructions per TLS handshake, server side and client side separately, for the
// settings that decide what a login storm costs: key exchange group, certificate key
// type, TLS version, full handshake or ticket resumption. N handshakes run between an
// in-memory client/server TlsSession pair (no sockets, no loop); callgrind collection is
// switched on only around the measured side's calls (session creation, every feed(),
// destruction), so a run counts exactly one side's work:
//
//   valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=cg.out
//     build/release/perf/tls_handshake_cost --measure server --count 200 [options]
//   awk '/^totals:/ {print $2}' cg.out      # divide by --count
//
// perf/tls_handshake_cost.sh runs the whole matrix and prints the table. Without
// valgrind the binary just checks that every variant negotiates what it claims.
//
// Options:
//   --measure server|client|none   side whose instructions are collected (default server)
//   --count N                      measured handshakes (default 100; 5 unmeasured first)
//   --version 1.2|1.3              client's maximum version (the server allows both)
//   --cert p256|rsa2048|ed25519    server certificate key type (self-signed, made here)
//   --server-groups LIST           e.g. X25519:P-256 (default: TlsContext::server's own)
//   --client-groups LIST           e.g. P-256:X25519; the client sends a key share for
//                                  the first only (as OpenSSL 3.0 and BoringSSL do)
//   --resume                       every measured handshake resumes the previous one's
//                                  session (TLS 1.3 PSK+ECDHE, or a TLS 1.2 ticket)
//   --verify                       the client verifies the chain and name (loadgen does not)
//   --no-tickets                   the server issues no session ticket (what one costs)
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <valgrind/callgrind.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "tls/context.h"
#include "tls/selfsigned.h"
#include "tls/session.h"

using namespace xmesh;

namespace {

constexpr const char* kName = "xmpp.example.org";

enum class Side { Server, Client, None };

struct Args {
  Side measure = Side::Server;
  int count = 100;
  tls::TlsVersion version = tls::TlsVersion::Tls13;
  std::string cert = "p256";
  std::string serverGroups;
  std::string clientGroups;
  bool resume = false;
  bool verify = false;
  bool tickets = true;
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "tls_handshake_cost: %s\n", what.c_str());
  std::exit(2);
}

bool parseArgs(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value for " + k);
      return argv[++i];
    };
    if (k == "--measure") {
      std::string v = value();
      a->measure = v == "server" ? Side::Server : v == "client" ? Side::Client : Side::None;
    } else if (k == "--count") {
      a->count = std::atoi(value().c_str());
    } else if (k == "--version") {
      if (!tls::parseTlsVersion(value(), &a->version)) return false;
    } else if (k == "--cert") {
      a->cert = value();
    } else if (k == "--server-groups") {
      a->serverGroups = value();
    } else if (k == "--client-groups") {
      a->clientGroups = value();
    } else if (k == "--resume") {
      a->resume = true;
    } else if (k == "--verify") {
      a->verify = true;
    } else if (k == "--no-tickets") {
      a->tickets = false;
    } else {
      return false;
    }
  }
  return a->count > 0;
}

// ---- certificates other than P-256 (tls/selfsigned.h only makes P-256) ----------------

bssl::UniquePtr<EVP_PKEY> makeKey(const std::string& type) {
  bssl::UniquePtr<EVP_PKEY> key;
  if (type == "rsa2048") {
    bssl::UniquePtr<RSA> rsa(RSA_new());
    bssl::UniquePtr<BIGNUM> e(BN_new());
    if (!rsa || !e || !BN_set_word(e.get(), RSA_F4) ||
        !RSA_generate_key_ex(rsa.get(), 2048, e.get(), nullptr)) {
      return nullptr;
    }
    key.reset(EVP_PKEY_new());
    if (!key || !EVP_PKEY_assign_RSA(key.get(), rsa.release())) return nullptr;
  } else if (type == "ed25519") {
    bssl::UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
    EVP_PKEY* raw = nullptr;
    if (!ctx || !EVP_PKEY_keygen_init(ctx.get()) || !EVP_PKEY_keygen(ctx.get(), &raw)) {
      return nullptr;
    }
    key.reset(raw);
  }
  return key;
}

bool addExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX v3;
  std::memset(&v3, 0, sizeof(v3));
  X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
  bssl::UniquePtr<X509_EXTENSION> ext(X509V3_EXT_nconf_nid(nullptr, &v3, nid, value));
  return ext && X509_add_ext(cert, ext.get(), -1);
}

// A self-signed leaf shaped like tls::generateSelfSigned's: CN and DNS SAN kName.
void writeSelfSigned(const std::string& type, const std::string& certPath,
                     const std::string& keyPath) {
  bssl::UniquePtr<EVP_PKEY> key = makeKey(type);
  if (!key) die("generating a " + type + " key");
  bssl::UniquePtr<X509> cert(X509_new());
  X509_NAME* subject = X509_get_subject_name(cert.get());
  bool ok = X509_set_version(cert.get(), X509_VERSION_3) &&
            ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1) &&
            X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
                                       reinterpret_cast<const uint8_t*>(kName), -1, -1, 0) &&
            X509_set_issuer_name(cert.get(), subject) &&
            X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) &&
            X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400) &&
            X509_set_pubkey(cert.get(), key.get()) &&
            addExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE") &&
            addExtension(cert.get(), NID_subject_alt_name, "DNS:xmpp.example.org") &&
            // Ed25519 signs the message itself: no digest.
            X509_sign(cert.get(), key.get(), type == "ed25519" ? nullptr : EVP_sha256());
  if (!ok) die("building the " + type + " certificate");
  FILE* kf = std::fopen(keyPath.c_str(), "w");
  FILE* cf = std::fopen(certPath.c_str(), "w");
  if (kf == nullptr || cf == nullptr) die("writing certificate files");
  ok = PEM_write_PrivateKey(kf, key.get(), nullptr, nullptr, 0, nullptr, nullptr) &&
       PEM_write_X509(cf, cert.get());
  ok = std::fclose(kf) == 0 && ok;
  ok = std::fclose(cf) == 0 && ok;
  if (!ok) die("writing certificate files");
}

// ---- the handshake loop -------------------------------------------------------------

class Driver {
 public:
  Driver(const Args& args, tls::TlsContextPtr server, tls::TlsContextPtr client)
      : args_(args), server_(std::move(server)), client_(std::move(client)) {}

  // Runs f with collection on when `side` is the measured one.
  template <typename F>
  auto onSide(Side side, F&& f) {
    bool on = measuring_ && side == args_.measure;
    if (on) CALLGRIND_TOGGLE_COLLECT;
    auto result = f();
    if (on) CALLGRIND_TOGGLE_COLLECT;
    return result;
  }

  // One handshake, collection toggled around the measured side's calls only.
  void handshake(bool measured) {
    measuring_ = measured;
    tls::TlsSessionPtr client = onSide(Side::Client, [&] { return connect(); });
    tls::TlsSessionPtr server = onSide(Side::Server, [&] { return accept(); });
    std::string plain;
    for (int round = 0; round < 10; ++round) {
      bool moved = false;
      if (client->hasPendingCiphertext()) {
        std::string bytes = std::move(client->pendingCiphertext());
        client->pendingCiphertext().clear();
        onSide(Side::Server, [&] { return check(server->feed(bytes, plain), "server"); });
        moved = true;
      }
      if (server->hasPendingCiphertext()) {
        std::string bytes = std::move(server->pendingCiphertext());
        server->pendingCiphertext().clear();
        onSide(Side::Client, [&] { return check(client->feed(bytes, plain), "client"); });
        moved = true;
      }
      if (!moved) break;
    }
    if (!client->handshakeDone() || !server->handshakeDone()) die("handshake did not complete");
    if (measured) record(*client, *server);
    onSide(Side::Server, [&] {
      server.reset();
      return 0;
    });
    onSide(Side::Client, [&] {
      client.reset();
      return 0;
    });
  }

  void print() const {
    std::printf("handshakes %d resumed %d hello-retry %d version %s cipher %s group %s\n",
                handshakes_, resumed_, helloRetries_, version_.c_str(), cipher_.c_str(),
                group_.c_str());
  }
  bool consistent() const { return args_.resume ? resumed_ == handshakes_ : resumed_ == 0; }

 private:
  static int check(const Status& s, const char* side) {
    if (!s) die(std::string(side) + ": " + s.error().reason + ": " + s.error().detail);
    return 0;
  }

  tls::TlsSessionPtr connect() {
    auto r = tls::TlsSession::connect(*client_, kName);
    if (!r) die("connect: " + r.error().detail);
    return std::move(r.value());
  }
  tls::TlsSessionPtr accept() {
    auto r = tls::TlsSession::accept(*server_);
    if (!r) die("accept: " + r.error().detail);
    return std::move(r.value());
  }

  void record(const tls::TlsSession& client, const tls::TlsSession& server) {
    ++handshakes_;
    if (server.resumed() && client.resumed()) ++resumed_;
    if (server.usedHelloRetry()) ++helloRetries_;
    version_ = server.version();
    cipher_ = server.cipher();
    group_ = server.group();
  }

  const Args& args_;
  tls::TlsContextPtr server_, client_;
  bool measuring_ = false;
  int handshakes_ = 0, resumed_ = 0, helloRetries_ = 0;
  std::string version_, cipher_, group_;
};

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parseArgs(argc, argv, &args)) {
    std::fprintf(stderr,
                 "usage: tls_handshake_cost [--measure server|client|none] [--count N] "
                 "[--version 1.2|1.3] [--cert p256|rsa2048|ed25519] [--server-groups L] "
                 "[--client-groups L] [--resume] [--verify] [--no-tickets]\n");
    return 2;
  }
  std::string dir = std::filesystem::temp_directory_path() / "xmesh-hs-cost-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) die("mkdtemp");
  std::string certPath = dir + "/server.pem", keyPath = dir + "/server.key";
  if (args.cert == "p256") {
    if (!tls::generateSelfSigned(certPath, keyPath, {kName}, 1)) die("generateSelfSigned");
  } else {
    writeSelfSigned(args.cert, certPath, keyPath);
  }

  tls::ServerOptions so;
  so.certChainFile = certPath;
  so.keyFile = keyPath;
  so.sessionTickets = args.tickets;
  auto server = tls::TlsContext::server(so);
  if (!server) die("server context: " + server.error().detail);
  tls::ClientOptions co;
  co.maxVersion = args.version;
  co.sessionCacheSize = args.resume ? 16 : 0;
  if (args.verify) co.caFile = certPath;
  else co.insecureSkipVerify = true;
  auto client = tls::TlsContext::client(co);
  if (!client) die("client context: " + client.error().detail);
  std::filesystem::remove_all(dir);

  SSL_CTX* sctx = server.value()->native();
  SSL_CTX* cctx = client.value()->native();
  if (!args.serverGroups.empty() && !SSL_CTX_set1_curves_list(sctx, args.serverGroups.c_str()))
    die("bad --server-groups");
  if (!args.clientGroups.empty() && !SSL_CTX_set1_curves_list(cctx, args.clientGroups.c_str()))
    die("bad --client-groups");
  if (args.cert == "ed25519") {
    // BoringSSL clients do not offer Ed25519 unless asked (OpenSSL 1.1.1+ does).
    static const uint16_t kPrefs[] = {SSL_SIGN_ED25519, SSL_SIGN_ECDSA_SECP256R1_SHA256,
                                      SSL_SIGN_RSA_PSS_RSAE_SHA256,
                                      SSL_SIGN_RSA_PKCS1_SHA256};
    if (!SSL_CTX_set_verify_algorithm_prefs(cctx, kPrefs, sizeof(kPrefs) / sizeof(kPrefs[0])))
      die("verify prefs");
  }

  Driver driver(args, server.value(), client.value());
  for (int i = 0; i < 5; ++i) driver.handshake(false);  // warm allocator; leaves a ticket
  CALLGRIND_START_INSTRUMENTATION;
  for (int i = 0; i < args.count; ++i) driver.handshake(true);
  CALLGRIND_STOP_INSTRUMENTATION;
  driver.print();
  return driver.consistent() ? 0 : 1;
}
