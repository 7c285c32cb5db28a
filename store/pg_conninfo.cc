#include "store/pg_conninfo.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <memory>
#include <string_view>

namespace xmesh::store::pg {
namespace {

struct ConninfoFree {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};

// Which values of each setting still leave the connection unencrypted.
bool allowsPlain(std::string_view keyword, std::string_view value) {
  if (value.empty()) return true;
  if (keyword == "sslmode") return value == "disable" || value == "allow" || value == "prefer";
  if (keyword == "gssencmode") return value == "disable" || value == "prefer";
  if (keyword == "requiressl") return value == "0";
  return true;
}

Error refused(std::string_view where, std::string_view keyword, std::string_view value) {
  return Error{"bad-conninfo",
               std::string(where) + " asks for " + std::string(keyword) + "=" + std::string(value) +
                   ": xmesh connects to PostgreSQL without TLS (unix socket or trusted link; "
                   "libpq's OpenSSL cannot run next to xmesh's BoringSSL, see docs/store-postgres.md)"};
}

}  // namespace

std::string ConnectParams::get(const std::string& keyword) const {
  std::string v;
  for (size_t i = 0; i < keywords.size(); ++i)
    if (keywords[i] == keyword && !values[i].empty()) v = values[i];
  return v;
}

Result<ConnectParams> connectParams(const std::string& conninfo, const ConnectDefaults& d) {
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, ConninfoFree> opts(PQconninfoParse(conninfo.c_str(), &err));
  if (!opts) {
    std::string detail = err ? err : "out of memory";
    PQfreemem(err);
    while (!detail.empty() && detail.back() == '\n') detail.pop_back();
    return Error{"bad-conninfo", "PostgreSQL conninfo: " + detail};
  }
  for (const PQconninfoOption* o = opts.get(); o->keyword; ++o)
    if (o->val && !allowsPlain(o->keyword, o->val)) return refused("the conninfo", o->keyword, o->val);
  for (auto [env, keyword] : {std::pair{"PGSSLMODE", "sslmode"}, std::pair{"PGGSSENCMODE", "gssencmode"},
                              std::pair{"PGREQUIRESSL", "requiressl"}}) {
    const char* v = std::getenv(env);
    if (v && !allowsPlain(keyword, v)) return refused(std::string("the environment (") + env + ")", keyword, v);
  }

  ConnectParams p;
  auto add = [&p](std::string k, std::string v) {
    p.keywords.push_back(std::move(k));
    p.values.push_back(std::move(v));
  };
  add("connect_timeout", std::to_string(d.connectTimeoutSeconds));
  add("keepalives", "1");
  add("keepalives_idle", std::to_string(d.keepaliveIdleSeconds));
  add("keepalives_interval", std::to_string(d.keepaliveIntervalSeconds));
  add("keepalives_count", std::to_string(d.keepaliveCount));
  add("tcp_user_timeout", std::to_string(d.tcpUserTimeoutMs));
  add("application_name", "xmesh");
  add("dbname", conninfo);  // expanded by PQconnectdbParams (expand_dbname = 1)
  add("sslmode", "disable");
  add("gssencmode", "disable");
  add("client_encoding", "UTF8");
  return p;
}

}  // namespace xmesh::store::pg
