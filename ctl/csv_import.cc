#include "ctl/csv_import.h"


#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "ctl/failover_guard.h"
#include "ctl/names.h"
#include "sasl/credentials.h"
#include "topology/topology.h"

namespace xmesh::ctl {
namespace {

constexpr size_t kSaltBytes = 16;

Error badLine(std::string detail) { return Error{"bad-line", std::move(detail)}; }

Result<sasl::StoredSecrets> parseSecret(std::string_view secret, uint32_t iterations) {
  if (secret.starts_with("plain:")) {
    std::string_view password = secret.substr(6);
    if (password.empty()) return badLine("empty password");
    return sasl::deriveStoredSecrets(password, sasl::randomBytes(kSaltBytes), iterations);
  }
  if (secret.starts_with("scram1:")) {
    auto parsed = sasl::parseStoredSecrets(secret);
    if (!parsed) return badLine("bad scram1 secret: " + parsed.error().detail);
    return parsed;
  }
  return badLine("secret must start with plain: or scram1:");
}

// A batch of raw lines and, once parsed, its records.
struct Batch {
  std::vector<std::string> lines;
  std::vector<uint64_t> lineNumbers;
  size_t estimatedRows = 0;
  std::vector<std::optional<Result<CsvUser>>> parsed;
  std::vector<store::UserRecord> users;
  std::vector<std::pair<std::string, store::RosterItem>> rows;
  std::optional<Error> error;  // the first bad line, with its number
};

// Parses lines[i] for every i on `threads` threads, then flattens in file order.
void parseBatch(Batch& b, size_t threads, uint32_t iterations) {
  b.parsed.assign(b.lines.size(), std::nullopt);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < b.lines.size();)
      b.parsed[i] = parseCsvLine(b.lines[i], iterations);
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();

  b.users.reserve(b.parsed.size());
  b.rows.reserve(b.estimatedRows);
  for (size_t i = 0; i < b.parsed.size(); ++i) {
    Result<CsvUser>& r = *b.parsed[i];
    if (!r) {
      b.error = Error{r.error().reason, "line " + std::to_string(b.lineNumbers[i]) + ": " + r.error().detail};
      return;
    }
    CsvUser& u = r.value();
    for (auto& item : u.roster) b.rows.emplace_back(u.user.username, std::move(item));
    b.users.push_back(std::move(u.user));
  }
  b.parsed.clear();
  b.lines.clear();
}

// A bounded hand-off from the reader to the writer: two batches in flight are enough
// to keep both busy, and bound memory to a few batches whatever the file size.
class BatchQueue {
 public:
  void push(std::optional<Batch> b) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return q_.size() < 2 || abandoned_; });
    if (abandoned_) return;
    q_.push_back(std::move(b));
    cv_.notify_all();
  }
  // nullopt marks the end of the file.
  std::optional<Batch> pop() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !q_.empty(); });
    std::optional<Batch> b = std::move(q_.front());
    q_.pop_front();
    cv_.notify_all();
    return b;
  }
  // The writer failed: unblock the reader, which then stops.
  void abandon() {
    std::lock_guard<std::mutex> lock(mu_);
    abandoned_ = true;
    cv_.notify_all();
  }
  bool abandoned() {
    std::lock_guard<std::mutex> lock(mu_);
    return abandoned_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::optional<Batch>> q_;
  bool abandoned_ = false;
};

// Empty, only ';' separators, or holding '@' (a bare JID): what a contacts field looks like.
bool contactsShaped(std::string_view field) {
  return field.find('@') != std::string_view::npos || field.find_first_not_of(';') == std::string_view::npos;
}

bool skippable(std::string_view line) { return line.empty() || line.front() == '#'; }

size_t countContacts(std::string_view line) {
  Result<CsvFields> f = splitCsvFields(line);
  if (!f || f->contacts.empty()) return 0;
  return 1 + static_cast<size_t>(std::count(f->contacts.begin(), f->contacts.end(), ';'));
}

