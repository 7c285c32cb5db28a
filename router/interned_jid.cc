#include "router/interned_jid.h"

#include <array>
#include <functional>
#include <mutex>
#include <unordered_set>

namespace xmesh::router {
namespace {

struct Hash {
  using is_transparent = void;
  size_t operator()(std::string_view v) const { return std::hash<std::string_view>{}(v); }
};

// Sharded so that roster loads on several loops rarely meet on one mutex. Elements of
// an unordered_set never move, so the pointers handed out stay valid forever.
struct Table {
  static constexpr size_t kShards = 64;
  struct Shard {
    std::mutex mu;
    std::unordered_set<std::string, Hash, std::equal_to<>> set;
  };
  std::array<Shard, kShards> shards;
  const std::string empty;
};

Table& table() {
  static Table* t = new Table();  // never destroyed: pointers outlive static destruction
  return *t;
}

}  // namespace

InternedJid::InternedJid() : p_(&table().empty) {}

InternedJid::InternedJid(std::string_view jid) {
  Table& t = table();
  if (jid.empty()) {
    p_ = &t.empty;
    return;
  }
  auto& shard = t.shards[Hash{}(jid) % Table::kShards];
  std::lock_guard lock(shard.mu);
  auto it = shard.set.find(jid);
  if (it == shard.set.end()) it = shard.set.emplace(jid).first;
  p_ = &*it;
}

size_t InternedJid::internedCount() {
  size_t n = 0;
  for (auto& s : table().shards) {
    std::lock_guard lock(s.mu);
    n += s.set.size();
  }
  return n;
}

}  // namespace xmesh::router
