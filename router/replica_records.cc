#include "router/replica_records.h"

#include <array>

#include "router/attr_reader.h"

namespace xmesh::router::replica {
namespace {

constexpr std::array<std::string_view, 7> kOps{"reset", "open", "presence", "out", "ack", "close", "mark"};

std::optional<Op> opFromName(std::string_view name) {
  for (size_t i = 0; i < kOps.size(); ++i)
    if (kOps[i] == name) return static_cast<Op>(i);
  return std::nullopt;
}

std::optional<StanzaClass> classFromName(std::string_view name) {
  for (StanzaClass c : {StanzaClass::Message, StanzaClass::Presence, StanzaClass::Iq, StanzaClass::Other})
    if (stanzaClassName(c) == name) return c;
  return std::nullopt;
}

const char* flag(bool b) { return b ? "1" : "0"; }

}  // namespace

std::string_view opName(Op op) { return kOps[static_cast<size_t>(op)]; }

r2r::Attrs encode(const Record& r) {
  r2r::Attrs a{{"op", std::string(opName(r.op))}};
  if (r.op == Op::Reset) return a;
  if (r.op == Op::Mark) {
    a.emplace_back("node", r.node);
    a.emplace_back("epoch", r.epoch);
    a.emplace_back("h", std::to_string(r.h));
    return a;
  }
  a.emplace_back("jid", r.jid);
  switch (r.op) {
    case Op::Open:
      a.emplace_back("home", r.home);
      a.emplace_back("dual", flag(r.dual));
      break;
    case Op::Presence:
      a.emplace_back("prio", std::to_string(r.priority));
      a.emplace_back("avail", flag(r.available));
      break;
    case Op::Out:
      a.emplace_back("seq", std::to_string(r.seq));
      a.emplace_back("cls", std::string(stanzaClassName(r.cls)));
      if (r.offlineId > 0) a.emplace_back("oid", std::to_string(r.offlineId));
      break;
    case Op::Ack:
      a.emplace_back("h", std::to_string(r.seq));
      break;
    case Op::Close:
      a.emplace_back("keep", flag(r.keep));
      break;
    case Op::Reset:
    case Op::Mark:
      break;
  }
  return a;
}

Result<Record> decode(const r2r::Attrs& attrs, std::string_view children) {
  Record r;
  AttrReader in{attrs, {}};
  in.slug("op", r.op, &opFromName);
  if (!in.bad.empty()) return Error{"bad-rep", "missing or malformed: op"};
  if (r.op == Op::Mark) {
    in.text("node", r.node);
    in.text("epoch", r.epoch);
    in.integer("h", r.h);
    if (!in.bad.empty()) return Error{"bad-rep", "missing or malformed: " + in.bad};
    return r;
  }
  if (r.op != Op::Reset) in.text("jid", r.jid);
  switch (r.op) {
    case Op::Open:
      in.text("home", r.home);
      in.flag("dual", r.dual);
      break;
    case Op::Presence:
      in.integer("prio", r.priority);
      in.flag("avail", r.available);
      if (r.available && children.empty()) in.fail("stanza");
      break;
    case Op::Out:
      in.integer("seq", r.seq);
      in.slug("cls", r.cls, &classFromName);
      if (!in.get("oid").empty()) in.integer("oid", r.offlineId);
      if (r.offlineId < 0) in.fail("oid");
      if (r.offlineId == 0 && children.empty()) in.fail("stanza");
      break;
    case Op::Ack:
      in.integer("h", r.seq);
      break;
    case Op::Close:
      in.flag("keep", r.keep);
      break;
    case Op::Reset:
    case Op::Mark:
      break;
  }
  if (!in.bad.empty()) return Error{"bad-rep", "missing or malformed: " + in.bad};
  r.stanza = std::string(children);
  return r;
}

}  // namespace xmesh::router::replica
