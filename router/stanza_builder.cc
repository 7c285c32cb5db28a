#include "router/stanza_builder.h"

#include <ctime>

#include "xml/element.h"

namespace xmesh::router {
namespace {
void attr(std::string& out, std::string_view name, std::string_view value) {
  if (value.empty()) return;
  out += ' ';
  out += name;
  out += "='";
  xml::appendEscapedAttr(out, value);
  out += '\'';
}
}  // namespace

std::string_view defaultErrorType(std::string_view c) {
  if (c == "bad-request" || c == "jid-malformed" || c == "not-acceptable" ||
      c == "policy-violation" || c == "redirect" || c == "resource-constraint")
    return c == "resource-constraint" ? "wait" : "modify";
  if (c == "forbidden" || c == "not-authorized" || c == "registration-required" ||
      c == "subscription-required")
    return "auth";
  if (c == "internal-server-error" || c == "remote-server-timeout") return "wait";
  return "cancel";
}

std::string buildStanzaError(std::string_view element, std::string_view from, std::string_view to,
                             std::string_view id, std::string_view condition,
                             std::string_view errorType, std::string_view text) {
  std::string out;
  out.reserve(256);
  out += '<';
  out += element;
  attr(out, "from", from);
  attr(out, "to", to);
  attr(out, "id", id);
  out += " type='error'><error type='";
  out += errorType.empty() ? defaultErrorType(condition) : errorType;
  out += "'><";
  out += condition;
  out += " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>";
  if (!text.empty()) {
    out += "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>";
    xml::appendEscapedText(out, text);
    out += "</text>";
  }
  out += "</error></";
  out += element;
  out += '>';
  return out;
}

void appendRosterItem(std::string& out, const RosterEntry& item, bool removed) {
  out += "<item";
  attr(out, "jid", item.contact);
  attr(out, "name", item.name());
  out += " subscription='";
  out += removed ? std::string_view("remove") : roster::subName(item.state.sub);
  out += '\'';
  if (!removed && item.state.askOut) out += " ask='subscribe'";
  if (item.groups().empty() || removed) {
    out += "/>";
    return;
  }
  out += '>';
  for (const auto& g : item.groups()) {
    out += "<group>";
    xml::appendEscapedText(out, g);
    out += "</group>";
  }
  out += "</item>";
}

std::string buildRosterPush(std::string_view toFull, const RosterEntry& item, bool removed,
                            std::string_view pushId) {
  std::string out;
  out.reserve(200);
  out += "<iq type='set'";
  attr(out, "id", pushId);
  attr(out, "to", toFull);
  out += "><query xmlns='jabber:iq:roster'>";
  appendRosterItem(out, item, removed);
  out += "</query></iq>";
  return out;
}

std::string buildPresence(std::string_view from, std::string_view to, std::string_view type) {
  std::string out = "<presence";
  attr(out, "from", from);
  attr(out, "to", to);
  attr(out, "type", type);
  out += "/>";
  return out;
}

std::string withToAttribute(std::string_view bytes, std::string_view to) {
  size_t nameEnd = bytes.find_first_of(" />", 1);
  if (bytes.empty() || bytes[0] != '<' || nameEnd == std::string_view::npos) return std::string(bytes);
  std::string out;
  out.reserve(bytes.size() + to.size() + 8);
  out.append(bytes.substr(0, nameEnd));
  attr(out, "to", to);
  out.append(bytes.substr(nameEnd));
  return out;
}

std::string withDelayStamp(std::string_view bytes, std::string_view fromDomain, int64_t stampMs) {
  std::time_t secs = static_cast<std::time_t>(stampMs / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string delay = "<delay xmlns='urn:xmpp:delay'";
  attr(delay, "from", fromDomain);
  attr(delay, "stamp", stamp);
  delay += "/>";
  std::string out(bytes);
  // The canonical serializer writes an empty message as "<message .../>".
  if (out.size() >= 2 && out.compare(out.size() - 2, 2, "/>") == 0) {
    out.erase(out.size() - 2);
    out += '>';
    out += delay;
    out += "</message>";
    return out;
  }
  size_t close = out.rfind("</");
  if (close == std::string::npos) return out;
  out.insert(close, delay);
  return out;
}

}  // namespace xmesh::router
