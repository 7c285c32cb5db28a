#include "sasl/plain.h"

#include <gtest/gtest.h>

#include <string>

namespace xmesh::sasl {
namespace {

using namespace std::string_literals;

TEST(Plain, Parses) {
  Result<PlainCredentials> c = parsePlain("\0user\0pencil"s);
  ASSERT_TRUE(c.isOk());
  EXPECT_EQ(c->authzid, "");
  EXPECT_EQ(c->authcid, "user");
  EXPECT_EQ(c->password, "pencil");
  Result<PlainCredentials> z = parsePlain("user@example.com\0user\0pass word"s);
  ASSERT_TRUE(z.isOk());
  EXPECT_EQ(z->authzid, "user@example.com");
  EXPECT_EQ(z->password, "pass word");
}

TEST(Plain, AuthcidIsSaslprepped) {
  Result<PlainCredentials> c = parsePlain("\0I\xC2\xADX\0pw"s);
  ASSERT_TRUE(c.isOk());
  EXPECT_EQ(c->authcid, "IX");
}

TEST(Plain, MalformedCatalogue) {
  const std::string kCases[] = {
      ""s,
      "userpencil"s,              // no NUL
      "user\0pencil"s,            // one NUL
      "\0\0pencil"s,              // empty authcid
      "\0user\0"s,                // empty password
      "\0user\0pen\0cil"s,        // NUL inside the password
      "\0\xC3(\0pencil"s,         // invalid UTF-8 authcid
      "\0user\0\xFF"s,            // invalid UTF-8 password
      "\xC0\xAF\0user\0pencil"s,  // invalid UTF-8 authzid
      "\0a\x07" "b\0pencil"s,     // authcid fails SASLprep
      "\0\xC2\xAD\0pencil"s,      // authcid prepares to nothing
      "\0"s + std::string(1024, 'u') + "\0pencil"s,
      "\0user\0"s + std::string(1024, 'p'),
  };
  for (const std::string& m : kCases) {
    Result<PlainCredentials> r = parsePlain(m);
    EXPECT_FALSE(r.isOk()) << testing::PrintToString(m);
    if (!r.isOk()) {
      EXPECT_EQ(r.error().reason, "malformed-request");
    }
  }
  EXPECT_TRUE(parsePlain("\0"s + std::string(1023, 'u') + "\0"s + std::string(1023, 'p')).isOk());
}

}  // namespace
}  // namespace xmesh::sasl
