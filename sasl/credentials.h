// SCRAM key material (RFC 5802 §3) and its storage format.
//
// The store never holds passwords: only salt, iteration count, StoredKey and ServerKey,
// for SHA-1 and SHA-256 at once (same salt and iterations) so a user can log in with
// either mechanism.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace xmesh::sasl {

enum class HashAlg { Sha1, Sha256 };

size_t hashSize(HashAlg alg);             // 20 or 32
std::string_view mechanismName(HashAlg alg);  // "SCRAM-SHA-1" / "SCRAM-SHA-256"

// All keys and the salt are raw bytes.
struct ScramCredentials {
  HashAlg alg = HashAlg::Sha256;
  std::string salt;
  uint32_t iterations = 4096;
  std::string storedKey;
  std::string serverKey;
};

// Hi(Normalize(password), salt, i) = PBKDF2-HMAC. The password is SASLprep'ed ("stored
// strings" rules); if SASLprep refuses it, its raw bytes are used, so the same input
// always gives the same key on the client and on the server. iterations must be >= 1.
std::string saltedPassword(HashAlg alg, std::string_view password, std::string_view salt,
                           uint32_t iterations);
ScramCredentials credentialsFromSalted(HashAlg alg, std::string_view salted,
                                       std::string_view salt, uint32_t iterations);
ScramCredentials deriveCredentials(HashAlg alg, std::string_view password,
                                   std::string_view salt, uint32_t iterations);

// Checks a PLAIN password against stored SCRAM keys: derives StoredKey and compares in
// constant time. Costs one PBKDF2 run.
bool verifyPassword(const ScramCredentials& creds, std::string_view password);

std::string randomBytes(size_t n);
// Standard alphabet with padding. Decoding is strict (no whitespace, padding required);
// error reason "incorrect-encoding".
std::string base64Encode(std::string_view bytes);
Result<std::string> base64Decode(std::string_view text);

// Text form used by the store and the bulk-import CSV (one field, no commas):
// "scram1:<iterations>:<b64 salt>:<b64 storedKey sha1>:<b64 serverKey sha1>:
//  <b64 storedKey sha256>:<b64 serverKey sha256>" (on one line).
struct StoredSecrets {
  ScramCredentials sha1;
  ScramCredentials sha256;
};
StoredSecrets deriveStoredSecrets(std::string_view password, std::string_view salt,
                                  uint32_t iterations);
std::string formatStoredSecrets(const StoredSecrets& secrets);
// Error reason "bad-stored-secrets"; key sizes, a non-empty salt and iterations >= 1
// are checked.
Result<StoredSecrets> parseStoredSecrets(std::string_view text);

}  // namespace xmesh::sasl
