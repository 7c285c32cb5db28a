// The mesh subcommands through the real xmeshctl binary: topology check/show (with a
// fake admin endpoint and a node that is down), home assign, cert ca/node.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "sasl/credentials.h"
#include "tests/ctl/ctl_runner.h"
#include "store/sqlite_store.h"

namespace xmesh::ctl {
namespace {

using testing::CtlRun;
using testing::quote;
using testing::slurp;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A one-connection-at-a-time HTTP server on 127.0.0.1:<ephemeral> answering every
// request with `body` as JSON, until destroyed.
class FakeAdmin {
 public:
  explicit FakeAdmin(std::string body) : body_(std::move(body)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeAdmin() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  void serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[1024];
      while (!contains(req, "\r\n\r\n")) {
        ssize_t n = ::recv(c, buf, sizeof(buf), 0);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_;
      ssize_t sent = ::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      (void)sent;
      ::close(c);
    }
  }

  std::string body_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A port on 127.0.0.1 with nothing listening (bound then closed).
int closedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class MeshCtlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "xmeshctl-mesh-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = dir_ + "/xmesh.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  CtlRun ctl(const std::vector<std::string>& args) {
    std::string cmd = quote(XMESHCTL_PATH);
    for (const auto& a : args) cmd += " " + quote(a);
    std::string out = dir_ + "/stdout", err = dir_ + "/stderr";
    int status = std::system((cmd + " </dev/null >" + quote(out) + " 2>" + quote(err)).c_str());
    CtlRun r;
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  // Two clusters: c1 = {n1, n2} (HA pair) + {n3}, c2 = {m1, m2} (HA pair).
  std::string topology(const std::string& extra = "", int n1Admin = 19400, int n2Admin = 19401) {
    return write("mesh.toml", "domain = \"example.com\"\n" + extra +
                                  "[[clusters]]\nid = \"c1\"\n"
                                  "[[clusters.nodes]]\nid = \"n1\"\nhost = \"127.0.0.1\"\nc2s_port = 15222\n"
                                  "r2r_port = 17400\nadmin_port = " + std::to_string(n1Admin) + "\n"
                                  "[[clusters.nodes]]\nid = \"n2\"\nhost = \"127.0.0.1\"\nc2s_port = 15223\n"
                                  "r2r_port = 17401\nadmin_port = " + std::to_string(n2Admin) + "\n"
                                  "[[clusters.nodes]]\nid = \"n3\"\nhost = \"n3.example.com\"\nadmin_port = 0\n"
                                  "[[clusters.groups]]\nid = \"p1\"\nnodes = [\"n1\", \"n2\"]\n"
                                  "[[clusters.groups]]\nid = \"p2\"\nnodes = [\"n3\"]\n"
                                  "[[clusters]]\nid = \"c2\"\n"
                                  "[[clusters.nodes]]\nid = \"m1\"\nhost = \"10.9.0.1\"\n"
                                  "[[clusters.nodes]]\nid = \"m2\"\nhost = \"10.9.0.2\"\n"
                                  "[[clusters.groups]]\nid = \"q1\"\nnodes = [\"m1\", \"m2\"]\n");
  }

  void addUsers(size_t count, const std::string& home = "") {
    store::SqliteOptions o;
    o.path = db_;
    auto st = store::openSqlite(o);
    ASSERT_TRUE(st.isOk());
    static const sasl::StoredSecrets secrets = sasl::deriveStoredSecrets("pw", sasl::randomBytes(16), 4096);
    for (size_t i = 0; i < count; ++i) {
      store::UserRecord r;
      r.secrets = secrets;
      r.username = "u" + std::to_string(users_++);
      r.homeNode = home;
      ASSERT_TRUE(st.value()->addUser(r).isOk());
    }
  }

  std::map<std::string, size_t> homes() {
    store::SqliteOptions o;
    o.path = db_;
    auto st = store::openSqlite(o);
    std::map<std::string, size_t> out;
    auto names = st.value()->listUsers(100000, "");
    for (const auto& n : names.value()) ++out[st.value()->getUser(n).value().value().homeNode];
    return out;
  }

  std::string dir_, db_;
  size_t users_ = 0;
};

TEST_F(MeshCtlTest, TopologyCheckPrintsSummary) {
  std::string file = topology("[security]\nsecure = false\n");
  CtlRun r = ctl({"topology", "check", file});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(contains(r.out, ": ok")) << r.out;
  EXPECT_TRUE(contains(r.out, "mesh: 2 clusters, 5 nodes, 3 groups (2 HA), 10 r2r links")) << r.out;
  EXPECT_TRUE(contains(r.out, "security: OFF")) << r.out;
  EXPECT_TRUE(contains(r.out, "srm: heartbeat 15s, timeout 60s, init timeout 120s")) << r.out;
  EXPECT_TRUE(contains(r.out, "cluster c1: 3 nodes, assignment balanced; groups: p1 [n1, n2] ha; p2 [n3];")) << r.out;
  EXPECT_FALSE(contains(r.out, "warning"));
}

TEST_F(MeshCtlTest, TopologyCheckWarnsAboutMissingCertificates) {
  CtlRun r = ctl({"topology", "check", topology()});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "warning: CA file missing: " + dir_ + "/certs/ca.pem")) << r.out;
  EXPECT_TRUE(contains(r.out, "warning: node m2: missing " + dir_ + "/certs/m2.key")) << r.out;
}

TEST_F(MeshCtlTest, TopologyCheckRejectsWithOneLineNamingTheEntry) {
  std::string file = write("bad.toml", "domain = \"example.com\"\n[[clusters]]\nid = \"c1\"\n"
                                       "[[clusters.nodes]]\nid = \"a\"\nhost = \"10.0.0.1\"\n"
                                       "[[clusters.groups]]\nid = \"g\"\nnodes = [\"a\", \"b\", \"c\"]\n");
  CtlRun r = ctl({"topology", "check", file});
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_TRUE(contains(r.err, "xmeshctl: topology-invalid: " + file + ": ")) << r.err;
  EXPECT_TRUE(contains(r.err, "cluster 'c1' group 'g' has 3 nodes, at most 2 per presence redundancy group")) << r.err;
  EXPECT_TRUE(contains(r.err, "cluster 'c1' group 'g': unknown node 'b'")) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
}

TEST_F(MeshCtlTest, TopologyShowListsClustersGroupsNodes) {
  CtlRun r = ctl({"topology", "show", topology()});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "cluster c1 (assignment balanced)\n  group p1 (ha)\n    n1  host 127.0.0.1  "
                              "c2s 127.0.0.1:15222  r2r 127.0.0.1:17400  admin 127.0.0.1:19400  dials 2, accepts 2"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "  group p2\n    n3  host n3.example.com")) << r.out;
  EXPECT_TRUE(contains(r.out, "admin off")) << r.out;
  EXPECT_FALSE(contains(r.out, "status:"));
}

