#include "ctl/topology_commands.h"

#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>

#include "ctl/admin_probe.h"
#include "topology/loader.h"

namespace xmesh::ctl {
namespace {

using topology::formatDuration;
using topology::Topology;

std::string endpoint(const topology::Endpoint& e) {
  bool v6 = e.address.find(':') != std::string::npos;
  return (v6 ? "[" + e.address + "]" : e.address) + ":" + std::to_string(e.port);
}

std::string srmLine(const topology::SrmParams& s) {
  return "heartbeat " + formatDuration(s.heartbeatInterval) + ", timeout " + formatDuration(s.heartbeatTimeout) +
         ", init timeout " + formatDuration(s.initHeartbeatTimeout) + ", critical service delay " +
         formatDuration(s.criticalServiceDelay) + ", automatic fallback " +
         (s.automaticFallback ? "after " + formatDuration(s.automaticFallbackDelay) : std::string("off")) +
         ", re-login " + formatDuration(s.reloginLowerLimit) + ".." + formatDuration(s.reloginUpperLimit);
}

bool sameSrm(const topology::SrmParams& a, const topology::SrmParams& b) {
  return a.heartbeatInterval == b.heartbeatInterval && a.heartbeatTimeout == b.heartbeatTimeout &&
         a.initHeartbeatTimeout == b.initHeartbeatTimeout && a.criticalServiceDelay == b.criticalServiceDelay &&
         a.automaticFallback == b.automaticFallback && a.automaticFallbackDelay == b.automaticFallbackDelay &&
         a.reloginLowerLimit == b.reloginLowerLimit && a.reloginUpperLimit == b.reloginUpperLimit;
}

std::string groupLine(const Topology& t, const topology::Group& g) {
  std::string s = g.id + " [";
  for (size_t i = 0; i < g.nodes.size(); ++i) s += (i ? ", " : "") + t.node(g.nodes[i]).id;
  return s + "]" + (g.ha ? " ha" : "");
}

size_t linkCount(const Topology& t) { return t.nodes().size() * (t.nodes().size() - 1) / 2; }

std::string describeStatusJson(const topology::Node& n, const nlohmann::json& j);

// One line about a node's GET /status answer.
std::string describeStatus(const topology::Node& n, const Result<HttpResponse>& result) {
  if (n.admin.port == 0) return "admin endpoint off";
  if (!result) return "down (" + result.error().reason + ": " + result.error().detail + ")";
  const HttpResponse& r = result.value();
  if (r.status != 200) return "reachable, but /status answered HTTP " + std::to_string(r.status);
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return "reachable, but /status is not JSON";
  try {
    return describeStatusJson(n, j);
  } catch (const nlohmann::json::exception&) {  // a field of an unexpected type
    return "reachable, but /status has unexpected fields";
  }
}

std::string describeStatusJson(const topology::Node& n, const nlohmann::json& j) {
  std::string s = "up";
  std::string answeredAs = j.value("node", std::string());
  if (answeredAs != n.id) s = "WRONG NODE (answers as '" + answeredAs + "')";
  if (j.contains("srm") && j["srm"].is_object()) {
    const auto& srm = j["srm"];
    s += ", srm " + srm.value("state", std::string("?"));
    std::string reason = srm.value("reason", std::string());
    if (!reason.empty()) s += " (" + reason + ")";
  }
  if (j.contains("sessions") && j["sessions"].is_object()) {
    s += ", sessions " + std::to_string(j["sessions"].value("active", 0)) + " active / " +
         std::to_string(j["sessions"].value("inactive", 0)) + " inactive";
  }
  if (j.contains("connections")) s += ", " + j["connections"].dump() + " connections";
  if (j.contains("mesh") && j["mesh"].is_object() && j["mesh"].contains("links") && j["mesh"]["links"].is_array()) {
    const auto& mesh = j["mesh"];
    size_t up = 0;
    std::string detail;
    for (const auto& l : mesh["links"]) {
      if (!l.is_object()) continue;
      std::string state = l.value("state", std::string("?"));
      if (state == "established") ++up;
      // One line per link: its state, queue and traffic, and what went wrong last.
      detail += "\n        link " + n.id + (l.value("dialer", false) ? " -> " : " <- ") +
                l.value("peer", std::string("?")) + ": " + state + ", queue " +
                std::to_string(l.value("unacked_units", 0)) + " units, sent " +
                std::to_string(l.value("units_sent", 0)) + ", received " +
                std::to_string(l.value("units_received", 0)) + ", resent " +
                std::to_string(l.value("units_resent", 0)) + ", connections " +
                std::to_string(l.value("connections", 0));
      if (l.contains("sync") && l["sync"].is_object() && l["sync"].value("sending", false))
        detail += ", sync " + std::to_string(l["sync"].value("sent_users", 0)) + "/" +
                  std::to_string(l["sync"].value("total_users", 0));
      std::string err = l.value("last_error", std::string());
      if (!err.empty() && state != "established") detail += " (last error: " + err + ")";
    }
    s += ", r2r links " + std::to_string(up) + "/" + std::to_string(mesh["links"].size()) + " established";
    s += ", directory " + std::to_string(mesh.value("directory_users", 0)) + " users" +
         (mesh.value("directory_complete", false) ? "" : " (sync in progress)");
    s += detail;
  }
  return s;
}

}  // namespace

Status checkTopology(const std::string& path, std::ostream& out) {
  auto loaded = topology::loadTopology(path);
  if (!loaded) return Status::fail(loaded.error().reason, loaded.error().detail);
  const Topology& t = loaded.value();
  size_t ha = 0;
  for (const auto& g : t.groups()) ha += g.ha ? 1 : 0;
  out << "topology " << path << ": ok\n"
      << "domain: " << t.domain() << '\n'
      << "security: "
      << (t.security().secure ? "secure (TLS 1.3, mutual verification), CA " + t.security().caFile
                              : std::string("OFF (plain TCP between nodes)"))
      << '\n'
      << "assignment: " << toString(t.assignment()) << '\n'
      << "srm: " << srmLine(t.srm()) << '\n'
      << "mesh: " << t.clusters().size() << " clusters, " << t.nodes().size() << " nodes, " << t.groups().size()
      << " groups (" << ha << " HA), " << linkCount(t) << " r2r links\n";
  for (const auto& c : t.clusters()) {
    out << "cluster " << c.id << ": " << c.nodes.size() << " nodes, assignment " << toString(c.assignment)
        << "; groups:";
    for (auto g : c.groups) out << ' ' << groupLine(t, t.groups()[g]) << ';';
    out << '\n';
    if (!sameSrm(c.srm, t.srm())) out << "  srm: " << srmLine(c.srm) << '\n';
  }
  if (t.security().secure) {
    std::error_code ec;
    if (!std::filesystem::exists(t.security().caFile, ec))
      out << "warning: CA file missing: " << t.security().caFile << '\n';
    for (const auto& n : t.nodes()) {
      for (const std::string& f : {t.security().certFileFor(n.id), t.security().keyFileFor(n.id)}) {
        if (!std::filesystem::exists(f, ec)) out << "warning: node " << n.id << ": missing " << f << '\n';
      }
    }
  }
  return Status::ok();
}

Status showTopology(const std::string& path, const ShowOptions& options, std::ostream& out) {
  auto loaded = topology::loadTopology(path);
  if (!loaded) return Status::fail(loaded.error().reason, loaded.error().detail);
  const Topology& t = loaded.value();

  // All nodes at once: a mesh with nodes down costs one timeout, not one per node.
  std::vector<std::future<Result<HttpResponse>>> probes;
  if (options.admin) {
    for (const auto& n : t.nodes()) {
      probes.push_back(std::async(std::launch::async, [&n, &options]() -> Result<HttpResponse> {
        if (n.admin.port == 0) return Error{"off", ""};
        return httpGet(n.reachable(n.admin), n.admin.port, "/status", options.timeout);
      }));
    }
  }

  out << "domain " << t.domain() << ", " << (t.security().secure ? "secure" : "NOT secure (plain TCP)") << ", "
      << t.clusters().size() << " clusters, " << t.nodes().size() << " nodes, " << linkCount(t) << " r2r links\n";
  for (const auto& c : t.clusters()) {
    out << "cluster " << c.id << " (assignment " << toString(c.assignment) << ")\n";
    for (auto gi : c.groups) {
      const auto& g = t.groups()[gi];
      out << "  group " << g.id << (g.ha ? " (ha)" : g.nodes.size() == 2 ? " (no failover)" : "") << '\n';
      for (auto ni : g.nodes) {
        const auto& n = t.node(ni);
        out << "    " << n.id << "  host " << n.host << "  c2s " << endpoint(n.c2s) << "  r2r " << endpoint(n.r2r)
            << "  admin " << (n.admin.port ? endpoint(n.admin) : std::string("off")) << "  dials "
            << t.dialTargets(ni).size() << ", accepts " << t.acceptsFrom(ni).size() << '\n';
        if (options.admin) out << "      status: " << describeStatus(n, probes[ni].get()) << '\n';
      }
    }
  }
  return Status::ok();
}

}  // namespace xmesh::ctl
