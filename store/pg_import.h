// Bulk import for the PostgreSQL backend (internal): Store::importBatch in a handful of
// round trips and one transaction; row-at-a-time upserts would cost a round trip each.
//
// Users are COPYed into a temporary staging table (no WAL, no index) and merged with
// INSERT ... SELECT ... ON CONFLICT. Roster rows go the same way, except in the common
// case of a first import (none of the batch's owners has a roster yet): then they are
// COPYed straight into the roster table, about twice as fast as the upsert, which has
// to probe the key index row by row.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "store/pg_session.h"
#include "store/store.h"

namespace xmesh::store::pg {

// COPY text-format rows for the staging tables. One statement may not upsert a key
// twice, so each keeps the last record per key (what row-at-a-time upserts would leave)
// and emits rows in key order (index-friendly).
std::string copyUsersRows(const std::vector<UserRecord>& users);
// `owners`, when given, receives the distinct owners in order (views into `rows`).
std::string copyRosterRows(const std::vector<std::pair<std::string, RosterItem>>& rows,
                           std::vector<std::string_view>* owners = nullptr);

class Importer {
 public:
  // `checkSlot`: a statement slot of the session reserved for the importer.
  Importer(Session& s, int checkSlot) : s_(s), checkSlot_(checkSlot) {}
  // Store::importBatch's semantics: users upserted (home kept when the record names
  // none), roster rows upserted, one transaction.
  Status importBatch(const std::vector<UserRecord>& users,
                     const std::vector<std::pair<std::string, RosterItem>>& rosterRows);

 private:
  // Creates the session's temporary staging tables once per connection.
  Status ensureStaging();
  // Inside the batch's transaction: when no owner has a roster yet, COPYs the rows
  // straight into the roster table and returns true; false leaves the upsert to do.
  Result<bool> firstImportOf(const std::vector<std::string_view>& owners, const std::string& rosterCopy);

  Session& s_;
  int checkSlot_;
  bool staged_ = false;
  uint64_t stagedGeneration_ = 0;
};

}  // namespace xmesh::store::pg
