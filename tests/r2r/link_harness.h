// Test doubles for r2r links: a recording Events, two Links joined by in-memory byte
// pipes, and a scripted raw peer for writing hand-made (and malformed) input.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "r2r/link.h"

namespace xmesh::r2r::test {

class Recorder final : public Link::Events {
 public:
  Status checkPeer(const PeerHello& hello) override {
    checked.push_back(hello);
    if (!refuseReason.empty()) return Status::fail(refuseReason, "refused by test");
    return Status::ok();
  }
  void onEstablished(const PeerHello& hello) override { established.push_back(hello); }
  void onUnit(Unit&& unit) override { units.push_back(std::move(unit)); }
  void onLinkError(const Error& error) override { errors.push_back(error); }
  void onDead() override { ++dead; }
  void onWritable() override { ++writable; }

  std::string lastError() const { return errors.empty() ? std::string() : errors.back().reason; }

  std::string refuseReason;
  std::vector<PeerHello> checked, established;
  std::vector<Unit> units;
  std::vector<Error> errors;
  int dead = 0, writable = 0;
};

inline LinkConfig configFor(std::string self, std::string peer, std::string epoch) {
  LinkConfig c;
  c.selfNode = std::move(self);
  c.selfCluster = "c1";
  c.peerNode = std::move(peer);
  c.epoch = std::move(epoch);
  return c;
}

// Two Links, "a" and "b", joined by pipes the test pumps.
struct LinkPair {
  explicit LinkPair(LinkConfig ca = configFor("a", "b", "ea"),
                    LinkConfig cb = configFor("b", "a", "eb"))
      : a(std::move(ca), ra), b(std::move(cb), rb) {}

  void open() {
    a.connectionOpened(now);
    b.connectionOpened(now);
  }
  void close() {
    a.connectionClosed();
    b.connectionClosed();
  }
  // Moves bytes both ways until neither side has anything to write.
  void pump() {
    for (int i = 0; i < 1000 && (!a.output().empty() || !b.output().empty()); ++i) {
      std::string ab, ba;
      ab.swap(a.output());
      ba.swap(b.output());
      b.feed(ab, now);
      a.feed(ba, now);
    }
  }
  void tick(int64_t ms) {
    now += ms;
    a.onTick(now);
    b.onTick(now);
  }

  Recorder ra, rb;
  Link a, b;
  int64_t now = 1000;
};

// Hand-written peer bytes.
inline std::string rawHeader(std::string_view from = "b", std::string_view to = "a") {
  return "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
         " xmlns:m='urn:xmesh:r2r:0' from='" +
         std::string(from) + "' to='" + std::string(to) + "' version='1.0'>";
}
inline std::string rawHello(std::string_view epoch = "eb", std::string_view peerEpoch = "",
                            uint64_t h = 0, std::string_view version = "1",
                            std::string_view node = "b") {
  std::string s = "<m:hello node='" + std::string(node) + "' cluster='c1' version='" +
                  std::string(version) + "' epoch='" + std::string(epoch) + "'";
  if (!peerEpoch.empty()) s += " peer-epoch='" + std::string(peerEpoch) + "'";
  return s + " h='" + std::to_string(h) + "'/>";
}
inline std::string rawStart(uint64_t after) {
  return "<m:start after='" + std::to_string(after) + "'/>";
}
inline std::string rawMessage(int n, std::string_view to = "u@d") {
  return "<message from='x@d' to='" + std::string(to) + "' id='" + std::to_string(n) + "'><body>" +
         std::to_string(n) + "</body></message>";
}

}  // namespace xmesh::r2r::test
