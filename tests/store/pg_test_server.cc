#include "tests/store/pg_test_server.h"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

namespace xmesh::store::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUser = "xmesh";
constexpr const char* kPassword = "xmesh-test-password";

// Debian installs each major version in /usr/lib/postgresql/<major>/bin; the newest
// wins. XMESH_PG_BINDIR overrides.
std::string findBinDir() {
  if (const char* env = std::getenv("XMESH_PG_BINDIR")) return env;
  std::string best;
  int bestMajor = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    std::string name = entry.path().filename().string();
    int major = std::atoi(name.c_str());
    fs::path bin = entry.path() / "bin";
    if (major > bestMajor && fs::exists(bin / "initdb") && fs::exists(bin / "postgres")) {
      bestMajor = major;
      best = bin.string();
    }
  }
  return best;
}

// Who runs the server: the postgres system user when we are root.
struct Identity {
  bool switchUser = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

Result<Identity> serverIdentity() {
  Identity id;
  if (geteuid() != 0) return id;
  struct passwd* pw = getpwnam("postgres");
  if (!pw) return Error{"setup", "running as root and there is no 'postgres' user to run the server as"};
  id.switchUser = true;
  id.uid = pw->pw_uid;
  id.gid = pw->pw_gid;
  return id;
}

// Starts argv[0] as `id`, output appended to `logPath`. Only async-signal-safe calls
// happen between fork and exec, so everything is prepared before the fork.
Result<pid_t> spawn(const std::vector<std::string>& args, const Identity& id, const std::string& logPath,
                    bool dieWithParent) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int log = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return Error{"setup", "cannot open " + logPath};
  pid_t pid = fork();
  if (pid < 0) {
    ::close(log);
    return Error{"setup", "fork failed"};
  }
  if (pid == 0) {
    dup2(log, 1);
    dup2(log, 2);
    if (id.switchUser && (setgroups(0, nullptr) != 0 || setgid(id.gid) != 0 || setuid(id.uid) != 0)) _exit(126);
    // After setuid: a credential change clears the parent-death signal.
    if (dieWithParent) prctl(PR_SET_PDEATHSIG, SIGQUIT);
    execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(log);
  return pid;
}

std::string tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};

}  // namespace

Result<PgTestServer*> PgTestServer::instance() {
  // Started once; the failure, too, is remembered, so every PG test reports it.
  static std::unique_ptr<PgTestServer> server;
  static Error startError;
  static bool tried = false;
  if (!tried) {
    tried = true;
    std::unique_ptr<PgTestServer> s(new PgTestServer());
    if (Status st = s->init(); st) {
      server = std::move(s);
    } else {
      startError = Error{st.error().reason, "PostgreSQL test server: " + st.error().detail};
    }
  }
  if (!server) return startError;
  return server.get();
}

