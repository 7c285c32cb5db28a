#include "r2r/link.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <random>
#include <utility>

#include "xml/element.h"

namespace xmesh::r2r {

std::string_view linkStateName(LinkState state) {
  switch (state) {
    case LinkState::Disconnected: return "disconnected";
    case LinkState::AwaitingHello: return "awaiting-hello";
    case LinkState::Established: return "established";
    case LinkState::Failed: return "failed";
  }
  return "unknown";
}

std::string_view sendResultName(SendResult result) {
  switch (result) {
    case SendResult::Queued: return "queued";
    case SendResult::Full: return "full";
    case SendResult::Invalid: return "invalid";
    case SendResult::NotSent: return "not-sent";
  }
  return "unknown";
}

std::string_view unitKindName(UnitKind kind) {
  switch (kind) {
    case UnitKind::Stanza: return "stanza";
    case UnitKind::Fanout: return "fanout";
    case UnitKind::Control: return "control";
  }
  return "unknown";
}

namespace {

std::string randomEpoch() {
  std::random_device rd;
  const uint64_t value = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  std::array<char, 17> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value, 16);
  (void)ec;
  return std::string(buf.data(), end);
}

bool isRoutedName(std::string_view name) {
  return name == "message" || name == "presence" || name == "iq";
}

// The RFC 6120 condition sent for a reason of ours.
std::string_view conditionFor(std::string_view reason) {
  static constexpr std::array<std::string_view, 7> kRfc{
      "bad-format",       "invalid-namespace", "invalid-xml",         "not-well-formed",
      "policy-violation", "restricted-xml",    "unsupported-encoding"};
  for (std::string_view c : kRfc) {
    if (c == reason) return c;
  }
  if (reason == "version-mismatch") return "unsupported-version";
  if (reason == "wrong-node") return "host-unknown";
  if (reason == "peer-refused") return "not-authorized";
  if (reason == "dead") return "connection-timeout";
  return "undefined-condition";
}

}  // namespace

// Adapts the parser's callbacks onto the Link (kept out of the public header).
class Link::Handler final : public xml::StreamHandler {
 public:
  explicit Handler(Link& link) : link_(link) {}
  void onStreamOpen(const xml::StreamHeader& header) override { link_.onStreamOpen(header); }
  void onStanza(xml::Stanza&& stanza) override { link_.onElement(std::move(stanza)); }
  void onStreamClose() override { link_.protocolError("peer-closed", "peer closed the stream"); }
  void onStreamError(xml::StreamError error, std::string_view detail) override {
    link_.protocolError(xml::streamErrorName(error), detail);
  }

 private:
  Link& link_;
};

namespace {
xml::ParserLimits limitsFor(const LinkConfig& config) {
  xml::ParserLimits limits;
  // The largest unit plus the element wrapping it.
  limits.maxStanzaBytes = config.maxUnitBytes + 4096;
  return limits;
}
}  // namespace

Link::Link(LinkConfig config, Events& events)
    : config_(std::move(config)),
      events_(events),
      handler_(std::make_unique<Handler>(*this)),
      parser_(*handler_, limitsFor(config_)) {
  if (config_.epoch.empty()) config_.epoch = randomEpoch();
  if (config_.ackEvery == 0) config_.ackEvery = 1;
  // A unit larger than the whole queue could never be sent.
  config_.maxUnitBytes = std::min(config_.maxUnitBytes, config_.maxUnackedBytes);
}

Link::~Link() = default;

// ---- Transport events ------------------------------------------------------------------

void Link::connectionOpened(int64_t nowMs) {
  if (state_ != LinkState::Disconnected) connectionClosed();
  parser_.reset();
  state_ = LinkState::AwaitingHello;
  nowMs_ = lastRecvMs_ = nowMs;
  ++stats_.connections;
  const size_t before = output_.size();
  wire::appendStreamHeader(output_, config_.selfNode, config_.peerNode);
  wire::appendHello(output_, wire::HelloFields{config_.selfNode, config_.selfCluster, config_.epoch,
                                               peerEpoch_, config_.version, ackableSeq()});
  stats_.bytesOut += output_.size() - before;
  markWritten();
}

