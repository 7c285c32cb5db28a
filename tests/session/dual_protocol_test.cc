// The XMESH-DUAL wire elements (session/dual_protocol.h): what the session writes and
// how it reads the activation count.
#include "session/dual_protocol.h"

#include <gtest/gtest.h>

namespace xmesh::session::dual {
namespace {

Result<uint32_t> hOf(const std::string& activate) {
  auto el = xml::parseElement(activate, "jabber:client");
  EXPECT_TRUE(el.isOk()) << activate;
  return activateH(el.value());
}

TEST(DualProtocolTest, ActivateCountIsADecimalUint32OrAbsent) {
  EXPECT_EQ(hOf("<activate xmlns='urn:xmesh:dual:0' h='17'/>").value(), 17u);
  EXPECT_EQ(hOf("<activate xmlns='urn:xmesh:dual:0' h='4294967295'/>").value(), 4294967295u);
  EXPECT_EQ(hOf("<activate xmlns='urn:xmesh:dual:0'/>").value(), 0u) << "absent: a client without XEP-0198";
  for (const char* bad : {"", "-1", "4294967296", "1x", " 1", "0x10"}) {
    auto r = hOf(std::string("<activate xmlns='urn:xmesh:dual:0' h='") + bad + "'/>");
    EXPECT_FALSE(r.isOk()) << "h='" << bad << "'";
  }
}

TEST(DualProtocolTest, QueryResultCarriesBackupAndReloginOrNothing) {
  EXPECT_EQ(queryResult(std::nullopt), "<query xmlns='urn:xmesh:dual:0'/>");
  EXPECT_EQ(queryResult(Backup{"n2", "im2.example.com", 5222, 120, 537}),
            "<query xmlns='urn:xmesh:dual:0'><backup node='n2' host='im2.example.com' port='5222'/>"
            "<relogin min='120' max='537'/></query>");
  // Hosts come from the topology file: escaped like any attribute.
  EXPECT_NE(queryResult(Backup{"n2", "a'b", 1, 0, 0}).find("host='a&apos;b'"), std::string::npos);
}

TEST(DualProtocolTest, InactiveMarkerMustBeInTheDualNamespace) {
  auto yes = xml::parseElement("<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><inactive xmlns='urn:xmesh:dual:0'/></bind>", "");
  auto no = xml::parseElement("<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><inactive/></bind>", "");
  ASSERT_TRUE(yes.isOk() && no.isOk());
  EXPECT_TRUE(asksInactive(yes.value()));
  EXPECT_FALSE(asksInactive(no.value()));
}

TEST(DualProtocolTest, NoticesAndActivatedAsTheDocumentWritesThem) {
  EXPECT_EQ(failoverNotice("node1"), "<failover xmlns='urn:xmesh:dual:0' from-node='node1'/>");
  EXPECT_EQ(fallbackNotice("node1"), "<fallback xmlns='urn:xmesh:dual:0' to-node='node1'/>");
  EXPECT_EQ(deactivatedNotice(), "<deactivated xmlns='urn:xmesh:dual:0'/>");
  EXPECT_EQ(activatedPayload(true, 3), "<activated xmlns='urn:xmesh:dual:0' presence-restored='true' pending='3'/>");
  EXPECT_EQ(noticeIq("f1", "a@b/c", deactivatedNotice()),
            "<iq type='set' id='f1' to='a@b/c'><deactivated xmlns='urn:xmesh:dual:0'/></iq>");
}

}  // namespace
}  // namespace xmesh::session::dual
