#include "loadgen/downtime.h"

#include <algorithm>

#include "loadgen/stats.h"

namespace xmesh::loadgen {

void DrillWindowStats::add(const DrillWindowStats& o) {
  affected += o.affected;
  notBack += o.notBack;
  late += o.late;
  moved += o.moved;
  lastBackUs = std::max(lastBackUs, o.lastBackUs);
  downtime.merge(o.downtime);
  sent += o.sent;
  delivered += o.delivered;
  duplicated += o.duplicated;
  outOfOrder += o.outOfOrder;
  inDoubt += o.inDoubt;
}

void DrillCounters::add(const DrillCounters& o) {
  downNow += o.downNow;
  relogins += o.relogins;
  reloginAttempts += o.reloginAttempts;
  standbyBound += o.standbyBound;
  standbyBinds += o.standbyBinds;
  standbyFailures += o.standbyFailures;
  activations += o.activations;
  activateRefused += o.activateRefused;
  failoverNotices += o.failoverNotices;
  fallbackNotices += o.fallbackNotices;
  deactivations += o.deactivations;
  dualUnsupported += o.dualUnsupported;
  for (int k = 0; k < kDrillWindows; ++k) windows[k].add(o.windows[k]);
}

nlohmann::json toJson(const DrillCounters& c) {
  nlohmann::json w = nlohmann::json::array();
  for (const auto& x : c.windows)
    w.push_back({{"affected", x.affected}, {"not_back", x.notBack}, {"late", x.late}, {"moved", x.moved},
                 {"last_back_us", x.lastBackUs}, {"downtime", toJson(x.downtime)}, {"sent", x.sent},
                 {"delivered", x.delivered}, {"duplicated", x.duplicated}, {"out_of_order", x.outOfOrder},
                 {"in_doubt", x.inDoubt}});
  return {{"down_now", c.downNow}, {"relogins", c.relogins}, {"relogin_attempts", c.reloginAttempts},
          {"standby_bound", c.standbyBound}, {"standby_binds", c.standbyBinds},
          {"standby_failures", c.standbyFailures}, {"activations", c.activations},
          {"activate_refused", c.activateRefused}, {"failover_notices", c.failoverNotices},
          {"fallback_notices", c.fallbackNotices}, {"deactivations", c.deactivations},
          {"dual_unsupported", c.dualUnsupported}, {"windows", w}};
}

DrillCounters drillCountersFromJson(const nlohmann::json& j) {
  DrillCounters c;
  if (!j.is_object()) return c;
  auto u = [](const nlohmann::json& o, const char* k) { return o.value(k, uint64_t{0}); };
  c.downNow = u(j, "down_now");
  c.relogins = u(j, "relogins");
  c.reloginAttempts = u(j, "relogin_attempts");
  c.standbyBound = u(j, "standby_bound");
  c.standbyBinds = u(j, "standby_binds");
  c.standbyFailures = u(j, "standby_failures");
  c.activations = u(j, "activations");
  c.activateRefused = u(j, "activate_refused");
  c.failoverNotices = u(j, "failover_notices");
  c.fallbackNotices = u(j, "fallback_notices");
  c.deactivations = u(j, "deactivations");
  c.dualUnsupported = u(j, "dual_unsupported");
  if (j.contains("windows") && j["windows"].is_array()) {
    for (size_t k = 0; k < j["windows"].size() && k < kDrillWindows; ++k) {
      const auto& x = j["windows"][k];
      DrillWindowStats& w = c.windows[k];
      w.affected = u(x, "affected");
      w.notBack = u(x, "not_back");
      w.late = u(x, "late");
      w.moved = u(x, "moved");
      w.lastBackUs = u(x, "last_back_us");
      if (x.contains("downtime")) mergeJson(w.downtime, x["downtime"]);
      w.sent = u(x, "sent");
      w.delivered = u(x, "delivered");
      w.duplicated = u(x, "duplicated");
      w.outOfOrder = u(x, "out_of_order");
      w.inDoubt = u(x, "in_doubt");
    }
  }
  return c;
}

DowntimeTracker::DowntimeTracker(uint32_t users, uint64_t boundUs)
    : boundUs_(boundUs), downSince_(users, 0) {
  for (int k = 0; k < kDrillWindows; ++k) {
    downUs_[k].assign(users, 0);
    affected_[k].assign(users, 0);
  }
}

void DowntimeTracker::openWindow(int k, uint64_t startUs) {
  if (k < 0 || k >= kDrillWindows || startUs == 0) return;
  windowStart_[k] = startUs;
}

int DowntimeTracker::windowOf(uint64_t us) const {
  int w = -1;
  for (int k = 0; k < kDrillWindows; ++k)
    if (windowStart_[k] != 0 && us >= windowStart_[k]) w = k;
  return w;
}

void DowntimeTracker::down(uint32_t user, uint64_t us) {
  if (downSince_[user] != 0) return;
  // The window is decided when the user comes back (or at finalize), from this time:
  // the worker may learn that a window opened slightly after the breaks it caused.
  downSince_[user] = std::max<uint64_t>(us, 1);
  ++downNow_;
}

void DowntimeTracker::up(uint32_t user, uint64_t us) {
  uint64_t since = downSince_[user];
  if (since == 0) return;
  downSince_[user] = 0;
  --downNow_;
  int k = windowOf(since);
  if (k < 0) return;  // an ordinary drop before the drill
  downUs_[k][user] += us > since ? us - since : 0;
  affected_[k][user] = 1;
  lastBackUs_[k] = std::max(lastBackUs_[k], us);
}

void DowntimeTracker::moved(uint32_t user, uint64_t us) {
  if (downSince_[user] != 0) return up(user, us);
  int k = windowOf(us);
  if (k < 0) return;
  if (affected_[k][user] == 0) affected_[k][user] = 2;
  lastBackUs_[k] = std::max(lastBackUs_[k], us);
}

void DowntimeTracker::finalize(std::array<DrillWindowStats, kDrillWindows>& out) const {
  for (int k = 0; k < kDrillWindows; ++k) {
    DrillWindowStats& w = out[k];
    w.affected = w.notBack = w.late = w.moved = 0;
    w.downtime.reset();
    w.lastBackUs = lastBackUs_[k];
    if (windowStart_[k] == 0) continue;
    for (size_t u = 0; u < downSince_.size(); ++u) {
      bool downHere = downSince_[u] != 0 && windowOf(downSince_[u]) == k;
      if (!affected_[k][u] && !downHere) continue;
      ++w.affected;
      if (downHere) {
        ++w.notBack;  // its downtime so far is a lower bound: no sample
        continue;
      }
      if (affected_[k][u] == 2) ++w.moved;
      w.downtime.record(downUs_[k][u]);
      if (downUs_[k][u] > boundUs_) ++w.late;
    }
  }
}

}  // namespace xmesh::loadgen
