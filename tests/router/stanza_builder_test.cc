#include "router/stanza_builder.h"

#include <gtest/gtest.h>

namespace xmesh::router {
namespace {

TEST(StanzaBuilder, ErrorEscapesAndTypes) {
  std::string e = buildStanzaError("message", "a@x", "b@x/r", "i'd", "service-unavailable", {}, "<why>");
  EXPECT_EQ(e, "<message from='a@x' to='b@x/r' id='i&apos;d' type='error'><error type='cancel'>"
               "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
               "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>&lt;why&gt;</text></error></message>");
  EXPECT_EQ(defaultErrorType("jid-malformed"), "modify");
  EXPECT_EQ(defaultErrorType("not-authorized"), "auth");
  EXPECT_EQ(defaultErrorType("resource-constraint"), "wait");
}

TEST(StanzaBuilder, DelayStampGoesInsideTheMessage) {
  EXPECT_EQ(withDelayStamp("<message to='a@x'><body>b</body></message>", "x", 0),
            "<message to='a@x'><body>b</body><delay xmlns='urn:xmpp:delay' from='x' "
            "stamp='1970-01-01T00:00:00Z'/></message>");
  EXPECT_EQ(withDelayStamp("<message to='a@x'/>", "x", 1000),
            "<message to='a@x'><delay xmlns='urn:xmpp:delay' from='x' stamp='1970-01-01T00:00:01Z'/></message>");
}

TEST(StanzaBuilder, RosterPushCarriesAskAndGroups) {
  RosterEntry e;
  e.contact = "bob@x";
  e.setNameAndGroups("Bob", {"G"});
  e.state.askOut = true;
  std::string p = buildRosterPush("a@x/r", e, false, "p1");
  EXPECT_EQ(p, "<iq type='set' id='p1' to='a@x/r'><query xmlns='jabber:iq:roster'><item jid='bob@x' "
               "name='Bob' subscription='none' ask='subscribe'><group>G</group></item></query></iq>");
  EXPECT_NE(buildRosterPush("a@x/r", e, true, "p2").find("subscription='remove'/>"), std::string::npos);
}

}  // namespace
}  // namespace xmesh::router
