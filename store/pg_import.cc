#include "store/pg_import.h"

#include <algorithm>
#include <numeric>
#include <string_view>
#include <tuple>

#include "sasl/credentials.h"
#include "store/row_codec.h"

namespace xmesh::store::pg {
namespace {

// COPY text format: backslash, tab, newline and carriage return are escaped; anything
// else (including U+001F, the group separator) passes as is.
void appendField(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
}

// Indexes of the last element of each run of equal keys, in key order.
template <typename KeyOf>
std::vector<size_t> lastPerKey(size_t n, KeyOf keyOf) {
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return keyOf(a) < keyOf(b); });
  std::vector<size_t> out;
  out.reserve(n);
  for (size_t i = 0; i < idx.size(); ++i)
    if (i + 1 == idx.size() || keyOf(idx[i]) != keyOf(idx[i + 1])) out.push_back(idx[i]);
  return out;
}

// Created ON COMMIT DELETE ROWS: each batch's transaction empties them at its end.
constexpr const char* kStagingSql = R"sql(
CREATE TEMP TABLE IF NOT EXISTS xmesh_import_users(
  username text COLLATE "C", secrets text, home_node text, disabled boolean) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS xmesh_import_roster(
  username text COLLATE "C", contact text COLLATE "C", name text, sub smallint,
  ask_out boolean, pending_in boolean, groups text) ON COMMIT DELETE ROWS;
)sql";

constexpr const char* kMergeUsersSql = R"sql(
INSERT INTO users(username, secrets, home_node, disabled)
  SELECT username, secrets, home_node, disabled FROM xmesh_import_users
  ON CONFLICT (username) DO UPDATE SET secrets = excluded.secrets, disabled = excluded.disabled,
    home_node = CASE WHEN excluded.home_node <> '' THEN excluded.home_node ELSE users.home_node END
)sql";

// A roster row identical to the stored one is not rewritten, so re-running an import
// leaves no dead rows behind.
constexpr const char* kMergeRosterSql = R"sql(
INSERT INTO roster(username, contact, name, sub, ask_out, pending_in, groups)
  SELECT username, contact, name, sub, ask_out, pending_in, groups FROM xmesh_import_roster
  ON CONFLICT (username, contact) DO UPDATE SET name = excluded.name, sub = excluded.sub,
    ask_out = excluded.ask_out, pending_in = excluded.pending_in, groups = excluded.groups
  WHERE (roster.name, roster.sub, roster.ask_out, roster.pending_in, roster.groups)
    IS DISTINCT FROM (excluded.name, excluded.sub, excluded.ask_out, excluded.pending_in, excluded.groups)
)sql";

// Whether none of the batch's roster owners has a roster yet (a first import).
constexpr const char* kOwnersAreNewSql = "SELECT NOT EXISTS (SELECT 1 FROM roster WHERE username = ANY($1::text[]))";

Status fail(const Error& e) { return Status::fail(e.reason, e.detail); }

}  // namespace

std::string copyUsersRows(const std::vector<UserRecord>& users) {
  std::string out;
  out.reserve(users.size() * 400);
  for (size_t i : lastPerKey(users.size(), [&](size_t k) -> std::string_view { return users[k].username; })) {
    const UserRecord& u = users[i];
    appendField(out, u.username);
    out += '\t';
    appendField(out, sasl::formatStoredSecrets(u.secrets));
    out += '\t';
    appendField(out, u.homeNode);
    out += u.disabled ? "\tt\n" : "\tf\n";
  }
  return out;
}

std::string copyRosterRows(const std::vector<std::pair<std::string, RosterItem>>& rows,
                           std::vector<std::string_view>* owners) {
  std::string out;
  out.reserve(rows.size() * 64);
  auto key = [&](size_t k) { return std::tie(rows[k].first, rows[k].second.contact); };
  for (size_t i : lastPerKey(rows.size(), key)) {
    const auto& [owner, item] = rows[i];
    if (owners && (owners->empty() || owners->back() != owner)) owners->push_back(owner);
    appendField(out, owner);
    out += '\t';
    appendField(out, item.contact);
    out += '\t';
    appendField(out, item.name);
    out += '\t';
    out += std::to_string(codec::subCode(item.sub));
    out += item.askOut ? "\tt" : "\tf";
    out += item.pendingIn ? "\tt\t" : "\tf\t";
    appendField(out, codec::joinGroups(item.groups));
    out += '\n';
  }
  return out;
}

Status Importer::ensureStaging() {
  if (staged_ && stagedGeneration_ == s_.generation()) return Status::ok();
  auto r = s_.exec(kStagingSql, "import staging tables");
  if (!r) return fail(r.error());
  staged_ = true;
  stagedGeneration_ = s_.generation();
  return Status::ok();
}

Status Importer::importBatch(const std::vector<UserRecord>& users,
                             const std::vector<std::pair<std::string, RosterItem>>& rosterRows) {
  // Encoded before the transaction opens, so no lock is held while we format.
  std::string userRows = copyUsersRows(users);
  std::vector<std::string_view> owners;
  std::string rosterCopy = copyRosterRows(rosterRows, &owners);
  if (Status st = ensureStaging(); !st) return st;
  Txn txn(s_);
  if (Status st = txn.begin(); !st) return st;
  if (!userRows.empty()) {
    if (Status st = s_.copyIn("COPY xmesh_import_users FROM STDIN", userRows, "import users"); !st) return st;
    if (auto r = s_.exec(kMergeUsersSql, "import users merge"); !r) return fail(r.error());
  }
  if (!rosterCopy.empty()) {
    auto fresh = firstImportOf(owners, rosterCopy);
    if (!fresh) return fail(fresh.error());
    if (!fresh.value()) {
      if (Status st = s_.copyIn("COPY xmesh_import_roster FROM STDIN", rosterCopy, "import roster"); !st) return st;
      if (auto r = s_.exec(kMergeRosterSql, "import roster merge"); !r) return fail(r.error());
    }
  }
  return txn.commit();
}

Result<bool> Importer::firstImportOf(const std::vector<std::string_view>& owners, const std::string& rosterCopy) {
  auto isNew = s_.run(Statement{checkSlot_, kOwnersAreNewSql}, Params().textArray(owners), "import roster check");
  if (!isNew) return isNew.error();
  if (!isNew->boolean(0, 0)) return false;
  // A node may write one of these rosters between the check and the COPY: the COPY then
  // fails on the key, and the savepoint lets the batch take the upsert path instead.
  if (auto r = s_.exec("SAVEPOINT xmesh_import", "import savepoint"); !r) return r.error();
  Status copied = s_.copyIn("COPY roster(username, contact, name, sub, ask_out, pending_in, groups) FROM STDIN",
                            rosterCopy, "import roster");
  if (copied) {
    if (auto r = s_.exec("RELEASE SAVEPOINT xmesh_import", "import savepoint"); !r) return r.error();
    return true;
  }
  if (s_.lastSqlState() != "23505") return copied.error();
  if (auto r = s_.exec("ROLLBACK TO SAVEPOINT xmesh_import", "import savepoint"); !r) return r.error();
  return false;
}

}  // namespace xmesh::store::pg
