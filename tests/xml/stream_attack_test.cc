// A named catalogue of hostile inputs, one test each: restricted XML (RFC 6120 §11.1),
// malformed bytes, and resource limits enforced while bytes arrive.
#include <gtest/gtest.h>

#include <string>

#include "tests/xml/recording_handler.h"
#include "xml/element.h"
#include "xml/stream_parser.h"

namespace xmesh::xml {
namespace {

using test::kHeader;
using test::RecordingHandler;

// Feeds `input` after a valid header and returns the handler.
RecordingHandler parseAfterHeader(std::string_view input, ParserLimits limits = {}) {
  RecordingHandler h;
  StreamParser p(h, limits);
  p.feed(kHeader);
  p.feed(input);
  return h;
}

RecordingHandler parseWhole(std::string_view input) {
  RecordingHandler h;
  StreamParser p(h, {});
  p.feed(input);
  return h;
}

TEST(StreamAttackTest, ParseRejectsDoctype) {
  auto h = parseWhole("<?xml version='1.0'?><!DOCTYPE stream:stream>"
                      "<stream:stream xmlns='jabber:client' "
                      "xmlns:stream='http://etherx.jabber.org/streams'>");
  EXPECT_EQ(h.error, StreamError::RestrictedXml);
  EXPECT_EQ(h.opens, 0);
}

TEST(StreamAttackTest, ParseRejectsBillionLaughs) {
  std::string doc = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>";
  for (int i = 1; i < 10; ++i) {
    doc += "<!ENTITY lol" + std::to_string(i) + " '";
    for (int j = 0; j < 10; ++j) doc += "&lol" + (i == 1 ? std::string() : std::to_string(i - 1)) + ";";
    doc += "'>";
  }
  doc += "]><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
         "<message><body>&lol9;</body></message>";
  auto h = parseWhole(doc);
  EXPECT_EQ(h.error, StreamError::RestrictedXml);
  EXPECT_EQ(h.errors, 1);
  EXPECT_TRUE(h.stanzas.empty());
}

TEST(StreamAttackTest, ParseRejectsEntityDecl) {
  auto h = parseWhole("<!DOCTYPE s [<!ENTITY x 'y'>]><stream:stream "
                      "xmlns:stream='http://etherx.jabber.org/streams'>");
  EXPECT_EQ(h.error, StreamError::RestrictedXml);
}

TEST(StreamAttackTest, ParseRejectsExternalEntity) {
  auto h = parseWhole("<!DOCTYPE s [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
                      "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>&x;");
  EXPECT_EQ(h.error, StreamError::RestrictedXml);
  EXPECT_EQ(h.opens, 0);
}

TEST(StreamAttackTest, ParseRejectsUndefinedEntityReference) {
  auto h = parseAfterHeader("<message><body>&x;</body></message>");
  EXPECT_EQ(h.error, StreamError::NotWellFormed);
  EXPECT_TRUE(h.stanzas.empty());
}

TEST(StreamAttackTest, ParseRejectsProcessingInstruction) {
  auto h = parseAfterHeader("<message><?php evil() ?></message>");
  EXPECT_EQ(h.error, StreamError::RestrictedXml);
  EXPECT_TRUE(h.stanzas.empty());
}

TEST(StreamAttackTest, ParseRejectsProcessingInstructionBetweenStanzas) {
  auto h = parseAfterHeader("<presence/><?x y?><presence/>");
  EXPECT_EQ(h.error, StreamError::RestrictedXml);
  EXPECT_EQ(h.stanzas.size(), 1u);
}

TEST(StreamAttackTest, ParseRejectsProcessingInstructionInProlog) {
  auto h = parseWhole("<?xml-stylesheet href='a'?><stream:stream "
                      "xmlns:stream='http://etherx.jabber.org/streams'>");
  EXPECT_EQ(h.error, StreamError::RestrictedXml);
}

TEST(StreamAttackTest, ParseRejectsComment) {
  auto h = parseAfterHeader("<message><!-- hi --><body/></message>");
  EXPECT_EQ(h.error, StreamError::RestrictedXml);
  EXPECT_TRUE(h.stanzas.empty());
}

TEST(StreamAttackTest, ParseRejectsMisplacedXmlDeclaration) {
  auto h = parseAfterHeader("<?xml version='1.0'?><presence/>");
  EXPECT_TRUE(h.error.has_value());
  EXPECT_TRUE(h.stanzas.empty());
}

TEST(StreamAttackTest, RejectsNonUtf8Encoding) {
  auto h = parseWhole("<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream "
                      "xmlns:stream='http://etherx.jabber.org/streams'>");
  EXPECT_EQ(h.error, StreamError::UnsupportedEncoding);
  EXPECT_EQ(h.opens, 0);
}

TEST(StreamAttackTest, AcceptsUtf8EncodingDeclaration) {
  auto h = parseWhole("<?xml version='1.0' encoding='utf-8'?><stream:stream "
                      "xmlns:stream='http://etherx.jabber.org/streams'>");
  EXPECT_EQ(h.errors, 0);
  EXPECT_EQ(h.opens, 1);
}

TEST(StreamAttackTest, RejectsInvalidUtf8) {
  const char* cases[] = {
      "<message><body>\xC3\x28</body></message>",          // bad continuation byte
      "<message><body>\xC0\xAF</body></message>",          // overlong '/'
      "<message><body>\xED\xA0\x80</body></message>",      // UTF-16 surrogate
      "<message><body>\xF5\x80\x80\x80</body></message>",  // beyond U+10FFFF
      "<message to='\xFF'/>",                              // in an attribute
      "<message><body>\x01</body></message>",              // C0 control: not an XML char
  };
  for (const char* input : cases) {
    auto h = parseAfterHeader(input);
    EXPECT_EQ(h.error, StreamError::NotWellFormed) << input;
    EXPECT_TRUE(h.stanzas.empty()) << input;
  }
}

// Pins that the limit is enforced while the stanza streams in: 10 MiB of one unfinished
// stanza in 1 KiB pieces must fail as soon as the stanza passes maxStanzaBytes, and the
// rest of the input is ignored.
TEST(StreamAttackTest, RejectsOversizedStanzaBeforeBufferingIt) {
  RecordingHandler h;
  ParserLimits limits;
  StreamParser p(h, limits);
  p.feed(kHeader);
  const std::string start = "<message to='a@b'><body>";
  p.feed(start);
  const std::string piece(1024, 'a');
  size_t fedSinceStanza = start.size();
  size_t fedWhenFailed = 0;
  for (size_t total = 0; total < 10u * 1024 * 1024; total += piece.size()) {
    p.feed(piece);
    fedSinceStanza += piece.size();
    if (h.errors > 0 && fedWhenFailed == 0) fedWhenFailed = fedSinceStanza;
  }
  EXPECT_EQ(h.errors, 1);
  EXPECT_EQ(h.error, StreamError::PolicyViolation);
  EXPECT_TRUE(p.failed());
  EXPECT_GT(fedWhenFailed, limits.maxStanzaBytes);
  EXPECT_LE(fedWhenFailed, limits.maxStanzaBytes + piece.size());
  EXPECT_TRUE(h.stanzas.empty());
}

// The same attack inside one start tag: Expat would buffer a partial token whole, so the
// limit must also cover bytes before any element event.
TEST(StreamAttackTest, RejectsOversizedStartTagBeforeBufferingIt) {
  RecordingHandler h;
  ParserLimits limits;
  limits.maxStanzaBytes = 64 * 1024;
  StreamParser p(h, limits);
  p.feed(kHeader);
  p.feed("<message to='");
  const std::string piece(512, 'x');
  size_t fed = 13;
  size_t fedWhenFailed = 0;
  while (fed < 4u * 1024 * 1024) {
    p.feed(piece);
    fed += piece.size();
    if (h.errors > 0 && fedWhenFailed == 0) fedWhenFailed = fed;
  }
  EXPECT_EQ(h.error, StreamError::PolicyViolation);
  EXPECT_LE(fedWhenFailed, limits.maxStanzaBytes + piece.size());
}

TEST(StreamAttackTest, RejectsOversizedStanzaFedInOneCall) {
  std::string big = "<message><body>" + std::string(300 * 1024, 'a') + "</body></message>";
  auto h = parseAfterHeader(big);
  EXPECT_EQ(h.error, StreamError::PolicyViolation);
  EXPECT_TRUE(h.stanzas.empty());
}

TEST(StreamAttackTest, AcceptsStanzaExactlyAtLimit) {
  // Bigger than the header, which is bounded by the same limit.
  const std::string stanza = "<message><body>" + std::string(1000, 'a') + "</body></message>";
  ParserLimits limits;
  limits.maxStanzaBytes = stanza.size();
  auto ok = parseAfterHeader(stanza + stanza, limits);
  EXPECT_EQ(ok.errors, 0);
  EXPECT_EQ(ok.stanzas.size(), 2u);

  limits.maxStanzaBytes = stanza.size() - 1;
  auto bad = parseAfterHeader(stanza, limits);
  EXPECT_EQ(bad.error, StreamError::PolicyViolation);
  EXPECT_TRUE(bad.stanzas.empty());
}

// Whitespace keepalives between stanzas are neither stored nor counted into a stanza.
TEST(StreamAttackTest, WhitespaceKeepalivesDoNotAccumulate) {
  RecordingHandler h;
  ParserLimits limits;
  limits.maxStanzaBytes = 200;
  StreamParser p(h, limits);
  p.feed(kHeader);
  for (int i = 0; i < 10000; ++i) p.feed(" \n");
  p.feed("<presence/>");
  EXPECT_EQ(h.errors, 0);
  EXPECT_EQ(h.stanzas.size(), 1u);
}

TEST(StreamAttackTest, RejectsDeepNesting) {
  ParserLimits limits;  // maxDepth 32: the stanza element counts as level 1
  std::string ok = "<message>";
  for (int i = 1; i < 32; ++i) ok += "<a>";
  for (int i = 1; i < 32; ++i) ok += "</a>";
  ok += "</message>";
  auto good = parseAfterHeader(ok, limits);
  EXPECT_EQ(good.errors, 0);
  EXPECT_EQ(good.stanzas.size(), 1u);

  std::string deep = "<message>";
  for (int i = 0; i < 100000; ++i) deep += "<a>";
  auto bad = parseAfterHeader(deep, limits);
  EXPECT_EQ(bad.error, StreamError::PolicyViolation);
}

TEST(StreamAttackTest, RejectsTooManyAttributes) {
  std::string tag = "<message";
  for (int i = 0; i < 65; ++i) tag += " a" + std::to_string(i) + "='x'";
  auto bad = parseAfterHeader(tag + "/>");
  EXPECT_EQ(bad.error, StreamError::PolicyViolation);

  std::string inner = "<message><x";
  for (int i = 0; i < 65; ++i) inner += " a" + std::to_string(i) + "='x'";
  auto badInner = parseAfterHeader(inner + "/></message>");
  EXPECT_EQ(badInner.error, StreamError::PolicyViolation);

  std::string fine = "<message";
  for (int i = 0; i < 64; ++i) fine += " a" + std::to_string(i) + "='x'";
  auto good = parseAfterHeader(fine + "/>");
  EXPECT_EQ(good.errors, 0);
}

TEST(StreamAttackTest, RejectsWrongRootNamespace) {
  auto wrongNs = parseWhole("<stream:stream xmlns:stream='urn:not-streams'>");
  EXPECT_EQ(wrongNs.error, StreamError::InvalidNamespace);
  auto unprefixed = parseWhole("<stream xmlns='jabber:client'>");
  EXPECT_EQ(unprefixed.error, StreamError::InvalidNamespace);
  auto wrongName = parseWhole("<stream:foo xmlns:stream='http://etherx.jabber.org/streams'>");
  EXPECT_EQ(wrongName.error, StreamError::InvalidNamespace);
  EXPECT_EQ(wrongNs.opens + unprefixed.opens + wrongName.opens, 0);
}

TEST(StreamAttackTest, AcceptsStreamsNamespaceAsDefault) {
  auto h = parseWhole("<stream xmlns='http://etherx.jabber.org/streams'>");
  EXPECT_EQ(h.errors, 0);
  EXPECT_EQ(h.opens, 1);
}

TEST(StreamAttackTest, RejectsUnboundPrefix) {
  auto root = parseWhole("<stream:stream>");
  EXPECT_EQ(root.error, StreamError::NotWellFormed);
  auto inner = parseAfterHeader("<message><foo:x/></message>");
  EXPECT_EQ(inner.error, StreamError::NotWellFormed);
  auto attr = parseAfterHeader("<message foo:a='1'/>");
  EXPECT_EQ(attr.error, StreamError::NotWellFormed);
}

TEST(StreamAttackTest, RejectsBadNamespaceDeclarations) {
  for (const char* input : {
           "<message xmlns:xmlns='urn:x'/>",
           "<message xmlns:xml='urn:x'/>",
           "<message xmlns:p=''/>",
           "<message xmlns:p='http://www.w3.org/XML/1998/namespace'/>",
           "<a:b:c xmlns:a='urn:a'/>",
           "<a:2b xmlns:a='urn:a'/>",  // local part is not an NCName (fuzzer find)
           "<message xmlns:a='urn:a' a:-k='1'/>",
       }) {
    auto h = parseAfterHeader(input);
    EXPECT_EQ(h.error, StreamError::NotWellFormed) << input;
  }
}

// Expat only catches duplicates spelled the same; XML-Namespaces also forbids two
// prefixes of the same namespace on one local name.
TEST(StreamAttackTest, RejectsDuplicateExpandedAttribute) {
  auto h = parseAfterHeader("<message xmlns:a='urn:x' xmlns:b='urn:x' a:k='1' b:k='2'/>");
  EXPECT_EQ(h.error, StreamError::NotWellFormed);
}

TEST(StreamAttackTest, RejectsTextAtStreamLevel) {
  auto h = parseAfterHeader("hello<presence/>");
  EXPECT_EQ(h.error, StreamError::NotWellFormed);
  EXPECT_TRUE(h.stanzas.empty());
}

TEST(StreamAttackTest, NoEventsAfterError) {
  RecordingHandler h;
  StreamParser p(h, {});
  p.feed(kHeader);
  p.feed("<message><</message>");
  EXPECT_EQ(h.error, StreamError::NotWellFormed);
  p.feed("<presence/></stream:stream>");
  EXPECT_EQ(h.errors, 1);
  EXPECT_TRUE(h.stanzas.empty());
  EXPECT_EQ(h.closes, 0);
}


std::string utf16(std::string_view ascii, bool bigEndian) {
  std::string out;
  for (char c : ascii) {
    if (bigEndian) out += '\0';
    out += c;
    if (!bigEndian) out += '\0';
  }
  return out;
}

// Pins a bypass: Expat sniffs UTF-16 from a NUL in the first two bytes or a byte order
// mark even when the parser was created for UTF-8, and then parses the stream as UTF-16.
TEST(StreamAttackTest, RejectsUtf16EvenWhenSplit) {
  const std::string header = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>";
  for (bool bigEndian : {false, true}) {
    const std::string input = utf16(header, bigEndian);
    for (size_t split : {size_t{0}, size_t{1}, size_t{2}}) {
      test::RecordingHandler h;
      StreamParser p(h, {});
      p.feed(input.substr(0, split));
      p.feed(input.substr(split));
      EXPECT_EQ(h.error, StreamError::UnsupportedEncoding);
      EXPECT_EQ(h.opens, 0);
    }
  }
  for (const char* bom : {"\xFF\xFE", "\xFE\xFF"}) {
    test::RecordingHandler h;
    StreamParser p(h, {});
    p.feed(bom);
    EXPECT_EQ(h.error, StreamError::UnsupportedEncoding);
  }
  auto tree = parseElement(utf16("<a/>", false), "");
  ASSERT_FALSE(tree.isOk());
  EXPECT_EQ(tree.error().reason, "unsupported-encoding");
}

TEST(StreamAttackTest, AcceptsUtf8ByteOrderMark) {
  test::RecordingHandler h;
  StreamParser p(h, {});
  p.feed("\xEF\xBB\xBF");
  p.feed("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>");
  EXPECT_EQ(h.errors, 0);
  EXPECT_EQ(h.opens, 1);
}

TEST(StreamAttackTest, RejectsNulByte) {
  auto h = parseAfterHeader(std::string("<message><body>a\0b</body></message>", 35));
  EXPECT_EQ(h.error, StreamError::NotWellFormed);
}

}  // namespace
}  // namespace xmesh::xml
