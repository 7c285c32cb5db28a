// Jittered exponential back-off for redialing a peer: the base delay doubles from min
// per failed attempt up to max, and each delay is drawn uniformly from base +-50% so the
// nodes of a mesh that lost a peer do not redial it in lockstep.
#pragma once
#include <algorithm>
#include <cstdint>
#include <random>

namespace xmesh::mesh {

class Backoff {
 public:
  Backoff(int64_t minMs, int64_t maxMs, uint64_t seed)
      : minMs_(std::max<int64_t>(1, minMs)), maxMs_(std::max(maxMs, minMs_)), rng_(seed) {}

  // The delay before the next attempt; every call counts as one more failed attempt.
  int64_t next() {
    int64_t base = minMs_;
    for (uint32_t i = 0; i < attempts_ && base < maxMs_; ++i) base *= 2;
    base = std::min(base, maxMs_);
    ++attempts_;
    std::uniform_int_distribution<int64_t> jitter(base - base / 2, base + base / 2);
    return jitter(rng_);
  }
  // After a connection that worked: the next loss waits about min again.
  void reset() { attempts_ = 0; }
  uint32_t attempts() const { return attempts_; }

 private:
  int64_t minMs_, maxMs_;
  uint32_t attempts_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace xmesh::mesh
