#include "store/sqlite_store.h"

#include <sqlite3.h>

#include "store/row_codec.h"
#include "store/sqlite_schema.h"
#include "store/sqlite_stmt.h"

namespace xmesh::store {
namespace {

using sqlite::Stmt;
using sqlite::Txn;
using sqlite::Use;

using codec::joinGroups;
using codec::splitGroups;
using codec::subCode;
using codec::subFromCode;

Status failWith(const Error& e) { return Status::fail(e.reason, e.detail); }

class SqliteStore final : public Store {
 public:
  SqliteStore(sqlite3* db, std::string domain) : db_(db), domain_(std::move(domain)) {}
  ~SqliteStore() override {
    // Statements must be finalized before the connection closes: clear them first.
    stmts_.reset();
    sqlite3_close_v2(db_);
  }

  Status prepareAll();

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
                     const std::vector<std::pair<std::string, RosterItem>>& rosterRows) override;
  Status putNodeStatus(const NodeStatusRow& row) override;
  Result<std::optional<NodeStatusRow>> getNodeStatus(std::string_view node) override;
  Result<std::vector<NodeStatusRow>> listNodeStatus() override;
  Status healthCheck() override;

 private:
  struct Statements {
    Stmt getUser, addUser, delUser, delRoster, delReverse, delOffline, setSecrets, setHome;
    Stmt listUsers, countUsers, listHomes, dirVersion, getRoster, putRoster, delRosterItem;
    Stmt countOffline, pushOffline, peekOffline, delOfflineId, importUser, health;
    Stmt putNodeStatus, getNodeStatus, listNodeStatus;
  };

  Status putRoster(std::string_view username, const RosterItem& item, const std::string& groups);
  // UPDATE of one user's column; "not-found" when no row matched.
  Status updateUser(const Stmt& stmt, std::string_view username, std::string_view value,
                    const char* what);

