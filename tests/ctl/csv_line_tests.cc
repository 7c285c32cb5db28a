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

}  // namespace
}  // namespace xmesh::ctl
