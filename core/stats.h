// Counters for /metrics. One LoopStats per event loop, written only by its own thread
// (relaxed atomics so the admin thread can read without tearing); the scrape sums them.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace xmesh {

using Counter = std::atomic<uint64_t>;

enum class StanzaClass : uint8_t { Message = 0, Presence, Iq, Other, kCount };
constexpr std::string_view stanzaClassName(StanzaClass c) {
  constexpr std::array<std::string_view, 4> n{"message", "presence", "iq", "other"};
  return n[static_cast<size_t>(c)];
}

// Stable reasons for errors sent and connections closed (a metrics label).
enum class ErrorReason : uint8_t {
  NotWellFormed = 0, RestrictedXml, PolicyViolation, InvalidNamespace, UnsupportedEncoding,
  InvalidFrom, JidMalformed, ServiceUnavailable, NotAuthorized, SaslAborted,
  SaslTooManyAttempts, AuthBackoff, TlsFailed, TlsRequired, Conflict, ConnectionTimeout,
  SlowConsumer, TooManyConnections, RemoteServerNotFound, InternalError, StoreBusy,
  UnsupportedStanzaType, BadRequest, ItemNotFound, NotAllowed, ResourceConstraint,
  SeeOtherHost, HostUnknown, SystemShutdown, kCount
};
constexpr std::string_view errorReasonName(ErrorReason r) {
  constexpr std::array<std::string_view, static_cast<size_t>(ErrorReason::kCount)> n{
      "not-well-formed", "restricted-xml", "policy-violation", "invalid-namespace",
      "unsupported-encoding", "invalid-from", "jid-malformed", "service-unavailable",
      "not-authorized", "sasl-aborted", "sasl-too-many-attempts", "auth-backoff",
      "tls-failed", "tls-required", "conflict", "connection-timeout", "slow-consumer",
      "too-many-connections", "remote-server-not-found", "internal-server-error", "store-busy",
      "unsupported-stanza-type", "bad-request", "item-not-found", "not-allowed",
      "resource-constraint", "see-other-host", "host-unknown", "system-shutdown"};
  return n[static_cast<size_t>(r)];
}

struct LoopStats {
  std::array<Counter, static_cast<size_t>(StanzaClass::kCount)> stanzasIn{};
  std::array<Counter, static_cast<size_t>(StanzaClass::kCount)> stanzasOut{};
  std::array<Counter, static_cast<size_t>(ErrorReason::kCount)> errors{};
  Counter bytesIn{0}, bytesOut{0};
  Counter connectionsAccepted{0}, connectionsClosed{0};
  Counter authSuccess{0}, authFailure{0};
  Counter offlineStored{0}, offlineDelivered{0};
  Counter crossLoopSent{0}, crossLoopOverflow{0};
  Counter smResumed{0};
  // Gauges owned by the loop (set, not added).
  Counter connections{0}, sessionsNegotiating{0}, sessionsActive{0}, sessionsInactive{0},
      sessionsDetached{0}, outputQueuedBytes{0},
      offlineHeld{0};  // messages waiting for a database that is down

  static void add(Counter& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
  static void sub(Counter& c, uint64_t n = 1) { c.fetch_sub(n, std::memory_order_relaxed); }
  void error(ErrorReason r) { add(errors[static_cast<size_t>(r)]); }
  void in(StanzaClass c) { add(stanzasIn[static_cast<size_t>(c)]); }
  void out(StanzaClass c) { add(stanzasOut[static_cast<size_t>(c)]); }
};

}  // namespace xmesh
