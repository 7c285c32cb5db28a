// The r2r transport of one node: one r2r::Link per peer node of the topology, kept for
// the LinkSet's whole life, and the TCP (+TLS) connections under them.
//
// Of every pair, the node with dials(self, peer) dials the peer's r2r endpoint and
// redials after any loss with jittered exponential back-off (reset once a connection
// establishes); the other node accepts on its own r2r endpoint.
//
// Secure mode (topology security.secure, the default): TLS 1.3 only, ALPN "xmesh-r2r",
// mutual verification against security.caFile with this node's certFileFor/keyFileFor.
// The dialer verifies the server certificate against the peer's node id (SNI = node id);
// the acceptor requires a client certificate and maps its verified names (CN, DNS SANs)
// to a node it accepts from (acceptsFrom(self)); anything else is refused ("unknown-peer",
// "identity-mismatch"). The hello must then name that node and its cluster (checkPeer).
// Plain mode (secure = false): plain TCP; the acceptor picks the Link from the stream
// header's `from` (StreamPeek) and TRUSTS that claim: for trusted networks only.
//
// Writes: whatever callers queue on a Link with send*() is written from the LinkSet's
// uv_prepare/uv_check handles (once per loop iteration, coalesced: one uv_write in flight
// per connection), or at once with flush(). While more than socketHighWatermark bytes
// wait on a socket, the Link's output is left where it is; the Link's maxUnackedBytes
// then bounds memory and reports Full / onWritable to the caller.
//
// Threading: everything runs on the given loop's thread, except snapshot() and
// listenerStatus(), which any thread may call (a copy refreshed on ticks and events).
// The process must ignore SIGPIPE (xmeshd's main does): libuv writes with write(2).
#pragma once
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/status.h"
#include "mesh/peer_transport.h"
#include "mesh/stream_peek.h"
#include "r2r/link.h"
#include "tls/context.h"
#include "topology/topology.h"

namespace xmesh::mesh {

inline constexpr std::string_view kR2rAlpn = "xmesh-r2r";

struct LinkSetOptions {
  std::shared_ptr<const topology::Topology> topology;
  topology::NodeIndex self = 0;
  std::string epoch;  // this process's incarnation, the same on all links; empty = random
  int64_t heartbeatIntervalMs = 1000;
  int64_t deadAfterMs = 3000;
  int64_t handshakeTimeoutMs = 5000;  // TCP connect + TLS + hello; also bounds a closing flush
  int64_t reconnectMinMs = 100;       // jittered exponential back-off: min..max, +-50%
  int64_t reconnectMaxMs = 5000;
  int64_t tickMs = 100;  // Link::onTick, timeouts and redials run at this period
  size_t maxUnackedBytes = 64u << 20;
  size_t socketHighWatermark = 8u << 20;  // Link output waits while more is on the socket
  size_t maxPeekBytes = 8192;             // plain mode: bound on the bytes before the header
  std::vector<std::string> controlKinds = {"dir", "serve", "failover", "rep", "reroute"};
  std::vector<std::string> volatileKinds = {"srm"};
  bool gatedAcks = false;  // r2r::LinkConfig::gatedAcks for every link
  // Tests only: listen / dial elsewhere than the topology's r2r endpoints.
  std::optional<topology::Endpoint> listenOverride;
  std::unordered_map<topology::NodeIndex, topology::Endpoint> dialOverrides;
};

// One peer as seen at the last refresh: plain values, safe to keep and to pass around.
struct PeerStatus {
  std::string node, cluster;
  topology::NodeIndex index = 0;
  bool dialer = false;  // we dial this peer
  // r2r::linkStateName() of the Link while a connection is open under it ("awaiting-hello",
  // "established", "failed"); otherwise "connecting" (TCP, DNS), "tls" (handshake),
  // "backoff" (dialer waiting to redial), "idle" (dialer before start()) or
  // "disconnected" (acceptor waiting for the peer).
  std::string state;
  uint64_t unackedUnits = 0, unackedBytes = 0;
  uint64_t unitsSent = 0, unitsReceived = 0, unitsResent = 0, duplicatesDropped = 0;
  uint64_t unitsWithdrawn = 0, voidsReceived = 0;
  uint64_t bytesIn = 0, bytesOut = 0;  // plaintext, Link level
  uint64_t connections = 0;            // transports the Link was opened on
  uint64_t establishments = 0, peerRestarts = 0;
  uint64_t errors = 0;  // Link protocol errors + transport failures (TLS, connect, reset, timeout)
  uint64_t deaths = 0;  // heartbeat timeouts
  uint64_t reconnectAttempts = 0;  // dials after the first one
  std::string lastError;           // "reason: detail" of the last loss, empty if none
  int64_t establishedAtMs = 0;     // loop time of the current establishment, 0 when down
};

// Connections accepted on the listener that never reached a Link.
struct ListenerStatus {
  uint64_t accepted = 0;  // TCP connections accepted
  uint64_t refused = 0;   // TLS failures, unknown peers, timeouts before identification
  std::string lastError;  // "reason: detail" of the last refusal
};

class LinkSet final : private PeerTransport::Owner {
 public:
  // All called on the loop thread: from the LinkSet's handle callbacks, and synchronously
  // from Link::fail(), dropConnection() and (rarely, on a failed write) flush() — so onDown
  // may arrive nested inside the caller's own onUnit/onEstablished for that peer. Never
  // from start(), close() or snapshot(). A callback may call send*() / requestAck() /
  // fail() on any Link, flush() and dropConnection(); it must not close() or destroy the
  // LinkSet.
  class Events {
   public:
    virtual ~Events() = default;
    // The peer's hello was accepted on a new connection: units flow (queued ones resent).
    // hello.peerRestarted: the peer is a new incarnation (re-sync directory/serving state).
    virtual void onEstablished(topology::NodeIndex peer, const r2r::PeerHello& hello) = 0;
    // Exactly once per unit, in the peer's order.
    virtual void onUnit(topology::NodeIndex peer, r2r::Unit&& unit) = 0;
    // The connection that onEstablished announced is gone (one onDown per onEstablished).
    // The Link keeps its queue; units sent now wait for the next connection.
    virtual void onDown(topology::NodeIndex peer, std::string_view reason) = 0;
    // After a Full from send*(): the Link's queue fell to half its bound.
    virtual void onWritable(topology::NodeIndex /*peer*/) {}
  };

