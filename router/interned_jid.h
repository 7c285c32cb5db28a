// Bare JIDs in cached rosters, interned: each distinct JID is stored once per process
// and rosters hold an 8-byte pointer to it. A node caches the rosters of all its online
// users, and every user appears in ~100 of them, so this is most of a roster's memory.
// Interned strings are immortal (bounded by the population the node has seen), which is
// what lets readers use the pointer without any lock.
#pragma once
#include <string>
#include <string_view>

namespace xmesh::router {

class InternedJid {
 public:
  InternedJid();
  explicit InternedJid(std::string_view jid);
  InternedJid(const std::string& jid) : InternedJid(std::string_view(jid)) {}  // NOLINT: implicit
  InternedJid(const char* jid) : InternedJid(std::string_view(jid)) {}         // NOLINT: implicit

  const std::string& str() const { return *p_; }
  operator const std::string&() const { return *p_; }  // NOLINT: implicit by design
  operator std::string_view() const { return *p_; }    // NOLINT: implicit by design
  bool operator==(const InternedJid& o) const { return p_ == o.p_; }
  bool operator==(std::string_view s) const { return *p_ == s; }
  bool empty() const { return p_->empty(); }

  // Distinct JIDs interned so far (a gauge for /metrics).
  static size_t internedCount();

 private:
  const std::string* p_;
};

}  // namespace xmesh::router