void Link::connectionClosed() {
  state_ = LinkState::Disconnected;
  output_.clear();
  parser_.reset();  // deferred by the parser when called from one of its callbacks
  gotHello_ = gotStart_ = adoptOnStart_ = false;
  ackRequested_ = false;
  peerWantsAck_ = false;
  inNext_ = 0;
}

void Link::feed(std::string_view bytes, int64_t nowMs) {
  if (!connected() || bytes.empty()) return;
  if (nowMs - lastRecvMs_ >= config_.deadAfterMs) {
    // This process did not run for a while (SIGSTOP, a VM pause) and reads what waited
    // in the socket before its tick could run. The peer has declared us dead in the
    // meantime and may have routed those units elsewhere (withdrawRouted): they are not
    // ours to deliver any more. The link dies as the tick would have made it; the next
    // connection sends what is still meant for us.
    nowMs_ = nowMs;
    return declareDead();
  }
  nowMs_ = lastRecvMs_ = nowMs;
  stats_.bytesIn += bytes.size();
  parser_.feed(bytes);
  maybeAck(config_.ackEvery);
}

void Link::onTick(int64_t nowMs) {
  nowMs_ = nowMs;
  if (!connected()) return;
  if (nowMs - lastRecvMs_ >= config_.deadAfterMs) return declareDead();
  if (state_ == LinkState::Established) {
    maybeAck(1);  // whatever arrived since the last ack: the sender's queue drains when idle
    if (!journal_.empty() && !ackRequested_ && nowMs - lastSendMs_ >= config_.heartbeatIntervalMs) {
      requestAck();  // in place of a heartbeat: also answers "is the queue moving?"
    }
  }
  if (nowMs - lastSendMs_ >= config_.heartbeatIntervalMs) {
    const size_t before = output_.size();
    wire::appendHeartbeat(output_);
    stats_.bytesOut += output_.size() - before;
    ++stats_.heartbeatsSent;
    markWritten();
  }
}

// ---- Sending -----------------------------------------------------------------------------

// Why the checks: a unit the peer refuses would be resent on every reconnect and break
// the link for good, so the cheap part of "is this a routed stanza" is checked here.
SendResult Link::sendStanza(std::string_view stanzaBytes) {
  const size_t nameEnd = stanzaBytes.find_first_of(" />");
  if (stanzaBytes.size() < 4 || stanzaBytes.front() != '<' || stanzaBytes.back() != '>' ||
      nameEnd == std::string_view::npos || !isRoutedName(stanzaBytes.substr(1, nameEnd - 1))) {
    ++stats_.sendsRefused;
    return SendResult::Invalid;
  }
  journal_.beginUnit().append(stanzaBytes);
  return commitUnit();
}

SendResult Link::sendFanout(std::span<const std::string> recipients,
                            std::string_view presenceBytes) {
  bool ok = !recipients.empty() && presenceBytes.starts_with("<presence") &&
            presenceBytes.size() > 10 &&
            std::string_view(" />").find(presenceBytes[9]) != std::string_view::npos &&
            presenceBytes.back() == '>';
  for (const std::string& r : recipients) {
    ok = ok && !r.empty() && r.find_first_of(" \t\r\n") == std::string::npos;
  }
  if (!ok) {
    ++stats_.sendsRefused;
    return SendResult::Invalid;
  }
  wire::appendFanout(journal_.beginUnit(), recipients, presenceBytes);
  return commitUnit();
}

SendResult Link::sendControl(std::string_view name, std::span<const Attr> attrs,
                             std::string_view text, std::string_view children) {
  bool ok = wire::isSimpleName(name) && !wire::isReservedName(name);
  for (const auto& [key, value] : attrs) {
    ok = ok && wire::isSimpleName(key) && !key.starts_with("xmlns");
  }
  if (!ok) {
    ++stats_.sendsRefused;
    return SendResult::Invalid;
  }
  wire::appendControl(journal_.beginUnit(), name, attrs, text, children);
  return commitUnit();
}

