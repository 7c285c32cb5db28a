// Bad input from a peer, one test per case: each ends the connection with a clear,
// stable reason and a stream error for the peer, never a crash, never a delivered unit.
#include <gtest/gtest.h>

#include "link_harness.h"

namespace xmesh::r2r::test {
namespace {

// A Link "a" talking to a hand-scripted peer "b".
struct RawPeer {
  RawPeer() : link(configFor("a", "b", "ea"), rec) { link.connectionOpened(0); }
  void establish() {
    link.feed(rawHeader() + rawHello() + rawStart(0), 0);
    ASSERT_EQ(link.state(), LinkState::Established);
    link.output().clear();
  }
  // Feeds `bytes` and returns the error reason (or "" if none).
  std::string feed(std::string_view bytes) {
    link.feed(bytes, 0);
    return rec.lastError();
  }
  Recorder rec;
  Link link;
};

TEST(R2rLinkErrors, EstablishWithScriptedPeer) {
  RawPeer p;
  p.establish();
  EXPECT_EQ(p.feed(rawMessage(1) + "<m:hb/><m:r/>"), "");
  ASSERT_EQ(p.rec.units.size(), 1u);
  EXPECT_EQ(p.link.output(), "<m:a h='1'/>");
}

TEST(R2rLinkErrors, VersionMismatchIsRefusedOnBothSides) {
  LinkConfig cb = configFor("b", "a", "eb");
  cb.version = 2;
  LinkPair p(configFor("a", "b", "ea"), cb);
  p.open();
  p.pump();
  EXPECT_EQ(p.ra.lastError(), "version-mismatch");
  EXPECT_EQ(p.rb.lastError(), "version-mismatch");
  EXPECT_EQ(p.a.state(), LinkState::Failed);
  EXPECT_TRUE(p.ra.established.empty());
}

TEST(R2rLinkErrors, VersionMismatchSendsStreamErrorAndClose) {
  RawPeer p;
  EXPECT_EQ(p.feed(rawHeader() + rawHello("eb", "", 0, "7")), "version-mismatch");
  const std::string& out = p.link.output();
  EXPECT_NE(out.find("<unsupported-version xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"),
            std::string::npos);
  EXPECT_TRUE(out.ends_with("</stream:stream>"));
}

TEST(R2rLinkErrors, CallerCanRefuseThePeer) {
  LinkPair p;
  p.ra.refuseReason = "certificate-mismatch";
  p.open();
  p.pump();
  EXPECT_EQ(p.ra.lastError(), "peer-refused");
  EXPECT_EQ(p.ra.errors.back().detail, "certificate-mismatch: refused by test");
  EXPECT_EQ(p.rb.lastError(), "peer-error");  // b learns why from the stream error
  EXPECT_NE(p.rb.errors.back().detail.find("certificate-mismatch"), std::string::npos);
  EXPECT_TRUE(p.ra.established.empty());
}

TEST(R2rLinkErrors, WrongNodeInStreamHeader) {
  RawPeer p;
  EXPECT_EQ(p.feed(rawHeader("mallory", "a")), "wrong-node");
}

TEST(R2rLinkErrors, HelloNodeDiffersFromStreamFrom) {
  RawPeer p;
  EXPECT_EQ(p.feed(rawHeader() + rawHello("eb", "", 0, "1", "mallory")), "wrong-node");
}

TEST(R2rLinkErrors, StreamNotInJabberClient) {
  RawPeer p;
  EXPECT_EQ(
      p.feed("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'"
             " from='b' to='a' version='1.0'>"),
      "invalid-namespace");
}

TEST(R2rLinkErrors, DuplicateHello) {
  RawPeer p;
  p.establish();
  EXPECT_EQ(p.feed(rawHello()), "duplicate-hello");
}

TEST(R2rLinkErrors, HelloMissingAttributes) {
  RawPeer p;
  EXPECT_EQ(p.feed(rawHeader() + "<m:hello node='b' cluster='c1' version='1'/>"), "bad-format");
}

TEST(R2rLinkErrors, HelloHBeyondWhatWasSent) {
  RawPeer p;
  EXPECT_EQ(p.feed(rawHeader() + rawHello("eb", "ea", 5)), "h-out-of-range");
}

TEST(R2rLinkErrors, HelloHIsNotANumber) {
  RawPeer p;
  EXPECT_EQ(p.feed(rawHeader() + "<m:hello node='b' cluster='c1' version='1' epoch='x' h='-1'/>"),
            "bad-format");
}

TEST(R2rLinkErrors, ElementBeforeHello) {
  RawPeer p;
  EXPECT_EQ(p.feed(rawHeader() + "<m:a h='0'/>"), "unexpected-element");
}

TEST(R2rLinkErrors, UnitBeforeStart) {
  RawPeer p;
  EXPECT_EQ(p.feed(rawHeader() + rawHello() + rawMessage(1)), "unexpected-element");
  EXPECT_TRUE(p.rec.units.empty());
}

TEST(R2rLinkErrors, StartLeavingAGap) {
  RawPeer p;
  EXPECT_EQ(p.feed(rawHeader() + rawHello() + rawStart(0)), "");
  p.link.connectionClosed();
  p.link.connectionOpened(0);
  // Same incarnation, but it claims units 1..3 were already delivered: they never were.
  EXPECT_EQ(p.feed(rawHeader() + rawHello() + rawStart(3)), "h-out-of-range");
}

TEST(R2rLinkErrors, AckBeyondWhatWasSent) {
  RawPeer p;
  p.establish();
  EXPECT_EQ(p.feed("<m:a h='1'/>"), "h-out-of-range");
}

TEST(R2rLinkErrors, AckGoingBackwards) {
  RawPeer p;
  p.establish();
  ASSERT_EQ(p.link.sendStanza(rawMessage(1)), SendResult::Queued);
  ASSERT_EQ(p.link.sendStanza(rawMessage(2)), SendResult::Queued);
  EXPECT_EQ(p.feed("<m:a h='2'/>"), "");
  EXPECT_EQ(p.feed("<m:a h='1'/>"), "h-out-of-range");
}

TEST(R2rLinkErrors, AckWithoutH) {
  RawPeer p;
  p.establish();
  EXPECT_EQ(p.feed("<m:a/>"), "bad-format");
}

TEST(R2rLinkErrors, MalformedXml) {
  RawPeer p;
  p.establish();
  EXPECT_EQ(p.feed("<message><body></message>"), "not-well-formed");
  EXPECT_TRUE(p.rec.units.empty());
  EXPECT_NE(p.link.output().find("<not-well-formed "), std::string::npos);
}

TEST(R2rLinkErrors, TextAtStreamLevel) {
  RawPeer p;
  p.establish();
  EXPECT_EQ(p.feed("hello"), "not-well-formed");
}

TEST(R2rLinkErrors, RestrictedXml) {
  RawPeer p;
  EXPECT_EQ(p.feed("<!DOCTYPE x [<!ENTITY a 'b'>]>"), "restricted-xml");
}

TEST(R2rLinkErrors, UnknownElementInForeignNamespace) {
  RawPeer p;
  p.establish();
  EXPECT_EQ(p.feed("<foo xmlns='urn:example'/>"), "unknown-element");
}

TEST(R2rLinkErrors, NonRoutedClientElement) {
  RawPeer p;
  p.establish();
  EXPECT_EQ(p.feed("<auth/>"), "unknown-element");
}

TEST(R2rLinkErrors, UnknownControlKind) {
  RawPeer p;
  p.establish();
  EXPECT_EQ(p.feed("<m:frobnicate x='1'/>"), "unknown-element");
}

TEST(R2rLinkErrors, ControlKindsAreConfigurable) {
  Recorder rec;
  LinkConfig c = configFor("a", "b", "ea");
  c.controlKinds.push_back("frobnicate");
  Link link(c, rec);
  link.connectionOpened(0);
  link.feed(rawHeader() + rawHello() + rawStart(0) + "<m:frobnicate x='1'/>", 0);
  EXPECT_TRUE(rec.errors.empty());
  ASSERT_EQ(rec.units.size(), 1u);
  EXPECT_EQ(rec.units[0].attr("x"), "1");
}

TEST(R2rLinkErrors, FanoutWithTwoChildren) {
  RawPeer p;
  p.establish();
  EXPECT_EQ(p.feed("<m:fanout to='u@d'><presence/><presence/></m:fanout>"), "bad-fanout");
}

TEST(R2rLinkErrors, FanoutWithoutRecipients) {
  RawPeer p;
  p.establish();
  EXPECT_EQ(p.feed("<m:fanout><presence/></m:fanout>"), "bad-fanout");
}

TEST(R2rLinkErrors, FanoutOfAMessage) {
  RawPeer p;
  p.establish();
  EXPECT_EQ(p.feed("<m:fanout to='u@d'><message/></m:fanout>"), "bad-fanout");
}

TEST(R2rLinkErrors, FanoutChildInAnotherNamespace) {
  RawPeer p;
  p.establish();
  EXPECT_EQ(p.feed("<m:fanout to='u@d'><presence xmlns='jabber:server'/></m:fanout>"),
            "bad-fanout");
}

TEST(R2rLinkErrors, FanoutWithText) {
  RawPeer p;
  p.establish();
  EXPECT_EQ(p.feed("<m:fanout to='u@d'>junk<presence/></m:fanout>"), "bad-fanout");
}

TEST(R2rLinkErrors, OtherPrefixForOurNamespaceIsFine) {
  RawPeer p;
  p.establish();
  EXPECT_EQ(p.feed("<x:serve xmlns:x='urn:xmesh:r2r:0' user='u@d' state='active'/>"), "");
  ASSERT_EQ(p.rec.units.size(), 1u);
  EXPECT_EQ(p.rec.units[0].attr("user"), "u@d");
}

TEST(R2rLinkErrors, OversizedUnit) {
  Recorder rec;
  LinkConfig c = configFor("a", "b", "ea");
  c.maxUnitBytes = 1000;
  Link link(c, rec);
  link.connectionOpened(0);
  link.feed(rawHeader() + rawHello() + rawStart(0), 0);
  link.feed("<message><body>" + std::string(10000, 'x'), 0);
  EXPECT_EQ(rec.lastError(), "policy-violation");
}

TEST(R2rLinkErrors, PeerStreamErrorIsReported) {
  RawPeer p;
  p.establish();
  EXPECT_EQ(
      p.feed(
          "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"),
      "peer-error");
  EXPECT_EQ(p.rec.errors.back().detail, "conflict");
}

TEST(R2rLinkErrors, PeerClosingTheStream) {
  RawPeer p;
  p.establish();
  EXPECT_EQ(p.feed("</stream:stream>"), "peer-closed");
  EXPECT_EQ(p.link.output(), "</stream:stream>");
}

TEST(R2rLinkErrors, NothingIsDeliveredAfterAnError) {
  RawPeer p;
  p.establish();
  EXPECT_EQ(p.feed("<m:bogus/>" + rawMessage(1)), "unknown-element");
  p.link.feed(rawMessage(2), 0);
  EXPECT_TRUE(p.rec.units.empty());
  EXPECT_EQ(p.rec.errors.size(), 1u);
}

TEST(R2rLinkErrors, CallerFailIsAStreamError) {
  RawPeer p;
  p.establish();
  p.link.fail("spoofed-from", "x@d is not served by b");
  EXPECT_EQ(p.rec.lastError(), "spoofed-from");
  EXPECT_NE(p.link.output().find("spoofed-from: x@d is not served by b"), std::string::npos);
  EXPECT_EQ(p.link.state(), LinkState::Failed);
}

}  // namespace
}  // namespace xmesh::r2r::test
