// What a worker reports to the coordinator, once a second, as one JSON line on a pipe:
// cumulative counters plus the latency histograms of that second only (sparse deltas),
// so the coordinator can compute per-second rates and percentiles and merge totals.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "loadgen/downtime.h"
#include "loadgen/histogram.h"

namespace xmesh::loadgen {

struct Counters {
  uint64_t connectsStarted = 0;
  uint64_t online = 0;          // currently online
  uint64_t logins = 0;          // logins completed (cumulative)
  uint64_t loginFailures = 0;   // failed before online
  uint64_t dropped = 0;         // failed after online
  uint64_t redirects = 0;       // <see-other-host/> followed (one per login at most)
  uint64_t msgsSent = 0;
  uint64_t msgsDelivered = 0;   // unique deliveries
  uint64_t msgsDuplicated = 0;
  uint64_t msgsOutOfOrder = 0;
  uint64_t presenceSent = 0;
  uint64_t presenceReceived = 0;
  uint64_t bytesIn = 0;
  uint64_t bytesOut = 0;
  uint64_t scramCacheHits = 0;
  uint64_t scramCacheMisses = 0;
  // TLS handshakes of the login phase (warmup excluded): sessions offered, handshakes
  // that resumed, and full ones.
  uint64_t tlsOffered = 0;
  uint64_t tlsResumed = 0;
  uint64_t tlsFull = 0;
  // warmup_logins: users logged in (and out) before the login phase, and those that
  // failed there.
  uint64_t warmupLogins = 0;
  uint64_t warmupFailures = 0;
  double cpuSeconds = 0;        // user + system of the worker process so far
  std::map<std::string, uint64_t> failures;  // reason -> count
  // By target node (topology node id, or "host:port" without a topology): users online
  // there now, and redirects that sent a login there.
  std::map<std::string, uint64_t> onlineByNode;
  std::map<std::string, uint64_t> redirectsByNode;
  // The failover drill (downtime.h); all zero without one.
  DrillCounters drill;

  void add(const Counters& o);
};

nlohmann::json toJson(const Counters& c);
Counters countersFromJson(const nlohmann::json& j);
nlohmann::json toJson(const Histogram& h);  // sparse
void mergeJson(Histogram& h, const nlohmann::json& j);
// The full histogram for report.json, self-describing so plots are exact without knowing
// the bucket layout: {"unit":"us","count","min","max","sum","buckets":[[lo,hi,count],...]}
// (lo..hi inclusive, non-empty buckets only, ascending).
nlohmann::json histogramReport(const Histogram& h);

}  // namespace xmesh::loadgen
