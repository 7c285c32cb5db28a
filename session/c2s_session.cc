// Stream lifecycle and negotiation (RFC 6120 §4-7): stream headers, STARTTLS, SASL,
// resource binding, stream errors, timeouts. Bound-session stanzas: c2s_stanzas.cc.
#include "session/c2s_session.h"

#include "core/log.h"
#include "jid/prep.h"
#include "router/roster_convert.h"
#include "sasl/credentials.h"
#include "sasl/plain.h"
#include "router/stanza_builder.h"
#include "sasl/scram.h"
#include "session/dual_protocol.h"
#include "session/namespaces.h"
#include "store/store.h"
#include "xml/element.h"

namespace xmesh::session {

std::string_view sessionStateName(SessionState s) {
  switch (s) {
    case SessionState::Negotiating: return "negotiating";
    case SessionState::Active: return "active";
    case SessionState::Inactive: return "inactive";
    case SessionState::Closing: return "closing";
  }
  return "?";
}

namespace {
xml::ParserLimits limitsFor(const LimitsConfig& l, bool authenticated) {
  xml::ParserLimits p;
  p.maxStanzaBytes = authenticated ? l.maxStanzaBytes : l.maxStanzaBytesPreAuth;
  p.maxDepth = l.maxDepth;
  p.maxAttributes = l.maxAttributes;
  return p;
}

ErrorReason reasonFor(std::string_view condition) {
  if (condition == "not-well-formed") return ErrorReason::NotWellFormed;
  if (condition == "restricted-xml") return ErrorReason::RestrictedXml;
  if (condition == "policy-violation") return ErrorReason::PolicyViolation;
  if (condition == "invalid-namespace") return ErrorReason::InvalidNamespace;
  if (condition == "unsupported-encoding") return ErrorReason::UnsupportedEncoding;
  if (condition == "invalid-from") return ErrorReason::InvalidFrom;
  if (condition == "connection-timeout") return ErrorReason::ConnectionTimeout;
  if (condition == "conflict") return ErrorReason::Conflict;
  if (condition == "host-unknown") return ErrorReason::HostUnknown;
  if (condition == "unsupported-stanza-type") return ErrorReason::UnsupportedStanzaType;
  if (condition == "not-authorized") return ErrorReason::NotAuthorized;
  if (condition == "bad-format" || condition == "unsupported-version") return ErrorReason::BadRequest;
  if (condition == "see-other-host") return ErrorReason::SeeOtherHost;
  if (condition == "system-shutdown") return ErrorReason::SystemShutdown;
  return ErrorReason::InternalError;
}
// A store that cannot answer at login (reason "busy", "unavailable", "io", ...) is the
// server's fault, not the client's: counted under its own label so an outage shows up
// in the metrics apart from wrong passwords.
ErrorReason authStoreReason(std::string_view storeReason) {
  return storeReason == "busy" ? ErrorReason::StoreBusy : ErrorReason::InternalError;
}

ErrorReason stanzaReasonFor(std::string_view condition) {
  if (condition == "service-unavailable") return ErrorReason::ServiceUnavailable;
  if (condition == "jid-malformed") return ErrorReason::JidMalformed;
  if (condition == "bad-request") return ErrorReason::BadRequest;
  if (condition == "not-authorized") return ErrorReason::NotAuthorized;
  if (condition == "item-not-found") return ErrorReason::ItemNotFound;
  if (condition == "not-allowed" || condition == "not-acceptable") return ErrorReason::NotAllowed;
  if (condition == "resource-constraint") return ErrorReason::ResourceConstraint;
  return ErrorReason::InternalError;
}
}  // namespace

C2sSession::C2sSession(SessionEnv& env, Transport* transport, bool directTls)
    : env_(env), transport_(transport), directTls_(directTls) {
  ref_ = env_.registerSession(this);
  createdMs_ = lastInputMs_ = now();
  streamId_ = sasl::base64Encode(sasl::randomBytes(12));
  parser_ = std::make_unique<xml::StreamParser>(*this, limitsFor(env_.config().limits, false));
  LoopStats::add(env_.stats().sessionsNegotiating);
}

C2sSession::~C2sSession() {
  if (!finished_) releaseSession(true);
  env_.unregisterSession(ref_);
}

void C2sSession::onBytes(std::string_view bytes) {
  lastInputMs_ = now();
  if (phase_ == Phase::Closed) return;
  if (inputSuspended_) {
    // A client may pipeline while we wait for the store; keep it, bounded.
    if (pendingInput_.size() + bytes.size() > env_.config().limits.maxStanzaBytes) {
      failStream("policy-violation", "too much pipelined input");
      return;
    }
    pendingInput_.append(bytes);
    return;
  }
  parser_->feed(bytes);
}

void C2sSession::suspendInput() {
  inputSuspended_ = true;
  parser_->suspend();
}

void C2sSession::resumeInput() {
  if (!inputSuspended_ || phase_ == Phase::Closed) return;
  inputSuspended_ = false;
  parser_->resume();
  if (inputSuspended_ || phase_ == Phase::Closed || pendingInput_.empty()) return;
  std::string pending;
  pending.swap(pendingInput_);
  parser_->feed(pending);
}

void C2sSession::resetParser(bool authenticatedLimits) {
  parser_->setLimits(limitsFor(env_.config().limits, authenticatedLimits));
  parser_->reset();
  headerSent_ = false;
  pendingInput_.clear();
}

void C2sSession::sendRaw(std::string_view bytes) {
  if (transport_) transport_->send(bytes);
}

void C2sSession::sendStreamHeader() {
  std::string h = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                  "xmlns:stream='http://etherx.jabber.org/streams' id='";
  h += streamId_;
  h += "' from='";
  xml::appendEscapedAttr(h, env_.config().domain);
  h += "' version='1.0' xml:lang='en'>";
  sendRaw(h);
  headerSent_ = true;
}

void C2sSession::onStreamOpen(const xml::StreamHeader& header) {
  streamId_ = sasl::base64Encode(sasl::randomBytes(12));
  sendStreamHeader();
  if (header.ns != ns::kClient) return failStream("invalid-namespace");
  auto to = jid::nameprep(header.to);
  if (!to.isOk() || to.value() != env_.config().domain) return failStream("host-unknown");
  if (header.version.empty() || header.version[0] < '1')
    return failStream("unsupported-version");
  phase_ = Phase::WaitFeatureRequest;
  sendFeatures();
}

void C2sSession::sendFeatures() {
  std::string f = "<stream:features>";
  bool tls = transport_ && transport_->tlsActive();
  const auto& cfg = env_.config();
  if (!authenticated_) {
    if (!tls) f += "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>";
    if (tls || !cfg.tls.required) {
      f += "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
           "<mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism>";
      if (tls) f += "<mechanism>PLAIN</mechanism>";  // never PLAIN in the clear
      f += "</mechanisms>";
    }
  } else {
    f += "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
         "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>"
         "<sm xmlns='urn:xmpp:sm:3'/>";
    if (env_.dualEnabled()) f += dual::feature();
  }
  f += "</stream:features>";
  sendRaw(f);
}

void C2sSession::onStanza(xml::Stanza&& s) {
  if (phase_ == Phase::Closed) return;
  if (phase_ == Phase::Bound) return handleBoundStanza(std::move(s));
  handleNegotiation(std::move(s));
}

void C2sSession::handleNegotiation(xml::Stanza&& s) {
  bool tls = transport_ && transport_->tlsActive();
  if (s.ns == ns::kTls && s.name == "starttls") {
    if (tls) return failStream("policy-violation", "TLS already active");
    return handleStartTls();
  }
  if (!tls && env_.config().tls.required) {
    // RFC 6120 5.3.1: everything but STARTTLS before TLS is a policy violation.
    env_.stats().error(ErrorReason::TlsRequired);
    return failStream("policy-violation", "STARTTLS required");
  }
  if (s.ns == ns::kSasl) {
    if (authenticated_) return failStream("policy-violation", "already authenticated");
    if (s.name == "auth") return handleAuth(s);
    if (s.name == "response") return handleSaslResponse(s);
    if (s.name == "abort") {
      scram_.reset();
      return saslFailure(sasl::Failure::Aborted);
    }
    return failStream("unsupported-stanza-type");
  }
  if (!authenticated_) {
    return failStream("not-authorized");
  }
  if (s.ns == ns::kSm && s.name == "resume") return handleResume(s);
  if (s.ns == ns::kSm && s.name == "enable") {
    // XEP-0198: enable before bind is refused with unexpected-request.
    return sendRaw("<failed xmlns='urn:xmpp:sm:3'><unexpected-request "
                   "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>");
  }
  if (s.name == "iq" && s.ns == ns::kClient) {
    if (s.firstChildNs == ns::kBind && s.type == "set") return handleBindIq(s);
    // Anything else before bind: not-authorized per RFC 6120 7.1.
    return sendStanzaError(s, "not-authorized");
  }
  return failStream("not-authorized");
}

void C2sSession::handleStartTls() {
  sendRaw("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  // Everything after <starttls/> in the same read is plaintext that must not survive.
  resetParser(false);
  phase_ = Phase::WaitStreamOpen;
  if (transport_) transport_->startTls();
}

void C2sSession::onTlsEstablished() { lastInputMs_ = now(); }

void C2sSession::handleAuth(const xml::Stanza& s) {
  const auto& limits = env_.config().limits;
  if (saslAttempts_ >= limits.maxSaslAttempts) {
    env_.stats().error(ErrorReason::SaslTooManyAttempts);
    return failStream("policy-violation", "too many authentication attempts");
  }
  ++saslAttempts_;
  if (transport_ && env_.authThrottle().blocked(transport_->peerAddress(), now())) {
    env_.stats().error(ErrorReason::AuthBackoff);
    return saslFailure(sasl::Failure::TemporaryAuthFailure, "too many failures from your address");
  }
  auto el = xml::parseElement(s.bytes, s.ns);
  if (!el.isOk()) return saslFailure(sasl::Failure::MalformedRequest);
  std::string_view mech = el->attr("mechanism");
  std::string_view text = el->text();
  std::string initial;
  if (!text.empty() && text != "=") {
    auto decoded = sasl::base64Decode(text);
    if (!decoded.isOk()) return saslFailure(sasl::Failure::IncorrectEncoding);
    initial = std::move(decoded.value());
  }
  if (mech == "SCRAM-SHA-256") return startScram(sasl::HashAlg::Sha256, initial);
  if (mech == "SCRAM-SHA-1") return startScram(sasl::HashAlg::Sha1, initial);
  if (mech == "PLAIN") {
    if (!transport_ || !transport_->tlsActive()) return saslFailure(sasl::Failure::EncryptionRequired);
    auto creds = sasl::parsePlain(initial);
    if (!creds.isOk()) return saslFailure(sasl::Failure::MalformedRequest);
    return finishPlain(std::move(creds.value()));
  }
  saslFailure(sasl::Failure::InvalidMechanism);
}

void C2sSession::startScram(sasl::HashAlg alg, std::string_view initial) {
  scram_ = std::make_unique<sasl::ScramServer>(alg, env_.config().domain);
  auto user = scram_->receiveClientFirst(initial);
  if (!user.isOk()) {
    scram_.reset();
    return saslFailure(sasl::Failure::MalformedRequest);
  }
  auto name = jid::nodeprep(user.value());
  phase_ = Phase::WaitingStore;
  suspendInput();
  std::string username = name.isOk() ? name.value() : std::string();
  SessionEnv* env = &env_;
  uint64_t id = ref_.id;
  bool queued = env_.submitStore([env, id, username, alg](store::Store& st) {
    std::optional<sasl::ScramCredentials> creds;
    std::string home;
    std::string storeError;  // the store's reason when it could not answer
    if (!username.empty()) {
      auto u = st.getUser(username);
      if (!u.isOk()) {
        storeError = u.error().reason;
      } else if (u.value() && !u.value()->disabled) {
        creds = alg == sasl::HashAlg::Sha1 ? u.value()->secrets.sha1 : u.value()->secrets.sha256;
        home = u.value()->homeNode;
      }
    }
    env->post([env, id, creds, storeError, home] {
      C2sSession* self = env->findSession(id);
      if (!self || self->phase_ != Phase::WaitingStore || !self->scram_) return;
      self->homeNode_ = home;
      if (!storeError.empty()) {
        // RFC 6120 6.5.9: temporary, the client may try again; never not-authorized,
        // which would tell it the password is wrong.
        self->scram_.reset();
        self->phase_ = Phase::WaitFeatureRequest;
        self->resumeInput();
        self->env_.stats().error(authStoreReason(storeError));
        return self->saslFailure(sasl::Failure::TemporaryAuthFailure, "store unavailable");
      }
      // Unknown users get a plausible challenge and fail at the end (no enumeration).
      std::string challenge = self->scram_->makeServerFirst(creds ? &*creds : nullptr);
      std::string out = "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>";
      out += sasl::base64Encode(challenge);
      out += "</challenge>";
      self->sendRaw(out);
      self->phase_ = Phase::SaslInProgress;
      self->resumeInput();
    });
  });
  if (!queued) {
    scram_.reset();
    phase_ = Phase::WaitFeatureRequest;
    resumeInput();
    env_.stats().error(ErrorReason::StoreBusy);
    saslFailure(sasl::Failure::TemporaryAuthFailure, "server busy");
  }
}

void C2sSession::handleSaslResponse(const xml::Stanza& s) {
  if (phase_ != Phase::SaslInProgress || !scram_) return saslFailure(sasl::Failure::MalformedRequest);
  auto el = xml::parseElement(s.bytes, s.ns);
  if (!el.isOk()) return saslFailure(sasl::Failure::MalformedRequest);
  auto decoded = sasl::base64Decode(el->text());
  if (!decoded.isOk()) return saslFailure(sasl::Failure::IncorrectEncoding);
  auto result = scram_->receiveClientFinal(decoded.value());
  std::string user = scram_->username();
  scram_.reset();
  if (auto* f = std::get_if<sasl::Failure>(&result)) return saslFailure(*f);
  auto name = jid::nodeprep(user);
  saslSuccess(name.isOk() ? name.value() : user, std::get<std::string>(result));
}

void C2sSession::finishPlain(sasl::PlainCredentials creds) {
  auto name = jid::nodeprep(creds.authcid);
  if (!name.isOk()) return saslFailure(sasl::Failure::NotAuthorized);
  if (!creds.authzid.empty() && creds.authzid != name.value() &&
      creds.authzid != name.value() + "@" + env_.config().domain)
    return saslFailure(sasl::Failure::InvalidAuthzid);
  phase_ = Phase::WaitingStore;
  suspendInput();
  SessionEnv* env = &env_;
  uint64_t id = ref_.id;
  std::string username = name.value();
  // PBKDF2 runs on the store thread, never on the event loop.
  bool queued = env_.submitStore([env, id, username, password = std::move(creds.password)](store::Store& st) {
    auto u = st.getUser(username);
    std::string storeError = u.isOk() ? std::string() : u.error().reason;
    bool ok = storeError.empty() && u.value() && !u.value()->disabled &&
              sasl::verifyPassword(u.value()->secrets.sha256, password);
    std::string home = ok ? u.value()->homeNode : std::string();
    env->post([env, id, ok, storeError, username, home] {
      C2sSession* self = env->findSession(id);
      if (!self || self->phase_ != Phase::WaitingStore) return;
      self->homeNode_ = home;
      self->phase_ = Phase::WaitFeatureRequest;
      if (ok) {
        self->saslSuccess(username, {});
      } else if (!storeError.empty()) {
        // As for SCRAM: the store's failure is temporary, not a wrong password.
        self->env_.stats().error(authStoreReason(storeError));
        self->saslFailure(sasl::Failure::TemporaryAuthFailure, "store unavailable");
      } else {
        self->saslFailure(sasl::Failure::NotAuthorized);
      }
      self->resumeInput();
    });
  });
  if (!queued) {
    phase_ = Phase::WaitFeatureRequest;
    resumeInput();
    env_.stats().error(ErrorReason::StoreBusy);
    saslFailure(sasl::Failure::TemporaryAuthFailure, "server busy");
  }
}

void C2sSession::saslSuccess(std::string_view username, std::string_view additionalData) {
  // A user homed elsewhere in the mesh is sent to the node that serves it (RFC 6120
  // 4.9.3.19); only after authentication, so the home is not told to strangers. The
  // user's home and its HA peer wait for the bind instead: there a dual client may bind
  // an inactive session (docs/dual-connections.md §3), a plain bind is redirected.
  if (!env_.mayHoldInactive(homeNode_)) {
    if (std::string other = env_.seeOtherHost(homeNode_); !other.empty())
      return failStream("see-other-host", {}, other);
  }
  LoopStats::add(env_.stats().authSuccess);
  authenticated_ = true;
  username_ = std::string(username);
  std::string out = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>";
  if (!additionalData.empty()) out += sasl::base64Encode(additionalData);
  out += "</success>";
  sendRaw(out);
  // RFC 6120 6.4.6: the stream restarts; the client must not send before <success/>.
  resetParser(true);
  phase_ = Phase::WaitStreamOpen;
}

void C2sSession::saslFailure(sasl::Failure f, std::string_view text) {
  if (f == sasl::Failure::NotAuthorized) {
    LoopStats::add(env_.stats().authFailure);
    env_.stats().error(ErrorReason::NotAuthorized);
    if (transport_) env_.authThrottle().recordFailure(transport_->peerAddress(), now());
  }
  if (phase_ != Phase::Closed) phase_ = Phase::WaitFeatureRequest;
  std::string out = "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><";
  out += sasl::failureName(f);
  out += "/>";
  if (!text.empty()) {
    out += "<text xml:lang='en'>";
    xml::appendEscapedText(out, text);
    out += "</text>";
  }
  out += "</failure>";
  sendRaw(out);
  if (saslAttempts_ >= env_.config().limits.maxSaslAttempts && f != sasl::Failure::Aborted) {
    env_.stats().error(ErrorReason::SaslTooManyAttempts);
    failStream("policy-violation", "too many authentication attempts");
  }
}

void C2sSession::handleBindIq(const xml::Stanza& s) {
  auto el = xml::parseElement(s.bytes, s.ns);
  if (!el.isOk()) return sendStanzaError(s, "bad-request");
  const xml::Element* bind = el->child("bind", ns::kBind);
  const bool inactive = bind && dual::asksInactive(*bind);
  if (inactive && !env_.mayHoldInactive(homeNode_))
    return sendStanzaError(s, "not-allowed", servingNodeText(), "modify");
  if (!inactive && redirectIfServedElsewhere()) return;
  std::string resource;
  if (bind) {
    if (const xml::Element* r = bind->child("resource")) {
      if (!r->text().empty()) {
        auto prepped = jid::resourceprep(r->text());
        if (!prepped.isOk()) return sendStanzaError(s, "bad-request", "invalid resource");
        resource = prepped.value();
      }
    }
  }
  if (resource.empty()) resource = "xmesh-" + sasl::base64Encode(sasl::randomBytes(6));
  for (char& c : resource)
    if (c == '/' || c == '+') c = '-';
  std::string bare = username_ + "@" + env_.config().domain;
  bool rosterLoaded = env_.router().directory().read(
      bare, [](const router::UserEntry* u) { return u && u->rosterLoaded; });
  if (rosterLoaded) return completeBind(std::move(resource), s.id, {}, false, inactive);
  phase_ = Phase::WaitingStore;
  suspendInput();
  SessionEnv* env = &env_;
  uint64_t id = ref_.id;
  bool queued = env_.submitStore([env, id, user = username_, resource, iqId = s.id, inactive](store::Store& st) {
    auto items = st.getRoster(user);
    std::vector<router::RosterEntry> roster;
    bool ok = items.isOk();
    if (ok)
      for (const auto& i : items.value()) roster.push_back(router::fromStoreItem(i));
    env->post([env, id, ok, resource, iqId, inactive, roster = std::move(roster)]() mutable {
      C2sSession* self = env->findSession(id);
      if (!self || self->phase_ != Phase::WaitingStore) return;
      self->phase_ = Phase::WaitFeatureRequest;
      if (!ok) {
        xml::Stanza fake;
        fake.name = "iq";
        fake.id = iqId;
        self->sendStanzaError(fake, "internal-server-error", "roster unavailable");
      } else {
        self->completeBind(resource, iqId, std::move(roster), true, inactive);
      }
      self->resumeInput();
    });
  }, username_);
  if (!queued) {
    phase_ = Phase::WaitFeatureRequest;
    resumeInput();
    sendStanzaError(s, "resource-constraint", "server busy");
  }
}

bool C2sSession::redirectIfServedElsewhere() {
  std::string other = env_.seeOtherHost(homeNode_);
  if (other.empty()) return false;
  failStream("see-other-host", {}, other);
  return true;
}

void C2sSession::completeBind(std::string resource, std::string iqId,
                              std::vector<router::RosterEntry> roster, bool rosterFromStore,
                              bool inactive) {
  // Checked again after the roster fetch: the SRM may have moved the user meanwhile (a
  // later move reaches this session through onServingChanged).
  if (!inactive && redirectIfServedElsewhere()) return;
  std::string bare = username_ + "@" + env_.config().domain;
  env_.router().directory().write(bare, [&](router::UserEntry& u) {
    if (!u.rosterLoaded && rosterFromStore) {
      u.roster = std::move(roster);
      u.roster.shrink_to_fit();  // cached for the user's whole online life
      u.rosterLoaded = true;
    }
    // Resource conflict: RFC 6120 7.7.2.2 lets the server assign another resource
    // instead of terminating the existing session; xmesh does that.
    while (u.findResource(resource)) {
      std::string suffix = "-" + sasl::base64Encode(sasl::randomBytes(3));
      for (char& c : suffix)
        if (c == '/' || c == '+') c = '-';
      // Stay within the 1023-byte resource limit whatever the client asked for.
      if (resource.size() + suffix.size() > jid::kMaxPartBytes) resource.resize(jid::kMaxPartBytes - suffix.size());
      resource += suffix;
    }
    router::ResourceEntry e;
    e.resource = resource;
    e.ref = ref_;
    e.active = !inactive;
    u.resources.push_back(std::move(e));
  });
  auto full = jid::Jid::parse(bare + "/" + resource);
  if (!full.isOk()) {
    // Cannot happen with a prepped resource within the limit; refuse rather than crash.
    env_.router().directory().write(bare, [&](router::UserEntry& u) {
      std::erase_if(u.resources, [&](const router::ResourceEntry& r) { return r.ref == ref_; });
    });
    xml::Stanza fake;
    fake.name = "iq";
    fake.id = iqId;
    return sendStanzaError(fake, "bad-request", "invalid resource");
  }
  jid_ = std::move(full.value());
  bound_ = true;
  phase_ = Phase::Bound;
  state_ = inactive ? SessionState::Inactive : SessionState::Active;
  dual_ = inactive;
  LoopStats::sub(env_.stats().sessionsNegotiating);
  LoopStats::add(inactive ? env_.stats().sessionsInactive : env_.stats().sessionsActive);
  std::string out = "<iq type='result' id='";
  xml::appendEscapedAttr(out, iqId);
  out += "'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>";
  xml::appendEscapedText(out, jid_.full());
  out += "</jid></bind></iq>";
  sendRaw(out);
  replicateOpen();
}

void C2sSession::sendStanzaError(const xml::Stanza& s, std::string_view condition,
                                 std::string_view text, std::string_view errorType) {
  if (s.type == "error") return;
  env_.stats().error(stanzaReasonFor(condition));
  std::string name = s.name.empty() ? "iq" : s.name;
  std::string from = s.to.empty() ? std::string() : s.to;
  std::string out = router::buildStanzaError(name, from, bound_ ? jid_.full() : std::string(),
                                             s.id, condition, errorType, text);
  sendRaw(out);
  if (bound_ && sm_.enabled()) sm_.onSent(router::makeShared(std::move(out)));
}

void C2sSession::sendIqResult(const xml::Stanza& s, std::string_view payload) {
  std::string out = "<iq type='result'";
  if (!s.to.empty()) {
    out += " from='";
    xml::appendEscapedAttr(out, s.to);
    out += '\'';
  }
  if (bound_) {
    out += " to='";
    xml::appendEscapedAttr(out, jid_.full());
    out += '\'';
  }
  out += " id='";
  xml::appendEscapedAttr(out, s.id);
  out += '\'';
  if (payload.empty()) {
    out += "/>";
  } else {
    out += '>';
    out += payload;
    out += "</iq>";
  }
  sendRaw(out);
  if (bound_ && sm_.enabled()) sm_.onSent(router::makeShared(std::move(out)));
}

void C2sSession::failStream(std::string_view condition, std::string_view text,
                            std::string_view content) {
  if (phase_ == Phase::Closed) return;
  env_.stats().error(reasonFor(condition));
  if (!headerSent_) sendStreamHeader();
  std::string out = "<stream:error><";
  out += condition;
  out += " xmlns='urn:ietf:params:xml:ns:xmpp-streams'";
  if (content.empty()) {
    out += "/>";
  } else {
    out += '>';
    xml::appendEscapedText(out, content);
    out += "</";
    out += condition;
    out += '>';
  }
  if (!text.empty()) {
    out += "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>";
    xml::appendEscapedText(out, text);
    out += "</text>";
  }
  out += "</stream:error></stream:stream>";
  sendRaw(out);
  log::debug("c2s", "stream-error", {{"condition", std::string(condition)}, {"text", std::string(text)}});
  phase_ = Phase::Closed;
  closing_ = true;
  // A stream error ends the session for good: no resumption (XEP-0198 5); closing_
  // keeps onDisconnect from detaching it.
  if (transport_) transport_->closeAfterFlush();
}

void C2sSession::onStreamError(xml::StreamError error, std::string_view detail) {
  failStream(xml::streamErrorName(error), detail);
}

void C2sSession::onStreamClose() {
  closeStream();
}

void C2sSession::closeStream() {
  if (phase_ == Phase::Closed) return;
  if (!headerSent_) sendStreamHeader();
  sendRaw("</stream:stream>");
  phase_ = Phase::Closed;
  closing_ = true;  // a clean close ends the session: nothing to resume
  if (transport_) transport_->closeAfterFlush();
}

void C2sSession::onDisconnect() {
  if (!transport_ && (detached_ || finished_)) return;
  transport_ = nullptr;
  phase_ = Phase::Closed;
  if (bound_ && sm_.enabled() && sm_.resumable() && !closing_ && !finished_) {
    detached_ = true;
    detachedAtMs_ = now();
    LoopStats::add(env_.stats().sessionsDetached);
    return;
  }
  releaseSession(true);
}

bool C2sSession::sweep(int64_t nowMs) {
  if (finished_) return true;
  const auto& l = env_.config().limits;
  if (detached_) {
    if (nowMs - detachedAtMs_ > int64_t{l.smResumeTimeoutSeconds} * 1000) {
      releaseSession(true);
      return true;
    }
    return false;
  }
  if (!transport_) return finished_;
  if (!authenticated_ && nowMs - createdMs_ > int64_t{l.preAuthTimeoutSeconds} * 1000) {
    failStream("connection-timeout", "authentication timeout");
  } else if (nowMs - lastInputMs_ > int64_t{l.idleTimeoutSeconds} * 1000) {
    failStream("connection-timeout", "idle timeout");
  } else if (moveAfterAck_ && nowMs >= moveDeadlineMs_) {
    finishMove();  // no ack came back: redirect anyway
  } else if (bound_ && sm_.enabled() && sm_.unackedCount() > 0) {
    sendRaw("<r xmlns='urn:xmpp:sm:3'/>");
  }
  if (heldActivation_ && !finished_) expireHeldActivation(nowMs);
  // An idle stream gives its Expat parser back (~10 KiB); the next input re-primes one.
  if (bound_ && !inputSuspended_ && nowMs - lastInputMs_ >= kReleaseParserAfterMs)
    parser_->releaseIdle();
  return false;
}

}  // namespace xmesh::session
