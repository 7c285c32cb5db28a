#include "router/srm_wire.h"

#include "router/attr_reader.h"

namespace xmesh::router {
namespace {

std::string num(uint64_t v) { return std::to_string(v); }
std::string snum(int64_t v) { return std::to_string(v); }

}  // namespace

r2r::Attrs encodeHeartbeat(const srm::Heartbeat& hb) {
  return {{"inc", num(hb.incarnation)},
          {"seq", num(hb.seq)},
          {"sent", snum(hb.sentMs)},
          {"echo-inc", num(hb.echoIncarnation)},
          {"echo", snum(hb.echoMs)},
          {"reply", hb.wantsReply ? "1" : "0"},
          {"state", std::string(srm::slug(hb.state))},
          {"reason", std::string(srm::slug(hb.reason))},
          {"role", std::string(srm::slug(hb.role))},
          {"ok", hb.criticalServicesOk ? "1" : "0"},
          {"own", hb.servesOwnUsers ? "1" : "0"},
          {"peer", hb.servesPeerUsers ? "1" : "0"},
          {"own-epoch", num(hb.ownClaimEpoch)},
          {"peer-epoch", num(hb.peerClaimEpoch)},
          {"epoch", num(hb.epoch)},
          {"rs", num(hb.recoverSeq)},
          {"ra", num(hb.recoverAck)},
          {"down", hb.goingDown ? "1" : "0"}};
}

Result<srm::Heartbeat> decodeHeartbeat(const r2r::Attrs& attrs) {
  srm::Heartbeat hb;
  AttrReader r{attrs, {}};
  r.integer("inc", hb.incarnation);
  r.integer("seq", hb.seq);
  r.integer("sent", hb.sentMs);
  r.integer("echo-inc", hb.echoIncarnation);
  r.integer("echo", hb.echoMs);
  r.flag("reply", hb.wantsReply);
  r.slug("state", hb.state, &srm::stateFromSlug);
  r.slug("reason", hb.reason, &srm::reasonFromSlug);
  r.slug("role", hb.role, &srm::roleFromSlug);
  r.flag("ok", hb.criticalServicesOk);
  r.flag("own", hb.servesOwnUsers);
  r.flag("peer", hb.servesPeerUsers);
  r.integer("own-epoch", hb.ownClaimEpoch);
  r.integer("peer-epoch", hb.peerClaimEpoch);
  r.integer("epoch", hb.epoch);
  r.integer("rs", hb.recoverSeq);
  r.integer("ra", hb.recoverAck);
  r.flag("down", hb.goingDown);
  if (!r.bad.empty()) return Error{"bad-heartbeat", "missing or malformed: " + r.bad};
  return hb;
}

r2r::Attrs encodeClaim(const ServingClaim& c) {
  return {{"home", c.home}, {"by", c.by},         {"serving", c.serving ? "1" : "0"},
          {"epoch", num(c.epoch)}, {"state", c.state}, {"reason", c.reason}};
}

Result<ServingClaim> decodeClaim(const r2r::Attrs& attrs) {
  ServingClaim c;
  AttrReader r{attrs, {}};
  r.text("home", c.home);
  r.text("by", c.by);
  r.flag("serving", c.serving);
  r.integer("epoch", c.epoch);
  c.state = std::string(r.get("state"));
  c.reason = std::string(r.get("reason"));
  if (!r.bad.empty()) return Error{"bad-failover", "missing or malformed: " + r.bad};
  return c;
}

}  // namespace xmesh::router
