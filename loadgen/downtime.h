// Downtime accounting for the failover drill, sans-IO (times are CLOCK_REALTIME µs, the
// clock every process of the run shares).
//
// A user is *up* while it has an active session (bound and routable: online after a
// login or re-login, or activated) and *down* from the moment its active path broke (the
// connection closed or reset, the server said <deactivated/>, or announced a failover
// away from it) until it is active again. The drill has windows: window 0 opens when
// the failover command runs, window 1 when the fallback command runs. An outage belongs
// to the window in which it began; outages that began before the first window are not
// the drill's (they are the run's ordinary drops).
//
// Per window and per user, the downtimes of its outages are summed; a user that moved
// from one active session to another without a gap (dual fallback: activated on the
// home before the backup deactivated it) counts as affected with 0 downtime. At
// finalize() each affected user that is up again gives one sample to the window's
// histogram; users still down are "not back" (no sample: their downtime is unknown),
// and users whose downtime exceeded the bound are counted "late".
//
// Message counters per window are attributed by the message's send time (the marker's
// `t`), on the sender and on the receiver alike, so a message sent before the failover
// and delivered after it counts in the baseline, not in the drill.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "loadgen/histogram.h"

namespace xmesh::loadgen {

constexpr int kDrillWindows = 2;  // 0 = failover, 1 = fallback

struct DrillWindowStats {
  // Users.
  uint64_t affected = 0;  // distinct users whose active path broke (or moved) in the window
  uint64_t notBack = 0;   // of those, down at finalize()
  uint64_t late = 0;      // back, but after more than the bound
  uint64_t moved = 0;     // switched sessions without any downtime
  uint64_t lastBackUs = 0;  // realtime of the last return of an affected user (0 = none)
  Histogram downtime;     // µs per affected user that is back (filled by finalize())
  // Messages whose send time falls in the window.
  uint64_t sent = 0;
  uint64_t delivered = 0;   // unique
  uint64_t duplicated = 0;
  uint64_t outOfOrder = 0;
  // Written on a stream that broke before the server acknowledged them (XEP-0198 only):
  // the client cannot know whether the server took them.
  uint64_t inDoubt = 0;

  void add(const DrillWindowStats& o);
};

// Counters of the drill's client machinery (cumulative, per worker, summed).
struct DrillCounters {
  uint64_t downNow = 0;          // users without an active session right now (gauge)
  uint64_t relogins = 0;         // re-logins that went online (plain path)
  uint64_t reloginAttempts = 0;  // re-login connections started
  uint64_t standbyBound = 0;     // users with a bound inactive session now (gauge)
  uint64_t standbyBinds = 0;     // inactive sessions bound (cumulative)
  uint64_t standbyFailures = 0;  // inactive sessions lost or refused
  uint64_t activations = 0;      // <activated/> received
  uint64_t activateRefused = 0;  // <activate/> answered with an error
  uint64_t failoverNotices = 0;  // <failover/> received
  uint64_t fallbackNotices = 0;  // <fallback/> received
  uint64_t deactivations = 0;    // <deactivated/> received
  uint64_t dualUnsupported = 0;  // dual asked for, but the server did not offer it / no backup
  std::array<DrillWindowStats, kDrillWindows> windows{};

  void add(const DrillCounters& o);
};

nlohmann::json toJson(const DrillCounters& c);
DrillCounters drillCountersFromJson(const nlohmann::json& j);

class DowntimeTracker {
 public:
  // `users`: local user indexes [0, users); `boundUs`: downtime above it is "late".
  DowntimeTracker(uint32_t users, uint64_t boundUs);

  // Window k opens at realtime `startUs` (ascending k; a later call moves nothing back).
  void openWindow(int k, uint64_t startUs);
  // The window a time falls in; -1 before the first window or when none is open.
  int windowOf(uint64_t us) const;

  // The user lost its last active session at `us`. No-op when already down.
  void down(uint32_t user, uint64_t us);
  // The user is active again. No-op when it was not down.
  void up(uint32_t user, uint64_t us);
  // The user changed its active session without a gap (counted in the window of `us`).
  void moved(uint32_t user, uint64_t us);
  bool isDown(uint32_t user) const { return downSince_[user] != 0; }
  uint64_t downNow() const { return downNow_; }

  // Writes the user figures of every window into `out` (affected, notBack, late, moved,
  // lastBackUs, downtime histogram), replacing what it held: callable at every report.
  void finalize(std::array<DrillWindowStats, kDrillWindows>& out) const;

 private:
  uint64_t boundUs_;
  std::array<uint64_t, kDrillWindows> windowStart_{};  // 0 = not open
  std::vector<uint64_t> downSince_;                    // 0 = up
  // Per window: per user summed downtime of finished outages, and whether affected.
  std::array<std::vector<uint64_t>, kDrillWindows> downUs_;
  std::array<std::vector<uint8_t>, kDrillWindows> affected_;  // 0, 1 = outage, 2 = moved only
  std::array<uint64_t, kDrillWindows> lastBackUs_{};
  uint64_t downNow_ = 0;
};

}  // namespace xmesh::loadgen
