// Per-address SASL failure back-off: after N failures inside the window an address is
// refused authentication until the window passes. Shared by all loops; the auth path is
// not the stanza path, so a mutex is fine here.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace xmesh::session {

class AuthThrottle {
 public:
  AuthThrottle(int failuresBeforeBackoff, int windowSeconds)
      : limit_(failuresBeforeBackoff), windowMs_(int64_t{windowSeconds} * 1000) {}

  bool blocked(const std::string& address, int64_t nowMs) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(address);
    if (it == entries_.end()) return false;
    if (nowMs - it->second.windowStartMs > windowMs_) {
      entries_.erase(it);
      return false;
    }
    return limit_ > 0 && it->second.failures >= limit_;
  }

  void recordFailure(const std::string& address, int64_t nowMs) {
    std::lock_guard lock(mu_);
    auto& e = entries_[address];
    if (e.failures == 0 || nowMs - e.windowStartMs > windowMs_) {
      e.failures = 0;
      e.windowStartMs = nowMs;
    }
    ++e.failures;
    if (entries_.size() > 100000) entries_.clear();  // bound memory under a flood
  }

 private:
  struct Entry {
    int failures = 0;
    int64_t windowStartMs = 0;
  };
  std::mutex mu_;
  int limit_;
  int64_t windowMs_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace xmesh::session
