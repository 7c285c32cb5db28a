// What the router needs to know about a stanza in flight: its kind, type, addresses and
// the serialized bytes (from already stamped by the server). No DOM.
#pragma once
#include <cstdint>
#include <string>

#include "jid/jid.h"
#include "router/directory.h"

namespace xmesh::router {

enum class StanzaKind : uint8_t { Message, Presence, Iq, Other };

struct RoutedStanza {
  StanzaKind kind = StanzaKind::Other;
  std::string name;  // element name, e.g. "message"
  std::string type;
  std::string id;
  jid::Jid from;
  jid::Jid to;
  SharedBytes bytes;
  // Times the stanza was re-routed because its target session vanished in flight. A
  // second miss goes to offline storage instead of the directory, so a stale entry can
  // never make delivery loop.
  uint8_t reroutes = 0;
  // The mesh node this stanza arrived from over an r2r link; -1 when a local session
  // sent it. Such a stanza is never forwarded again: it is delivered here, stored here
  // or bounced, so a stale directory can never bounce it between nodes.
  int16_t viaNode = -1;
  // Times the stanza waited for the mesh directory to learn its recipient (a user
  // unknown here while some node's initial sync is still under way); bounded.
  uint8_t directoryRetries = 0;
  bool fromMesh() const { return viaNode >= 0; }
};

StanzaKind kindOf(std::string_view elementName);

}  // namespace xmesh::router