TEST_F(MeshCtlTest, TopologyShowAdminQueriesNodesAndToleratesDownOnes) {
  FakeAdmin up(R"({"node":"n1","sessions":{"active":7,"inactive":3},"connections":10,)"
               R"("srm":{"state":"Normal","reason":""}})");
  FakeAdmin impostor(R"({"node":"zz"})");
  std::string file = topology("", up.port(), impostor.port());
  CtlRun r = ctl({"topology", "show", file, "--admin", "--timeout-ms", "500"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "status: up, srm Normal, sessions 7 active / 3 inactive, 10 connections")) << r.out;
  EXPECT_TRUE(contains(r.out, "status: WRONG NODE (answers as 'zz')")) << r.out;
  EXPECT_TRUE(contains(r.out, "status: admin endpoint off")) << r.out;  // n3
  // m1, m2 at 10.9.0.x: whatever answers there (nothing, or a proxy) is reported, not fatal.

  std::string down = topology("", closedPort(), closedPort());
  r = ctl({"topology", "show", down, "--admin", "--timeout-ms", "300"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "status: down (unreachable: Connection refused)")) << r.out;
}

TEST_F(MeshCtlTest, HomeAssignBalancedWithinCluster) {
  addUsers(9);
  addUsers(1, "n3");
  std::string file = topology();
  CtlRun r = ctl({"--db", db_, "home", "assign", "--topology", file, "--cluster", "c1"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "assigned 9 of 10 users in cluster c1")) << r.out;
  EXPECT_TRUE(contains(r.out, "  n3  +2  total 3")) << r.out;
  EXPECT_TRUE(contains(r.out, "kept 1 existing homes")) << r.out;
  EXPECT_FALSE(contains(r.out, "cluster c2")) << r.out;
  auto h = homes();
  EXPECT_EQ(h["n1"], 4u);
  EXPECT_EQ(h["n2"], 3u);
  EXPECT_EQ(h["n3"], 3u);
  // Stable: a second run with new users moves nobody.
  addUsers(2);
  r = ctl({"--db", db_, "home", "assign", "--topology", file, "--cluster", "c1"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "assigned 2 of 12 users")) << r.out;
  h = homes();
  EXPECT_EQ(h["n1"], 4u);
  EXPECT_EQ(h["n2"], 4u);
  EXPECT_EQ(h["n3"], 4u);
}

TEST_F(MeshCtlTest, HomeAssignWholeMeshAndActiveStandby) {
  addUsers(10);
  std::string file = topology("assignment = \"active-standby\"\n");
  CtlRun r = ctl({"--db", db_, "home", "assign", "--topology", file, "--dry-run"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "would assign 10 of 10 users in the mesh")) << r.out;
  EXPECT_EQ(homes()[""], 10u);  // dry run changed nothing
  r = ctl({"--db", db_, "home", "assign", "--topology", file});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  auto h = homes();  // actives: n1, n3, m1
  EXPECT_EQ(h["n1"], 4u);
  EXPECT_EQ(h["n3"], 3u);
  EXPECT_EQ(h["m1"], 3u);
  EXPECT_EQ(h.count("n2"), 0u);
  EXPECT_EQ(h.count("m2"), 0u);
}

