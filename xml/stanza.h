// A routed stanza: serialized bytes plus the fields routing needs, never a DOM tree.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace xmesh::xml {

// A top-level element of a stream (depth 1 child of <stream:stream>): message, presence,
// iq, or a stream-level element (starttls, auth, response, r, a, enable, resume, ...).
// Kept as serialized bytes plus routing fields, NOT a DOM tree.
//
// `bytes` is self-contained: prefixes declared on the stream root are re-declared on the
// top element, and the top element's default namespace is omitted only when it equals
// the stream's default namespace (the receiving stream declares it).
struct Stanza {
  std::string bytes;         // the element re-serialized canonically, WITHOUT its `from` attribute
  size_t fromInsertPos = 0;  // offset in bytes right after the element name ("<message|")
  std::string name;          // local name, e.g. "message"
  std::string ns;            // resolved namespace (explicit xmlns or the stream's default ns)
  std::string to, from, type, id;  // attribute values, unescaped ("" when absent); `from` is not in bytes
  std::string lang;                // xml:lang if present on the element itself
  std::string firstChildName, firstChildNs;  // of the first child element, if any (IQ dispatch)
  // The ` to='...'` attribute text inside bytes (leading space included); toAttrLen == 0
  // when the stanza has no `to`. Lets withFromAndTo() rewrite the value without a rescan.
  size_t toAttrPos = 0;
  size_t toAttrLen = 0;

  // Returns bytes with ` from='<escaped from>'` inserted at fromInsertPos. An empty
  // `from` returns bytes unchanged (server-originated traffic without a from).
  std::string withFrom(std::string_view from) const;
  // Same, also replacing the `to` attribute value (or adding one when absent), for
  // routing to a normalized JID. An empty `to` removes the attribute.
  std::string withFromAndTo(std::string_view from, std::string_view to) const;
};

}  // namespace xmesh::xml
