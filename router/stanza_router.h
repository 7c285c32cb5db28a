// The node's routing decisions (RFC 6121 §8 and §3-4): where a message, presence or IQ
// goes, presence broadcast and probes, the subscription state machine applied to both
// ends, offline storage. Stateless apart from the Directory it reads and updates, so
// every loop calls into the same instance concurrently.
//
// Bare-JID message policy (RFC 6121 8.5.2.1.1): a chat/normal message to a bare JID
// goes to every available, active resource that shares the highest non-negative
// priority; if there is none, it is stored offline (XEP-0160). Headlines go to all
// non-negative resources or are dropped; groupchat to a bare JID of a user gets
// service-unavailable. A message to an unavailable full JID is treated as addressed to
// the bare JID (chat/normal/headline), as RFC 6121 8.5.3.2.1 allows.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/config.h"
#include "router/directory.h"
#include "router/mesh_routes.h"
#include "router/routed_stanza.h"
#include "router/router_env.h"

namespace xmesh::router {

// What a user's home replicated to its PRG peer (docs/dual-connections.md §4), handed to
// an inactive session of that user when it activates here (§5). router/replica_store.h
// implements it from the r2r replication; without a source (no HA group), activation
// restores nothing replicated and the session falls back on its own saved presence.
class ReplicaSource {
 public:
  virtual ~ReplicaSource() = default;
  struct Pending {
    SharedBytes bytes;  // addressed to the activating full JID
    StanzaClass cls = StanzaClass::Message;
  };
  struct Taken {
    SharedBytes presence;  // the last broadcast presence, `from` = the activating full JID
    int priority = 0;
    std::vector<Pending> pending;  // undelivered after the client's h, in order
    // Offline messages the client handled on its old stream (within its h) without the
    // old node seeing the ack: still stored, to be deleted rather than delivered again.
    std::vector<int64_t> offlineHandled;
  };
  // Removes and returns what is held for `full` (its bare JID's replica), keeping only
  // stanzas with a sequence after `clientH`. Called on the activating session's loop
  // from any loop concurrently: must be thread-safe and must not block on the network.
  virtual Taken takeForActivation(const jid::Jid& full, uint32_t clientH) = 0;
};

class StanzaRouter {
 public:
  StanzaRouter(const NodeConfig& config, Directory& directory);

  // Routes a stanza addressed to another entity (not to the server or the sender's own
  // account, which the session handles itself).
  void route(RouterEnv& env, std::shared_ptr<const RoutedStanza> s);

  // Presence without 'to' from a session: updates the resource, broadcasts to the
  // user's subscribers and other resources; on initial presence also probes contacts and
  // replays their last presence to `self`.
  void broadcastPresence(RouterEnv& env, const jid::Jid& fromFull, const SessionRef& self,
                         SharedBytes bytes, bool available, int priority);

  // A subscription stanza (subscribe/subscribed/unsubscribe/unsubscribed) sent by the user.
  void outboundSubscription(RouterEnv& env, const jid::Jid& userFull, const jid::Jid& contact,
                            std::string_view type, std::string_view id);

  // Roster set/remove by the user (RFC 6121 2.3, 2.5). Returns false with `error` set
  // when the request is refused (e.g. contact limit). Otherwise the store write goes
  // first; once it is done the cache changes, the pushes go out and, for a removal, the
  // subscriptions are cancelled, then `stored`, if given, runs on this loop: with "" when
  // it is stored, else the (wait-type) condition to answer the client with (the database
  // is down or busy, or the store queue is full); nothing changed then.
  bool setRosterItem(RouterEnv& env, const jid::Jid& userFull, RosterEntry item, bool remove,
                     std::string* error, std::function<void(std::string_view condition)> stored = {});

  // Sends roster pushes for `item` to every interested resource of `userBare`.
  void pushRoster(RouterEnv& env, std::string_view userBare, const RosterEntry& item,
                  bool removed);

