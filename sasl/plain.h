// SASL PLAIN (RFC 4616): "authzid NUL authcid NUL passwd". Only ever offered inside TLS
// (the session layer enforces that). The password is checked against the stored SCRAM
// keys with verifyPassword() (credentials.h).
#pragma once
#include <string>
#include <string_view>

#include "core/status.h"

namespace xmesh::sasl {

struct PlainCredentials {
  std::string authzid;   // as sent (a JID or empty); the caller validates it
  std::string authcid;   // SASLprep'ed ("query" rules)
  std::string password;  // raw; saltedPassword() normalizes it
};

// Errors (reason "malformed-request"): not exactly two NULs, empty authcid or password,
// a field over 1023 bytes, invalid UTF-8, an authcid that fails SASLprep.
Result<PlainCredentials> parsePlain(std::string_view message);

}  // namespace xmesh::sasl
