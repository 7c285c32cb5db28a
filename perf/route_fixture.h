// A deterministic in-process routing workload shared by the microbenchmarks and the CI
// instruction-count check: two bound c2s sessions on a fake env (no sockets, no
// threads), one sending 200-byte chat messages to the other through the real session,
// parser, JID, directory and router code.
#pragma once
#include <memory>
#include <string>

#include "session/c2s_session.h"
#include "tests/support/fake_env.h"

namespace xmesh::perf {

class RouteFixture {
 public:
  RouteFixture();
  // One message from alice to bob's bare JID (routed, stamped, delivered).
  void sendOne();
  // The wire bytes of the message sent by sendOne (about 200 bytes).
  const std::string& message() const { return message_; }
  size_t deliveredBytes() const { return delivered_; }

 private:
  void login(session::C2sSession& s, testing::FakeTransport& t, const std::string& user);
  testing::FakeEnv env_;
  testing::FakeTransport ta_, tb_;
  std::unique_ptr<session::C2sSession> a_, b_;
  std::string message_;
  size_t delivered_ = 0;
};

}  // namespace xmesh::perf
