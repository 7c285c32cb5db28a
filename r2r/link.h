// One router-to-router link, sans-IO: bytes in, events and bytes out (PROTOCOL.md).
//
// A Link stands for the peer node, not for a connection: it lives as long as this
// process, survives any number of transport resets, and holds both directions' sequence
// counters and the resend queue. Each transport (TCP, then TLS) is announced with
// connectionOpened() and ended with connectionClosed(); in between its bytes go to
// feed() and output() is written back. Across resets, no counted unit is lost,
// duplicated or reordered in either direction; a restarted peer process (new epoch) is
// detected, reported, and gets every unit it has not acknowledged.
//
// Threading: single-threaded, owned by the loop that owns the transport. Callbacks run
// synchronously inside feed(), onTick() and connectionOpened(); from a callback the
// caller may call send*(), requestAck(), fail(), connectionClosed() and the accessors,
// but must not destroy the Link or call connectionOpened().
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "r2r/journal.h"
#include "r2r/unit.h"
#include "r2r/wire.h"
#include "xml/stream_parser.h"

namespace xmesh::r2r {

struct LinkConfig {
  std::string selfNode, selfCluster;
  std::string peerNode;  // the node this link is for; the peer must name itself so
  uint32_t version = kProtocolVersion;
  // This process's incarnation: the same for all links of a process, new at every start
  // (e.g. 64 random bits in hex). Empty: the Link draws a random one.
  std::string epoch;
  int64_t heartbeatIntervalMs = 1000;  // <m:hb/> after this long without writing
  int64_t deadAfterMs = 3000;          // onDead() after this long without receiving a byte
  size_t maxUnackedBytes = 64u << 20;  // send*() reports Full beyond this
  size_t ackEvery = 32;                // ack after this many units received (and on tick)
  size_t maxUnitBytes = 1u << 20;      // largest unit either way (the parser's stanza limit)
  // Control kinds accepted from the peer; anything else in our namespace is an error.
  // Later features add kinds here, the Link itself does not change.
  std::vector<std::string> controlKinds = {"dir", "serve", "failover", "rep", "reroute"};
  // Volatile control kinds: not counted, acknowledged or resent; written only while
  // established and lost with the connection (sendVolatile). For state that is stale
  // once a newer copy exists and dangerous when replayed late, e.g. SRM heartbeats: a
  // heartbeat resent to a peer's next incarnation would describe a past that is gone.
  std::vector<std::string> volatileKinds = {"srm"};
  // Acks wait for the application (allowAck): a node that replicates to its PRG peer
  // acknowledges a unit only once what the unit caused has reached the peer, so the
  // sender keeps (and may reroute) everything a crash here could lose.
  bool gatedAcks = false;
};

enum class LinkState : uint8_t {
  Disconnected,   // no transport
  AwaitingHello,  // transport up, our hello sent, the peer's not yet accepted
  Established,    // hellos exchanged: units flow
  Failed,         // protocol error or dead: flush output(), close, connectionClosed()
};
std::string_view linkStateName(LinkState state);

// clang-format off
enum class [[nodiscard]] SendResult : uint8_t {
  Queued,   // counted; will reach the peer exactly once
  Full,     // refused: unacked bytes would pass maxUnackedBytes (onWritable() follows)
  Invalid,  // refused: malformed arguments or larger than maxUnitBytes
  NotSent,  // sendVolatile: the link is not established, nothing was written
};
// clang-format on
std::string_view sendResultName(SendResult result);

// The peer as its hello describes it (and its stream header).
struct PeerHello {
  std::string node, cluster;
  uint32_t version = 0;
  std::string epoch;           // the peer's incarnation
  uint64_t h = 0;              // units of ours it has received (meaningful when knowsUs)
  bool knowsUs = false;        // its hello named our current epoch
  bool peerRestarted = false;  // we had talked to a different incarnation of the peer
  std::string streamFrom, streamTo;
};

// A routed unit taken back from the journal (Link::withdrawRouted).
struct WithdrawnUnit {
  uint64_t seq = 0;  // its number in our numbering towards this peer
  UnitKind kind = UnitKind::Stanza;  // Stanza or Fanout
  std::string bytes;                 // the unit as it was queued
};

struct LinkStats {
  uint64_t unitsSent = 0;          // counted units accepted by send*()
  uint64_t unitsReceived = 0;      // delivered through onUnit()
  uint64_t unitsResent = 0;        // written again on a later connection
  uint64_t duplicatesDropped = 0;  // received again and dropped by count
  uint64_t unitsWithdrawn = 0;     // routed units taken back (withdrawRouted)
  uint64_t voidsReceived = 0;      // <m:void/> placeholders counted and dropped
  uint64_t sendsRefused = 0;       // Full or Invalid
  uint64_t acksSent = 0, acksReceived = 0, ackRequestsSent = 0, heartbeatsSent = 0;
  uint64_t bytesIn = 0, bytesOut = 0;
  uint64_t connections = 0, establishments = 0, peerRestarts = 0, errors = 0, deaths = 0;
};

class Link {
 public:
  class Events {
   public:
    virtual ~Events() = default;
    // The peer's hello arrived: check node/cluster against the topology and the TLS
    // certificate's identity. A failure refuses the peer: the reason goes to the peer in
    // a stream error and comes back through onLinkError().
    virtual Status checkPeer(const PeerHello& hello) = 0;
    // Units flow from now on (after a restart, re-sync what the peer lost).
    virtual void onEstablished(const PeerHello& hello) = 0;
    // Exactly once per unit, in the peer's order.
    virtual void onUnit(Unit&& unit) = 0;
    // Protocol error (ours or the peer's): output() holds the stream error; flush it,
    // close the transport, call connectionClosed(). error.reason is stable (metrics).
    virtual void onLinkError(const Error& error) = 0;
    // Nothing received for deadAfterMs: close the transport, call connectionClosed().
    virtual void onDead() = 0;
    // After a Full: unacked bytes fell to half the bound, sending may resume.
    virtual void onWritable() {}
  };

