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

bool HomeDirectory::set(std::string_view user, NodeIndex home, uint32_t generation) {
  Shard& s = shardFor(user);
  std::unique_lock lock(s.mu);
  auto it = s.users.find(user);
  if (it == s.users.end()) {
    s.users.emplace(std::string(user), Entry{home, generation});
    count(home, 1);
    return true;
  }
  Entry old = it->second;
  if (old.home == home && old.generation == generation) return false;
  if (old.home != home) {
    count(old.home, -1);
    count(home, 1);
  }
  it->second = Entry{home, generation};
  return true;
}

bool HomeDirectory::removeIf(std::string_view user, NodeIndex home) {
  Shard& s = shardFor(user);
  std::unique_lock lock(s.mu);
  auto it = s.users.find(user);
  if (it == s.users.end() || it->second.home != home) return false;
  s.users.erase(it);
  count(home, -1);
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
  count(home, -static_cast<int>(removed));
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


}  // namespace xmesh::router
