#include "store/open_store.h"

#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace xmesh::store {
namespace {

constexpr std::string_view kPgPrefix = "pg:";

// Replaces the value after each "password" key (key=value form or a URI's query) up to
// the next space or '&' (or the closing quote of a quoted value).
void redactPasswordKeys(std::string& s) {
  for (size_t at = s.find("password"); at != std::string::npos; at = s.find("password", at + 1)) {
    size_t eq = s.find_first_not_of(' ', at + 8);
    if (eq == std::string::npos || s[eq] != '=') continue;
    size_t begin = s.find_first_not_of(' ', eq + 1);
    if (begin == std::string::npos) break;
    size_t end;
    if (s[begin] == '\'') {
      end = begin + 1;
      while (end < s.size() && s[end] != '\'') end += s[end] == '\\' ? 2 : 1;
      end = std::min(end + 1, s.size());
    } else {
      end = s.find_first_of(" &", begin);
      if (end == std::string::npos) end = s.size();
    }
    s.replace(begin, end - begin, "***");
  }
}

}  // namespace

bool isPostgresSpec(std::string_view spec) {
  return spec.starts_with("postgresql://") || spec.starts_with("postgres://") || spec.starts_with(kPgPrefix);
}

StoreFactory storeFactory(const std::string& spec, const OpenOptions& options) {
  if (isPostgresSpec(spec)) {
    PostgresOptions o;
    o.conninfo = spec.starts_with(kPgPrefix) ? spec.substr(kPgPrefix.size()) : spec;
    o.domain = options.domain;
    o.bulkLoad = options.bulkLoad;
    return [o] { return openPostgres(o); };
  }
  SqliteOptions o;
  o.path = spec;
  o.domain = options.domain;
  o.bulkLoad = options.bulkLoad;
  return [o] { return openSqlite(o); };
}

std::string redactedSpec(std::string_view spec) {
  std::string s(spec);
  if (!isPostgresSpec(s)) return s;
  // URI userinfo: scheme://user:password@host
  if (size_t scheme = s.find("://"); scheme != std::string::npos) {
    size_t authority = scheme + 3;
    size_t authorityEnd = s.find_first_of("/?", authority);
    if (authorityEnd == std::string::npos) authorityEnd = s.size();
    size_t at = s.rfind('@', authorityEnd);
    if (at != std::string::npos && at >= authority) {
      size_t colon = s.find(':', authority);
      if (colon != std::string::npos && colon < at) s.replace(colon + 1, at - colon - 1, "***");
    }
  }
  redactPasswordKeys(s);
  return s;
}

}  // namespace xmesh::store
