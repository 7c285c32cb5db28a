// xmesh-loadgen: the load generator (SPEC §7; usage in loadgen/README.md). Commands:
//   xmesh-loadgen --scenario FILE.toml [--workers N] [--out DIR] [--set key=value]...
//                 [--topology MESH.toml [--connect home|wrong|spread]] [--settle S]
//   xmesh-loadgen gen-population --users N --avg-contacts 100 --out FILE.csv
//                 [--topology MESH.toml [--remote-share 0.5]]
//   xmesh-loadgen html REPORT.json [--out REPORT.html]   (re-render a run's HTML report)
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "loadgen/coordinator.h"
#include "loadgen/html_report.h"
#include "loadgen/population.h"

using namespace xmesh::loadgen;  // NOLINT(build/namespaces): a small main

namespace {

int genPopulation(const PopulationGenOptions& o) {
  auto st = generatePopulation(o);
  if (!st.isOk()) {
    std::cerr << "xmesh-loadgen: " << st.error().reason << ": " << st.error().detail << "\n";
    return 2;
  }
  std::printf("wrote %s (%u users, %llu roster edges, avg %.1f contacts) and %s.keys; "
              "PBKDF2 x2 per user in %.2f s, total %.2f s\n",
              o.out.c_str(), o.users, static_cast<unsigned long long>(st->edges),
              2.0 * static_cast<double>(st->edges) / o.users, o.out.c_str(), st->deriveSeconds,
              st->totalSeconds);
  if (!st->usersPerNode.empty()) {
    std::printf("homes (topology %s):", o.topologyPath.c_str());
    for (const auto& [node, n] : st->usersPerNode) std::printf(" %s %u", node.c_str(), n);
    std::printf("; %.1f%% of roster edges cross nodes\n",
                st->edges ? 100.0 * static_cast<double>(st->remoteEdges) / static_cast<double>(st->edges) : 0.0);
  }
  return 0;
}

int renderHtml(const std::string& in, std::string out) {
  std::ifstream f(in);
  nlohmann::json report;
  try {
    report = nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    std::cerr << "xmesh-loadgen: cannot read " << in << ": " << e.what() << "\n";
    return 2;
  }
  if (out.empty()) {
    out = in;
    auto dot = out.rfind(".json");
    out = (dot != std::string::npos ? out.substr(0, dot) : out) + ".html";
  }
  std::ofstream o(out, std::ios::trunc);
  try {
    o << xmesh::loadgen::html::renderHtmlReport(report);
  } catch (const std::exception& e) {
    std::cerr << "xmesh-loadgen: " << in << " is not a loadgen report: " << e.what() << "\n";
    return 2;
  }
  std::printf("html report: %s\n", out.c_str());
  return o ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xmesh-loadgen - XMPP load generator"};
  std::string scenarioPath, outDir = ".";
  std::vector<std::string> overrides;
  int workers = -1, port = -1, serverPid = -1;
  long long users = -1;  // NOLINT(runtime/int)
  double duration = -1, loginRate = -1;
  double settle = -1;
  std::string host, population, mechanism, domain, topologyPath, connect;
  app.add_option("-s,--scenario", scenarioPath, "Scenario TOML file");
  app.add_option("-w,--workers", workers, "Worker processes (default: one per core)");
  app.add_option("-o,--out", outDir, "Directory for report.json");
  app.add_option("--set", overrides, "Override a scenario key: key=value (repeatable)");
  app.add_option("--users", users, "Override users");
  app.add_option("--host", host, "Override host");
  app.add_option("--port", port, "Override port");
  app.add_option("--domain", domain, "Override domain");
  app.add_option("--server-pid", serverPid, "Override server_pid (RSS/CPU from /proc)");
  app.add_option("--duration", duration, "Override duration (s)");
  app.add_option("--login-rate", loginRate, "Override login_rate (logins/s, 0 = max)");
  app.add_option("--population", population, "Override population (CSV)");
  app.add_option("--mechanism", mechanism, "Override mechanism");
  app.add_option("--topology", topologyPath, "Override topology (mesh TOML: users connect to nodes' c2s endpoints)");
  app.add_option("--connect", connect, "Override connect: home | wrong | spread (with a topology)");
  app.add_option("--settle", settle, "Override settle (s between the last login and the main phase)");

  PopulationGenOptions gen;
  auto* genCmd = app.add_subcommand("gen-population", "Generate users, rosters and salted keys");
  genCmd->add_option("--users", gen.users, "Number of users")->required();
  genCmd->add_option("--avg-contacts", gen.avgContacts, "Average roster size");
  genCmd->add_option("--max-contacts", gen.maxContacts, "Largest roster");
  genCmd->add_option("--out", gen.out, "CSV for xmeshctl import (keys go to <out>.keys)")->required();
  genCmd->add_option("--iterations", gen.iterations, "PBKDF2 iterations");
  genCmd->add_option("--domain", gen.domain, "Domain of the contacts' JIDs");
  genCmd->add_option("--user-pattern", gen.userPattern, "User names, %d = index");
  genCmd->add_option("--first", gen.first, "First user index");
  genCmd->add_option("--password", gen.password, "Password template ({user} = name)");
  genCmd->add_option("--threads", gen.threads, "PBKDF2 threads (0 = cores)");
  genCmd->add_option("--seed", gen.seed, "Roster graph seed");
  genCmd->add_option("--topology", gen.topologyPath, "Mesh topology: give every user a home node (4th CSV column)");
  genCmd->add_option("--remote-share", gen.remoteShare,
                     "Share of each roster homed on other nodes (default 0.5 with --topology)")
      ->check(CLI::Range(0.0, 1.0));
  std::string htmlIn, htmlOut;
  auto* htmlCmd = app.add_subcommand("html", "Re-render report.html from a report.json");
  htmlCmd->add_option("report", htmlIn, "report.json")->required();
  htmlCmd->add_option("--out", htmlOut, "Output (default: the report's name with .html)");
  CLI11_PARSE(app, argc, argv);

  if (genCmd->parsed()) return genPopulation(gen);
  if (htmlCmd->parsed()) return renderHtml(htmlIn, htmlOut);

  auto add = [&](const char* key, const std::string& v) { overrides.push_back(std::string(key) + "=" + v); };
  if (workers >= 0) add("workers", std::to_string(workers));
  if (users >= 0) add("users", std::to_string(users));
  if (!host.empty()) add("host", host);
  if (port >= 0) add("port", std::to_string(port));
  if (!domain.empty()) add("domain", domain);
  if (serverPid >= 0) add("server_pid", std::to_string(serverPid));
  if (duration >= 0) add("duration", std::to_string(duration));
  if (loginRate >= 0) add("login_rate", std::to_string(loginRate));
  if (!population.empty()) add("population", population);
  if (!mechanism.empty()) add("mechanism", mechanism);
  if (!topologyPath.empty()) add("topology", topologyPath);
  if (!connect.empty()) add("connect", connect);
  if (settle >= 0) add("settle", std::to_string(settle));
  auto sc = Scenario::load(scenarioPath, overrides);
  if (!sc.isOk()) {
    std::cerr << "xmesh-loadgen: " << sc.error().reason << ": " << sc.error().detail << "\n";
    return 1;
  }
  CoordinatorOptions co;
  co.scenario = std::move(sc.value());
  co.outDir = outDir;
  Coordinator coordinator(std::move(co));
  return coordinator.run();
}
