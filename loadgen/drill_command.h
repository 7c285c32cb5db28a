// One drill command (drill.command, drill.fallback_command), run by the coordinator with
// /bin/sh -c in its own process group, without blocking the coordinator's loop: output
// goes to a log file in the report directory (it would garble the live line), poll()
// reaps it, and a command still running when the run ends is killed, so the drill
// stays bounded even if the command hangs.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "core/status.h"

namespace xmesh::loadgen {

class DrillCommand {
 public:
  DrillCommand() = default;
  ~DrillCommand();
  DrillCommand(const DrillCommand&) = delete;
  DrillCommand& operator=(const DrillCommand&) = delete;

  // Starts `command`; stdout and stderr are appended to `logPath`. Error "drill-command".
  Status start(const std::string& command, const std::string& logPath);
  // Reaps the command if it has exited; returns true once it has.
  bool poll();
  // SIGKILLs the command's process group if it still runs, and reaps it.
  void kill();

  bool started() const { return pid_ > 0 || finished_; }
  bool finished() const { return finished_; }
  // Exit status; 128 + signal number when killed by a signal; -1 until finished.
  int exitCode() const { return exitCode_; }
  double seconds() const { return seconds_; }  // wall time it ran (so far)

 private:
  pid_t pid_ = -1;
  bool finished_ = false;
  int exitCode_ = -1;
  uint64_t startUs_ = 0;
  double seconds_ = 0;
};

}  // namespace xmesh::loadgen