SendResult Link::sendVolatile(std::string_view name, std::span<const Attr> attrs) {
  bool ok = wire::isSimpleName(name) && !wire::isReservedName(name);
  for (const auto& [key, value] : attrs) ok = ok && wire::isSimpleName(key) && !key.starts_with("xmlns");
  if (!ok) {
    ++stats_.sendsRefused;
    return SendResult::Invalid;
  }
  if (state_ != LinkState::Established) return SendResult::NotSent;
  const size_t before = output_.size();
  wire::appendControl(output_, name, attrs, {}, {});
  stats_.bytesOut += output_.size() - before;
  markWritten();
  return SendResult::Queued;
}

// Keeps the unit just serialized into the journal, or takes it back if it breaks a bound.
SendResult Link::commitUnit() {
  const size_t size = journal_.openUnitBytes();
  if (size > config_.maxUnitBytes) {
    journal_.rollbackUnit();
    ++stats_.sendsRefused;
    return SendResult::Invalid;
  }
  if (journal_.bytes() + size > config_.maxUnackedBytes) {
    journal_.rollbackUnit();
    ++stats_.sendsRefused;
    full_ = true;
    if (state_ == LinkState::Established && !ackRequested_) requestAck();
    return SendResult::Full;
  }
  journal_.commitUnit();
  ++stats_.unitsSent;
  if (state_ == LinkState::Established) {
    output_.append(journal_.last());
    stats_.bytesOut += size;
    maxWritten_ = sentSeq();
    markWritten();
  }
  return SendResult::Queued;
}

void Link::requestAck() {
  if (state_ != LinkState::Established) return;
  wire::appendAckRequest(output_);
  stats_.bytesOut += 6;
  ++stats_.ackRequestsSent;
  ackRequested_ = true;
  markWritten();
}

void Link::writeAck() {
  const size_t before = output_.size();
  const uint64_t h = ackableSeq();
  wire::appendAck(output_, h);
  stats_.bytesOut += output_.size() - before;
  ++stats_.acksSent;
  inAckSent_ = h;
  markWritten();
}

void Link::maybeAck(size_t threshold) {
  if (state_ == LinkState::Established && gotStart_ && ackableSeq() - inAckSent_ >= threshold) {
    writeAck();
  }
}

void Link::allowAck(uint64_t generation, uint64_t upTo) {
  if (generation != inGeneration_ || upTo <= ackAllowed_) return;
  ackAllowed_ = std::min(upTo, inReceived_);
  if (peerWantsAck_) {
    maybeAck(1);
    peerWantsAck_ = ackableSeq() < inReceived_;
  } else {
    maybeAck(config_.ackEvery);  // as if the units had arrived now; the tick acks the rest
  }
}

std::vector<WithdrawnUnit> Link::withdrawRouted(const std::function<bool(UnitKind, std::string_view)>& take) {
  std::vector<WithdrawnUnit> out;
  if (state_ == LinkState::Established) return out;
  for (uint64_t seq = std::max(withdrawScanned_, outAcked_) + 1; seq <= sentSeq(); ++seq) {
    const std::string_view bytes = journal_.unit(static_cast<size_t>(seq - outAcked_ - 1));
    UnitKind kind = UnitKind::Control;
    if (bytes.starts_with("<m:fanout")) {
      kind = UnitKind::Fanout;
    } else if (bytes.starts_with("<message") || bytes.starts_with("<presence") || bytes.starts_with("<iq")) {
      kind = UnitKind::Stanza;
    }
    if (kind == UnitKind::Control || !take(kind, bytes)) continue;
    out.push_back(WithdrawnUnit{seq, kind, std::string(bytes)});
    voids_.push_back(seq);
  }
  withdrawScanned_ = sentSeq();
  stats_.unitsWithdrawn += out.size();
  return out;
}

void Link::declareDead() {
  state_ = LinkState::Failed;
  ++stats_.deaths;
  events_.onDead();
}

