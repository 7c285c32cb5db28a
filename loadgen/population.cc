#include "loadgen/population.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <optional>
#include <random>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "loadgen/salted_cache.h"
#include "sasl/credentials.h"
#include "topology/assignment.h"
#include "topology/loader.h"
#include "topology/topology.h"

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

// Splits "username,secret,contacts[,home]" with the rule of ctl/csv_import.h
// (splitCsvFields): the last field is the home when it holds no '@' and the field before
// it is not the secret and is contacts-shaped (empty, only ';', or holding '@').
bool splitLine(std::string_view line, std::string_view* name, std::string_view* contacts, std::string_view* home) {
  size_t first = line.find(','), last = line.rfind(',');
  if (first == std::string_view::npos || first == last) return false;
  *name = line.substr(0, first);
  *contacts = line.substr(last + 1);
  *home = {};
  if (contacts->find('@') != std::string_view::npos) return true;
  size_t prev = line.rfind(',', last - 1);
  std::string_view before = line.substr(prev + 1, last - prev - 1);
  bool shaped = before.find('@') != std::string_view::npos || before.find_first_not_of(';') == std::string_view::npos;
  if (prev > first && shaped) {
    *home = *contacts;
    *contacts = before;
  }
  return true;
}

// Random symmetric graph building, one phase at a time. Vertices are user offsets, each
// in a group (its home node; one group without a topology). A phase gives every vertex
// `want[v]` new edges where it can, to partners of its own group (local) or of any other
// group (remote), picked uniformly among the vertices still short of their own want.
class GraphBuilder {
 public:
  GraphBuilder(std::vector<uint16_t> group, size_t groups, uint64_t seed)
      : group_(std::move(group)), groups_(groups), rng_(seed), adj_(group_.size()) {}

  std::mt19937_64& rng() { return rng_; }

  void link(const std::vector<uint32_t>& want, bool remote) {
    uint32_t n = static_cast<uint32_t>(group_.size());
    std::vector<std::vector<uint32_t>> open(groups_);  // by group: vertices below want
    std::vector<uint32_t> where(n, UINT32_MAX), have(n, 0);
    size_t openTotal = 0;
    for (uint32_t i = 0; i < n; ++i)
      if (want[i] > 0) {
        where[i] = static_cast<uint32_t>(open[group_[i]].size());
        open[group_[i]].push_back(i);
        ++openTotal;
      }
    auto closeVertex = [&](uint32_t v) {
      uint32_t pos = where[v];
      if (pos == UINT32_MAX) return;
      auto& list = open[group_[v]];
      uint32_t last = list.back();
      list[pos] = last;
      where[last] = pos;
      list.pop_back();
      where[v] = UINT32_MAX;
      --openTotal;
    };
    std::vector<uint32_t> order(n);
    for (uint32_t i = 0; i < n; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng_);
    for (uint32_t i : order) {
      const auto& own = open[group_[i]];
      int misses = 0;
      while (have[i] < want[i] && misses < 64) {
        uint32_t j;
        if (!remote) {
          if (own.size() <= 1) break;
          j = own[rng_() % own.size()];
        } else {
          size_t others = openTotal - own.size();
          if (others == 0) break;
          j = pickOther(open, group_[i], rng_() % others);
        }
        uint64_t key = (uint64_t{std::min(i, j)} << 32) | std::max(i, j);
        if (j == i || edges_.count(key)) {
          ++misses;
          continue;
        }
        edges_.insert(key);
        adj_[i].push_back(j);
        adj_[j].push_back(i);
        ++have[i];
        if (++have[j] >= want[j]) closeVertex(j);
      }
      closeVertex(i);
    }
  }

  std::vector<std::vector<uint32_t>> take() {
    for (auto& a : adj_) std::sort(a.begin(), a.end());
    return std::move(adj_);
  }

 private:
  // The k-th open vertex outside group g, counting group by group.
  static uint32_t pickOther(const std::vector<std::vector<uint32_t>>& open, uint16_t g, size_t k) {
    for (size_t h = 0; h < open.size(); ++h) {
      if (h == g) continue;
      if (k < open[h].size()) return open[h][k];
      k -= open[h].size();
    }
    return UINT32_MAX;  // unreachable: k < the number of open vertices outside g
  }

  std::vector<uint16_t> group_;
  size_t groups_;
  std::mt19937_64 rng_;
  std::vector<std::vector<uint32_t>> adj_;
  std::unordered_set<uint64_t> edges_;
};

// Home nodes by user offset, as planAssignment gives them to these users in an empty
// store (whole mesh); "" where the mode assigns nobody.
Result<std::vector<std::string>> planHomes(const PopulationGenOptions& o, const topology::Topology& topo) {
  std::vector<topology::UserHome> users(o.users);
  for (uint32_t i = 0; i < o.users; ++i) users[i].username = nameOf(o.userPattern, o.first + i);
  auto plan = topology::planAssignment(topo, users, topology::AssignRequest{});
  if (!plan) return Error{"population", "home assignment: " + plan.error().detail};
  std::unordered_map<std::string_view, const std::string*> homeByName;
  homeByName.reserve(plan->changes.size());
  for (const auto& c : plan->changes) homeByName.emplace(c.username, &c.homeNode);
  std::vector<std::string> homes(o.users);
  for (uint32_t i = 0; i < o.users; ++i) {
    auto it = homeByName.find(users[i].username);
    if (it != homeByName.end()) homes[i] = *it->second;
  }
  return homes;
}

}  // namespace

