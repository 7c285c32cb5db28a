#include "ctl/user_commands.h"


#include "ctl/failover_guard.h"
#include "ctl/names.h"
#include "sasl/credentials.h"

namespace xmesh::ctl {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kListPage = 1000;

Result<sasl::StoredSecrets> derive(const std::string& password, uint32_t iterations) {
  if (password.empty()) return Error{"usage", "empty password"};
  if (iterations < 4096) return Error{"usage", "--iterations below 4096 (RFC 7677 minimum)"};
  return sasl::deriveStoredSecrets(password, sasl::randomBytes(kSaltBytes), iterations);
}

Status fail(const Error& e) { return Status::fail(e.reason, e.detail); }

}  // namespace

Status addUser(store::Store& st, const std::string& name, const std::string& password, uint32_t iterations) {
  Result<std::string> user = username(name);
  if (!user) return fail(user.error());
  if (Status s = refuseWhileFailedOver(st, "adding users"); !s) return s;
  Result<sasl::StoredSecrets> secrets = derive(password, iterations);
  if (!secrets) return fail(secrets.error());
  store::UserRecord r;
  r.username = user.value();
  r.secrets = std::move(secrets.value());
  return st.addUser(r);
}

Status setPassword(store::Store& st, const std::string& name, const std::string& password, uint32_t iterations) {
  Result<std::string> user = username(name);
  if (!user) return fail(user.error());
  Result<sasl::StoredSecrets> secrets = derive(password, iterations);
  if (!secrets) return fail(secrets.error());
  return st.setSecrets(user.value(), secrets.value());
}

Status removeUser(store::Store& st, const std::string& name) {
  Result<std::string> user = username(name);
  if (!user) return fail(user.error());
  return st.removeUser(user.value());
}

Status setHome(store::Store& st, const std::string& name, const std::string& node) {
  Result<std::string> user = username(name);
  if (!user) return fail(user.error());
  return st.setHomeNode(user.value(), node);
}

Status listUsers(store::Store& st, std::ostream& out) {
  std::string after;
  for (;;) {
    auto page = st.listUsers(kListPage, after);
    if (!page) return fail(page.error());
    for (const auto& u : page.value()) out << u << '\n';
    if (page->size() < kListPage) return Status::ok();
    after = page->back();
  }
}

Status countUsers(store::Store& st, std::ostream& out) {
  auto n = st.countUsers();
  if (!n) return fail(n.error());
  out << n.value() << '\n';
  return Status::ok();
}

Status showUser(store::Store& st, const std::string& name, std::ostream& out) {
  Result<std::string> user = username(name);
  if (!user) return fail(user.error());
  auto rec = st.getUser(user.value());
  if (!rec) return fail(rec.error());
  if (!rec.value()) return Status::fail("not-found", "no user " + user.value());
  auto roster = st.getRoster(user.value());
  if (!roster) return fail(roster.error());
  const store::UserRecord& r = *rec.value();
  out << "username: " << r.username << '\n'
      << "home-node: " << (r.homeNode.empty() ? "(unassigned)" : r.homeNode) << '\n'
      << "disabled: " << (r.disabled ? "yes" : "no") << '\n'
      << "scram: SHA-1 " << r.secrets.sha1.iterations << " iterations, SHA-256 "
      << r.secrets.sha256.iterations << " iterations\n"
      << "roster-items: " << roster->size() << '\n';
  return Status::ok();
}

}  // namespace xmesh::ctl
