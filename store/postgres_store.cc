#include "store/postgres_store.h"

#include <algorithm>
#include <cstdint>

#include "store/pg_conninfo.h"
#include "store/pg_import.h"
#include "store/pg_session.h"
#include "store/postgres_schema.h"
#include "store/row_codec.h"

namespace xmesh::store {
namespace {

using pg::Params;
using pg::Rows;
using pg::Statement;

// Every statement the store prepares; the slot is the index in this list.
namespace sql {
constexpr Statement kGetUser{0, "SELECT secrets, home_node, disabled FROM users WHERE username = $1"};
constexpr Statement kAddUser{1, "INSERT INTO users(username, secrets, home_node, disabled) VALUES($1, $2, $3, $4)"};
constexpr Statement kDelUser{2, "DELETE FROM users WHERE username = $1"};
constexpr Statement kDelRoster{3, "DELETE FROM roster WHERE username = $1"};
// Admin-only and rare, so this scans the roster rather than paying for an index on
// contact in every import and roster write (as in the SQLite backend).
constexpr Statement kDelReverse{4, "DELETE FROM roster WHERE contact = $1"};
constexpr Statement kDelOffline{5, "DELETE FROM offline WHERE username = $1"};
constexpr Statement kSetSecrets{6, "UPDATE users SET secrets = $2 WHERE username = $1"};
constexpr Statement kSetHome{7, "UPDATE users SET home_node = $2 WHERE username = $1"};
constexpr Statement kListUsers{8, "SELECT username FROM users WHERE username > $1 ORDER BY username LIMIT $2"};
constexpr Statement kCountUsers{9, "SELECT count(*) FROM users"};
constexpr Statement kListHomes{10,
                               "SELECT username, home_node FROM users WHERE username > $1 AND home_node <> '' "
                               "ORDER BY username LIMIT $2"};
constexpr Statement kDirVersion{11, "SELECT version FROM directory_version WHERE id = 1"};
constexpr Statement kGetRoster{12,
                               "SELECT contact, name, sub, ask_out, pending_in, groups FROM roster "
                               "WHERE username = $1 ORDER BY contact"};
constexpr Statement kPutRoster{13,
                               "INSERT INTO roster(username, contact, name, sub, ask_out, pending_in, groups) "
                               "VALUES($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (username, contact) DO UPDATE SET "
                               "name = excluded.name, sub = excluded.sub, ask_out = excluded.ask_out, "
                               "pending_in = excluded.pending_in, groups = excluded.groups"};
constexpr Statement kDelRosterItem{14, "DELETE FROM roster WHERE username = $1 AND contact = $2"};
constexpr Statement kPushOffline{15, "SELECT xmesh_push_offline($1, $2, $3, $4)"};
constexpr Statement kPeekOffline{16,
                                 "SELECT id, bytes, stored_at_ms FROM offline WHERE username = $1 "
                                 "ORDER BY id LIMIT $2"};
constexpr Statement kDelOfflineIds{17, "DELETE FROM offline WHERE username = $1 AND id = ANY($2::bigint[])"};
constexpr Statement kHealth{18, "SELECT version FROM schema_version LIMIT 1"};
constexpr Statement kPutNodeStatus{19,
                                   "INSERT INTO node_status(node, beat_ms, incarnation, state, reason, role, "
                                   "serves_own, serves_peer) VALUES($1, $2, $3, $4, $5, $6, $7, $8) "
                                   "ON CONFLICT (node) DO UPDATE SET beat_ms = excluded.beat_ms, "
                                   "incarnation = excluded.incarnation, state = excluded.state, "
                                   "reason = excluded.reason, role = excluded.role, "
                                   "serves_own = excluded.serves_own, serves_peer = excluded.serves_peer"};
constexpr Statement kGetNodeStatus{20,
                                   "SELECT node, beat_ms, incarnation, state, reason, role, serves_own, "
                                   "serves_peer FROM node_status WHERE node = $1"};
constexpr Statement kListNodeStatus{21,
                                    "SELECT node, beat_ms, incarnation, state, reason, role, serves_own, "
                                    "serves_peer FROM node_status ORDER BY node"};
constexpr int kImportCheck = 22;  // pg::Importer's own statement
constexpr int kCount = 23;
}  // namespace sql

Status failWith(const Error& e) { return Status::fail(e.reason, e.detail); }

int64_t limitParam(size_t limit) { return static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)); }

