// Backend selection from a store spec, and the connection parameters given to libpq
// (no server needed: these run with the SQLite cases).
#include <gtest/gtest.h>

#include "store/open_store.h"
#include "store/pg_conninfo.h"
#include "tests/store/test_backend.h"

namespace xmesh::store::testing {
namespace {

TEST(OpenStore, SpecPrefixSelectsTheBackend) {
  EXPECT_TRUE(isPostgresSpec("postgresql://xmesh@db.internal/xmesh"));
  EXPECT_TRUE(isPostgresSpec("postgres://db/xmesh"));
  EXPECT_TRUE(isPostgresSpec("pg:host=/run/postgresql dbname=xmesh"));
  EXPECT_FALSE(isPostgresSpec("/var/lib/xmesh/xmesh.db"));
  EXPECT_FALSE(isPostgresSpec("postgres.db"));
  EXPECT_FALSE(isPostgresSpec(""));
}

TEST(OpenStore, AnyOtherSpecIsAnSqliteFile) {
  TempDir dir;
  auto st = storeFactory(dir.file("xmesh.db"), OpenOptions{.domain = kTestDomain})();
  ASSERT_TRUE(st.isOk()) << st.error().detail;
  EXPECT_TRUE(st.value()->healthCheck().isOk());
}

TEST(OpenStore, BadConninfoSurfacesWhenTheFactoryRuns) {
  auto st = storeFactory("pg:host='unterminated", OpenOptions{})();
  ASSERT_FALSE(st.isOk());
  EXPECT_EQ(st.error().reason, "bad-conninfo");
}

TEST(OpenStore, RedactedSpecHidesPasswords) {
  EXPECT_EQ(redactedSpec("postgresql://xmesh:s3cret@db:5432/xmesh"), "postgresql://xmesh:***@db:5432/xmesh");
  EXPECT_EQ(redactedSpec("postgres://db/xmesh?user=x&password=s3cret&sslmode=disable"),
            "postgres://db/xmesh?user=x&password=***&sslmode=disable");
  EXPECT_EQ(redactedSpec("pg:host=db password = 's3 cret' dbname=x"), "pg:host=db password = *** dbname=x");
  EXPECT_EQ(redactedSpec("pg:host=db password=s3cret"), "pg:host=db password=***");
  EXPECT_EQ(redactedSpec("/data/pass:word@x.db"), "/data/pass:word@x.db");  // a path is not a URI
}

TEST(PgConninfo, EncryptionIsForcedOffLastAndOurDefaultsComeFirst) {
  auto p = pg::connectParams("host=db.internal dbname=xmesh sslmode=prefer");
  ASSERT_TRUE(p.isOk()) << p.error().detail;
  const auto& k = p->keywords;
  ASSERT_GE(k.size(), 4u);
  auto dbname = std::find(k.begin(), k.end(), "dbname");
  auto timeout = std::find(k.begin(), k.end(), "connect_timeout");
  ASSERT_NE(dbname, k.end());
  EXPECT_LT(timeout, dbname);  // the user's connect_timeout would win over ours
  EXPECT_GT(std::find(k.begin(), k.end(), "sslmode"), dbname);
  EXPECT_GT(std::find(k.begin(), k.end(), "gssencmode"), dbname);
  EXPECT_EQ(p->get("sslmode"), "disable");
  EXPECT_EQ(p->get("gssencmode"), "disable");
  EXPECT_EQ(p->get("dbname"), "host=db.internal dbname=xmesh sslmode=prefer");
}

TEST(PgConninfo, EncryptionDemandsAreRefused) {
  for (const char* c : {"host=db sslmode=require", "host=db sslmode=verify-full", "host=db gssencmode=require",
                        "postgresql://db/x?sslmode=verify-ca"}) {
    auto p = pg::connectParams(c);
    ASSERT_FALSE(p.isOk()) << c;
    EXPECT_EQ(p.error().reason, "bad-conninfo");
  }
  for (const char* c : {"host=db sslmode=disable", "host=db sslmode=allow", "postgresql://db/x?sslmode=prefer",
                        "host=/run/postgresql"})
    EXPECT_TRUE(pg::connectParams(c).isOk()) << c;
}

}  // namespace
}  // namespace xmesh::store::testing
