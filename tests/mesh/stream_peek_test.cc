// The plain-mode header peek and the redial back-off, without sockets.
#include "mesh/stream_peek.h"

#include <gtest/gtest.h>

#include "mesh/backoff.h"

namespace xmesh::mesh {
namespace {

constexpr std::string_view kHeader =
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
    " xmlns:m='urn:xmesh:r2r:0' from='n0007' to='n0012' version='1.0'><m:hello node='n0007'/>";

TEST(StreamPeek, ReadsFromOutOfACompleteHeaderAndKeepsEveryByte) {
  StreamPeek peek;
  EXPECT_EQ(peek.feed(kHeader), StreamPeek::State::Ready);
  EXPECT_EQ(peek.from(), "n0007");
  EXPECT_EQ(peek.buffered(), kHeader);
}

TEST(StreamPeek, HeaderSplitAtEveryByteIsFoundOnlyWhenComplete) {
  StreamPeek peek;
  const size_t end = kHeader.find('>') + 1;
  for (size_t i = 0; i < end; ++i) {
    const StreamPeek::State s = peek.feed(kHeader.substr(i, 1));
    EXPECT_EQ(s, i + 1 < end ? StreamPeek::State::NeedMore : StreamPeek::State::Ready) << i;
  }
  EXPECT_EQ(peek.from(), "n0007");
  EXPECT_EQ(peek.buffered(), kHeader.substr(0, end));
  EXPECT_EQ(peek.feed("more"), StreamPeek::State::Ready);  // ignored once decided
  EXPECT_EQ(peek.buffered(), kHeader.substr(0, end));
}

TEST(StreamPeek, AcceptsXmlDeclarationDoubleQuotesAndOtherPrefixes) {
  StreamPeek peek;
  EXPECT_EQ(peek.feed("<?xml version='1.0'?>\n<s:stream xmlns:s=\"x\" to=\"n2\" from=\"n1\">"),
            StreamPeek::State::Ready);
  EXPECT_EQ(peek.from(), "n1");
}

TEST(StreamPeek, RejectsAnythingButAStreamHeaderWithFrom) {
  for (std::string_view bad : {"hello", "<iq from='n1'>", "<stream:stream to='n2'>",
                               "<stream:stream from='n1'/>", "<stream:stream from=n1>"}) {
    StreamPeek peek;
    EXPECT_EQ(peek.feed(bad), StreamPeek::State::Invalid) << bad;
    EXPECT_FALSE(peek.error().empty());
  }
}

TEST(StreamPeek, GivesUpAfterMaxBytesWithoutAHeader) {
  StreamPeek peek(64);
  EXPECT_EQ(peek.feed("<stream:stream xmlns='jabber:client'"), StreamPeek::State::NeedMore);
  EXPECT_EQ(peek.feed(std::string(64, ' ')), StreamPeek::State::Invalid);
}

TEST(Backoff, DoublesUpToMaxWithHalfJitterAndResets) {
  Backoff b(100, 1000, 42);
  const int64_t bases[] = {100, 200, 400, 800, 1000, 1000};
  for (int64_t base : bases) {
    const int64_t d = b.next();
    EXPECT_GE(d, base / 2);
    EXPECT_LE(d, base + base / 2);
  }
  b.reset();
  const int64_t d = b.next();
  EXPECT_GE(d, 50);
  EXPECT_LE(d, 150);
}

}  // namespace
}  // namespace xmesh::mesh
