#include "loadgen/report_summary.h"

#include <algorithm>
#include <cstdio>

#include "loadgen/drill_report.h"

namespace xmesh::loadgen {
namespace {

std::string num(double v, int prec = 0) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

std::string u64(const nlohmann::json& j) { return std::to_string(j.get<uint64_t>()); }

}  // namespace

std::string formatMs(uint64_t us) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f ms", static_cast<double>(us) / 1000.0);
  return b;
}

std::string formatLatency(const nlohmann::json& l) {
  return "p50 " + formatMs(l["p50"]) + "  p90 " + formatMs(l["p90"]) + "  p99 " + formatMs(l["p99"]) +
         "  p99.9 " + formatMs(l["p99_9"]) + "  max " + formatMs(l["max"]) + "  (n=" + u64(l["count"]) + ")";
}

Summary summarize(const nlohmann::json& r) {
  Summary s;
  const auto& sc = r["scenario"];
  std::string kind = sc.value("kind", "");
  std::string users = sc.value("users", "0");
  s.heading = sc.value("name", "") + " (" + kind + "): " + users + " users, " +
              std::to_string(r.value("workers", 0)) + " workers";
  auto add = [](SummarySection& sec, std::string k, std::string v, bool bad = false) {
    sec.rows.emplace_back(std::move(k), std::move(v));
    sec.bad.push_back(bad);
  };

  const auto& l = r["login"];
  SummarySection login{"login", {}, {}};
  add(login, "online / users", u64(l["online"]) + " / " + users, !l.value("all_online", false));
  // Per target node: shown for a mesh, or when redirects sent users elsewhere.
  uint64_t redirects = l.value("redirects", uint64_t{0});
  if (l.contains("nodes") && (l["nodes"].size() > 1 || redirects > 0)) {
    for (const auto& n : l["nodes"]) {
      std::string node = n.value("node", std::string("?")), address = n.value("address", std::string());
      add(login, "  online on " + node + (address.empty() || address == node ? "" : " (" + address + ")"),
          u64(n["online"]) + " (" + u64(n["redirected_here"]) + " redirected here)");
    }
  }
  if (l.contains("redirects")) add(login, "redirects (see-other-host)", std::to_string(redirects));
  add(login, "failures (login / dropped later)", u64(l["failures"]) + " / " + u64(l["dropped_later"]),
      l["failures"].get<uint64_t>() + l["dropped_later"].get<uint64_t>() > 0);
  for (const auto& [k, v] : l["failure_reasons"].items()) add(login, "  reason " + k, u64(v), true);
  add(login, "time first connect -> last login", num(l["time_to_last_login_s"].get<double>(), 3) + " s");
  if (r.contains("phases") && r["phases"].contains("main_started_s")) {
    const auto& ph = r["phases"];
    bool expired = ph.value("logins_expired", false);
    add(login, "main phase started",
        "at " + num(ph["main_started_s"].get<double>(), 1) + " s (" + ph.value("main_started_at", std::string()) +
            "): all logins resolved at " + num(ph.value("login_resolved_s", 0.0), 1) + " s" +
            (expired ? " after expiring the pending ones" : "") + ", then settle " + num(ph.value("settle_s", 0.0), 1) +
            " s",
        expired);
  }
  add(login, "logins/s", num(l["logins_per_s"].get<double>()));
  add(login, "login latency", formatLatency(l["latency_us"]));
  add(login, "cpu during login (loadgen / server)",
      num(l["loadgen_cpu_s"].get<double>(), 2) + " s / " + num(l["server_cpu_s"].get<double>(), 2) + " s");
  if (l.contains("tls")) {
    // Says which storm this was: cold (full handshakes) or users reconnecting with tickets.
    const auto& t = l["tls"];
    std::string v = "resumed " + u64(t["resumed"]) + " / full " + u64(t["full"]);
    v += t.value("resumption", false) ? " (" + u64(t["sessions_offered"]) + " sessions offered)"
                                      : " (tls_resumption off: cold start)";
    add(login, "TLS handshakes", v);
  }
  if (l.contains("warmup") && l["warmup"].value("enabled", false)) {
    const auto& w = l["warmup"];
    add(login, "warmup (logged in and out first)",
        u64(w["logins"]) + " users, " + u64(w["failures"]) + " failed, " +
            num(w["seconds"].get<double>(), 1) + " s",
        w["failures"].get<uint64_t>() > 0);
  }
  const auto& cache = l["scram_cache"];
  add(login, "SCRAM salted-password cache", "preloaded " + u64(cache["preloaded_users"]) + ", hits " +
                                                u64(cache["hits"]) + ", PBKDF2 runs " + u64(cache["misses"]));
  s.sections.push_back(std::move(login));

  const auto& m = r["messages"];
  if (m["sent"].get<uint64_t>() > 0 || kind == "steady" || kind == "saturation") {
    SummarySection msg{"messages", {}, {}};
    add(msg, "sent / delivered", u64(m["sent"]) + " / " + u64(m["delivered"]));
    add(msg, "lost / duplicated / out of order",
        u64(m["lost"]) + " / " + u64(m["duplicated"]) + " / " + u64(m["out_of_order"]),
        m["lost"].get<uint64_t>() + m["duplicated"].get<uint64_t>() > 0);
    add(msg, "rate sent / delivered (main phase)",
        num(m["sent_per_s"].get<double>()) + " / " + num(m["delivered_per_s"].get<double>()) + " msgs/s over " +
            num(m["main_phase_s"].get<double>(), 1) + " s");
    add(msg, "latency", formatLatency(m["latency_us"]));
    add(msg, "presence sent / received", u64(r["presence"]["sent"]) + " / " + u64(r["presence"]["received"]));
    add(msg, "cpu in main phase (loadgen / server)",
        num(r["cpu"]["loadgen_main_s"].get<double>(), 2) + " s / " + num(r["cpu"]["server_main_s"].get<double>(), 2) +
            " s");
    s.sections.push_back(std::move(msg));
  }
  summarizeDrill(r, s.sections);
  if (r.contains("saturation")) {
    const auto& sat = r["saturation"];
    SummarySection st{"saturation (p99 bound " + num(sat["p99_bound_ms"].get<double>(), 1) + " ms)", {}, {}};
    for (const auto& step : sat["steps"]) {
      bool held = step["held"].get<bool>();
      add(st, "target " + num(step["target"].get<double>()) + "/s",
          "sent " + num(step["sent_per_s"].get<double>()) + "/s dlv " + num(step["delivered_per_s"].get<double>()) +
              "/s p99 " + formatMs(step["p99_us"]) + (held ? "  held" : "  FAILED") +
              (step["generator_limited"].get<bool>() ? " (generator-limited)" : ""));
    }
    add(st, "highest rate held", num(sat["highest_rate_held"].get<double>()) + " msgs/s");
    s.sections.push_back(std::move(st));
  }
  if (r.contains("idle")) {
    const auto& i = r["idle"];
    SummarySection idle{"idle", {}, {}};
    add(idle, "server RSS before / online", u64(i["rss_before_kib"]) + " KiB / " + u64(i["rss_online_kib"]) + " KiB");
    add(idle, "bytes per session (delta)", num(i["bytes_per_session"].get<double>()) + " B (" +
                                               num(i["bytes_per_session"].get<double>() / 1024.0, 1) + " KiB)");
    s.sections.push_back(std::move(idle));
  }
  SummarySection tail{"", {}, {}};
  add(tail, "loadgen cpu total",
      num(r["cpu"]["loadgen_total_s"].get<double>(), 2) + " s over " + num(r["wall_s"].get<double>(), 1) + " s");
  if (r.contains("machine")) {
    const auto& mc = r["machine"];
    double start = mc.value("loadavg_at_start", 0.0), end = mc.value("loadavg_at_end", 0.0);
    unsigned cores = mc.value("cores", 0u);
    add(tail, "machine load (1-min avg) start / end",
        num(start, 1) + " / " + num(end, 1) + " on " + std::to_string(cores) + " cores" +
            (cores && std::max(start, end) > cores ? "  (busy: other processes shared the CPUs)" : ""));
  }
  s.sections.push_back(std::move(tail));
  return s;
}

}  // namespace xmesh::loadgen