NodeStatusRow readNodeStatus(const Rows& r, int i) {
  NodeStatusRow row;
  row.node = r.string(i, 0);
  row.beatMs = r.integer(i, 1);
  row.incarnation = static_cast<uint64_t>(r.integer(i, 2));
  row.state = r.string(i, 3);
  row.reason = r.string(i, 4);
  row.role = r.string(i, 5);
  row.servesOwn = r.boolean(i, 6);
  row.servesPeer = r.boolean(i, 7);
  return row;
}

class PostgresStore final : public Store {
 public:
  PostgresStore(pg::ConnectParams params, std::string setupSql, const PostgresOptions& o)
      : session_(std::move(params), std::move(setupSql), sql::kCount, o.retryInterval),
        importer_(session_, sql::kImportCheck),
        domain_(o.domain) {}

  Status open() {
    if (Status s = session_.connect(); !s) return s;
    return pg::migrate(session_);
  }

  Result<std::optional<UserRecord>> getUser(std::string_view username) override;
  Status addUser(const UserRecord& user) override;
  Status removeUser(std::string_view username) override;
  Status setSecrets(std::string_view username, const sasl::StoredSecrets& secrets) override;
  Status setHomeNode(std::string_view username, std::string_view node) override;
  Result<std::vector<std::string>> listUsers(size_t limit, std::string_view after) override;
  Result<uint64_t> countUsers() override;
  Result<std::vector<UserHomeRow>> listHomes(size_t limit, std::string_view after) override;
  Result<int64_t> directoryVersion() override;
  Result<std::vector<RosterItem>> getRoster(std::string_view username) override;
  Status putRosterItem(std::string_view username, const RosterItem& item) override;
  Status removeRosterItem(std::string_view username, std::string_view contact) override;
  Result<int64_t> pushOffline(std::string_view username, std::string_view bytes, int64_t nowMs,
                              size_t maxPerUser) override;
  Result<std::vector<OfflineMessage>> peekOffline(std::string_view username, size_t limit) override;
  Status deleteOffline(std::string_view username, const std::vector<int64_t>& ids) override;
  Status importBatch(const std::vector<UserRecord>& users,
                     const std::vector<std::pair<std::string, RosterItem>>& rosterRows) override {
    return importer_.importBatch(users, rosterRows);
  }
  Status putNodeStatus(const NodeStatusRow& row) override;
  Result<std::optional<NodeStatusRow>> getNodeStatus(std::string_view node) override;
  Result<std::vector<NodeStatusRow>> listNodeStatus() override;
  Status healthCheck() override;

 private:
  Result<Rows> run(const Statement& s, const Params& p, std::string_view what) { return session_.run(s, p, what); }
  // An UPDATE of one user's row; "not-found" when no row matched.
  Status updateUser(const Statement& s, std::string_view username, std::string_view value, const char* what);

  pg::Session session_;
  pg::Importer importer_;
  std::string domain_;
};

Result<std::optional<UserRecord>> PostgresStore::getUser(std::string_view username) {
  auto r = run(sql::kGetUser, Params().text(username), "getUser");
  if (!r) return r.error();
  if (r->count() == 0) return std::optional<UserRecord>();
  auto secrets = sasl::parseStoredSecrets(r->string(0, 0));
  if (!secrets) return Error{"bad-secrets", "user " + std::string(username) + ": " + secrets.error().detail};
  UserRecord u;
  u.username = std::string(username);
  u.secrets = std::move(secrets.value());
  u.homeNode = r->string(0, 1);
  u.disabled = r->boolean(0, 2);
  return std::optional<UserRecord>(std::move(u));
}

Status PostgresStore::addUser(const UserRecord& user) {
  Params p;
  p.text(user.username).text(sasl::formatStoredSecrets(user.secrets)).text(user.homeNode).boolean(user.disabled);
  auto r = run(sql::kAddUser, p, "addUser");
  if (r) return Status::ok();
  if (session_.lastSqlState() == "23505")  // unique_violation: the only key is username
    return Status::fail("exists", "user " + user.username + " exists");
  return failWith(r.error());
}

