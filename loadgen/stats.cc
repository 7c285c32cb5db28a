#include "loadgen/stats.h"

namespace xmesh::loadgen {

void Counters::add(const Counters& o) {
  connectsStarted += o.connectsStarted;
  online += o.online;
  logins += o.logins;
  loginFailures += o.loginFailures;
  dropped += o.dropped;
  redirects += o.redirects;
  msgsSent += o.msgsSent;
  msgsDelivered += o.msgsDelivered;
  msgsDuplicated += o.msgsDuplicated;
  msgsOutOfOrder += o.msgsOutOfOrder;
  presenceSent += o.presenceSent;
  presenceReceived += o.presenceReceived;
  bytesIn += o.bytesIn;
  bytesOut += o.bytesOut;
  scramCacheHits += o.scramCacheHits;
  scramCacheMisses += o.scramCacheMisses;
  tlsOffered += o.tlsOffered;
  tlsResumed += o.tlsResumed;
  tlsFull += o.tlsFull;
  warmupLogins += o.warmupLogins;
  warmupFailures += o.warmupFailures;
  cpuSeconds += o.cpuSeconds;
  for (const auto& [k, v] : o.failures) failures[k] += v;
  for (const auto& [k, v] : o.onlineByNode) onlineByNode[k] += v;
  for (const auto& [k, v] : o.redirectsByNode) redirectsByNode[k] += v;
  drill.add(o.drill);
}

nlohmann::json toJson(const Counters& c) {
  return {{"connects", c.connectsStarted}, {"online", c.online}, {"logins", c.logins},
          {"login_failures", c.loginFailures}, {"dropped", c.dropped}, {"sent", c.msgsSent},
          {"delivered", c.msgsDelivered}, {"duplicated", c.msgsDuplicated},
          {"out_of_order", c.msgsOutOfOrder}, {"presence_sent", c.presenceSent},
          {"presence_received", c.presenceReceived}, {"bytes_in", c.bytesIn},
          {"bytes_out", c.bytesOut}, {"scram_cache_hits", c.scramCacheHits},
          {"scram_cache_misses", c.scramCacheMisses}, {"tls_offered", c.tlsOffered},
          {"tls_resumed", c.tlsResumed}, {"tls_full", c.tlsFull},
          {"warmup_logins", c.warmupLogins}, {"warmup_failures", c.warmupFailures},
          {"cpu_s", c.cpuSeconds},
          {"failures", c.failures}, {"redirects", c.redirects}, {"online_by_node", c.onlineByNode},
          {"redirects_by_node", c.redirectsByNode}, {"drill", toJson(c.drill)}};
}

Counters countersFromJson(const nlohmann::json& j) {
  Counters c;
  auto u = [&](const char* k) { return j.value(k, uint64_t{0}); };
  c.connectsStarted = u("connects");
  c.online = u("online");
  c.logins = u("logins");
  c.loginFailures = u("login_failures");
  c.dropped = u("dropped");
  c.redirects = u("redirects");
  c.msgsSent = u("sent");
  c.msgsDelivered = u("delivered");
  c.msgsDuplicated = u("duplicated");
  c.msgsOutOfOrder = u("out_of_order");
  c.presenceSent = u("presence_sent");
  c.presenceReceived = u("presence_received");
  c.bytesIn = u("bytes_in");
  c.bytesOut = u("bytes_out");
  c.scramCacheHits = u("scram_cache_hits");
  c.scramCacheMisses = u("scram_cache_misses");
  c.tlsOffered = u("tls_offered");
  c.tlsResumed = u("tls_resumed");
  c.tlsFull = u("tls_full");
  c.warmupLogins = u("warmup_logins");
  c.warmupFailures = u("warmup_failures");
  c.cpuSeconds = j.value("cpu_s", 0.0);
  if (j.contains("failures") && j["failures"].is_object())
    for (const auto& [k, v] : j["failures"].items()) c.failures[k] = v.get<uint64_t>();
  auto byNode = [&](const char* key, std::map<std::string, uint64_t>& out) {
    if (j.contains(key) && j[key].is_object())
      for (const auto& [k, v] : j[key].items()) out[k] = v.get<uint64_t>();
  };
  byNode("online_by_node", c.onlineByNode);
  byNode("redirects_by_node", c.redirectsByNode);
  if (j.contains("drill")) c.drill = drillCountersFromJson(j["drill"]);
  return c;
}

nlohmann::json toJson(const Histogram& h) {
  auto s = h.toSparse();
  nlohmann::json b = nlohmann::json::array();
  for (const auto& [i, n] : s.buckets) b.push_back({i, n});
  return {{"b", b}, {"min", s.min}, {"max", s.max}, {"sum", s.sum}};
}

void mergeJson(Histogram& h, const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("b")) return;
  Histogram::Sparse s;
  for (const auto& e : j["b"]) s.buckets.emplace_back(e[0].get<uint32_t>(), e[1].get<uint64_t>());
  s.min = j.value("min", uint64_t{0});
  s.max = j.value("max", uint64_t{0});
  s.sum = j.value("sum", uint64_t{0});
  (void)h.mergeSparse(s);
}

nlohmann::json histogramReport(const Histogram& h) {
  auto s = h.toSparse();
  nlohmann::json b = nlohmann::json::array();
  for (const auto& [i, n] : s.buckets) b.push_back({Histogram::lowestIn(i), Histogram::highestIn(i), n});
  return {{"unit", "us"}, {"count", h.count()}, {"min", s.min}, {"max", s.max}, {"sum", s.sum}, {"buckets", b}};
}

}  // namespace xmesh::loadgen
