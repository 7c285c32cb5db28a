#include "router/stanza_router.h"

#include "core/log.h"
#include "router/roster_convert.h"
#include "router/stanza_builder.h"
#include "store/store.h"

namespace xmesh::router {
namespace {

bool isSubscriptionType(std::string_view t) {
  return t == "subscribe" || t == "subscribed" || t == "unsubscribe" || t == "unsubscribed";
}

roster::Event inboundEvent(std::string_view t) {
  if (t == "subscribe") return roster::Event::InSubscribe;
  if (t == "subscribed") return roster::Event::InSubscribed;
  if (t == "unsubscribe") return roster::Event::InUnsubscribe;
  return roster::Event::InUnsubscribed;
}

roster::Event outboundEvent(std::string_view t) {
  if (t == "subscribe") return roster::Event::OutSubscribe;
  if (t == "subscribed") return roster::Event::OutSubscribed;
  if (t == "unsubscribe") return roster::Event::OutUnsubscribe;
  return roster::Event::OutUnsubscribed;
}

StanzaClass classOf(StanzaKind k) {
  switch (k) {
    case StanzaKind::Message: return StanzaClass::Message;
    case StanzaKind::Presence: return StanzaClass::Presence;
    case StanzaKind::Iq: return StanzaClass::Iq;
    case StanzaKind::Other: return StanzaClass::Other;
  }
  return StanzaClass::Other;
}

bool routable(const ResourceEntry& r) { return r.active; }

// The error a sender gets for a message the store could not keep. "quota" is the
// recipient's state and lasts: cancel-type service-unavailable (XEP-0160). Anything else
// is the database failing: internal-server-error, whose type is 'wait'
// (stanza_builder.cc), so the client knows to send again later. Only "io" gets there
// for an offline write: "unavailable" and "busy" hold the message instead
// (router/deferred_offline.h). Not resource-constraint: that one says "the store queue
// is full, or too many messages are held" (back-pressure).
std::string_view offlineFailureCondition(const Error& e) {
  return e.reason == "quota" ? "service-unavailable" : "internal-server-error";
}

// The outcome of one offline write on a store worker. `transient`: the database is down
// or overloaded ("unavailable", "busy"), so the message is held and tried again; other
// failures are answered at once.
struct OfflineWrite {
  std::string condition;  // empty: stored
  bool unknownUser = false;
  bool transient = false;
};

OfflineWrite writeOffline(store::Store& st, const RoutedStanza& s, const std::string& domain,
                          int64_t acceptedMs, size_t maxPerUser) {
  OfflineWrite w;
  auto fail = [&w](const Error& e) {
    w.condition = offlineFailureCondition(e);
    w.transient = store::isTransient(e);
  };
  auto user = st.getUser(s.to.local());
  if (!user.isOk()) {
    fail(user.error());
  } else if (!user.value().has_value()) {
    w.condition = "service-unavailable";
    w.unknownUser = true;
  } else {
    auto r = st.pushOffline(s.to.local(), withDelayStamp(*s.bytes, domain, acceptedMs), acceptedMs, maxPerUser);
    if (!r.isOk()) fail(r.error());
  }
  return w;
}

// Roster writes that nobody waits for (the cached roster already holds the change):
// a failure cannot be answered, so it is at least visible. The change lives on in the
// cache while the user is online and is lost from the store if the write never lands.
void logRosterWriteFailure(std::string_view user, const Status& s) {
  if (s) return;
  log::warn("router", "roster-write-failed",
            {{"user", std::string(user)}, {"reason", s.error().reason}, {"detail", s.error().detail}});
}

Status persistRosterItem(store::Store& st, std::string_view user, const store::RosterItem& row) {
  Status s = st.putRosterItem(user, row);
  logRosterWriteFailure(user, s);
  return s;
}

// An error reply to a subscription stanza the store could not apply. Those carry the
// sender's bare JID (RFC 6121 3.1.2), which bounce() cannot match to one session: the
// reply is routed like any presence to that JID (its available resources, on whichever
// node serves it).
void refuseSubscription(StanzaRouter& router, RouterEnv& env, const RoutedStanza& s,
                        std::string_view condition) {
  if (s.type == "error") return;
  auto e = std::make_shared<RoutedStanza>();
  e->kind = StanzaKind::Presence;
  e->name = "presence";
  e->type = "error";
  e->id = s.id;
  e->from = s.to;
  e->to = s.from;
  e->bytes = makeShared(buildStanzaError("presence", s.to.full(), s.from.full(), s.id, condition, {}));
  env.stats().error(condition == "resource-constraint" ? ErrorReason::ResourceConstraint
                                                        : ErrorReason::InternalError);
  router.route(env, std::move(e));
}

// A presence the server originates on a user's behalf (subscription replies, unavailable
// to directed-presence recipients), addressed and serialized once.
std::shared_ptr<RoutedStanza> serverPresence(const jid::Jid& from, const jid::Jid& to,
                                             std::string_view type) {
  auto p = std::make_shared<RoutedStanza>();
  p->kind = StanzaKind::Presence;
  p->name = "presence";
  p->type = std::string(type);
  p->from = from;
  p->to = to;
  p->bytes = makeShared(buildPresence(from.full(), to.full(), type));
  return p;
}

}  // namespace

StanzaKind kindOf(std::string_view n) {
  if (n == "message") return StanzaKind::Message;
  if (n == "presence") return StanzaKind::Presence;
  if (n == "iq") return StanzaKind::Iq;
  return StanzaKind::Other;
}

StanzaRouter::StanzaRouter(const NodeConfig& config, Directory& directory)
    : config_(config), directory_(directory) {}

std::string StanzaRouter::nextPushId() {
  return "push" + std::to_string(pushCounter_.fetch_add(1, std::memory_order_relaxed));
}

void StanzaRouter::route(RouterEnv& env, std::shared_ptr<const RoutedStanza> s) {
  if (s->to.domain() != config_.domain) {
    // No server-to-server federation in xmesh: only the mesh's own domain exists.
    if (s->type != "error" && s->type != "result") bounce(env, *s, "remote-server-not-found");
    return;
  }
  if (mesh_ && !s->fromMesh() && !s->to.local().empty()) {
    if (auto node = mesh_->remoteServer(s->to.local())) {
      mesh_->forward(env, *node, std::move(s));
      return;
    }
  }
  switch (s->kind) {
    case StanzaKind::Message: return routeMessage(env, std::move(s));
    case StanzaKind::Presence: return routePresence(env, std::move(s));
    case StanzaKind::Iq: return routeIq(env, std::move(s));
    case StanzaKind::Other: return;
  }
}

std::vector<SessionRef> StanzaRouter::messageTargets(const RoutedStanza& s, bool* online) const {
  std::vector<SessionRef> out;
  directory_.read(s.to.bareString(), [&](const UserEntry* u) {
    *online = u != nullptr;
    if (!u) return;
    if (!s.to.isBare()) {
      for (const auto& r : u->resources)
        if (r.resource == s.to.resource() && routable(r)) {
          out.push_back(r.ref);
          return;
        }
      // Full JID not online: fall through to the bare-JID rules (RFC 6121 8.5.3.2.1).
      if (s.type == "error" || s.type == "groupchat") return;
    }
    int best = -1;
    for (const auto& r : u->resources)
      if (r.available && routable(r) && r.priority >= 0) best = std::max(best, r.priority);
    if (best < 0) return;
    for (const auto& r : u->resources) {
      if (!r.available || !routable(r) || r.priority < 0) continue;
      // Headlines go to every non-negative resource; chat/normal to the top priority.
      if (s.type == "headline" || r.priority == best) out.push_back(r.ref);
    }
  });
  return out;
}

void StanzaRouter::routeMessage(RouterEnv& env, std::shared_ptr<const RoutedStanza> s) {
  if (s->to.local().empty()) {
    if (s->type != "error") bounce(env, *s, "service-unavailable");
    return;
  }
  bool online = false;
  auto targets = messageTargets(*s, &online);
  if (!targets.empty()) {
    for (const auto& t : targets) env.deliver(t, s->bytes, StanzaClass::Message, s);
    return;
  }
  const std::string& t = s->type;
  if (t == "error" || t == "headline") return;  // never stored, never bounced
  if (t == "groupchat") {
    bounce(env, *s, "service-unavailable");
    return;
  }
  storeOffline(env, std::move(s));
}

void StanzaRouter::storeOffline(RouterEnv& env, std::shared_ptr<const RoutedStanza> s) {
  const int64_t now = env.wallNowMs();  // the delay stamp
  // Behind messages already held for this user: written in the order they were taken.
  if (env.deferredOffline().holds(s->to.local())) return holdOffline(env, std::move(s), now);
  size_t maxPerUser = config_.limits.maxOfflinePerUser;
  std::string domain = config_.domain;
  RouterEnv* envp = &env;
  StanzaRouter* self = this;
  bool queued = env.submitStore([s, maxPerUser, domain, now, envp, self](store::Store& st) {
    OfflineWrite w = writeOffline(st, *s, domain, now, maxPerUser);
    envp->post([s, w, now, envp, self] {
      if (w.condition.empty()) return self->offlineStored(*envp, *s);
      if (w.transient) return self->holdOffline(*envp, s, now);
      // Not a user of this node's store: while the mesh directory is still filling, the
      // recipient may be a user of another cluster not announced yet. Retry a while
      // before answering service-unavailable.
      constexpr uint8_t kMaxDirectoryRetries = 40;  // x 250 ms: 10 s
      if (w.unknownUser && self->mesh_ && !s->fromMesh() &&
          s->directoryRetries < kMaxDirectoryRetries && self->mesh_->directoryPending()) {
        auto again = std::make_shared<RoutedStanza>(*s);
        ++again->directoryRetries;
        self->mesh_->retryLater(*envp, std::move(again));
        return;
      }
      self->bounce(*envp, *s, w.condition);
    });
  }, s->to.local());
  if (!queued) bounce(env, *s, "resource-constraint");
}

void StanzaRouter::holdOffline(RouterEnv& env, std::shared_ptr<const RoutedStanza> s, int64_t acceptedMs) {
  DeferredOfflineWrites& deferred = env.deferredOffline();
  if (deferred.full()) return bounce(env, *s, "resource-constraint");
  const std::string user = s->to.local();
  deferred.keep(user, {std::move(s), acceptedMs});
  env.stats().offlineHeld.store(deferred.held(), std::memory_order_relaxed);
}

void StanzaRouter::offlineStored(RouterEnv& env, const RoutedStanza& s) {
  LoopStats::add(env.stats().offlineStored);
  // The user may have become available between the routing decision and the write:
  // let its available sessions fetch the queue again.
  std::vector<SessionRef> avail;
  directory_.read(s.to.bareString(), [&](const UserEntry* u) {
    if (!u) return;
    for (const auto& r : u->resources)
      if (r.available && r.active) avail.push_back(r.ref);
  });
  for (const auto& r : avail) env.offlineArrived(r);
}

void StanzaRouter::retryOfflineWrites(RouterEnv& env) {
  DeferredOfflineWrites& deferred = env.deferredOffline();
  if (deferred.held() == 0) return;
  size_t maxPerUser = config_.limits.maxOfflinePerUser;
  std::string domain = config_.domain;
  RouterEnv* envp = &env;
  StanzaRouter* self = this;
  for (auto& batch : deferred.takeDue()) {
    auto b = std::make_shared<DeferredOfflineWrites::Batch>(std::move(batch));
    bool queued = env.submitStore([b, maxPerUser, domain, envp, self](store::Store& st) {
      // In order; the first one the database still cannot take ends the batch.
      std::vector<OfflineWrite> results;
      for (const auto& h : b->messages) {
        OfflineWrite w = writeOffline(st, *h.stanza, domain, h.acceptedMs, maxPerUser);
        if (w.transient) break;
        results.push_back(std::move(w));
      }
      envp->post([b, results = std::move(results), envp, self] {
        for (size_t i = 0; i < results.size(); ++i) {
          const RoutedStanza& s = *b->messages[i].stanza;
          if (results[i].condition.empty()) self->offlineStored(*envp, s);
          else self->bounce(*envp, s, results[i].condition);
        }
        envp->deferredOffline().done(b->user, results.size());
        envp->stats().offlineHeld.store(envp->deferredOffline().held(), std::memory_order_relaxed);
      });
    }, b->user);
    if (!queued) deferred.done(b->user, 0);  // the store queue is full: next second
  }
}

void StanzaRouter::routeIq(RouterEnv& env, std::shared_ptr<const RoutedStanza> s) {
  bool isRequest = s->type == "get" || s->type == "set";
  if (!s->to.isBare() && !s->to.local().empty()) {
    std::optional<SessionRef> target;
    directory_.read(s->to.bareString(), [&](const UserEntry* u) {
      if (!u) return;
      for (const auto& r : u->resources)
        if (r.resource == s->to.resource() && routable(r)) target = r.ref;
    });
    if (target) {
      // A request whose target leaves in flight is answered, not dropped (RFC 6120 8.2.3).
      env.deliver(*target, s->bytes, StanzaClass::Iq, isRequest ? s : nullptr);
      return;
    }
  }
  // A request to a bare JID is answered by the server on the user's behalf: xmesh
  // implements no such namespace (vCard, private storage) yet.
  if (isRequest) bounce(env, *s, "service-unavailable");
}

void StanzaRouter::routePresence(RouterEnv& env, std::shared_ptr<const RoutedStanza> s) {
  if (isSubscriptionType(s->type)) {
    roster::Event event = inboundEvent(s->type);
    inboundSubscription(env, std::move(s), event);
    return;
  }
  if (s->type == "probe") {
    // Clients must not probe (the session drops theirs); servers of the mesh do.
    if (s->fromMesh()) answerRemoteProbe(env, *s);
    return;
  }
  if (s->type == "error") {
    // Presence errors go to the full JID only.
  }
  std::vector<SessionRef> targets;
  directory_.read(s->to.bareString(), [&](const UserEntry* u) {
    if (!u) return;
    for (const auto& r : u->resources) {
      if (!routable(r)) continue;
      if (!s->to.isBare() ? r.resource == s->to.resource() : r.available) targets.push_back(r.ref);
    }
  });
  for (const auto& t : targets) env.deliver(t, s->bytes, StanzaClass::Presence);
}

void StanzaRouter::inboundSubscription(RouterEnv& env, std::shared_ptr<const RoutedStanza> s,
                                       roster::Event event) {
  const std::string contactBare = s->to.bareString();
  const std::string senderBare = s->from.bareString();
  // Subscription stanzas carry the sender's bare JID (RFC 6121 3.1.2).
  std::string bytes = buildPresence(senderBare, contactBare, s->type);
  SharedBytes shared = makeShared(std::move(bytes));

  struct Effects {
    bool handledOnline = false;
    bool changed = false;
    roster::Outcome outcome;
    RosterEntry item;
    std::vector<SessionRef> available;
  } fx;
  directory_.write(contactBare, [&](UserEntry& u) {
    if (u.resources.empty() || !u.rosterLoaded) return;
    fx.handledOnline = true;
    RosterEntry* item = u.findContact(senderBare);
    roster::ItemState cur = item ? item->state : roster::ItemState{};
    fx.outcome = roster::apply(cur, event);
    // Persist any change, including a pending-in request that creates no visible item
    // yet (RFC 6121 3.1.3): the approval later needs it.
    fx.changed = !(fx.outcome.next == cur);
    if (fx.changed) {
      if (!item) {
        u.roster.push_back(RosterEntry{InternedJid(senderBare), {}, {}});
        item = &u.roster.back();
      }
      item->state = fx.outcome.next;
      fx.item = *item;
    }
    for (const auto& r : u.resources)
      if (r.available && routable(r)) fx.available.push_back(r.ref);
  });

  if (fx.handledOnline) {
    if (fx.changed) {
      store::RosterItem row = toStoreItem(fx.item);
      std::string user = s->to.local();
      (void)env.submitStore([user, row](store::Store& st) { (void)persistRosterItem(st, user, row); }, user);
    }
    if (fx.outcome.stateChanged) pushRoster(env, contactBare, fx.item, false);
    if (fx.outcome.forward)
      for (const auto& t : fx.available) env.deliver(t, shared, StanzaClass::Presence);
    if (fx.outcome.autoReplySubscribed) {
      route(env, serverPresence(s->to.bare(), s->from.bare(), "subscribed"));
    }
    return;
  }

  // The contact has no session here: apply the change in the store.
  RouterEnv* envp = &env;
  StanzaRouter* self = this;
  bool queued = env.submitStore([s, event, senderBare, envp, self](store::Store& st) {
    // The store could not apply it: the sender hears so (a 'wait' error, as for an
    // offline message) rather than the request vanishing.
    auto refuse = [&] {
      envp->post([s, envp, self] { refuseSubscription(*self, *envp, *s, "internal-server-error"); });
    };
    auto user = st.getUser(s->to.local());
    if (!user.isOk()) return refuse();
    if (!user.value().has_value()) {
      // RFC 6121 3.1.3: subscribe to a non-existent contact gets unsubscribed.
      if (event == roster::Event::InSubscribe) {
        envp->post([s, envp, self] {
          self->route(*envp, serverPresence(s->to.bare(), s->from.bare(), "unsubscribed"));
        });
      }
      return;
    }
    auto rosterItems = st.getRoster(s->to.local());
    if (!rosterItems.isOk()) return refuse();
    RosterEntry entry{InternedJid(senderBare), {}, {}};
    for (const auto& i : rosterItems.value())
      if (i.contact == senderBare) entry = fromStoreItem(i);
    roster::Outcome o = roster::apply(entry.state, event);
    if (!(o.next == entry.state)) {
      entry.state = o.next;
      if (!persistRosterItem(st, s->to.local(), toStoreItem(entry))) return refuse();
    }
    if (o.autoReplySubscribed) {
      envp->post([s, envp, self] {
        self->route(*envp, serverPresence(s->to.bare(), s->from.bare(), "subscribed"));
      });
    }
  }, s->to.local());
  if (!queued) {
    log::warn("router", "subscription-refused-store-busy", {{"to", contactBare}});
    refuseSubscription(*this, env, *s, "resource-constraint");
  }
}

void StanzaRouter::pushRoster(RouterEnv& env, std::string_view userBare, const RosterEntry& item,
                              bool removed) {
  std::vector<std::pair<SessionRef, std::string>> targets;
  directory_.read(userBare, [&](const UserEntry* u) {
    if (!u) return;
    for (const auto& r : u->resources)
      if (r.interested && routable(r)) targets.emplace_back(r.ref, std::string(userBare) + "/" + r.resource);
  });
  for (auto& [ref, full] : targets)
    env.deliver(ref, makeShared(buildRosterPush(full, item, removed, nextPushId())), StanzaClass::Iq);
}

void StanzaRouter::outboundSubscription(RouterEnv& env, const jid::Jid& userFull,
                                        const jid::Jid& contact, std::string_view type,
                                        std::string_view id) {
  const std::string userBare = userFull.bareString();
  const std::string contactBare = contact.bareString();
  roster::Event event = outboundEvent(type);
  roster::Outcome outcome;
  bool changed = false;
  RosterEntry snapshot;
  std::vector<SharedBytes> ownPresences;
  std::vector<std::string> ownResources;
  directory_.write(userBare, [&](UserEntry& u) {
    RosterEntry* item = u.findContact(contactBare);
    roster::ItemState cur = item ? item->state : roster::ItemState{};
    outcome = roster::apply(cur, event);
    changed = !(outcome.next == cur);
    if (changed) {
      if (!item) {
        u.roster.push_back(RosterEntry{InternedJid(contactBare), {}, {}});
        item = &u.roster.back();
      }
      item->state = outcome.next;
      snapshot = *item;
    }
    for (const auto& r : u.resources) {
      if (r.available && r.lastPresence) ownPresences.push_back(r.lastPresence);
      ownResources.push_back(r.resource);
    }
  });
  if (changed) {
    store::RosterItem row = toStoreItem(snapshot);
    std::string user = userFull.local();
    (void)env.submitStore([user, row](store::Store& st) { (void)persistRosterItem(st, user, row); }, user);
  }
  if (outcome.stateChanged) pushRoster(env, userBare, snapshot, false);
  if (outcome.forward) {
    auto s = serverPresence(userFull.bare(), contact.bare(), type);
    s->id = std::string(id);
    route(env, s);
  }
  // After approving a subscription the contact gets the user's current presence; after
  // cancelling one it gets unavailable (RFC 6121 3.1.5, 3.2.2).
  auto sendToContact = [&](SharedBytes bytes) {
    auto p = std::make_shared<RoutedStanza>();
    p->kind = StanzaKind::Presence;
    p->from = userFull;
    p->to = contact.bare();
    p->bytes = std::move(bytes);
    route(env, p);
  };
  // Broadcast bytes carry no `to`; a copy for one contact names it (the mesh needs it).
  if (outcome.sendPresenceToContact)
    for (auto& b : ownPresences) sendToContact(makeShared(withToAttribute(*b, contactBare)));
  if (outcome.sendUnavailableToContact)
    for (auto& r : ownResources)
      sendToContact(makeShared(buildPresence(userBare + "/" + r, contactBare, "unavailable")));
}

bool StanzaRouter::setRosterItem(RouterEnv& env, const jid::Jid& userFull, RosterEntry item,
                                 bool remove, std::string* error,
                                 std::function<void(std::string_view condition)> stored) {
  const std::string userBare = userFull.bareString();
  // Checked against the cache now; the cache, the pushes and the subscription changes
  // follow only once the store has the change, so a write that fails (the database is
  // down) changes nothing anywhere.
  bool refused = false;
  RosterEntry row;  // what the store gets (a set)
  directory_.read(userBare, [&](const UserEntry* u) {
    const RosterEntry* cur = u ? u->findContact(item.contact) : nullptr;
    if (remove) {
      if (!cur) {
        refused = true;
        *error = "item-not-found";
      }
      return;
    }
    if (!cur) {
      int limit = config_.limits.maxRosterItems;
      if (limit > 0 && u && u->roster.size() >= static_cast<size_t>(limit)) {
        refused = true;
        *error = "not-allowed";
        return;
      }
      row = item;
      row.state = roster::ItemState{};
      row.state.exists = true;
      return;
    }
    row = *cur;
    row.extra = item.extra;
    row.state.exists = true;
  });
  if (refused) return false;
  const std::string user = userFull.local();
  RouterEnv* home = &env;  // the outcome goes back to the caller's loop
  StanzaRouter* self = this;
  auto done = [home, self, userFull, item, remove, row, stored](const Status& s) {
    home->post([=] {
      if (s) self->applyRosterSet(*home, userFull, item, remove, row);
      if (stored) stored(s ? "" : "internal-server-error");
    });
  };
  bool queued = remove ? env.submitStore([user, c = item.contact.str(), done](store::Store& st) {
    Status s = st.removeRosterItem(user, c);
    logRosterWriteFailure(user, s);
    done(s);
  }, user)
                       : env.submitStore([user, r = toStoreItem(row), done](store::Store& st) {
    done(persistRosterItem(st, user, r));
  }, user);
  if (!queued && stored) stored("resource-constraint");
  return true;
}

void StanzaRouter::applyRosterSet(RouterEnv& env, const jid::Jid& userFull, const RosterEntry& item,
                                  bool remove, const RosterEntry& written) {
  const std::string userBare = userFull.bareString();
  roster::ItemState before;
  bool existed = false, rewrite = false;
  RosterEntry result;
  directory_.write(userBare, [&](UserEntry& u) {
    RosterEntry* cur = u.findContact(item.contact);
    existed = cur != nullptr;
    if (remove) {
      if (!cur) return;  // another resource removed it meanwhile
      before = cur->state;
      result = *cur;
      std::erase_if(u.roster, [&](const RosterEntry& e) { return e.contact == item.contact; });
      return;
    }
    if (!cur) {
      u.roster.push_back(written);
      result = written;
      return;
    }
    cur->extra = item.extra;
    cur->state.exists = true;
    // A subscription change while the write was in flight: the row just written holds
    // the older state, so the store gets the current one again.
    rewrite = !(cur->state == written.state);
    result = *cur;
  });
  if (remove) {
    if (!existed) return;
    pushRoster(env, userBare, result, true);
    // RFC 6121 2.5.2: removing an item cancels both subscription directions.
    jid::Jid contactJid = jid::Jid::parse(item.contact).value();
    if (before.sub == roster::Sub::To || before.sub == roster::Sub::Both || before.askOut)
      route(env, serverPresence(userFull.bare(), contactJid, "unsubscribe"));
    if (before.sub == roster::Sub::From || before.sub == roster::Sub::Both || before.pendingIn)
      route(env, serverPresence(userFull.bare(), contactJid, "unsubscribed"));
    return;
  }
  if (rewrite) {
    std::string user = userFull.local();
    (void)env.submitStore([user, r = toStoreItem(result)](store::Store& st) { (void)persistRosterItem(st, user, r); },
                          user);
  }
  pushRoster(env, userBare, result, false);
}

void StanzaRouter::broadcastPresence(RouterEnv& env, const jid::Jid& fromFull,
                                     const SessionRef& self, SharedBytes bytes, bool available,
                                     int priority) {
  const std::string bare = fromFull.bareString();
  bool initial = false;
  std::vector<std::string> subscribers, probes, directed;
  std::vector<SessionRef> ownOthers;
  directory_.write(bare, [&](UserEntry& u) {
    ResourceEntry* me = u.findSession(self);
    if (!me) return;
    initial = available && !me->available;
    me->available = available;
    me->priority = priority;
    me->lastPresence = available ? bytes : nullptr;
    if (!available) {
      directed.swap(me->directedTo);
    }
    for (const auto& item : u.roster) {
      auto sub = item.state.sub;
      if (sub == roster::Sub::From || sub == roster::Sub::Both) subscribers.push_back(item.contact);
      if (initial && (sub == roster::Sub::To || sub == roster::Sub::Both)) probes.push_back(item.contact);
    }
    for (const auto& r : u.resources)
      if (!(r.ref == self) && r.available && routable(r)) ownOthers.push_back(r.ref);
  });
  auto fanOut = [&](const std::string& contactBare) {
    std::vector<SessionRef> targets;
    directory_.read(contactBare, [&](const UserEntry* c) {
      if (!c) return;
      for (const auto& r : c->resources)
        if (r.available && routable(r)) targets.push_back(r.ref);
    });
    for (const auto& t : targets) env.deliver(t, bytes, StanzaClass::Presence);
  };
  // Subscribers served by other nodes get one copy per node, with its recipient list.
  std::vector<std::pair<topology::NodeIndex, std::vector<std::string>>> remote;
  for (const auto& c : subscribers) {
    auto node = remoteServerOfBare(c);
    if (!node) {
      fanOut(c);
      continue;
    }
    auto it = std::find_if(remote.begin(), remote.end(), [&](const auto& r) { return r.first == *node; });
    if (it == remote.end()) it = remote.insert(remote.end(), {*node, {}});
    it->second.push_back(c);
  }
  for (auto& [node, recipients] : remote) mesh_->forwardFanout(env, node, std::move(recipients), bytes);
  for (const auto& t : ownOthers) env.deliver(t, bytes, StanzaClass::Presence);
  // Directed presence recipients that are not subscribers get the unavailable too.
  for (const auto& d : directed) {
    auto dj = jid::Jid::parse(d);
    if (!dj.isOk()) continue;
    bool isSub = false;
    for (const auto& c : subscribers) isSub = isSub || c == dj->bareString();
    if (isSub) continue;
    route(env, serverPresence(fromFull, dj.value(), "unavailable"));
  }
  if (!initial) return;
  // Probes (RFC 6121 4.3): local contacts answer from the directory; their last presence
  // is replayed to the new session. The user's own other resources are replayed too.
  std::vector<SharedBytes> replies;
  for (const auto& c : probes) {
    if (auto node = remoteServerOfBare(c)) {
      // The contact's node answers with its presences (answerRemoteProbe there).
      auto probe = serverPresence(fromFull, jid::Jid::parse(c).value(), "probe");
      mesh_->forward(env, *node, std::move(probe));
      continue;
    }
    directory_.read(c, [&](const UserEntry* u) {
      if (!u) return;
      for (const auto& r : u->resources)
        if (r.available && routable(r) && r.lastPresence) replies.push_back(r.lastPresence);
    });
  }
  directory_.read(bare, [&](const UserEntry* u) {
    if (!u) return;
    for (const auto& r : u->resources)
      if (!(r.ref == self) && r.available && routable(r) && r.lastPresence) replies.push_back(r.lastPresence);
  });
  for (auto& b : replies) env.deliver(self, b, StanzaClass::Presence);
}

void StanzaRouter::closeDirected(RouterEnv& env, const jid::Jid& fromFull, const SessionRef& self) {
  std::vector<std::string> directed;
  directory_.write(fromFull.bareString(), [&](UserEntry& u) {
    if (ResourceEntry* me = u.findSession(self)) directed.swap(me->directedTo);
  });
  for (const auto& d : directed) {
    auto dj = jid::Jid::parse(d);
    if (dj.isOk()) route(env, serverPresence(fromFull, dj.value(), "unavailable"));
  }
}

void StanzaRouter::recordDirected(const jid::Jid& fromFull, const SessionRef& self,
                                  const std::string& to, bool available) {
  directory_.write(fromFull.bareString(), [&](UserEntry& u) {
    ResourceEntry* me = u.findSession(self);
    if (!me) return;
    std::erase(me->directedTo, to);
    // Bounded: a client could otherwise grow this (and the unavailable storm at close)
    // without limit under the shard lock. Past the cap the oldest recipient is forgotten.
    constexpr size_t kMaxDirected = 256;
    if (available && me->directedTo.size() >= kMaxDirected) me->directedTo.erase(me->directedTo.begin());
    if (available) me->directedTo.push_back(to);
  });
}

void StanzaRouter::bounce(RouterEnv& env, const RoutedStanza& s, std::string_view condition) {
  if (s.type == "error") return;  // never answer an error with an error
  auto reply = std::make_shared<RoutedStanza>();
  reply->kind = s.kind;
  reply->type = "error";
  reply->from = s.to;
  reply->to = s.from;
  reply->bytes = makeShared(buildStanzaError(s.name.empty() ? "message" : s.name, s.to.full(),
                                             s.from.full(), s.id, condition, {}));
  env.stats().error(condition == "service-unavailable" ? ErrorReason::ServiceUnavailable
                    : condition == "remote-server-not-found" ? ErrorReason::RemoteServerNotFound
                    : condition == "resource-constraint" ? ErrorReason::ResourceConstraint
                                                          : ErrorReason::InternalError);
  // Deliver to the sender's exact session if still online, never to offline storage.
  // An inactive session of the same full JID is not the sender: the user's active one
  // is on the serving node.
  std::optional<SessionRef> target;
  directory_.read(s.from.bareString(), [&](const UserEntry* u) {
    if (!u) return;
    for (const auto& r : u->resources)
      if (r.resource == s.from.resource() && routable(r)) target = r.ref;
  });
  if (target) {
    env.deliver(*target, reply->bytes, classOf(s.kind));
    return;
  }
  // The sender is served by another node (the stanza came over the mesh): send it back.
  if (mesh_)
    if (auto node = mesh_->remoteServer(s.from.local())) mesh_->forward(env, *node, std::move(reply));
}

std::optional<topology::NodeIndex> StanzaRouter::remoteServerOfBare(std::string_view bare) const {
  if (!mesh_) return std::nullopt;
  size_t at = bare.find('@');
  if (at == std::string_view::npos || bare.substr(at + 1) != config_.domain) return std::nullopt;
  return mesh_->remoteServer(bare.substr(0, at));
}

void StanzaRouter::deliverFanout(RouterEnv& env, const std::vector<std::string>& recipients,
                                 const SharedBytes& presence) {
  std::vector<SessionRef> targets;
  for (const auto& bare : recipients) {
    directory_.read(bare, [&](const UserEntry* u) {
      if (!u) return;
      for (const auto& r : u->resources)
        if (r.available && routable(r)) targets.push_back(r.ref);
    });
  }
  for (const auto& t : targets) env.deliver(t, presence, StanzaClass::Presence);
}

void StanzaRouter::answerRemoteProbe(RouterEnv& env, const RoutedStanza& probe) {
  const std::string prober = probe.from.bareString();
  std::vector<SharedBytes> presences;
  directory_.read(probe.to.bareString(), [&](const UserEntry* u) {
    if (!u || !u->rosterLoaded) return;
    bool allowed = false;
    for (const auto& item : u->roster)
      if (item.contact == std::string_view(prober))
        allowed = item.state.sub == roster::Sub::From || item.state.sub == roster::Sub::Both;
    if (!allowed) return;
    for (const auto& r : u->resources)
      if (r.available && routable(r) && r.lastPresence) presences.push_back(r.lastPresence);
  });
  for (const auto& p : presences) {
    auto reply = std::make_shared<RoutedStanza>();
    reply->kind = StanzaKind::Presence;
    reply->name = "presence";
    reply->from = probe.to.bare();
    reply->to = probe.from;
    reply->bytes = makeShared(withToAttribute(*p, probe.from.full()));
    route(env, std::move(reply));
  }
}

}  // namespace xmesh::router
