#include "loadgen/drill_report.h"

#include <cmath>
#include <cstdio>

namespace xmesh::loadgen {
namespace {

constexpr const char* kStepNames[kDrillWindows] = {"failover", "fallback"};

nlohmann::json percentilesOf(const Histogram& h) {
  return {{"count", h.count()}, {"min", h.min()}, {"mean", std::round(h.mean())},
          {"p50", h.percentile(50)}, {"p90", h.percentile(90)}, {"p99", h.percentile(99)},
          {"p99_9", h.percentile(99.9)}, {"max", h.max()}};
}

std::string num(double v, int prec) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

std::string u64(const nlohmann::json& j, const char* key) { return std::to_string(j.value(key, uint64_t{0})); }

nlohmann::json stepReport(const DrillStepRun& run, const DrillWindowStats& w, bool sm) {
  uint64_t back = w.affected - w.notBack;
  uint64_t lost = w.sent > w.delivered + w.inDoubt ? w.sent - w.delivered - w.inDoubt : 0;
  nlohmann::json j = {
      {"command", run.command}, {"ran", run.ran}, {"ran_at_s", run.ranAtS},
      {"exit_code", run.finished ? nlohmann::json(run.exitCode) : nlohmann::json()},
      {"command_s", run.commandS}, {"users_affected", w.affected}, {"users_back", back},
      {"users_not_back", w.notBack}, {"users_back_late", w.late}, {"moved_without_downtime", w.moved},
      {"downtime_us", percentilesOf(w.downtime)}, {"downtime_histogram", histogramReport(w.downtime)},
      {"messages", {{"sent", w.sent}, {"delivered", w.delivered}, {"lost", lost}, {"in_doubt", w.inDoubt},
                    {"duplicated", w.duplicated}, {"out_of_order", w.outOfOrder},
                    {"lost_counts", sm ? "acknowledged (XEP-0198) and never delivered"
                                       : "sent and never delivered (no XEP-0198: nothing is acknowledged)"}}}};
  if (!run.error.empty()) j["error"] = run.error;
  // From the command to the last affected user active again; unknown while some are out.
  bool allBack = w.notBack == 0 && w.affected > 0 && w.lastBackUs >= run.ranAtUs && run.ran;
  j["last_user_back_s"] = allBack ? nlohmann::json(static_cast<double>(w.lastBackUs - run.ranAtUs) / 1e6) : nlohmann::json();
  return j;
}

}  // namespace

nlohmann::json drillReport(const Scenario& sc, const Counters& total, const std::array<DrillStepRun, kDrillWindows>& steps,
                           uint64_t standbyAtDrill) {
  const DrillSettings& d = sc.drill;
  const DrillCounters& c = total.drill;
  nlohmann::json r = {
      {"dual", d.dual}, {"sm", sc.sm}, {"timeout_s", d.timeout},
      {"reconnect", d.reconnect == ReconnectTarget::Backup ? "backup" : "same"},
      {"standby_bound_at_failover", standbyAtDrill},
      {"clients", {{"relogins", c.relogins}, {"relogin_attempts", c.reloginAttempts},
                   {"standby_binds", c.standbyBinds}, {"standby_bound_at_end", c.standbyBound},
                   {"standby_failures", c.standbyFailures}, {"activations", c.activations},
                   {"activate_refused", c.activateRefused}, {"failover_notices", c.failoverNotices},
                   {"fallback_notices", c.fallbackNotices}, {"deactivations", c.deactivations},
                   {"dual_unsupported", c.dualUnsupported}, {"down_at_end", c.downNow}}}};
  for (int k = 0; k < kDrillWindows; ++k)
    if (steps[static_cast<size_t>(k)].scheduled)
      r[kStepNames[k]] = stepReport(steps[static_cast<size_t>(k)], c.windows[static_cast<size_t>(k)], sc.sm);
  return r;
}

bool drillHasProblems(const nlohmann::json& r) {
  if (!r.contains("drill")) return false;
  for (const char* name : kStepNames) {
    if (!r["drill"].contains(name)) continue;
    const auto& s = r["drill"][name];
    const auto& m = s["messages"];
    if (!s.value("ran", false) || s.value("users_not_back", uint64_t{0}) + s.value("users_back_late", uint64_t{0}) > 0 ||
        m.value("lost", uint64_t{0}) + m.value("duplicated", uint64_t{0}) > 0 ||
        (s["exit_code"].is_number() && s["exit_code"].get<int>() != 0))
      return true;
  }
  return false;
}

void summarizeDrill(const nlohmann::json& r, std::vector<SummarySection>& out) {
  if (!r.contains("drill")) return;
  const auto& d = r["drill"];
  auto add = [](SummarySection& sec, std::string k, std::string v, bool bad = false) {
    sec.rows.emplace_back(std::move(k), std::move(v));
    sec.bad.push_back(bad);
  };
  bool dual = d.value("dual", false);
  for (const char* name : kStepNames) {
    if (!d.contains(name)) continue;
    const auto& s = d[name];
    SummarySection sec{std::string(name) + " drill (" + (dual ? "dual connections" : "plain clients: re-login") + ")",
                       {}, {}};
    std::string cmd = "'" + s.value("command", std::string()) + "'";
    if (!s.value("ran", false)) {
      add(sec, "command", cmd + " never ran" + (s.contains("error") ? ": " + s["error"].get<std::string>() : ""), true);
    } else {
      bool exited = s["exit_code"].is_number();
      int code = exited ? s["exit_code"].get<int>() : -1;
      add(sec, "command",
          cmd + " at " + num(s.value("ran_at_s", 0.0), 1) + " s, " +
              (exited ? "exit " + std::to_string(code) : std::string("still running at the end")) + " after " +
              num(s.value("command_s", 0.0), 2) + " s",
          !exited || code != 0);
    }
    uint64_t notBack = s.value("users_not_back", uint64_t{0}), late = s.value("users_back_late", uint64_t{0});
    add(sec, "users affected / back / never back",
        u64(s, "users_affected") + " / " + u64(s, "users_back") + " / " + std::to_string(notBack), notBack > 0);
    add(sec, "downtime per user", formatLatency(s["downtime_us"]), late > 0);
    if (dual) add(sec, "  moved without downtime", u64(s, "moved_without_downtime"));
    add(sec, "back later than the bound (" + num(d.value("timeout_s", 0.0), 0) + " s)", std::to_string(late), late > 0);
    add(sec, "command -> last user active again",
        s["last_user_back_s"].is_number() ? num(s["last_user_back_s"].get<double>(), 3) + " s"
        : notBack > 0                    ? "never: " + std::to_string(notBack) + " users not back"
                                         : std::string("-"),
        notBack > 0);
    const auto& m = s["messages"];
    add(sec, "messages sent / delivered", u64(m, "sent") + " / " + u64(m, "delivered"));
    uint64_t lost = m.value("lost", uint64_t{0}), dup = m.value("duplicated", uint64_t{0});
    add(sec, "lost / in doubt / duplicated / out of order",
        std::to_string(lost) + " / " + u64(m, "in_doubt") + " / " + std::to_string(dup) + " / " + u64(m, "out_of_order"),
        lost + dup > 0);
    out.push_back(std::move(sec));
  }
  const auto& c = d["clients"];
  SummarySection cl{"drill clients", {}, {}};
  add(cl, "re-logins (attempts)", u64(c, "relogins") + " (" + u64(c, "relogin_attempts") + ")");
  if (dual) {
    add(cl, "inactive sessions at failover / at end",
        u64(d, "standby_bound_at_failover") + " / " + u64(c, "standby_bound_at_end"));
    add(cl, "activations (refused)", u64(c, "activations") + " (" + u64(c, "activate_refused") + ")");
    add(cl, "notices failover / fallback / deactivated",
        u64(c, "failover_notices") + " / " + u64(c, "fallback_notices") + " / " + u64(c, "deactivations"));
    add(cl, "inactive sessions lost or refused", u64(c, "standby_failures"));
    uint64_t unsupported = c.value("dual_unsupported", uint64_t{0});
    if (unsupported) add(cl, "server without dual support / backup", std::to_string(unsupported), true);
  }
  add(cl, "users down at the end", u64(c, "down_at_end"), c.value("down_at_end", uint64_t{0}) > 0);
  out.push_back(std::move(cl));
}

}  // namespace xmesh::loadgen