Status PostgresStore::removeUser(std::string_view username) {
  pg::Txn txn(session_);
  if (Status s = txn.begin(); !s) return s;
  auto gone = run(sql::kDelUser, Params().text(username), "removeUser");
  if (!gone) return failWith(gone.error());
  if (gone->affected() == 0) return Status::fail("not-found", "no user " + std::string(username));
  for (const Statement* s : {&sql::kDelRoster, &sql::kDelOffline})
    if (auto r = run(*s, Params().text(username), "removeUser"); !r) return failWith(r.error());
  if (!domain_.empty()) {
    std::string jid = std::string(username) + "@" + domain_;
    if (auto r = run(sql::kDelReverse, Params().text(jid), "removeUser"); !r) return failWith(r.error());
  }
  return txn.commit();
}

Status PostgresStore::updateUser(const Statement& s, std::string_view username, std::string_view value,
                                 const char* what) {
  auto r = run(s, Params().text(username).text(value), what);
  if (!r) return failWith(r.error());
  if (r->affected() == 0) return Status::fail("not-found", "no user " + std::string(username));
  return Status::ok();
}

Status PostgresStore::setSecrets(std::string_view username, const sasl::StoredSecrets& secrets) {
  return updateUser(sql::kSetSecrets, username, sasl::formatStoredSecrets(secrets), "setSecrets");
}

Status PostgresStore::setHomeNode(std::string_view username, std::string_view node) {
  return updateUser(sql::kSetHome, username, node, "setHomeNode");
}

Result<std::vector<std::string>> PostgresStore::listUsers(size_t limit, std::string_view after) {
  auto r = run(sql::kListUsers, Params().text(after).integer(limitParam(limit)), "listUsers");
  if (!r) return r.error();
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(r->count()));
  for (int i = 0; i < r->count(); ++i) out.push_back(r->string(i, 0));
  return out;
}

Result<uint64_t> PostgresStore::countUsers() {
  auto r = run(sql::kCountUsers, Params(), "countUsers");
  if (!r) return r.error();
  return static_cast<uint64_t>(r->integer(0, 0));
}

Result<std::vector<UserHomeRow>> PostgresStore::listHomes(size_t limit, std::string_view after) {
  auto r = run(sql::kListHomes, Params().text(after).integer(limitParam(limit)), "listHomes");
  if (!r) return r.error();
  std::vector<UserHomeRow> out;
  out.reserve(static_cast<size_t>(r->count()));
  for (int i = 0; i < r->count(); ++i) out.push_back(UserHomeRow{r->string(i, 0), r->string(i, 1)});
  return out;
}

Result<int64_t> PostgresStore::directoryVersion() {
  auto r = run(sql::kDirVersion, Params(), "directoryVersion");
  if (!r) return r.error();
  if (r->count() != 1) return Error{"io", "directoryVersion: the directory_version row is missing"};
  return r->integer(0, 0);
}

Result<std::vector<RosterItem>> PostgresStore::getRoster(std::string_view username) {
  auto r = run(sql::kGetRoster, Params().text(username), "getRoster");
  if (!r) return r.error();
  std::vector<RosterItem> out;
  out.reserve(static_cast<size_t>(r->count()));
  for (int i = 0; i < r->count(); ++i) {
    RosterItem item;
    item.contact = r->string(i, 0);
    item.name = r->string(i, 1);
    item.sub = codec::subFromCode(r->integer(i, 2));
    item.askOut = r->boolean(i, 3);
    item.pendingIn = r->boolean(i, 4);
    item.groups = codec::splitGroups(r->text(i, 5));
    out.push_back(std::move(item));
  }
  return out;
}

Status PostgresStore::putRosterItem(std::string_view username, const RosterItem& item) {
  Params p;
  p.text(username).text(item.contact).text(item.name).integer(codec::subCode(item.sub));
  p.boolean(item.askOut).boolean(item.pendingIn).text(codec::joinGroups(item.groups));
  auto r = run(sql::kPutRoster, p, "putRosterItem");
  return r ? Status::ok() : failWith(r.error());
}

