#include "jid/jid.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace xmesh::jid {
namespace {

struct ValidCase {
  const char* input;
  const char* full;
};

// RFC 7622 §3.5 examples (as far as they hold under the RFC 6122 stringprep rules we
// implement), plus case folding and normalization.
const ValidCase kValid[] = {
    {"juliet@example.com", "juliet@example.com"},
    {"juliet@example.com/foo", "juliet@example.com/foo"},
    {"juliet@example.com/foo bar", "juliet@example.com/foo bar"},
    {"juliet@example.com/foo@bar", "juliet@example.com/foo@bar"},
    {"foo\\20bar@example.com", "foo\\20bar@example.com"},
    {"fussball@example.com", "fussball@example.com"},
    {"fu\xC3\x9F" "ball@example.com", "fussball@example.com"},  // ß case-folds to "ss"
    {"\xCF\x80@example.com", "\xCF\x80@example.com"},           // π
    {"\xCE\xA3@example.com/foo", "\xCF\x83@example.com/foo"},   // Σ -> σ
    {"\xCF\x83@example.com/foo", "\xCF\x83@example.com/foo"},   // σ
    {"\xCF\x82@example.com/foo", "\xCF\x83@example.com/foo"},   // ς -> σ
    {"king@example.com/\xE2\x99\x9A", "king@example.com/\xE2\x99\x9A"},  // ♚
    {"example.com", "example.com"},
    {"example.com/foobar", "example.com/foobar"},
    {"a.example.com/b@example.net", "a.example.com/b@example.net"},
    // Case folding in local and domain, never in the resource.
    {"JULIET@Example.COM/Balcony", "juliet@example.com/Balcony"},
    {"\xC3\x84pfel@example.com", "\xC3\xA4pfel@example.com"},  // Ä -> ä
    {"juliet@B\xC3\x9C" "CHER.example", "juliet@b\xC3\xBC" "cher.example"},
    // One trailing dot of the domain is stripped.
    {"juliet@example.com./r", "juliet@example.com/r"},
    {"example.com.", "example.com"},
    // IP literals.
    {"juliet@192.0.2.1/r", "juliet@192.0.2.1/r"},
    {"juliet@[::1]/r", "juliet@[::1]/r"},
    {"juliet@[0:0::1]", "juliet@[::1]"},
    {"[2001:DB8::1]", "[2001:db8::1]"},
    // Soft hyphen is mapped to nothing in the resource.
    {"a@b.c/x\xC2\xAD" "y", "a@b.c/xy"},
    // Ideographic full stop separates labels.
    {"a@b\xE3\x80\x82" "example", "a@b.example"},
};

TEST(JidParse, ValidTable) {
  for (const ValidCase& c : kValid) {
    Result<Jid> jid = Jid::parse(c.input);
    ASSERT_TRUE(jid.isOk()) << c.input << ": " << jid.error().detail;
    EXPECT_EQ(jid->full(), c.full) << c.input;
    Result<Jid> slow = Jid::parse(c.input, PrepImpl::Libidn);
    ASSERT_TRUE(slow.isOk()) << c.input;
    EXPECT_EQ(slow.value(), jid.value()) << c.input;
    // Normalized output parses back to itself.
    Result<Jid> again = Jid::parse(jid->full());
    ASSERT_TRUE(again.isOk()) << c.full;
    EXPECT_EQ(again.value(), jid.value());
  }
}

const char* const kInvalid[] = {
    "",
    "juliet@",
    "@example.com",
    "@example.com/",
    "juliet@example.com/",
    "/foobar",
    "juliet@@example.com",
    "a@b@example.com",
    "jul iet@example.com",
    "ju\"liet@example.com",
    "ju&liet@example.com",
    "ju'liet@example.com",
    "ju:liet@example.com",
    "ju<liet@example.com",
    "ju>liet@example.com",
    "ju\x01liet@example.com",
    "juliet@example.com/res\x01",
    "juliet@example.com/res\x7F",
    "juliet@exa mple.com",
    "juliet@exa_mple.com",
    "juliet@-example.com",
    "juliet@example-.com",
    "juliet@example..com",
    "juliet@.example.com",
    "juliet@example.com..",
    "juliet@.",
    "juliet@[::1",
    "juliet@[zz::1]",
    "juliet@[]",
    "\xC3(@example.com",                                   // bad continuation
    "\xC0\xAF@example.com",                                // overlong '/'
    "\xED\xA0\x80@example.com",                            // surrogate
    "a@example.com/\xF4\x90\x80\x80",                      // above U+10FFFF
    "a@example.com/\xE2\x80",                              // truncated sequence
    "\xC2\xA0@example.com",                                // no-break space prohibited in nodeprep
    "a@example.com/\xE2\x80\x8Ex",  // LRM (bidi control, prohibited) then "x"
    "\xC2\xAD@example.com",                                // localpart maps to nothing
};

TEST(JidParse, InvalidTable) {
  for (const char* input : kInvalid) {
    for (PrepImpl impl : {PrepImpl::Auto, PrepImpl::Libidn}) {
      Result<Jid> jid = Jid::parse(input, impl);
      EXPECT_FALSE(jid.isOk()) << "accepted: " << input;
      if (!jid.isOk()) {
        EXPECT_EQ(jid.error().reason, "jid-malformed");
      }
    }
  }
}

TEST(JidParse, RejectsEmbeddedNul) {
  using namespace std::string_view_literals;
  for (std::string_view input :
       {"jul\0iet@example.com"sv, "juliet@exa\0mple.com"sv, "juliet@example.com/r\0s"sv,
        "j\xC3\xA4\0@example.com"sv, "juliet@b\xC3\xBC\0.example"sv}) {
    EXPECT_FALSE(Jid::parse(input).isOk());
    EXPECT_FALSE(Jid::parse(input, PrepImpl::Libidn).isOk());
  }
}

TEST(JidParse, SplitsOnFirstSlashThenFirstAt) {
  Result<Jid> jid = Jid::parse("a@b.example/c@d/e");
  ASSERT_TRUE(jid.isOk());
  EXPECT_EQ(jid->local(), "a");
  EXPECT_EQ(jid->domain(), "b.example");
  EXPECT_EQ(jid->resource(), "c@d/e");
  Result<Jid> domainOnly = Jid::parse("b.example/a@c");
  ASSERT_TRUE(domainOnly.isOk());
  EXPECT_EQ(domainOnly->local(), "");
  EXPECT_EQ(domainOnly->resource(), "a@c");
}

TEST(JidParse, LengthLimits) {
  const std::string max(1023, 'a');
  const std::string over(1024, 'a');
  EXPECT_TRUE(Jid::parse(max + "@example.com").isOk());
  EXPECT_FALSE(Jid::parse(over + "@example.com").isOk());
  EXPECT_FALSE(Jid::parse(over + "@example.com", PrepImpl::Libidn).isOk());
  EXPECT_TRUE(Jid::parse("a@example.com/" + max).isOk());
  EXPECT_FALSE(Jid::parse("a@example.com/" + over).isOk());
  EXPECT_FALSE(Jid::parse("a@example.com/" + over, PrepImpl::Libidn).isOk());

  // A 1023-byte domain of 63-byte labels: 16 labels of 63 + 15 dots = 1023.
  std::string domain;
  for (int i = 0; i < 16; ++i) domain += (i ? "." : "") + std::string(63, 'd');
  ASSERT_EQ(domain.size(), 1023u);
  EXPECT_TRUE(Jid::parse("a@" + domain).isOk());
  EXPECT_TRUE(Jid::parse("a@" + domain + ".").isOk());  // the stripped dot does not count
  EXPECT_FALSE(Jid::parse("a@" + domain + "d").isOk());
  EXPECT_FALSE(Jid::parse("a@" + std::string(64, 'd') + ".example").isOk());  // label > 63

  // Non-ASCII: 511 × "ä" (2 bytes) = 1022 bytes fits, 512 does not.
  std::string umlauts;
  for (int i = 0; i < 511; ++i) umlauts += "\xC3\xA4";
  EXPECT_TRUE(Jid::parse(umlauts + "@example.com").isOk());
  EXPECT_FALSE(Jid::parse(umlauts + "\xC3\xA4@example.com").isOk());
  // Upper case folds to the same length, so the limit applies after prep.
  std::string upper;
  for (int i = 0; i < 512; ++i) upper += "\xC3\x84";
  EXPECT_FALSE(Jid::parse(upper + "@example.com").isOk());
}

TEST(JidParse, LimitAppliesAfterPrep) {
  // 1023 'a' plus soft hyphens (mapped to nothing) is 1023 bytes once prepared.
  std::string local(1023, 'a');
  for (int i = 0; i < 10; ++i) local += "\xC2\xAD";
  Result<Jid> jid = Jid::parse(local + "@example.com");
  ASSERT_TRUE(jid.isOk());
  EXPECT_EQ(jid->local().size(), 1023u);
  // Raw input is bounded before libidn sees it.
  std::string huge;
  for (int i = 0; i < 5000; ++i) huge += "\xC2\xAD";
  EXPECT_FALSE(Jid::parse("a" + huge + "@example.com").isOk());
}

TEST(Jid, Accessors) {
  Result<Jid> jid = Jid::parse("Romeo@Montague.example/Orchard");
  ASSERT_TRUE(jid.isOk());
  EXPECT_FALSE(jid->isBare());
  EXPECT_FALSE(jid->empty());
  EXPECT_EQ(jid->bareString(), "romeo@montague.example");
  EXPECT_EQ(jid->full(), "romeo@montague.example/Orchard");
  Jid bare = jid->bare();
  EXPECT_TRUE(bare.isBare());
  EXPECT_EQ(bare.full(), "romeo@montague.example");
  EXPECT_EQ(bare.withResource("Orchard"), jid.value());
  EXPECT_NE(bare, jid.value());
  EXPECT_TRUE(Jid().empty());
  EXPECT_EQ(Jid().full(), "");
  Result<Jid> domain = Jid::parse("montague.example");
  ASSERT_TRUE(domain.isOk());
  EXPECT_EQ(domain->withResource("r").full(), "montague.example/r");
}

// Property: on ASCII input the fast path and libidn agree exactly, accept or reject.
TEST(JidParse, FastPathMatchesLibidnOnAscii) {
  std::mt19937 rng(12345);
  const std::string alphabet =
      "abcXYZ019.-_@/ \"&':<>\\[]!~%\x01\x1f\x7f\t";
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::uniform_int_distribution<int> len(0, 24);
  std::uniform_int_distribution<int> anyAscii(1, 127);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    int n = len(rng);
    for (int k = 0; k < n; ++k) {
      s += (i % 4 == 0) ? static_cast<char>(anyAscii(rng)) : alphabet[pick(rng)];
    }
    // Bias towards well-formed shapes so both outcomes get exercised.
    if (i % 2 == 0) s = "Us" + s.substr(0, n / 3) + "@Ex" + s.substr(n / 3);
    Result<Jid> fast = Jid::parse(s);
    Result<Jid> slow = Jid::parse(s, PrepImpl::Libidn);
    ASSERT_EQ(fast.isOk(), slow.isOk()) << '"' << s << '"';
    if (fast.isOk()) {
      ++accepted;
      ASSERT_EQ(fast.value(), slow.value()) << s;
    }
  }
  EXPECT_GT(accepted, 1000);
}

}  // namespace
}  // namespace xmesh::jid