  Link(LinkConfig config, Events& events);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // A new transport is up (after TLS): writes our stream header and hello. Implies
  // connectionClosed() of the previous one, if any.
  void connectionOpened(int64_t nowMs);
  // Bytes read from the transport. Ignored unless connected and not Failed.
  void feed(std::string_view bytes, int64_t nowMs);
  // The transport is gone. Unwritten output is dropped; unacked units stay for resend.
  void connectionClosed();

  // Counted units. Queued while disconnected and sent when the link is established.
  // stanzaBytes: a complete jabber:client message/presence/iq with its `from`
  // (xml::Stanza::withFrom()), in the default namespace.
  SendResult sendStanza(std::string_view stanzaBytes);
  // One presence (with `from`) for several recipients on the peer node (bare JIDs).
  SendResult sendFanout(std::span<const std::string> recipients, std::string_view presenceBytes);
  // A control record <m:{name} attrs...>{text}{children}</m:{name}>. name must be a
  // kind the peer accepts (LinkConfig::controlKinds) and not a link element; children,
  // if any, are well-formed canonical XML (unprefixed names are jabber:client).
  SendResult sendControl(std::string_view name, std::span<const Attr> attrs,
                         std::string_view text = {}, std::string_view children = {});
  // A volatile control record (LinkConfig::volatileKinds): written now if established,
  // else NotSent; never counted, acknowledged or resent. The peer gets it as a Control
  // unit with seq 0, in order with the counted units around it.
  SendResult sendVolatile(std::string_view name, std::span<const Attr> attrs);
  // Takes back every routed unit (stanza, fan-out) still unacknowledged for which
  // `take(kind, bytes)` says yes, oldest first, each at most once; the peer gets an
  // <m:void/> in its place, so both sides' numbering stays whole. For a peer that died and
  // whose users another node serves now: the caller routes the units there. Only while
  // not established (what the current connection carried may be in the peer's hands:
  // empty then). Units the peer already received but had not acknowledged may have
  // been handled there too; the caller deduplicates (router/ack_gate.h).
  std::vector<WithdrawnUnit> withdrawRouted(const std::function<bool(UnitKind, std::string_view)>& take);
  // Gated acks (LinkConfig::gatedAcks): the peer may be told it delivered units up to
  // `upTo` of its numbering generation `generation` (receivedGeneration() when the
  // caller took receivedSeq()); a stale generation is ignored.
  void allowAck(uint64_t generation, uint64_t upTo);
  // Asks the peer for an ack now (<m:r/>); no-op unless established.
  void requestAck();
  // Caller-side refusal (e.g. a peer speaking for users it does not serve, repeatedly):
  // writes a stream error and moves to Failed; reported through onLinkError().
  void fail(std::string_view reason, std::string_view detail = {});

