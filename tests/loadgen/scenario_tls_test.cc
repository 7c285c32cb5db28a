// The scenario keys of TLS resumption: off by default (the honest cold-start figure),
// settable from the file or --set, reported back, typos refused.
#include <gtest/gtest.h>

#include "loadgen/scenario.h"

namespace xmesh::loadgen {
namespace {

TEST(ScenarioTlsTest, ResumptionAndWarmupAreOffByDefault) {
  auto sc = Scenario::load("", {});
  ASSERT_TRUE(sc.isOk());
  EXPECT_FALSE(sc->tlsResumption);
  EXPECT_FALSE(sc->warmupLogins);
  EXPECT_EQ(sc->settings().at("tls_resumption"), "false");
  EXPECT_EQ(sc->settings().at("warmup_logins"), "false");
}

TEST(ScenarioTlsTest, OverridesSetThem) {
  auto sc = Scenario::load("", {"tls_resumption=true", "warmup_logins=yes"});
  ASSERT_TRUE(sc.isOk()) << sc.error().detail;
  EXPECT_TRUE(sc->tlsResumption);
  EXPECT_TRUE(sc->warmupLogins);
  EXPECT_EQ(sc->settings().at("tls_resumption"), "true");
  EXPECT_EQ(sc->settings().at("warmup_logins"), "true");
}

TEST(ScenarioTlsTest, BadValuesAndTyposAreRefused) {
  EXPECT_FALSE(Scenario::load("", {"tls_resumption=sometimes"}).isOk());
  EXPECT_FALSE(Scenario::load("", {"tls_resume=true"}).isOk());
}

}  // namespace
}  // namespace xmesh::loadgen
