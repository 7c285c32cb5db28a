#include "xml/escape.h"

#include <array>
#include <cstdint>

namespace xmesh::xml {
namespace {

// One table per context: the replacement for each byte, or nullptr to copy it as is.
// Bytes >= 0x80 are UTF-8 continuation/lead bytes and are always copied.
using Table = std::array<const char*, 128>;

constexpr Table makeTable(bool attr) {
  Table t{};
  t['&'] = "&amp;";
  t['<'] = "&lt;";
  t['>'] = "&gt;";
  t['\r'] = "&#xD;";
  if (attr) {
    t['\''] = "&apos;";
    t['"'] = "&quot;";
    t['\t'] = "&#x9;";
    t['\n'] = "&#xA;";
  }
  return t;
}

constexpr Table kTextTable = makeTable(false);
constexpr Table kAttrTable = makeTable(true);

// Copies runs of plain bytes in one append; most values contain no special byte at all.
void appendEscaped(std::string& out, std::string_view in, const Table& table) {
  const char* data = in.data();
  size_t runStart = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const auto byte = static_cast<uint8_t>(data[i]);
    if (byte >= 128 || table[byte] == nullptr) continue;
    out.append(data + runStart, i - runStart);
    out.append(table[byte]);
    runStart = i + 1;
  }
  out.append(data + runStart, in.size() - runStart);
}

}  // namespace

void appendEscapedText(std::string& out, std::string_view text) {
  appendEscaped(out, text, kTextTable);
}

void appendEscapedAttr(std::string& out, std::string_view value) {
  appendEscaped(out, value, kAttrTable);
}

}  // namespace xmesh::xml
