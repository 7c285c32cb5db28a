// Writes a synthetic, symmetric user population for load tests (xmeshctl gen-csv).
// Every user gets its own random salt and PBKDF2 derivation (done in parallel): the
// file is safe to import into a test deployment but its passwords are predictable
// (password template), so it is never a way to provision real users.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace xmesh::ctl {

struct GenOptions {
  size_t users = 0;
  size_t contacts = 0;     // per user; users*contacts must be even (a regular graph)
  std::string out;
  std::string domain = "localhost";
  std::string prefix = "u";                 // usernames <prefix><zero-padded index>
  std::string passwordTemplate = "pw-{user}";  // {user} becomes the username
  uint32_t iterations = 4096;
  size_t threads = 0;      // 0 = hardware concurrency
  bool plain = false;      // write plain: secrets (derived at import instead)
};

struct GenStats {
  double deriveSeconds = 0;
  double totalSeconds = 0;
};

// User i's contacts are i±1 .. i±contacts/2 (mod users), plus i+users/2 when
// contacts is odd: every edge appears in both users' lines.
Result<GenStats> generateCsv(const GenOptions& options);

// The password the template gives a user (shared with the load generator's logic).
std::string passwordFor(const std::string& passwordTemplate, const std::string& username);

}  // namespace xmesh::ctl
