// The canonical-bytes scanner and the writers, checked against what the stream parser
// actually produces for the elements the writers emit.
#include "r2r/wire.h"

#include <gtest/gtest.h>

#include "xml/stream_parser.h"

namespace xmesh::r2r::wire {
namespace {

// Parses `elements` inside an r2r stream header and returns the stanzas.
std::vector<xml::Stanza> parse(const std::string& elements) {
  struct Collect final : xml::StreamHandler {
    std::vector<xml::Stanza> out;
    bool failed = false;
    void onStreamOpen(const xml::StreamHeader&) override {}
    void onStanza(xml::Stanza&& s) override { out.push_back(std::move(s)); }
    void onStreamClose() override {}
    void onStreamError(xml::StreamError, std::string_view) override { failed = true; }
  } collect;
  xml::StreamParser parser(collect, xml::ParserLimits{});
  std::string bytes;
  appendStreamHeader(bytes, "a", "b");
  parser.feed(bytes + elements);
  EXPECT_FALSE(collect.failed);
  return std::move(collect.out);
}

TEST(R2rWire, ControlRoundTripsThroughTheParser) {
  std::string out;
  const std::vector<Attr> attrs{{"op", "add"}, {"home", "n'1\"<&>\t\n"}};
  appendControl(out, "dir", attrs, "a\rb <c> & 'd'", "<x/><y a='1'>t</y>");
  auto stanzas = parse(out);
  ASSERT_EQ(stanzas.size(), 1u);
  EXPECT_EQ(stanzas[0].ns, kNs);
  EXPECT_EQ(stanzas[0].name, "dir");
  auto scanned = scanElement(stanzas[0].bytes);
  ASSERT_TRUE(scanned.isOk()) << scanned.error().detail;
  EXPECT_EQ(scanned->attrs, attrs);
  EXPECT_EQ(scanned->text, "a\rb <c> & 'd'");
  EXPECT_EQ(scanned->children, "<x/><y a='1'>t</y>");
  EXPECT_EQ(scanned->childCount, 2u);
}

TEST(R2rWire, EmptyControlHasNoContent) {
  std::string out;
  appendControl(out, "serve", std::vector<Attr>{{"user", "u@d"}}, {}, {});
  EXPECT_EQ(out, "<m:serve user='u@d'/>");
  auto stanzas = parse(out);
  ASSERT_EQ(stanzas.size(), 1u);
  auto scanned = scanElement(stanzas[0].bytes);
  ASSERT_TRUE(scanned.isOk());
  EXPECT_EQ(scanned->qname, "m:serve");
  EXPECT_TRUE(scanned->text.empty());
  EXPECT_EQ(scanned->childCount, 0u);
}

TEST(R2rWire, FanoutChildBecomesAStanza) {
  std::string out;
  const std::vector<std::string> rcpt{"a@d", "b@d"};
  appendFanout(out, rcpt,
               "<presence from='x@d/r' to='ignored@d' xml:lang='en' id='p1'><c xmlns='urn:caps' "
               "v='1'/></presence>");
  auto stanzas = parse(out);
  ASSERT_EQ(stanzas.size(), 1u);
  EXPECT_EQ(stanzas[0].to, "a@d b@d");
  auto scanned = scanElement(stanzas[0].bytes);
  ASSERT_TRUE(scanned.isOk());
  auto s = stanzaFromCanonical(scanned->children);
  ASSERT_TRUE(s.isOk()) << s.error().detail;
  EXPECT_EQ(s->from, "x@d/r");
  EXPECT_EQ(s->to, "ignored@d");
  EXPECT_EQ(s->lang, "en");
  EXPECT_EQ(s->id, "p1");
  EXPECT_EQ(s->firstChildName, "c");
  EXPECT_EQ(
      s->bytes,
      "<presence to='ignored@d' xml:lang='en' id='p1'><c xmlns='urn:caps' v='1'/></presence>");
  EXPECT_EQ(s->withFromAndTo("x@d/r", "a@d"),
            "<presence from='x@d/r' to='a@d' xml:lang='en' id='p1'><c xmlns='urn:caps' "
            "v='1'/></presence>");
}

TEST(R2rWire, ScannerRefusesNonCanonicalBytes) {
  EXPECT_FALSE(scanElement("").isOk());
  EXPECT_FALSE(scanElement("<a").isOk());
  EXPECT_FALSE(scanElement("<a x=\"1\"/>").isOk());
  EXPECT_FALSE(scanElement("<a x='&bogus;'/>").isOk());
  EXPECT_FALSE(scanElement("<a>text</b>").isOk());
  EXPECT_FALSE(scanElement("<a><b></a>").isOk());
  EXPECT_FALSE(scanElement("<a/>trailing").isOk());
  EXPECT_FALSE(stanzaFromCanonical("<presence/><presence/>").isOk());
  EXPECT_FALSE(stanzaFromCanonical("<c:presence/>").isOk());
}

TEST(R2rWire, ParseUint64) {
  uint64_t v = 0;
  EXPECT_TRUE(parseUint64("0", &v));
  EXPECT_TRUE(parseUint64("18446744073709551615", &v));
  EXPECT_EQ(v, 18446744073709551615u);
  EXPECT_FALSE(parseUint64("18446744073709551616", &v));
  EXPECT_FALSE(parseUint64("", &v));
  EXPECT_FALSE(parseUint64("-1", &v));
  EXPECT_FALSE(parseUint64("1 ", &v));
  EXPECT_FALSE(parseUint64("+1", &v));
}

TEST(R2rWire, Names) {
  EXPECT_TRUE(isSimpleName("dir"));
  EXPECT_TRUE(isSimpleName("peer-epoch"));
  EXPECT_FALSE(isSimpleName("1x"));
  EXPECT_FALSE(isSimpleName("a:b"));
  EXPECT_FALSE(isSimpleName(""));
  EXPECT_TRUE(isReservedName("hb"));
  EXPECT_FALSE(isReservedName("dir"));
}

}  // namespace
}  // namespace xmesh::r2r::wire
