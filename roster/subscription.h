// The RFC 6121 presence-subscription state machine (§3, Appendix A), for one
// (user, contact) pair as the user's server sees it. Pure: state and event in, next state
// and the actions to take out; the caller persists, pushes and routes.
#pragma once
#include <string_view>

namespace xmesh::roster {

enum class Sub { None, To, From, Both };

struct ItemState {
  Sub sub = Sub::None;
  bool askOut = false;     // pending out: the user asked the contact (ask='subscribe')
  bool pendingIn = false;  // pending in: the contact asked the user, no answer yet
  // The user's roster holds an item for the contact. An inbound request alone does not
  // create one (RFC 6121 §3.1.3): "None + Pending In" may exist without an item.
  bool exists = false;
  bool operator==(const ItemState&) const = default;
};

enum class Event {
  OutSubscribe, OutSubscribed, OutUnsubscribe, OutUnsubscribed,  // sent by the user
  InSubscribe, InSubscribed, InUnsubscribe, InUnsubscribed,      // received for the user
};

// What to do. Persist `next` whenever it differs from the current state (pendingIn can
// change without anything the user sees).
struct Outcome {
  ItemState next;
  // The roster item as the user sees it (existence, subscription, ask) changed: push it to
  // the user's interested resources. Never set for an item that does not exist.
  bool stateChanged = false;
  // Outbound: route the stanza to the contact. Inbound: deliver it to the user's clients.
  bool forward = false;
  // Inbound subscribe: keep it until the user has an available resource to see it.
  bool storeIfOffline = false;
  // After OutSubscribed: send the user's resources' current presence to the contact.
  bool sendPresenceToContact = false;
  // The contact stops receiving the user's presence (OutUnsubscribed or InUnsubscribe
  // while it was subscribed): send it unavailable from the user's resources.
  bool sendUnavailableToContact = false;
  // InSubscribe while the contact already has a subscription (From/Both): the server
  // answers "subscribed" on the user's behalf and does not bother the user.
  bool autoReplySubscribed = false;
};

// Appendix A tables: A.2.x for the Out* events, A.3.x for the In* events. Pre-approval
// (§3.4) is not supported: OutSubscribed with nothing pending in is ignored.
Outcome apply(const ItemState& current, Event event);

std::string_view subName(Sub sub);              // "none", "to", "from", "both"
std::string_view askAttr(const ItemState& state);  // "subscribe" or ""
std::string_view eventName(Event event);        // "out-subscribe", ... (logs, test names)

}  // namespace xmesh::roster
