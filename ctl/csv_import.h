// Bulk import of users with rosters from a CSV file (format: ctl/README.md):
// username,secret,contacts[,home]. The optional 4th column is the user's home node id.
//
// Pipeline: a reader thread cuts the file into batches of ~batchRows roster rows and
// parses each batch's lines on `threads` threads (nodeprep, and PBKDF2 for plain:
// secrets, the only expensive part); the calling thread writes batches to the store,
// one transaction each, while the reader prepares the next.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/store.h"

namespace xmesh::ctl {

struct ImportOptions {
  size_t threads = 0;         // 0 = hardware concurrency
  size_t batchRows = 50000;   // roster rows per transaction
  uint32_t iterations = 4096; // PBKDF2 iterations for plain: secrets
};

struct ImportStats {
  uint64_t users = 0;
  uint64_t rosterRows = 0;
  uint64_t withHome = 0;  // users whose line named a home node
  double seconds = 0;
};

// The raw fields of one line. The username ends at the first comma. A plain: password
// may hold commas, so the other fields are found from the right: when the last field
// holds no '@' and the one before it is not the secret and is empty, only ';', or holds
// '@', the line has four columns (..., contacts, home); otherwise three
// (the last field is the contacts). Contacts are bare JIDs, which always hold '@', and
// node ids never do, so a 4-column line is never misread. A 3-column line is read
// differently only when it has no contacts and the part of its plain: password after
// the password's last comma is empty, only ';', or holds '@'; appending the home column,
// even empty, makes any line unambiguous.
struct CsvFields {
  std::string_view username, secret, contacts, home;
  bool hasHome = false;
};
// Fails with "bad-line" when the line has fewer than three fields.
Result<CsvFields> splitCsvFields(std::string_view line);

// One parsed CSV line.
struct CsvUser {
  store::UserRecord user;
  std::vector<store::RosterItem> roster;  // sorted by contact, sub = Both
};

// Parses one line (no line terminator). Plain secrets are derived here with a fresh
// random salt. A home column sets user.homeNode (syntax-checked as a node id, not
// against a topology; empty = none, so an existing user's home is kept, see
// Store::importBatch). Fails with "bad-line" and a detail naming the field.
Result<CsvUser> parseCsvLine(std::string_view line, uint32_t iterations);

// Imports `path` into `store`. Stops at the first bad line ("line N: ...") after
// committing the batches before it; importing again is harmless (upserts).
Result<ImportStats> importCsv(const std::string& path, store::Store& store, const ImportOptions& options);

}  // namespace xmesh::ctl
