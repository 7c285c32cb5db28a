#include "tls/ssl_error.h"

#include <openssl/err.h>

namespace xmesh::tls {

std::string takeSslErrors(std::string_view context) {
  std::string detail(context);
  // Why a cap: a malformed certificate can queue a long chain of ASN.1 errors; the
  // first few locate the problem and the detail ends up in a log line.
  constexpr int kMaxEntries = 4;
  int taken = 0;
  while (uint32_t code = ERR_get_error()) {
    if (taken++ >= kMaxEntries) continue;  // keep draining, stop formatting
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    detail += taken == 1 ? ": " : "; ";
    detail += buf;
  }
  return detail;
}

void clearSslErrors() { ERR_clear_error(); }

}  // namespace xmesh::tls