void Link::fail(std::string_view reason, std::string_view detail) { protocolError(reason, detail); }

// Ends this connection with a stream error. Units are untouched: they resume on the next.
void Link::protocolError(std::string_view reason, std::string_view detail) {
  if (!connected()) return;
  state_ = LinkState::Failed;
  ++stats_.errors;
  const size_t before = output_.size();
  if (reason != "peer-closed" && reason != "peer-error") {
    std::string text(reason);
    if (!detail.empty()) {
      text += ": ";
      text += detail;
    }
    wire::appendStreamError(output_, conditionFor(reason), text);
  }
  wire::appendStreamClose(output_);
  stats_.bytesOut += output_.size() - before;
  events_.onLinkError(Error{std::string(reason), std::string(detail)});
}

// ---- Receiving ---------------------------------------------------------------------------

void Link::onStreamOpen(const xml::StreamHeader& header) {
  if (!connected()) return;
  if (header.ns != kClientNs) {
    protocolError("invalid-namespace", "stream default namespace is not jabber:client");
    return;
  }
  if (header.from.empty() || (!config_.peerNode.empty() && header.from != config_.peerNode) ||
      (!header.to.empty() && header.to != config_.selfNode)) {
    protocolError("wrong-node", "stream from '" + header.from + "' to '" + header.to + "'");
    return;
  }
  header_ = header;
}

void Link::onElement(xml::Stanza&& stanza) {
  if (!connected()) return;  // after an error or a close asked from a callback
  if (stanza.ns == kNs) {
    onLinkElement(std::move(stanza));
  } else if (stanza.ns == kClientNs && isRoutedName(stanza.name)) {
    onCountedUnit(std::move(stanza), UnitKind::Stanza);
  } else if (stanza.ns == kStreamsNs && stanza.name == "error") {
    onPeerStreamError(stanza);
  } else {
    protocolError("unknown-element", "<" + stanza.name + "> in '" + stanza.ns + "'");
  }
}

void Link::onLinkElement(xml::Stanza&& stanza) {
  const std::string& name = stanza.name;
  if (name == "hello") return onHello(stanza);
  if (!gotHello_) return protocolError("unexpected-element", "<" + name + "> before hello");
  if (name == "start") return onStart(stanza);
  if (name == "a") return onAck(stanza);
  if (name == "r") {
    if (!gotStart_) return;
    writeAck();
    // Gated: answered again as soon as the application allows more.
    peerWantsAck_ = ackableSeq() < inReceived_;
    return;
  }
  if (name == "hb") return;  // its bytes already refreshed lastRecvMs_
  if (name == "fanout") return onCountedUnit(std::move(stanza), UnitKind::Fanout);
  if (name == "void") return onVoidUnit();
  for (const std::string& kind : config_.controlKinds) {
    if (kind == name) return onCountedUnit(std::move(stanza), UnitKind::Control);
  }
  for (const std::string& kind : config_.volatileKinds) {
    if (kind == name) return onVolatileUnit(std::move(stanza));
  }
  protocolError("unknown-element", "<" + name + "> in our namespace");
}

