#include "roster/subscription.h"

#include <gtest/gtest.h>

#include <string>

namespace xmesh::roster {
namespace {

// The nine defined states of RFC 6121 Appendix A.1, for an existing roster item.
enum class S { None, NonePO, NonePI, NonePOI, To, ToPI, From, FromPO, Both, NoChange };

ItemState state(S s) {
  ItemState st;
  st.exists = true;
  switch (s) {
    case S::None: break;
    case S::NonePO: st.askOut = true; break;
    case S::NonePI: st.pendingIn = true; break;
    case S::NonePOI: st.askOut = st.pendingIn = true; break;
    case S::To: st.sub = Sub::To; break;
    case S::ToPI: st.sub = Sub::To; st.pendingIn = true; break;
    case S::From: st.sub = Sub::From; break;
    case S::FromPO: st.sub = Sub::From; st.askOut = true; break;
    case S::Both: st.sub = Sub::Both; break;
    case S::NoChange: break;
  }
  return st;
}

const char* stateName(S s) {
  switch (s) {
    case S::None: return "None";
    case S::NonePO: return "NonePendingOut";
    case S::NonePI: return "NonePendingIn";
    case S::NonePOI: return "NonePendingOutIn";
    case S::To: return "To";
    case S::ToPI: return "ToPendingIn";
    case S::From: return "From";
    case S::FromPO: return "FromPendingOut";
    case S::Both: return "Both";
    case S::NoChange: return "NoChange";
  }
  return "?";
}

// Side actions beyond route/deliver, as a bit set.
enum Extra : unsigned {
  kNone = 0,
  kPresence = 1,     // sendPresenceToContact
  kUnavailable = 2,  // sendUnavailableToContact
  kAutoReply = 4,    // autoReplySubscribed
  kStore = 8,        // storeIfOffline
};

struct Row {
  const char* table;  // RFC 6121 section
  Event event;
  S existing;
  bool forward;  // ROUTE? (outbound) / DELIVER? (inbound)
  S next;        // NoChange: "no state change"
  unsigned extra = kNone;
};

// One entry per row of the RFC 6121 Appendix A.2 and A.3 tables.
const Row kRows[] = {
    // A.2.1 outbound "subscribe": always routed (the contact's server answers or auto-replies).
    {"A21", Event::OutSubscribe, S::None, true, S::NonePO},
    {"A21", Event::OutSubscribe, S::NonePO, true, S::NoChange},
    {"A21", Event::OutSubscribe, S::NonePI, true, S::NonePOI},
    {"A21", Event::OutSubscribe, S::NonePOI, true, S::NoChange},
    {"A21", Event::OutSubscribe, S::To, true, S::NoChange},
    {"A21", Event::OutSubscribe, S::ToPI, true, S::NoChange},
    {"A21", Event::OutSubscribe, S::From, true, S::FromPO},
    {"A21", Event::OutSubscribe, S::FromPO, true, S::NoChange},
    {"A21", Event::OutSubscribe, S::Both, true, S::NoChange},
    // A.2.2 outbound "subscribed": only approves a pending request (no pre-approval).
    {"A22", Event::OutSubscribed, S::None, false, S::NoChange},
    {"A22", Event::OutSubscribed, S::NonePO, false, S::NoChange},
    {"A22", Event::OutSubscribed, S::NonePI, true, S::From, kPresence},
    {"A22", Event::OutSubscribed, S::NonePOI, true, S::FromPO, kPresence},
    {"A22", Event::OutSubscribed, S::To, false, S::NoChange},
    {"A22", Event::OutSubscribed, S::ToPI, true, S::Both, kPresence},
    {"A22", Event::OutSubscribed, S::From, false, S::NoChange},
    {"A22", Event::OutSubscribed, S::FromPO, false, S::NoChange},
    {"A22", Event::OutSubscribed, S::Both, false, S::NoChange},
    // A.2.3 outbound "unsubscribe": always routed.
    {"A23", Event::OutUnsubscribe, S::None, true, S::NoChange},
    {"A23", Event::OutUnsubscribe, S::NonePO, true, S::None},
    {"A23", Event::OutUnsubscribe, S::NonePI, true, S::NoChange},
    {"A23", Event::OutUnsubscribe, S::NonePOI, true, S::NonePI},
    {"A23", Event::OutUnsubscribe, S::To, true, S::None},
    {"A23", Event::OutUnsubscribe, S::ToPI, true, S::NonePI},
    {"A23", Event::OutUnsubscribe, S::From, true, S::NoChange},
    {"A23", Event::OutUnsubscribe, S::FromPO, true, S::From},
    {"A23", Event::OutUnsubscribe, S::Both, true, S::From},
    // A.2.4 outbound "unsubscribed": cancels the contact's subscription or denies a request.
    {"A24", Event::OutUnsubscribed, S::None, false, S::NoChange},
    {"A24", Event::OutUnsubscribed, S::NonePO, false, S::NoChange},
    {"A24", Event::OutUnsubscribed, S::NonePI, true, S::None},
    {"A24", Event::OutUnsubscribed, S::NonePOI, true, S::NonePO},
    {"A24", Event::OutUnsubscribed, S::To, false, S::NoChange},
    {"A24", Event::OutUnsubscribed, S::ToPI, true, S::To},
    {"A24", Event::OutUnsubscribed, S::From, true, S::None, kUnavailable},
    {"A24", Event::OutUnsubscribed, S::FromPO, true, S::NonePO, kUnavailable},
    {"A24", Event::OutUnsubscribed, S::Both, true, S::To, kUnavailable},
    // A.3.1 inbound "subscribe".
    {"A31", Event::InSubscribe, S::None, true, S::NonePI, kStore},
    {"A31", Event::InSubscribe, S::NonePO, true, S::NonePOI, kStore},
    {"A31", Event::InSubscribe, S::NonePI, false, S::NoChange},
    {"A31", Event::InSubscribe, S::NonePOI, false, S::NoChange},
    {"A31", Event::InSubscribe, S::To, true, S::ToPI, kStore},
    {"A31", Event::InSubscribe, S::ToPI, false, S::NoChange},
    {"A31", Event::InSubscribe, S::From, false, S::NoChange, kAutoReply},
    {"A31", Event::InSubscribe, S::FromPO, false, S::NoChange, kAutoReply},
    {"A31", Event::InSubscribe, S::Both, false, S::NoChange, kAutoReply},
    // A.3.2 inbound "subscribed": ignored unless the user asked.
    {"A32", Event::InSubscribed, S::None, false, S::NoChange},
    {"A32", Event::InSubscribed, S::NonePO, true, S::To},
    {"A32", Event::InSubscribed, S::NonePI, false, S::NoChange},
    {"A32", Event::InSubscribed, S::NonePOI, true, S::ToPI},
    {"A32", Event::InSubscribed, S::To, false, S::NoChange},
    {"A32", Event::InSubscribed, S::ToPI, false, S::NoChange},
    {"A32", Event::InSubscribed, S::From, false, S::NoChange},
    {"A32", Event::InSubscribed, S::FromPO, true, S::Both},
    {"A32", Event::InSubscribed, S::Both, false, S::NoChange},
    // A.3.3 inbound "unsubscribe".
    {"A33", Event::InUnsubscribe, S::None, false, S::NoChange},
    {"A33", Event::InUnsubscribe, S::NonePO, false, S::NoChange},
    {"A33", Event::InUnsubscribe, S::NonePI, true, S::None},
    {"A33", Event::InUnsubscribe, S::NonePOI, true, S::NonePO},
    {"A33", Event::InUnsubscribe, S::To, false, S::NoChange},
    {"A33", Event::InUnsubscribe, S::ToPI, true, S::To},
    {"A33", Event::InUnsubscribe, S::From, true, S::None, kUnavailable},
    {"A33", Event::InUnsubscribe, S::FromPO, true, S::NonePO, kUnavailable},
    {"A33", Event::InUnsubscribe, S::Both, true, S::To, kUnavailable},
    // A.3.4 inbound "unsubscribed".
    {"A34", Event::InUnsubscribed, S::None, false, S::NoChange},
    {"A34", Event::InUnsubscribed, S::NonePO, true, S::None},
    {"A34", Event::InUnsubscribed, S::NonePI, false, S::NoChange},
    {"A34", Event::InUnsubscribed, S::NonePOI, true, S::NonePI},
    {"A34", Event::InUnsubscribed, S::To, true, S::None},
    {"A34", Event::InUnsubscribed, S::ToPI, true, S::NonePI},
    {"A34", Event::InUnsubscribed, S::From, false, S::NoChange},
    {"A34", Event::InUnsubscribed, S::FromPO, true, S::From},
    {"A34", Event::InUnsubscribed, S::Both, true, S::From},
};

class Rfc6121Table : public testing::TestWithParam<Row> {};

TEST_P(Rfc6121Table, Row) {
  const Row& row = GetParam();
  ItemState current = state(row.existing);
  Outcome out = apply(current, row.event);
  ItemState expected = row.next == S::NoChange ? current : state(row.next);
  EXPECT_EQ(out.next, expected);
  EXPECT_EQ(out.forward, row.forward);
  bool visibleChange = expected.sub != current.sub || expected.askOut != current.askOut;
  EXPECT_EQ(out.stateChanged, visibleChange);
  EXPECT_EQ(out.sendPresenceToContact, (row.extra & kPresence) != 0);
  EXPECT_EQ(out.sendUnavailableToContact, (row.extra & kUnavailable) != 0);
  EXPECT_EQ(out.autoReplySubscribed, (row.extra & kAutoReply) != 0);
  EXPECT_EQ(out.storeIfOffline, (row.extra & kStore) != 0);
}

std::string rowName(const testing::TestParamInfo<Row>& info) {
  std::string event(eventName(info.param.event));
  std::string camel;
  bool upper = true;
  for (char c : event) {
    if (c == '-') {
      upper = true;
      continue;
    }
    camel += upper ? static_cast<char>(c - 'a' + 'A') : c;
    upper = false;
  }
  return std::string(info.param.table) + "_" + camel + "_" + stateName(info.param.existing);
}

INSTANTIATE_TEST_SUITE_P(AppendixA, Rfc6121Table, testing::ValuesIn(kRows), rowName);

TEST(Subscription, TablesCoverEveryStateAndEvent) {
  EXPECT_EQ(std::size(kRows), 8u * 9u);
}

// §3.1.3: an inbound request does not create a roster item; it is kept as pending-in.
TEST(Subscription, InboundSubscribeWithoutItemCreatesNoItem) {
  Outcome out = apply(ItemState{}, Event::InSubscribe);
  EXPECT_TRUE(out.forward);
  EXPECT_TRUE(out.storeIfOffline);
  EXPECT_TRUE(out.next.pendingIn);
  EXPECT_FALSE(out.next.exists);
  EXPECT_FALSE(out.stateChanged);  // nothing to push
  EXPECT_NE(out.next, ItemState{});  // but there is something to persist
}

// §3.1.5: approving a request without an item adds one with subscription 'from'.
TEST(Subscription, ApprovalWithoutItemCreatesItem) {
  ItemState pending;
  pending.pendingIn = true;
  Outcome out = apply(pending, Event::OutSubscribed);
  EXPECT_TRUE(out.forward);
  EXPECT_TRUE(out.next.exists);
  EXPECT_EQ(out.next.sub, Sub::From);
  EXPECT_TRUE(out.stateChanged);
  EXPECT_TRUE(out.sendPresenceToContact);
}

// §3.1.2: subscribing to a contact not in the roster creates the item (none + ask).
TEST(Subscription, OutboundSubscribeWithoutItemCreatesItem) {
  Outcome out = apply(ItemState{}, Event::OutSubscribe);
  EXPECT_TRUE(out.forward);
  EXPECT_TRUE(out.next.exists);
  EXPECT_EQ(out.next.sub, Sub::None);
  EXPECT_EQ(askAttr(out.next), "subscribe");
  EXPECT_TRUE(out.stateChanged);
}

// Denying a request from someone not in the roster: routed, nothing to push.
TEST(Subscription, DenialWithoutItemPushesNothing) {
  ItemState pending;
  pending.pendingIn = true;
  Outcome out = apply(pending, Event::OutUnsubscribed);
  EXPECT_TRUE(out.forward);
  EXPECT_FALSE(out.next.exists);
  EXPECT_FALSE(out.next.pendingIn);
  EXPECT_FALSE(out.stateChanged);
  EXPECT_FALSE(out.sendUnavailableToContact);
}

TEST(Subscription, UnknownContactInboundNoise) {
  for (Event e : {Event::InSubscribed, Event::InUnsubscribe, Event::InUnsubscribed}) {
    Outcome out = apply(ItemState{}, e);
    EXPECT_FALSE(out.forward) << eventName(e);
    EXPECT_EQ(out.next, ItemState{}) << eventName(e);
    EXPECT_FALSE(out.stateChanged);
  }
}

TEST(Subscription, Names) {
  EXPECT_EQ(subName(Sub::None), "none");
  EXPECT_EQ(subName(Sub::To), "to");
  EXPECT_EQ(subName(Sub::From), "from");
  EXPECT_EQ(subName(Sub::Both), "both");
  EXPECT_EQ(askAttr(state(S::FromPO)), "subscribe");
  EXPECT_EQ(askAttr(state(S::NonePI)), "");
}

// A full handshake between two users' servers, each running its own state machine.
TEST(Subscription, MutualSubscriptionHandshake) {
  ItemState romeo;   // romeo's item for juliet
  ItemState juliet;  // juliet's item for romeo
  romeo = apply(romeo, Event::OutSubscribe).next;
  juliet = apply(juliet, Event::InSubscribe).next;
  juliet = apply(juliet, Event::OutSubscribed).next;
  romeo = apply(romeo, Event::InSubscribed).next;
  EXPECT_EQ(romeo.sub, Sub::To);
  EXPECT_EQ(juliet.sub, Sub::From);
  juliet = apply(juliet, Event::OutSubscribe).next;
  Outcome autoAck = apply(romeo, Event::InSubscribe);
  EXPECT_FALSE(autoAck.autoReplySubscribed);  // romeo has only 'to': he must answer
  romeo = autoAck.next;
  romeo = apply(romeo, Event::OutSubscribed).next;
  juliet = apply(juliet, Event::InSubscribed).next;
  EXPECT_EQ(romeo.sub, Sub::Both);
  EXPECT_EQ(juliet.sub, Sub::Both);
  EXPECT_FALSE(romeo.askOut || romeo.pendingIn || juliet.askOut || juliet.pendingIn);
  // A repeated request now gets the automatic answer.
  EXPECT_TRUE(apply(romeo, Event::InSubscribe).autoReplySubscribed);
}

}  // namespace
}  // namespace xmesh::roster
