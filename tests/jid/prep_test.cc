#include "jid/prep.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace xmesh::jid {
namespace {

using PrepFn = Result<std::string> (*)(std::string_view, PrepImpl);

void expectSame(PrepFn fn, const std::string& input) {
  Result<std::string> fast = fn(input, PrepImpl::Auto);
  Result<std::string> slow = fn(input, PrepImpl::Libidn);
  ASSERT_EQ(fast.isOk(), slow.isOk()) << "input bytes: " << testing::PrintToString(input);
  if (fast.isOk()) {
    ASSERT_EQ(fast.value(), slow.value()) << testing::PrintToString(input);
  }
}

TEST(Prep, EverySingleAsciiByteAgreesWithLibidn) {
  for (int c = 0; c < 128; ++c) {
    std::string s = "a" + std::string(1, static_cast<char>(c)) + "Z";
    for (PrepFn fn : {&nodeprep, &nameprep, &resourceprep}) expectSame(fn, s);
  }
}

TEST(Prep, RandomAsciiStringsAgreeWithLibidn) {
  std::mt19937 rng(777);
  std::uniform_int_distribution<int> byte(0, 127);
  std::uniform_int_distribution<int> len(0, 16);
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    for (int n = len(rng); n > 0; --n) s += static_cast<char>(byte(rng));
    for (PrepFn fn : {&nodeprep, &nameprep, &resourceprep}) expectSame(fn, s);
  }
}

TEST(Prep, NodeprepProhibitedAscii) {
  for (char c : std::string(" \"&'/:<>@")) {
    EXPECT_FALSE(nodeprep(std::string("a") + c + "b").isOk()) << c;
  }
  EXPECT_EQ(nodeprep("MiXeD").value(), "mixed");
}

TEST(Prep, ResourceprepKeepsCaseAndSpace) {
  EXPECT_EQ(resourceprep("Home Office").value(), "Home Office");
  EXPECT_FALSE(resourceprep("tab\there").isOk());
}

TEST(Prep, NonAsciiGoesThroughLibidn) {
  EXPECT_EQ(nodeprep("\xC3\x84").value(), "\xC3\xA4");      // Ä -> ä
  EXPECT_EQ(nameprep("\xC3\x84").value(), "\xC3\xA4");
  EXPECT_EQ(resourceprep("\xC3\x84").value(), "\xC3\x84");  // no case folding
  EXPECT_EQ(nodeprep("\xEF\xAC\x81").value(), "fi");        // ﬁ ligature: NFKC
  EXPECT_FALSE(nodeprep("\xC3").isOk());                    // truncated UTF-8
}

TEST(Prep, SaslprepFollowsRfc4013Examples) {
  EXPECT_EQ(saslprep("I\xC2\xADX", false).value(), "IX");  // soft hyphen mapped to nothing
  EXPECT_EQ(saslprep("user", false).value(), "user");
  EXPECT_EQ(saslprep("USER", false).value(), "USER");       // case preserved
  EXPECT_EQ(saslprep("\xC2\xAA", false).value(), "a");      // ª: NFKC
  EXPECT_EQ(saslprep("\xE2\x85\xA8", false).value(), "IX");  // Ⅸ: NFKC
  EXPECT_FALSE(saslprep("\x07", false).isOk());             // prohibited control
  EXPECT_FALSE(saslprep("\xD8\xA7" "1", false).isOk());     // bidi: RAL then L
  EXPECT_EQ(saslprep("a\xC2\xA0" "b", false).value(), "a b");  // non-ASCII space -> space
  // U+0221 is unassigned in Unicode 3.2: allowed in queries, refused in stored strings.
  EXPECT_TRUE(saslprep("\xC8\xA1", false).isOk());
  EXPECT_FALSE(saslprep("\xC8\xA1", true).isOk());
}

TEST(Prep, Utf8Validator) {
  EXPECT_TRUE(isValidUtf8(""));
  EXPECT_TRUE(isValidUtf8("plain"));
  EXPECT_TRUE(isValidUtf8("\xC3\xA4\xE2\x82\xAC\xF0\x9F\x98\x80"));
  EXPECT_TRUE(isValidUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_FALSE(isValidUtf8("\x80"));
  EXPECT_FALSE(isValidUtf8("\xC1\xBF"));  // overlong
  EXPECT_FALSE(isValidUtf8("\xE0\x80\x80"));
  EXPECT_FALSE(isValidUtf8("\xED\xBF\xBF"));  // surrogate
  EXPECT_FALSE(isValidUtf8("\xF4\x90\x80\x80"));
  EXPECT_FALSE(isValidUtf8("\xF8\x88\x80\x80\x80"));
  EXPECT_FALSE(isValidUtf8("\xE2\x82"));
}

}  // namespace
}  // namespace xmesh::jid
