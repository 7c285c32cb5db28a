// libFuzzer target for the mesh's own parsing: the plain-mode stream-header peek
// (mesh/stream_peek.h) and directory-sync records from a peer (router/directory_sync.h).
// Input: one mode byte, one chunk-size byte, then the bytes. Properties beyond "no crash":
//  - peek: Ready implies a non-empty `from` and every fed byte kept, in order; NeedMore
//    never holds more than its bound; Invalid has a reason.
//  - dir: a peer never takes over a user this node homes, and the per-node counts of the
//    home directory always equal a recount.
//  - srm: heartbeat and serving-claim records (router/srm_wire.h) from attribute lists
//    of the input: a decoded record re-encodes and decodes to the same fields; claims
//    never fail over a node without an HA backup, nor one claimed by a non-backup.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/log.h"
#include "mesh/stream_peek.h"
#include "router/directory_sync.h"
#include "router/serving_claims.h"
#include "router/srm_wire.h"
#include "topology/topology.h"

namespace {

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "property violated: %s\n", what);
  std::abort();
}

void fuzzPeek(std::string_view in, size_t chunk) {
  xmesh::mesh::StreamPeek peek(512);
  std::string fed;
  for (size_t i = 0; i < in.size(); i += chunk) {
    std::string_view part = in.substr(i, chunk);
    auto st = peek.feed(part);
    if (peek.state() == xmesh::mesh::StreamPeek::State::NeedMore) fed.append(part);
    if (st == xmesh::mesh::StreamPeek::State::Ready) {
      fed.append(part);
      check(!peek.from().empty(), "ready without from");
      check(peek.buffered().size() >= 1, "ready with nothing buffered");
      break;
    }
    if (st == xmesh::mesh::StreamPeek::State::Invalid) {
      check(!peek.error().empty(), "invalid without a reason");
      return;
    }
    check(peek.buffered().size() <= 512 + chunk, "buffer past its bound");
  }
  if (peek.state() == xmesh::mesh::StreamPeek::State::Ready)
    check(peek.buffered().substr(0, fed.size()) == fed.substr(0, peek.buffered().size()),
          "buffered bytes differ from the bytes fed");
}

const xmesh::topology::Topology& topo() {
  static const xmesh::topology::Topology t = [] {
    xmesh::topology::TopologyDesc d;
    d.domain = "example.com";
    d.security.secure = false;
    for (int c = 0; c < 2; ++c) {
      xmesh::topology::ClusterDesc cd;
      cd.id = "c" + std::to_string(c);
      for (int i = 0; i < 2; ++i) {
        std::string id = "n" + std::to_string(c) + std::to_string(i);
        cd.nodes.push_back({.id = id, .host = "h" + id});
        cd.groups.push_back({.id = "g" + id, .nodes = {id}});
      }
      d.clusters.push_back(cd);
    }
    return std::move(xmesh::topology::Topology::build(d).value());
  }();
  return t;
}

void fuzzDir(std::string_view in) {
  xmesh::router::HomeDirectory homes;
  xmesh::router::DirectorySync sync(topo(), 0, homes, [](xmesh::topology::NodeIndex) { return nullptr; });
  sync.setOwnUsers({"alice", "bob"});
  // Records separated by '\n': "<from-index><op-letter><home-index>[gen] users..."
  size_t pos = 0;
  while (pos < in.size()) {
    size_t end = in.find('\n', pos);
    if (end == std::string_view::npos) end = in.size();
    std::string_view line = in.substr(pos, end - pos);
    pos = end + 1;
    if (line.size() < 3) continue;
    auto from = static_cast<xmesh::topology::NodeIndex>(static_cast<uint8_t>(line[0]) % 5);
    static const char* kOps[] = {"begin", "add", "end", "remove", "bogus"};
    xmesh::r2r::Unit u;
    u.kind = xmesh::r2r::UnitKind::Control;
    u.stanza.name = "dir";
    u.attrs.emplace_back("op", kOps[static_cast<uint8_t>(line[1]) % 5]);
    u.attrs.emplace_back("home", "n" + std::to_string((static_cast<uint8_t>(line[2]) / 2) % 2) +
                                     std::to_string(static_cast<uint8_t>(line[2]) % 2));
    std::string_view rest = line.substr(3);
    if (!rest.empty() && rest[0] == '#') {
      size_t sp = rest.find(' ');
      u.attrs.emplace_back("gen", std::string(rest.substr(1, sp == std::string_view::npos ? rest.size() : sp - 1)));
      rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
    }
    u.text = std::string(rest);
    (void)sync.onRecord(from, u);
    check(homes.homeOf("alice") == xmesh::topology::NodeIndex{0}, "a peer took over a user we home");
    check(homes.homeOf("bob") == xmesh::topology::NodeIndex{0}, "a peer took over a user we home");
  }
  size_t total = 0;
  for (xmesh::topology::NodeIndex n = 0; n < 4; ++n) total += homes.countHomedOn(n);
  check(total == homes.size(), "per-node counts differ from the directory size");
}

