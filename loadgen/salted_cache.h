// Per-user SCRAM salted passwords, so a load generator process runs PBKDF2 at most once
// per user (as real clients that store SaltedPassword do), or never when the population
// generator's key file is loaded. The cache is consulted before every SCRAM exchange and
// is only used when the server's salt and iteration count match the cached ones.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/status.h"
#include "sasl/credentials.h"

namespace xmesh::loadgen {

struct SaltedKeys {
  std::string salt;  // raw bytes
  uint32_t iterations = 0;
  std::string sha1;    // raw SaltedPassword for SCRAM-SHA-1 ("" if unknown)
  std::string sha256;  // raw SaltedPassword for SCRAM-SHA-256 ("" if unknown)
};

class SaltedCache {
 public:
  // Reads a key file written by gen-population: one line per user,
  // "username,iterations,b64 salt,b64 salted sha1,b64 salted sha256"; '#' lines skipped.
  // Errors: reason "keys-file" with the file name or line number.
  Status loadFile(const std::string& path);

  const SaltedKeys* find(std::string_view user) const;
  // Remembers a salted password computed during a login.
  void store(std::string_view user, sasl::HashAlg alg, std::string_view salt, uint32_t iterations,
             std::string_view salted);
  size_t size() const { return keys_.size(); }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  void countLookup(bool hit) const { (hit ? hits_ : misses_)++; }

  // One key-file line (no newline), shared with the population generator.
  static std::string formatLine(std::string_view user, const SaltedKeys& keys);

 private:
  std::unordered_map<std::string, SaltedKeys> keys_;
  mutable uint64_t hits_ = 0;
  mutable uint64_t misses_ = 0;
};

}  // namespace xmesh::loadgen
