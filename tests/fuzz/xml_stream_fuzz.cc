// libFuzzer target for the XML stream layer. Input: two knob bytes (split point and
// suspension; tight limits), then stream bytes. Beyond "no crash" (and ASan/UBSan), it
// checks two properties on every input:
//  1. Every delivered stanza is self-contained: parseElement() accepts its bytes, its
//     withFrom()/withFromAndTo() bytes, and the re-serialized tree.
//  2. How input is split across feed() calls never changes the events (one shot vs a
//     data-derived split point), nor does suspending after every stanza, nor does
//     recycling the Expat parser (ParserLimits::nameBudgetBytes).
// A third run with small data-derived limits drives the limit paths.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "xml/element.h"
#include "xml/stream_parser.h"

namespace {

using xmesh::xml::ParserLimits;
using xmesh::xml::Stanza;
using xmesh::xml::StreamError;
using xmesh::xml::StreamHeader;
using xmesh::xml::StreamParser;

void check(bool ok, const char* what, std::string_view detail = {}) {
  if (ok) return;
  std::fprintf(stderr, "property violated: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

void checkSelfContained(const Stanza& s) {
  auto tree = xmesh::xml::parseElement(s.bytes, s.ns);
  check(tree.isOk(), "stanza bytes do not parse", s.bytes);
  check(tree->name() == s.name && tree->ns() == s.ns, "routing name/ns differ from tree", s.bytes);
  const bool hasChild = !tree->children().empty();
  check(s.firstChildName == (hasChild ? tree->children()[0].name() : std::string()) &&
            s.firstChildNs == (hasChild ? tree->children()[0].ns() : std::string()),
        "first child differs from tree", s.bytes);
  check(tree->attr("to") == s.to && tree->attr("type") == s.type && tree->attr("id") == s.id &&
            !tree->hasAttr("from"),
        "routing attributes differ from tree", s.bytes);
  auto stamped = xmesh::xml::parseElement(s.withFrom("a'b&c@d/<e>"), s.ns);
  check(stamped.isOk(), "withFrom bytes do not parse", s.bytes);
  check(stamped->attr("from") == "a'b&c@d/<e>", "withFrom value lost", s.bytes);
  auto routed = xmesh::xml::parseElement(s.withFromAndTo("f@g", "t@u"), s.ns);
  check(routed.isOk() && routed->attr("to") == "t@u", "withFromAndTo bytes do not parse", s.bytes);
  const std::string again = tree->serialize(s.ns);
  check(xmesh::xml::parseElement(again, s.ns).isOk(), "tree serialization does not parse", again);
}

class Recorder : public xmesh::xml::StreamHandler {
 public:
  Recorder(bool verify, bool suspendEach) : verify_(verify), suspendEach_(suspendEach) {}
  void attach(StreamParser* parser) { parser_ = parser; }

  void onStreamOpen(const StreamHeader& h) override {
    log.push_back("open " + h.ns + "|" + h.to + "|" + h.from + "|" + h.version + "|" + h.lang + "|" + h.id);
  }
  void onStanza(Stanza&& s) override {
    log.push_back("stanza " + s.bytes + "|" + s.name + "|" + s.ns + "|" + s.to + "|" + s.from + "|" +
                  s.type + "|" + s.id + "|" + s.lang + "|" + s.firstChildName + "|" + s.firstChildNs +
                  "|" + std::to_string(s.fromInsertPos));
    if (verify_) checkSelfContained(s);
    if (suspendEach_) parser_->suspend();
  }
  void onStreamClose() override { log.push_back("close"); }
  void onStreamError(StreamError e, std::string_view) override {
    log.push_back("error " + std::string(xmesh::xml::streamErrorName(e)));
  }

  std::vector<std::string> log;

 private:
  bool verify_;
  bool suspendEach_;
  StreamParser* parser_ = nullptr;
};

std::vector<std::string> run(std::string_view input, size_t split, ParserLimits limits, bool verify,
                             bool suspendEach) {
  Recorder recorder(verify, suspendEach);
  StreamParser parser(recorder, limits);
  recorder.attach(&parser);
  auto drain = [&] {
    while (parser.suspended()) parser.resume();
  };
  parser.feed(input.substr(0, split));
  drain();
  parser.feed(input.substr(split));
  drain();
  return std::move(recorder.log);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t knobs = data[0];
  const uint8_t limitKnob = data[1];
  const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  const size_t split = input.empty() ? 0 : (static_cast<size_t>(knobs) * input.size()) / 255;

  // Property 2: with default limits, splitting and suspending never change events.
  const ParserLimits defaults;
  const auto whole = run(input, input.size(), defaults, true, false);
  ParserLimits recycling = defaults;  // also invisible: swapping Expat parsers between stanzas
  recycling.nameBudgetBytes = (knobs & 2) != 0 ? 0 : static_cast<size_t>(limitKnob) * 8;
  const auto split2 = run(input, split, recycling, false, (knobs & 1) != 0);
  if (whole != split2) {
    for (const auto& e : whole) std::fprintf(stderr, "whole: %s\n", e.c_str());
    for (const auto& e : split2) std::fprintf(stderr, "split: %s\n", e.c_str());
    check(false, "feed split or suspension changed the events");
  }

  // Property 1 again under tight limits.
  ParserLimits tight;
  tight.maxStanzaBytes = 32 + static_cast<size_t>(limitKnob) * 4;
  tight.maxDepth = 1 + limitKnob % 8;
  tight.maxAttributes = limitKnob % 12;
  run(input, split, tight, true, false);
  return 0;
}
