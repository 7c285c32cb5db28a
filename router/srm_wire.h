// The redundancy records on r2r links (r2r/PROTOCOL.md §3.5):
//   <m:srm .../>      one SRM heartbeat between the two nodes of a PRG (srm::Heartbeat)
//   <m:failover .../> "node `by` serves (or stops serving) the users homed on `home`",
//                     sent by both nodes of a PRG to every node of the mesh on each change
//                     and at link establishment, so every node routes to the right one.
// Attribute codecs only; router/redundancy.h decides when to send what.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"
#include "r2r/wire.h"
#include "srm/types.h"

namespace xmesh::router {

inline constexpr std::string_view kSrmKind = "srm";
inline constexpr std::string_view kFailoverKind = "failover";

r2r::Attrs encodeHeartbeat(const srm::Heartbeat& hb);
Result<srm::Heartbeat> decodeHeartbeat(const r2r::Attrs& attrs);

// A serving claim: `by` serves the users homed on `home` (serving) or not, with the SRM
// claim epoch (a later claim on the same set has a larger epoch), and the announcer's
// SRM state for operators.
struct ServingClaim {
  std::string home, by;
  bool serving = false;
  uint64_t epoch = 0;
  std::string state, reason;  // srm slugs, informational
};
r2r::Attrs encodeClaim(const ServingClaim& c);
Result<ServingClaim> decodeClaim(const r2r::Attrs& attrs);

}  // namespace xmesh::router
