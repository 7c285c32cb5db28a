// The XMPP client of one simulated user, sans-IO: plaintext bytes in (onBytes), plaintext
// bytes out (through ClientTransport::send), events out (ClientListener). It never touches
// a socket, the loop or TLS: when the server says <proceed/>, it asks the transport to
// start TLS and keeps writing plaintext, which the transport encrypts from then on.
//
// Login sequence (RFC 6120/6121): stream open -> STARTTLS -> stream restart -> SASL
// (SCRAM-SHA-1, SCRAM-SHA-256 or PLAIN) -> stream restart -> bind -> roster get (optional)
// + initial presence (optional) + XEP-0198 enable (optional), pipelined -> online.
// Waiting for the server's features at every step keeps it standard XMPP, so the same
// client drives ejabberd and Prosody.
//
// A server that sends <see-other-host>host:port</see-other-host> (RFC 6120 4.9.3.19;
// xmeshd does it after SASL to a user homed on another node) fails the session with
// reason "stream-error:see-other-host" and seeOtherHost() holds the named target: the
// owner decides whether to reconnect there (the load generator does, once).
//
// Dual connections (docs/dual-connections.md, urn:xmesh:dual:0): with `dualQuery`, an
// online session whose server advertised <dual/> asks for the user's backup node and
// re-login window (onDualInfo). With `inactive`, the session binds as the user's inactive
// session (<inactive/> in the bind; no roster, no presence, no XEP-0198 until active) and
// rests in state Inactive, answering the server's <failover/> (onFailoverNotice); the
// owner then calls activate(h) (onActivated / onActivateRefused). An active session
// answers <fallback/> (onFallbackNotice) and <deactivated/> (onDeactivated: it is
// Inactive from then on, ready to be activated again). handledCount() is the `h` to
// send: the XEP-0198 handled count when stream management is on, else the stanzas
// received while active.
//
// Load-generator messages carry <x xmlns='urn:xmesh:lg' u='sender' s='seq' t='µs'/>:
// the sender's user index, a per-(sender, receiver) sequence number and the send time in
// CLOCK_REALTIME microseconds (shared by all processes of the machine).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sasl/credentials.h"
#include "xml/stream_parser.h"

namespace xmesh::sasl {
class ScramClient;
}

namespace xmesh::loadgen {

class SaltedCache;

enum class Mechanism { ScramSha1, ScramSha256, Plain };
bool parseMechanism(std::string_view text, Mechanism* out);
std::string_view mechanismText(Mechanism m);

struct ClientOptions {
  std::string domain = "localhost";
  std::string username;
  std::string password;
  std::string resource = "lg";
  Mechanism mechanism = Mechanism::ScramSha1;
  bool startTls = true;         // refuse to authenticate without TLS when true
  bool rosterGet = true;        // fetch the roster after bind
  bool initialPresence = true;  // send available presence after bind
  bool streamManagement = false;  // XEP-0198 <enable/>; acks requests answered
  bool dualQuery = false;  // once online, ask for the backup node (when <dual/> is offered)
  bool inactive = false;   // bind as the inactive session of a dual pair
};

// A load-generator message as decoded by the receiver.
struct LgMessage {
  uint32_t sender = 0;
  uint32_t seq = 0;
  uint64_t sentUs = 0;
};

// The answer to the dual query: the backup node (absent in a one-node PRG) and the
// window in which to open the inactive session.
struct DualInfo {
  bool hasBackup = false;
  std::string node, host;
  int port = 5222;
  double reloginMinS = 120, reloginMaxS = 537;  // the doc's defaults when not sent
};

struct ActivatedInfo {
  bool presenceRestored = false;
  uint32_t pending = 0;  // replicated stanzas the node delivers after the activation
};

class ClientTransport {
 public:
  virtual ~ClientTransport() = default;
  // Queues plaintext for the peer (encrypted if TLS was started).
  virtual void send(std::string_view plaintext) = 0;
  // Starts TLS on the connection; bytes sent afterwards go through it.
  virtual void startTls() = 0;
};

class ClientSession;

class ClientListener {
 public:
  virtual ~ClientListener() = default;
  virtual void onOnline(ClientSession& session) = 0;
  virtual void onLgMessage(ClientSession& session, const LgMessage& message) = 0;
  virtual void onPresenceReceived(ClientSession& session) = 0;
  // The session is dead (stream error, SASL failure, protocol violation); the owner
  // closes the connection. Called at most once. `reason` is a stable short string.
  virtual void onFailure(ClientSession& session, std::string_view reason) = 0;
  // Dual connections; ignored unless the options ask for them.
  virtual void onDualInfo(ClientSession&, const DualInfo&) {}
  virtual void onInactive(ClientSession&) {}  // bound as the inactive session
  virtual void onActivated(ClientSession&, const ActivatedInfo&) {}
  // The node refused <activate/> (`condition`, e.g. "not-allowed"); still Inactive.
  virtual void onActivateRefused(ClientSession&, std::string_view) {}
  virtual void onFailoverNotice(ClientSession&, std::string_view) {}  // from-node
  virtual void onFallbackNotice(ClientSession&, std::string_view) {}  // to-node
  virtual void onDeactivated(ClientSession&) {}
};

enum class ClientState {
  Idle,
  WaitFeatures,   // after sending a stream header
  WaitProceed,
  WaitChallenge,  // SCRAM server-first
  WaitSuccess,
  WaitBind,
  WaitOnline,     // roster result / <enabled/> outstanding
  Online,
  Inactive,       // bound as an inactive session (dual), or deactivated
  WaitActivated,  // <activate/> sent
  Failed,
  Closed,
};

class ClientSession : private xml::StreamHandler {
 public:
  // `cache` may be null; it is read before and updated after each SCRAM exchange.
  ClientSession(ClientOptions options, ClientTransport& transport, ClientListener& listener,
                SaltedCache* cache);
  ~ClientSession() override;
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  // Sends the first stream header.
  void start();
  // Plaintext from the server (after TLS decryption when TLS is on).
  void onBytes(std::string_view plaintext);
  // Transport-level failure (TLS error, reset): reports onFailure once.
  void fail(std::string_view reason);
  // Sends </stream:stream> if online; state becomes Closed.
  void close();

