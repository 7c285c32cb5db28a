// The failover drill's scenario keys (SPEC §7; loadgen/README.md "Failover drill"): what
// the coordinator runs and when, how clients come back, and the bound that keeps the run
// finite. Kept apart from scenario.h so the drill's keys and their checks live together.
//
// The drill runs inside the main phase of a `steady` (or `idle`) scenario:
// In a scenario file the drill.* keys may be written as dotted keys or as a [drill]
// table; `dual` is a plain boolean, so its tuning keys are flat (dual_...).
//   drill.at                seconds into the main phase when drill.command runs;
//   drill.command           a shell command (/bin/sh -c), e.g. "kill -9 1234" or
//                           "xmeshctl failover --topology T node1": generic, so the same
//                           drill runs against any server;
//   drill.fallback_at       optional: seconds into the main phase for the way back,
//   drill.fallback_command  and its command (e.g. "xmeshctl fallback ... node1");
//   drill.timeout           the bound: seconds after each command by which every user
//                           should be active again; the main phase lasts at least until
//                           the last command + this, and users not back by then are
//                           failures (reported "not back" or "back late");
//   drill.reconnect         plain clients (and dual clients without a bound inactive
//                           session): where the first re-login goes: `backup` (the PRG
//                           backup of the node they were on, from the topology) or
//                           `same`; later attempts alternate; see-other-host is followed;
//   drill.reconnect_delay_ms  pause before each re-login attempt (jittered +-50%);
//   dual                    true: every user keeps an inactive session on its backup
//                           (docs/dual-connections.md) and activates it at failover;
//   dual_relogin_delay_ms   overrides the server's re-login window for opening the
//                           inactive session (-1: a delay drawn from the window the
//                           server sends, as a real client does; drills use a short one);
//   dual_activate_retry_ms  pause before asking again after an <activate/> refused.
#pragma once
#include <map>
#include <string>

#include "core/status.h"

namespace xmesh::loadgen {

enum class ReconnectTarget { Backup, Same };

struct DrillSettings {
  double at = -1;  // < 0: no drill
  std::string command;
  double fallbackAt = -1;  // < 0: no fallback step
  std::string fallbackCommand;
  double timeout = 30;
  ReconnectTarget reconnect = ReconnectTarget::Backup;
  double reconnectDelayMs = 250;
  bool dual = false;
  double reloginDelayMs = -1;
  double activateRetryMs = 200;

  bool enabled() const { return at >= 0; }
  bool hasFallback() const { return fallbackAt >= 0; }
  // Seconds into the main phase when the last command runs, plus the bound.
  double endsAfter() const { return (hasFallback() ? fallbackAt : at) + timeout; }

  // True when `key` is one of the drill's keys (then *status says whether the value was
  // good); false for keys that belong to someone else.
  bool set(const std::string& key, const std::string& value, Status* status);
  // Consistency of the keys together (command given, fallback after the failover, ...).
  Status check() const;
  void addSettings(std::map<std::string, std::string>& out) const;
};

}  // namespace xmesh::loadgen