  // An IQ request whose target session vanished in flight.
  void bounceServiceUnavailable(RouterEnv& env, const RoutedStanza& s) {
    bounce(env, s, "service-unavailable");
  }

  // An error reply for `s` to its sender, local or on another node.
  void bounceWith(RouterEnv& env, const RoutedStanza& s, std::string_view condition) {
    bounce(env, s, condition);
  }

  // Unavailable presence to the directed-presence recipients of a session that closes
  // without ever having broadcast presence (RFC 6121 4.6.3).
  void closeDirected(RouterEnv& env, const jid::Jid& fromFull, const SessionRef& self);

  // Stores a message for its (bare) recipient, bouncing an error to the sender if the
  // user does not exist or the store refuses it for good (quota, I/O error). While the
  // database is down the message is held and written later (router/deferred_offline.h).
  // Also used directly for a message whose target vanished twice in flight.
  void storeOffline(RouterEnv& env, std::shared_ptr<const RoutedStanza> s);
  // Writes again what this loop holds for a database that was down (Loop::sweep, 1 s).
  void retryOfflineWrites(RouterEnv& env);

  // Directed presence record for unavailable-at-close.
  void recordDirected(const jid::Jid& fromFull, const SessionRef& self, const std::string& to,
                      bool available);

  // The mesh, when this node is part of one (set before traffic starts). Stanzas for
  // users served by another node go there; presence fans out once per node.
  void setMesh(MeshRoutes* mesh) { mesh_ = mesh; }
  // A presence that arrived from another node for several users served here.
  void deliverFanout(RouterEnv& env, const std::vector<std::string>& recipientsBare,
                     const SharedBytes& presence);

  // The replicated state of users homed on the PRG peer (set before traffic starts).
  void setReplicaSource(ReplicaSource* source) { replicas_ = source; }
  ReplicaSource::Taken takeReplicated(const jid::Jid& full, uint32_t clientH) {
    return replicas_ ? replicas_->takeForActivation(full, clientH) : ReplicaSource::Taken{};
  }

  const std::string& domain() const { return config_.domain; }
  Directory& directory() { return directory_; }

 private:
  void routeMessage(RouterEnv& env, std::shared_ptr<const RoutedStanza> s);
  void routePresence(RouterEnv& env, std::shared_ptr<const RoutedStanza> s);
  void routeIq(RouterEnv& env, std::shared_ptr<const RoutedStanza> s);
  void inboundSubscription(RouterEnv& env, std::shared_ptr<const RoutedStanza> s,
                           roster::Event event);
  void bounce(RouterEnv& env, const RoutedStanza& s, std::string_view condition);
  // The second half of setRosterItem, once the store has the change.
  void applyRosterSet(RouterEnv& env, const jid::Jid& userFull, const RosterEntry& item, bool remove,
                      const RosterEntry& written);
  // Keeps a message the database could not take now, or refuses it if too many wait.
  void holdOffline(RouterEnv& env, std::shared_ptr<const RoutedStanza> s, int64_t acceptedMs);
  // A message is stored: the recipient's available sessions fetch their queue again.
  void offlineStored(RouterEnv& env, const RoutedStanza& s);
  // Targets for a stanza addressed to `to` (full or bare) per the policy above.
  std::vector<SessionRef> messageTargets(const RoutedStanza& s, bool* userOnline) const;
  std::string nextPushId();
  // The other node serving the user of a bare JID string ("user@domain"), if any.
  std::optional<topology::NodeIndex> remoteServerOfBare(std::string_view bare) const;
  // A probe from another node: the contact's available presences go back to the prober
  // if the contact's roster lets the prober see them.
  void answerRemoteProbe(RouterEnv& env, const RoutedStanza& probe);

  const NodeConfig& config_;
  Directory& directory_;
  MeshRoutes* mesh_ = nullptr;
  ReplicaSource* replicas_ = nullptr;
  std::atomic<uint64_t> pushCounter_{0};
};

}  // namespace xmesh::router
