// What a c2s session needs from the loop it lives on, beyond routing.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "core/config.h"
#include "router/replica_sink.h"
#include "router/router_env.h"
#include "router/stanza_router.h"
#include "session/auth_throttle.h"
#include "session/dual_protocol.h"

namespace xmesh::session {

class C2sSession;
struct ResumeGrant;

class SessionEnv : public router::RouterEnv {
 public:
  virtual const NodeConfig& config() const = 0;
  virtual router::StanzaRouter& router() = 0;
  virtual AuthThrottle& authThrottle() = 0;
  virtual uint32_t loopCount() const = 0;
  // Local registry: deliveries addressed to a SessionRef of this loop find the session.
  virtual router::SessionRef registerSession(C2sSession* s) = 0;
  virtual void unregisterSession(const router::SessionRef& ref) = 0;
  // Finds a session of this loop (only valid on this loop).
  virtual C2sSession* findSession(uint64_t id) = 0;
  // The env of another loop, to be used only from inside a task running on that loop.
  virtual SessionEnv& envOf(uint32_t loop) = 0;
  // Where a user homed on `homeNode` must log in instead ("host:port" for RFC 6120
  // see-other-host), or "" when this node serves the user (or no topology is set).
  virtual std::string seeOtherHost(std::string_view homeNode) const = 0;

  // Dual connections (docs/dual-connections.md), for a user homed on `homeNode`. The
  // defaults describe a node without a topology: no dual connections, serves everyone.
  // Whether the node offers the protocol at all (it has a topology).
  virtual bool dualEnabled() const { return false; }
  // The user's backup as this node sees it (the other node of its HA group).
  virtual std::optional<dual::Backup> dualBackupFor(std::string_view homeNode) const {
    (void)homeNode;
    return std::nullopt;
  }
  // This node is the user's home or the home's HA peer: it may hold an inactive session.
  virtual bool mayHoldInactive(std::string_view homeNode) const {
    (void)homeNode;
    return false;
  }
  // This node serves the user now (SRM view): only then may a session be active here.
  virtual bool servesHome(std::string_view homeNode) const {
    (void)homeNode;
    return true;
  }
  // How long an activation asked before this node serves the user may wait for it to
  // take the user over (0: refused at once). See docs/dual-connections.md §5.
  virtual int64_t activationHoldMs(std::string_view homeNode) const {
    (void)homeNode;
    return 0;
  }
  // Where active sessions report what the PRG peer needs to take them over
  // (router/replica_records.h); nullptr when this node is in no HA group.
  virtual router::ReplicaSink* replicaSink() { return nullptr; }
  // Runs `done` on this loop once everything handed on so far has reached the peers
  // (router/replica_barrier.h); false when the node replicates to nobody (answer now).
  virtual bool whenReplicated(std::function<void()> done) {
    (void)done;
    return false;
  }
};

}  // namespace xmesh::session
