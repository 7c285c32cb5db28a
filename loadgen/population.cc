#include "loadgen/population.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <random>
#include <thread>
#include <unordered_set>

#include "loadgen/salted_cache.h"
#include "sasl/credentials.h"

namespace xmesh::loadgen {
namespace {

std::string nameOf(const std::string& pattern, uint32_t index) {
  size_t p = pattern.find("%d");
  return pattern.substr(0, p) + std::to_string(index) + pattern.substr(p + 2);
}

std::string passwordOf(const std::string& tmpl, const std::string& user) {
  std::string out = tmpl;
  size_t p;
  while ((p = out.find("{user}")) != std::string::npos) out.replace(p, 6, user);
  return out;
}

// Random symmetric graph with per-node target degrees; returns sorted adjacency lists.
std::vector<std::vector<uint32_t>> makeRosters(const PopulationGenOptions& o) {
  uint32_t n = o.users;
  std::mt19937_64 rng(o.seed);
  uint32_t cap = std::min<uint32_t>(o.maxContacts, n > 0 ? n - 1 : 0);
  std::vector<uint32_t> target(n);
  uint32_t lo = o.avgContacts / 2, span = o.avgContacts;  // uniform [avg/2, 3avg/2]
  for (auto& t : target) t = std::min<uint32_t>(cap, lo + static_cast<uint32_t>(rng() % (span + 1)));
  std::vector<std::vector<uint32_t>> adj(n);
  std::unordered_set<uint64_t> edges;
  std::vector<uint32_t> open;  // nodes still below target
  std::vector<uint32_t> where(n, UINT32_MAX);
  for (uint32_t i = 0; i < n; ++i)
    if (target[i] > 0) {
      where[i] = static_cast<uint32_t>(open.size());
      open.push_back(i);
    }
  auto closeNode = [&](uint32_t v) {
    uint32_t pos = where[v];
    if (pos == UINT32_MAX) return;
    uint32_t last = open.back();
    open[pos] = last;
    where[last] = pos;
    open.pop_back();
    where[v] = UINT32_MAX;
  };
  std::vector<uint32_t> order(n);
  for (uint32_t i = 0; i < n; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  for (uint32_t i : order) {
    int misses = 0;
    while (adj[i].size() < target[i] && open.size() > 1 && misses < 64) {
      uint32_t j = open[rng() % open.size()];
      uint64_t key = (uint64_t{std::min(i, j)} << 32) | std::max(i, j);
      if (j == i || edges.count(key)) {
        ++misses;
        continue;
      }
      edges.insert(key);
      adj[i].push_back(j);
      adj[j].push_back(i);
      if (adj[j].size() >= target[j]) closeNode(j);
    }
    closeNode(i);
  }
  for (auto& a : adj) std::sort(a.begin(), a.end());
  return adj;
}

}  // namespace

Result<PopulationGenStats> generatePopulation(const PopulationGenOptions& o) {
  if (o.users == 0) return Error{"population", "--users must be > 0"};
  if (o.userPattern.find("%d") == std::string::npos) return Error{"population", "pattern needs %d"};
  if (o.iterations == 0) return Error{"population", "iterations must be >= 1"};
  auto t0 = std::chrono::steady_clock::now();
  auto adj = makeRosters(o);

  std::vector<std::string> secrets(o.users), keyLines(o.users);
  uint32_t threads = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  auto d0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (uint32_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (uint32_t i = t; i < o.users; i += threads) {
        std::string user = nameOf(o.userPattern, o.first + i);
        std::string pw = passwordOf(o.password, user);
        SaltedKeys k;
        k.salt = sasl::randomBytes(16);
        k.iterations = o.iterations;
        k.sha1 = sasl::saltedPassword(sasl::HashAlg::Sha1, pw, k.salt, o.iterations);
        k.sha256 = sasl::saltedPassword(sasl::HashAlg::Sha256, pw, k.salt, o.iterations);
        sasl::StoredSecrets s;
        s.sha1 = sasl::credentialsFromSalted(sasl::HashAlg::Sha1, k.sha1, k.salt, o.iterations);
        s.sha256 = sasl::credentialsFromSalted(sasl::HashAlg::Sha256, k.sha256, k.salt, o.iterations);
        secrets[i] = sasl::formatStoredSecrets(s);
        keyLines[i] = SaltedCache::formatLine(user, k);
      }
    });
  }
  for (auto& th : pool) th.join();
  auto d1 = std::chrono::steady_clock::now();

