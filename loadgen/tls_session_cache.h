// Each simulated user's own TLS session, kept across its reconnects the way a real
// client keeps the session (ticket) of its last connection: the next login offers it
// and the server resumes instead of doing a full handshake. Only with the scenario's
// tls_resumption = true (see scenario.h); a worker holds one for its shard of users.
//
// TLS 1.3 sessions are single-use (RFC 8446 C.4): take() hands them over and the
// connection's fresh ticket replaces them at close. A TLS 1.2 session may be offered
// again and again; a resumed TLS 1.2 connection brings no new one, so store(null)
// keeps what is there.
//
// Keyed by user only, not by server: a user redirected to another node keeps that
// node's ticket, which its first node then declines (a full handshake there; as for a
// real client reconnecting to a restarted server). Not thread-safe: one per worker loop.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include <openssl/ssl.h>

namespace xmesh::loadgen {

class TlsSessionCache {
 public:
  // Users [firstUser, firstUser + users).
  TlsSessionCache(uint32_t firstUser, uint32_t users);

  // The session for `user`'s next connect, or null (none yet, or its single-use ticket
  // was already offered). Users outside the range get null.
  bssl::UniquePtr<SSL_SESSION> take(uint32_t user);
  // Makes `session` the user's newest. A null or non-resumable session changes nothing.
  void store(uint32_t user, bssl::UniquePtr<SSL_SESSION> session);
  // Users holding a session now.
  size_t held() const { return held_; }

 private:
  bssl::UniquePtr<SSL_SESSION>* slot(uint32_t user);

  uint32_t firstUser_;
  std::vector<bssl::UniquePtr<SSL_SESSION>> slots_;
  size_t held_ = 0;
};

}  // namespace xmesh::loadgen
