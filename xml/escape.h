// Escaping for hand-built XML output. The hot paths (stanza re-serialization, `from`
// stamping) append into a caller-owned buffer so nothing allocates per call.
#pragma once
#include <string>
#include <string_view>

namespace xmesh::xml {

// Appends `text` as element content: escapes & < > and also CR (as &#xD;), because a
// literal CR would be folded away by the receiver's end-of-line normalization.
void appendEscapedText(std::string& out, std::string_view text);

// Appends `value` for a single-quoted attribute: escapes & < > ' " and also TAB, LF and
// CR as character references, since attribute-value normalization would otherwise turn
// them into spaces on the receiving side.
void appendEscapedAttr(std::string& out, std::string_view value);

}  // namespace xmesh::xml
