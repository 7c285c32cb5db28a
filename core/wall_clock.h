// Wall-clock time, for what leaves the process: XEP-0203 delay stamps, rows other
// nodes read (SRM witness beats, offline messages' stored_at_ms). Loop time (uv_now,
// RouterEnv::nowMs) is monotonic from an arbitrary origin and only good for intervals.
#pragma once
#include <chrono>
#include <cstdint>

namespace xmesh {

inline int64_t wallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace xmesh
