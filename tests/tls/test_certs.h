// Shared fixtures for the TLS tests: a certificate set generated once per test process
// into a private temp dir (nothing is checked into the tree, nothing expires), and a
// pump that moves ciphertext between two in-memory sessions.
#pragma once
#include <cstddef>
#include <limits>
#include <memory>
#include <string>

#include "core/status.h"
#include "tls/context.h"
#include "tls/session.h"

namespace xmesh::tls::test {

struct TestCerts {
  std::string dir;
  std::string caCert, caKey;                    // the "mesh" CA
  std::string serverCert, serverKey;            // CA-issued: xmpp.example.org, *.example.org
  std::string clientCert, clientKey;            // CA-issued: CN node2.mesh
  std::string otherCaCert, otherCaKey;          // an unrelated CA
  std::string otherClientCert, otherClientKey;  // issued by the unrelated CA
  std::string selfCert, selfKey;                // self-signed leaf: localhost
};

// Generated on first use; aborts the test binary if generation fails.
const TestCerts& testCerts();

inline constexpr const char* kServerName = "xmpp.example.org";

ServerOptions serverOptions();  // serverCert/serverKey, defaults otherwise
ClientOptions clientOptions();  // trusts the mesh CA, no client cert

struct PumpResult {
  Status client;
  Status server;
  bool ok() const { return client.isOk() && server.isOk(); }
};

// Moves pending ciphertext back and forth until both sides are quiet, feeding it in
// pieces of at most `chunk` bytes. Plaintext is appended to the *Plain strings. A side
// that failed stops receiving; its last bytes (an alert) are still delivered.
PumpResult pump(TlsSession& client, TlsSession& server, std::string& clientPlain,
                std::string& serverPlain, size_t chunk = std::numeric_limits<size_t>::max());

struct Pair {
  std::unique_ptr<TlsSession> client;
  std::unique_ptr<TlsSession> server;
  std::string clientPlain;  // received by the client
  std::string serverPlain;  // received by the server
  PumpResult pump(size_t chunk = std::numeric_limits<size_t>::max()) {
    return test::pump(*client, *server, clientPlain, serverPlain, chunk);
  }
};

// Creates both sessions (asserting creation succeeds) without pumping.
Pair makePair(const TlsContext& clientCtx, const TlsContext& serverCtx,
              const std::string& sni = kServerName);

// Splits a TLS byte stream into records and counts those of `contentType`
// (23 = application_data). Returns -1 if the stream does not end on a record boundary.
int countRecords(std::string_view stream, int contentType);

}  // namespace xmesh::tls::test