void Link::onHello(const xml::Stanza& stanza) {
  if (gotHello_) return protocolError("duplicate-hello", "second hello on one connection");
  auto scanned = wire::scanElement(stanza.bytes);
  if (!scanned) return protocolError("bad-format", "hello: " + scanned.error().detail);
  const Attrs& a = scanned->attrs;
  PeerHello hello;
  hello.node = wire::findAttr(a, "node");
  hello.cluster = wire::findAttr(a, "cluster");
  hello.epoch = wire::findAttr(a, "epoch");
  hello.streamFrom = header_.from;
  hello.streamTo = header_.to;
  uint64_t version = 0;
  if (hello.node.empty() || hello.epoch.empty() ||
      !wire::parseUint64(wire::findAttr(a, "version"), &version) ||
      !wire::parseUint64(wire::findAttr(a, "h"), &hello.h)) {
    return protocolError("bad-format", "hello lacks node, epoch, version or h");
  }
  if (version != config_.version) {
    return protocolError("version-mismatch", "peer speaks version " + std::to_string(version) +
                                                 ", we speak " + std::to_string(config_.version));
  }
  hello.version = static_cast<uint32_t>(version);
  if (hello.node != header_.from) {
    return protocolError("wrong-node", "hello node '" + hello.node + "' differs from stream from");
  }
  hello.knowsUs = wire::findAttr(a, "peer-epoch") == config_.epoch;
  // It cannot have more than we ever wrote, nor less than it already acknowledged.
  if (hello.knowsUs && (hello.h < outAcked_ || hello.h > maxWritten_)) {
    return protocolError("h-out-of-range", "hello h=" + std::to_string(hello.h) + ", acked " +
                                               std::to_string(outAcked_) + ", written " +
                                               std::to_string(maxWritten_));
  }
  hello.peerRestarted = !peerEpoch_.empty() && hello.epoch != peerEpoch_;
  if (Status st = events_.checkPeer(hello); !st) {
    return protocolError(
        "peer-refused",
        st.error().reason + (st.error().detail.empty() ? "" : ": " + st.error().detail));
  }
  if (!connected()) return;  // the caller closed from inside checkPeer
  gotHello_ = true;
  adoptOnStart_ = hello.epoch != peerEpoch_;
  if (hello.peerRestarted) ++stats_.peerRestarts;
  // What the peer has is acknowledged; everything after it is written again, in order.
  if (hello.knowsUs) pruneAcked(hello.h);
  const size_t before = output_.size();
  wire::appendStart(output_, outAcked_);
  auto nextVoid = voids_.begin();
  for (size_t i = 0; i < journal_.count(); ++i) {
    if (nextVoid != voids_.end() && *nextVoid == outAcked_ + 1 + i) {
      wire::appendVoid(output_);  // withdrawn: counted, delivered to nobody
      ++nextVoid;
    } else {
      output_.append(journal_.unit(i));
    }
  }
  stats_.bytesOut += output_.size() - before;
  const uint64_t resent = maxWritten_ > outAcked_ ? maxWritten_ - outAcked_ : 0;
  stats_.unitsResent += std::min<uint64_t>(resent, journal_.count());
  maxWritten_ = std::max(maxWritten_, sentSeq());
  markWritten();
  hello_ = std::move(hello);
  state_ = LinkState::Established;
  ++stats_.establishments;
  events_.onEstablished(hello_);
}

void Link::onStart(const xml::Stanza& stanza) {
  if (gotStart_) return protocolError("unexpected-element", "second start on one connection");
  auto scanned = wire::scanElement(stanza.bytes);
  uint64_t after = 0;
  if (!scanned || !wire::parseUint64(wire::findAttr(scanned->attrs, "after"), &after)) {
    return protocolError("bad-format", "start lacks after");
  }
  if (adoptOnStart_) {
    // A new incarnation of the peer (or the first contact): its numbering starts here.
    peerEpoch_ = hello_.epoch;
    inReceived_ = inAckSent_ = ackAllowed_ = after;
    ++inGeneration_;
    adoptOnStart_ = false;
  } else if (after > inReceived_) {
    // Units inReceived_+1 .. after would never arrive: refuse rather than lose them.
    return protocolError("h-out-of-range", "start after=" + std::to_string(after) +
                                               " but received " + std::to_string(inReceived_));
  }
  inNext_ = after + 1;
  gotStart_ = true;
}

void Link::onAck(const xml::Stanza& stanza) {
  auto scanned = wire::scanElement(stanza.bytes);
  uint64_t h = 0;
  if (!scanned || !wire::parseUint64(wire::findAttr(scanned->attrs, "h"), &h)) {
    return protocolError("bad-format", "ack lacks h");
  }
  if (h < outAcked_ || h > sentSeq()) {
    return protocolError("h-out-of-range", "ack h=" + std::to_string(h) + ", acked " +
                                               std::to_string(outAcked_) + ", sent " +
                                               std::to_string(sentSeq()));
  }
  ++stats_.acksReceived;
  ackRequested_ = false;
  pruneAcked(h);
}

