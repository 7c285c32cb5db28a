#include "ctl/names.h"

#include "jid/jid.h"

namespace xmesh::ctl {

Result<std::string> username(std::string_view name) {
  auto prepped = jid::nodeprep(name);
  if (!prepped) return Error{"bad-name", "username '" + std::string(name) + "': " + prepped.error().detail};
  if (prepped->empty()) return Error{"bad-name", "empty username"};
  return prepped;
}

Result<std::string> bareContact(std::string_view text) {
  auto j = jid::Jid::parse(text);
  if (!j) return Error{"bad-jid", "'" + std::string(text) + "': " + j.error().detail};
  if (j->local().empty() || !j->isBare()) return Error{"bad-jid", "'" + std::string(text) + "' is not user@domain"};
  return j->bareString();
}

}  // namespace xmesh::ctl
