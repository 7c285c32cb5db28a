#include "sasl/credentials.h"

#include <openssl/base64.h>
#include <openssl/digest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/rand.h>

#include <cassert>
#include <charconv>
#include <vector>

#include "jid/prep.h"
#include "sasl/hash.h"

namespace xmesh::sasl {
namespace {

const EVP_MD* evpMd(HashAlg alg) { return alg == HashAlg::Sha1 ? EVP_sha1() : EVP_sha256(); }

const uint8_t* bytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

Error badSecrets(std::string detail) { return Error{"bad-stored-secrets", std::move(detail)}; }

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t end = text.find(sep, start);
    if (end == std::string_view::npos) {
      out.push_back(text.substr(start));
      return out;
    }
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

Result<std::string> decodeKey(std::string_view b64, size_t size, const char* what) {
  Result<std::string> key = base64Decode(b64);
  if (!key) return badSecrets(std::string(what) + ": bad base64");
  if (key->size() != size) return badSecrets(std::string(what) + ": wrong size");
  return key;
}

}  // namespace

size_t hashSize(HashAlg alg) { return alg == HashAlg::Sha1 ? 20 : 32; }

std::string_view mechanismName(HashAlg alg) {
  return alg == HashAlg::Sha1 ? "SCRAM-SHA-1" : "SCRAM-SHA-256";
}

std::string hmac(HashAlg alg, std::string_view key, std::string_view data) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  HMAC(evpMd(alg), key.data(), key.size(), bytes(data), data.size(),
       reinterpret_cast<uint8_t*>(out.data()), &len);
  out.resize(len);
  return out;
}

std::string digest(HashAlg alg, std::string_view data) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), reinterpret_cast<uint8_t*>(out.data()), &len,
             evpMd(alg), nullptr);
  out.resize(len);
  return out;
}

bool constantTimeEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string xorBytes(std::string_view a, std::string_view b) {
  assert(a.size() == b.size());
  std::string out(a);
  for (size_t i = 0; i < out.size() && i < b.size(); ++i) out[i] = static_cast<char>(out[i] ^ b[i]);
  return out;
}

std::string saltedPassword(HashAlg alg, std::string_view password, std::string_view salt,
                           uint32_t iterations) {
  assert(iterations >= 1);
  Result<std::string> prepared = jid::saslprep(password, /*storedString=*/true);
  std::string_view normalized = prepared ? std::string_view(prepared.value()) : password;
  std::string out(hashSize(alg), '\0');
  int ok = PKCS5_PBKDF2_HMAC(normalized.data(), normalized.size(), bytes(salt), salt.size(),
                             iterations, evpMd(alg), out.size(),
                             reinterpret_cast<uint8_t*>(out.data()));
  // Fails only on allocation failure or iterations == 0, both excluded above.
  assert(ok == 1);
  (void)ok;
  return out;
}

ScramCredentials credentialsFromSalted(HashAlg alg, std::string_view salted,
                                       std::string_view salt, uint32_t iterations) {
  ScramCredentials creds;
  creds.alg = alg;
  creds.salt = std::string(salt);
  creds.iterations = iterations;
  creds.storedKey = digest(alg, hmac(alg, salted, "Client Key"));
  creds.serverKey = hmac(alg, salted, "Server Key");
  return creds;
}

ScramCredentials deriveCredentials(HashAlg alg, std::string_view password,
                                   std::string_view salt, uint32_t iterations) {
  return credentialsFromSalted(alg, saltedPassword(alg, password, salt, iterations), salt,
                               iterations);
}

bool verifyPassword(const ScramCredentials& creds, std::string_view password) {
  if (creds.iterations == 0) return false;
  std::string salted = saltedPassword(creds.alg, password, creds.salt, creds.iterations);
  std::string storedKey = digest(creds.alg, hmac(creds.alg, salted, "Client Key"));
  return constantTimeEqual(storedKey, creds.storedKey);
}

std::string randomBytes(size_t n) {
  std::string out(n, '\0');
  RAND_bytes(reinterpret_cast<uint8_t*>(out.data()), n);
  return out;
}

std::string base64Encode(std::string_view data) {
  size_t len = 0;
  if (!EVP_EncodedLength(&len, data.size())) return {};
  std::string out(len, '\0');
  size_t written = EVP_EncodeBlock(reinterpret_cast<uint8_t*>(out.data()), bytes(data),
                                   data.size());
  out.resize(written);
  return out;
}

Result<std::string> base64Decode(std::string_view text) {
  size_t max = 0;
  if (!EVP_DecodedLength(&max, text.size())) {
    return Error{"incorrect-encoding", "base64 length is not a multiple of 4"};
  }
  std::string out(max, '\0');
  size_t len = 0;
  if (!EVP_DecodeBase64(reinterpret_cast<uint8_t*>(out.data()), &len, max, bytes(text),
                        text.size())) {
    return Error{"incorrect-encoding", "invalid base64"};
  }
  out.resize(len);
  return out;
}

StoredSecrets deriveStoredSecrets(std::string_view password, std::string_view salt,
                                  uint32_t iterations) {
  return StoredSecrets{deriveCredentials(HashAlg::Sha1, password, salt, iterations),
                       deriveCredentials(HashAlg::Sha256, password, salt, iterations)};
}

std::string formatStoredSecrets(const StoredSecrets& s) {
  std::string out = "scram1:";
  out += std::to_string(s.sha256.iterations);
  for (std::string_view field : {std::string_view(s.sha256.salt),
                                 std::string_view(s.sha1.storedKey),
                                 std::string_view(s.sha1.serverKey),
                                 std::string_view(s.sha256.storedKey),
                                 std::string_view(s.sha256.serverKey)}) {
    out += ':';
    out += base64Encode(field);
  }
  return out;
}

Result<StoredSecrets> parseStoredSecrets(std::string_view text) {
  std::vector<std::string_view> f = split(text, ':');
  if (f.size() != 7) return badSecrets("expected 7 fields");
  if (f[0] != "scram1") return badSecrets("unknown version tag");
  uint32_t iterations = 0;
  const char* end = f[1].data() + f[1].size();
  auto [ptr, ec] = std::from_chars(f[1].data(), end, iterations);
  if (f[1].empty() || ec != std::errc() || ptr != end || iterations == 0) {
    return badSecrets("bad iteration count");
  }
  Result<std::string> salt = base64Decode(f[2]);
  if (!salt || salt->empty()) return badSecrets("bad salt");
  Result<std::string> sk1 = decodeKey(f[3], 20, "sha1 storedKey");
  if (!sk1) return sk1.error();
  Result<std::string> svk1 = decodeKey(f[4], 20, "sha1 serverKey");
  if (!svk1) return svk1.error();
  Result<std::string> sk256 = decodeKey(f[5], 32, "sha256 storedKey");
  if (!sk256) return sk256.error();
  Result<std::string> svk256 = decodeKey(f[6], 32, "sha256 serverKey");
  if (!svk256) return svk256.error();
  StoredSecrets s;
  s.sha1 = ScramCredentials{HashAlg::Sha1, salt.value(), iterations, sk1.value(), svk1.value()};
  s.sha256 = ScramCredentials{HashAlg::Sha256, salt.value(), iterations, sk256.value(),
                              svk256.value()};
  return s;
}

}  // namespace xmesh::sasl
