// Bulk import of users with rosters from a CSV file (format: ctl/README.md).
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
  double seconds = 0;
};

// One parsed CSV line.
struct CsvUser {
  store::UserRecord user;
  std::vector<store::RosterItem> roster;  // sorted by contact, sub = Both
};

// Parses one line (no line terminator). Plain secrets are derived here with a fresh
// random salt. Fails with "bad-line" and a detail naming the field.
Result<CsvUser> parseCsvLine(std::string_view line, uint32_t iterations);

// Imports `path` into `store`. Stops at the first bad line ("line N: ...") after
// committing the batches before it; importing again is harmless (upserts).
Result<ImportStats> importCsv(const std::string& path, store::Store& store, const ImportOptions& options);

}  // namespace xmesh::ctl
