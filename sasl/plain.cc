#include "sasl/plain.h"

#include "jid/prep.h"
#include "sasl/failure.h"

namespace xmesh::sasl {
namespace {

// RFC 4616 asks for at least 255 bytes per field; 1023 matches the JID part limit.
constexpr size_t kMaxFieldBytes = 1023;

Error malformed(std::string detail) {
  return Error{std::string(failureName(Failure::MalformedRequest)), std::move(detail)};
}

}  // namespace

Result<PlainCredentials> parsePlain(std::string_view message) {
  if (message.size() > 3 * kMaxFieldBytes + 2) return malformed("too long");
  size_t first = message.find('\0');
  if (first == std::string_view::npos) return malformed("missing NUL separators");
  size_t second = message.find('\0', first + 1);
  if (second == std::string_view::npos) return malformed("missing second NUL");
  if (message.find('\0', second + 1) != std::string_view::npos) return malformed("extra NUL");

  std::string_view authzid = message.substr(0, first);
  std::string_view authcid = message.substr(first + 1, second - first - 1);
  std::string_view password = message.substr(second + 1);
  if (authcid.empty()) return malformed("empty authcid");
  if (password.empty()) return malformed("empty password");
  for (std::string_view field : {authzid, authcid, password}) {
    if (field.size() > kMaxFieldBytes) return malformed("field too long");
    if (!jid::isValidUtf8(field)) return malformed("invalid UTF-8");
  }
  Result<std::string> prepared = jid::saslprep(authcid, /*storedString=*/false);
  if (!prepared || prepared->empty()) return malformed("authcid fails SASLprep");
  return PlainCredentials{std::string(authzid), std::move(prepared.value()),
                          std::string(password)};
}

}  // namespace xmesh::sasl
