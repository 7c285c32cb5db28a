// The byte stream under a c2s session, as the session sees it: plaintext in and out.
// The connection (router/connection.h) implements it with TLS layered underneath.
#pragma once
#include <string>
#include <string_view>

namespace xmesh::session {

class Transport {
 public:
  virtual ~Transport() = default;
  // Queues plaintext for the client; coalesced and written once per loop iteration.
  virtual void send(std::string_view plaintext) = 0;
  // Everything queued so far goes out in the clear; from now on output is encrypted and
  // input is decrypted (STARTTLS after <proceed/>).
  virtual void startTls() = 0;
  virtual bool tlsActive() const = 0;
  // Flushes what is queued, then closes.
  virtual void closeAfterFlush() = 0;
  virtual const std::string& peerAddress() const = 0;
};

}  // namespace xmesh::session
