// One test per kind of CSV line the importer must accept or refuse.
#include <gtest/gtest.h>

#include "ctl/csv_import.h"
#include "sasl/credentials.h"

namespace xmesh::ctl {
namespace {

std::string scram1(std::string_view password) {
  return sasl::formatStoredSecrets(sasl::deriveStoredSecrets(password, "saltsaltsalt", 4096));
}

TEST(CsvLine, Scram1SecretAndContactsSortedAsBoth) {
  auto r = parseCsvLine("alice," + scram1("pw") + ",carol@example.com;bob@example.com", 4096);
  ASSERT_TRUE(r.isOk()) << r.error().detail;
  EXPECT_EQ(r->user.username, "alice");
  EXPECT_TRUE(sasl::verifyPassword(r->user.secrets.sha256, "pw"));
  ASSERT_EQ(r->roster.size(), 2u);
  EXPECT_EQ(r->roster[0].contact, "bob@example.com");
  EXPECT_EQ(r->roster[1].contact, "carol@example.com");
  EXPECT_EQ(r->roster[0].sub, store::Sub::Both);
}

TEST(CsvLine, PlainSecretIsDerivedWithFreshSalt) {
  auto a = parseCsvLine("alice,plain:secret,", 4096);
  auto b = parseCsvLine("alice,plain:secret,", 4096);
  ASSERT_TRUE(a.isOk() && b.isOk());
  EXPECT_TRUE(sasl::verifyPassword(a->user.secrets.sha1, "secret"));
  EXPECT_TRUE(sasl::verifyPassword(a->user.secrets.sha256, "secret"));
  EXPECT_NE(a->user.secrets.sha256.salt, b->user.secrets.sha256.salt);
  EXPECT_TRUE(a->roster.empty());
}

TEST(CsvLine, PlainPasswordMayContainCommas) {
  auto r = parseCsvLine("alice,plain:a,b,c,bob@example.com", 4096);
  ASSERT_TRUE(r.isOk());
  EXPECT_TRUE(sasl::verifyPassword(r->user.secrets.sha256, "a,b,c"));
  ASSERT_EQ(r->roster.size(), 1u);
}

TEST(CsvLine, NamesArePrepared) {
  auto r = parseCsvLine("Alice,plain:pw,Bob@Example.COM;;", 4096);
  ASSERT_TRUE(r.isOk()) << r.error().detail;
  EXPECT_EQ(r->user.username, "alice");
  ASSERT_EQ(r->roster.size(), 1u);  // empty entries between ';' are skipped
  EXPECT_EQ(r->roster[0].contact, "bob@example.com");
}

TEST(CsvLine, RejectsMissingFields) {
  EXPECT_EQ(parseCsvLine("alice", 4096).error().reason, "bad-line");
  EXPECT_EQ(parseCsvLine("alice,plain:pw", 4096).error().reason, "bad-line");
}

TEST(CsvLine, RejectsUnknownSecretScheme) {
  EXPECT_EQ(parseCsvLine("alice,md5:abc,", 4096).error().reason, "bad-line");
  EXPECT_EQ(parseCsvLine("alice,plain:,", 4096).error().reason, "bad-line");
  EXPECT_EQ(parseCsvLine("alice,scram1:4096:!!,", 4096).error().reason, "bad-line");
}

TEST(CsvLine, RejectsBadUsernameAndContacts) {
  EXPECT_EQ(parseCsvLine("al ice,plain:pw,", 4096).error().reason, "bad-line");
  EXPECT_EQ(parseCsvLine(",plain:pw,", 4096).error().reason, "bad-line");
  EXPECT_EQ(parseCsvLine("alice,plain:pw,bob@example.com/phone", 4096).error().reason, "bad-line");
  EXPECT_EQ(parseCsvLine("alice,plain:pw,example.com", 4096).error().reason, "bad-line");
  EXPECT_EQ(parseCsvLine("alice,plain:pw,bob", 4096).error().reason, "bad-line");
}


// The optional 4th column: a home node id, told apart from contacts by the '@' rule.
TEST(CsvLine, HomeColumnSetsHomeNode) {
  auto r = parseCsvLine("alice," + scram1("pw") + ",bob@example.com;carol@example.com,a1", 4096);
  ASSERT_TRUE(r.isOk()) << r.error().detail;
  EXPECT_EQ(r->user.homeNode, "a1");
  EXPECT_EQ(r->roster.size(), 2u);
  auto noContacts = parseCsvLine("alice,plain:pw,,east-2.b", 4096);
  ASSERT_TRUE(noContacts.isOk()) << noContacts.error().detail;
  EXPECT_EQ(noContacts->user.homeNode, "east-2.b");
  EXPECT_TRUE(noContacts->roster.empty());
  EXPECT_TRUE(sasl::verifyPassword(noContacts->user.secrets.sha1, "pw"));
}

TEST(CsvLine, EmptyHomeColumnLeavesUserUnassigned) {
  auto r = parseCsvLine("alice,plain:pw,bob@example.com,", 4096);
  ASSERT_TRUE(r.isOk()) << r.error().detail;
  EXPECT_EQ(r->user.homeNode, "");
  ASSERT_EQ(r->roster.size(), 1u);
  EXPECT_TRUE(sasl::verifyPassword(r->user.secrets.sha1, "pw"));
}

TEST(CsvLine, ThreeColumnLinesKeepTheirMeaning) {
  // Passwords with commas, with and without contacts, still read as 3 columns.
  auto a = parseCsvLine("alice,plain:a,b,c,", 4096);
  ASSERT_TRUE(a.isOk()) << a.error().detail;
  EXPECT_TRUE(sasl::verifyPassword(a->user.secrets.sha1, "a,b,c"));
  EXPECT_EQ(a->user.homeNode, "");
  auto b = parseCsvLine("alice,plain:a,b,bob@example.com", 4096);
  ASSERT_TRUE(b.isOk()) << b.error().detail;
  EXPECT_TRUE(sasl::verifyPassword(b->user.secrets.sha1, "a,b"));
  EXPECT_EQ(b->user.homeNode, "");
  // With the home column, even empty, a password with commas is unambiguous.
  auto c = parseCsvLine("alice,plain:pa,ss,,", 4096);
  ASSERT_TRUE(c.isOk()) << c.error().detail;
  EXPECT_TRUE(sasl::verifyPassword(c->user.secrets.sha1, "pa,ss"));
  auto d = parseCsvLine("alice,plain:p,@ss,bob@example.com,n1", 4096);
  ASSERT_TRUE(d.isOk()) << d.error().detail;
  EXPECT_TRUE(sasl::verifyPassword(d->user.secrets.sha1, "p,@ss"));
  EXPECT_EQ(d->user.homeNode, "n1");
}

TEST(CsvLine, SplitFindsFieldsFromTheRight) {
  auto f = splitCsvFields("u,plain:x,y,,n1");
  ASSERT_TRUE(f.isOk());
  EXPECT_EQ(f->username, "u");
  EXPECT_EQ(f->secret, "plain:x,y");
  EXPECT_EQ(f->contacts, "");
  EXPECT_EQ(f->home, "n1");
  EXPECT_TRUE(f->hasHome);
  auto g = splitCsvFields("u,plain:x,a@b;c@d");
  ASSERT_TRUE(g.isOk());
  EXPECT_EQ(g->secret, "plain:x");
  EXPECT_EQ(g->contacts, "a@b;c@d");
  EXPECT_FALSE(g->hasHome);
}

TEST(CsvLine, RejectsBadHome) {
  EXPECT_EQ(parseCsvLine("alice,plain:pw,bob@example.com,A1", 4096).error().reason, "bad-line");
  EXPECT_EQ(parseCsvLine("alice,plain:pw,,-x", 4096).error().reason, "bad-line");
  EXPECT_EQ(parseCsvLine("alice,plain:pw,,n 1", 4096).error().reason, "bad-line");
}

}  // namespace
}  // namespace xmesh::ctl