  // Creates a Link per peer (topology->peersOf(self)); no I/O until start().
  LinkSet(uv_loop_t* loop, LinkSetOptions options, Events& events);
  // Only when closed() (or start() was never called).
  ~LinkSet();
  LinkSet(const LinkSet&) = delete;
  LinkSet& operator=(const LinkSet&) = delete;

  // On the loop thread or before uv_run: builds the TLS contexts, listens on the own r2r
  // endpoint and starts dialing the dial targets. On error, call close() all the same.
  Status start();
  // On the loop thread: closes every handle (listener, connections, timers), without
  // Events calls. The LinkSet may be destroyed once closed() is true; `onClosed`, if
  // given, runs at that point (from a close callback, or at once if nothing was open).
  void close(std::function<void()> onClosed = {});
  bool closed() const { return closed_; }

  // The Link for `peer` (alive from construction to destruction), nullptr for self and
  // indices that are not peers. Callers send*() on it; see "Writes" above.
  r2r::Link* link(topology::NodeIndex peer);
  // Writes every Link's pending output now instead of at the end of the loop iteration.
  void flush();
  // Abruptly closes the peer's connection (TCP RST), as a network reset would. The dialer
  // side redials after its back-off; Events::onDown (if it was established) is called
  // before this returns.
  void dropConnection(topology::NodeIndex peer);

  // Any thread: copies refreshed on every tick and on link up/down.
  std::vector<PeerStatus> snapshot() const;
  ListenerStatus listenerStatus() const;

  const std::string& epoch() const { return epoch_; }
  topology::NodeIndex self() const { return options_.self; }

 private:
  struct Peer;
  class PeerEvents;
  enum class CloseMode : uint8_t { Flush, Abort, Reset, AlreadyDown };

  // PeerTransport::Owner
  void onTransportOpen(PeerTransport& t) override;
  void onTransportData(PeerTransport& t, std::string_view plaintext) override;
  void onTransportDown(PeerTransport& t, std::string_view reason, std::string_view detail) override;
  void onTransportFreed(PeerTransport& t) override;
  uv_buf_t readBuffer() override;

  static void onConnection(uv_stream_t* server, int status);
  static void onTick(uv_timer_t* timer);
  static void onFlushHandle(uv_prepare_t* prepare);
  static void onCheck(uv_check_t* check);
  static void onHandleClosed(uv_handle_t* handle);

  Status buildTlsContexts();
  Status listen();
  void tick();
  void dial(Peer& p);
  void scheduleDial(Peer& p);
  void acceptOne();
  void identifyTls(PeerTransport& t);
  void identifyPlain(PeerTransport& t, std::string_view bytes);
  void attach(PeerTransport& t, topology::NodeIndex peer, std::string_view buffered);
  void openLink(Peer& p);
  void onLinkEstablished(Peer& p, const r2r::PeerHello& hello);
  void refuse(PeerTransport& t, std::string_view reason, std::string_view detail);
  void lose(Peer& p, std::string_view reason, std::string_view detail, CloseMode mode,
            bool countError);
  void flushPeer(Peer& p);
  void sweepTransports(int64_t now);
  void refreshSnapshot();
  PeerStatus statusOf(const Peer& p) const;
  Peer* peerFor(const PeerTransport& t);
  void trackHandle(uv_handle_t* handle);
  void maybeFinishClose();
  int64_t nowMs() const { return static_cast<int64_t>(uv_now(loop_)); }

  uv_loop_t* loop_;
  LinkSetOptions options_;
  Events& events_;
  const topology::Topology& topo_;
  std::string epoch_;
  std::vector<std::unique_ptr<Peer>> peers_;  // by NodeIndex; null for self
  std::vector<bool> acceptable_;              // by NodeIndex: acceptsFrom(self)
  std::shared_ptr<tls::TlsContext> serverTls_, clientTls_;

  uv_tcp_t listener_{};
  uv_timer_t tick_{};
  uv_prepare_t prepare_{};
  uv_check_t check_{};
  std::vector<uv_handle_t*> handles_;  // initialized by start(), closed by close()
  std::unique_ptr<char[]> readBuf_;
  std::unordered_set<PeerTransport*> transports_;  // every transport not yet freed
  std::unordered_map<PeerTransport*, StreamPeek> peeks_;  // plain mode, unidentified
  std::mt19937_64 rng_;
  int openHandles_ = 0;
  bool started_ = false, closing_ = false, closed_ = false;
  std::function<void()> onClosed_;
  ListenerStatus listenerStatus_;

  mutable std::mutex snapshotMutex_;  // guards the two copies below
  std::vector<PeerStatus> snapshot_;
  ListenerStatus listenerSnapshot_;
};

}  // namespace xmesh::mesh
