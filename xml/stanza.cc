#include "xml/stanza.h"

#include "xml/escape.h"

namespace xmesh::xml {
namespace {

void appendAttr(std::string& out, std::string_view name, std::string_view value) {
  out += ' ';
  out += name;
  out += "='";
  appendEscapedAttr(out, value);
  out += '\'';
}

}  // namespace

std::string Stanza::withFrom(std::string_view fromJid) const {
  if (fromJid.empty()) return bytes;
  std::string out;
  out.reserve(bytes.size() + fromJid.size() + 16);
  out.append(bytes, 0, fromInsertPos);
  appendAttr(out, "from", fromJid);
  out.append(bytes, fromInsertPos, std::string::npos);
  return out;
}

std::string Stanza::withFromAndTo(std::string_view fromJid, std::string_view toJid) const {
  std::string out;
  out.reserve(bytes.size() + fromJid.size() + toJid.size() + 32);
  out.append(bytes, 0, fromInsertPos);
  if (!fromJid.empty()) appendAttr(out, "from", fromJid);
  // Why the new `to` goes right after `from`: both are inserted at the same point, so the
  // old attribute's span is the only region that must be skipped.
  if (!toJid.empty()) appendAttr(out, "to", toJid);
  if (toAttrLen == 0) {
    out.append(bytes, fromInsertPos, std::string::npos);
  } else {
    out.append(bytes, fromInsertPos, toAttrPos - fromInsertPos);
    out.append(bytes, toAttrPos + toAttrLen, std::string::npos);
  }
  return out;
}

}  // namespace xmesh::xml
