#include "router/home_directory.h"

#include <mutex>

namespace xmesh::router {

std::optional<topology::NodeIndex> HomeDirectory::homeOf(std::string_view user) const {
  const Shard& s = shardFor(user);
  std::shared_lock lock(s.mu);
  auto it = s.users.find(user);
  if (it == s.users.end()) return std::nullopt;
  return it->second.home;
}

void HomeDirectory::set(std::string_view user, NodeIndex home, uint32_t generation) {
  Shard& s = shardFor(user);
  std::unique_lock lock(s.mu);
  auto it = s.users.find(user);
  if (it == s.users.end()) {
    s.users.emplace(std::string(user), Entry{home, generation});
    return;
  }
  it->second = Entry{home, generation};
}

bool HomeDirectory::removeIf(std::string_view user, NodeIndex home) {
  Shard& s = shardFor(user);
  std::unique_lock lock(s.mu);
  auto it = s.users.find(user);
  if (it == s.users.end() || it->second.home != home) return false;
  s.users.erase(it);
  return true;
}

size_t HomeDirectory::sweep(NodeIndex home, uint32_t generation) {
  size_t removed = 0;
  for (Shard& s : shards_) {
    std::unique_lock lock(s.mu);
    removed += std::erase_if(s.users, [&](const auto& kv) {
      return kv.second.home == home && kv.second.generation != generation;
    });
  }
  return removed;
}

size_t HomeDirectory::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::shared_lock lock(s.mu);
    n += s.users.size();
  }
  return n;
}

size_t HomeDirectory::countHomedOn(NodeIndex home) const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::shared_lock lock(s.mu);
    for (const auto& kv : s.users) n += kv.second.home == home;
  }
  return n;
}

}  // namespace xmesh::router
