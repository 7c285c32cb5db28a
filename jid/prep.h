// String preparation (RFC 3454 stringprep) for the three JID parts and for SASL names.
//
// Why a fast path: JIDs are prepared for every routed stanza, and almost all of them are
// plain ASCII, where the profiles reduce to "lower-case A-Z" (nodeprep, nameprep) or the
// identity (resourceprep) plus a short list of forbidden characters. libidn converts to
// UCS-4, normalizes and scans tables even then, so ASCII input skips it; any byte >= 0x80
// goes through libidn. PrepImpl::Libidn forces libidn so tests and the fuzzer can check
// that both paths agree.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"

namespace xmesh::jid {

// RFC 7622 §3: each part is at most 1023 bytes once prepared.
inline constexpr size_t kMaxPartBytes = 1023;

enum class PrepImpl { Auto, Libidn };

// RFC 6122 Nodeprep / Nameprep (RFC 3491) / Resourceprep. Unassigned code points are
// allowed (the "query" rules), as other servers do: rejecting them would reject e.g. emoji
// in resources. Errors (reason "jid-malformed"): invalid UTF-8, NUL, a prohibited
// character, bidi violation, or a result over kMaxPartBytes. Empty input gives "".
Result<std::string> nodeprep(std::string_view text, PrepImpl impl = PrepImpl::Auto);
Result<std::string> nameprep(std::string_view text, PrepImpl impl = PrepImpl::Auto);
Result<std::string> resourceprep(std::string_view text, PrepImpl impl = PrepImpl::Auto);

// RFC 4013 SASLprep. storedString selects the "stored strings" rules (unassigned code
// points rejected), which RFC 5802 asks for passwords; user names use the query rules.
// Printable ASCII is returned as is. Error reason: "saslprep-failed".
Result<std::string> saslprep(std::string_view text, bool storedString);

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool isValidUtf8(std::string_view text);

}  // namespace xmesh::jid
