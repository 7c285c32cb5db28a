#include "r2r/wire.h"

#include <array>
#include <charconv>

#include "xml/escape.h"

namespace xmesh::r2r::wire {
namespace {

void appendAttr(std::string& out, std::string_view name, std::string_view value) {
  out += ' ';
  out += name;
  out += "='";
  xml::appendEscapedAttr(out, value);
  out += '\'';
}

void appendNumberAttr(std::string& out, std::string_view name, uint64_t value) {
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  (void)ec;  // 24 bytes always hold a uint64
  out += ' ';
  out += name;
  out += "='";
  out.append(buf.data(), end);
  out += '\'';
}

Error bad(std::string detail) { return Error{"bad-format", std::move(detail)}; }

// Appends `in` with the escapes xml::appendEscaped* produce undone. Anything else after
// '&' cannot come out of the stream parser, so it is refused rather than guessed at.
bool appendUnescaped(std::string& out, std::string_view in) {
  static constexpr std::array<std::pair<std::string_view, char>, 8> kEntities{{{"&amp;", '&'},
                                                                               {"&lt;", '<'},
                                                                               {"&gt;", '>'},
                                                                               {"&apos;", '\''},
                                                                               {"&quot;", '"'},
                                                                               {"&#x9;", '\t'},
                                                                               {"&#xA;", '\n'},
                                                                               {"&#xD;", '\r'}}};
  size_t i = 0;
  while (i < in.size()) {
    const size_t amp = in.find('&', i);
    if (amp == std::string_view::npos) break;
    out.append(in.substr(i, amp - i));
    bool matched = false;
    for (const auto& [entity, ch] : kEntities) {
      if (in.compare(amp, entity.size(), entity) == 0) {
        out += ch;
        i = amp + entity.size();
        matched = true;
        break;
      }
    }
    if (!matched) return false;
  }
  out.append(in.substr(i));
  return true;
}

// A start tag's inside, "<" and ">" (or "/>") stripped: qname then ` name='value'`*.
struct TagView {
  std::string_view qname;
  std::vector<std::pair<std::string_view, std::string_view>> rawAttrs;  // values escaped
};

bool scanTag(std::string_view tag, TagView* out) {
  const size_t space = tag.find(' ');
  out->qname = tag.substr(0, space);
  if (out->qname.empty()) return false;
  size_t i = space;
  while (i != std::string_view::npos && i < tag.size()) {
    if (tag[i] != ' ') return false;
    const size_t eq = tag.find('=', i + 1);
    if (eq == std::string_view::npos || eq + 1 >= tag.size() || tag[eq + 1] != '\'') return false;
    const size_t close = tag.find('\'', eq + 2);
    if (close == std::string_view::npos) return false;
    out->rawAttrs.emplace_back(tag.substr(i + 1, eq - i - 1), tag.substr(eq + 2, close - eq - 2));
    i = close + 1;
  }
  return true;
}

// Index just past the element starting at bytes[start] ('<'), or npos if it does not end.
size_t elementEnd(std::string_view bytes, size_t start) {
  size_t depth = 0;
  size_t i = start;
  while (i < bytes.size()) {
    if (bytes[i] != '<') return std::string_view::npos;
    const size_t gt = bytes.find('>', i);
    if (gt == std::string_view::npos) return std::string_view::npos;
    if (i + 1 < bytes.size() && bytes[i + 1] == '/') {
      if (depth == 0) return std::string_view::npos;
      --depth;
    } else if (bytes[gt - 1] != '/') {
      ++depth;
    }
    i = gt + 1;
    if (depth == 0) return i;
    i = bytes.find('<', i);  // skip text
  }
  return std::string_view::npos;
}

bool isNsDecl(std::string_view name) { return name == "xmlns" || name.starts_with("xmlns:"); }

}  // namespace

std::vector<std::string> splitRecipients(std::string_view list) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < list.size()) {
    const size_t space = list.find_first_of(" \t\r\n", i);
    const size_t end = space == std::string_view::npos ? list.size() : space;
    if (end > i) out.emplace_back(list.substr(i, end - i));
    i = end + 1;
  }
  return out;
}

