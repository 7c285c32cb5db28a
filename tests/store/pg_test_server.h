// A private PostgreSQL server for the store tests: initdb into a temporary directory,
// a postmaster listening on a free port of 127.0.0.1 and on a unix socket in that
// directory, stopped and removed when the test binary exits. Run as the `postgres`
// system user when the tests run as root (initdb refuses root).
//
// Speed over durability: fsync, full_page_writes and synchronous_commit are off.
// TCP logins use SCRAM-SHA-256 with a password (libpq's SCRAM code then runs next to
// BoringSSL, as in xmeshd); unix-socket logins are trusted.
#pragma once
#include <sys/types.h>

#include <string>

#include "core/status.h"
#include "tests/store/test_backend.h"

namespace xmesh::store::testing {

class PgTestServer {
 public:
  // The process-wide server, started on the first call. Call it from the main thread
  // (the postmaster is tied to the thread that starts it: it exits when that thread
  // does, so a crashed test binary leaves no server behind). Fails with a message
  // saying what is missing when PostgreSQL is not installed or does not start.
  static Result<PgTestServer*> instance();

  ~PgTestServer();
  PgTestServer(const PgTestServer&) = delete;
  PgTestServer& operator=(const PgTestServer&) = delete;

  // A fresh, empty database; its name.
  Result<std::string> createDatabase();
  void dropDatabase(const std::string& name);
  // Runs SQL in `db` over the unix socket (trusted), e.g. to tamper with the schema.
  Status exec(const std::string& db, const std::string& sql);
  // The first column of the first row of a query's result, as text.
  Result<std::string> queryValue(const std::string& db, const std::string& sql);

  std::string tcpConninfo(const std::string& db) const;     // key=value, with password
  std::string socketConninfo(const std::string& db) const;  // key=value, host = socket dir
  int port() const { return port_; }

  // Fast shutdown (clients are disconnected) and start again on the same port and
  // data, for the connection-loss tests.
  Status stop();
  Status start();

 private:
  PgTestServer() = default;
  Status init();

  TempDir dir_;
  std::string binDir_;
  int port_ = 0;
  pid_t postmaster_ = -1;
  int nextDb_ = 0;
};

}  // namespace xmesh::store::testing
