// The persistent store: users and their SCRAM credentials, home-node assignment,
// rosters and offline messages. SQLite is the embedded backend (sqlite_store.h),
// PostgreSQL the shared one for clusters across hosts (postgres_store.h); both
// implement this interface, so no SQL dialect leaks out of here. open_store.h picks
// one from a store spec.
//
// Calls are synchronous and may block on disk or on another process's lock: they run
// only on store worker threads (async_store.h), never on an event loop. One Store
// object is one connection and is used by one thread at a time.
//
// Error reasons (Error::reason, stable: used for metrics labels and XMPP error mapping):
//   "exists"      addUser: the username is taken
//   "not-found"   the user does not exist (removeUser, setSecrets, setHomeNode)
//   "quota"       pushOffline: the user already has maxPerUser offline messages
//   "busy"        the database stayed locked by another writer past the busy timeout
//   "bad-secrets" a stored credential string does not parse (corrupt row)
//   "schema"      the database was written by a newer xmesh (unknown schema version)
//   "unavailable" the database server cannot be reached or the connection was lost
//                 (PostgreSQL): temporary, the next call reconnects. The operation
//                 may or may not have been applied if the loss hit its commit.
//   "io"          any other database failure (detail carries the backend's message)
// Opening a store may also fail with "bad-conninfo" (PostgreSQL: the connection string
// does not parse or asks for TLS, see store/pg_conninfo.h).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "sasl/credentials.h"

namespace xmesh::store {

// The database is down or overloaded ("unavailable", "busy"): the same call may succeed
// later, so a write that was already promised (an accepted message) is kept and tried
// again rather than given up.
inline bool isTransient(const Error& e) { return e.reason == "unavailable" || e.reason == "busy"; }

// RFC 6121 subscription state of a roster item, from the roster owner's point of view.
enum class Sub { None, To, From, Both };

struct RosterItem {
  std::string contact;  // bare JID, already prepped (the key within one user's roster)
  std::string name;
  Sub sub = Sub::None;
  bool askOut = false;     // we asked the contact for a subscription, no answer yet
  bool pendingIn = false;  // the contact asked us, we have not answered yet
  std::vector<std::string> groups;
};

struct UserRecord {
  std::string username;  // nodeprepped local part
  sasl::StoredSecrets secrets;
  std::string homeNode;  // "" = unassigned
  bool disabled = false;
};

// One user's home node, for the mesh directory (router/home_directory.h).
struct UserHomeRow {
  std::string username;
  std::string homeNode;
};

struct OfflineMessage {
  int64_t id;  // increasing per store, never reused (acknowledged deletes stay exact)
  std::string bytes;
  int64_t storedAtMs;
};

// One node's Server Recovery Manager row (router/redundancy.h): the redundancy witness
// (each node stamps beatMs with the wall clock every heartbeat interval; its PRG peer
// reads it to tell a dead node from a cut heartbeat link) and the node's durable role.
// Shared by the nodes of a cluster through the cluster's store.
struct NodeStatusRow {
  std::string node;          // node id
  int64_t beatMs = 0;        // wall clock (ms since the epoch) of the last beat
  uint64_t incarnation = 0;  // the node's start id
  std::string state;         // srm::slug(State)
  std::string reason;        // srm::slug(Reason)
  std::string role;          // srm::slug(Role): durable, read back at start
  bool servesOwn = false;    // serves its own home users
  bool servesPeer = false;   // serves its PRG peer's home users
};

class Store {
 public:
  virtual ~Store() = default;

  // nullopt when the user does not exist (not an error).
  virtual Result<std::optional<UserRecord>> getUser(std::string_view username) = 0;
  // Fails with "exists" if the username is taken.
  virtual Status addUser(const UserRecord& user) = 0;
  // Removes the user, its roster, its offline messages and, when the backend knows the
  // served domain, the items for username@domain in other users' rosters.
  virtual Status removeUser(std::string_view username) = 0;
  virtual Status setSecrets(std::string_view username, const sasl::StoredSecrets& secrets) = 0;
  virtual Status setHomeNode(std::string_view username, std::string_view node) = 0;
  // Usernames in byte order, strictly after `after` ("" = from the start), at most
  // `limit` of them: page with after = the last name of the previous page.
  virtual Result<std::vector<std::string>> listUsers(size_t limit, std::string_view after) = 0;
  virtual Result<uint64_t> countUsers() = 0;
  // Users that have a home node, in username byte order, paged like listUsers.
  virtual Result<std::vector<UserHomeRow>> listHomes(size_t limit, std::string_view after) = 0;
  // A number that changes whenever a user is added or removed or a home changes, from
  // any connection or process: nodes poll it and re-announce their users to the mesh.
  virtual Result<int64_t> directoryVersion() = 0;

  // Items ordered by contact.
  virtual Result<std::vector<RosterItem>> getRoster(std::string_view username) = 0;
  // Inserts or replaces the item keyed by item.contact.
  virtual Status putRosterItem(std::string_view username, const RosterItem& item) = 0;
  // Removing an absent item is not an error.
  virtual Status removeRosterItem(std::string_view username, std::string_view contact) = 0;

  // Offline storage (XEP-0160). Returns the new message id; "quota" past maxPerUser.
  // The caller checks that the user exists.
  virtual Result<int64_t> pushOffline(std::string_view username, std::string_view bytes,
                                      int64_t nowMs, size_t maxPerUser) = 0;
  // Oldest first, without removing: delete only once delivery is acknowledged, so a
  // crash between delivery and ack re-delivers instead of losing.
  virtual Result<std::vector<OfflineMessage>> peekOffline(std::string_view username,
                                                          size_t limit) = 0;
  // Ids that are gone already (or belong to another user) are ignored.
  virtual Status deleteOffline(std::string_view username, const std::vector<int64_t>& ids) = 0;

  // Bulk provisioning: all of it in one transaction, statements prepared once.
  // Users are upserted (secrets and disabled replaced; homeNode replaced only when the
  // record names one), roster rows (owner username, item) are upserted, so re-running
  // an import is harmless. Keep batches to ~50k rows: one transaction each.
  virtual Status importBatch(const std::vector<UserRecord>& users,
                             const std::vector<std::pair<std::string, RosterItem>>& rosterRows) = 0;

  // SRM rows (NodeStatusRow). putNodeStatus inserts or replaces the row of row.node.
  virtual Status putNodeStatus(const NodeStatusRow& row) = 0;
  virtual Result<std::optional<NodeStatusRow>> getNodeStatus(std::string_view node) = 0;
  virtual Result<std::vector<NodeStatusRow>> listNodeStatus() = 0;

  // A cheap query proving the connection works (the node's critical-service check).
  virtual Status healthCheck() = 0;
};

using StorePtr = std::unique_ptr<Store>;

}  // namespace xmesh::store
