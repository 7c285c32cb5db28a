#include "store/postgres_schema.h"

#include <array>
#include <string>

namespace xmesh::store::pg {
namespace {

// migrations[i] takes the schema from version i to i+1. Append only: a released step
// is never edited, a later step fixes it.
//
// Why these shapes:
// - Keys are COLLATE "C" so listUsers/listHomes/getRoster order by bytes, as the
//   interface promises, whatever the database's default collation.
// - users.secrets is sasl::formatStoredSecrets text and roster.groups is joined with
//   U+001F, exactly as in the SQLite schema (see sqlite_schema.cc for why).
// - offline ids come from an identity sequence: never handed out twice, so a late
//   acknowledgement cannot delete a newer message. xmesh_push_offline counts and
//   inserts under a per-user advisory lock (one round trip), so two nodes storing for
//   one user at once cannot both pass the quota check.
// - directory_version is one row bumped by statement-level triggers, at most once per
//   statement: a row trigger would update that row 45,000 times in one import
//   transaction, each update walking the row's growing version chain. A row (not a
//   sequence) because readers must see the bump together with the commit it counts.
//   The UPDATE trigger compares old and new homes from the transition tables, so a
//   rewrite of the same home or of the credentials is not a directory change.
constexpr std::array<const char*, kSchemaVersion> kMigrations{
    R"sql(
CREATE TABLE users(
  username text COLLATE "C" PRIMARY KEY,
  secrets text NOT NULL,
  home_node text NOT NULL DEFAULT '',
  disabled boolean NOT NULL DEFAULT false
);
CREATE TABLE roster(
  username text COLLATE "C" NOT NULL,
  contact text COLLATE "C" NOT NULL,
  name text NOT NULL DEFAULT '',
  sub smallint NOT NULL DEFAULT 0,
  ask_out boolean NOT NULL DEFAULT false,
  pending_in boolean NOT NULL DEFAULT false,
  groups text NOT NULL DEFAULT '',
  PRIMARY KEY(username, contact)
);
CREATE TABLE offline(
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username text NOT NULL,
  stored_at_ms bigint NOT NULL,
  bytes bytea NOT NULL
);
CREATE INDEX offline_by_user ON offline(username, id);

CREATE FUNCTION xmesh_push_offline(p_user text, p_bytes bytea, p_at bigint, p_max bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  queued bigint;
  new_id bigint;
BEGIN
  -- Keyed ("XOFF", user); held to the end of the caller's transaction. Each statement
  -- below takes a fresh snapshot, so the count sees the previous holder's insert.
  PERFORM pg_advisory_xact_lock(1481590342, hashtext(p_user));
  SELECT count(*) INTO queued FROM offline WHERE username = p_user;
  IF queued >= p_max THEN
    RETURN NULL;
  END IF;
  INSERT INTO offline(username, stored_at_ms, bytes) VALUES (p_user, p_at, p_bytes)
    RETURNING id INTO new_id;
  RETURN new_id;
END $$;

CREATE TABLE directory_version(
  id integer PRIMARY KEY CHECK (id = 1),
  version bigint NOT NULL
);
INSERT INTO directory_version(id, version) VALUES (1, 0);
CREATE FUNCTION xmesh_directory_bump() RETURNS void LANGUAGE sql AS
  'UPDATE directory_version SET version = version + 1 WHERE id = 1';
CREATE FUNCTION xmesh_users_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows) THEN PERFORM xmesh_directory_bump(); END IF;
  RETURN NULL;
END $$;
CREATE FUNCTION xmesh_users_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM old_rows) THEN PERFORM xmesh_directory_bump(); END IF;
  RETURN NULL;
END $$;
CREATE FUNCTION xmesh_users_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n USING (username)
             WHERE o.home_node IS DISTINCT FROM n.home_node) THEN
    PERFORM xmesh_directory_bump();
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER users_directory_insert AFTER INSERT ON users
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION xmesh_users_inserted();
CREATE TRIGGER users_directory_delete AFTER DELETE ON users
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION xmesh_users_deleted();
CREATE TRIGGER users_directory_update AFTER UPDATE ON users
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION xmesh_users_updated();

CREATE TABLE node_status(
  node text COLLATE "C" PRIMARY KEY,
  beat_ms bigint NOT NULL,
  incarnation bigint NOT NULL,
  state text NOT NULL,
  reason text NOT NULL,
  role text NOT NULL,
  serves_own boolean NOT NULL,
  serves_peer boolean NOT NULL
);
)sql",
};

// Any constant works as long as nothing else in the database takes the same bigint
// advisory lock: "xmesh" in ASCII.
constexpr const char* kLockSql = "SELECT pg_advisory_xact_lock(517231440744)";

Status fail(const Error& e) { return Status::fail(e.reason, e.detail); }

}  // namespace

Status migrate(Session& s) {
  Txn txn(s);
  if (Status st = txn.begin(); !st) return st;
  if (auto r = s.exec(kLockSql, "schema lock"); !r) return fail(r.error());
  if (auto r = s.exec("CREATE TABLE IF NOT EXISTS schema_version(version integer NOT NULL)", "schema_version");
      !r)
    return fail(r.error());
  auto current = s.exec("SELECT coalesce(max(version), 0) FROM schema_version", "read schema_version");
  if (!current) return fail(current.error());
  int v = static_cast<int>(current->integer(0, 0));
  if (v > kSchemaVersion)
    return Status::fail("schema", "database schema version " + std::to_string(v) +
                                      " is newer than this build's " + std::to_string(kSchemaVersion));
  if (v == kSchemaVersion) return txn.commit();  // releases the lock
  for (; v < kSchemaVersion; ++v)
    if (auto r = s.exec(kMigrations[static_cast<size_t>(v)], "migrate to " + std::to_string(v + 1)); !r)
      return fail(r.error());
  std::string set = "DELETE FROM schema_version; INSERT INTO schema_version(version) VALUES(" +
                    std::to_string(kSchemaVersion) + ")";
  if (auto r = s.exec(set.c_str(), "write schema_version"); !r) return fail(r.error());
  return txn.commit();
}

}  // namespace xmesh::store::pg
