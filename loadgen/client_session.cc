#include "loadgen/client_session.h"

#include <charconv>

#include "loadgen/salted_cache.h"
#include "sasl/scram.h"
#include "xml/element.h"
#include "xml/escape.h"

namespace xmesh::loadgen {
namespace {

constexpr std::string_view kStreamsNs = "http://etherx.jabber.org/streams";
constexpr std::string_view kTlsNs = "urn:ietf:params:xml:ns:xmpp-tls";
constexpr std::string_view kSaslNs = "urn:ietf:params:xml:ns:xmpp-sasl";
constexpr std::string_view kBindNs = "urn:ietf:params:xml:ns:xmpp-bind";
constexpr std::string_view kSmNs = "urn:xmpp:sm:3";
constexpr std::string_view kRosterNs = "jabber:iq:roster";
constexpr std::string_view kLgNs = "urn:xmesh:lg";
constexpr std::string_view kDualNs = "urn:xmesh:dual:0";
constexpr std::string_view kStanzasNs = "urn:ietf:params:xml:ns:xmpp-stanzas";

// Value of ` name='...'` inside [begin, end) of bytes; empty view if absent.
std::string_view attrIn(std::string_view element, std::string_view name) {
  size_t pos = 0;
  while (true) {
    pos = element.find(name, pos);
    if (pos == std::string_view::npos) return {};
    size_t eq = pos + name.size();
    if (pos > 0 && element[pos - 1] == ' ' && eq + 1 < element.size() && element[eq] == '=' &&
        (element[eq + 1] == '\'' || element[eq + 1] == '"')) {
      char q = element[eq + 1];
      size_t end = element.find(q, eq + 2);
      if (end == std::string_view::npos) return {};
      return element.substr(eq + 2, end - eq - 2);
    }
    pos = eq;
  }
}

template <typename T>
bool parseNumber(std::string_view text, T* out) {
  if (text.empty()) return false;
  auto r = std::from_chars(text.data(), text.data() + text.size(), *out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

sasl::HashAlg algOf(Mechanism m) {
  return m == Mechanism::ScramSha256 ? sasl::HashAlg::Sha256 : sasl::HashAlg::Sha1;
}

}  // namespace

bool parseMechanism(std::string_view text, Mechanism* out) {
  if (text == "SCRAM-SHA-1") *out = Mechanism::ScramSha1;
  else if (text == "SCRAM-SHA-256") *out = Mechanism::ScramSha256;
  else if (text == "PLAIN") *out = Mechanism::Plain;
  else return false;
  return true;
}

std::string_view mechanismText(Mechanism m) {
  switch (m) {
    case Mechanism::ScramSha1: return "SCRAM-SHA-1";
    case Mechanism::ScramSha256: return "SCRAM-SHA-256";
    case Mechanism::Plain: return "PLAIN";
  }
  return "?";
}

ClientSession::ClientSession(ClientOptions options, ClientTransport& transport,
                             ClientListener& listener, SaltedCache* cache)
    : options_(std::move(options)),
      transport_(transport),
      listener_(listener),
      cache_(cache),
      parser_(*this, xml::ParserLimits{}) {}

ClientSession::~ClientSession() = default;

void ClientSession::start() {
  if (state_ != ClientState::Idle) return;
  sendHeader();
}

void ClientSession::sendHeader() {
  std::string h = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                  "xmlns:stream='http://etherx.jabber.org/streams' to='";
  xml::appendEscapedAttr(h, options_.domain);
  h += "' version='1.0' xml:lang='en'>";
  transport_.send(h);
  state_ = ClientState::WaitFeatures;
}

void ClientSession::onBytes(std::string_view plaintext) {
  if (state_ == ClientState::Failed || state_ == ClientState::Closed) return;
  parser_.feed(plaintext);
}

void ClientSession::fail(std::string_view reason) {
  if (state_ == ClientState::Failed || state_ == ClientState::Closed) return;
  state_ = ClientState::Failed;
  listener_.onFailure(*this, reason);
}

void ClientSession::close() {
  if (state_ == ClientState::Online || state_ == ClientState::Inactive || state_ == ClientState::WaitActivated)
    transport_.send("</stream:stream>");
  if (state_ != ClientState::Failed) state_ = ClientState::Closed;
}

void ClientSession::onStreamOpen(const xml::StreamHeader&) {}

void ClientSession::onStreamClose() { fail("stream-closed"); }

void ClientSession::onStreamError(xml::StreamError error, std::string_view) {
  std::string r = "xml-";
  r += xml::streamErrorName(error);
  fail(r);
}

void ClientSession::onStanza(xml::Stanza&& s) {
  if (state_ == ClientState::Failed || state_ == ClientState::Closed) return;
  if (s.ns == kStreamsNs && s.name == "error") {
    if (s.firstChildName == "see-other-host") {
      auto el = xml::parseElement(s.bytes, s.ns);
      if (el.isOk())
        if (const xml::Element* target = el->child("see-other-host")) {
          std::string_view t = target->text();
          size_t b = t.find_first_not_of(" \t\r\n"), e = t.find_last_not_of(" \t\r\n");
          if (b != std::string_view::npos) seeOtherHost_ = std::string(t.substr(b, e - b + 1));
        }
    }
    return fail("stream-error:" + (s.firstChildName.empty() ? std::string("?") : s.firstChildName));
  }
  switch (state_) {
    case ClientState::WaitFeatures:
      if (s.ns == kStreamsNs && s.name == "features") return onFeatures(s);
      return fail("unexpected-before-features");
    case ClientState::WaitProceed:
      if (s.ns == kTlsNs && s.name == "proceed") {
        parser_.reset();  // takes effect when this feed returns; the rest is TLS
        tls_ = true;
        transport_.startTls();
        return sendHeader();
      }
      return fail("starttls-refused");
    case ClientState::WaitChallenge:
      if (s.ns == kSaslNs && s.name == "challenge") return onChallenge(s);
      if (s.ns == kSaslNs && s.name == "failure") return fail("sasl-failure:" + s.firstChildName);
      return fail("unexpected-during-sasl");
    case ClientState::WaitSuccess:
      if (s.ns == kSaslNs && s.name == "success") return onSuccess(s);
      if (s.ns == kSaslNs && s.name == "failure") return fail("sasl-failure:" + s.firstChildName);
      return fail("unexpected-during-sasl");
    case ClientState::WaitBind:
    case ClientState::WaitOnline:
    case ClientState::Online:
    case ClientState::Inactive:
    case ClientState::WaitActivated:
      return onOnlineStanza(std::move(s));
    default:
      return fail("unexpected-stanza");
  }
}

void ClientSession::onFeatures(const xml::Stanza& s) {
  auto el = xml::parseElement(s.bytes, s.ns);
  if (!el.isOk()) return fail("bad-features");
  if (!authenticated_) {
    if (!tls_ && el->child("starttls", kTlsNs)) {
      if (options_.startTls || el->child("starttls", kTlsNs)->child("required")) {
        transport_.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        state_ = ClientState::WaitProceed;
        return;
      }
    }
    if (!tls_ && options_.startTls) return fail("no-starttls");
    const xml::Element* mechs = el->child("mechanisms", kSaslNs);
    if (!mechs) return fail("no-mechanisms");
    bool offered = false;
    for (const auto& m : mechs->children())
      if (m.name() == "mechanism" && m.text() == mechanismText(options_.mechanism)) offered = true;
    if (!offered) return fail("mechanism-not-offered");
    return startAuth({});
  }
  if (!el->child("bind", kBindNs)) return fail("no-bind");
  dualOffered_ = el->child("dual", kDualNs) != nullptr;
  std::string iq = "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>";
  if (!options_.resource.empty()) {
    iq += "<resource>";
    xml::appendEscapedText(iq, options_.resource);
    iq += "</resource>";
  }
  if (options_.inactive) iq += "<inactive xmlns='urn:xmesh:dual:0'/>";
  iq += "</bind></iq>";
  transport_.send(iq);
  state_ = ClientState::WaitBind;
}

void ClientSession::startAuth(std::string_view) {
  std::string initial;
  if (options_.mechanism == Mechanism::Plain) {
    initial.push_back('\0');
    initial += options_.username;
    initial.push_back('\0');
    initial += options_.password;
    state_ = ClientState::WaitSuccess;
  } else {
    scram_ = std::make_unique<sasl::ScramClient>(algOf(options_.mechanism), options_.username,
                                                 options_.password);
    initial = scram_->clientFirst();
    state_ = ClientState::WaitChallenge;
  }
  std::string out = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='";
  out += mechanismText(options_.mechanism);
  out += "'>";
  out += sasl::base64Encode(initial);
  out += "</auth>";
  transport_.send(out);
}

void ClientSession::onChallenge(const xml::Stanza& s) {
  auto el = xml::parseElement(s.bytes, s.ns);
  if (!el.isOk() || !scram_) return fail("bad-challenge");
  auto decoded = sasl::base64Decode(el->text());
  if (!decoded.isOk()) return fail("bad-challenge");
  sasl::HashAlg alg = algOf(options_.mechanism);
  const SaltedKeys* cached = cache_ ? cache_->find(options_.username) : nullptr;
  if (cached) {
    const std::string& salted = alg == sasl::HashAlg::Sha1 ? cached->sha1 : cached->sha256;
    if (!salted.empty()) scram_->setSaltedPasswordCache(salted, cached->salt, cached->iterations);
  }
  auto final = scram_->receiveServerFirst(decoded.value());
  if (!final.isOk()) return fail(final.error().reason);
  if (cache_) {
    const std::string& salted = !cached ? std::string()
                                : alg == sasl::HashAlg::Sha1 ? cached->sha1 : cached->sha256;
    bool hit = cached && !salted.empty() && cached->salt == scram_->lastSalt() &&
               cached->iterations == scram_->lastIterations();
    cache_->countLookup(hit);
    if (!hit)
      cache_->store(options_.username, alg, scram_->lastSalt(), scram_->lastIterations(),
                    scram_->saltedPasswordUsed());
  }
  std::string out = "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>";
  out += sasl::base64Encode(final.value());
  out += "</response>";
  transport_.send(out);
  state_ = ClientState::WaitSuccess;
}

void ClientSession::onSuccess(const xml::Stanza& s) {
  if (scram_) {
    auto el = xml::parseElement(s.bytes, s.ns);
    if (!el.isOk()) return fail("bad-success");
    auto decoded = sasl::base64Decode(el->text());
    if (!decoded.isOk()) return fail("bad-success");
    Status st = scram_->verifyServerFinal(decoded.value());
    if (!st.isOk()) return fail(st.error().reason);
    scram_.reset();
  }
  authenticated_ = true;
  parser_.reset();
  sendHeader();
}

void ClientSession::onIq(const xml::Stanza& s) {
  if (state_ == ClientState::WaitBind && s.id == "bind1") {
    if (s.type != "result") return fail(options_.inactive ? "inactive-bind-failed" : "bind-failed");
    auto el = xml::parseElement(s.bytes, s.ns);
    if (el.isOk())
      if (const xml::Element* b = el->child("bind", kBindNs))
        if (const xml::Element* j = b->child("jid")) boundJid_ = j->text();
    if (options_.inactive) {
      state_ = ClientState::Inactive;
      return listener_.onInactive(*this);
    }
    return afterBind();
  }
  if (onDualIq(s)) return;
  if (rosterPending_ && s.id == "roster1") {
    if (s.type != "result") return fail("roster-failed");
    rosterPending_ = false;
    size_t pos = 0;
    while ((pos = s.bytes.find("<item ", pos)) != std::string::npos) {
      ++rosterItems_;
      pos += 6;
    }
    return maybeOnline();
  }
  if (s.type == "get" || s.type == "set")
    answerIq(s, s.firstChildNs == "urn:xmpp:ping" || s.firstChildNs == kRosterNs);
}

void ClientSession::afterBind() {
  std::string out;
  if (options_.rosterGet) {
    out += "<iq type='get' id='roster1'><query xmlns='jabber:iq:roster'/></iq>";
    rosterPending_ = true;
  }
  if (options_.initialPresence) out += "<presence/>";
  if (!out.empty()) transport_.send(out);
  if (options_.streamManagement) {
    // The server counts our stanzas from <enable/> on (XEP-0198 4): so do we.
    transport_.send("<enable xmlns='urn:xmpp:sm:3'/>");
    smPending_ = smCounting_ = true;
  }
  state_ = ClientState::WaitOnline;
  maybeOnline();
}

// An empty result for what we understand (pings, roster pushes, the dual notices),
// service-unavailable for anything else.
void ClientSession::answerIq(const xml::Stanza& s, bool known) {
  std::string out = known ? "<iq type='result' id='" : "<iq type='error' id='";
  xml::appendEscapedAttr(out, s.id);
  out += '\'';
  if (!s.from.empty()) {
    out += " to='";
    xml::appendEscapedAttr(out, s.from);
    out += '\'';
  }
  if (known) {
    out += "/>";
  } else {
    out += "><error type='cancel'><service-unavailable "
           "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>";
  }
  transport_.send(out);
  if (smCounting_) ++smSent_;
}

void ClientSession::onSm(const xml::Stanza& s) {
  if (s.name == "enabled") {
    smEnabled_ = true;
    smPending_ = false;
    return maybeOnline();
  }
  if (s.name == "failed" && smPending_) {
    smPending_ = smCounting_ = false;
    // At login the user wanted XEP-0198; after an activation it goes on without it.
    if (state_ == ClientState::WaitOnline) return fail("sm-enable-failed");
    return;
  }
  if (s.name == "r") {
    std::string out = "<a xmlns='urn:xmpp:sm:3' h='" + std::to_string(smInbound_) + "'/>";
    return transport_.send(out);
  }
  if (s.name == "a") {
    uint32_t h = 0;
    if (parseNumber(attrIn(s.bytes, "h"), &h)) smAcked_ = h;
  }
}

void ClientSession::countInbound() {
  if (smEnabled_) ++smInbound_;
  if (state_ == ClientState::Online || state_ == ClientState::WaitOnline) ++activeInbound_;
}

bool ClientSession::onDualIq(const xml::Stanza& s) {
  bool answer = s.type == "result" || s.type == "error";
  if (answer && s.id == "dual1" && dualQueryPending_) {
    onDualQueryResult(s);
    return true;
  }
  if (answer && s.id == "act1" && state_ == ClientState::WaitActivated) {
    onActivateResult(s);
    return true;
  }
  if (s.type != "set" || s.firstChildNs != kDualNs) return false;
  auto el = xml::parseElement(s.bytes, s.ns);
  const xml::Element* notice = el.isOk() ? el->child(s.firstChildName, kDualNs) : nullptr;
  if (!notice) return false;  // malformed: service-unavailable
  if (s.firstChildName == "failover") {
    answerIq(s, true);
    if (state_ == ClientState::Inactive) listener_.onFailoverNotice(*this, notice->attr("from-node"));
    return true;
  }
  if (s.firstChildName == "fallback") {
    answerIq(s, true);
    if (state_ == ClientState::Online) listener_.onFallbackNotice(*this, notice->attr("to-node"));
    return true;
  }
  if (s.firstChildName == "deactivated") {
    answerIq(s, true);
    if (state_ == ClientState::Online) {
      state_ = ClientState::Inactive;
      listener_.onDeactivated(*this);
    }
    return true;
  }
  return false;  // another element of the namespace: service-unavailable
}

void ClientSession::onDualQueryResult(const xml::Stanza& s) {
  dualQueryPending_ = false;
  DualInfo info;
  auto el = xml::parseElement(s.bytes, s.ns);
  const xml::Element* q = s.type == "result" && el.isOk() ? el->child("query", kDualNs) : nullptr;
  if (const xml::Element* b = q ? q->child("backup", kDualNs) : nullptr) {
    info.node = std::string(b->attr("node"));
    info.host = std::string(b->attr("host"));
    std::string_view port = b->attr("port");
    info.hasBackup = !info.host.empty() && (port.empty() || (parseNumber(port, &info.port) && info.port > 0 &&
                                                             info.port < 65536));
  }
  if (const xml::Element* r = q ? q->child("relogin", kDualNs) : nullptr) {
    uint32_t lo = 0, hi = 0;
    if (parseNumber(r->attr("min"), &lo) && parseNumber(r->attr("max"), &hi) && lo <= hi) {
      info.reloginMinS = lo;
      info.reloginMaxS = hi;
    }
  }
  listener_.onDualInfo(*this, info);
}

void ClientSession::onActivateResult(const xml::Stanza& s) {
  auto el = xml::parseElement(s.bytes, s.ns);
  if (s.type == "error") {
    state_ = ClientState::Inactive;
    std::string condition = "?";
    if (el.isOk())
      if (const xml::Element* e = el->child("error"))
        for (const auto& c : e->children())
          if (c.ns() == kStanzasNs && c.name() != "text") condition = c.name();
    return listener_.onActivateRefused(*this, condition);
  }
  ActivatedInfo info;
  if (const xml::Element* a = el.isOk() ? el->child("activated", kDualNs) : nullptr) {
    info.presenceRestored = a->attr("presence-restored") == "true";
    (void)parseNumber(a->attr("pending"), &info.pending);
  }
  state_ = ClientState::Online;
  activeInbound_ = 0;
  if (options_.streamManagement && !smEnabled_) {
    transport_.send("<enable xmlns='urn:xmpp:sm:3'/>");
    smPending_ = smCounting_ = true;
  }
  // Like a client after login: without a restored presence the session is not
  // available, and messages to the bare JID would go to offline storage.
  if (!info.presenceRestored) transport_.send("<presence/>");
  listener_.onActivated(*this, info);
}

bool ClientSession::activate(uint32_t h) {
  if (state_ != ClientState::Inactive) return false;
  std::string out = "<iq type='set' id='act1'><activate xmlns='urn:xmesh:dual:0' h='" + std::to_string(h) + "'/></iq>";
  transport_.send(out);
  if (smCounting_) ++smSent_;
  state_ = ClientState::WaitActivated;
  return true;
}

void ClientSession::onOnlineStanza(xml::Stanza&& s) {
  if (s.ns == kSmNs) return onSm(s);
  if (s.name == "message") {
    countInbound();
    LgMessage m;
    if (s.type != "error" && parseLgMarker(s.bytes, &m)) listener_.onLgMessage(*this, m);
    return;
  }
  if (s.name == "presence") {
    countInbound();
    return listener_.onPresenceReceived(*this);
  }
  if (s.name == "iq") {
    countInbound();
    return onIq(s);
  }
}

void ClientSession::maybeOnline() {
  if (state_ != ClientState::WaitOnline || rosterPending_ || smPending_) return;
  state_ = ClientState::Online;
  if (options_.dualQuery && dualOffered_) {
    transport_.send("<iq type='get' id='dual1'><query xmlns='urn:xmesh:dual:0'/></iq>");
    if (smCounting_) ++smSent_;
    dualQueryPending_ = true;
  } else if (options_.dualQuery) {
    listener_.onDualInfo(*this, DualInfo{});  // the server does not speak the protocol
    if (state_ != ClientState::Online) return;
  }
  listener_.onOnline(*this);
}

bool ClientSession::sendChat(std::string_view toBareJid, uint32_t sender, uint32_t seq,
                             uint64_t sentUs) {
  if (state_ != ClientState::Online) return false;
  scratch_.clear();
  appendChat(scratch_, toBareJid, sender, seq, sentUs);
  transport_.send(scratch_);
  if (smCounting_) ++smSent_;
  return true;
}

bool ClientSession::sendPresence(std::string_view show) {
  if (state_ != ClientState::Online) return false;
  if (show.empty()) {
    transport_.send("<presence/>");
  } else {
    scratch_ = "<presence><show>";
    xml::appendEscapedText(scratch_, show);
    scratch_ += "</show></presence>";
    transport_.send(scratch_);
  }
  if (smCounting_) ++smSent_;
  return true;
}

bool ClientSession::sendAckRequest() {
  if (state_ != ClientState::Online || !smEnabled_) return false;
  transport_.send("<r xmlns='urn:xmpp:sm:3'/>");
  return true;
}

void ClientSession::appendChat(std::string& out, std::string_view toBareJid, uint32_t sender,
                               uint32_t seq, uint64_t sentUs) {
  out += "<message type='chat' to='";
  xml::appendEscapedAttr(out, toBareJid);
  out += "' id='m";
  out += std::to_string(seq);
  out += "'><body>lg</body><x xmlns='urn:xmesh:lg' u='";
  out += std::to_string(sender);
  out += "' s='";
  out += std::to_string(seq);
  out += "' t='";
  out += std::to_string(sentUs);
  out += "'/></message>";
}

bool ClientSession::parseHostPort(std::string_view text, std::string* host, int* port) {
  *port = 5222;
  std::string_view rest;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    *host = std::string(text.substr(1, close - 1));
    rest = text.substr(close + 1);
  } else {
    size_t colon = text.find(':');
    if (colon != text.rfind(':')) return false;  // a bare IPv6 literal needs brackets
    *host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) rest = text.substr(colon);
  }
  if (host->empty()) return false;
  if (rest.empty()) return true;
  if (rest.front() != ':') return false;
  return parseNumber(rest.substr(1), port) && *port > 0 && *port < 65536;
}

bool ClientSession::parseLgMarker(std::string_view bytes, LgMessage* out) {
  size_t ns = bytes.find(kLgNs);
  if (ns == std::string_view::npos) return false;
  size_t begin = bytes.rfind('<', ns);
  size_t end = bytes.find('>', ns);
  if (begin == std::string_view::npos || end == std::string_view::npos) return false;
  std::string_view el = bytes.substr(begin, end - begin);
  return parseNumber(attrIn(el, "u"), &out->sender) && parseNumber(attrIn(el, "s"), &out->seq) &&
         parseNumber(attrIn(el, "t"), &out->sentUs);
}

}  // namespace xmesh::loadgen
