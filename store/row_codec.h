// How roster fields are persisted, shared by the SQLite and PostgreSQL backends so
// both store the same codes (not a public header: only store/*_store.cc include it).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace xmesh::store::codec {

// Persisted codes: fixed here rather than enum casts, so reordering Sub cannot
// silently reinterpret stored rows.
int64_t subCode(Sub s);
Sub subFromCode(int64_t c);

// Groups are joined with U+001F, which XML 1.0 cannot carry, so it never collides
// with a group name.
std::string joinGroups(const std::vector<std::string>& groups);
std::vector<std::string> splitGroups(std::string_view s);

}  // namespace xmesh::store::codec
