// Stanza bytes: canonical re-serialization, routing fields, namespaces, `from` stamping.
#include <gtest/gtest.h>

#include <string>

#include "tests/xml/recording_handler.h"
#include "xml/element.h"
#include "xml/stream_parser.h"

namespace xmesh::xml {
namespace {

using test::kHeader;
using test::RecordingHandler;

Stanza parseOne(std::string_view stanza, std::string_view header = kHeader) {
  RecordingHandler h;
  StreamParser p(h, {});
  p.feed(header);
  p.feed(stanza);
  EXPECT_EQ(h.errors, 0) << h.errorDetail;
  EXPECT_EQ(h.stanzas.size(), 1u);
  return h.stanzas.empty() ? Stanza{} : std::move(h.stanzas[0]);
}

TEST(StanzaTest, RoutingFieldsAndFromRemoved) {
  Stanza s = parseOne("<message from='mallory@evil/x' to='bob@example.com/r' type='chat' "
                      "id='a&apos;1' xml:lang='en'><body>hi</body></message>");
  EXPECT_EQ(s.name, "message");
  EXPECT_EQ(s.ns, "jabber:client");
  EXPECT_EQ(s.from, "mallory@evil/x");
  EXPECT_EQ(s.to, "bob@example.com/r");
  EXPECT_EQ(s.type, "chat");
  EXPECT_EQ(s.id, "a'1");
  EXPECT_EQ(s.lang, "en");
  EXPECT_EQ(s.firstChildName, "body");
  EXPECT_EQ(s.firstChildNs, "jabber:client");
  EXPECT_EQ(s.bytes,
            "<message to='bob@example.com/r' type='chat' id='a&apos;1' xml:lang='en'>"
            "<body>hi</body></message>");
  EXPECT_EQ(s.fromInsertPos, 8u);
}

TEST(StanzaTest, CanonicalSerialization) {
  Stanza s = parseOne("<iq type=\"get\"  id = \"x\" ><query xmlns=\"jabber:iq:roster\"></query></iq>");
  EXPECT_EQ(s.bytes, "<iq type='get' id='x'><query xmlns='jabber:iq:roster'/></iq>");
}

TEST(StanzaTest, EscapingInTextAndAttributes) {
  Stanza s = parseOne("<message to='a\"b&apos;c&lt;&amp;' id='t&#9;n&#10;r&#13;'>"
                      "<body>1 &lt; 2 &amp;&amp; 3 &gt; 2 \"'\" &#13;<![CDATA[<x>&]]></body></message>");
  EXPECT_EQ(s.to, "a\"b'c<&");
  EXPECT_EQ(s.id, "t\tn\nr\r");
  EXPECT_EQ(s.bytes,
            "<message to='a&quot;b&apos;c&lt;&amp;' id='t&#x9;n&#xA;r&#xD;'>"
            "<body>1 &lt; 2 &amp;&amp; 3 &gt; 2 \"'\" &#xD;&lt;x&gt;&amp;</body></message>");
  // Re-parsing the canonical bytes gives back the same values.
  auto e = parseElement(s.bytes, s.ns);
  ASSERT_TRUE(e.isOk()) << e.error().detail;
  EXPECT_EQ(e->attr("to"), "a\"b'c<&");
  EXPECT_EQ(e->attr("id"), "t\tn\nr\r");
  EXPECT_EQ(e->child("body")->text(), "1 < 2 && 3 > 2 \"'\" \r<x>&");
}

TEST(StanzaTest, WithFromInsertsEscapedFrom) {
  Stanza s = parseOne("<message from='x' to='b@c'><body/></message>");
  EXPECT_EQ(s.withFrom("a'b@c/d"), "<message from='a&apos;b@c/d' to='b@c'><body/></message>");
  EXPECT_EQ(s.withFrom(""), s.bytes);
  Stanza empty = parseOne("<presence/>");
  EXPECT_EQ(empty.withFrom("a@b/c"), "<presence from='a@b/c'/>");
}

TEST(StanzaTest, WithFromAndToReplacesTo) {
  Stanza s = parseOne("<message type='chat' to='BOB@Example.com' id='1'><body/></message>");
  EXPECT_EQ(s.withFromAndTo("a@b/c", "bob@example.com"),
            "<message from='a@b/c' to='bob@example.com' type='chat' id='1'><body/></message>");
  Stanza noTo = parseOne("<presence type='probe'/>");
  EXPECT_EQ(noTo.withFromAndTo("a@b", "c@d"), "<presence from='a@b' to='c@d' type='probe'/>");
  EXPECT_EQ(s.withFromAndTo("", ""), "<message type='chat' id='1'><body/></message>");
}

TEST(StanzaTest, StreamDefaultNamespaceNotRepeated) {
  Stanza explicitNs = parseOne("<message xmlns='jabber:client'><body/></message>");
  EXPECT_EQ(explicitNs.bytes, "<message><body/></message>");
  EXPECT_EQ(explicitNs.ns, "jabber:client");
  Stanza other = parseOne("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGE=</auth>");
  EXPECT_EQ(other.bytes, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGE=</auth>");
  EXPECT_EQ(other.ns, "urn:ietf:params:xml:ns:xmpp-sasl");
}

TEST(StanzaTest, RootPrefixDeclaredOnStanza) {
  Stanza features = parseOne("<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>");
  EXPECT_EQ(features.bytes,
            "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"
            "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>");
  EXPECT_EQ(features.fromInsertPos, std::string_view("<stream:features").size());

  // An unprefixed child of a prefixed top element inherits the stream's default ns;
  // the bytes say so, so parsing them with the stanza's own ns is still exact.
  Stanza error = parseOne("<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                          "<app/></stream:error>");
  EXPECT_EQ(error.bytes,
            "<stream:error xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'>"
            "<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><app/></stream:error>");
  auto tree = parseElement(error.bytes, error.ns);
  ASSERT_TRUE(tree.isOk()) << tree.error().detail;
  EXPECT_EQ(tree->children().at(1).ns(), "jabber:client");

  // Server-to-server dialback: db: is declared on the root, used on the stanza.
  const std::string s2s =
      "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
      "xmlns:db='jabber:server:dialback'>";
  Stanza result = parseOne("<db:result from='a' to='b'>key</db:result>", s2s);
  EXPECT_EQ(result.name, "result");
  EXPECT_EQ(result.ns, "jabber:server:dialback");
  EXPECT_EQ(result.bytes, "<db:result xmlns:db='jabber:server:dialback' to='b'>key</db:result>");
}

// A root prefix first used deep inside the stanza is declared on the top element, once.
TEST(StanzaTest, RootPrefixUsedDeepInsideDeclaredOnTop) {
  const std::string header =
      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
      "xmlns:x='urn:x' xmlns:y='urn:y'>";
  Stanza s = parseOne("<message to='t'><body>b</body><x:a y:k='1'><x:b/></x:a></message>", header);
  EXPECT_EQ(s.bytes,
            "<message to='t' xmlns:x='urn:x' xmlns:y='urn:y'><body>b</body>"
            "<x:a y:k='1'><x:b/></x:a></message>");
  EXPECT_EQ(s.firstChildName, "body");
  EXPECT_EQ(s.withFromAndTo("f", "t2"),
            "<message from='f' to='t2' xmlns:x='urn:x' xmlns:y='urn:y'><body>b</body>"
            "<x:a y:k='1'><x:b/></x:a></message>");

  auto e = parseElement(s.bytes, s.ns);
  ASSERT_TRUE(e.isOk()) << e.error().detail;
  const Element* a = e->child("a", "urn:x");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->attr("y:k"), "1");
  ASSERT_NE(a->child("b", "urn:x"), nullptr);
}

TEST(StanzaTest, LocalPrefixesKeptAsWritten) {
  Stanza s = parseOne("<iq type='result'><p:q xmlns:p='urn:p'><p:i/><j/></p:q></iq>");
  EXPECT_EQ(s.bytes, "<iq type='result'><p:q xmlns:p='urn:p'><p:i/><j/></p:q></iq>");
  EXPECT_EQ(s.firstChildName, "q");
  EXPECT_EQ(s.firstChildNs, "urn:p");
  auto e = parseElement(s.bytes, s.ns);
  ASSERT_TRUE(e.isOk()) << e.error().detail;
  const Element* q = e->child("q", "urn:p");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->children().at(0).ns(), "urn:p");
  EXPECT_EQ(q->children().at(1).ns(), "jabber:client");  // unprefixed: the default ns
  // The tree serializes with default-namespace declarations only where they change.
  EXPECT_EQ(e->serialize("jabber:client"),
            "<iq type='result'><q xmlns='urn:p'><i/><j xmlns='jabber:client'/></q></iq>");
}

TEST(StanzaTest, XmlPrefixedElementsResolveToXmlNamespace) {
  Stanza s = parseOne("<message><xml:x/></message>");
  EXPECT_EQ(s.firstChildNs, "http://www.w3.org/XML/1998/namespace");
  EXPECT_EQ(s.bytes, "<message><xml:x/></message>");
}

TEST(StanzaTest, StreamWithoutDefaultNamespace) {
  Stanza s = parseOne("<message/>", "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>");
  EXPECT_EQ(s.ns, "");
  EXPECT_EQ(s.bytes, "<message/>");
}

TEST(StanzaTest, ParseElementOfEveryStanzaRoundTrips) {
  const std::string body = "<message to='a@b' type='chat'><body>x &amp; y</body>"
                           "<active xmlns='http://jabber.org/protocol/chatstates'/></message>";
  Stanza s = parseOne(body);
  auto e = parseElement(s.bytes, s.ns);
  ASSERT_TRUE(e.isOk());
  EXPECT_EQ(e->serialize(s.ns), s.bytes);
}

}  // namespace
}  // namespace xmesh::xml
