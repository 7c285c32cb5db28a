#include "core/config.h"

#include <fstream>
#include <sstream>
#include <toml++/toml.h>

namespace xmesh {
namespace {

// Reads `key` from `table` into `out` when present, remembering it as known.
class Reader {
 public:
  Reader(const toml::table& table, std::string prefix) : table_(table), prefix_(std::move(prefix)) {}

  template <typename T>
  void get(const char* key, T& out) {
    known_.push_back(key);
    const toml::node* node = table_.get(key);
    if (!node) return;
    // as_*() rather than value<T>(): toml++ converts between types in value<T>(), and a
    // `required = 3` must be an error, not true.
    if constexpr (std::is_same_v<T, bool>) {
      if (auto* v = node->as_boolean()) out = v->get(); else bad(key);
    } else if constexpr (std::is_integral_v<T>) {
      if (auto* v = node->as_integer(); v && v->get() >= 0) out = static_cast<T>(v->get()); else bad(key);
    } else {
      if (auto* v = node->as_string()) out = v->get(); else bad(key);
    }
  }

  // Unknown keys are collected so a typo in the config is reported, not ignored.
  void checkUnknown(const std::vector<std::string>& subtables) {
    for (const auto& [k, v] : table_) {
      std::string key(k.str());
      bool ok = false;
      for (const auto& n : known_) ok = ok || n == key;
      for (const auto& n : subtables) ok = ok || n == key;
      if (!ok) errors_ += "unknown key '" + prefix_ + key + "'; ";
    }
  }
  const std::string& errors() const { return errors_; }

 private:
  void bad(const char* key) { errors_ += "bad value for '" + prefix_ + key + "'; "; }
  const toml::table& table_;
  std::string prefix_;
  std::vector<std::string> known_;
  std::string errors_;
};

const toml::table& sub(const toml::table& root, const char* name) {
  static const toml::table empty;
  if (const auto* t = root.get_as<toml::table>(name)) return *t;
  return empty;
}

}  // namespace

std::string NodeConfig::resolvedStorePath() const {
  return storePath.empty() ? dataDir + "/xmesh.db" : storePath;
}

std::string NodeConfig::resolvedStoreSpec() const { return store.empty() ? resolvedStorePath() : store; }

Result<NodeConfig> parseConfig(const std::string& text) {
  toml::table root;
  try {
    root = toml::parse(text);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << e.description() << " at line " << e.source().begin.line;
    return Error{"config-parse", os.str()};
  }
  NodeConfig c;
  std::string errors;
  Reader top(root, "");
  top.get("domain", c.domain);
  top.get("node_id", c.nodeId);
  top.get("loops", c.loops);
  top.get("data_dir", c.dataDir);
  top.get("store_path", c.storePath);
  top.get("store", c.store);
  top.get("store_threads", c.storeThreads);
  top.get("scram_iterations", c.scramIterations);
  top.get("log_level", c.logLevel);
  top.checkUnknown({"listen", "tls", "limits"});
  errors += top.errors();

  Reader listen(sub(root, "listen"), "listen.");
  listen.get("c2s_address", c.listen.c2sAddress);
  listen.get("c2s_port", c.listen.c2sPort);
  listen.get("direct_tls_port", c.listen.directTlsPort);
  listen.get("admin_address", c.listen.adminAddress);
  listen.get("admin_port", c.listen.adminPort);
  listen.checkUnknown({});
  errors += listen.errors();

  Reader tls(sub(root, "tls"), "tls.");
  tls.get("cert_file", c.tls.certFile);
  tls.get("key_file", c.tls.keyFile);
  tls.get("required", c.tls.required);
  tls.get("min_version", c.tls.minVersion);
  tls.get("ticket_key_file", c.tls.ticketKeyFile);
  tls.checkUnknown({});
  errors += tls.errors();

  auto& l = c.limits;
  Reader lim(sub(root, "limits"), "limits.");
  lim.get("max_stanza_bytes", l.maxStanzaBytes);
  lim.get("max_stanza_bytes_pre_auth", l.maxStanzaBytesPreAuth);
  lim.get("max_depth", l.maxDepth);
  lim.get("max_attributes", l.maxAttributes);
  lim.get("max_sasl_attempts", l.maxSaslAttempts);
  lim.get("auth_failures_before_backoff", l.authFailuresBeforeBackoff);
  lim.get("auth_backoff_seconds", l.authBackoffSeconds);
  lim.get("pre_auth_timeout_seconds", l.preAuthTimeoutSeconds);
  lim.get("tls_handshake_timeout_seconds", l.tlsHandshakeTimeoutSeconds);
  lim.get("idle_timeout_seconds", l.idleTimeoutSeconds);
  lim.get("max_connections_per_address", l.maxConnectionsPerAddress);
  lim.get("output_high_watermark", l.outputHighWatermark);
  lim.get("output_low_watermark", l.outputLowWatermark);
  lim.get("output_hard_limit", l.outputHardLimit);
  lim.get("max_offline_per_user", l.maxOfflinePerUser);
  lim.get("max_roster_items", l.maxRosterItems);
  lim.get("sm_resume_timeout_seconds", l.smResumeTimeoutSeconds);
  lim.get("sm_max_unacked", l.smMaxUnacked);
  lim.checkUnknown({});
  errors += lim.errors();

  if (l.outputLowWatermark > l.outputHighWatermark || l.outputHighWatermark > l.outputHardLimit)
    errors += "limits: need output_low_watermark <= output_high_watermark <= output_hard_limit; ";
  if (l.maxStanzaBytesPreAuth > l.maxStanzaBytes)
    errors += "limits: max_stanza_bytes_pre_auth must not exceed max_stanza_bytes; ";
  if (c.domain.empty()) errors += "domain must not be empty; ";
  if (!c.store.empty() && !c.storePath.empty()) errors += "set either store or store_path, not both; ";
  if (!errors.empty()) return Error{"config-invalid", errors};
  return c;
}

Result<NodeConfig> loadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{"config-open", "cannot open " + path};
  std::stringstream ss;
  ss << in.rdbuf();
  return parseConfig(ss.str());
}

}  // namespace xmesh
