// Session ticket keys shared by several servers: every node given the same secret seals
// and opens the same tickets, so a client that logged in to one node of a redundancy
// pair resumes its TLS session on the other at failover instead of paying a full
// handshake (no certificate signature on either side: perf/tls_handshake_cost.sh puts a
// TLS 1.3 resumption at ~1.4 M server / ~1.4 M client instructions against ~2.1 M /
// ~3.2 M for a full one). Without a secret each node keeps BoringSSL's own random,
// self-rotating keys and a ticket only resumes on the node that issued it.
//
// Keys rotate by themselves with no coordination between nodes: each period (12 h of
// wall-clock time since the epoch) has its own name, HMAC and AES keys, derived with
// HKDF-SHA256 from the secret and the period number. Tickets are sealed with the
// current period's keys and opened with the current, previous or next one (clocks of
// two nodes may straddle a boundary); one opened with an older period's keys is
// renewed. So a ticket lives 12 to 24 h, and a leaked period key exposes only its own
// period's tickets. Rotate the secret itself by replacing it on every node.
#pragma once
#include <openssl/ssl.h>

#include <cstdint>
#include <functional>
#include <string>

namespace xmesh::tls {

class SharedTicketKeys {
 public:
  static constexpr int64_t kPeriodSeconds = 12 * 3600;
  static constexpr size_t kMinSecretBytes = 32;

  // `nowSeconds`: wall-clock seconds since the Unix epoch (tests pass their own).
  explicit SharedTicketKeys(std::string secret, std::function<int64_t()> nowSeconds = {});

  // Seals and opens this context's tickets with these keys. `this` must outlive `ctx`.
  void install(SSL_CTX* ctx);

 private:
  struct PeriodKeys {
    uint8_t name[16];
    uint8_t hmac[32];
    uint8_t aes[16];
  };
  PeriodKeys keysFor(int64_t period) const;
  int64_t currentPeriod() const;
  static int callback(SSL* ssl, uint8_t* keyName, uint8_t* iv, EVP_CIPHER_CTX* cipher, HMAC_CTX* hmac,
                      int encrypt);

  std::string secret_;
  std::function<int64_t()> now_;
};

}  // namespace xmesh::tls
