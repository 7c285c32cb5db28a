// Heap bytes per idle, bound c2s session, without sockets and TLS: N sessions logged in
// on a fake env (real parser, session, directory entry, SM off), measured with
// mallinfo2() (glibc malloc: this binary deliberately does not link mimalloc). TLS adds
// its own idle cost (tests/tls memory test: ~2.8 KiB per server session).
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <regex>
#include <vector>

#include "sasl/credentials.h"
#include "sasl/scram.h"
#include "session/c2s_session.h"
#include "tests/support/fake_env.h"

using namespace xmesh;

namespace {
constexpr const char* kHeader =
    "<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

size_t heapInUse() { return mallinfo2().uordblks; }
}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  int contacts = argc > 2 ? std::atoi(argv[2]) : 0;
  testing::FakeEnv env;
  for (int i = 0; i < n; ++i) env.addUser("u" + std::to_string(i), "pw");
  for (int i = 0; i < n; ++i)
    for (int k = 1; k <= contacts; ++k) {
      store::RosterItem item;
      item.contact = "u" + std::to_string((i + k) % n) + "@localhost";
      item.sub = store::Sub::Both;
      (void)env.store().putRosterItem("u" + std::to_string(i), item);
    }
  std::vector<std::unique_ptr<testing::FakeTransport>> ts;
  std::vector<std::unique_ptr<session::C2sSession>> ss;
  ts.reserve(n);
  ss.reserve(n);
  malloc_trim(0);
  size_t before = heapInUse();
  for (int i = 0; i < n; ++i) {
    ts.push_back(std::make_unique<testing::FakeTransport>());
    ss.push_back(std::make_unique<session::C2sSession>(env, ts.back().get(), false));
    auto& s = *ss.back();
    auto& t = *ts.back();
    auto feed = [&](std::string_view b) {
      s.onBytes(b);
      env.drain();
      return t.take();
    };
    feed(kHeader);
    feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    feed(kHeader);
    std::string user = "u" + std::to_string(i);
    std::string r = feed("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
                         sasl::base64Encode(std::string(1, '\0') + user + std::string(1, '\0') + "pw") + "</auth>");
    if (r.find("<success") == std::string::npos) {
      std::fprintf(stderr, "login failed: %s\n", r.c_str());
      return 1;
    }
    feed(kHeader);
    feed("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
    feed("<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>");
    feed("<presence/>");
    std::string().swap(t.out);
  }
  env.drain();
  // One sweep after a quiet second: what the loop's 1 Hz sweep does to idle sessions.
  env.advance(2000);
  for (auto& s : ss) (void)s->sweep(env.nowMs());
  env.drain();
  malloc_trim(0);
  size_t after = heapInUse();
  std::printf("%d idle bound sessions (roster %d contacts each): %zu heap bytes per session "
              "(session + parser + directory entry + roster cache; no socket/TLS)\n",
              n, contacts, (after - before) / static_cast<size_t>(n));
  return 0;
}
