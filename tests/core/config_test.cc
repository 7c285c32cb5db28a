#include "core/config.h"

#include <gtest/gtest.h>

#include <fstream>

namespace xmesh {
namespace {

TEST(Config, DefaultsWhenEmpty) {
  auto c = parseConfig("");
  ASSERT_TRUE(c.isOk());
  EXPECT_EQ(c->limits.maxStanzaBytes, 256u * 1024);
  EXPECT_EQ(c->limits.maxSaslAttempts, 5);
  EXPECT_EQ(c->scramIterations, 4096);
}

TEST(Config, ExampleFileParsesToDefaults) {
  auto c = loadConfig(std::string(XMESH_SOURCE_DIR) + "/config/xmeshd.example.toml");
  ASSERT_TRUE(c.isOk()) << c.error().detail;
  NodeConfig d;
  EXPECT_EQ(c->limits.outputHardLimit, d.limits.outputHardLimit);
  EXPECT_EQ(c->listen.c2sPort, 5222);
  EXPECT_EQ(c->listen.adminPort, 9400);
}

TEST(Config, UnknownKeyIsRejected) {
  auto c = parseConfig("[limits]\nmax_stanza_byts = 10\n");
  ASSERT_FALSE(c.isOk());
  EXPECT_NE(c.error().detail.find("limits.max_stanza_byts"), std::string::npos);
}

TEST(Config, InconsistentWatermarksRejected) {
  auto c = parseConfig("[limits]\noutput_low_watermark = 10\noutput_high_watermark = 5\n");
  EXPECT_FALSE(c.isOk());
}

TEST(Config, WrongTypeRejected) {
  EXPECT_FALSE(parseConfig("loops = \"two\"\n").isOk());
  EXPECT_FALSE(parseConfig("[tls]\nrequired = 3\n").isOk());
}

TEST(Config, StoreSpecDefaultsToTheSqlitePath) {
  auto c = parseConfig("data_dir = \"/d\"\n");
  ASSERT_TRUE(c.isOk());
  EXPECT_EQ(c->resolvedStoreSpec(), "/d/xmesh.db");
  auto path = parseConfig("store_path = \"/s/x.db\"\n");
  ASSERT_TRUE(path.isOk());
  EXPECT_EQ(path->resolvedStoreSpec(), "/s/x.db");
}

TEST(Config, StoreKeyTakesAPostgresConninfo) {
  auto c = parseConfig("store = \"postgresql://xmesh@db.internal/xmesh\"\n");
  ASSERT_TRUE(c.isOk()) << c.error().detail;
  EXPECT_EQ(c->resolvedStoreSpec(), "postgresql://xmesh@db.internal/xmesh");
}

TEST(Config, StoreAndStorePathTogetherRejected) {
  auto c = parseConfig("store = \"pg:host=/run/postgresql\"\nstore_path = \"x.db\"\n");
  ASSERT_FALSE(c.isOk());
  EXPECT_NE(c.error().detail.find("store_path"), std::string::npos);
}

}  // namespace
}  // namespace xmesh
