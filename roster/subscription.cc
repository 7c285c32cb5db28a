#include "roster/subscription.h"

namespace xmesh::roster {
namespace {

// The nine RFC states are four bits: to, from, pending out (only without to), pending in
// (only without from). Each table of Appendix A is a rule on those bits.
struct Bits {
  bool to = false;
  bool from = false;
  bool pendingOut = false;
  bool pendingIn = false;
};

Bits toBits(const ItemState& s) {
  Bits b;
  b.to = s.sub == Sub::To || s.sub == Sub::Both;
  b.from = s.sub == Sub::From || s.sub == Sub::Both;
  b.pendingOut = s.askOut && !b.to;
  b.pendingIn = s.pendingIn && !b.from;
  return b;
}

Sub subOf(const Bits& b) {
  if (b.to && b.from) return Sub::Both;
  if (b.to) return Sub::To;
  if (b.from) return Sub::From;
  return Sub::None;
}

// Returns whether the stanza is routed (outbound) or delivered (inbound); updates b.
bool step(Bits& b, Event event, Outcome& out) {
  switch (event) {
    case Event::OutSubscribe:  // A.2.1: always routed (the contact's server auto-replies)
      if (!b.to) b.pendingOut = true;
      return true;
    case Event::OutSubscribed:  // A.2.2: only an answer to a pending request
      if (!b.pendingIn) return false;
      b.from = true;
      b.pendingIn = false;
      out.sendPresenceToContact = true;
      return true;
    case Event::OutUnsubscribe:  // A.2.3: always routed, so the contact's side can clean up
      b.to = false;
      b.pendingOut = false;
      return true;
    case Event::OutUnsubscribed:  // A.2.4: cancels a subscription or denies a request
      if (!b.from && !b.pendingIn) return false;
      out.sendUnavailableToContact = b.from;
      b.from = false;
      b.pendingIn = false;
      return true;
    case Event::InSubscribe:  // A.3.1
      if (b.from) {
        out.autoReplySubscribed = true;
        return false;
      }
      if (b.pendingIn) return false;  // already waiting for the user's answer
      b.pendingIn = true;
      out.storeIfOffline = true;
      return true;
    case Event::InSubscribed:  // A.3.2: ignored unless we asked
      if (!b.pendingOut) return false;
      b.to = true;
      b.pendingOut = false;
      return true;
    case Event::InUnsubscribe:  // A.3.3
      if (!b.from && !b.pendingIn) return false;
      out.sendUnavailableToContact = b.from;
      b.from = false;
      b.pendingIn = false;
      return true;
    case Event::InUnsubscribed:  // A.3.4
      if (!b.to && !b.pendingOut) return false;
      b.to = false;
      b.pendingOut = false;
      return true;
  }
  return false;
}

}  // namespace

Outcome apply(const ItemState& current, Event event) {
  Outcome out;
  Bits b = toBits(current);
  out.forward = step(b, event, out);

  ItemState& next = out.next;
  next.sub = subOf(b);
  next.askOut = b.pendingOut;
  next.pendingIn = b.pendingIn;
  // Only the user's own actions create an item (§3.1.2 subscribe, §3.1.5 approval); an
  // inbound request is remembered as pending-in without one (§3.1.3).
  bool created = event == Event::OutSubscribe || (event == Event::OutSubscribed && out.forward);
  next.exists = current.exists || created || next.sub != Sub::None || next.askOut;
  out.stateChanged = next.exists && (!current.exists || next.sub != current.sub ||
                                     next.askOut != current.askOut);
  return out;
}

std::string_view subName(Sub sub) {
  switch (sub) {
    case Sub::None: return "none";
    case Sub::To: return "to";
    case Sub::From: return "from";
    case Sub::Both: return "both";
  }
  return "none";
}

std::string_view askAttr(const ItemState& state) { return state.askOut ? "subscribe" : ""; }

std::string_view eventName(Event event) {
  switch (event) {
    case Event::OutSubscribe: return "out-subscribe";
    case Event::OutSubscribed: return "out-subscribed";
    case Event::OutUnsubscribe: return "out-unsubscribe";
    case Event::OutUnsubscribed: return "out-unsubscribed";
    case Event::InSubscribe: return "in-subscribe";
    case Event::InSubscribed: return "in-subscribed";
    case Event::InUnsubscribe: return "in-unsubscribe";
    case Event::InUnsubscribed: return "in-unsubscribed";
  }
  return "unknown";
}

}  // namespace xmesh::roster
