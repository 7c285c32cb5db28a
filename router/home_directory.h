// Which node is each user's home, for every user of the mesh. Entries come from the
// node's own store (its cluster's users, at start-up) and from the directory
// announcements of the other nodes (`dir` records on r2r links, router/directory_sync.h).
//
// Read on the stanza path from every loop, written by the mesh loop: sharded by user
// with a reader-writer lock per shard, like the session Directory. A user without an
// entry is treated as this node's (single-node deployments have no entries at all).
//
// Each entry carries the sync generation that last confirmed it, so a full re-sync from
// a node can drop the users that node no longer homes without a window in which its
// other users are unknown (mark on add, sweep at the end of the sync).
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "topology/topology.h"

namespace xmesh::router {

class HomeDirectory {
 public:
  static constexpr size_t kShards = 64;
  using NodeIndex = topology::NodeIndex;

  std::optional<NodeIndex> homeOf(std::string_view user) const;
  // Adds or moves `user` to `home`, confirmed by sync `generation` of that node. True
  // when the entry was not already confirmed by exactly this (home, generation).
  bool set(std::string_view user, NodeIndex home, uint32_t generation = 0);
  // Removes `user` only while its home is `home`: a late removal from the old home must
  // not undo the newer announcement of the new one. True if removed.
  bool removeIf(std::string_view user, NodeIndex home);
  // Drops the users of `home` not confirmed by `generation` (end of a full sync).
  size_t sweep(NodeIndex home, uint32_t generation);

  size_t size() const;
  // O(1): kept per node, so the end of a full sync can tell whether a sweep is needed
  // without walking the whole directory once per peer.
  size_t countHomedOn(NodeIndex home) const {
    return home < counts_.size() ? counts_[home].load(std::memory_order_relaxed) : 0;
  }

 private:
  struct Entry {
    NodeIndex home;
    uint32_t generation;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view v) const { return std::hash<std::string_view>{}(v); }
  };
  struct Shard {
    mutable std::shared_mutex mu;
    std::unordered_map<std::string, Entry, Hash, std::equal_to<>> users;
  };
  const Shard& shardFor(std::string_view u) const { return shards_[Hash{}(u) % kShards]; }
  Shard& shardFor(std::string_view u) { return shards_[Hash{}(u) % kShards]; }

  void count(NodeIndex home, int delta) {
    if (home < counts_.size()) counts_[home].fetch_add(static_cast<uint32_t>(delta), std::memory_order_relaxed);
  }

  std::array<Shard, kShards> shards_;
  std::array<std::atomic<uint32_t>, topology::kMaxNodes> counts_{};
};

}  // namespace xmesh::router
