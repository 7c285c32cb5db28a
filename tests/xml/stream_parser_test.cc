// Stream parser behaviour: events, feeding patterns, suspend/resume, reset, limits.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tests/xml/recording_handler.h"
#include "xml/stream_parser.h"

namespace xmesh::xml {
namespace {

using test::kHeader;
using test::RecordingHandler;

// A stream exercising the constructs a real client sends.
const std::string kSession = std::string(kHeader) +
    "\n  <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>  "
    "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
    "<resource>r\xC3\xA9sum\xC3\xA9 \xF0\x9F\x98\x80</resource></bind></iq>"
    "<message from='evil@x' to='bob@example.com' type=\"chat\" id='m&amp;1' xml:lang='en'>"
    "<body>a &lt; b &amp;&amp; c &gt; d \"q\" 'a' &#13;&#10;<![CDATA[<raw>&]]></body>"
    "<thread>t1</thread></message>\r\n"
    "<presence><show>away</show><c xmlns='http://jabber.org/protocol/caps' node='n' ver='v='/>"
    "</presence>"
    "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
    "<mechanism>PLAIN</mechanism></mechanisms></stream:features>"
    "</stream:stream>";

std::vector<std::string> parseInChunks(std::string_view input, const std::vector<size_t>& cuts,
                                       ParserLimits limits = {}) {
  RecordingHandler h;
  StreamParser p(h, limits);
  size_t prev = 0;
  for (size_t cut : cuts) {
    p.feed(input.substr(prev, cut - prev));
    prev = cut;
  }
  p.feed(input.substr(prev));
  return h.log;
}

TEST(StreamParserTest, DeliversHeaderStanzasAndClose) {
  RecordingHandler h;
  StreamParser p(h, {});
  p.feed(kSession);
  EXPECT_EQ(h.errors, 0) << h.errorDetail;
  ASSERT_TRUE(h.header.has_value());
  EXPECT_EQ(h.header->ns, "jabber:client");
  EXPECT_EQ(h.header->to, "example.com");
  EXPECT_EQ(h.header->version, "1.0");
  ASSERT_EQ(h.stanzas.size(), 5u);
  EXPECT_EQ(h.stanzas[0].name, "starttls");
  EXPECT_EQ(h.stanzas[0].ns, "urn:ietf:params:xml:ns:xmpp-tls");
  EXPECT_EQ(h.stanzas[1].firstChildName, "bind");
  EXPECT_EQ(h.stanzas[1].firstChildNs, "urn:ietf:params:xml:ns:xmpp-bind");
  EXPECT_EQ(h.stanzas[4].name, "features");
  EXPECT_EQ(h.stanzas[4].ns, "http://etherx.jabber.org/streams");
  EXPECT_EQ(h.closes, 1);
  EXPECT_EQ(h.log.back(), "close");
}

TEST(StreamParserTest, HeaderCarriesAllFields) {
  RecordingHandler h;
  StreamParser p(h, {});
  p.feed("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
         "to='a.example' from='b.example' id='s1' version='1.0' xml:lang='de'>");
  ASSERT_TRUE(h.header.has_value());
  EXPECT_EQ(h.header->ns, "jabber:server");
  EXPECT_EQ(h.header->to, "a.example");
  EXPECT_EQ(h.header->from, "b.example");
  EXPECT_EQ(h.header->id, "s1");
  EXPECT_EQ(h.header->lang, "de");
}

TEST(StreamParserTest, ByteAtATimeFeedingGivesIdenticalStanzas) {
  const auto whole = parseInChunks(kSession, {});
  std::vector<size_t> everyByte;
  for (size_t i = 1; i < kSession.size(); ++i) everyByte.push_back(i);
  EXPECT_EQ(parseInChunks(kSession, everyByte), whole);
}

TEST(StreamParserTest, RandomChunkingGivesIdenticalStanzas) {
  const auto whole = parseInChunks(kSession, {});
  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    std::vector<size_t> cuts;
    size_t pos = 0;
    while (true) {
      pos += 1 + rng() % 40;
      if (pos >= kSession.size()) break;
      cuts.push_back(pos);
    }
    ASSERT_EQ(parseInChunks(kSession, cuts), whole) << "round " << round;
  }
}

// Pins that swapping the Expat parser (to drop its table of every name ever seen) is
// invisible: a budget of 0 recycles after every stanza, under any feeding pattern.
TEST(StreamParserTest, ParserRecyclingIsInvisible) {
  const auto whole = parseInChunks(kSession, {});
  ParserLimits recycling;
  recycling.nameBudgetBytes = 0;
  EXPECT_EQ(parseInChunks(kSession, {}, recycling), whole);
  std::vector<size_t> everyByte;
  for (size_t i = 1; i < kSession.size(); ++i) everyByte.push_back(i);
  EXPECT_EQ(parseInChunks(kSession, everyByte, recycling), whole);
  std::mt19937 rng(7);
  for (int round = 0; round < 100; ++round) {
    std::vector<size_t> cuts;
    for (size_t pos = 1 + rng() % 60; pos < kSession.size(); pos += 1 + rng() % 60) cuts.push_back(pos);
    ASSERT_EQ(parseInChunks(kSession, cuts, recycling), whole) << "round " << round;
  }
}

TEST(StreamParserTest, ParserRecyclingKeepsLimitsAndSuspension) {
  RecordingHandler h;
  ParserLimits limits;
  limits.nameBudgetBytes = 0;
  limits.maxStanzaBytes = 1000;
  StreamParser p(h, limits);
  h.onStanzaHook = [&](const Stanza&) { p.suspend(); };
  std::string input(kHeader);
  for (int i = 0; i < 50; ++i) input += "<message id='" + std::to_string(i) + "'><x" + std::to_string(i) + "/></message> ";
  p.feed(input);
  while (p.suspended()) p.resume();
  ASSERT_EQ(h.stanzas.size(), 50u);
  EXPECT_EQ(h.stanzas[49].firstChildName, "x49");
  EXPECT_EQ(h.errors, 0);
  h.onStanzaHook = nullptr;
  p.feed("<message><body>" + std::string(2000, 'a'));
  EXPECT_EQ(h.error, StreamError::PolicyViolation);
}

// Pins that reparse deferral is off: a large stanza split across two reads is delivered
// as soon as its last byte arrives, not when more input happens to follow.
TEST(StreamParserTest, StanzaSplitAcrossFeedsDeliveredOnLastByte) {
  RecordingHandler h;
  StreamParser p(h, {});
  p.feed(kHeader);
  const std::string stanza = "<message to='a@b' id='" + std::string(100 * 1024, 'x') + "'><body>hi</body></message>";
  const size_t cut = stanza.size() - 300;
  p.feed(std::string_view(stanza).substr(0, cut));
  EXPECT_TRUE(h.stanzas.empty());
  p.feed(std::string_view(stanza).substr(cut));
  ASSERT_EQ(h.stanzas.size(), 1u);
  EXPECT_EQ(h.stanzas[0].id.size(), 100u * 1024);

  // The same for a big start tag followed by a small tail in one read.
  const std::string tag = "<presence id='" + std::string(200 * 1024, 'y') + "'/>";
  p.feed(std::string_view(tag).substr(0, tag.size() - 2));
  EXPECT_EQ(h.stanzas.size(), 1u);
  p.feed("/>");
  EXPECT_EQ(h.stanzas.size(), 2u);
}

TEST(StreamParserTest, SuspendInsideCallbackKeepsRestForResume) {
  RecordingHandler h;
  StreamParser p(h, {});
  bool suspendNext = true;
  h.onStanzaHook = [&](const Stanza&) {
    if (suspendNext) p.suspend();
  };
  p.feed(std::string(kHeader) + "<presence id='1'/><presence id='2'/><presence id='3'/>");
  ASSERT_EQ(h.stanzas.size(), 1u);
  EXPECT_TRUE(p.suspended());

  // Input fed while suspended is kept behind the unconsumed rest.
  p.feed("<presence id='4'/>");
  EXPECT_EQ(h.stanzas.size(), 1u);

  p.resume();  // suspends again after stanza 2
  ASSERT_EQ(h.stanzas.size(), 2u);
  EXPECT_EQ(h.stanzas[1].id, "2");
  suspendNext = false;
  p.resume();
  EXPECT_FALSE(p.suspended());
  ASSERT_EQ(h.stanzas.size(), 4u);
  EXPECT_EQ(h.stanzas[2].id, "3");
  EXPECT_EQ(h.stanzas[3].id, "4");
  p.feed("<presence id='5'/>");
  EXPECT_EQ(h.stanzas.size(), 5u);
  EXPECT_EQ(h.errors, 0);
}

TEST(StreamParserTest, SuspendAcrossSliceBoundaries) {
  // Enough input for several internal slices, suspended on every stanza.
  RecordingHandler h;
  StreamParser p(h, {});
  h.onStanzaHook = [&](const Stanza&) { p.suspend(); };
  std::string input(kHeader);
  for (int i = 0; i < 2000; ++i) input += "<presence id='" + std::to_string(i) + "'/>";
  p.feed(input);
  int rounds = 0;
  while (p.suspended() && rounds < 5000) {
    p.resume();
    ++rounds;
  }
  ASSERT_EQ(h.stanzas.size(), 2000u);
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(h.stanzas[i].id, std::to_string(i));
}

TEST(StreamParserTest, SuspendOutsideCallbackIsNoop) {
  RecordingHandler h;
  StreamParser p(h, {});
  p.suspend();
  EXPECT_FALSE(p.suspended());
  p.feed(std::string(kHeader) + "<presence/>");
  EXPECT_EQ(h.stanzas.size(), 1u);
  p.resume();  // nothing kept: harmless
  EXPECT_EQ(h.stanzas.size(), 1u);
}

// Pins STARTTLS hygiene: after <starttls/> triggers a reset, no byte from the same read
// reaches the new stream (here it would even be an error).
TEST(StreamParserTest, ResetInsideCallbackDiscardsRest) {
  RecordingHandler h;
  StreamParser p(h, {});
  h.onStanzaHook = [&](const Stanza& s) {
    if (s.name == "starttls") p.reset();
  };
  p.feed(std::string(kHeader) + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
         "<message><body>plaintext injected</body></message>garbage<<<");
  EXPECT_EQ(h.stanzas.size(), 1u);
  EXPECT_EQ(h.errors, 0);
  EXPECT_FALSE(p.failed());

  p.feed(kHeader);  // the restarted stream begins with a fresh header
  p.feed("<presence/>");
  EXPECT_EQ(h.opens, 2);
  ASSERT_EQ(h.stanzas.size(), 2u);
  EXPECT_EQ(h.stanzas[1].name, "presence");
}

TEST(StreamParserTest, ResetInsideOpenCallbackDiscardsRest) {
  RecordingHandler h;
  StreamParser p(h, {});
  h.onOpenHook = [&] { p.reset(); };
  p.feed(std::string(kHeader) + "<presence/>");
  EXPECT_EQ(h.opens, 1);
  EXPECT_TRUE(h.stanzas.empty());
}

TEST(StreamParserTest, ResetWhileSuspendedDiscardsKeptInput) {
  RecordingHandler h;
  StreamParser p(h, {});
  h.onStanzaHook = [&](const Stanza&) { p.suspend(); };
  p.feed(std::string(kHeader) + "<presence/><presence/>");
  ASSERT_TRUE(p.suspended());
  p.reset();
  EXPECT_FALSE(p.suspended());
  h.onStanzaHook = nullptr;
  p.resume();
  EXPECT_EQ(h.stanzas.size(), 1u);
  p.feed(std::string(kHeader) + "<message/>");
  ASSERT_EQ(h.stanzas.size(), 2u);
  EXPECT_EQ(h.stanzas[1].name, "message");
}

TEST(StreamParserTest, ResetClearsFailure) {
  RecordingHandler h;
  StreamParser p(h, {});
  p.feed("<bad");
  p.feed(">");
  EXPECT_TRUE(p.failed());
  p.reset();
  EXPECT_FALSE(p.failed());
  p.feed(std::string(kHeader) + "<presence/>");
  EXPECT_EQ(h.stanzas.size(), 1u);
}

TEST(StreamParserTest, FeedFromInsideCallbackIsParsedAfterCurrentInput) {
  RecordingHandler h;
  StreamParser p(h, {});
  bool fedOnce = false;
  h.onStanzaHook = [&](const Stanza&) {
    if (!fedOnce) {
      fedOnce = true;
      p.feed("<presence id='late'/>");
    }
  };
  p.feed(std::string(kHeader) + "<presence id='1'/><presence id='2'/>");
  ASSERT_EQ(h.stanzas.size(), 3u);
  EXPECT_EQ(h.stanzas[1].id, "2");
  EXPECT_EQ(h.stanzas[2].id, "late");
}

TEST(StreamParserTest, InputAfterCloseIsIgnored) {
  RecordingHandler h;
  StreamParser p(h, {});
  p.feed(std::string(kHeader) + "</stream:stream><presence/>junk");
  EXPECT_EQ(h.closes, 1);
  EXPECT_EQ(h.errors, 0);
  EXPECT_TRUE(h.stanzas.empty());
}

TEST(StreamParserTest, SetLimitsAppliesToLaterInput) {
  RecordingHandler h;
  ParserLimits tight;
  tight.maxStanzaBytes = 256;  // the header fits, the message below does not
  StreamParser p(h, tight);
  p.feed(kHeader);
  ParserLimits loose;
  p.setLimits(loose);
  p.feed("<message><body>" + std::string(1000, 'a') + "</body></message>");
  EXPECT_EQ(h.errors, 0);
  EXPECT_EQ(h.stanzas.size(), 1u);
}

TEST(StreamParserTest, StreamErrorNames) {
  EXPECT_EQ(streamErrorName(StreamError::NotWellFormed), "not-well-formed");
  EXPECT_EQ(streamErrorName(StreamError::RestrictedXml), "restricted-xml");
  EXPECT_EQ(streamErrorName(StreamError::PolicyViolation), "policy-violation");
  EXPECT_EQ(streamErrorName(StreamError::InvalidNamespace), "invalid-namespace");
  EXPECT_EQ(streamErrorName(StreamError::UnsupportedEncoding), "unsupported-encoding");
  EXPECT_EQ(streamErrorName(StreamError::BadFormat), "bad-format");
  EXPECT_EQ(streamErrorName(StreamError::InvalidXml), "invalid-xml");
  EXPECT_EQ(streamErrorName(StreamError::InvalidFrom), "invalid-from");
}

}  // namespace
}  // namespace xmesh::xml
