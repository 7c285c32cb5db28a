// One client-to-server XMPP stream (RFC 6120), from the first byte to close: stream
// negotiation (STARTTLS, SASL, bind), then the bound session's stanzas (RFC 6121) and
// XEP-0198 stream management. It owns the XML parser and talks to the network only
// through Transport, so it runs unchanged over TCP, TLS, or a test pipe.
//
// Lifetime: owned by its connection; the loop's registry maps SessionRef -> session for
// deliveries. Store completions look the session up by id, so a completion arriving
// after the session died is dropped safely.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

#include "jid/jid.h"
#include "router/directory.h"
#include "sasl/plain.h"
#include "sasl/scram.h"
#include "session/session_env.h"
#include "session/stream_management.h"
#include "session/transport.h"
#include "xml/stream_parser.h"

namespace xmesh::session {

enum class SessionState { Negotiating, Active, Inactive, Closing };
std::string_view sessionStateName(SessionState s);

// The part of a bound session that moves to a new connection on XEP-0198 resumption.
struct ResumeGrant {
  jid::Jid jid;
  StreamManagement sm;
  std::string smId;
  bool available = false;
  std::unordered_set<int64_t> offlineSeen;  // offline ids already in the SM queue
  // Dual connections: the session's state and what it restores at activation.
  bool inactive = false;
  bool dual = false;
  router::SharedBytes savedPresence;
  int savedPriority = 0;
};

class C2sSession : public xml::StreamHandler {
 public:
  C2sSession(SessionEnv& env, Transport* transport, bool directTls);
  ~C2sSession() override;
  C2sSession(const C2sSession&) = delete;
  C2sSession& operator=(const C2sSession&) = delete;

  // Plaintext from the client (already decrypted by the transport).
  void onBytes(std::string_view bytes);
  // The transport finished the TLS handshake (STARTTLS or direct TLS).
  void onTlsEstablished();
  // The connection is gone (peer closed, error, timeout): the transport pointer is
  // dropped. A resumable bound session stays detached for the resume timeout; any other
  // session finishes. Idempotent.
  void onDisconnect();
  // A stanza routed to this session.
  void deliver(const router::SharedBytes& bytes, StanzaClass cls, int64_t offlineId = 0);
  // Fetches and delivers stored offline messages (initial presence, or a late arrival).
  void flushOffline();
  // Closes with a stream error (RFC 6120 4.9), e.g. connection-timeout, conflict.
  // `content` is the condition element's character data (see-other-host's host:port).
  void failStream(std::string_view condition, std::string_view text = {},
                  std::string_view content = {});

  SessionState state() const { return state_; }
  bool authenticated() const { return authenticated_; }
  bool bound() const { return bound_; }
  bool detached() const { return detached_; }
  const jid::Jid& jid() const { return jid_; }
  const router::SessionRef& ref() const { return ref_; }
  // The user's home node (from the store at SASL; "" = unassigned).
  const std::string& homeNode() const { return homeNode_; }
  // Bound, active and not finished: the router may deliver to it.
  bool routable() const { return bound_ && !finished_ && state_ == SessionState::Active; }
  // Negotiated XMESH-DUAL (bound inactive, or asked for its backup).
  bool dualNegotiated() const { return dual_; }
  // This node started (servedHere) or stopped serving the user's home node
  // (Loop::onServingChanged). Stopped: a dual session is demoted to inactive and told,
  // a plain one is closed with see-other-host; started: an inactive session is told to
  // activate. See docs/dual-connections.md §5-7.
  void onServingChanged(bool servedHere);
  int64_t lastInputMs() const { return lastInputMs_; }
  int64_t createdMs() const { return createdMs_; }
  // Called by the loop's sweep: enforces pre-auth and SM-detached timeouts. Returns
  // true if the session is finished and may be destroyed.
  bool sweep(int64_t nowMs);
  bool finished() const { return finished_; }

  // Replication to the PRG peer (c2s_replica.cc): everything the peer needs to take this
  // session over, published again in full when the peer's link (re)starts.
  void publishReplicaSnapshot();

  // Resumption (XEP-0198): the old session on its own loop hands its state over.
  std::optional<ResumeGrant> takeForResume(const std::string& username);
  void completeResume(ResumeGrant grant, uint32_t clientH, std::string previd);
  void failResume(std::string_view condition);

  // xml::StreamHandler
  void onStreamOpen(const xml::StreamHeader& header) override;
  void onStanza(xml::Stanza&& stanza) override;
  void onStreamClose() override;
  void onStreamError(xml::StreamError error, std::string_view detail) override;

 private:
  enum class Phase { WaitStreamOpen, WaitFeatureRequest, SaslInProgress, WaitingStore, Bound, Closed };

  void sendFeatures();
  void handleNegotiation(xml::Stanza&& s);
  void handleStartTls();
  void handleAuth(const xml::Stanza& s);
  void handleSaslResponse(const xml::Stanza& s);
  void startScram(sasl::HashAlg alg, std::string_view initial);
  void finishPlain(sasl::PlainCredentials creds);
  void saslSuccess(std::string_view username, std::string_view additionalData);
  void saslFailure(sasl::Failure f, std::string_view text = {});
  void handleBindIq(const xml::Stanza& s);
  void completeBind(std::string resource, std::string iqId,
                    std::vector<router::RosterEntry> roster, bool rosterFromStore, bool inactive);
  bool redirectIfServedElsewhere();

