// xmeshctl: administration and provisioning of an xmesh store.
// Exit codes: 0 ok, 1 usage error, 2 failure (one line on stderr).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <string>

#include "core/config.h"
#include "ctl/csv_import.h"
#include "ctl/gen_csv.h"
#include "ctl/mesh_cli.h"
#include "ctl/user_commands.h"
#include "store/open_store.h"

namespace {

using namespace xmesh;

constexpr int kUsage = 1;
constexpr int kFailure = 2;

struct Globals {
  std::string db;
  std::string config;
  std::string domain;
};

int failure(const Error& e) {
  std::cerr << "xmeshctl: " << e.reason;
  if (!e.detail.empty()) std::cerr << ": " << e.detail;
  std::cerr << '\n';
  return e.reason == "usage" ? kUsage : kFailure;
}

int finish(const Status& s) { return s ? 0 : failure(s.error()); }

// --config supplies the store (its `store` spec or SQLite path) and domain of a node's
// TOML file; --db and --domain, when given, win over it.
Result<store::StoreFactory> storeFactory(const Globals& g, bool bulkLoad) {
  std::string spec;
  store::OpenOptions o;
  o.bulkLoad = bulkLoad;
  if (!g.config.empty()) {
    auto cfg = loadConfig(g.config);
    if (!cfg) return cfg.error();
    spec = cfg->resolvedStoreSpec();
    o.domain = cfg->domain;
  }
  if (!g.db.empty()) spec = g.db;
  if (!g.domain.empty()) o.domain = g.domain;
  if (spec.empty()) return Error{"usage", "--db STORE or --config FILE is required"};
  return store::storeFactory(spec, o);
}

// "-" reads the password from the first line of stdin, keeping it out of `ps`.
std::string passwordArg(const std::string& arg) {
  if (arg != "-") return arg;
  std::string line;
  std::getline(std::cin, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

template <typename Fn>
int withStore(const Globals& g, bool bulkLoad, Fn fn) {
  auto factory = storeFactory(g, bulkLoad);
  if (!factory) return failure(factory.error());
  auto st = factory.value()();
  if (!st) return failure(st.error());
  return fn(*st.value());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xmesh administration and provisioning"};
  app.require_subcommand(1);
  Globals g;
  app.add_option("--db", g.db,
                 "store: an SQLite file, or PostgreSQL as postgresql://... or pg:<libpq key=value>");
  app.add_option("--config", g.config, "xmeshd TOML config (its store and domain)");
  app.add_option("--domain", g.domain, "served XMPP domain (user remove drops name@domain from rosters)");

  std::string name, password, node, file;
  uint32_t iterations = 4096;
  size_t threads = 0;

  CLI::App* user = app.add_subcommand("user", "manage users");
  user->require_subcommand(1);
  CLI::App* add = user->add_subcommand("add", "create a user");
  add->add_option("name", name, "username")->required();
  add->add_option("--password", password, "password ('-' reads a line from stdin)")->required();
  add->add_option("--iterations", iterations, "PBKDF2 iterations")->capture_default_str();
  CLI::App* passwd = user->add_subcommand("passwd", "set a user's password");
  passwd->add_option("name", name, "username")->required();
  passwd->add_option("--password", password, "password ('-' reads a line from stdin)")->required();
  passwd->add_option("--iterations", iterations, "PBKDF2 iterations")->capture_default_str();
  CLI::App* remove = user->add_subcommand("remove", "delete a user, its roster and offline messages");
  remove->add_option("name", name, "username")->required();
  CLI::App* list = user->add_subcommand("list", "list usernames");
  CLI::App* show = user->add_subcommand("show", "show a user (never secrets)");
  show->add_option("name", name, "username")->required();
  CLI::App* count = user->add_subcommand("count", "count users");
  CLI::App* home = user->add_subcommand("home", "assign a user's home node ('' unassigns)");
  home->add_option("name", name, "username")->required();
  home->add_option("node", node, "node id")->required();

  CLI::App* import = app.add_subcommand("import", "bulk import users, rosters and home nodes from CSV (see ctl/README.md)");
  import->add_option("file", file, "CSV file")->required()->check(CLI::ExistingFile);
  import->add_option("--threads", threads, "parse/derive threads (0 = all cores)");
  import->add_option("--iterations", iterations, "PBKDF2 iterations for plain: secrets")->capture_default_str();

  ctl::GenOptions gen;
  CLI::App* genCsv = app.add_subcommand("gen-csv", "write a synthetic symmetric test population");
  genCsv->group("");  // hidden: a test tool, not provisioning
  genCsv->add_option("--users", gen.users)->required();
  genCsv->add_option("--contacts", gen.contacts)->required();
  genCsv->add_option("--out", gen.out)->required();
  genCsv->add_option("--iterations", gen.iterations);
  genCsv->add_option("--domain", gen.domain);
  genCsv->add_option("--prefix", gen.prefix);
  genCsv->add_option("--password", gen.passwordTemplate, "template; {user} becomes the username");
  genCsv->add_option("--threads", gen.threads);
  genCsv->add_flag("--plain", gen.plain, "write plain: secrets");

  ctl::MeshCli mesh(app);  // topology, home, cert (ctl/README.md)

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kUsage;
  }

  auto openStore = [&g]() -> Result<store::StorePtr> {
    auto factory = storeFactory(g, false);
    if (!factory) return factory.error();
    return factory.value()();
  };
  if (auto s = mesh.run(openStore)) return finish(*s);
  if (*add) return withStore(g, false, [&](store::Store& st) {
    return finish(ctl::addUser(st, name, passwordArg(password), iterations));
  });
  if (*passwd) return withStore(g, false, [&](store::Store& st) {
    return finish(ctl::setPassword(st, name, passwordArg(password), iterations));
  });
  if (*remove) return withStore(g, false, [&](store::Store& st) { return finish(ctl::removeUser(st, name)); });
  if (*list) return withStore(g, false, [&](store::Store& st) { return finish(ctl::listUsers(st, std::cout)); });
  if (*show) return withStore(g, false, [&](store::Store& st) { return finish(ctl::showUser(st, name, std::cout)); });
  if (*count) return withStore(g, false, [&](store::Store& st) { return finish(ctl::countUsers(st, std::cout)); });
  if (*home) return withStore(g, false, [&](store::Store& st) { return finish(ctl::setHome(st, name, node)); });
  if (*import) return withStore(g, true, [&](store::Store& st) {
    ctl::ImportOptions o;
    o.threads = threads;
    o.iterations = iterations;
    auto r = ctl::importCsv(file, st, o);
    if (!r) return failure(r.error());
    std::printf("imported %llu users, %llu roster rows in %.2f s", static_cast<unsigned long long>(r->users),
                static_cast<unsigned long long>(r->rosterRows), r->seconds);
    if (r->withHome) std::printf("; %llu with a home node", static_cast<unsigned long long>(r->withHome));
    std::printf("\n");
    return 0;
  });
  if (*genCsv) {
    auto r = ctl::generateCsv(gen);
    if (!r) return failure(r.error());
    std::printf("generated %zu users x %zu contacts in %.2f s (secrets %.2f s)\n", gen.users, gen.contacts,
                r->totalSeconds, r->deriveSeconds);
    return 0;
  }
  return kUsage;
}
