// A load scenario: a small flat TOML file (see scenarios/*.toml) whose every key can be
// overridden on the command line (--set key=value, or the dedicated flags). Unknown keys
// are refused so that a typo never silently runs the wrong experiment.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "loadgen/client_session.h"
#include "loadgen/drill_settings.h"

namespace xmesh::loadgen {

enum class ScenarioKind { LoginStorm, Steady, Saturation, Idle };
std::string_view scenarioKindName(ScenarioKind k);

// With a topology: which node each simulated user connects to first.
enum class ConnectMode {
  Home,    // its home node (the population's home column); users without one: round robin
  Wrong,   // the node after its home in topology order: every login is redirected once
  Spread,  // round robin over the nodes whatever the home (like DNS round robin)
};
std::string_view connectModeName(ConnectMode m);

struct Scenario {
  std::string name;
  ScenarioKind kind = ScenarioKind::LoginStorm;
  // Server under test: one address, or a mesh topology file (then each user connects
  // to a node's c2s endpoint, node.reachable(node.c2s), chosen by `connect`).
  std::string host = "127.0.0.1";
  int port = 5222;
  std::string topology;
  ConnectMode connect = ConnectMode::Home;
  std::string domain = "localhost";
  int serverPid = 0;  // for RSS and CPU readings from /proc (0 = unknown)
  // Users: names from the pattern ("%d" = index), indexes [first, first + users).
  std::string userPattern = "user%d";
  std::string password = "pw-{user}";  // "{user}" is replaced with the user name
  uint32_t users = 1000;
  uint32_t first = 1;
  std::string population;  // CSV from gen-population: rosters (and keys from <csv>.keys)
  std::string keys;        // salted-password file; "" = <population>.keys if it exists
  uint32_t ringContacts = 10;  // contacts per user when no population file is given
  Mechanism mechanism = Mechanism::ScramSha1;
  bool roster = true;
  bool presence = true;
  bool sm = false;
  // Login phase.
  double loginRate = 0;         // target logins/s over all workers; 0 = as fast as possible
  uint32_t loginConcurrency = 500;  // logins in flight per worker
  double loginTimeout = 60;     // seconds per login (redirect included); see coordinator.h
  double settle = 0;            // seconds between the last login resolved and the main phase
  // With --server-pid: after `settle`, also wait until the server used less than this
  // share of a core (percent) over the last second, at most settle_max seconds in all,
  // so a server still working off the login storm (e.g. presence fan-out) is not
  // measured as if that were the main phase's cost. 0 = off.
  double settleServerCpuBelow = 0;
  double settleMax = 120;
  // How the main phase paces its sends. false: a 1-ms timer sends what is due, in small
  // bursts (cheap: the load generator's core idles between them). true: the loop never
  // sleeps and sends each message as soon as it is due (one core spent busy-polling),
  // so the server sees arrivals spread as evenly as the rate asks: for latency at a
  // given rate without the generator's own bursts in the tail.
  bool spinPacing = false;
  // TLS session resumption. false: every login is a full handshake (the cold-start
  // figure, as after a server restart). true: each user keeps the session (ticket) of
  // its last connection and offers it on the next one (loadgen/tls_session_cache.h).
  bool tlsResumption = false;
  // Before the measured login phase, log every user in once and out again (gracefully:
  // </stream:stream> and close_notify), all workers together, so that with
  // tls_resumption the measured storm is N users reconnecting with tickets (a
  // reconnect storm, e.g. after a network failover). Not counted as logins.
  bool warmupLogins = false;
  double warmupSettle = 1;      // seconds between the warmup's last logout and the logins
  // Steady / idle / login_storm hold.
  double duration = 10;         // seconds of the main phase after everyone is online
  double msgsPerUserHour = 60;
  double presencePerUserHour = 6;
  // Saturation.
  double satStartRate = 1000;   // msgs/s over all users
  double satStepRate = 1000;
  double satStepSeconds = 5;
  double satP99BoundMs = 10;
  double satMaxRate = 1e7;
  // Shared.
  double drain = 3;             // seconds to wait for in-flight messages at the end
  uint32_t sourceAddresses = 16;  // bind sockets to 127.0.0.1 .. 127.0.0.N
  uint32_t workers = 0;         // 0 = one per core
  std::string cpuList;          // taskset-style core list for workers, e.g. "1" or "0-1"
  // The failover drill (drill.*, dual...; see drill_settings.h). Needs kind steady or idle.
  DrillSettings drill;

  // Loads the file (if non-empty), then applies overrides "key=value" in order.
  static Result<Scenario> load(const std::string& path, const std::vector<std::string>& overrides);
  // Total message rate a steady phase produces with `online` users.
  double steadyMsgRate(uint64_t online) const { return msgsPerUserHour * static_cast<double>(online) / 3600.0; }
  std::string userName(uint32_t index) const;
  std::string passwordFor(const std::string& user) const;
  // All settings as key=value strings (for the report).
  std::map<std::string, std::string> settings() const;

 private:
  Status set(const std::string& key, const std::string& value);
};

}  // namespace xmesh::loadgen