TEST_F(MeshCtlTest, HomeAssignRefusedWhileANodeIsFailedOver) {
  addUsers(3);
  std::string file = topology();
  CtlRun r = ctl({"--db", db_, "home", "assign", "--topology", file, "--cluster", "c1", "--failed-over", "n2"});
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_TRUE(contains(r.err, "xmeshctl: failed-over: cluster 'c1': node 'n2' is failed over; users cannot be added"))
      << r.err;
  EXPECT_EQ(homes()[""], 3u);
  r = ctl({"--db", db_, "home", "assign", "--topology", file, "--cluster", "c1", "--failed-over", "m1"});
  EXPECT_EQ(r.exitCode, 0) << r.err;  // another cluster's failover does not block c1
  r = ctl({"--db", db_, "home", "assign", "--topology", file, "--failed-over", "nope"});
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_TRUE(contains(r.err, "unknown-node")) << r.err;
  r = ctl({"--db", db_, "home", "assign", "--topology", file, "--cluster", "c9"});
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_TRUE(contains(r.err, "unknown-cluster: no cluster 'c9'")) << r.err;
}

TEST_F(MeshCtlTest, HomeAssignModeNoneLeavesUsersAlone) {
  addUsers(2);
  CtlRun r = ctl({"--db", db_, "home", "assign", "--topology", topology("assignment = \"none\"\n")});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "2 users left unassigned (assignment mode none")) << r.out;
  EXPECT_EQ(homes()[""], 2u);
}

// Reads a PEM certificate.
bssl::UniquePtr<X509> readCert(const std::string& path) {
  bssl::UniquePtr<BIO> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return nullptr;
  return bssl::UniquePtr<X509>(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::string commonName(X509* cert) {
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
  return cn;
}

std::vector<std::string> dnsSans(X509* cert) {
  std::vector<std::string> out;
  bssl::UniquePtr<GENERAL_NAMES> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (size_t i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
    if (n->type == GEN_DNS)
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                       static_cast<size_t>(ASN1_STRING_length(n->d.dNSName)));
  }
  return out;
}

mode_t modeOf(const std::string& path) {
  struct stat st{};
  ::stat(path.c_str(), &st);
  return st.st_mode & 0777;
}

TEST_F(MeshCtlTest, CertCaAndNodeCertificates) {
  std::string file = topology();
  std::string certs = dir_ + "/certs";
  CtlRun r = ctl({"cert", "ca", "--out", certs});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(modeOf(certs + "/ca.key"), 0600u);
  // A second CA would orphan every node certificate: refused without --force.
  r = ctl({"cert", "ca", "--out", certs});
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_TRUE(contains(r.err, "xmeshctl: exists:")) << r.err;

  r = ctl({"cert", "node", "--ca", certs, "--topology", file, "--out", certs});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "5 node certificates")) << r.out;
  EXPECT_FALSE(contains(r.out, "note:")) << r.out;  // written where the topology expects them

  bssl::UniquePtr<X509> ca = readCert(certs + "/ca.pem");
  ASSERT_TRUE(ca);
  bssl::UniquePtr<EVP_PKEY> caKey(X509_get_pubkey(ca.get()));
  for (const char* id : {"n1", "n2", "n3", "m1", "m2"}) {
    std::string base = certs + "/" + id;
    bssl::UniquePtr<X509> c = readCert(base + ".pem");
    ASSERT_TRUE(c) << id;
    EXPECT_EQ(commonName(c.get()), id);
    EXPECT_EQ(X509_verify(c.get(), caKey.get()), 1) << id << " not signed by the CA";
    EXPECT_EQ(modeOf(base + ".key"), 0600u) << id;
    std::vector<std::string> sans = dnsSans(c.get());
    EXPECT_EQ(sans.front(), id);
    std::string host = std::string(id) == "n3" ? "n3.example.com" : id[0] == 'n' ? "127.0.0.1" : "";
    if (!host.empty()) {
      EXPECT_NE(std::find(sans.begin(), sans.end(), host), sans.end()) << id;
    }
  }
  // Now that the files exist, check has nothing to warn about.
  r = ctl({"topology", "check", file});
  EXPECT_FALSE(contains(r.out, "warning")) << r.out;

  r = ctl({"cert", "node", "--ca", certs, "--topology", file, "--out", dir_ + "/one", "--node", "m2"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "1 node certificates")) << r.out;
  EXPECT_TRUE(contains(r.out, "[note: the topology expects " + certs + "/m2.pem]")) << r.out;
  r = ctl({"cert", "node", "--ca", dir_ + "/nothing", "--topology", file, "--out", certs});
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_TRUE(contains(r.err, "cert-invalid: no CA in")) << r.err;
}

}  // namespace
}  // namespace xmesh::ctl
