// The node's routing table: which sessions each online user has, their presence, and
// the user's cached roster. Sharded by bare JID with a reader-writer lock per shard, so
// routing takes one uncontended shared lock on one shard and there is no global lock on
// the stanza path. Entries exist only while a user has at least one session here.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "roster/subscription.h"
#include "router/interned_jid.h"

namespace xmesh::router {

using SharedBytes = std::shared_ptr<const std::string>;

inline SharedBytes makeShared(std::string bytes) {
  return std::make_shared<const std::string>(std::move(bytes));
}

// A session's address inside this node: the loop that owns it and its id there.
struct SessionRef {
  uint32_t loop = 0;
  uint64_t id = 0;
  bool operator==(const SessionRef&) const = default;
};

struct ResourceEntry {
  std::string resource;
  SessionRef ref;
  int priority = 0;
  bool available = false;   // sent available presence, not yet unavailable
  bool interested = false;  // requested the roster: receives roster pushes
  bool active = true;       // false: an inactive (dual) session, bound but not routable
  SharedBytes lastPresence;  // broadcast bytes (with from), replayed to probes
  std::vector<std::string> directedTo;  // JIDs that got directed presence (RFC 6121 4.6)
};

// Name and groups of a roster item: rarely set, so kept out of line.
struct RosterExtra {
  std::string name;
  std::vector<std::string> groups;
};

// One cached roster item: 32 bytes, most of a roster's footprint at 100 contacts.
struct RosterEntry {
  InternedJid contact;  // bare JID
  roster::ItemState state;
  std::shared_ptr<const RosterExtra> extra;

  const std::string& name() const;
  const std::vector<std::string>& groups() const;
  void setNameAndGroups(std::string name, std::vector<std::string> groups);
};

struct UserEntry {
  std::vector<ResourceEntry> resources;
  std::vector<RosterEntry> roster;
  bool rosterLoaded = false;

  ResourceEntry* findResource(std::string_view resource);
  ResourceEntry* findSession(const SessionRef& ref);
  RosterEntry* findContact(std::string_view bare);
  const RosterEntry* findContact(std::string_view bare) const;
};

class Directory {
 public:
  static constexpr size_t kShards = 256;

  // Calls fn(const UserEntry*) under the shard's shared lock; nullptr if the user has no
  // session here. fn must not call back into the Directory.
  template <typename Fn>
  auto read(std::string_view bare, Fn&& fn) const {
    const Shard& s = shardFor(bare);
    std::shared_lock lock(s.mu);
    auto it = s.users.find(bare);
    return fn(it == s.users.end() ? static_cast<const UserEntry*>(nullptr) : &it->second);
  }

  // Calls fn(UserEntry&) under the shard's exclusive lock, creating the entry if needed;
  // the entry is erased afterwards if it has no resources left.
  template <typename Fn>
  auto write(std::string_view bare, Fn&& fn) {
    Shard& s = shardFor(bare);
    std::unique_lock lock(s.mu);
    auto it = s.users.find(bare);
    if (it == s.users.end()) it = s.users.emplace(std::string(bare), UserEntry{}).first;
    struct EraseIfEmpty {
      Shard& s;
      decltype(it) i;
      ~EraseIfEmpty() {
        if (i->second.resources.empty()) s.users.erase(i);
      }
    } guard{s, it};
    return fn(it->second);
  }

  size_t onlineUsersApprox() const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view v) const { return std::hash<std::string_view>{}(v); }
  };
  struct Shard {
    mutable std::shared_mutex mu;
    std::unordered_map<std::string, UserEntry, Hash, std::equal_to<>> users;
  };
  const Shard& shardFor(std::string_view bare) const { return shards_[Hash{}(bare) % kShards]; }
  Shard& shardFor(std::string_view bare) { return shards_[Hash{}(bare) % kShards]; }

  std::array<Shard, kShards> shards_;
};

}  // namespace xmesh::router
