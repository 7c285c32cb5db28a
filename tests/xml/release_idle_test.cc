// StreamParser::releaseIdle: an idle stream gives back its Expat parser and later input
// continues as if nothing happened.
#include <gtest/gtest.h>

#include "tests/xml/recording_handler.h"
#include "xml/stream_parser.h"

namespace xmesh::xml {
namespace {
using test::RecordingHandler;

constexpr const char* kOpen =
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "xmlns:x='urn:x' to='localhost' version='1.0'>";

std::vector<std::string> run(bool release) {
  RecordingHandler h;
  StreamParser p(h, {});
  p.feed(kOpen);
  p.feed("<message to='a@b'><body>one</body></message> ");
  if (release) {
    EXPECT_TRUE(p.releaseIdle());
  }
  p.feed("<message to='a@b'><x:y>two</x:y></message>");
  if (release) {
    EXPECT_TRUE(p.releaseIdle());
  }
  p.feed("<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>");
  return h.log;
}

TEST(StreamParserReleaseIdle, ContinuesInvisiblyAfterRelease) {
  EXPECT_EQ(run(true), run(false));
}

TEST(StreamParserReleaseIdle, RefusedInsideAPartialStanza) {
  RecordingHandler h;
  StreamParser p(h, {});
  p.feed(kOpen);
  p.feed("<message to='a@b'><body>par");
  EXPECT_FALSE(p.releaseIdle());
  p.feed("tial</body></message>");
  ASSERT_EQ(h.stanzas.size(), 1u);
  EXPECT_EQ(h.stanzas[0].bytes, "<message to='a@b'><body>partial</body></message>");
}

TEST(StreamParserReleaseIdle, RefusedBeforeTheStreamOpens) {
  RecordingHandler h;
  StreamParser p(h, {});
  EXPECT_FALSE(p.releaseIdle());
  p.feed(kOpen);
  EXPECT_TRUE(p.releaseIdle());
}

TEST(StreamParserReleaseIdle, LimitsStillApplyAfterRelease) {
  RecordingHandler h;
  StreamParser p(h, ParserLimits{.maxStanzaBytes = 200});
  p.feed(kOpen);
  ASSERT_TRUE(p.releaseIdle());
  p.feed("<message><body>" + std::string(300, 'x') + "</body></message>");
  EXPECT_EQ(h.errors, 1);
  EXPECT_EQ(h.error, StreamError::PolicyViolation);
}

TEST(StreamParserReleaseIdle, ResetAfterReleaseStartsANewStream) {
  RecordingHandler h;
  StreamParser p(h, {});
  p.feed(kOpen);
  ASSERT_TRUE(p.releaseIdle());
  p.reset();
  p.feed(kOpen);
  EXPECT_EQ(h.opens, 2);
}

}  // namespace
}  // namespace xmesh::xml