Status PostgresStore::removeRosterItem(std::string_view username, std::string_view contact) {
  auto r = run(sql::kDelRosterItem, Params().text(username).text(contact), "removeRosterItem");
  return r ? Status::ok() : failWith(r.error());
}

Result<int64_t> PostgresStore::pushOffline(std::string_view username, std::string_view bytes, int64_t nowMs,
                                           size_t maxPerUser) {
  Params p;
  p.text(username).bytes(bytes).integer(nowMs).integer(limitParam(maxPerUser));
  auto r = run(sql::kPushOffline, p, "pushOffline");
  if (!r) return r.error();
  if (r->isNull(0, 0)) return Error{"quota", "offline quota reached for " + std::string(username)};
  return r->integer(0, 0);
}

Result<std::vector<OfflineMessage>> PostgresStore::peekOffline(std::string_view username, size_t limit) {
  auto r = run(sql::kPeekOffline, Params().text(username).integer(limitParam(limit)), "peekOffline");
  if (!r) return r.error();
  std::vector<OfflineMessage> out;
  out.reserve(static_cast<size_t>(r->count()));
  for (int i = 0; i < r->count(); ++i) out.push_back(OfflineMessage{r->integer(i, 0), r->bytes(i, 1), r->integer(i, 2)});
  return out;
}

Status PostgresStore::deleteOffline(std::string_view username, const std::vector<int64_t>& ids) {
  if (ids.empty()) return Status::ok();
  auto r = run(sql::kDelOfflineIds, Params().text(username).integerArray(ids), "deleteOffline");
  return r ? Status::ok() : failWith(r.error());
}

Status PostgresStore::putNodeStatus(const NodeStatusRow& row) {
  Params p;
  p.text(row.node).integer(row.beatMs).integer(static_cast<int64_t>(row.incarnation));
  p.text(row.state).text(row.reason).text(row.role).boolean(row.servesOwn).boolean(row.servesPeer);
  auto r = run(sql::kPutNodeStatus, p, "putNodeStatus");
  return r ? Status::ok() : failWith(r.error());
}

Result<std::optional<NodeStatusRow>> PostgresStore::getNodeStatus(std::string_view node) {
  auto r = run(sql::kGetNodeStatus, Params().text(node), "getNodeStatus");
  if (!r) return r.error();
  if (r->count() == 0) return std::optional<NodeStatusRow>();
  return std::optional<NodeStatusRow>(readNodeStatus(*r, 0));
}

Result<std::vector<NodeStatusRow>> PostgresStore::listNodeStatus() {
  auto r = run(sql::kListNodeStatus, Params(), "listNodeStatus");
  if (!r) return r.error();
  std::vector<NodeStatusRow> out;
  for (int i = 0; i < r->count(); ++i) out.push_back(readNodeStatus(*r, i));
  return out;
}

Status PostgresStore::healthCheck() {
  auto r = run(sql::kHealth, Params(), "healthCheck");
  return r ? Status::ok() : failWith(r.error());
}

// Settings for every connection, applied again after each reconnect.
// plan_cache_mode: a prepared statement otherwise switches to a generic plan after five
// runs, chosen with the statistics of that moment; a node that connected to an empty
// database before the import would keep sequential scans over millions of roster rows.
// Planning each run costs a fraction of the round trip.
std::string setupSql(const PostgresOptions& o) {
  std::string s = "SET plan_cache_mode = force_custom_plan; SET lock_timeout = " + std::to_string(o.lockTimeoutMs);
  if (o.bulkLoad) s += "; SET synchronous_commit = off";
  return s;
}

}  // namespace

Result<StorePtr> openPostgres(const PostgresOptions& options) {
  auto params = pg::connectParams(options.conninfo);
  if (!params) return params.error();
  auto store = std::make_unique<PostgresStore>(std::move(params.value()), setupSql(options), options);
  if (Status s = store->open(); !s) return s.error();
  return StorePtr(std::move(store));
}

}  // namespace xmesh::store
