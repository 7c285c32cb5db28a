#include "tls/ticket_keys.h"

#include <openssl/aes.h>
#include <openssl/evp.h>
#include <openssl/hkdf.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstring>

namespace xmesh::tls {
namespace {

int ticketKeysIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int64_t systemSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

SharedTicketKeys::SharedTicketKeys(std::string secret, std::function<int64_t()> nowSeconds)
    : secret_(std::move(secret)), now_(nowSeconds ? std::move(nowSeconds) : systemSeconds) {}

void SharedTicketKeys::install(SSL_CTX* ctx) {
  SSL_CTX_set_ex_data(ctx, ticketKeysIndex(), this);
  SSL_CTX_set_tlsext_ticket_key_cb(ctx, callback);
}

int64_t SharedTicketKeys::currentPeriod() const { return now_() / kPeriodSeconds; }

SharedTicketKeys::PeriodKeys SharedTicketKeys::keysFor(int64_t period) const {
  static constexpr char kSalt[] = "xmesh session ticket keys v1";
  uint8_t info[8];
  for (int i = 0; i < 8; ++i) info[i] = static_cast<uint8_t>(static_cast<uint64_t>(period) >> (56 - 8 * i));
  PeriodKeys k;
  static_assert(sizeof(PeriodKeys) == 64);
  HKDF(reinterpret_cast<uint8_t*>(&k), sizeof k, EVP_sha256(), reinterpret_cast<const uint8_t*>(secret_.data()),
       secret_.size(), reinterpret_cast<const uint8_t*>(kSalt), sizeof kSalt - 1, info, sizeof info);
  return k;
}

// BoringSSL's ticket key callback (the OpenSSL contract): 1 = sealed/opened, 2 = opened,
// please issue a fresh ticket, 0 = unknown key (full handshake), -1 = error.
int SharedTicketKeys::callback(SSL* ssl, uint8_t* keyName, uint8_t* iv, EVP_CIPHER_CTX* cipher,
                               HMAC_CTX* hmac, int encrypt) {
  const auto* self = static_cast<const SharedTicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ticketKeysIndex()));
  if (self == nullptr) return -1;
  const int64_t now = self->currentPeriod();
  auto init = [&](const PeriodKeys& k, bool seal) {
    const bool ok = HMAC_Init_ex(hmac, k.hmac, sizeof k.hmac, EVP_sha256(), nullptr) &&
                    (seal ? EVP_EncryptInit_ex(cipher, EVP_aes_128_cbc(), nullptr, k.aes, iv)
                          : EVP_DecryptInit_ex(cipher, EVP_aes_128_cbc(), nullptr, k.aes, iv));
    return ok;
  };
  if (encrypt) {
    PeriodKeys k = self->keysFor(now);
    std::memcpy(keyName, k.name, sizeof k.name);
    if (!RAND_bytes(iv, EVP_MAX_IV_LENGTH) || !init(k, true)) return -1;
    OPENSSL_cleanse(&k, sizeof k);
    return 1;
  }
  for (int64_t period : {now, now - 1, now + 1}) {
    PeriodKeys k = self->keysFor(period);
    if (CRYPTO_memcmp(keyName, k.name, sizeof k.name) != 0) continue;
    const bool ok = init(k, false);
    OPENSSL_cleanse(&k, sizeof k);
    if (!ok) return -1;
    return period == now ? 1 : 2;
  }
  return 0;
}

}  // namespace xmesh::tls
