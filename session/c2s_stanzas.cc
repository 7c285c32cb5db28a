// The bound session: stanzas from the client (RFC 6121), deliveries to it, roster and
// server IQs, XEP-0198 acks and resumption, and the session's release.
#include <charconv>
#include <chrono>
#include <thread>

#include "core/log.h"
#include "sasl/credentials.h"
#include "router/roster_convert.h"
#include "router/stanza_builder.h"
#include "session/c2s_session.h"
#include "session/dual_protocol.h"
#include "session/namespaces.h"
#include "store/store.h"
#include "xml/element.h"

namespace xmesh::session {
namespace {

bool isSubscriptionType(std::string_view t) {
  return t == "subscribe" || t == "subscribed" || t == "unsubscribe" || t == "unsubscribed";
}

std::string discoInfoPayload() {
  return "<query xmlns='http://jabber.org/protocol/disco#info'>"
         "<identity category='server' type='im' name='xmesh'/>"
         "<feature var='http://jabber.org/protocol/disco#info'/>"
         "<feature var='http://jabber.org/protocol/disco#items'/>"
         "<feature var='urn:xmpp:ping'/>"
         "<feature var='jabber:iq:roster'/>"
         "<feature var='msgoffline'/>"
         "<feature var='urn:xmpp:sm:3'/>"
         "<feature var='urn:xmpp:delay'/>"
         "</query>";
}

// Parses a SM resumption id "<loop>.<session>.<token>".
bool parseSmId(std::string_view id, uint32_t* loop, uint64_t* session) {
  size_t a = id.find('.');
  size_t b = id.find('.', a == std::string_view::npos ? a : a + 1);
  if (a == std::string_view::npos || b == std::string_view::npos) return false;
  auto r1 = std::from_chars(id.data(), id.data() + a, *loop);
  auto r2 = std::from_chars(id.data() + a + 1, id.data() + b, *session);
  return r1.ec == std::errc() && r2.ec == std::errc();
}

// The stanza's 'to' as a JID: nullopt when absent, false when malformed.
bool parseTo(const xml::Stanza& s, std::optional<jid::Jid>* to) {
  if (s.to.empty()) return true;
  auto parsed = jid::Jid::parse(s.to);
  if (!parsed.isOk()) return false;
  *to = std::move(parsed.value());
  return true;
}

// Unacknowledged messages of a session that ends go back to offline storage, keyed by
// user so they queue behind earlier writes and ahead of the next login's fetch. Their
// senders were told long ago that they were accepted: while the database is down
// ("unavailable", "busy") the rest is kept and the write tried again, behind the other
// jobs, for about a minute.
struct UnackedWrite {
  std::string user, domain;
  std::vector<std::string> msgs;  // not yet stored, in order
  size_t maxPerUser = 0;
  int64_t nowMs = 0;
  int attempts = 0;
};
constexpr int kUnackedWriteAttempts = 300;
constexpr auto kUnackedWriteRetry = std::chrono::milliseconds(200);

void submitUnackedWrite(SessionEnv& env, std::shared_ptr<UnackedWrite> w) {
  SessionEnv* home = &env;
  bool queued = env.submitStore([home, w](store::Store& st) {
    while (!w->msgs.empty()) {
      auto r = st.pushOffline(w->user, router::withDelayStamp(w->msgs.front(), w->domain, w->nowMs), w->nowMs,
                              w->maxPerUser);
      const bool transient = !r && store::isTransient(r.error());
      if (transient && ++w->attempts < kUnackedWriteAttempts) {
        std::this_thread::sleep_for(kUnackedWriteRetry);
        return submitUnackedWrite(*home, w);  // again, behind what queued meanwhile
      }
      if (!r) log::error("c2s", "unacked-message-not-stored", {{"user", w->user}, {"reason", r.error().reason}});
      w->msgs.erase(w->msgs.begin());
    }
  }, w->user);
  if (!queued) log::error("c2s", "unacked-messages-dropped-store-busy", {{"user", w->user}});
}

void storeUnackedOffline(SessionEnv& env, const std::string& user, StreamManagement& sm) {
  auto w = std::make_shared<UnackedWrite>();
  for (const auto& u : sm.unacked())
    if (u.offlineId == 0 && u.bytes->compare(0, 8, "<message") == 0) w->msgs.push_back(*u.bytes);
  if (w->msgs.empty()) return;
  w->user = user;
  w->domain = env.config().domain;
  w->maxPerUser = env.config().limits.maxOfflinePerUser;
  w->nowMs = env.wallNowMs();  // the delay stamp
  submitUnackedWrite(env, std::move(w));
}

// A session handed over for resumption whose new connection is already gone: the user
// goes unavailable and what it never acknowledged is stored, as on any session end.
void releaseOrphanedGrant(SessionEnv& env, ResumeGrant& g, const router::SessionRef& ref) {
  if (g.available) {
    env.router().broadcastPresence(env, g.jid, ref,
                                   router::makeShared(router::buildPresence(g.jid.full(), {}, "unavailable")),
                                   false, 0);
  }
  env.router().directory().write(g.jid.bareString(), [&](router::UserEntry& u) {
    std::erase_if(u.resources, [&](const router::ResourceEntry& r) { return r.ref == ref; });
  });
  storeUnackedOffline(env, g.jid.local(), g.sm);
}

}  // namespace

void C2sSession::countIn(StanzaClass c) {
  env_.stats().in(c);
  if (sm_.enabled() && c != StanzaClass::Other) sm_.onInboundHandled();
}

void C2sSession::handleBoundStanza(xml::Stanza&& s) {
  if (s.ns == ns::kSm) return handleSm(s);
  if (s.ns != ns::kClient) return failStream("unsupported-stanza-type");
  // RFC 6120 8.1.2.1: the server stamps 'from'; a client may only name itself.
  if (!s.from.empty()) {
    auto claimed = jid::Jid::parse(s.from);
    if (!claimed.isOk() || (claimed.value() != jid_ && claimed.value() != jid_.bare())) {
      return failStream("invalid-from");
    }
  }
  if (state_ == SessionState::Inactive && sentBeforeDemotionSeen(s)) {
    // Written before the client read <deactivated/>: routed as from an active session
    // (refusing them would drop what the client believes was accepted).
    if (s.name == "message") return handleMessage(std::move(s));
    return handleIq(std::move(s));
  }
  if (state_ == SessionState::Inactive && !allowedWhileInactive(s)) {
    // An inactive session is silent (docs/dual-connections.md §3): it neither sends
    // nor announces anything until it is activated.
    if (s.name == "message") countIn(StanzaClass::Message);
    else if (s.name == "presence") countIn(StanzaClass::Presence);
    else if (s.name == "iq") countIn(StanzaClass::Iq);
    else return failStream("unsupported-stanza-type");
    return sendStanzaError(s, "not-allowed", "this session is inactive (urn:xmesh:dual:0)");
  }
  if (s.name == "message") return handleMessage(std::move(s));
  if (s.name == "presence") return handlePresence(std::move(s));
  if (s.name == "iq") return handleIq(std::move(s));
  failStream("unsupported-stanza-type");
}

void C2sSession::handleMessage(xml::Stanza&& s) {
  countIn(StanzaClass::Message);
  auto rs = std::make_shared<router::RoutedStanza>();
  if (s.to.empty()) {
    rs->to = jid_.bare();
  } else {
    auto to = jid::Jid::parse(s.to);
    if (!to.isOk()) {
      return sendStanzaError(s, "jid-malformed");
    }
    rs->to = std::move(to.value());
  }
  rs->kind = router::StanzaKind::Message;
  rs->name = "message";
  rs->type = std::move(s.type);
  rs->id = std::move(s.id);
  rs->from = jid_;
  rs->bytes = router::makeShared(s.withFrom(jid_.full()));
  env_.router().route(env_, std::move(rs));
}

void C2sSession::handlePresence(xml::Stanza&& s) {
  countIn(StanzaClass::Presence);
  if (s.type == "probe") return;  // the server probes; clients may not
  std::optional<jid::Jid> to;
  if (!parseTo(s, &to)) return sendStanzaError(s, "jid-malformed");
  if (isSubscriptionType(s.type)) {
    if (!to || to->local().empty()) return sendStanzaError(s, "bad-request");
    env_.router().outboundSubscription(env_, jid_, *to, s.type, s.id);
    return;
  }
  if (!s.type.empty() && s.type != "unavailable" && s.type != "error")
    return sendStanzaError(s, "bad-request", "unknown presence type");
  bool available = s.type.empty();
  if (!to) {
    int priority = 0;
    if (available) {
      auto el = xml::parseElement(s.bytes, s.ns);
      if (el.isOk())
        if (const xml::Element* p = el->child("priority")) {
          int v = 0;
          auto txt = p->text();
          auto r = std::from_chars(txt.data(), txt.data() + txt.size(), v);
          if (r.ec == std::errc() && v >= -128 && v <= 127) priority = v;
        }
    }
    return announcePresence(router::makeShared(s.withFrom(jid_.full())), available, priority);
  }
  // Directed presence (RFC 6121 4.6).
  auto rs = std::make_shared<router::RoutedStanza>();
  rs->kind = router::StanzaKind::Presence;
  rs->name = "presence";
  rs->type = s.type;
  rs->id = s.id;
  rs->from = jid_;
  rs->to = *to;
  rs->bytes = router::makeShared(s.withFrom(jid_.full()));
  if (s.type != "error") env_.router().recordDirected(jid_, ref_, to->full(), available);
  env_.router().route(env_, std::move(rs));
}

// Broadcast presence (no 'to'), from the client or restored at activation: on the
// initial one, pending subscription requests and offline messages follow (XEP-0160).
void C2sSession::announcePresence(router::SharedBytes bytes, bool available, int priority) {
  bool initial = available && !available_;
  available_ = available;
  replicatePresence(bytes, available, priority);
  env_.router().broadcastPresence(env_, jid_, ref_, std::move(bytes), available, priority);
  if (initial && priority >= 0) {
    deliverPendingSubscriptions();
    flushOffline();
  }
}

void C2sSession::handleIq(xml::Stanza&& s) {
  countIn(StanzaClass::Iq);
  if (s.type != "get" && s.type != "set" && s.type != "result" && s.type != "error")
    return sendStanzaError(s, "bad-request");
  if ((s.type == "get" || s.type == "set") && s.id.empty()) return sendStanzaError(s, "bad-request");
  std::optional<jid::Jid> to;
  if (!parseTo(s, &to)) return sendStanzaError(s, "jid-malformed");
  bool toServer = !to || (to->local().empty() && to->domain() == env_.config().domain && to->isBare());
  bool toSelfBare = to && *to == jid_.bare();
  if (toServer || toSelfBare) return handleServerIq(s);
  auto rs = std::make_shared<router::RoutedStanza>();
  rs->kind = router::StanzaKind::Iq;
  rs->name = "iq";
  rs->type = std::move(s.type);
  rs->id = std::move(s.id);
  rs->from = jid_;
  rs->to = std::move(*to);
  rs->bytes = router::makeShared(s.withFrom(jid_.full()));
  env_.router().route(env_, std::move(rs));
}

void C2sSession::handleServerIq(const xml::Stanza& s) {
  if (s.type == "result" || s.type == "error") return;  // e.g. acks of roster pushes
  const std::string& n = s.firstChildNs;
  if (n == ns::kRoster) return handleRosterIq(s);
  if (n == ns::kPing && s.type == "get") return sendIqResult(s);
  if (n == ns::kSession && s.type == "set") return sendIqResult(s);  // legacy RFC 3921
  if (n == ns::kDiscoInfo && s.type == "get") {
    if (s.to.empty() || s.to == env_.config().domain) return sendIqResult(s, discoInfoPayload());
    return sendIqResult(s, "<query xmlns='http://jabber.org/protocol/disco#info'>"
                           "<identity category='account' type='registered'/></query>");
  }
  if (n == ns::kDiscoItems && s.type == "get")
    return sendIqResult(s, "<query xmlns='http://jabber.org/protocol/disco#items'/>");
  if (n == ns::kBind) return sendStanzaError(s, "not-allowed", "already bound");
  if (n == dual::kNs) return handleDualIq(s);
  sendStanzaError(s, "service-unavailable");
}

void C2sSession::handleRosterIq(const xml::Stanza& s) {
  std::string bare = jid_.bareString();
  if (s.type == "get") {
    std::string payload = "<query xmlns='jabber:iq:roster'>";
    env_.router().directory().write(bare, [&](router::UserEntry& u) {
      if (auto* me = u.findSession(ref_)) me->interested = true;
      for (const auto& item : u.roster)
        if (item.state.exists) router::appendRosterItem(payload, item, false);
    });
    payload += "</query>";
    return sendIqResult(s, payload);
  }
  auto el = xml::parseElement(s.bytes, s.ns);
  if (!el.isOk()) return sendStanzaError(s, "bad-request");
  const xml::Element* q = el->child("query", ns::kRoster);
  if (!q || q->children().size() != 1) return sendStanzaError(s, "bad-request");
  const xml::Element& itemEl = q->children()[0];
  if (itemEl.name() != "item") return sendStanzaError(s, "bad-request");
  auto contact = jid::Jid::parse(itemEl.attr("jid"));
  if (!contact.isOk()) return sendStanzaError(s, "jid-malformed");
  if (!contact->isBare() || contact.value() == jid_.bare()) return sendStanzaError(s, "not-acceptable");
  router::RosterEntry entry;
  entry.contact = router::InternedJid(contact->bareString());
  std::vector<std::string> groups;
  for (const auto& g : itemEl.children())
    if (g.name() == "group" && !g.text().empty()) groups.push_back(g.text());
  entry.setNameAndGroups(std::string(itemEl.attr("name")), std::move(groups));
  bool remove = itemEl.attr("subscription") == "remove";
  std::string error;
  // Answered once the store has it (or with a wait-type error if it could not: issue 6,
  // a database that is down): a result means the change is durable.
  SessionEnv* env = &env_;
  uint64_t id = ref_.id;
  auto request = std::make_shared<const xml::Stanza>(s);
  auto stored = [env, id, request](std::string_view condition) {
    C2sSession* self = env->findSession(id);
    if (!self) return;
    if (condition.empty()) return self->sendIqResult(*request);
    self->sendStanzaError(*request, condition, "the roster change could not be stored; try again", "wait");
  };
  if (!env_.router().setRosterItem(env_, jid_, std::move(entry), remove, &error, stored))
    return sendStanzaError(s, error);
}

void C2sSession::deliver(const router::SharedBytes& bytes, StanzaClass cls, int64_t offlineId) {
  if (finished_) return;
  env_.stats().out(cls);
  if (sm_.enabled()) {
    sm_.onSent(bytes, offlineId);
    if (!deliveringNotice_) replicateOut(bytes, cls, offlineId);
    if (sm_.unackedCount() > env_.config().limits.smMaxUnacked) {
      if (detached_) return releaseSession(true);
      return failStream("policy-violation", "too many unacknowledged stanzas");
    }
    if (detached_) return;
    sendRaw(*bytes);
    if (sm_.unackedCount() % 8 == 0) sendRaw("<r xmlns='urn:xmpp:sm:3'/>");
    return;
  }
  sendRaw(*bytes);
  if (offlineId > 0) {
    // Without XEP-0198 a write to the socket is the best delivery signal we get.
    std::string user = username_;
    (void)env_.submitStore([user, offlineId](store::Store& st) { (void)st.deleteOffline(user, {offlineId}); }, user);
  }
}

void C2sSession::flushOffline() {
  SessionEnv* env = &env_;
  uint64_t id = ref_.id;
  // Keyed by user: runs after any offline write queued before it.
  (void)env_.submitStore([env, id, user = username_](store::Store& st) {
    auto msgs = st.peekOffline(user, 1000);
    if (!msgs.isOk() || msgs.value().empty()) return;
    env->post([env, id, msgs = std::move(msgs.value())] {
      C2sSession* self = env->findSession(id);
      // A session demoted meanwhile leaves them stored for the session that serves now.
      if (!self || !self->routable()) return;
      for (const auto& m : msgs) {
        if (!self->offlineSeen_.insert(m.id).second) continue;  // fetched twice in a race
        LoopStats::add(env->stats().offlineDelivered);
        self->deliver(router::makeShared(m.bytes), StanzaClass::Message, m.id);
      }
    });
  }, username_);
}

void C2sSession::deliverPendingSubscriptions() {
  std::vector<std::string> pending;
  env_.router().directory().read(jid_.bareString(), [&](const router::UserEntry* u) {
    if (!u) return;
    for (const auto& item : u->roster)
      if (item.state.pendingIn) pending.push_back(item.contact);
  });
  for (const auto& c : pending)
    deliver(router::makeShared(router::buildPresence(c, jid_.bareString(), "subscribe")),
            StanzaClass::Presence);
}

void C2sSession::handleSm(const xml::Stanza& s) {
  if (s.name == "enable") {
    if (sm_.enabled()) {
      return sendRaw("<failed xmlns='urn:xmpp:sm:3'><unexpected-request "
                     "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>");
    }
    auto el = xml::parseElement(s.bytes, s.ns);
    bool resume = el.isOk() && (el->attr("resume") == "true" || el->attr("resume") == "1");
    sm_.enable(resume);
    smId_ = std::to_string(ref_.loop) + "." + std::to_string(ref_.id) + "." +
            sasl::base64Encode(sasl::randomBytes(9));
    std::string out = "<enabled xmlns='urn:xmpp:sm:3' id='" + smId_ + "'";
    if (resume)
      out += " resume='true' max='" + std::to_string(env_.config().limits.smResumeTimeoutSeconds) + "'";
    out += "/>";
    return sendRaw(out);
  }
  if (!sm_.enabled()) return failStream("unsupported-stanza-type", "stream management not enabled");
  if (s.name == "r") {
    // With a PRG peer, "handled" means replicated: a kill -9 of this node right after the
    // answer must not lose what it counts (router/replica_barrier.h).
    SessionEnv* env = &env_;
    uint64_t id = ref_.id;
    uint32_t h = sm_.inboundHandled();
    if (env_.whenReplicated([env, id, h] {
          if (C2sSession* self = env->findSession(id)) self->answerAckRequest(h);
        }))
      return;
    return answerAckRequest(h);
  }
  if (s.name == "a") {
    auto el = xml::parseElement(s.bytes, s.ns);
    uint32_t h = 0;
    std::string_view hv = el.isOk() ? el->attr("h") : std::string_view();
    auto r = std::from_chars(hv.data(), hv.data() + hv.size(), h);
    if (hv.empty() || r.ec != std::errc()) return failStream("bad-format", "invalid h");
    std::vector<int64_t> offlineAcked;
    Status st = sm_.onAck(h, [&](const StreamManagement::Unacked& u) {
      if (u.offlineId > 0) offlineAcked.push_back(u.offlineId);
    });
    if (!st.isOk()) return failStream("undefined-condition", "handled-count-too-high");
    replicateAck(h);
    if (!offlineAcked.empty())
      (void)env_.submitStore([user = username_, ids = std::move(offlineAcked)](store::Store& store) {
        (void)store.deleteOffline(user, ids);
      }, username_);
    if (moveAfterAck_) finishMove();  // the user moved away: now redirect
    return;
  }
  if (s.name == "resume") return failStream("policy-violation", "already bound");
  failStream("unsupported-stanza-type");
}

void C2sSession::answerAckRequest(uint32_t h) {
  if (finished_) return;
  // Answers stay monotonic even if replication stopped between two <r/>s.
  if (static_cast<int32_t>(h - ackAnswered_) < 0) h = ackAnswered_;
  ackAnswered_ = h;
  sendRaw("<a xmlns='urn:xmpp:sm:3' h='" + std::to_string(h) + "'/>");
}

void C2sSession::handleResume(const xml::Stanza& s) {
  auto el = xml::parseElement(s.bytes, s.ns);
  std::string previd = el.isOk() ? std::string(el->attr("previd")) : std::string();
  std::string_view hv = el.isOk() ? el->attr("h") : std::string_view();
  uint32_t h = 0;
  uint32_t loop = 0;
  uint64_t oldId = 0;
  auto r = std::from_chars(hv.data(), hv.data() + hv.size(), h);
  // The loop index comes from the client: never trust it as an array index.
  if (hv.empty() || r.ec != std::errc() || !parseSmId(previd, &loop, &oldId) ||
      loop >= env_.loopCount()) {
    return sendRaw("<failed xmlns='urn:xmpp:sm:3'><item-not-found "
                   "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>");
  }
  phase_ = Phase::WaitingStore;
  suspendInput();
  SessionEnv* home = &env_;
  uint32_t myLoop = ref_.loop;
  uint64_t myId = ref_.id;
  std::string user = username_;
  router::SessionRef newRef = ref_;
  env_.runOn(loop, [home, loop, oldId, myLoop, myId, user, previd, h, newRef] {
    SessionEnv& there = home->envOf(loop);
    C2sSession* old = there.findSession(oldId);
    std::optional<ResumeGrant> grant;
    if (old && old->smId_ == previd) grant = old->takeForResume(user);
    if (grant) {
      // Repoint the directory before the hand-over so new deliveries go to the new ref.
      there.router().directory().write(grant->jid.bareString(), [&](router::UserEntry& u) {
        if (auto* res = u.findResource(grant->jid.resource())) res->ref = newRef;
      });
    }
    // std::function needs a copyable capture; the grant owns a move-only SM queue.
    auto g = grant ? std::make_shared<ResumeGrant>(std::move(*grant)) : nullptr;
    there.runOn(myLoop, [home, myId, h, previd, g, newRef] {
      C2sSession* self = home->findSession(myId);
      if (!self) {
        // The new connection died meanwhile: end the taken-over session properly.
        if (g) releaseOrphanedGrant(*home, *g, newRef);
        return;
      }
      if (!g) return self->failResume("item-not-found");
      self->completeResume(std::move(*g), h, previd);
    });
  });
}

std::optional<ResumeGrant> C2sSession::takeForResume(const std::string& username) {
  if (!bound_ || !sm_.resumable() || finished_ || username != username_) return std::nullopt;
  ResumeGrant g;
  g.jid = jid_;
  g.sm = std::move(sm_);
  g.smId = smId_;
  g.available = available_;
  g.offlineSeen = std::move(offlineSeen_);
  g.inactive = state_ == SessionState::Inactive;
  g.dual = dual_;
  g.savedPresence = std::move(savedPresence_);
  g.savedPriority = savedPriority_;
  sm_ = StreamManagement{};
  // The old session ends silently: its resource now belongs to the new stream.
  if (transport_) {
    Transport* t = transport_;
    transport_ = nullptr;
    t->send("<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
            "</stream:error></stream:stream>");
    t->closeAfterFlush();
  }
  if (detached_) LoopStats::sub(env_.stats().sessionsDetached);
  if (state_ == SessionState::Active) LoopStats::sub(env_.stats().sessionsActive);
  if (state_ == SessionState::Inactive) LoopStats::sub(env_.stats().sessionsInactive);
  bound_ = false;
  detached_ = false;
  finished_ = true;
  phase_ = Phase::Closed;
  return g;
}

void C2sSession::completeResume(ResumeGrant grant, uint32_t clientH, std::string previd) {
  jid_ = std::move(grant.jid);
  smId_ = std::move(grant.smId);
  available_ = grant.available;
  offlineSeen_ = std::move(grant.offlineSeen);
  dual_ = grant.dual;
  savedPresence_ = std::move(grant.savedPresence);
  savedPriority_ = grant.savedPriority;
  sm_.adopt(std::move(grant.sm));
  std::vector<int64_t> offlineAcked;
  Status st = sm_.onAck(clientH, [&](const StreamManagement::Unacked& u) {
    if (u.offlineId > 0) offlineAcked.push_back(u.offlineId);
  });
  bound_ = true;
  phase_ = Phase::Bound;
  // An inactive session resumes inactive: its directory entry kept active = false.
  state_ = grant.inactive ? SessionState::Inactive : SessionState::Active;
  LoopStats::sub(env_.stats().sessionsNegotiating);
  LoopStats::add(grant.inactive ? env_.stats().sessionsInactive : env_.stats().sessionsActive);
  LoopStats::add(env_.stats().smResumed);
  if (!st.isOk()) return failStream("undefined-condition", "handled-count-too-high");
  if (!offlineAcked.empty())
    (void)env_.submitStore([user = username_, ids = std::move(offlineAcked)](store::Store& store) {
      (void)store.deleteOffline(user, ids);
    }, username_);
  sendRaw("<resumed xmlns='urn:xmpp:sm:3' h='" + std::to_string(sm_.inboundHandled()) +
          "' previd='" + previd + "'/>");
  for (const auto& u : sm_.unacked()) sendRaw(*u.bytes);
  replicateOpen();
  resumeInput();
}

void C2sSession::failResume(std::string_view condition) {
  phase_ = Phase::WaitFeatureRequest;
  sendRaw("<failed xmlns='urn:xmpp:sm:3'><" + std::string(condition) +
          " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>");
  resumeInput();
}

void C2sSession::releaseSession(bool broadcastUnavailable) {
  if (finished_) return;
  finished_ = true;
  if (detached_) LoopStats::sub(env_.stats().sessionsDetached);
  if (!bound_) {
    LoopStats::sub(env_.stats().sessionsNegotiating);
    return;
  }
  if (state_ == SessionState::Active) LoopStats::sub(env_.stats().sessionsActive);
  if (state_ == SessionState::Inactive) LoopStats::sub(env_.stats().sessionsInactive);
  state_ = SessionState::Closing;
  if (broadcastUnavailable && available_) {
    std::string bytes = router::buildPresence(jid_.full(), {}, "unavailable");
    env_.router().broadcastPresence(env_, jid_, ref_, router::makeShared(std::move(bytes)), false, 0);
  } else if (broadcastUnavailable) {
    env_.router().closeDirected(env_, jid_, ref_);
  }
  env_.router().directory().write(jid_.bareString(), [&](router::UserEntry& u) {
    std::erase_if(u.resources, [&](const router::ResourceEntry& r) { return r.ref == ref_; });
  });
  // Messages this stream never acknowledged go back to offline storage, so a dropped
  // connection loses nothing the sender was told was accepted; unless they were handed
  // to the PRG peer at a move, which delivers them at the activation there.
  replicateClose();
  if (!handedOff_) storeUnackedOffline(env_, username_, sm_);
  sm_ = StreamManagement{};
  bound_ = false;
}

}  // namespace xmesh::session
