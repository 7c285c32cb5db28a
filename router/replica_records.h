// The replication records between the two nodes of a presence redundancy group
// (docs/dual-connections.md §4, r2r/PROTOCOL.md §3.6): `<m:rep op=.../>` control units
// on their r2r link, by which the node serving a user keeps its PRG peer current with
// the user's active sessions, so a kill -9 of the serving node loses no stanza it
// acknowledged and the peer can resume each session's XEP-0198 stream at activation.
//
//   reset     forget everything this sender replicated before (sent before a snapshot)
//   open      jid home dual     an active session of the pair's users is served here
//   presence  jid prio [avail]  its last broadcast presence (child: the stanza)
//   out       jid seq cls [oid] stanza number `seq` of the session's XEP-0198 stream was
//                               written to it (child: the stanza; none for an offline
//                               message: `oid` names its row, deleted only on ack)
//   ack       jid h             the client acknowledged the stream up to h
//   close     jid keep          the session ended here; keep=0: this node has put what
//                               the client never acknowledged in offline storage (drop
//                               it), keep=1: it was handed to the peer at a move (the
//                               peer keeps it for the activation there)
//   mark      node epoch h      the units up to h that node `node` (incarnation `epoch`)
//                               sent the sender over r2r were handled, their effects are
//                               ahead of this record (router/ack_gate.h); a unit that
//                               node reroutes here later at or below h is a duplicate
//
// Codecs only: router/replicator.h sends them, router/replica_store.h applies them.
#pragma once
#include <cstdint>
#include <string>

#include "core/stats.h"
#include "core/status.h"
#include "r2r/unit.h"
#include "r2r/wire.h"

namespace xmesh::router::replica {

inline constexpr std::string_view kKind = "rep";

enum class Op : uint8_t { Reset, Open, Presence, Out, Ack, Close, Mark };
std::string_view opName(Op op);

struct Record {
  Op op = Op::Reset;
  std::string jid;         // full JID of the session (all but reset and mark)
  std::string home;        // open: the user's home node
  bool dual = false;       // open: the session negotiated XMESH-DUAL
  uint32_t seq = 0;        // out: XEP-0198 number of the stanza; ack: the client's h
  StanzaClass cls = StanzaClass::Message;  // out
  int64_t offlineId = 0;   // out: >0 for a stanza from offline storage
  int priority = 0;        // presence
  bool available = false;  // presence
  bool keep = false;       // close
  std::string stanza;      // out (offlineId == 0) and available presence: canonical bytes
  std::string node, epoch;  // mark: the sending node and its incarnation
  uint64_t h = 0;           // mark
};

// Attributes and the child bytes of the control unit for `r`.
r2r::Attrs encode(const Record& r);
// From a received `rep` control unit (attributes and children).
Result<Record> decode(const r2r::Attrs& attrs, std::string_view children);

}  // namespace xmesh::router::replica
