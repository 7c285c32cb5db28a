// The unit of cross-loop hand-off: a stanza for a session on another loop, or a task
// (resumption hand-over, control work) to run there.
#pragma once
#include <functional>
#include <memory>

#include "core/stats.h"
#include "router/directory.h"
#include "router/routed_stanza.h"

namespace xmesh::router {

struct Envelope {
  SessionRef to;
  SharedBytes bytes;
  std::shared_ptr<const RoutedStanza> fallback;  // re-routed if the session is gone
  std::function<void()> task;                    // set: run it instead of delivering
  StanzaClass cls = StanzaClass::Other;
};

}  // namespace xmesh::router
