#include "ctl/gen_csv.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include "sasl/credentials.h"

namespace xmesh::ctl {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string username(const GenOptions& o, size_t i, size_t width) {
  std::string digits = std::to_string(i);
  // Zero padding makes byte order equal numeric order: sorted file, sorted b-tree.
  return o.prefix + std::string(width - std::min(width, digits.size()), '0') + digits;
}

std::vector<size_t> contactsOf(const GenOptions& o, size_t i) {
  size_t n = o.users;
  std::vector<size_t> out;
  for (size_t d = 1; d <= o.contacts / 2; ++d) {
    out.push_back((i + d) % n);
    out.push_back((i + n - d) % n);
  }
  if (o.contacts % 2 == 1) out.push_back((i + n / 2) % n);
  return out;
}

Status validate(const GenOptions& o) {
  if (o.users == 0) return Status::fail("usage", "--users must be positive");
  if (o.contacts >= o.users) return Status::fail("usage", "--contacts must be below --users");
  if (o.contacts % 2 == 1 && o.users % 2 == 1)
    return Status::fail("usage", "odd --contacts needs an even --users (symmetric rosters)");
  if (o.prefix.empty()) return Status::fail("usage", "--prefix must not be empty");
  return Status::ok();
}

}  // namespace

std::string passwordFor(const std::string& passwordTemplate, const std::string& user) {
  std::string out = passwordTemplate;
  for (size_t p; (p = out.find("{user}")) != std::string::npos;) out.replace(p, 6, user);
  return out;
}

Result<GenStats> generateCsv(const GenOptions& o) {
  if (Status s = validate(o); !s) return s.error();
  auto started = Clock::now();
  size_t width = std::to_string(o.users - 1).size();
  size_t threads = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());

  // Secrets first, in parallel: PBKDF2 is all of the cost.
  std::vector<std::string> secrets(o.users);
  std::atomic<size_t> next{0};
  auto derive = [&] {
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < o.users;) {
      std::string pw = passwordFor(o.passwordTemplate, username(o, i, width));
      if (o.plain) {
        secrets[i] = "plain:" + pw;
      } else {
        auto s = sasl::deriveStoredSecrets(pw, sasl::randomBytes(16), o.iterations);
        secrets[i] = sasl::formatStoredSecrets(s);
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(derive);
  derive();
  for (auto& t : pool) t.join();
  GenStats stats;
  stats.deriveSeconds = since(started);

  std::ofstream out(o.out, std::ios::binary | std::ios::trunc);
  if (!out) return Error{"io", "cannot write " + o.out};
  std::string line;
  for (size_t i = 0; i < o.users; ++i) {
    line = username(o, i, width);
    line += ',';
    line += secrets[i];
    line += ',';
    bool first = true;
    for (size_t c : contactsOf(o, i)) {
      if (!first) line += ';';
      first = false;
      line += username(o, c, width);
      line += '@';
      line += o.domain;
    }
    line += '\n';
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
  }
  out.close();
  if (!out) return Error{"io", "write failed: " + o.out};
  stats.totalSeconds = since(started);
  return stats;
}

}  // namespace xmesh::ctl