  // Time passes: heartbeats, tick acks, dead-peer detection.
  void onTick(int64_t nowMs);

  // Bytes to write. The caller takes them (std::move or clear()) and writes them in order.
  std::string& output() { return output_; }
  // Frees the XML parser's memory while the stream is idle (see StreamParser).
  bool releaseIdle() { return parser_.releaseIdle(); }

  LinkState state() const { return state_; }
  const LinkStats& stats() const { return stats_; }
  const LinkConfig& config() const { return config_; }
  const PeerHello& peer() const { return hello_; }  // the last accepted hello
  size_t unackedCount() const { return journal_.count(); }
  size_t unackedBytes() const { return journal_.bytes(); }
  uint64_t sentSeq() const { return outAcked_ + journal_.count(); }  // last unit queued
  uint64_t ackedSeq() const { return outAcked_; }
  uint64_t receivedSeq() const { return inReceived_; }  // last unit delivered
  // The peer incarnation receivedSeq() counts in, and a counter bumped whenever it
  // changes (allowAck's guard).
  const std::string& receivedEpoch() const { return peerEpoch_; }
  uint64_t receivedGeneration() const { return inGeneration_; }
  uint64_t ackableSeq() const { return config_.gatedAcks ? std::min(inReceived_, ackAllowed_) : inReceived_; }

 private:
  class Handler;
  friend class Handler;

  void onStreamOpen(const xml::StreamHeader& header);
  void onElement(xml::Stanza&& stanza);
  void onLinkElement(xml::Stanza&& stanza);
  void onHello(const xml::Stanza& stanza);
  void onStart(const xml::Stanza& stanza);
  void onAck(const xml::Stanza& stanza);
  void onPeerStreamError(const xml::Stanza& stanza);
  void onCountedUnit(xml::Stanza&& stanza, UnitKind kind);
  void onVoidUnit();
  void onVolatileUnit(xml::Stanza&& stanza);
  Status decodeUnit(Unit& unit);
  void protocolError(std::string_view reason, std::string_view detail);
  // Nothing received for deadAfterMs: Failed, reported through onDead().
  void declareDead();
  SendResult commitUnit();
  void pruneAcked(uint64_t h);
  void writeAck();
  void maybeAck(size_t threshold);
  void markWritten() { lastSendMs_ = nowMs_; }
  bool connected() const {
    return state_ == LinkState::AwaitingHello || state_ == LinkState::Established;
  }

  LinkConfig config_;
  Events& events_;
  std::unique_ptr<Handler> handler_;
  xml::StreamParser parser_;
  LinkState state_ = LinkState::Disconnected;
  std::string output_;
  LinkStats stats_;

  // Outbound (our numbering): units 1..outAcked_ acknowledged, the journal holds
  // outAcked_+1 .. sentSeq(); all of them are written while Established.
  UnackedJournal journal_;
  uint64_t outAcked_ = 0;
  uint64_t maxWritten_ = 0;  // highest unit ever written (resend accounting)
  bool full_ = false;        // Full was reported; onWritable() owed
  bool ackRequested_ = false;
  // Withdrawn units (ascending seqs, all unacked) are written as <m:void/>; units up to
  // withdrawScanned_ were offered to withdrawRouted() already.
  std::deque<uint64_t> voids_;
  uint64_t withdrawScanned_ = 0;

  // Inbound (the peer's numbering, for incarnation peerEpoch_).
  std::string peerEpoch_;
  uint64_t inReceived_ = 0;
  uint64_t inAckSent_ = 0;
  uint64_t ackAllowed_ = 0;    // gatedAcks: the application's allowance
  bool peerWantsAck_ = false;  // gatedAcks: an <m:r/> asked for more than was allowed
  uint64_t inGeneration_ = 0;  // bumped when peerEpoch_ changes

  // Per connection.
  bool gotHello_ = false, gotStart_ = false;
  bool adoptOnStart_ = false;  // the peer's epoch is new: take its numbering at <start/>
  uint64_t inNext_ = 0;        // sequence number of the next unit on this connection
  PeerHello hello_;
  xml::StreamHeader header_;
  int64_t nowMs_ = 0, lastRecvMs_ = 0, lastSendMs_ = 0;
};

}  // namespace xmesh::r2r