  void handleBoundStanza(xml::Stanza&& s);
  void handleMessage(xml::Stanza&& s);
  void handlePresence(xml::Stanza&& s);
  void handleIq(xml::Stanza&& s);
  void handleServerIq(const xml::Stanza& s);
  void handleRosterIq(const xml::Stanza& s);
  void handleSm(const xml::Stanza& s);
  void handleResume(const xml::Stanza& s);
  void answerAckRequest(uint32_t h);
  void deliverPendingSubscriptions();
  void announcePresence(router::SharedBytes bytes, bool available, int priority);

  // XMESH-DUAL (c2s_dual.cc).
  bool allowedWhileInactive(const xml::Stanza& s) const;
  bool sentBeforeDemotionSeen(const xml::Stanza& s);
  void handleDualIq(const xml::Stanza& s);
  // `mayHold`: an early request may wait for the takeover (false once its hold ended).
  void activate(const xml::Stanza& s, bool mayHold = true);
  void deactivate();
  // A plain session whose user moved away: closed with see-other-host once the client
  // acknowledged what it has (XEP-0198), or after kMoveAckWaitMs.
  void finishMove();
  // The hold of an early <activate/> ended (sweep): activated if served by now, else refused.
  void expireHeldActivation(int64_t nowMs);
  void sendDualNotice(std::string_view payload);
  std::string servingNodeText() const;
  void setActive(bool active);

  // Replication (c2s_replica.cc); each does nothing unless the session is replicated.
  router::ReplicaSink* replicaTarget();
  void replicateOpen();
  void replicatePresence(const router::SharedBytes& bytes, bool available, int priority);
  void replicateOut(const router::SharedBytes& bytes, StanzaClass cls, int64_t offlineId);
  void replicateAck(uint32_t h);
  void replicateClose();

  void sendStanzaError(const xml::Stanza& s, std::string_view condition, std::string_view text = {},
                       std::string_view errorType = {});
  void sendIqResult(const xml::Stanza& s, std::string_view payload = {});
  void sendRaw(std::string_view bytes);
  void sendStreamHeader();
  void closeStream();
  void releaseSession(bool broadcastUnavailable);
  void countIn(StanzaClass c);
  void resetParser(bool authenticatedLimits);
  void suspendInput();
  void resumeInput();
  int64_t now() const { return env_.nowMs(); }
  static constexpr int64_t kReleaseParserAfterMs = 1000;

  SessionEnv& env_;
  Transport* transport_;  // null once the connection is gone
  std::unique_ptr<xml::StreamParser> parser_;
  router::SessionRef ref_;
  SessionState state_ = SessionState::Negotiating;
  Phase phase_ = Phase::WaitStreamOpen;
  bool directTls_ = false;
  bool headerSent_ = false;
  bool authenticated_ = false;
  bool bound_ = false;
  bool available_ = false;
  bool detached_ = false;
  bool finished_ = false;
  bool closing_ = false;
  bool legacyBoundRegistered_ = false;
  int saslAttempts_ = 0;
  int64_t createdMs_ = 0;
  int64_t lastInputMs_ = 0;
  int64_t detachedAtMs_ = 0;
  std::string streamId_;
  std::string username_;  // after SASL
  std::string homeNode_;  // from the store during SASL; "" = unassigned
  jid::Jid jid_;          // after bind
  std::unique_ptr<sasl::ScramServer> scram_;
  StreamManagement sm_;
  std::string smId_;
  std::string pendingInput_;  // plaintext received while input is suspended
  bool inputSuspended_ = false;
  std::unordered_set<int64_t> offlineSeen_;  // offline ids delivered on this stream
  // XMESH-DUAL: negotiated on this session; the presence a demoted session had, restored
  // when it activates again; the id counter of server-initiated notices.
  bool dual_ = false;
  bool moveAfterAck_ = false;  // onServingChanged asked for an ack before redirecting
  int64_t moveDeadlineMs_ = 0;
  static constexpr int64_t kMoveAckWaitMs = 1000;
  router::SharedBytes savedPresence_;
  int savedPriority_ = 0;
  uint32_t noticeSeq_ = 0;
  bool deliveringNotice_ = false;  // our own notices are not replicated (the peer sends its own)
  // Demoted while replicated: the PRG peer holds this stream's unacknowledged stanzas for
  // the client's activation there, so they do not go to offline storage here at the end.
  bool handedOff_ = false;
  uint32_t ackAnswered_ = 0;  // the last h sent in an <a/>
  // A demoted session routes the messages the client wrote before it read the
  // <deactivated/> notice: until the client answers it (its id), or the grace ends.
  std::string demotionNoticeId_;
  int64_t demotionGraceUntilMs_ = 0;
  // An <activate/> asked before this node served the user, held until it does (the
  // client saw its home die before our SRM did) or until the hold ends (refused then).
  std::shared_ptr<const xml::Stanza> heldActivation_;
  int64_t heldActivationUntilMs_ = 0;
  static constexpr int64_t kDemotionGraceMs = 5000;
};

}  // namespace xmesh::session
