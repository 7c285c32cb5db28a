// Element tree: builder, serialization, parseElement, escaping helpers.
#include <gtest/gtest.h>

#include <string>

#include "xml/element.h"

namespace xmesh::xml {
namespace {

TEST(ElementTest, BuilderSerializesCanonically) {
  Element iq("iq", "jabber:client");
  iq.setAttr("type", "result").setAttr("id", "r1");
  Element& query = iq.addChild(Element("query", "jabber:iq:roster"));
  query.addChild(Element("item")).setAttr("jid", "a@b").setAttr("name", "A & 'B'");
  query.addChild(Element("item")).setAttr("jid", "c@d").addChild(Element("group")).setText("<friends>");
  EXPECT_EQ(iq.serialize("jabber:client"),
            "<iq type='result' id='r1'><query xmlns='jabber:iq:roster'>"
            "<item jid='a@b' name='A &amp; &apos;B&apos;'/>"
            "<item jid='c@d'><group>&lt;friends&gt;</group></item></query></iq>");
  EXPECT_EQ(iq.serialize(), "<iq xmlns='jabber:client' type='result' id='r1'>"
                            "<query xmlns='jabber:iq:roster'><item jid='a@b' name='A &amp; &apos;B&apos;'/>"
                            "<item jid='c@d'><group>&lt;friends&gt;</group></item></query></iq>");
}

TEST(ElementTest, Accessors) {
  Element e("x", "urn:x");
  EXPECT_EQ(e.name(), "x");
  EXPECT_EQ(e.ns(), "urn:x");
  EXPECT_FALSE(e.hasAttr("a"));
  EXPECT_EQ(e.attr("a"), "");
  e.setAttr("a", "1").setAttr("a", "2");
  EXPECT_TRUE(e.hasAttr("a"));
  EXPECT_EQ(e.attr("a"), "2");
  EXPECT_EQ(e.attrs().size(), 1u);
  e.addChild(Element("c", "urn:1"));
  e.addChild(Element("c", "urn:2"));
  EXPECT_EQ(e.child("c")->ns(), "urn:1");
  EXPECT_EQ(e.child("c", "urn:2")->ns(), "urn:2");
  EXPECT_EQ(e.child("c", "urn:3"), nullptr);
  EXPECT_EQ(e.child("d"), nullptr);
  e.setText("t").appendText("u");
  EXPECT_EQ(e.text(), "tu");
}

TEST(ElementTest, ParseElementResolvesNamespaces) {
  auto e = parseElement(
      "<iq type='set' id='1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource>"
      "</bind></iq>",
      "jabber:client");
  ASSERT_TRUE(e.isOk()) << e.error().detail;
  EXPECT_EQ(e->name(), "iq");
  EXPECT_EQ(e->ns(), "jabber:client");
  EXPECT_EQ(e->attr("type"), "set");
  const Element* bind = e->child("bind", "urn:ietf:params:xml:ns:xmpp-bind");
  ASSERT_NE(bind, nullptr);
  ASSERT_NE(bind->child("resource"), nullptr);
  EXPECT_EQ(bind->child("resource")->ns(), "urn:ietf:params:xml:ns:xmpp-bind");
  EXPECT_EQ(bind->child("resource")->text(), "r");
}

TEST(ElementTest, ParseElementKeepsPrefixedAttributesSelfContained) {
  auto e = parseElement("<a xmlns:p='urn:p' xml:lang='en'><b p:k='v'/></a>", "urn:d");
  ASSERT_TRUE(e.isOk()) << e.error().detail;
  EXPECT_EQ(e->attr("xml:lang"), "en");
  EXPECT_FALSE(e->hasAttr("xmlns:p"));  // only used by the child: declared there
  const Element& b = e->children().at(0);
  EXPECT_EQ(b.attr("p:k"), "v");
  EXPECT_EQ(b.attr("xmlns:p"), "urn:p");
  // The child alone still parses: its prefix travels with it.
  auto again = parseElement(b.serialize(), "urn:d");
  ASSERT_TRUE(again.isOk()) << again.error().detail;
  EXPECT_EQ(again->attr("p:k"), "v");
}

TEST(ElementTest, ParseElementRejectsRestrictedAndMalformed) {
  struct Case {
    const char* input;
    const char* reason;
  };
  for (const Case& c : {
           Case{"<!DOCTYPE a><a/>", "restricted-xml"},
           Case{"<a><!-- c --></a>", "restricted-xml"},
           Case{"<a><?pi x?></a>", "restricted-xml"},
           Case{"<a>&ent;</a>", "not-well-formed"},
           Case{"<a><b></a>", "not-well-formed"},
           Case{"<a/><b/>", "not-well-formed"},
           Case{"", "not-well-formed"},
           Case{"<p:a/>", "not-well-formed"},
           Case{"<a>\xC3\x28</a>", "not-well-formed"},
       }) {
    auto e = parseElement(c.input, "jabber:client");
    ASSERT_FALSE(e.isOk()) << c.input;
    EXPECT_EQ(e.error().reason, c.reason) << c.input;
  }
}

TEST(ElementTest, ParseElementBoundsNesting) {
  std::string deep;
  for (int i = 0; i < 1000; ++i) deep += "<a>";
  for (int i = 0; i < 1000; ++i) deep += "</a>";
  auto e = parseElement(deep, "");
  ASSERT_FALSE(e.isOk());
  EXPECT_EQ(e.error().reason, "policy-violation");
}

TEST(ElementTest, ParseElementReusesParserAcrossCalls) {
  // The thread's parser is reset between calls: an error must not leak into the next.
  EXPECT_FALSE(parseElement("<a><!-- x --></a>", "").isOk());
  auto ok = parseElement("<a>fine</a>", "urn:a");
  ASSERT_TRUE(ok.isOk()) << ok.error().detail;
  EXPECT_EQ(ok->ns(), "urn:a");
  EXPECT_EQ(ok->text(), "fine");
}

TEST(ElementTest, EscapingHelpers) {
  std::string out;
  appendEscapedText(out, "a<b>&c'\"\r\n\t");
  EXPECT_EQ(out, "a&lt;b&gt;&amp;c'\"&#xD;\n\t");
  out.clear();
  appendEscapedAttr(out, "a<b>&c'\"\r\n\t\xC3\xA9");
  EXPECT_EQ(out, "a&lt;b&gt;&amp;c&apos;&quot;&#xD;&#xA;&#x9;\xC3\xA9");
  out = "keep:";
  appendEscapedText(out, "");
  EXPECT_EQ(out, "keep:");
}


// Pins a fuzzer find: the XML namespace cannot be a default namespace, so an element in
// it must keep the xml: prefix when re-serialized.
TEST(ElementTest, XmlNamespaceElementKeepsPrefix) {
  auto e = parseElement("<a><xml:b>t</xml:b></a>", "urn:a");
  ASSERT_TRUE(e.isOk()) << e.error().detail;
  EXPECT_EQ(e->children().at(0).ns(), "http://www.w3.org/XML/1998/namespace");
  const std::string out = e->serialize("urn:a");
  EXPECT_EQ(out, "<a><xml:b>t</xml:b></a>");
  EXPECT_TRUE(parseElement(out, "urn:a").isOk());
}

}  // namespace
}  // namespace xmesh::xml
