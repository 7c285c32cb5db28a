// The simulated user population: who exists, who is in whose roster, and (in a mesh)
// which node is each user's home.
//
// gen-population writes it as the CSV `xmeshctl import` reads (username,scram1:...,
// contacts as bare JIDs[,home node]), with per-user random salts and PBKDF2 derivations
// run on all cores, plus a side file <csv>.keys holding each user's SCRAM salted
// passwords (see SaltedCache) so that the load generator never runs PBKDF2 at load time.
// Rosters are symmetric; sizes are spread uniformly over [avg/2, 3avg/2] (capped at
// maxContacts and users-1) and contacts are random, so the average is close to avg.
//
// With a topology, every user gets a home node by topology::planAssignment over the
// whole mesh (what `xmeshctl home assign --topology FILE` gives the same users in an
// empty store), written as the 4th CSV column. Each user's roster is then split: a
// share `remoteShare` of its size is drawn from users homed on other nodes (uniformly
// over all of them, so in proportion to each other node's users, whether in the same
// cluster or another), the rest from users of its own node. An edge is remote for both
// of its ends, so symmetry and the per-user split hold together.
//
// In memory (load generator side) rosters are a CSR table of user indexes, each row
// sorted, so a receiver finds a sender's slot by binary search.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace xmesh::topology {
class Topology;
}

namespace xmesh::loadgen {

struct PopulationGenOptions {
  uint32_t users = 0;
  uint32_t first = 1;
  uint32_t avgContacts = 100;
  uint32_t maxContacts = 200;
  std::string out;
  std::string domain = "localhost";
  std::string userPattern = "user%d";
  std::string password = "pw-{user}";
  uint32_t iterations = 4096;
  uint32_t threads = 0;  // 0 = hardware concurrency
  uint64_t seed = 1;
  std::string topologyPath;  // "": no homes, 3-column CSV
  double remoteShare = -1;   // share of contacts homed on other nodes; < 0: 0.5 with a topology
};

struct PopulationGenStats {
  double deriveSeconds = 0;
  double totalSeconds = 0;
  uint64_t edges = 0;  // undirected
  uint64_t remoteEdges = 0;  // undirected, between users of different home nodes
  std::vector<std::pair<std::string, uint32_t>> usersPerNode;  // topology order; empty without one
};

// The rosters and homes of a population, without secrets or files: a pure function of
// the options (deterministic for a seed) and the topology.
struct PopulationPlan {
  std::vector<std::vector<uint32_t>> contacts;  // by user offset (0 = options.first), sorted offsets
  std::vector<std::string> homes;               // by user offset; empty without a topology
};
// `topology` may be null (no homes). Errors: reason "population".
Result<PopulationPlan> planPopulation(const PopulationGenOptions& options, const topology::Topology* topology);

// Loads options.topologyPath (if any), plans, derives the secrets and writes the files.
Result<PopulationGenStats> generatePopulation(const PopulationGenOptions& options);

class Population {
 public:
  // Reads rosters (and homes) from a CSV (username,secret,contacts[,home]; columns told
  // apart as `xmeshctl import` does, ctl/csv_import.h). Users and contacts must follow
  // the pattern; contacts outside [first, first+users) are kept (they are just never
  // online). Errors: reason "population".
  static Result<Population> load(const std::string& path, const std::string& userPattern,
                                 uint32_t first, uint32_t users);
  // Without a file: user i has i±1 .. i±k/2 (wrapping inside the range).
  static Population ring(uint32_t first, uint32_t users, uint32_t contacts);

  uint32_t first() const { return first_; }
  uint32_t size() const { return static_cast<uint32_t>(offsets_.size() - 1); }
  bool contains(uint32_t index) const { return index >= first_ && index - first_ < size(); }
  // Sorted global indexes of the contacts of user `index`.
  std::span<const uint32_t> contactsOf(uint32_t index) const;
  // Position of `contact` in contactsOf(index) as a global edge number, or -1.
  int64_t edgeOf(uint32_t index, uint32_t contact) const;
  // Global edge number of the k-th contact of index.
  uint64_t edgeAt(uint32_t index, uint32_t k) const { return offsets_[index - first_] + k; }
  uint64_t edgeCount() const { return contacts_.size(); }

  // The home node the CSV names for `index` ("" = none, or no home column).
  const std::string& homeOf(uint32_t index) const {
    return homeIds_.empty() || !contains(index) ? homeNames_[0] : homeNames_[homeIds_[index - first_]];
  }
  bool hasHomes() const { return homeNames_.size() > 1; }
  // Distinct homes named by the file, [0] = "".
  const std::vector<std::string>& homeNames() const { return homeNames_; }

 private:
  uint32_t first_ = 1;
  std::vector<uint16_t> homeIds_;  // by offset into homeNames_; empty when the file has none
  std::vector<std::string> homeNames_{""};
  std::vector<uint64_t> offsets_{0};
  std::vector<uint32_t> contacts_;
};

// "user%d" -> index; false when the name does not fit the pattern.
bool parseUserIndex(std::string_view name, std::string_view pattern, uint32_t* out);

}  // namespace xmesh::loadgen
