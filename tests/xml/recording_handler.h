// Test helper: records stream events, with hooks to act on the parser from callbacks.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xml/stream_parser.h"

namespace xmesh::xml::test {

// The stream root every test starts with (jabber:client, stream: prefix).
inline constexpr std::string_view kHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>";

class RecordingHandler : public StreamHandler {
 public:
  void onStreamOpen(const StreamHeader& h) override {
    header = h;
    ++opens;
    log.push_back("open");
    if (onOpenHook) onOpenHook();
  }
  void onStanza(Stanza&& s) override {
    log.push_back("stanza:" + s.bytes);
    stanzas.push_back(std::move(s));
    if (onStanzaHook) onStanzaHook(stanzas.back());
  }
  void onStreamClose() override {
    ++closes;
    log.push_back("close");
  }
  void onStreamError(StreamError e, std::string_view detail) override {
    ++errors;
    error = e;
    errorDetail = std::string(detail);
    log.push_back("error:" + std::string(streamErrorName(e)));
  }

  std::optional<StreamHeader> header;
  std::vector<Stanza> stanzas;
  std::vector<std::string> log;  // every event in order, for whole-stream comparisons
  int opens = 0;
  int closes = 0;
  int errors = 0;
  std::optional<StreamError> error;
  std::string errorDetail;
  std::function<void()> onOpenHook;
  std::function<void(const Stanza&)> onStanzaHook;
};

}  // namespace xmesh::xml::test