  // Online only (returns false otherwise).
  bool sendChat(std::string_view toBareJid, uint32_t sender, uint32_t seq, uint64_t sentUs);
  bool sendPresence(std::string_view show);  // "" = available
  bool sendAckRequest();
  // Inactive only: asks the node to make this session active; `h` = handledCount() of
  // the old active session.
  bool activate(uint32_t h);
  uint32_t handledCount() const { return smEnabled_ ? smInbound_ : activeInbound_; }
  bool dualOffered() const { return dualOffered_; }
  bool smEnabled() const { return smEnabled_; }

  ClientState state() const { return state_; }
  bool online() const { return state_ == ClientState::Online; }
  const std::string& boundJid() const { return boundJid_; }
  // The target of a <see-other-host/> stream error ("" if none was received).
  const std::string& seeOtherHost() const { return seeOtherHost_; }
  const ClientOptions& options() const { return options_; }
  uint64_t rosterItems() const { return rosterItems_; }
  // XEP-0198 counters: stanzas we handled (our h) and the server's last ack of ours.
  uint32_t smInbound() const { return smInbound_; }
  uint32_t smAckedByServer() const { return smAcked_; }
  uint32_t smSent() const { return smSent_; }

  // Parses the urn:xmesh:lg marker of a message's bytes; false if absent or malformed.
  static bool parseLgMarker(std::string_view bytes, LgMessage* out);
  static void appendChat(std::string& out, std::string_view toBareJid, uint32_t sender,
                         uint32_t seq, uint64_t sentUs);
  // Splits a see-other-host target: "host", "host:port", "[v6]" or "[v6]:port"; the port
  // defaults to 5222 (RFC 6120 4.9.3.19). False when malformed.
  static bool parseHostPort(std::string_view text, std::string* host, int* port);

 private:
  void onStreamOpen(const xml::StreamHeader& header) override;
  void onStanza(xml::Stanza&& stanza) override;
  void onStreamClose() override;
  void onStreamError(xml::StreamError error, std::string_view detail) override;

  void sendHeader();
  void onFeatures(const xml::Stanza& s);
  void startAuth(std::string_view mechanismsXml);
  void onChallenge(const xml::Stanza& s);
  void onSuccess(const xml::Stanza& s);
  void onIq(const xml::Stanza& s);
  void onSm(const xml::Stanza& s);
  void onOnlineStanza(xml::Stanza&& s);
  void maybeOnline();
  void countInbound();
  bool onDualIq(const xml::Stanza& s);
  void answerIq(const xml::Stanza& s, bool known);
  void onDualQueryResult(const xml::Stanza& s);
  void onActivateResult(const xml::Stanza& s);
  void afterBind();

  ClientOptions options_;
  ClientTransport& transport_;
  ClientListener& listener_;
  SaltedCache* cache_;
  xml::StreamParser parser_;
  std::unique_ptr<sasl::ScramClient> scram_;
  ClientState state_ = ClientState::Idle;
  bool tls_ = false;
  bool authenticated_ = false;
  bool rosterPending_ = false;
  bool smPending_ = false;
  bool smEnabled_ = false;
  bool smCounting_ = false;  // <enable/> sent: our stanzas count toward the server's h
  uint32_t smInbound_ = 0;
  uint32_t smAcked_ = 0;
  uint32_t smSent_ = 0;
  uint32_t activeInbound_ = 0;  // stanzas received while active (h without XEP-0198)
  bool dualOffered_ = false;
  bool dualQueryPending_ = false;
  uint64_t rosterItems_ = 0;
  std::string boundJid_;
  std::string seeOtherHost_;
  std::string scratch_;
};

}  // namespace xmesh::loadgen
