// XMESH-DUAL on the c2s session (docs/dual-connections.md): the backup query, what an
// inactive session may send, activation, and the session's side of SRM failover and
// fallback (demotion of an active session, notices to inactive ones).
#include "core/log.h"
#include "router/stanza_builder.h"
#include "session/c2s_session.h"
#include "session/dual_protocol.h"
#include "session/namespaces.h"
#include "store/store.h"
#include "xml/element.h"

namespace xmesh::session {

bool C2sSession::allowedWhileInactive(const xml::Stanza& s) const {
  if (s.name != "iq") return false;
  // Only to the server: the session's account speaks for nobody while inactive.
  bool toServer = s.to.empty() || s.to == env_.config().domain || s.to == jid_.bareString();
  if (!toServer) return false;
  if (s.type == "result" || s.type == "error") return true;  // answers to our notices
  if (s.firstChildNs == dual::kNs) return true;
  return s.firstChildNs == ns::kPing && s.type == "get";  // XEP-0199 keep-alive
}

void C2sSession::handleDualIq(const xml::Stanza& s) {
  // Without a topology the node does not offer the protocol (no stream feature).
  if (!env_.dualEnabled()) return sendStanzaError(s, "service-unavailable");
  if (s.type == "get" && s.firstChildName == "query") {
    // A client that asks for its backup is dual-capable: at failover this session is
    // demoted and told, not closed.
    if (!dual_) {
      dual_ = true;
      replicateOpen();  // the peer holds a dual session's stanzas for its activation
    }
    return sendIqResult(s, dual::queryResult(env_.dualBackupFor(homeNode_)));
  }
  if (s.type == "set" && s.firstChildName == "activate") return activate(s);
  sendStanzaError(s, "bad-request");
}

std::string C2sSession::servingNodeText() const {
  if (std::string other = env_.seeOtherHost(homeNode_); !other.empty()) return "this user is served by " + other;
  if (homeNode_.empty()) return "this user has no home node";
  if (env_.servesHome(homeNode_)) return "dual connections are not available for this user";
  return "no node serves this user now";
}

void C2sSession::setActive(bool active) {
  if ((state_ == SessionState::Active) == active) return;
  env_.router().directory().write(jid_.bareString(), [&](router::UserEntry& u) {
    if (router::ResourceEntry* me = u.findSession(ref_)) me->active = active;
  });
  LoopStats::sub(active ? env_.stats().sessionsInactive : env_.stats().sessionsActive);
  LoopStats::add(active ? env_.stats().sessionsActive : env_.stats().sessionsInactive);
  state_ = active ? SessionState::Active : SessionState::Inactive;
}

void C2sSession::activate(const xml::Stanza& s, bool mayHold) {
  auto el = xml::parseElement(s.bytes, s.ns);
  const xml::Element* a = el.isOk() ? el->child("activate", dual::kNs) : nullptr;
  if (!a) return sendStanzaError(s, "bad-request");
  auto h = dual::activateH(*a);
  if (!h.isOk()) return sendStanzaError(s, "bad-request", h.error().detail);
  // Idempotent, so a client that lost the first answer may ask again.
  if (state_ == SessionState::Active) return sendIqResult(s, dual::activatedPayload(false, 0));
  // Never two active sessions of one user on two nodes (§8): the SRM's view decides.
  // A client usually sees its home die (a reset connection) before this node's SRM has
  // waited out the heartbeat timeout: its request is held until the takeover, so the
  // user is active the moment this node serves it instead of after a refusal and a
  // retry (§5). A newer request replaces a held one, which is refused.
  if (!env_.servesHome(homeNode_)) {
    const int64_t hold = mayHold ? env_.activationHoldMs(homeNode_) : 0;
    if (hold <= 0) return sendStanzaError(s, "not-allowed", servingNodeText());
    if (heldActivation_) sendStanzaError(*heldActivation_, "not-allowed", "replaced by a newer activation request");
    heldActivation_ = std::make_shared<const xml::Stanza>(s);
    heldActivationUntilMs_ = env_.nowMs() + hold;
    return;
  }
  heldActivation_.reset();
  // The replicated presence wins over the one this session had before it was demoted:
  // it is what the user's contacts saw last.
  auto replica = env_.router().takeReplicated(jid_, h.value());
  const bool replicated = replica.presence != nullptr;
  int priority = replicated ? replica.priority : savedPriority_;
  router::SharedBytes presence = replicated ? std::move(replica.presence) : std::move(savedPresence_);
  savedPresence_.reset();
  dual_ = true;
  handedOff_ = false;
  demotionNoticeId_.clear();
  setActive(true);
  replicateOpen();
  if (!replica.offlineHandled.empty())
    (void)env_.submitStore([user = username_, ids = std::move(replica.offlineHandled)](store::Store& st) {
      (void)st.deleteOffline(user, ids);
    }, username_);
  log::debug("dual", "activated", {{"jid", jid_.full()}, {"pending", std::to_string(replica.pending.size())}});
  sendIqResult(s, dual::activatedPayload(presence != nullptr, replica.pending.size()));
  // §5: the replicated stanzas first, in order, then presence; its broadcast fetches the
  // offline queue (what arrived during the switch), as at a login.
  for (auto& p : replica.pending) deliver(p.bytes, p.cls);
  if (presence) announcePresence(std::move(presence), true, priority);
}

void C2sSession::deactivate() {
  if (!bound_ || finished_ || state_ != SessionState::Active) return;
  // Kept for a later activation on this node (the way back without a reconnect, §6).
  savedPresence_.reset();
  if (available_) {
    env_.router().directory().read(jid_.bareString(), [&](const router::UserEntry* u) {
      if (!u) return;
      for (const auto& r : u->resources)
        if (r.ref == ref_) {
          savedPresence_ = r.lastPresence;
          savedPriority_ = r.priority;
        }
    });
  }
  // The PRG peer has this stream's unacknowledged stanzas (replicated) and delivers
  // them at the client's activation there: not to offline storage at our end.
  handedOff_ = replicaTarget() != nullptr;
  // Out of routing first, so nothing new is aimed at this session; what is in flight
  // is routed again by the loop (Loop::deliverLocal).
  setActive(false);
  // Contacts see the resource go, as at a disconnect; it comes back with the activation
  // on the node that serves the user now.
  if (available_) {
    announcePresence(router::makeShared(router::buildPresence(jid_.full(), {}, "unavailable")), false, 0);
  } else {
    env_.router().closeDirected(env_, jid_, ref_);
  }
  log::debug("dual", "deactivated", {{"jid", jid_.full()}});
  sendDualNotice(dual::deactivatedNotice());
  demotionNoticeId_ = "dual" + std::to_string(noticeSeq_);
  demotionGraceUntilMs_ = env_.nowMs() + kDemotionGraceMs;
}

bool C2sSession::sentBeforeDemotionSeen(const xml::Stanza& s) {
  if (demotionNoticeId_.empty()) return false;
  // The client's answer to <deactivated/> ends the stanzas it wrote before reading it.
  if (s.name == "iq" && (s.type == "result" || s.type == "error") && s.id == demotionNoticeId_) {
    demotionNoticeId_.clear();
    return false;
  }
  if (env_.nowMs() > demotionGraceUntilMs_) {
    demotionNoticeId_.clear();
    return false;
  }
  if (s.name == "message") return true;
  // IQs to other entities; the server's own IQs follow the inactive rules.
  return s.name == "iq" && !allowedWhileInactive(s) && !s.to.empty() && s.to != env_.config().domain &&
         s.to != jid_.bareString();
}

void C2sSession::sendDualNotice(std::string_view payload) {
  std::string id = "dual" + std::to_string(++noticeSeq_);
  // Through deliver(): counted for XEP-0198 and kept in a detached session's queue.
  deliveringNotice_ = true;
  deliver(router::makeShared(dual::noticeIq(id, jid_.full(), payload)), StanzaClass::Iq);
  deliveringNotice_ = false;
}

void C2sSession::onServingChanged(bool servedHere) {
  // Sessions still negotiating are checked when they bind.
  if (!bound_ || finished_) return;
  // Changes are posted to the loop: act on the view as it is now, so a stale event of a
  // quick back-and-forth does nothing (the later event follows).
  if (env_.servesHome(homeNode_) != servedHere) return;
  if (servedHere) {
    if (state_ != SessionState::Inactive) return;
    // The client asked already: this is its answer (no notice needed).
    if (heldActivation_) return activate(*std::shared_ptr<const xml::Stanza>(std::move(heldActivation_)));
    // This node takes the users of the home over (§5), or is the home taking them back
    // (§6): either way, the client activates this session now.
    const bool isHome = homeNode_ == env_.config().nodeId;
    return sendDualNotice(isHome ? dual::fallbackNotice(homeNode_) : dual::failoverNotice(homeNode_));
  }
  if (state_ != SessionState::Active) return;
  if (dual_) return deactivate();
  // A plain client learns where to log in again (§7). A detached one cannot be told: it
  // ends as at its resumption timeout.
  if (detached_) return releaseSession(true);
  // XEP-0198: ask the client what it has before closing. Stanzas still unacknowledged
  // at the close go to offline storage and come again at its next login; those it
  // acknowledges now do not. It stays routable for the round trip (refusing its own
  // stanzas meanwhile would lose them).
  if (sm_.enabled() && sm_.unackedCount() > 0 && !moveAfterAck_) {
    moveAfterAck_ = true;
    moveDeadlineMs_ = env_.nowMs() + kMoveAckWaitMs;
    sendRaw("<r xmlns='urn:xmpp:sm:3'/>");
    return;
  }
  finishMove();
}

void C2sSession::expireHeldActivation(int64_t nowMs) {
  if (!heldActivation_ || nowMs < heldActivationUntilMs_) return;
  auto held = std::move(heldActivation_);
  activate(*held, /*mayHold=*/false);  // served by now (an event still in flight), or refused
}

void C2sSession::finishMove() {
  moveAfterAck_ = false;
  if (finished_ || phase_ == Phase::Closed) return;
  if (env_.servesHome(homeNode_)) return;  // moved back meanwhile
  if (redirectIfServedElsewhere()) return;
  failStream("system-shutdown", "no node serves this user now; log in again later");
}

}  // namespace xmesh::session
