// The r2r wire format, both ways: writers for every element of the link protocol
// (PROTOCOL.md) and a scanner for the canonical bytes xml::StreamParser produces.
//
// Why a scanner and not a tree: the parser already checked well-formedness, resolved
// namespaces and re-serialized each top-level element canonically (single-quoted
// attributes, every '<' '>' '&' '\'' inside values and text escaped, no comments, CDATA
// or PIs). Over such bytes, tags are found by plain byte search, so a fan-out or control
// unit is taken apart without a second Expat pass or a DOM per unit.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "xml/stanza.h"

namespace xmesh::r2r {

inline constexpr std::string_view kNs = "urn:xmesh:r2r:0";
inline constexpr std::string_view kClientNs = "jabber:client";
inline constexpr std::string_view kStreamsNs = "http://etherx.jabber.org/streams";
inline constexpr std::string_view kStreamErrorNs = "urn:ietf:params:xml:ns:xmpp-streams";
inline constexpr uint32_t kProtocolVersion = 1;

using Attr = std::pair<std::string, std::string>;
using Attrs = std::vector<Attr>;

namespace wire {

// Element names the link itself uses in the m: namespace; a control kind may not take one.
bool isReservedName(std::string_view name);
// ASCII NCName subset used for control kinds and attribute names: [A-Za-z_][A-Za-z0-9._-]*.
bool isSimpleName(std::string_view name);

struct HelloFields {
  std::string_view node, cluster, epoch, peerEpoch;
  uint32_t version = 0;
  uint64_t h = 0;
};

void appendStreamHeader(std::string& out, std::string_view from, std::string_view to);
void appendStreamClose(std::string& out);
// <stream:error><{condition} xmlns=streams-errors/><text ...>{text}</text></stream:error>
void appendStreamError(std::string& out, std::string_view condition, std::string_view text);
void appendHello(std::string& out, const HelloFields& hello);
void appendStart(std::string& out, uint64_t after);
void appendAck(std::string& out, uint64_t h);
void appendAckRequest(std::string& out);
void appendHeartbeat(std::string& out);
// <m:void/>: a counted unit the sender withdrew (Link::withdrawRouted).
void appendVoid(std::string& out);
// <m:fanout to='r1 r2 ...'>{presence}</m:fanout>. Recipients must be non-empty and free
// of whitespace (bare JIDs); checked by the caller (Link).
void appendFanout(std::string& out, std::span<const std::string> recipients,
                  std::string_view presence);
// <m:{name} a='v' ...>{escaped text}{children}</m:{name}>, or <m:{name} .../> when empty.
void appendControl(std::string& out, std::string_view name, std::span<const Attr> attrs,
                   std::string_view text, std::string_view children);

// ---- Reading canonical bytes -----------------------------------------------------------

// One element taken apart: attributes unescaped in document order (namespace
// declarations left out), direct text unescaped and concatenated, direct child elements
// kept as canonical bytes, concatenated in order.
struct ScannedElement {
  std::string_view qname;  // as written, e.g. "m:dir"
  Attrs attrs;
  std::string text;
  std::string children;
  size_t childCount = 0;
};

Result<ScannedElement> scanElement(std::string_view bytes);
std::string_view findAttr(const Attrs& attrs, std::string_view name);  // "" if absent

// Builds the xml::Stanza the stream parser would have delivered for a top-level
// jabber:client element given as canonical bytes `from` included: the `from` attribute
// moves out of bytes into Stanza::from; to/type/id/xml:lang and the first child's name
// are filled in. Used for the presence inside a fan-out.
Result<xml::Stanza> stanzaFromCanonical(std::string_view bytes);

bool parseUint64(std::string_view text, uint64_t* out);
// A fan-out's `to`: the whitespace-separated bare JIDs, empty entries skipped.
std::vector<std::string> splitRecipients(std::string_view list);

}  // namespace wire
}  // namespace xmesh::r2r