Status PgTestServer::init() {
  binDir_ = findBinDir();
  if (binDir_.empty())
    return Status::fail("setup",
                        "no PostgreSQL server binaries (initdb, postgres) in /usr/lib/postgresql/*/bin; "
                        "scripts/install-deps installs the 'postgresql' package (or set XMESH_PG_BINDIR)");
  auto id = serverIdentity();
  if (!id) return Status::fail(id.error().reason, id.error().detail);
  std::string pwfile = dir_.file("pwfile");
  std::ofstream(pwfile) << kPassword << "\n";
  if (id->switchUser) {
    for (const std::string& p : {dir_.path(), pwfile})
      if (chown(p.c_str(), id->uid, id->gid) != 0) return Status::fail("setup", "cannot chown " + p);
  }
  std::vector<std::string> initdb{binDir_ + "/initdb", "-D", dir_.file("data"), "-U", kUser,
                                  "--pwfile=" + pwfile, "--auth-local=trust", "--auth-host=scram-sha-256",
                                  "-E", "UTF8", "--locale=C", "--no-sync"};
  std::string log = dir_.file("initdb.log");
  auto pid = spawn(initdb, id.value(), log, false);
  if (!pid) return Status::fail(pid.error().reason, pid.error().detail);
  int status = 0;
  waitpid(pid.value(), &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return Status::fail("setup", "initdb failed:\n" + tail(log));
  port_ = freePort();
  if (port_ == 0) return Status::fail("setup", "no free port on 127.0.0.1");
  return start();
}

Status PgTestServer::start() {
  auto id = serverIdentity();
  if (!id) return Status::fail(id.error().reason, id.error().detail);
  std::vector<std::string> args{binDir_ + "/postgres", "-D", dir_.file("data"), "-p", std::to_string(port_),
                                "-k", dir_.path(), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                                "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
                                "-c", "max_connections=60", "-c", "shared_buffers=32MB"};
  std::string log = dir_.file("server.log");
  auto pid = spawn(args, id.value(), log, true);
  if (!pid) return Status::fail(pid.error().reason, pid.error().detail);
  postmaster_ = pid.value();
  std::string ping = socketConninfo("postgres");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (PQping(ping.c_str()) != PQPING_OK) {
    int status = 0;
    if (waitpid(postmaster_, &status, WNOHANG) == postmaster_) {
      postmaster_ = -1;
      return Status::fail("setup", "postgres exited at start:\n" + tail(log));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      (void)stop();
      return Status::fail("setup", "postgres did not accept connections within 30 s:\n" + tail(log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::ok();
}

Status PgTestServer::stop() {
  if (postmaster_ < 0) return Status::ok();
  kill(postmaster_, SIGINT);  // fast shutdown: clients are disconnected, not waited for
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int status = 0;
  while (waitpid(postmaster_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(postmaster_, SIGKILL);
      waitpid(postmaster_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  postmaster_ = -1;
  return Status::ok();
}

PgTestServer::~PgTestServer() {
  if (postmaster_ >= 0) {
    kill(postmaster_, SIGQUIT);  // immediate: the data is thrown away anyway
    int status = 0;
    waitpid(postmaster_, &status, 0);
  }
}

Status PgTestServer::exec(const std::string& db, const std::string& sql) {
  std::unique_ptr<PGconn, ConnCloser> c(PQconnectdb(socketConninfo(db).c_str()));
  if (PQstatus(c.get()) != CONNECTION_OK) return Status::fail("io", PQerrorMessage(c.get()));
  std::unique_ptr<PGresult, ResultClearer> r(PQexec(c.get(), sql.c_str()));
  ExecStatusType st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Status::fail("io", PQresultErrorMessage(r.get()));
  return Status::ok();
}

Result<std::string> PgTestServer::queryValue(const std::string& db, const std::string& sql) {
  std::unique_ptr<PGconn, ConnCloser> c(PQconnectdb(socketConninfo(db).c_str()));
  if (PQstatus(c.get()) != CONNECTION_OK) return Error{"io", PQerrorMessage(c.get())};
  std::unique_ptr<PGresult, ResultClearer> r(PQexec(c.get(), sql.c_str()));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return Error{"io", PQresultErrorMessage(r.get())};
  if (PQntuples(r.get()) < 1) return Error{"io", "no rows: " + sql};
  return std::string(PQgetvalue(r.get(), 0, 0));
}

Result<std::string> PgTestServer::createDatabase() {
  std::string name = "xt" + std::to_string(getpid()) + "_" + std::to_string(nextDb_++);
  // FILE_COPY: with fsync off, copying template0's files beats WAL-logging each page.
  if (Status s = exec("postgres", "CREATE DATABASE " + name + " TEMPLATE template0 STRATEGY FILE_COPY"); !s)
    return s.error();
  return name;
}

void PgTestServer::dropDatabase(const std::string& name) {
  (void)exec("postgres", "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
}

std::string PgTestServer::tcpConninfo(const std::string& db) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=" + kUser + " password=" + kPassword +
         " dbname=" + db;
}

std::string PgTestServer::socketConninfo(const std::string& db) const {
  return "host=" + dir_.path() + " port=" + std::to_string(port_) + " user=" + kUser + " dbname=" + db;
}

}  // namespace xmesh::store::testing
