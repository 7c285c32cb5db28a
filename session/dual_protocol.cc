#include "session/dual_protocol.h"

#include <charconv>

#include "xml/escape.h"

namespace xmesh::session::dual {
namespace {

void appendAttr(std::string& out, std::string_view name, std::string_view value) {
  out += ' ';
  out += name;
  out += "='";
  xml::appendEscapedAttr(out, value);
  out += '\'';
}

std::string notice(std::string_view element, std::string_view attr, std::string_view node) {
  std::string out = "<";
  out += element;
  out += " xmlns='urn:xmesh:dual:0'";
  if (!attr.empty()) appendAttr(out, attr, node);
  out += "/>";
  return out;
}

}  // namespace

std::string_view feature() { return "<dual xmlns='urn:xmesh:dual:0'/>"; }

std::string queryResult(const std::optional<Backup>& backup) {
  if (!backup) return "<query xmlns='urn:xmesh:dual:0'/>";
  std::string out = "<query xmlns='urn:xmesh:dual:0'><backup";
  appendAttr(out, "node", backup->nodeId);
  appendAttr(out, "host", backup->host);
  appendAttr(out, "port", std::to_string(backup->port));
  out += "/><relogin";
  appendAttr(out, "min", std::to_string(backup->reloginMinSeconds));
  appendAttr(out, "max", std::to_string(backup->reloginMaxSeconds));
  out += "/></query>";
  return out;
}

bool asksInactive(const xml::Element& bind) { return bind.child("inactive", kNs) != nullptr; }

Result<uint32_t> activateH(const xml::Element& activate) {
  if (!activate.hasAttr("h")) return uint32_t{0};
  std::string_view v = activate.attr("h");
  uint32_t h = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), h);
  if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size())
    return Error{"bad-request", "h must be a decimal count of handled stanzas"};
  return h;
}

std::string activatedPayload(bool presenceRestored, size_t pending) {
  std::string out = "<activated xmlns='urn:xmesh:dual:0'";
  appendAttr(out, "presence-restored", presenceRestored ? "true" : "false");
  appendAttr(out, "pending", std::to_string(pending));
  out += "/>";
  return out;
}

std::string failoverNotice(std::string_view homeNode) { return notice("failover", "from-node", homeNode); }
std::string fallbackNotice(std::string_view homeNode) { return notice("fallback", "to-node", homeNode); }
std::string deactivatedNotice() { return notice("deactivated", {}, {}); }

std::string noticeIq(std::string_view id, std::string_view toFull, std::string_view payload) {
  std::string out = "<iq type='set'";
  appendAttr(out, "id", id);
  appendAttr(out, "to", toFull);
  out += '>';
  out += payload;
  out += "</iq>";
  return out;
}

}  // namespace xmesh::session::dual
