#include "loadgen/scenario.h"

#include <charconv>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

namespace xmesh::loadgen {
namespace {

Status bad(const std::string& key, const std::string& value) {
  return Status::fail("scenario", "bad value for " + key + ": '" + value + "'");
}

bool toBool(const std::string& v, bool* out) {
  if (v == "true" || v == "1" || v == "on" || v == "yes") *out = true;
  else if (v == "false" || v == "0" || v == "off" || v == "no") *out = false;
  else return false;
  return true;
}

template <typename T>
bool toNumber(const std::string& v, T* out) {
  if constexpr (std::is_floating_point_v<T>) {
    try {
      size_t used = 0;
      *out = static_cast<T>(std::stod(v, &used));
      return used == v.size();
    } catch (...) {
      return false;
    }
  } else {
    auto r = std::from_chars(v.data(), v.data() + v.size(), *out);
    return r.ec == std::errc() && r.ptr == v.data() + v.size();
  }
}

std::string scalarText(const toml::node& n) {
  if (auto s = n.value<std::string>()) return *s;
  if (n.is_boolean()) return *n.value<bool>() ? "true" : "false";
  if (n.is_integer()) return std::to_string(*n.value<int64_t>());
  if (n.is_floating_point()) {
    std::ostringstream o;
    o << *n.value<double>();
    return o.str();
  }
  return {};
}

std::string fmt(double d) {
  std::ostringstream o;
  o << d;
  return o.str();
}

}  // namespace

std::string_view scenarioKindName(ScenarioKind k) {
  switch (k) {
    case ScenarioKind::LoginStorm: return "login_storm";
    case ScenarioKind::Steady: return "steady";
    case ScenarioKind::Saturation: return "saturation";
    case ScenarioKind::Idle: return "idle";
  }
  return "?";
}

std::string_view connectModeName(ConnectMode m) {
  switch (m) {
    case ConnectMode::Home: return "home";
    case ConnectMode::Wrong: return "wrong";
    case ConnectMode::Spread: return "spread";
  }
  return "?";
}

Status Scenario::set(const std::string& key, const std::string& v) {
  auto num = [&](auto* field) { return toNumber(v, field) ? Status::ok() : bad(key, v); };
  auto flag = [&](bool* field) { return toBool(v, field) ? Status::ok() : bad(key, v); };
  if (key == "name") name = v;
  else if (key == "kind") {
    if (v == "login_storm") kind = ScenarioKind::LoginStorm;
    else if (v == "steady") kind = ScenarioKind::Steady;
    else if (v == "saturation") kind = ScenarioKind::Saturation;
    else if (v == "idle") kind = ScenarioKind::Idle;
    else return bad(key, v);
  } else if (key == "host") host = v;
  else if (key == "topology") topology = v;
  else if (key == "connect") {
    if (v == "home") connect = ConnectMode::Home;
    else if (v == "wrong") connect = ConnectMode::Wrong;
    else if (v == "spread") connect = ConnectMode::Spread;
    else return bad(key, v);
  }
  else if (key == "port") return num(&port);
  else if (key == "domain") domain = v;
  else if (key == "server_pid") return num(&serverPid);
  else if (key == "user_pattern") {
    if (v.find("%d") == std::string::npos) return bad(key, v);
    userPattern = v;
  } else if (key == "password") password = v;
  else if (key == "users") return num(&users);
  else if (key == "first") return num(&first);
  else if (key == "population") population = v;
  else if (key == "keys") keys = v;
  else if (key == "ring_contacts") return num(&ringContacts);
  else if (key == "mechanism") return parseMechanism(v, &mechanism) ? Status::ok() : bad(key, v);
  else if (key == "roster") return flag(&roster);
  else if (key == "presence") return flag(&presence);
  else if (key == "sm") return flag(&sm);
  else if (key == "login_rate") return num(&loginRate);
  else if (key == "login_concurrency") return num(&loginConcurrency);
  else if (key == "login_timeout") return num(&loginTimeout);
  else if (key == "settle") {
    Status s = num(&settle);
    if (s && settle < 0) return bad(key, v);
    return s;
  }
  else if (key == "settle_server_cpu_below") {
    Status s = num(&settleServerCpuBelow);
    if (s && (settleServerCpuBelow < 0 || settleServerCpuBelow > 100)) return bad(key, v);
    return s;
  }
  else if (key == "settle_max") {
    Status s = num(&settleMax);
    if (s && settleMax < 0) return bad(key, v);
    return s;
  }
  else if (key == "spin_pacing") return flag(&spinPacing);
  else if (key == "tls_resumption") return flag(&tlsResumption);
  else if (key == "warmup_logins") return flag(&warmupLogins);
  else if (key == "warmup_settle") {
    Status s = num(&warmupSettle);
    if (s && warmupSettle < 0) return bad(key, v);
    return s;
  }
  else if (key == "duration") return num(&duration);
  else if (key == "msgs_per_user_hour") return num(&msgsPerUserHour);
  else if (key == "presence_per_user_hour") return num(&presencePerUserHour);
  else if (key == "sat_start_rate") return num(&satStartRate);
  else if (key == "sat_step_rate") return num(&satStepRate);
  else if (key == "sat_step_seconds") return num(&satStepSeconds);
  else if (key == "sat_p99_bound_ms") return num(&satP99BoundMs);
  else if (key == "sat_max_rate") return num(&satMaxRate);
  else if (key == "drain") return num(&drain);
  else if (key == "source_addresses") {
    Status s = num(&sourceAddresses);
    if (s && (sourceAddresses == 0 || sourceAddresses > 250)) return bad(key, v);
    return s;
  } else if (key == "workers") return num(&workers);
  else if (key == "cpu_list") cpuList = v;
  else if (Status ds; drill.set(key, v, &ds)) return ds;
  else return Status::fail("scenario", "unknown key '" + key + "'");
  return Status::ok();
}

Result<Scenario> Scenario::load(const std::string& path, const std::vector<std::string>& overrides) {
  Scenario sc;
  if (!path.empty()) {
    toml::table root;
    try {
      root = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
      return Error{"scenario", path + ": " + std::string(e.description())};
    }
    // One level of tables is flattened: [drill] at = 5 (or drill.at = 5) is "drill.at".
    auto setScalar = [&](const std::string& key, const toml::node& node) -> Status {
      std::string text = scalarText(node);
      if (text.empty() && !node.is_string())
        return Status::fail("scenario", path + ": key '" + key + "' must be a scalar");
      return sc.set(key, text);
    };
    for (const auto& [k, node] : root) {
      Status s = Status::ok();
      if (const toml::table* t = node.as_table()) {
        for (const auto& [k2, inner] : *t) {
          s = setScalar(std::string(k.str()) + "." + std::string(k2.str()), inner);
          if (!s) break;
        }
      } else {
        s = setScalar(std::string(k.str()), node);
      }
      if (!s) return s.error();
    }
  }
  for (const auto& o : overrides) {
    size_t eq = o.find('=');
    if (eq == std::string::npos) return Error{"scenario", "override needs key=value: " + o};
    Status s = sc.set(o.substr(0, eq), o.substr(eq + 1));
    if (!s) return s.error();
  }
  if (sc.name.empty()) sc.name = std::string(scenarioKindName(sc.kind));
  if (sc.users == 0) return Error{"scenario", "users must be > 0"};
  if (sc.topology.empty() && sc.connect != ConnectMode::Home)
    return Error{"scenario", "connect = " + std::string(connectModeName(sc.connect)) + " needs a topology"};
  if (Status d = sc.drill.check(); !d) return d.error();
  if (sc.drill.enabled() && sc.kind != ScenarioKind::Steady && sc.kind != ScenarioKind::Idle)
    return Error{"scenario", "a drill runs in the main phase of a steady or idle scenario"};
  if (sc.keys.empty() && !sc.population.empty()) {
    std::ifstream probe(sc.population + ".keys");
    if (probe) sc.keys = sc.population + ".keys";
  }
  return sc;
}

std::string Scenario::userName(uint32_t index) const {
  size_t p = userPattern.find("%d");
  return userPattern.substr(0, p) + std::to_string(index) + userPattern.substr(p + 2);
}

std::string Scenario::passwordFor(const std::string& user) const {
  std::string out = password;
  size_t p;
  while ((p = out.find("{user}")) != std::string::npos) out.replace(p, 6, user);
  return out;
}

std::map<std::string, std::string> Scenario::settings() const {
  std::map<std::string, std::string> out{
      {"name", name}, {"kind", std::string(scenarioKindName(kind))}, {"host", host},
      {"port", std::to_string(port)}, {"topology", topology},
      {"connect", std::string(connectModeName(connect))}, {"domain", domain}, {"server_pid", std::to_string(serverPid)},
      {"user_pattern", userPattern}, {"users", std::to_string(users)}, {"first", std::to_string(first)},
      {"population", population}, {"keys", keys}, {"mechanism", std::string(mechanismText(mechanism))},
      {"roster", roster ? "true" : "false"}, {"presence", presence ? "true" : "false"},
      {"sm", sm ? "true" : "false"}, {"login_rate", fmt(loginRate)},
      {"login_concurrency", std::to_string(loginConcurrency)}, {"login_timeout", fmt(loginTimeout)},
      {"settle", fmt(settle)}, {"settle_server_cpu_below", fmt(settleServerCpuBelow)},
      {"settle_max", fmt(settleMax)}, {"spin_pacing", spinPacing ? "true" : "false"},
      {"tls_resumption", tlsResumption ? "true" : "false"},
      {"warmup_logins", warmupLogins ? "true" : "false"}, {"warmup_settle", fmt(warmupSettle)},
      {"duration", fmt(duration)}, {"msgs_per_user_hour", fmt(msgsPerUserHour)},
      {"presence_per_user_hour", fmt(presencePerUserHour)}, {"sat_start_rate", fmt(satStartRate)},
      {"sat_step_rate", fmt(satStepRate)}, {"sat_step_seconds", fmt(satStepSeconds)},
      {"sat_p99_bound_ms", fmt(satP99BoundMs)}, {"sat_max_rate", fmt(satMaxRate)},
      {"drain", fmt(drain)}, {"source_addresses", std::to_string(sourceAddresses)},
      {"workers", std::to_string(workers)}, {"cpu_list", cpuList},
  };
  drill.addSettings(out);
  return out;
}

}  // namespace xmesh::loadgen
