// Canonical forms of the names xmeshctl writes to the store: the store keys users by
// nodeprepped local part and roster items by prepared bare JID, so provisioning must
// write exactly what the server computes at login. The preparation itself is jid/'s,
// the same code the server runs.
#pragma once
#include <string>
#include <string_view>

#include "core/status.h"

namespace xmesh::ctl {

// A username: a non-empty nodeprepped local part. Fails with "bad-name".
Result<std::string> username(std::string_view name);

// A roster contact: "local@domain" prepared; resources and domain-only JIDs are
// refused ("bad-jid").
Result<std::string> bareContact(std::string_view jid);

}  // namespace xmesh::ctl
