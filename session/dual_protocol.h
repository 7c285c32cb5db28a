// XMESH-DUAL (`urn:xmesh:dual:0`, docs/dual-connections.md), the wire side only: the
// elements a c2s session reads and writes for dual (active/inactive) connections.
// Sans-IO and stateless; the session decides when each applies.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "xml/element.h"

namespace xmesh::session::dual {

inline constexpr std::string_view kNs = "urn:xmesh:dual:0";

// Where a user keeps its inactive connection, as the query answers it (§2).
struct Backup {
  std::string nodeId, host;
  int port = 0;
  int64_t reloginMinSeconds = 0, reloginMaxSeconds = 0;  // Client Re-Login Lower/Upper Limit
};

// The stream feature offered after SASL (§2).
std::string_view feature();

// The payload of the query result: backup and re-login window, or an empty query when
// the user has no backup (1-node or non-HA group).
std::string queryResult(const std::optional<Backup>& backup);

// True when a bind element carries the inactive marker (§3).
bool asksInactive(const xml::Element& bind);

// The `h` of an <activate/> (§5): the stanzas the client handled on its old active
// stream. Absent means 0 (a client without XEP-0198); anything but a decimal uint32 is
// an error (reason "bad-request").
Result<uint32_t> activateH(const xml::Element& activate);

// The payload of the activation result (§5).
std::string activatedPayload(bool presenceRestored, size_t pending);

// Server-initiated notices (iq type='set' payloads): this node took over the users of
// `homeNode` (§5), the users of `homeNode` fall back to it, this node (§6), and this
// session is no longer active (§6).
std::string failoverNotice(std::string_view homeNode);
std::string fallbackNotice(std::string_view homeNode);
std::string deactivatedNotice();

// A server-initiated <iq type='set'/> to `toFull` carrying `payload`.
std::string noticeIq(std::string_view id, std::string_view toFull, std::string_view payload);

}  // namespace xmesh::session::dual