void readBatches(std::ifstream& in, BatchQueue& q, size_t threads, const ImportOptions& o) {
  std::string line;
  uint64_t lineNo = 0;
  Batch b;
  auto flush = [&] {
    parseBatch(b, threads, o.iterations);
    bool failed = b.error.has_value();
    q.push(std::move(b));
    b = Batch{};
    return !failed;
  };
  while (std::getline(in, line)) {
    ++lineNo;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (skippable(line)) continue;
    b.estimatedRows += countContacts(line);
    b.lineNumbers.push_back(lineNo);
    b.lines.push_back(std::move(line));
    if (b.estimatedRows + b.lines.size() >= o.batchRows && (!flush() || q.abandoned()))
      return q.push(std::nullopt);
  }
  if (!b.lines.empty() && !flush()) return q.push(std::nullopt);
  q.push(std::nullopt);
}

}  // namespace

Result<CsvFields> splitCsvFields(std::string_view line) {
  size_t first = line.find(',');
  size_t last = line.rfind(',');
  if (first == std::string_view::npos || first == last) return badLine("expected username,secret,contacts[,home]");
  CsvFields f;
  f.username = line.substr(0, first);
  std::string_view tail = line.substr(last + 1);
  if (tail.find('@') == std::string_view::npos) {
    size_t prev = line.rfind(',', last - 1);
    std::string_view before = line.substr(prev + 1, last - prev - 1);
    if (prev > first && contactsShaped(before)) {
      f.secret = line.substr(first + 1, prev - first - 1);
      f.contacts = before;
      f.home = tail;
      f.hasHome = true;
      return f;
    }
  }
  f.secret = line.substr(first + 1, last - first - 1);
  f.contacts = tail;
  return f;
}

Result<CsvUser> parseCsvLine(std::string_view line, uint32_t iterations) {
  Result<CsvFields> fields = splitCsvFields(line);
  if (!fields) return fields.error();
  CsvUser out;
  Result<std::string> name = username(fields->username);
  if (!name) return badLine("username: " + name.error().detail);
  out.user.username = std::move(name.value());
  Result<sasl::StoredSecrets> secrets = parseSecret(fields->secret, iterations);
  if (!secrets) return secrets.error();
  out.user.secrets = std::move(secrets.value());
  if (!fields->home.empty() && !topology::validId(fields->home))
    return badLine("home: '" + std::string(fields->home) + "' is not a node id");
  out.user.homeNode = std::string(fields->home);

  std::string_view contacts = fields->contacts;
  while (!contacts.empty()) {
    size_t semi = contacts.find(';');
    std::string_view c = contacts.substr(0, semi);
    contacts = semi == std::string_view::npos ? std::string_view() : contacts.substr(semi + 1);
    if (c.empty()) continue;
    Result<std::string> jid = bareContact(c);
    if (!jid) return badLine("contact: " + jid.error().detail);
    store::RosterItem item;
    item.contact = std::move(jid.value());
    item.sub = store::Sub::Both;
    out.roster.push_back(std::move(item));
  }
  // Sorted rows land in key order in the (username, contact) b-tree: appends, not seeks.
  std::sort(out.roster.begin(), out.roster.end(),
            [](const store::RosterItem& a, const store::RosterItem& b) { return a.contact < b.contact; });
  return out;
}

Result<ImportStats> importCsv(const std::string& path, store::Store& store, const ImportOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"io", "cannot open " + path};
  if (Status s = refuseWhileFailedOver(store, "importing users"); !s) return s.error();
  auto started = std::chrono::steady_clock::now();
  size_t threads = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());

  BatchQueue q;
  std::thread reader([&] { readBatches(in, q, threads, options); });
  ImportStats stats;
  std::optional<Error> failure;
  while (std::optional<Batch> b = q.pop()) {
    if (b->error) {
      failure = b->error;
      break;
    }
    if (Status s = store.importBatch(b->users, b->rows); !s) {
      failure = s.error();
      break;
    }
    stats.users += b->users.size();
    stats.withHome += static_cast<uint64_t>(
        std::count_if(b->users.begin(), b->users.end(), [](const store::UserRecord& u) { return !u.homeNode.empty(); }));
    stats.rosterRows += b->rows.size();
  }
  q.abandon();
  reader.join();
  if (failure) return *failure;
  if (in.bad()) return Error{"io", "read error in " + path};
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return stats;
}

}  // namespace xmesh::ctl