  sqlite3* db_;
  std::string domain_;
  std::unique_ptr<Statements> stmts_ = std::make_unique<Statements>();
};

Status SqliteStore::prepareAll() {
  Statements& s = *stmts_;
  const std::pair<Stmt*, const char*> all[] = {
      {&s.getUser, "SELECT secrets, home_node, disabled FROM users WHERE username = ?1"},
      {&s.addUser, "INSERT INTO users(username, secrets, home_node, disabled) VALUES(?1, ?2, ?3, ?4)"},
      {&s.delUser, "DELETE FROM users WHERE username = ?1"},
      {&s.delRoster, "DELETE FROM roster WHERE username = ?1"},
      {&s.delReverse, "DELETE FROM roster WHERE contact = ?1"},
      {&s.delOffline, "DELETE FROM offline WHERE username = ?1"},
      {&s.setSecrets, "UPDATE users SET secrets = ?2 WHERE username = ?1"},
      {&s.setHome, "UPDATE users SET home_node = ?2 WHERE username = ?1"},
      {&s.listUsers, "SELECT username FROM users WHERE username > ?1 ORDER BY username LIMIT ?2"},
      {&s.countUsers, "SELECT count(*) FROM users"},
      {&s.listHomes,
       "SELECT username, home_node FROM users WHERE username > ?1 AND home_node <> '' "
       "ORDER BY username LIMIT ?2"},
      {&s.dirVersion, "SELECT version FROM directory_version WHERE id = 1"},
      {&s.getRoster,
       "SELECT contact, name, sub, ask_out, pending_in, groups FROM roster WHERE username = ?1 "
       "ORDER BY contact"},
      {&s.putRoster,
       "INSERT INTO roster(username, contact, name, sub, ask_out, pending_in, groups) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(username, contact) DO UPDATE SET "
       "name = excluded.name, sub = excluded.sub, ask_out = excluded.ask_out, "
       "pending_in = excluded.pending_in, groups = excluded.groups"},
      {&s.delRosterItem, "DELETE FROM roster WHERE username = ?1 AND contact = ?2"},
      {&s.countOffline, "SELECT count(*) FROM offline WHERE username = ?1"},
      {&s.pushOffline, "INSERT INTO offline(username, stored_at_ms, bytes) VALUES(?1, ?2, ?3)"},
      {&s.peekOffline,
       "SELECT id, bytes, stored_at_ms FROM offline WHERE username = ?1 ORDER BY id LIMIT ?2"},
      {&s.delOfflineId, "DELETE FROM offline WHERE username = ?1 AND id = ?2"},
      {&s.importUser,
       "INSERT INTO users(username, secrets, home_node, disabled) VALUES(?1, ?2, ?3, ?4) "
       "ON CONFLICT(username) DO UPDATE SET secrets = excluded.secrets, disabled = excluded.disabled, "
       "home_node = CASE WHEN excluded.home_node <> '' THEN excluded.home_node ELSE home_node END"},
      {&s.health, "SELECT version FROM schema_version LIMIT 1"},
      {&s.putNodeStatus,
       "INSERT OR REPLACE INTO node_status(node, beat_ms, incarnation, state, reason, role, "
       "serves_own, serves_peer) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
      {&s.getNodeStatus,
       "SELECT node, beat_ms, incarnation, state, reason, role, serves_own, serves_peer "
       "FROM node_status WHERE node = ?1"},
      {&s.listNodeStatus,
       "SELECT node, beat_ms, incarnation, state, reason, role, serves_own, serves_peer "
       "FROM node_status ORDER BY node"},
  };
  for (const auto& [stmt, sql] : all)
    if (Status st = stmt->prepare(db_, sql); !st) return st;
  return Status::ok();
}

Result<std::optional<UserRecord>> SqliteStore::getUser(std::string_view username) {
  Use u(stmts_->getUser);
  u.text(1, username);
  int rc = u.step();
  if (rc == SQLITE_DONE) return std::optional<UserRecord>();
  if (rc != SQLITE_ROW) return sqlite::toError(db_, rc, "getUser");
  auto secrets = sasl::parseStoredSecrets(u.columnText(0));
  if (!secrets) return Error{"bad-secrets", "user " + std::string(username) + ": " + secrets.error().detail};
  UserRecord r;
  r.username = std::string(username);
  r.secrets = std::move(secrets.value());
  r.homeNode = u.columnText(1);
  r.disabled = u.columnInt(2) != 0;
  return std::optional<UserRecord>(std::move(r));
}

Status SqliteStore::addUser(const UserRecord& user) {
  std::string secrets = sasl::formatStoredSecrets(user.secrets);
  Use u(stmts_->addUser);
  u.text(1, user.username).text(2, secrets).text(3, user.homeNode).integer(4, user.disabled ? 1 : 0);
  int rc = u.step();
  if (rc == SQLITE_DONE) return Status::ok();
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
    return Status::fail("exists", "user " + user.username + " exists");
  return failWith(sqlite::toError(db_, rc, "addUser"));
}

Status SqliteStore::removeUser(std::string_view username) {
  Txn txn(db_);
  if (Status s = txn.begin(); !s) return s;
  {
    Use u(stmts_->delUser);
    if (Status s = u.text(1, username).run("removeUser"); !s) return s;
  }
  if (sqlite3_changes(db_) == 0) return Status::fail("not-found", "no user " + std::string(username));
  for (Stmt* stmt : {&stmts_->delRoster, &stmts_->delOffline}) {
    Use u(*stmt);
    if (Status s = u.text(1, username).run("removeUser"); !s) return s;
  }
  if (!domain_.empty()) {
    // Admin-only and rare, so this scans the roster rather than paying for an index on
    // contact in every import and roster write.
    std::string jid = std::string(username) + "@" + domain_;
    Use u(stmts_->delReverse);
    if (Status s = u.text(1, jid).run("removeUser"); !s) return s;
  }
  return txn.commit();
}

Status SqliteStore::updateUser(const Stmt& stmt, std::string_view username, std::string_view value,
                               const char* what) {
  Use u(stmt);
  if (Status s = u.text(1, username).text(2, value).run(what); !s) return s;
  if (sqlite3_changes(db_) == 0) return Status::fail("not-found", "no user " + std::string(username));
  return Status::ok();
}

Status SqliteStore::setSecrets(std::string_view username, const sasl::StoredSecrets& secrets) {
  return updateUser(stmts_->setSecrets, username, sasl::formatStoredSecrets(secrets), "setSecrets");
}

Status SqliteStore::setHomeNode(std::string_view username, std::string_view node) {
  return updateUser(stmts_->setHome, username, node, "setHomeNode");
}

Result<std::vector<std::string>> SqliteStore::listUsers(size_t limit, std::string_view after) {
  Use u(stmts_->listUsers);
  u.text(1, after).integer(2, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  std::vector<std::string> out;
  int rc;
  while ((rc = u.step()) == SQLITE_ROW) out.push_back(u.columnText(0));
  if (rc != SQLITE_DONE) return sqlite::toError(db_, rc, "listUsers");
  return out;
}

Result<std::vector<UserHomeRow>> SqliteStore::listHomes(size_t limit, std::string_view after) {
  Use u(stmts_->listHomes);
  u.text(1, after).integer(2, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  std::vector<UserHomeRow> out;
  int rc;
  while ((rc = u.step()) == SQLITE_ROW) out.push_back(UserHomeRow{u.columnText(0), u.columnText(1)});
  if (rc != SQLITE_DONE) return sqlite::toError(db_, rc, "listHomes");
  return out;
}

Result<int64_t> SqliteStore::directoryVersion() {
  Use u(stmts_->dirVersion);
  int rc = u.step();
  if (rc != SQLITE_ROW) return sqlite::toError(db_, rc, "directoryVersion");
  return u.columnInt(0);
}

Result<uint64_t> SqliteStore::countUsers() {
  Use u(stmts_->countUsers);
  int rc = u.step();
  if (rc != SQLITE_ROW) return sqlite::toError(db_, rc, "countUsers");
  return static_cast<uint64_t>(u.columnInt(0));
}

Result<std::vector<RosterItem>> SqliteStore::getRoster(std::string_view username) {
  Use u(stmts_->getRoster);
  u.text(1, username);
  std::vector<RosterItem> out;
  int rc;
  while ((rc = u.step()) == SQLITE_ROW) {
    RosterItem i;
    i.contact = u.columnText(0);
    i.name = u.columnText(1);
    i.sub = subFromCode(u.columnInt(2));
    i.askOut = u.columnInt(3) != 0;
    i.pendingIn = u.columnInt(4) != 0;
    i.groups = splitGroups(u.columnText(5));
    out.push_back(std::move(i));
  }
  if (rc != SQLITE_DONE) return sqlite::toError(db_, rc, "getRoster");
  return out;
}

Status SqliteStore::putRoster(std::string_view username, const RosterItem& item, const std::string& groups) {
  Use u(stmts_->putRoster);
  u.text(1, username).text(2, item.contact).text(3, item.name).integer(4, subCode(item.sub));
  u.integer(5, item.askOut ? 1 : 0).integer(6, item.pendingIn ? 1 : 0).text(7, groups);
  return u.run("putRosterItem");
}

Status SqliteStore::putRosterItem(std::string_view username, const RosterItem& item) {
  return putRoster(username, item, joinGroups(item.groups));
}

Status SqliteStore::removeRosterItem(std::string_view username, std::string_view contact) {
  Use u(stmts_->delRosterItem);
  return u.text(1, username).text(2, contact).run("removeRosterItem");
}

Result<int64_t> SqliteStore::pushOffline(std::string_view username, std::string_view bytes, int64_t nowMs,
                                         size_t maxPerUser) {
  // Count and insert under one write lock, so two nodes storing for the same user at
  // once cannot both pass the quota check.
  Txn txn(db_);
  if (Status s = txn.begin(); !s) return s.error();
  {
    Use u(stmts_->countOffline);
    int rc = u.text(1, username).step();
    if (rc != SQLITE_ROW) return sqlite::toError(db_, rc, "pushOffline");
    if (static_cast<uint64_t>(u.columnInt(0)) >= maxPerUser)
      return Error{"quota", "offline quota reached for " + std::string(username)};
  }
  {
    Use u(stmts_->pushOffline);
    u.text(1, username).integer(2, nowMs).blob(3, bytes);
    if (Status s = u.run("pushOffline"); !s) return s.error();
  }
  int64_t id = sqlite3_last_insert_rowid(db_);
  if (Status s = txn.commit(); !s) return s.error();
  return id;
}

Result<std::vector<OfflineMessage>> SqliteStore::peekOffline(std::string_view username, size_t limit) {
  Use u(stmts_->peekOffline);
  u.text(1, username).integer(2, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  std::vector<OfflineMessage> out;
  int rc;
  while ((rc = u.step()) == SQLITE_ROW) out.push_back(OfflineMessage{u.columnInt(0), u.columnText(1), u.columnInt(2)});
  if (rc != SQLITE_DONE) return sqlite::toError(db_, rc, "peekOffline");
  return out;
}

Status SqliteStore::deleteOffline(std::string_view username, const std::vector<int64_t>& ids) {
  if (ids.empty()) return Status::ok();
  Txn txn(db_);
  if (Status s = txn.begin(); !s) return s;
  for (int64_t id : ids) {
    Use u(stmts_->delOfflineId);
    if (Status s = u.text(1, username).integer(2, id).run("deleteOffline"); !s) return s;
  }
  return txn.commit();
}

Status SqliteStore::importBatch(const std::vector<UserRecord>& users,
                                const std::vector<std::pair<std::string, RosterItem>>& rosterRows) {
  Txn txn(db_);
  if (Status s = txn.begin(); !s) return s;
  std::string secrets;
  for (const auto& user : users) {
    secrets = sasl::formatStoredSecrets(user.secrets);
    Use u(stmts_->importUser);
    u.text(1, user.username).text(2, secrets).text(3, user.homeNode).integer(4, user.disabled ? 1 : 0);
    if (Status s = u.run("importBatch user"); !s) return s;
  }
  std::string groups;
  for (const auto& [owner, item] : rosterRows) {
    groups = joinGroups(item.groups);
    if (Status s = putRoster(owner, item, groups); !s) return s;
  }
  return txn.commit();
}

namespace {
NodeStatusRow readNodeStatus(Use& u) {
  NodeStatusRow r;
  r.node = u.columnText(0);
  r.beatMs = u.columnInt(1);
  r.incarnation = static_cast<uint64_t>(u.columnInt(2));
  r.state = u.columnText(3);
  r.reason = u.columnText(4);
  r.role = u.columnText(5);
  r.servesOwn = u.columnInt(6) != 0;
  r.servesPeer = u.columnInt(7) != 0;
  return r;
}
}  // namespace

Status SqliteStore::putNodeStatus(const NodeStatusRow& row) {
  Use u(stmts_->putNodeStatus);
  u.text(1, row.node).integer(2, row.beatMs).integer(3, static_cast<int64_t>(row.incarnation))
      .text(4, row.state).text(5, row.reason).text(6, row.role)
      .integer(7, row.servesOwn ? 1 : 0).integer(8, row.servesPeer ? 1 : 0);
  int rc = u.step();
  if (rc == SQLITE_DONE) return Status::ok();
  return failWith(sqlite::toError(db_, rc, "putNodeStatus"));
}

Result<std::optional<NodeStatusRow>> SqliteStore::getNodeStatus(std::string_view node) {
  Use u(stmts_->getNodeStatus);
  u.text(1, node);
  int rc = u.step();
  if (rc == SQLITE_DONE) return std::optional<NodeStatusRow>();
  if (rc != SQLITE_ROW) return sqlite::toError(db_, rc, "getNodeStatus");
  return std::optional<NodeStatusRow>(readNodeStatus(u));
}

Result<std::vector<NodeStatusRow>> SqliteStore::listNodeStatus() {
  Use u(stmts_->listNodeStatus);
  std::vector<NodeStatusRow> out;
  int rc;
  while ((rc = u.step()) == SQLITE_ROW) out.push_back(readNodeStatus(u));
  if (rc != SQLITE_DONE) return sqlite::toError(db_, rc, "listNodeStatus");
  return out;
}

Status SqliteStore::healthCheck() {
  Use u(stmts_->health);
  int rc = u.step();
  if (rc == SQLITE_ROW || rc == SQLITE_DONE) return Status::ok();
  return failWith(sqlite::toError(db_, rc, "healthCheck"));
}

Status applyPragmas(sqlite3* db, const SqliteOptions& o) {
  sqlite3_busy_timeout(db, o.busyTimeoutMs);
  // journal_mode=WAL is persistent in the file; asking again is a no-op once set.
  if (Status s = sqlite::exec(db, "PRAGMA journal_mode=WAL"); !s) return s;
  const char* sync = o.bulkLoad ? "PRAGMA synchronous=OFF"
                     : o.synchronousNormal ? "PRAGMA synchronous=NORMAL"
                                           : "PRAGMA synchronous=FULL";
  if (Status s = sqlite::exec(db, sync); !s) return s;
  // A WAL grown by an import or a long reader shrinks back to 64 MiB after the next
  // checkpoint instead of keeping its peak size on disk.
  if (Status s = sqlite::exec(db, "PRAGMA journal_size_limit=67108864"); !s) return s;
  if (o.bulkLoad) {
    // 256 MiB of page cache keeps the roster b-tree's interior pages resident;
    // checkpointing every 64k pages instead of 1k avoids copying pages that the next
    // batch rewrites anyway.
    if (Status s = sqlite::exec(db, "PRAGMA cache_size=-262144"); !s) return s;
    if (Status s = sqlite::exec(db, "PRAGMA wal_autocheckpoint=65536"); !s) return s;
    if (Status s = sqlite::exec(db, "PRAGMA temp_store=MEMORY"); !s) return s;
  }
  return Status::ok();
}

}  // namespace

Result<StorePtr> openSqlite(const SqliteOptions& options) {
  sqlite3* db = nullptr;
  // NOMUTEX: a connection is confined to one worker thread at a time, so SQLite's
  // per-connection mutex would be pure overhead.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(options.path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error e = sqlite::toError(db, rc, "open " + options.path);
    sqlite3_close_v2(db);
    return e;
  }
  auto store = std::make_unique<SqliteStore>(db, options.domain);
  sqlite3_extended_result_codes(db, 1);
  if (Status s = applyPragmas(db, options); !s) return s.error();
  if (Status s = sqlite::migrate(db); !s) return s.error();
  if (Status s = store->prepareAll(); !s) return s.error();
  return StorePtr(std::move(store));
}

}  // namespace xmesh::store
