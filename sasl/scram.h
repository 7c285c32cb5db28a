// SCRAM-SHA-1 / SCRAM-SHA-256 (RFC 5802, RFC 7677), sans-IO: messages in, messages out.
// No channel binding: this server never offers the -PLUS mechanisms.
//
// Server flow for one <auth/> exchange:
//   ScramServer s(HashAlg::Sha256, domain);
//   auto user = s.receiveClientFirst(msg1);          // error -> <failure/>
//   creds = store.lookup(user)                        // may be absent
//   send(s.makeServerFirst(found ? &creds : nullptr));
//   auto out = s.receiveClientFinal(msg2);           // string -> <success/>, Failure -> <failure/>
// An unknown user gets a plausible server-first and fails only at the last step, with
// the same not-authorized as a wrong password, so the exchange does not reveal which
// accounts exist.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "core/status.h"
#include "sasl/credentials.h"
#include "sasl/failure.h"

namespace xmesh::sasl {

// What an unknown user's server-first looks like: the fake salt is
// HMAC(secret, mechanism + username), so it is stable across attempts. Make saltLength and
// iterations match what the store issues to real users, and give every node of a cluster
// the same secret, or comparing nodes (or restarts) tells fake salts apart. Default: a
// random per-process secret, 16-byte salts, 4096 iterations. Call at start-up, before
// any exchange; the policy is read under a lock, so a later call is safe but racy in
// effect.
struct UnknownUserPolicy {
  std::string secret;
  size_t saltLength = 16;
  uint32_t iterations = 4096;
};
void setUnknownUserPolicy(UnknownUserPolicy policy);

class ScramServer {
 public:
  // domain (already nameprep'ed) lets an authzid of the form "<username>@<domain>" through;
  // otherwise only an authzid equal to the username is accepted.
  explicit ScramServer(HashAlg alg, std::string domain = {});

  // Step 1: parses client-first-message. On success returns the user name to look up
  // (=2C/=3D unescaped, SASLprep'ed). Error::reason is a failureName() (see
  // failureFromName()): malformed-request, invalid-authzid.
  Result<std::string> receiveClientFirst(std::string_view message);
  // Step 2: after the store lookup. creds == nullptr (or credentials for another hash)
  // means an unknown user. Must follow a successful receiveClientFirst().
  std::string makeServerFirst(const ScramCredentials* creds);
  // Step 3: verifies client-final-message; returns server-final-message ("v=...") or the
  // failure to report. One shot: the exchange is over either way.
  std::variant<std::string, Failure> receiveClientFinal(std::string_view message);

  const std::string& username() const { return username_; }
  HashAlg alg() const { return alg_; }

  // Fixes the server's part of the nonce (test vectors).
  void setServerNonceForTest(std::string nonce) { serverNonceForTest_ = std::move(nonce); }

 private:
  enum class State { Start, GotClientFirst, SentServerFirst, Done };

  Status checkAuthzid(std::string_view authzid) const;

  HashAlg alg_;
  std::string domain_;
  State state_ = State::Start;
  std::string username_;
  std::string gs2Header_;
  std::string clientFirstBare_;
  std::string clientNonce_;
  std::string nonce_;
  std::string serverFirst_;
  std::string storedKey_;
  std::string serverKey_;
  bool knownUser_ = false;
  std::string serverNonceForTest_;
};

// Client side, for tests and the load generator.
class ScramClient {
 public:
  ScramClient(HashAlg alg, std::string username, std::string password);

  // Reuses a salted password computed earlier (the caller keeps the cache, keyed by user,
  // from saltedPasswordUsed()/lastSalt()/lastIterations()) when the server sends this
  // same salt and iteration count; PBKDF2 runs otherwise.
  void setSaltedPasswordCache(std::string salted, std::string salt, uint32_t iterations);

  std::string clientFirst();
  // Returns client-final-message. Errors (reason "scram-bad-server-first"): syntax, a
  // nonce that does not extend ours, empty salt, iterations outside [1, 10'000'000].
  Result<std::string> receiveServerFirst(std::string_view message);
  // Reasons: "scram-server-error" (e=...), "scram-bad-server-final",
  // "scram-server-signature-mismatch".
  Status verifyServerFinal(std::string_view message);

  const std::string& saltedPasswordUsed() const { return salted_; }
  std::string_view lastSalt() const { return salt_; }
  uint32_t lastIterations() const { return iterations_; }

  void setClientNonceForTest(std::string nonce) { clientNonce_ = std::move(nonce); }

 private:
  HashAlg alg_;
  std::string username_;
  std::string password_;
  std::string clientNonce_;
  std::string clientFirstBare_;
  std::string cachedSalted_;
  std::string cachedSalt_;
  uint32_t cachedIterations_ = 0;
  std::string salted_;
  std::string salt_;
  uint32_t iterations_ = 0;
  std::string expectedServerSignature_;
};

}  // namespace xmesh::sasl
