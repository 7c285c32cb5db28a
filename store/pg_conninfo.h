// The connection parameters xmesh gives libpq, and the one policy they enforce: no TLS
// (nor GSSAPI encryption) to the database.
//
// Why: xmeshd links BoringSSL, Debian's libpq links OpenSSL 3. BoringSSL's symbols are
// unversioned and load first (a direct dependency of the executable), so the dynamic
// linker binds libpq's OpenSSL references to BoringSSL (LD_DEBUG=bindings shows
// HMAC_Init_ex, EVP_DigestInit_ex, RAND_bytes going to BoringSSL's libcrypto). For
// SCRAM-SHA-256 logins that is harmless: those calls have the same API in both, and
// the PostgreSQL tests log in that way. A TLS handshake is not: libpq's SSL_* calls
// would run one library's libssl over the other's libcrypto structures. So the
// database is reached over a unix socket or plain TCP on a trusted link
// (docs/store-postgres.md), and every connection is forced to sslmode=disable and
// gssencmode=disable. A conninfo (or PGSSLMODE / PGGSSENCMODE / PGREQUIRESSL in the
// environment) that demands encryption is refused rather than silently downgraded;
// "allow" and "prefer" are downgraded to "disable".
#pragma once
#include <string>
#include <vector>

#include "core/status.h"

namespace xmesh::store::pg {

// libpq keyword/value pairs in the order PQconnectdbParams processes them (a later
// keyword overrides an earlier one).
struct ConnectParams {
  std::vector<std::string> keywords;
  std::vector<std::string> values;

  // The value finally in force for `keyword` ("" when unset).
  std::string get(const std::string& keyword) const;
};

struct ConnectDefaults {
  int connectTimeoutSeconds = 2;  // libpq's minimum; a down server must not hold a worker
  // A peer that vanished (host cut off) is noticed within about these times instead of
  // the kernel's minutes: TCP keepalives while waiting, a user timeout while sending.
  int keepaliveIdleSeconds = 5;
  int keepaliveIntervalSeconds = 2;
  int keepaliveCount = 2;
  int tcpUserTimeoutMs = 10000;
};

// `conninfo` is a postgresql:// URI or a key=value string. Our defaults come first, so
// the conninfo's own values (e.g. connect_timeout) win over them; the encryption modes
// and client_encoding come last and always win. Fails with "bad-conninfo" when the
// conninfo does not parse or asks for TLS or GSSAPI encryption.
Result<ConnectParams> connectParams(const std::string& conninfo, const ConnectDefaults& defaults = {});

}  // namespace xmesh::store::pg
