// What a link delivers: one counted unit received from the peer, with the routing fields
// parsed so the caller can check them (a peer may only speak for users it serves).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "r2r/wire.h"
#include "xml/stanza.h"

namespace xmesh::r2r {

enum class UnitKind : uint8_t {
  Stanza,   // a routed <message/>, <presence/> or <iq/>
  Fanout,   // one presence for a list of recipients on this node
  Control,  // a control record (<m:dir/>, <m:serve/>, <m:failover/>, ...)
};

std::string_view unitKindName(UnitKind kind);

struct Unit {
  UnitKind kind = UnitKind::Stanza;
  // Sequence number in the sender's numbering (1 = the first unit its incarnation sent
  // us); strictly increasing by one from unit to unit, across reconnects.
  uint64_t seq = 0;
  // Stanza: the routed stanza as the stream parser gives it (bytes without `from`, the
  // routing fields to/from/type/id filled in; withFrom() restores the wire form).
  // Fanout: the presence child, in the same form.
  // Control: the control element itself (name = the control kind, ns = kNs).
  xml::Stanza stanza;
  std::vector<std::string> recipients;  // Fanout: the bare JIDs to deliver to, in order
  Attrs attrs;                          // Control: attributes, unescaped, in order
  std::string text;                     // Control: direct text, unescaped
  std::string children;                 // Control: child elements, canonical bytes

  // The control kind ("dir", "serve", ...) or the stanza name ("message", ...).
  const std::string& name() const { return stanza.name; }
  std::string_view attr(std::string_view key) const { return wire::findAttr(attrs, key); }
};

}  // namespace xmesh::r2r