Result<PopulationPlan> planPopulation(const PopulationGenOptions& o, const topology::Topology* topo) {
  if (o.users == 0) return Error{"population", "--users must be > 0"};
  if (o.userPattern.find("%d") == std::string::npos) return Error{"population", "pattern needs %d"};
  double share = o.remoteShare < 0 ? (topo ? 0.5 : 0.0) : o.remoteShare;
  if (share > 1) return Error{"population", "--remote-share must be within [0, 1]"};
  if (share > 0 && !topo) return Error{"population", "--remote-share needs --topology"};
  uint32_t n = o.users;
  PopulationPlan plan;
  // Groups: one per topology node, plus one for users without a home.
  std::vector<uint16_t> group(n, 0);
  size_t groups = 1;
  if (topo) {
    auto homes = planHomes(o, *topo);
    if (!homes) return homes.error();
    plan.homes = std::move(homes.value());
    groups = topo->nodes().size() + 1;
    for (uint32_t i = 0; i < n; ++i) {
      auto idx = topo->nodeIndex(plan.homes[i]);
      group[i] = idx ? *idx : static_cast<uint16_t>(groups - 1);
    }
  }
  std::vector<uint32_t> groupSize(groups, 0);
  for (uint16_t g : group) ++groupSize[g];

  GraphBuilder graph(group, groups, o.seed);
  auto& rng = graph.rng();
  uint32_t cap = std::min<uint32_t>(o.maxContacts, n > 0 ? n - 1 : 0);
  std::vector<uint32_t> target(n);
  uint32_t lo = o.avgContacts / 2, span = o.avgContacts;  // uniform [avg/2, 3avg/2]
  for (auto& t : target) t = std::min<uint32_t>(cap, lo + static_cast<uint32_t>(rng() % (span + 1)));
  if (!topo) {
    graph.link(target, false);  // the same draws as before homes existed: same seed, same rosters
  } else {
    // Split each roster: remote ~ share * size (randomized rounding keeps the mean exact).
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::vector<uint32_t> local(n), remote(n);
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t own = groupSize[group[i]];
      auto r = static_cast<uint32_t>(share * target[i] + unit(rng));
      remote[i] = std::min({r, target[i], n - own});
      local[i] = std::min(target[i] - remote[i], own - 1);
    }
    graph.link(local, false);
    graph.link(remote, true);
  }
  plan.contacts = graph.take();
  return plan;
}

Result<PopulationGenStats> generatePopulation(const PopulationGenOptions& o) {
  if (o.iterations == 0) return Error{"population", "iterations must be >= 1"};
  auto t0 = std::chrono::steady_clock::now();
  std::optional<topology::Topology> topo;
  if (!o.topologyPath.empty()) {
    auto loaded = topology::loadTopology(o.topologyPath);
    if (!loaded) return Error{"population", loaded.error().reason + ": " + loaded.error().detail};
    topo.emplace(std::move(loaded.value()));
  }
  auto planned = planPopulation(o, topo ? &*topo : nullptr);
  if (!planned) return planned.error();
  const auto& adj = planned->contacts;
  const auto& homes = planned->homes;

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
      if (topo && homes[adj[i][k]] != homes[i]) ++st.remoteEdges;
    }
    if (topo) {
      line += ',';  // the home column, even when empty (mode none): see ctl/csv_import.h
      line += homes[i];
    }
    line += '\n';
    csv << line;
    keys << keyLines[i] << '\n';
    st.edges += adj[i].size();
  }
  st.edges /= 2;
  st.remoteEdges /= 2;
  if (topo) {
    for (const auto& node : topo->nodes())
      st.usersPerNode.emplace_back(node.id, static_cast<uint32_t>(std::count(homes.begin(), homes.end(), node.id)));
  }
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
  std::vector<uint16_t> homeIds;
  std::vector<std::string> homeNames{""};
  std::unordered_map<std::string, uint16_t> homeIdByName;
  std::string line;
  size_t lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::string_view name, contacts, home;
    if (!splitLine(line, &name, &contacts, &home))
      return Error{"population", path + ": line " + std::to_string(lineNo) + ": need 3 fields"};
    uint32_t idx = 0;
    if (!parseUserIndex(name, userPattern, &idx))
      return Error{"population", path + ": line " + std::to_string(lineNo) + ": name does not match " + userPattern};
    if (idx < first || idx - first >= users) continue;
    if (!home.empty()) {
      if (homeIds.empty()) homeIds.assign(users, 0);
      auto [it, added] = homeIdByName.try_emplace(std::string(home), static_cast<uint16_t>(homeNames.size()));
      if (added) {
        if (homeNames.size() > UINT16_MAX)
          return Error{"population", path + ": more than 65535 distinct home nodes"};
        homeNames.emplace_back(home);
      }
      homeIds[idx - first] = it->second;
    }
    auto& row = rows[idx - first];
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
  p.homeIds_ = std::move(homeIds);
  p.homeNames_ = std::move(homeNames);
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
