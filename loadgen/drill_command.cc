#include "loadgen/drill_command.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace xmesh::loadgen {
namespace {

uint64_t monotonicUs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

}  // namespace

DrillCommand::~DrillCommand() { kill(); }

Status DrillCommand::start(const std::string& command, const std::string& logPath) {
  if (started()) return Status::fail("drill-command", "already started");
  int log = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return Status::fail("drill-command", "cannot open " + logPath);
  startUs_ = monotonicUs();
  pid_t pid = fork();
  if (pid < 0) {
    ::close(log);
    return Status::fail("drill-command", "fork failed");
  }
  if (pid == 0) {
    setpgid(0, 0);  // its own group: kill() reaches what the shell started too
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(log);
  setpgid(pid, pid);  // also from the parent: no race with kill()
  pid_ = pid;
  return Status::ok();
}

bool DrillCommand::poll() {
  if (finished_ || pid_ <= 0) return finished_;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  seconds_ = static_cast<double>(monotonicUs() - startUs_) / 1e6;
  if (r != pid_) return false;
  finished_ = true;
  pid_ = -1;
  exitCode_ = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
  return true;
}

void DrillCommand::kill() {
  if (finished_ || pid_ <= 0) return;
  if (poll()) return;
  ::kill(-pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  seconds_ = static_cast<double>(monotonicUs() - startUs_) / 1e6;
  finished_ = true;
  pid_ = -1;
  exitCode_ = 128 + SIGKILL;
}

}  // namespace xmesh::loadgen