  std::ofstream csv(o.out, std::ios::trunc);
  std::ofstream keys(o.out + ".keys", std::ios::trunc);
  if (!csv || !keys) return Error{"population", "cannot write " + o.out};
  keys << "# username,iterations,b64 salt,b64 SaltedPassword sha1,b64 SaltedPassword sha256\n";
  PopulationGenStats st;
  std::string line;
  for (uint32_t i = 0; i < o.users; ++i) {
    line = nameOf(o.userPattern, o.first + i);
    line += ',';
    line += secrets[i];
    line += ',';
    for (size_t k = 0; k < adj[i].size(); ++k) {
      if (k) line += ';';
      line += nameOf(o.userPattern, o.first + adj[i][k]);
      line += '@';
      line += o.domain;
    }
    line += '\n';
    csv << line;
    keys << keyLines[i] << '\n';
    st.edges += adj[i].size();
  }
  st.edges /= 2;
  csv.close();
  keys.close();
  if (!csv || !keys) return Error{"population", "write failed: " + o.out};
  auto t1 = std::chrono::steady_clock::now();
  st.deriveSeconds = std::chrono::duration<double>(d1 - d0).count();
  st.totalSeconds = std::chrono::duration<double>(t1 - t0).count();
  return st;
}

bool parseUserIndex(std::string_view name, std::string_view pattern, uint32_t* out) {
  size_t p = pattern.find("%d");
  if (p == std::string_view::npos) return false;
  std::string_view prefix = pattern.substr(0, p), suffix = pattern.substr(p + 2);
  if (name.size() <= prefix.size() + suffix.size() || name.substr(0, prefix.size()) != prefix ||
      name.substr(name.size() - suffix.size()) != suffix)
    return false;
  std::string_view digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), *out);
  return r.ec == std::errc() && r.ptr == digits.data() + digits.size();
}

Result<Population> Population::load(const std::string& path, const std::string& userPattern,
                                    uint32_t first, uint32_t users) {
  std::ifstream in(path);
  if (!in) return Error{"population", "cannot open " + path};
  std::vector<std::vector<uint32_t>> rows(users);
  std::string line;
  size_t lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    size_t c1 = line.find(','), c2 = line.rfind(',');
    if (c1 == std::string::npos || c2 == c1)
      return Error{"population", path + ": line " + std::to_string(lineNo) + ": need 3 fields"};
    uint32_t idx = 0;
    if (!parseUserIndex(std::string_view(line).substr(0, c1), userPattern, &idx))
      return Error{"population", path + ": line " + std::to_string(lineNo) + ": name does not match " + userPattern};
    if (idx < first || idx - first >= users) continue;
    auto& row = rows[idx - first];
    std::string_view contacts = std::string_view(line).substr(c2 + 1);
    while (!contacts.empty()) {
      size_t semi = contacts.find(';');
      std::string_view jid = contacts.substr(0, semi);
      size_t at = jid.find('@');
      uint32_t c = 0;
      if (parseUserIndex(jid.substr(0, at), userPattern, &c)) row.push_back(c);
      if (semi == std::string_view::npos) break;
      contacts.remove_prefix(semi + 1);
    }
  }
  Population p;
  p.first_ = first;
  p.offsets_.reserve(users + 1);
  for (auto& r : rows) {
    std::sort(r.begin(), r.end());
    r.erase(std::unique(r.begin(), r.end()), r.end());
    p.contacts_.insert(p.contacts_.end(), r.begin(), r.end());
    p.offsets_.push_back(p.contacts_.size());
  }
  return p;
}

Population Population::ring(uint32_t first, uint32_t users, uint32_t contacts) {
  Population p;
  p.first_ = first;
  uint32_t half = std::min<uint32_t>(contacts / 2, users > 1 ? (users - 1) / 2 : 0);
  std::vector<uint32_t> row;
  for (uint32_t i = 0; i < users; ++i) {
    row.clear();
    for (uint32_t d = 1; d <= half; ++d) {
      row.push_back(first + (i + d) % users);
      row.push_back(first + (i + users - d) % users);
    }
    std::sort(row.begin(), row.end());
    row.erase(std::unique(row.begin(), row.end()), row.end());
    p.contacts_.insert(p.contacts_.end(), row.begin(), row.end());
    p.offsets_.push_back(p.contacts_.size());
  }
  return p;
}

std::span<const uint32_t> Population::contactsOf(uint32_t index) const {
  if (!contains(index)) return {};
  size_t i = index - first_;
  return {contacts_.data() + offsets_[i], contacts_.data() + offsets_[i + 1]};
}

int64_t Population::edgeOf(uint32_t index, uint32_t contact) const {
  auto row = contactsOf(index);
  auto it = std::lower_bound(row.begin(), row.end(), contact);
  if (it == row.end() || *it != contact) return -1;
  return static_cast<int64_t>(offsets_[index - first_] + static_cast<uint64_t>(it - row.begin()));
}

}  // namespace xmesh::loadgen
