// Backend selection from one store spec string, the form the config's `store` key and
// xmeshctl's --db take:
//   postgresql://... or postgres://...   PostgreSQL, libpq URI
//   pg:KEY=VALUE ...                     PostgreSQL, libpq key=value conninfo
//   anything else                        SQLite, a file path
#pragma once
#include <string>
#include <string_view>

#include "store/async_store.h"

namespace xmesh::store {

struct OpenOptions {
  std::string domain;     // the served XMPP domain (removeUser drops user@domain from rosters)
  bool bulkLoad = false;  // xmeshctl import: the backend's fast, less durable load mode
};

bool isPostgresSpec(std::string_view spec);

// A factory opening one connection per call (AsyncStore::start calls it per worker).
// Errors, e.g. a conninfo that asks for TLS, surface when it is called.
StoreFactory storeFactory(const std::string& spec, const OpenOptions& options);

// The spec with any password replaced by "***", for logs and error messages.
std::string redactedSpec(std::string_view spec);

}  // namespace xmesh::store