void Link::pruneAcked(uint64_t h) {
  journal_.popFront(static_cast<size_t>(h - outAcked_));
  outAcked_ = h;
  while (!voids_.empty() && voids_.front() <= h) voids_.pop_front();
  if (full_ && journal_.bytes() <= config_.maxUnackedBytes / 2) {
    full_ = false;
    events_.onWritable();
  }
}

void Link::onPeerStreamError(const xml::Stanza& stanza) {
  std::string condition = "undefined-condition";
  std::string text;
  if (auto tree = xml::parseElement(stanza.bytes, stanza.ns)) {
    for (const xml::Element& child : tree->children()) {
      if (child.name() == "text") {
        text = child.text();
      } else {
        condition = child.name();
      }
    }
  }
  protocolError("peer-error", text.empty() ? condition : condition + ": " + text);
}

void Link::onCountedUnit(xml::Stanza&& stanza, UnitKind kind) {
  if (!gotStart_) return protocolError("unexpected-element", "unit before start");
  const uint64_t seq = inNext_++;
  if (seq <= inReceived_) {
    ++stats_.duplicatesDropped;  // the peer resent what we already had: recognized by count
    return;
  }
  assert(seq == inReceived_ + 1);  // start refused any gap, and units come one by one
  Unit unit;
  unit.kind = kind;
  unit.seq = seq;
  unit.stanza = std::move(stanza);
  if (Status st = decodeUnit(unit); !st) return protocolError(st.error().reason, st.error().detail);
  inReceived_ = seq;
  ++stats_.unitsReceived;
  events_.onUnit(std::move(unit));
}

// A unit the peer withdrew (withdrawRouted): it keeps the numbering and is not delivered.
void Link::onVoidUnit() {
  if (!gotStart_) return protocolError("unexpected-element", "unit before start");
  const uint64_t seq = inNext_++;
  if (seq <= inReceived_) {
    ++stats_.duplicatesDropped;
    return;
  }
  inReceived_ = seq;
  ++stats_.voidsReceived;
  // Nothing to hand over: no reason to hold its ack back.
  if (config_.gatedAcks && ackAllowed_ + 1 == seq) ackAllowed_ = seq;
}

void Link::onVolatileUnit(xml::Stanza&& stanza) {
  if (!gotStart_) return protocolError("unexpected-element", "unit before start");
  Unit unit;
  unit.kind = UnitKind::Control;
  unit.seq = 0;
  unit.stanza = std::move(stanza);
  if (Status st = decodeUnit(unit); !st) return protocolError(st.error().reason, st.error().detail);
  events_.onUnit(std::move(unit));
}

// Fills the kind-specific fields of a unit from its element.
Status Link::decodeUnit(Unit& unit) {
  if (unit.kind == UnitKind::Stanza) return Status::ok();
  auto scanned = wire::scanElement(unit.stanza.bytes);
  if (!scanned) return Status::fail("bad-format", scanned.error().detail);
  if (unit.kind == UnitKind::Control) {
    unit.attrs = std::move(scanned->attrs);
    unit.text = std::move(scanned->text);
    unit.children = std::move(scanned->children);
    return Status::ok();
  }
  // Fan-out: exactly one presence child, a recipient list, no text.
  if (scanned->childCount != 1 || scanned->text.find_first_not_of(" \t\r\n") != std::string::npos) {
    return Status::fail("bad-fanout", "fanout must hold exactly one presence");
  }
  unit.recipients = wire::splitRecipients(wire::findAttr(scanned->attrs, "to"));
  if (unit.recipients.empty()) return Status::fail("bad-fanout", "fanout without recipients");
  auto presence = wire::stanzaFromCanonical(scanned->children);
  if (!presence) return Status::fail("bad-fanout", presence.error().detail);
  if (presence->name != "presence")
    return Status::fail("bad-fanout", "fanout child is not presence");
  unit.stanza = std::move(*presence);
  return Status::ok();
}

}  // namespace xmesh::r2r