// Pair topology for the claims: c0 = HA pair p0+p1 and a single s2.
const xmesh::topology::Topology& pairTopo() {
  static const xmesh::topology::Topology t = [] {
    xmesh::topology::TopologyDesc d;
    d.domain = "example.com";
    xmesh::topology::ClusterDesc cd;
    cd.id = "c0";
    for (const char* id : {"p0", "p1", "s2"}) cd.nodes.push_back({.id = id, .host = std::string("h") + id});
    cd.groups.push_back({.id = "pair", .nodes = {"p0", "p1"}});
    cd.groups.push_back({.id = "single", .nodes = {"s2"}});
    d.clusters.push_back(cd);
    return std::move(xmesh::topology::Topology::build(d).value());
  }();
  return t;
}

// Lines "key=value" (keys from the records' own, or anything), a blank line ends one
// record; each record is tried as a heartbeat and as a claim from a chosen announcer.
void fuzzSrm(std::string_view in) {
  xmesh::router::ServingClaims claims(pairTopo());
  xmesh::r2r::Attrs attrs;
  auto flush = [&](uint8_t announcer) {
    if (auto hb = xmesh::router::decodeHeartbeat(attrs); hb.isOk()) {
      auto again = xmesh::router::decodeHeartbeat(xmesh::router::encodeHeartbeat(hb.value()));
      check(again.isOk(), "re-encoded heartbeat does not decode");
      check(again->seq == hb->seq && again->incarnation == hb->incarnation && again->state == hb->state &&
                again->reason == hb->reason && again->servesPeerUsers == hb->servesPeerUsers &&
                again->epoch == hb->epoch && again->echoMs == hb->echoMs,
            "heartbeat does not round-trip");
    }
    if (auto c = xmesh::router::decodeClaim(attrs); c.isOk()) {
      auto again = xmesh::router::decodeClaim(xmesh::router::encodeClaim(c.value()));
      check(again.isOk() && again->home == c->home && again->by == c->by && again->serving == c->serving &&
                again->epoch == c->epoch,
            "claim does not round-trip");
      (void)claims.apply(static_cast<xmesh::topology::NodeIndex>(announcer % 3), c.value());
      check(!claims.failedOver(2), "a node without a backup failed over");
    }
    attrs.clear();
  };
  size_t pos = 0;
  while (pos < in.size()) {
    size_t end = in.find('\n', pos);
    if (end == std::string_view::npos) end = in.size();
    std::string_view line = in.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) {
      flush(0);
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      flush(static_cast<uint8_t>(line[0]));
      continue;
    }
    attrs.emplace_back(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
  }
  flush(1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool quiet = (xmesh::log::setLevel(xmesh::log::Level::Error), true);
  (void)quiet;
  if (size < 2) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  size_t chunk = 1 + data[1] % 64;
  switch (data[0] % 3) {
    case 0: fuzzPeek(in, chunk); break;
    case 1: fuzzDir(in); break;
    default: fuzzSrm(in); break;
  }
  return 0;
}
