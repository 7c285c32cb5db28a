#include "topology/loader.h"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <toml++/toml.h>

namespace xmesh::topology {
namespace {

using std::chrono::milliseconds;

// Reads keys of one TOML table, remembers which were asked for and reports the rest as
// unknown. Problems name the table by `where` ("cluster 'east' node 'e1'").
class Reader {
 public:
  Reader(const toml::table& table, std::string where, std::string& problems)
      : table_(table), where_(std::move(where)), problems_(problems) {}

  // as_*() rather than value<T>(): toml++ converts between types in value<T>(), and a
  // `secure = 1` must be an error, not true.
  void get(const char* key, bool& out) {
    if (const toml::node* n = find(key)) {
      if (auto* v = n->as_boolean()) out = v->get(); else bad(key, "true or false");
    }
  }
  void get(const char* key, std::optional<bool>& out) {
    if (const toml::node* n = find(key)) {
      if (auto* v = n->as_boolean()) out = v->get(); else bad(key, "true or false");
    }
  }
  void get(const char* key, std::string& out) {
    if (const toml::node* n = find(key)) {
      if (auto* v = n->as_string()) out = v->get(); else bad(key, "a string");
    }
  }
  void get(const char* key, std::optional<std::string>& out) {
    if (const toml::node* n = find(key)) {
      if (auto* v = n->as_string()) out = v->get(); else bad(key, "a string");
    }
  }
  void get(const char* key, int& out) {
    if (const toml::node* n = find(key)) {
      auto* v = n->as_integer();
      if (v && v->get() >= std::numeric_limits<int>::min() && v->get() <= std::numeric_limits<int>::max())
        out = static_cast<int>(v->get());
      else bad(key, "an integer");
    }
  }
  void get(const char* key, milliseconds& out) {
    if (const toml::node* n = find(key)) {
      auto* v = n->as_string();
      std::optional<milliseconds> d = v ? parseDuration(v->get()) : std::nullopt;
      if (d) out = *d; else bad(key, "a duration such as \"250ms\", \"15s\", \"30min\" or \"1h\"");
    }
  }
  void get(const char* key, std::vector<std::string>& out) {
    if (const toml::node* n = find(key)) {
      const toml::array* a = n->as_array();
      bool ok = a != nullptr;
      if (a) {
        for (const toml::node& e : *a) {
          if (auto* s = e.as_string()) out.push_back(s->get()); else ok = false;
        }
      }
      if (!ok) bad(key, "an array of strings");
    }
  }
  // An array of tables; a present key of another type is reported.
  const toml::array* tables(const char* key) {
    const toml::node* n = find(key);
    if (!n) return nullptr;
    const toml::array* a = n->as_array();
    if (!a || !a->is_array_of_tables()) {
      bad(key, "an array of tables ([[...]])");
      return nullptr;
    }
    return a;
  }
  const toml::table* table(const char* key) {
    const toml::node* n = find(key);
    if (!n) return nullptr;
    if (auto* t = n->as_table()) return t;
    bad(key, "a table");
    return nullptr;
  }
  bool has(const char* key) const { return table_.get(key) != nullptr; }

  void checkUnknown() {
    for (const auto& [k, v] : table_) {
      std::string key(k.str());
      bool ok = false;
      for (const auto& n : known_) ok = ok || n == key;
      if (!ok) add("unknown key '" + key + "'");
    }
  }

 private:
  const toml::node* find(const char* key) {
    known_.push_back(key);
    return table_.get(key);
  }
  void bad(const char* key, const char* expected) {
    add("'" + std::string(key) + "' must be " + expected);
  }
  void add(const std::string& what) {
    if (!problems_.empty()) problems_ += "; ";
    problems_ += (where_.empty() ? std::string() : where_ + ": ") + what;
  }