bool isReservedName(std::string_view name) {
  static constexpr std::array<std::string_view, 8> kReserved{"hello",  "start", "a",   "r",
                                                             "hb",     "fanout", "error", "void"};
  for (std::string_view r : kReserved) {
    if (r == name) return true;
  }
  return false;
}

bool isSimpleName(std::string_view name) {
  if (name.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(name[0])) return false;
  for (char c : name) {
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '.' && c != '-') return false;
  }
  return true;
}

void appendStreamHeader(std::string& out, std::string_view from, std::string_view to) {
  out +=
      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
      " xmlns:m='urn:xmesh:r2r:0'";
  appendAttr(out, "from", from);
  appendAttr(out, "to", to);
  out += " version='1.0'>";
}

void appendStreamClose(std::string& out) { out += "</stream:stream>"; }

void appendStreamError(std::string& out, std::string_view condition, std::string_view text) {
  out += "<stream:error><";
  out += condition;
  out += " xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>";
  if (!text.empty()) {
    out += "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>";
    xml::appendEscapedText(out, text);
    out += "</text>";
  }
  out += "</stream:error>";
}

void appendHello(std::string& out, const HelloFields& hello) {
  out += "<m:hello";
  appendAttr(out, "node", hello.node);
  appendAttr(out, "cluster", hello.cluster);
  appendNumberAttr(out, "version", hello.version);
  appendAttr(out, "epoch", hello.epoch);
  if (!hello.peerEpoch.empty()) appendAttr(out, "peer-epoch", hello.peerEpoch);
  appendNumberAttr(out, "h", hello.h);
  out += "/>";
}

void appendStart(std::string& out, uint64_t after) {
  out += "<m:start";
  appendNumberAttr(out, "after", after);
  out += "/>";
}

void appendAck(std::string& out, uint64_t h) {
  out += "<m:a";
  appendNumberAttr(out, "h", h);
  out += "/>";
}

void appendAckRequest(std::string& out) { out += "<m:r/>"; }
void appendHeartbeat(std::string& out) { out += "<m:hb/>"; }

void appendVoid(std::string& out) { out += "<m:void/>"; }

void appendFanout(std::string& out, std::span<const std::string> recipients,
                  std::string_view presence) {
  out += "<m:fanout to='";
  for (size_t i = 0; i < recipients.size(); ++i) {
    if (i != 0) out += ' ';
    xml::appendEscapedAttr(out, recipients[i]);
  }
  out += "'>";
  out += presence;
  out += "</m:fanout>";
}

void appendControl(std::string& out, std::string_view name, std::span<const Attr> attrs,
                   std::string_view text, std::string_view children) {
  out += "<m:";
  out += name;
  for (const auto& [key, value] : attrs) appendAttr(out, key, value);
  if (text.empty() && children.empty()) {
    out += "/>";
    return;
  }
  out += '>';
  xml::appendEscapedText(out, text);
  out += children;
  out += "</m:";
  out += name;
  out += '>';
}

