// Population: generated rosters are symmetric with the asked average, the CSV reads
// back, and the key file's salted passwords are the ones the server-side secrets expect.
#include "loadgen/population.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "loadgen/salted_cache.h"
#include "loadgen/scenario.h"
#include "sasl/credentials.h"

namespace xmesh::loadgen {
namespace {

std::string tempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("lg-" + std::to_string(getpid()) + "-" + name)).string();
}

TEST(PopulationTest, RingIsSymmetric) {
  Population p = Population::ring(1, 50, 10);
  EXPECT_EQ(p.size(), 50u);
  for (uint32_t u = 1; u <= 50; ++u) {
    EXPECT_EQ(p.contactsOf(u).size(), 10u);
    for (uint32_t c : p.contactsOf(u)) EXPECT_GE(p.edgeOf(c, u), 0) << u << "->" << c;
  }
  EXPECT_EQ(p.edgeOf(1, 1), -1);
}

TEST(PopulationTest, GeneratedPopulationIsSymmetricWithTheAskedAverage) {
  PopulationGenOptions o;
  o.users = 600;
  o.avgContacts = 40;
  o.iterations = 16;  // fast; the real default is 4096
  o.out = tempPath("pop.csv");
  auto st = generatePopulation(o);
  ASSERT_TRUE(st.isOk()) << st.error().detail;
  auto p = Population::load(o.out, "user%d", 1, 600);
  ASSERT_TRUE(p.isOk()) << p.error().detail;
  uint64_t degrees = 0;
  for (uint32_t u = 1; u <= 600; ++u) {
    auto row = p->contactsOf(u);
    degrees += row.size();
    EXPECT_LE(row.size(), 200u);
    for (uint32_t c : row) {
      EXPECT_NE(c, u);
      EXPECT_GE(p->edgeOf(c, u), 0) << "asymmetric " << u << "->" << c;
    }
  }
  double avg = static_cast<double>(degrees) / 600.0;
  EXPECT_NEAR(avg, 40.0, 2.0);
  EXPECT_EQ(degrees, 2 * st->edges);

  // The key file matches the stored secrets: StoredKey derived from the cached salted
  // password equals the one in the CSV.
  SaltedCache cache;
  ASSERT_TRUE(cache.loadFile(o.out + ".keys").isOk());
  EXPECT_EQ(cache.size(), 600u);
  std::ifstream csv(o.out);
  std::string line;
  std::getline(csv, line);
  std::string user = line.substr(0, line.find(','));
  std::string secret = line.substr(line.find(',') + 1);
  secret = secret.substr(0, secret.find(','));
  auto stored = sasl::parseStoredSecrets(secret);
  ASSERT_TRUE(stored.isOk());
  const SaltedKeys* k = cache.find(user);
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->salt, stored->sha1.salt);
  EXPECT_EQ(k->sha1, sasl::saltedPassword(sasl::HashAlg::Sha1, "pw-" + user, k->salt, 16));
  auto creds = sasl::credentialsFromSalted(sasl::HashAlg::Sha256, k->sha256, k->salt, 16);
  EXPECT_EQ(creds.storedKey, stored->sha256.storedKey);
  std::filesystem::remove(o.out);
  std::filesystem::remove(o.out + ".keys");
}

TEST(PopulationTest, ParseUserIndex) {
  uint32_t i = 0;
  EXPECT_TRUE(parseUserIndex("user42", "user%d", &i));
  EXPECT_EQ(i, 42u);
  EXPECT_TRUE(parseUserIndex("a7b", "a%db", &i));
  EXPECT_EQ(i, 7u);
  EXPECT_FALSE(parseUserIndex("user", "user%d", &i));
  EXPECT_FALSE(parseUserIndex("userx", "user%d", &i));
  EXPECT_FALSE(parseUserIndex("bob42", "user%d", &i));
}

TEST(ScenarioTest, FileThenOverrides) {
  std::string path = tempPath("s.toml");
  {
    std::ofstream f(path);
    f << "kind = \"steady\"\nusers = 10\nport = 5333\nsm = true\nmsgs_per_user_hour = 7.5\n";
  }
  auto sc = Scenario::load(path, {"users=20", "mechanism=PLAIN"});
  ASSERT_TRUE(sc.isOk()) << sc.error().detail;
  EXPECT_EQ(sc->kind, ScenarioKind::Steady);
  EXPECT_EQ(sc->users, 20u);
  EXPECT_EQ(sc->port, 5333);
  EXPECT_TRUE(sc->sm);
  EXPECT_EQ(sc->msgsPerUserHour, 7.5);
  EXPECT_EQ(sc->mechanism, Mechanism::Plain);
  EXPECT_EQ(sc->userName(5), "user5");
  EXPECT_EQ(sc->passwordFor("user5"), "pw-user5");
  EXPECT_EQ(sc->settleServerCpuBelow, 0) << "off unless asked";
  auto settled = Scenario::load(path, {"settle_server_cpu_below=15", "settle_max=40"});
  ASSERT_TRUE(settled.isOk()) << settled.error().detail;
  EXPECT_EQ(settled->settleServerCpuBelow, 15);
  EXPECT_EQ(settled->settleMax, 40);
  EXPECT_FALSE(Scenario::load(path, {"settle_server_cpu_below=150"}).isOk());
  EXPECT_FALSE(Scenario::load(path, {"settle_max=-1"}).isOk());
  EXPECT_FALSE(sc->spinPacing) << "timer pacing unless asked";
  auto spin = Scenario::load(path, {"spin_pacing=true"});
  ASSERT_TRUE(spin.isOk());
  EXPECT_TRUE(spin->spinPacing);
  EXPECT_FALSE(Scenario::load(path, {"userz=1"}).isOk());
  EXPECT_FALSE(Scenario::load(path, {"kind=nope"}).isOk());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace xmesh::loadgen