  const toml::table& table_;
  std::string where_;
  std::string& problems_;
  std::vector<std::string> known_;
};

std::string idOr(const toml::table& t, const std::string& fallback) {
  if (auto* v = t.get_as<std::string>("id")) return "'" + v->get() + "'";
  return fallback;
}

void readSrm(const toml::table& t, const std::string& where, SrmParams& s, std::string& problems) {
  Reader r(t, where, problems);
  r.get("heartbeat_interval", s.heartbeatInterval);
  r.get("heartbeat_timeout", s.heartbeatTimeout);
  r.get("init_heartbeat_timeout", s.initHeartbeatTimeout);
  r.get("critical_service_delay", s.criticalServiceDelay);
  r.get("automatic_fallback", s.automaticFallback);
  r.get("automatic_fallback_delay", s.automaticFallbackDelay);
  r.get("relogin_lower_limit", s.reloginLowerLimit);
  r.get("relogin_upper_limit", s.reloginUpperLimit);
  r.checkUnknown();
}

void readAssignment(Reader& r, const char* key, std::optional<AssignmentMode>& out, const std::string& where,
                    std::string& problems) {
  std::optional<std::string> text;
  r.get(key, text);
  if (!text) return;
  out = parseAssignmentMode(*text);
  if (!out) {
    if (!problems.empty()) problems += "; ";
    problems += (where.empty() ? std::string() : where + ": ") + "assignment '" + *text +
                "' is not one of balanced, active-standby, none";
  }
}

NodeDesc readNode(const toml::table& t, const std::string& where, std::string& problems) {
  NodeDesc n;
  Reader r(t, where, problems);
  r.get("id", n.id);
  r.get("host", n.host);
  r.get("c2s_address", n.c2sAddress);
  r.get("c2s_port", n.c2sPort);
  r.get("r2r_address", n.r2rAddress);
  r.get("r2r_port", n.r2rPort);
  r.get("admin_address", n.adminAddress);
  r.get("admin_port", n.adminPort);
  r.checkUnknown();
  if (!r.has("id")) problems += (problems.empty() ? "" : "; ") + where + ": 'id' is required";
  if (!r.has("host")) problems += (problems.empty() ? "" : "; ") + where + ": 'host' is required";
  return n;
}

GroupDesc readGroup(const toml::table& t, const std::string& where, std::string& problems) {
  GroupDesc g;
  Reader r(t, where, problems);
  r.get("id", g.id);
  r.get("nodes", g.nodes);
  r.get("ha", g.ha);
  r.checkUnknown();
  if (!r.has("id")) problems += (problems.empty() ? "" : "; ") + where + ": 'id' is required";
  return g;
}

ClusterDesc readCluster(const toml::table& t, const std::string& where, const SrmParams& meshSrm,
                        std::string& problems) {
  ClusterDesc c;
  Reader r(t, where, problems);
  r.get("id", c.id);
  if (!r.has("id")) problems += (problems.empty() ? "" : "; ") + where + ": 'id' is required";
  readAssignment(r, "assignment", c.assignment, where, problems);
  if (const toml::table* srm = r.table("srm")) {
    // A cluster's [clusters.srm] overrides single keys of the mesh-wide [srm].
    SrmParams s = meshSrm;
    readSrm(*srm, where + " srm", s, problems);
    c.srm = s;
  }
  if (const toml::array* nodes = r.tables("nodes")) {
    for (size_t i = 0; i < nodes->size(); ++i) {
      const toml::table& nt = *(*nodes)[i].as_table();
      c.nodes.push_back(readNode(nt, where + " node " + idOr(nt, "#" + std::to_string(i + 1)), problems));
    }
  }
  if (const toml::array* groups = r.tables("groups")) {
    for (size_t i = 0; i < groups->size(); ++i) {
      const toml::table& gt = *(*groups)[i].as_table();
      c.groups.push_back(readGroup(gt, where + " group " + idOr(gt, "#" + std::to_string(i + 1)), problems));
    }
  }
  r.checkUnknown();
  return c;
}

std::string resolve(const std::string& baseDir, const std::string& path) {
  if (path.empty() || baseDir.empty()) return path;
  std::filesystem::path p(path);
  if (p.is_absolute()) return path;
  return (std::filesystem::path(baseDir) / p).lexically_normal().string();
}

}  // namespace

std::optional<milliseconds> parseDuration(std::string_view text) {
  int64_t amount = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), amount);
  if (ec != std::errc() || end == text.data() || amount < 0) return std::nullopt;
  std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  int64_t scale = 0;
  if (unit == "ms") scale = 1;
  else if (unit == "s") scale = 1000;
  else if (unit == "min") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  else return std::nullopt;
  if (amount > std::numeric_limits<int64_t>::max() / scale / 1000) return std::nullopt;  // absurd
  return milliseconds(amount * scale);
}

std::string formatDuration(milliseconds d) {
  int64_t ms = d.count();
  // Seconds read best up to a few minutes ("120s", as the seeds write them).
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms >= 600'000 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "min";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

Result<TopologyDesc> parseTopologyDesc(const std::string& tomlText, const std::string& baseDir) {
  toml::table root;
  try {
    root = toml::parse(tomlText);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << e.description() << " at line " << e.source().begin.line;
    return Error{"topology-parse", os.str()};
  }
  TopologyDesc d;
  std::string problems;
  Reader top(root, "", problems);
  top.get("domain", d.domain);
  std::optional<AssignmentMode> mode;
  readAssignment(top, "assignment", mode, "", problems);
  d.assignment = mode.value_or(AssignmentMode::Balanced);
  if (const toml::table* sec = top.table("security")) {
    Reader r(*sec, "security", problems);
    r.get("secure", d.security.secure);
    r.get("ca_file", d.security.caFile);
    r.get("cert_file", d.security.certFile);
    r.get("key_file", d.security.keyFile);
    r.checkUnknown();
  }
  d.security.caFile = resolve(baseDir, d.security.caFile);
  d.security.certFile = resolve(baseDir, d.security.certFile);
  d.security.keyFile = resolve(baseDir, d.security.keyFile);
  if (const toml::table* srm = top.table("srm")) readSrm(*srm, "srm", d.srm, problems);
  if (const toml::array* clusters = top.tables("clusters")) {
    for (size_t i = 0; i < clusters->size(); ++i) {
      const toml::table& ct = *(*clusters)[i].as_table();
      d.clusters.push_back(readCluster(ct, "cluster " + idOr(ct, "#" + std::to_string(i + 1)), d.srm, problems));
    }
  }
  top.checkUnknown();
  if (!problems.empty()) return Error{"topology-invalid", problems};
  return d;
}

Result<Topology> parseTopology(const std::string& tomlText, const std::string& baseDir) {
  auto desc = parseTopologyDesc(tomlText, baseDir);
  if (!desc) return desc.error();
  return Topology::build(std::move(desc.value()));
}

Result<Topology> loadTopology(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{"topology-open", "cannot open " + path};
  std::stringstream ss;
  ss << in.rdbuf();
  std::string base = std::filesystem::absolute(std::filesystem::path(path)).parent_path().string();
  auto t = parseTopology(ss.str(), base);
  if (!t) return Error{t.error().reason, path + ": " + t.error().detail};
  return t;
}

}  // namespace xmesh::topology
