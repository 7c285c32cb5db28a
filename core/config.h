// The node's configuration: every limit and timeout an operator can tune, with the
// defaults of config/xmeshd.example.toml. Loaded once at start-up (exceptions allowed
// there); read-only afterwards, shared by all loops.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace xmesh {

struct ListenConfig {
  std::string c2sAddress = "0.0.0.0";
  int c2sPort = 5222;
  int directTlsPort = 0;  // XEP-0368; 0 = off (default 5223 in the example config)
  std::string adminAddress = "127.0.0.1";
  int adminPort = 9400;  // 0 = off
};

struct TlsConfig {
  std::string certFile;  // empty: a self-signed certificate is generated in dataDir
  std::string keyFile;
  bool required = true;  // STARTTLS required before SASL
  std::string minVersion = "1.2";
  // A file holding a secret (at least 32 bytes, e.g. `head -c 32 /dev/urandom`) from
  // which TLS session ticket keys are derived. Give every node of a redundancy group the
  // same file: clients then resume their TLS session on the peer at failover. Empty:
  // per-node random keys (tls/ticket_keys.h).
  std::string ticketKeyFile;
};

struct LimitsConfig {
  size_t maxStanzaBytes = 256 * 1024;    // after authentication
  size_t maxStanzaBytesPreAuth = 16 * 1024;
  size_t maxDepth = 32;
  size_t maxAttributes = 64;
  int maxSaslAttempts = 5;               // per stream
  int authFailuresBeforeBackoff = 10;    // per address, per backoff window
  int authBackoffSeconds = 60;
  int preAuthTimeoutSeconds = 30;        // stream open until authenticated
  int tlsHandshakeTimeoutSeconds = 10;
  int idleTimeoutSeconds = 600;          // no input at all for this long: close
  int maxConnectionsPerAddress = 0;      // 0 = unlimited (load tests come from one host)
  size_t outputHighWatermark = 256 * 1024;  // stop reading from the client above this
  size_t outputLowWatermark = 64 * 1024;
  size_t outputHardLimit = 4 * 1024 * 1024;  // disconnect a slow consumer above this
  size_t maxOfflinePerUser = 1000;
  int maxRosterItems = 0;                // 0 = unlimited (administrable contact limit)
  int smResumeTimeoutSeconds = 300;
  size_t smMaxUnacked = 10000;
};

struct NodeConfig {
  std::string domain = "localhost";
  std::string nodeId = "node1";
  int loops = 0;  // 0 = one per core
  std::string dataDir = "./xmesh-data";
  std::string storePath;  // SQLite file; empty: <dataDir>/xmesh.db
  // The store as a spec (store/open_store.h): "postgresql://...", "postgres://..." or
  // "pg:<libpq key=value>" for PostgreSQL (docs/store-postgres.md), anything else an
  // SQLite path. Empty: store_path. Setting both is a config error.
  std::string store;
  int storeThreads = 2;
  int scramIterations = 4096;
  std::string logLevel = "info";
  ListenConfig listen;
  TlsConfig tls;
  LimitsConfig limits;

  std::string resolvedStorePath() const;
  // What the node opens: `store` when set, else the SQLite path above.
  std::string resolvedStoreSpec() const;
};

// Parses a TOML file; unknown keys are an error (typos must not pass silently).
Result<NodeConfig> loadConfig(const std::string& path);
Result<NodeConfig> parseConfig(const std::string& tomlText);

}  // namespace xmesh
