// Runs the real xmeshctl binary and checks its effects through openSqlite.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sasl/credentials.h"
#include "tests/ctl/ctl_runner.h"
#include "store/sqlite_store.h"

namespace xmesh::ctl {
namespace {

using testing::CtlRun;
using testing::quote;
using testing::slurp;

class XmeshctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "xmeshctl-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = dir_ + "/xmesh.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs xmeshctl --db <db> args..., optionally feeding stdin.
  CtlRun ctl(const std::vector<std::string>& args, const std::string& input = {}) {
    std::string cmd = quote(XMESHCTL_PATH) + " --db " + quote(db_) + " --domain example.com";
    for (const auto& a : args) cmd += " " + quote(a);
    std::string in = dir_ + "/stdin", out = dir_ + "/stdout", err = dir_ + "/stderr";
    std::ofstream(in) << input;
    int status = std::system((cmd + " <" + quote(in) + " >" + quote(out) + " 2>" + quote(err)).c_str());
    CtlRun r;
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  store::StorePtr open() {
    store::SqliteOptions o;
    o.path = db_;
    auto s = store::openSqlite(o);
    EXPECT_TRUE(s.isOk());
    return s.isOk() ? std::move(s.value()) : nullptr;
  }

  std::string dir_, db_;
};

TEST_F(XmeshctlTest, AddPasswdShowRemove) {
  CtlRun add = ctl({"user", "add", "Alice", "--password", "first"});
  ASSERT_EQ(add.exitCode, 0) << add.err;
  {
    auto st = open();
    auto u = st->getUser("alice");  // nodeprepped on the way in
    ASSERT_TRUE(u.isOk() && u.value());
    EXPECT_TRUE(sasl::verifyPassword(u.value()->secrets.sha256, "first"));
    EXPECT_EQ(u.value()->secrets.sha1.iterations, 4096u);
  }
  CtlRun passwd = ctl({"user", "passwd", "alice", "--password", "-", "--iterations", "5000"}, "second\n");
  ASSERT_EQ(passwd.exitCode, 0) << passwd.err;
  std::string storedKeyB64;
  {
    auto st = open();
    auto u = st->getUser("alice");
    EXPECT_TRUE(sasl::verifyPassword(u.value()->secrets.sha1, "second"));
    EXPECT_FALSE(sasl::verifyPassword(u.value()->secrets.sha1, "first"));
    EXPECT_EQ(u.value()->secrets.sha256.iterations, 5000u);
    storedKeyB64 = sasl::base64Encode(u.value()->secrets.sha256.storedKey);
  }
  CtlRun show = ctl({"user", "show", "alice"});
  ASSERT_EQ(show.exitCode, 0) << show.err;
  EXPECT_NE(show.out.find("alice"), std::string::npos);
  EXPECT_EQ(show.out.find(storedKeyB64), std::string::npos);  // never prints secrets
  EXPECT_EQ(show.out.find("scram1:"), std::string::npos);

  CtlRun count = ctl({"user", "count"});
  EXPECT_EQ(count.out, "1\n");
  CtlRun remove = ctl({"user", "remove", "alice"});
  ASSERT_EQ(remove.exitCode, 0) << remove.err;
  EXPECT_FALSE(open()->getUser("alice").value().has_value());
}

TEST_F(XmeshctlTest, FailuresExitTwoWithOneLine) {
  ASSERT_EQ(ctl({"user", "add", "bob", "--password", "pw"}).exitCode, 0);
  CtlRun again = ctl({"user", "add", "bob", "--password", "pw"});
  EXPECT_EQ(again.exitCode, 2);
  EXPECT_NE(again.err.find("exists"), std::string::npos);
  EXPECT_EQ(std::count(again.err.begin(), again.err.end(), '\n'), 1);
  EXPECT_EQ(ctl({"user", "remove", "nobody"}).exitCode, 2);
  EXPECT_EQ(ctl({"user", "show", "nobody"}).exitCode, 2);
}

TEST_F(XmeshctlTest, UsageErrorsExitOne) {
  EXPECT_EQ(ctl({"user", "frobnicate"}).exitCode, 1);
  EXPECT_EQ(ctl({"user", "add", "bob"}).exitCode, 1);  // --password missing
  EXPECT_EQ(ctl({"user", "add", "bob", "--password", "pw", "--iterations", "10"}).exitCode, 1);
  EXPECT_EQ(ctl({"--help"}).exitCode, 0);
}

TEST_F(XmeshctlTest, ListAndHome) {
  for (const char* n : {"carol", "alice", "bob"}) ASSERT_EQ(ctl({"user", "add", n, "--password", "pw"}).exitCode, 0);
  EXPECT_EQ(ctl({"user", "list"}).out, "alice\nbob\ncarol\n");
  ASSERT_EQ(ctl({"user", "home", "bob", "node2"}).exitCode, 0);
  EXPECT_EQ(open()->getUser("bob").value()->homeNode, "node2");
  EXPECT_NE(ctl({"user", "show", "bob"}).out.find("home-node: node2"), std::string::npos);
}

TEST_F(XmeshctlTest, ImportsGeneratedPopulation) {
  std::string csv = dir_ + "/pop.csv";
  CtlRun gen = ctl({"gen-csv", "--users", "30", "--contacts", "5", "--out", csv, "--domain", "example.com"});
  ASSERT_EQ(gen.exitCode, 0) << gen.err;
  CtlRun imp = ctl({"import", csv, "--threads", "2"});
  ASSERT_EQ(imp.exitCode, 0) << imp.err;
  EXPECT_NE(imp.out.find("imported 30 users, 150 roster rows"), std::string::npos) << imp.out;

  auto st = open();
  EXPECT_EQ(st->countUsers().value(), 30u);
  auto u = st->getUser("u07");
  ASSERT_TRUE(u.isOk() && u.value());
  EXPECT_TRUE(sasl::verifyPassword(u.value()->secrets.sha256, "pw-u07"));
  // Symmetric: every contact lists the user back, as Both.
  for (int i = 0; i < 30; ++i) {
    std::string name = (i < 10 ? "u0" : "u") + std::to_string(i);
    auto roster = st->getRoster(name);
    ASSERT_EQ(roster->size(), 5u) << name;
    for (const auto& item : *roster) {
      EXPECT_EQ(item.sub, store::Sub::Both);
      std::string contact = item.contact.substr(0, item.contact.find('@'));
      auto back = st->getRoster(contact);
      EXPECT_EQ(std::count_if(back->begin(), back->end(),
                              [&](const store::RosterItem& b) { return b.contact == name + "@example.com"; }),
                1)
          << name << " <-> " << contact;
    }
  }
  // Importing the same file again changes nothing but the secrets.
  ASSERT_EQ(ctl({"import", csv}).exitCode, 0);
  EXPECT_EQ(open()->getRoster("u00")->size(), 5u);
}

TEST_F(XmeshctlTest, ImportsHandWrittenFileWithPlainSecrets) {
  std::string csv = dir_ + "/users.csv";
  std::string scram = sasl::formatStoredSecrets(sasl::deriveStoredSecrets("bobpw", "0123456789abcdef", 4096));
  std::ofstream(csv) << "# users for the pilot\r\n"
                     << "alice,plain:alice,pw,bob@example.com;carol@example.com\r\n"
                     << "\n"
                     << "bob," << scram << ",alice@example.com\n"
                     << "Carol,plain:carolpw,Alice@EXAMPLE.com\n";
  CtlRun imp = ctl({"import", csv});
  ASSERT_EQ(imp.exitCode, 0) << imp.err;
  auto st = open();
  EXPECT_TRUE(sasl::verifyPassword(st->getUser("alice").value()->secrets.sha256, "alice,pw"));
  EXPECT_TRUE(sasl::verifyPassword(st->getUser("bob").value()->secrets.sha1, "bobpw"));
  EXPECT_TRUE(sasl::verifyPassword(st->getUser("carol").value()->secrets.sha1, "carolpw"));
  EXPECT_EQ(st->getRoster("alice")->size(), 2u);
  EXPECT_EQ(st->getRoster("carol")->front().contact, "alice@example.com");
}

TEST_F(XmeshctlTest, ImportStopsAtBadLineAndNamesIt) {
  std::string csv = dir_ + "/bad.csv";
  std::ofstream(csv) << "alice,plain:pw,bob@example.com\n"
                     << "bob,sha1:nope,alice@example.com\n";
  CtlRun imp = ctl({"import", csv});
  EXPECT_EQ(imp.exitCode, 2);
  EXPECT_NE(imp.err.find("line 2"), std::string::npos) << imp.err;
}


// The 4th CSV column lands in UserRecord.homeNode; an empty one keeps an existing home.
TEST_F(XmeshctlTest, ImportsHomeColumn) {
  std::string csv = dir_ + "/homes.csv";
  std::ofstream(csv) << "alice,plain:pw,bob@example.com,a1\n"
                     << "bob,plain:pw,alice@example.com;carol@example.com,b2\n"
                     << "carol,plain:pw,bob@example.com\n"
                     << "dave,plain:p,w,,\n";
  CtlRun imp = ctl({"import", csv});
  ASSERT_EQ(imp.exitCode, 0) << imp.err;
  EXPECT_NE(imp.out.find("imported 4 users, 4 roster rows"), std::string::npos) << imp.out;
  EXPECT_NE(imp.out.find("2 with a home node"), std::string::npos) << imp.out;
  {
    auto st = open();
    EXPECT_EQ(st->getUser("alice").value()->homeNode, "a1");
    EXPECT_EQ(st->getUser("bob").value()->homeNode, "b2");
    EXPECT_EQ(st->getUser("carol").value()->homeNode, "");
    EXPECT_EQ(st->getUser("dave").value()->homeNode, "");
    EXPECT_TRUE(sasl::verifyPassword(st->getUser("dave").value()->secrets.sha1, "p,w"));
    EXPECT_EQ(st->getRoster("bob")->size(), 2u);
  }
  // Re-import: a named home replaces, an absent one keeps what the store has.
  ASSERT_EQ(ctl({"user", "home", "carol", "a2"}).exitCode, 0);
  std::ofstream(csv) << "alice,plain:pw,bob@example.com,b1\n"
                     << "carol,plain:pw,bob@example.com\n";
  ASSERT_EQ(ctl({"import", csv}).exitCode, 0);
  auto st = open();
  EXPECT_EQ(st->getUser("alice").value()->homeNode, "b1");
  EXPECT_EQ(st->getUser("carol").value()->homeNode, "a2");
}

TEST_F(XmeshctlTest, ImportRefusesBadHome) {
  std::string csv = dir_ + "/badhome.csv";
  std::ofstream(csv) << "alice,plain:pw,bob@example.com,a1\n"
                     << "bob,plain:pw,alice@example.com,Node_2\n";
  CtlRun imp = ctl({"import", csv});
  EXPECT_EQ(imp.exitCode, 2);
  EXPECT_NE(imp.err.find("line 2"), std::string::npos) << imp.err;
  EXPECT_NE(imp.err.find("home"), std::string::npos) << imp.err;
}

}  // namespace
}  // namespace xmesh::ctl
