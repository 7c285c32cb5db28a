// The failover drill's scenario keys: off by default, set from a file (dotted keys or a
// [drill] table) or --set, checked together, refused outside steady/idle, reported back.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "loadgen/scenario.h"

namespace xmesh::loadgen {
namespace {

std::string writeScenario(const std::string& body) {
  char path[] = "/tmp/drill_scenario_XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << body;
  return path;
}

TEST(DrillSettingsTest, OffByDefault) {
  auto sc = Scenario::load("", {});
  ASSERT_TRUE(sc.isOk());
  EXPECT_FALSE(sc->drill.enabled());
  EXPECT_FALSE(sc->drill.dual);
  EXPECT_EQ(sc->settings().at("drill.at"), "-1");
  EXPECT_EQ(sc->settings().at("dual"), "false");
}

TEST(DrillSettingsTest, OverridesSetEveryKey) {
  auto sc = Scenario::load("", {"kind=steady", "drill.at=5", "drill.command=kill -9 1234", "drill.fallback_at=12.5",
                                "drill.fallback_command=xmeshctl fallback n1", "drill.timeout=8",
                                "drill.reconnect=same", "drill.reconnect_delay_ms=100", "dual=true",
                                "dual_relogin_delay_ms=300", "dual_activate_retry_ms=50"});
  ASSERT_TRUE(sc.isOk()) << sc.error().detail;
  const DrillSettings& d = sc->drill;
  EXPECT_TRUE(d.enabled());
  EXPECT_DOUBLE_EQ(d.at, 5);
  EXPECT_EQ(d.command, "kill -9 1234");  // the value keeps its spaces and '='-free text
  EXPECT_TRUE(d.hasFallback());
  EXPECT_DOUBLE_EQ(d.fallbackAt, 12.5);
  EXPECT_EQ(d.fallbackCommand, "xmeshctl fallback n1");
  EXPECT_DOUBLE_EQ(d.timeout, 8);
  EXPECT_EQ(d.reconnect, ReconnectTarget::Same);
  EXPECT_DOUBLE_EQ(d.reconnectDelayMs, 100);
  EXPECT_TRUE(d.dual);
  EXPECT_DOUBLE_EQ(d.reloginDelayMs, 300);
  EXPECT_DOUBLE_EQ(d.activateRetryMs, 50);
  // The main phase covers the last command plus the bound.
  EXPECT_DOUBLE_EQ(d.endsAfter(), 20.5);
  EXPECT_EQ(sc->settings().at("drill.reconnect"), "same");
  EXPECT_EQ(sc->settings().at("drill.fallback_command"), "xmeshctl fallback n1");
}

TEST(DrillSettingsTest, FileTakesDottedKeysAndADrillTable) {
  std::string dotted = writeScenario(
      "kind = \"steady\"\ndual = true\ndual_relogin_delay_ms = 200\n"
      "drill.at = 3\ndrill.command = \"true\"\n");
  auto a = Scenario::load(dotted, {});
  ASSERT_TRUE(a.isOk()) << a.error().detail;
  EXPECT_DOUBLE_EQ(a->drill.at, 3);
  EXPECT_EQ(a->drill.command, "true");
  EXPECT_TRUE(a->drill.dual);
  std::string table = writeScenario("kind = \"idle\"\n[drill]\nat = 2\ncommand = \"kill -9 77\"\ntimeout = 4\n");
  auto b = Scenario::load(table, {"drill.timeout=6"});
  ASSERT_TRUE(b.isOk()) << b.error().detail;
  EXPECT_EQ(b->drill.command, "kill -9 77");
  EXPECT_DOUBLE_EQ(b->drill.timeout, 6);  // --set wins over the file
  std::remove(dotted.c_str());
  std::remove(table.c_str());
}

TEST(DrillSettingsTest, ShippedDrillScenariosLoadOnceGivenTheirCommands) {
  std::string dir = std::string(XMESH_SOURCE_DIR) + "/loadgen/scenarios/";
  // The commands are the user's (which pid, which topology): without them, refused.
  EXPECT_FALSE(Scenario::load(dir + "failover_drill.toml", {}).isOk());
  auto plain = Scenario::load(dir + "failover_drill.toml", {"drill.command=true"});
  ASSERT_TRUE(plain.isOk()) << plain.error().detail;
  EXPECT_FALSE(plain->drill.dual);
  EXPECT_FALSE(plain->drill.hasFallback());
  auto dual = Scenario::load(dir + "failover_drill_dual.toml", {"drill.command=true", "drill.fallback_command=true"});
  ASSERT_TRUE(dual.isOk()) << dual.error().detail;
  EXPECT_TRUE(dual->drill.dual);
  EXPECT_TRUE(dual->drill.hasFallback());
  EXPECT_GE(dual->duration, dual->drill.endsAfter());
}

TEST(DrillSettingsTest, InconsistentDrillsAreRefused) {
  auto refused = [](std::vector<std::string> o) { return !Scenario::load("", o).isOk(); };
  EXPECT_TRUE(refused({"kind=steady", "drill.at=5"}));                          // no command
  EXPECT_TRUE(refused({"kind=steady", "drill.command=true"}));                  // no time
  EXPECT_TRUE(refused({"kind=steady", "drill.at=5", "drill.command=true", "drill.fallback_at=9"}));
  EXPECT_TRUE(refused({"kind=steady", "drill.at=5", "drill.command=true", "drill.fallback_command=true"}));
  EXPECT_TRUE(refused({"kind=steady", "drill.at=5", "drill.command=true", "drill.fallback_at=5",
                       "drill.fallback_command=true"}));                        // not after the failover
  EXPECT_TRUE(refused({"kind=login_storm", "drill.at=5", "drill.command=true"}));  // no main phase traffic
  EXPECT_TRUE(refused({"kind=saturation", "drill.at=5", "drill.command=true"}));
}

TEST(DrillSettingsTest, BadValuesAndTyposAreRefused) {
  auto refused = [](const std::string& o) { return !Scenario::load("", {"kind=steady", o}).isOk(); };
  EXPECT_TRUE(refused("drill.at=soon"));
  EXPECT_TRUE(refused("drill.at=-2"));
  EXPECT_TRUE(refused("drill.timeout=0"));
  EXPECT_TRUE(refused("drill.reconnect=anywhere"));
  EXPECT_TRUE(refused("drill.reconnect_delay_ms=-1"));
  EXPECT_TRUE(refused("dual=maybe"));
  EXPECT_TRUE(refused("dual_activate_retry_ms=0"));  // would retry in a busy loop
  EXPECT_TRUE(refused("drill.comand=true"));
  EXPECT_TRUE(refused("dual.relogin_delay_ms=5"));  // TOML cannot hold dual and dual.x
}

}  // namespace
}  // namespace xmesh::loadgen