Result<ScannedElement> scanElement(std::string_view bytes) {
  if (bytes.size() < 3 || bytes[0] != '<') return bad("not an element");
  const size_t gt = bytes.find('>');
  if (gt == std::string_view::npos) return bad("unterminated start tag");
  const bool empty = bytes[gt - 1] == '/';
  TagView tag;
  if (!scanTag(bytes.substr(1, gt - 1 - (empty ? 1 : 0)), &tag)) return bad("bad start tag");
  ScannedElement out;
  out.qname = tag.qname;
  for (const auto& [name, raw] : tag.rawAttrs) {
    if (isNsDecl(name)) continue;
    std::string value;
    if (!appendUnescaped(value, raw)) return bad("bad escape in attribute");
    out.attrs.emplace_back(std::string(name), std::move(value));
  }
  if (empty) {
    if (gt + 1 != bytes.size()) return bad("bytes after element");
    return out;
  }
  if (bytes.size() < gt + 1 + tag.qname.size() + 3) return bad("bad end tag");
  const size_t closeAt = bytes.size() - tag.qname.size() - 3;
  if (bytes.compare(closeAt, 2, "</") != 0 ||
      bytes.compare(closeAt + 2, tag.qname.size(), tag.qname) != 0 || bytes.back() != '>') {
    return bad("bad end tag");
  }
  const std::string_view content = bytes.substr(gt + 1, closeAt - gt - 1);
  size_t i = 0;
  while (i < content.size()) {
    if (content[i] == '<') {
      const size_t end = elementEnd(content, i);
      if (end == std::string_view::npos) return bad("unbalanced child element");
      out.children.append(content.substr(i, end - i));
      ++out.childCount;
      i = end;
      continue;
    }
    size_t next = content.find('<', i);
    if (next == std::string_view::npos) next = content.size();
    if (!appendUnescaped(out.text, content.substr(i, next - i))) return bad("bad escape in text");
    i = next;
  }
  return out;
}

std::string_view findAttr(const Attrs& attrs, std::string_view name) {
  for (const auto& [key, value] : attrs) {
    if (key == name) return value;
  }
  return {};
}

Result<xml::Stanza> stanzaFromCanonical(std::string_view bytes) {
  if (bytes.size() < 3 || bytes[0] != '<') return bad("not an element");
  const size_t gt = bytes.find('>');
  if (gt == std::string_view::npos) return bad("unterminated start tag");
  const bool empty = bytes[gt - 1] == '/';
  const size_t tagEnd = gt - (empty ? 1 : 0);
  TagView tag;
  if (!scanTag(bytes.substr(1, tagEnd - 1), &tag)) return bad("bad start tag");
  if (tag.qname.find(':') != std::string_view::npos) return bad("prefixed stanza");
  if (elementEnd(bytes, 0) != bytes.size()) return bad("not exactly one element");
  xml::Stanza s;
  s.name.assign(tag.qname);
  s.ns.assign(kClientNs);
  s.bytes.reserve(bytes.size());
  s.bytes += '<';
  s.bytes += tag.qname;
  s.fromInsertPos = s.bytes.size();
  for (const auto& [name, raw] : tag.rawAttrs) {
    std::string value;
    if (!appendUnescaped(value, raw)) return bad("bad escape in attribute");
    if (name == "xmlns") {
      if (value != kClientNs) return bad("stanza not in jabber:client");
      continue;  // the stream declares it
    }
    if (name == "from") {
      s.from = std::move(value);
      continue;
    }
    const size_t at = s.bytes.size();
    s.bytes += ' ';
    s.bytes += name;
    s.bytes += "='";
    s.bytes += raw;
    s.bytes += '\'';
    if (name == "to") {
      s.to = std::move(value);
      s.toAttrPos = at;
      s.toAttrLen = s.bytes.size() - at;
    } else if (name == "type") {
      s.type = std::move(value);
    } else if (name == "id") {
      s.id = std::move(value);
    } else if (name == "xml:lang") {
      s.lang = std::move(value);
    }
  }
  s.bytes.append(bytes.substr(tagEnd));
  if (!empty && gt + 1 < bytes.size() && bytes[gt + 1] == '<' && bytes[gt + 2] != '/') {
    const size_t end = bytes.find_first_of(" />", gt + 2);
    const std::string_view child = bytes.substr(gt + 2, end - gt - 2);
    const size_t colon = child.find(':');
    s.firstChildName.assign(colon == std::string_view::npos ? child : child.substr(colon + 1));
  }
  return s;
}

bool parseUint64(std::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace xmesh::r2r::wire
